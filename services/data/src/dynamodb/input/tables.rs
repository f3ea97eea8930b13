//! Inputs of the table settings operations: Time to Live and tags. They
//! are checked here before the table code reads them, so a missing member
//! is DynamoDB's validation error rather than a default (a missing
//! `Enabled` must not mean "disable").

use serde::Deserialize;

use super::{Input, Violations};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSpecification {
    pub attribute_name: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTimeToLiveInput {
    pub table_name: Option<String>,
    pub time_to_live_specification: Option<TimeToLiveSpecification>,
}

impl Input for UpdateTimeToLiveInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.not_null(&self.time_to_live_specification, "timeToLiveSpecification");
        if let Some(specification) = &self.time_to_live_specification {
            let name = "timeToLiveSpecification.attributeName";
            violations.not_null(&specification.attribute_name, name);
            if let Some(attribute) = &specification.attribute_name {
                violations.length(Some(attribute.len()), attribute, name, 1, 255);
            }
            violations.not_null(&specification.enabled, "timeToLiveSpecification.enabled");
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Each tag's key (1–128 characters) and value (0–256), as TagResource
/// and CreateTable check them.
pub(super) fn validate_tags(tags: Option<&Vec<Tag>>, violations: &mut Violations) {
    for (position, tag) in tags.into_iter().flatten().enumerate() {
        let member = format!("tags.{}.member", position + 1);
        let key = format!("{member}.key");
        violations.not_null(&tag.key, &key);
        if let Some(text) = &tag.key {
            violations.length(Some(text.chars().count()), text, &key, 1, 128);
        }
        let value = format!("{member}.value");
        violations.not_null(&tag.value, &value);
        if let Some(text) = &tag.value {
            violations.length(Some(text.chars().count()), text, &value, 0, 256);
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub resource_arn: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

impl Input for TagResourceInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.resource_arn, "resourceArn");
        if let Some(arn) = &self.resource_arn {
            violations.length(Some(arn.len()), arn, "resourceArn", 1, 1283);
        }
        violations.not_null(&self.tags, "tags");
        validate_tags(self.tags.as_ref(), violations);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

impl Input for UntagResourceInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.resource_arn, "resourceArn");
        violations.not_null(&self.tag_keys, "tagKeys");
    }
}
