//! BatchGetItem and BatchWriteItem inputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Input, RETURN_CONSUMED_CAPACITY, RETURN_ITEM_COLLECTION_METRICS, Violations,
    items::{AttributeMap, NameMap},
    legacy::validate_attributes_to_get,
};

/// What BatchGetItem reads of one table.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeysAndAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<AttributeMap>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<NameMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes_to_get: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemInput {
    pub request_items: Option<BTreeMap<String, KeysAndAttributes>>,
    pub return_consumed_capacity: Option<String>,
}

impl Input for BatchGetItemInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.request_items, "requestItems");
        if let Some(items) = &self.request_items {
            if items.is_empty() {
                violations.push(
                    Some("{}".into()),
                    "requestItems",
                    "Member must have length greater than or equal to 1",
                );
            }
            for (table, spec) in items {
                let member = format!("requestItems.{table}.member.keys");
                violations.not_null(&spec.keys, &member);
                if let Some(keys) = &spec.keys {
                    let shown = super::describe(&serde_json::to_value(keys).unwrap_or_default());
                    violations.length(Some(keys.len()), &shown, &member, 1, 100);
                }
                validate_attributes_to_get(spec.attributes_to_get.as_ref(), violations);
            }
        }
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<AttributeMap>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<AttributeMap>,
}

/// One write of BatchWriteItem: a put or a delete.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put_request: Option<PutRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_request: Option<DeleteRequest>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemInput {
    pub request_items: Option<BTreeMap<String, Vec<WriteRequest>>>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
}

/// DynamoDB's limit on writes in one batch.
pub const MAX_BATCH_WRITES: usize = 25;

impl Input for BatchWriteItemInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.request_items, "requestItems");
        if let Some(items) = &self.request_items {
            if items.is_empty() {
                violations.push(
                    Some("{}".into()),
                    "requestItems",
                    "Member must have length greater than or equal to 1",
                );
            }
            if items.values().any(|writes| writes.is_empty() || writes.len() > MAX_BATCH_WRITES) {
                violations.push(
                    Some(serde_json::to_string(items).unwrap_or_default()),
                    "requestItems",
                    format!(
                        "Map value must satisfy constraint: [Member must have length less than or equal to {MAX_BATCH_WRITES}, Member must have length greater than or equal to 1]"
                    ),
                );
            }
        }
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
        violations.one_of(
            self.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
    }
}
