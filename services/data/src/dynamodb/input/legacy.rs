//! The shapes of the legacy (pre-expression) parameters: `Expected`,
//! `KeyConditions` / `QueryFilter` / `ScanFilter`, `AttributeUpdates`.
//! Their meaning is in [`crate::dynamodb::legacy`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Violations;

/// Every `ComparisonOperator`, in the order DynamoDB lists them.
pub const COMPARISON_OPERATORS: &[&str] = &[
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];
/// Every `AttributeUpdates` action.
pub const UPDATE_ACTIONS: &[&str] = &["ADD", "PUT", "DELETE"];

/// One entry of `Expected`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExpectedAttributeValue {
    pub value: Option<Value>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<Value>>,
}

/// One entry of `KeyConditions`, `QueryFilter` or `ScanFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Condition {
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<Value>>,
}

/// One entry of `AttributeUpdates`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValueUpdate {
    pub value: Option<Value>,
    pub action: Option<String>,
}

pub type Expected = BTreeMap<String, ExpectedAttributeValue>;
pub type Conditions = BTreeMap<String, Condition>;
pub type AttributeUpdates = BTreeMap<String, AttributeValueUpdate>;

pub fn validate_expected(expected: Option<&Expected>, member: &str, violations: &mut Violations) {
    for (name, entry) in expected.into_iter().flatten() {
        violations.one_of(
            entry.comparison_operator.as_deref(),
            &format!("{member}.{name}.member.comparisonOperator"),
            COMPARISON_OPERATORS,
        );
    }
}

/// A `Condition`'s operator is required.
pub fn validate_conditions(conditions: Option<&Conditions>, member: &str, violations: &mut Violations) {
    for (name, entry) in conditions.into_iter().flatten() {
        let at = format!("{member}.{name}.member.comparisonOperator");
        violations.not_null(&entry.comparison_operator, &at);
        violations.one_of(entry.comparison_operator.as_deref(), &at, COMPARISON_OPERATORS);
    }
}

pub fn validate_updates(updates: Option<&AttributeUpdates>, violations: &mut Violations) {
    for (name, entry) in updates.into_iter().flatten() {
        violations.one_of(entry.action.as_deref(), &format!("attributeUpdates.{name}.member.action"), UPDATE_ACTIONS);
    }
}

/// `AttributesToGet`: 1 to 255 names.
pub fn validate_attributes_to_get(names: Option<&Vec<String>>, violations: &mut Violations) {
    if let Some(names) = names {
        let shown = super::describe(&Value::from(names.clone()));
        violations.length(Some(names.len()), &shown, "attributesToGet", 1, 255);
    }
}
