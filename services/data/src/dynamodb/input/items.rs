//! PutItem, GetItem, UpdateItem and DeleteItem inputs.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    CONDITIONAL_OPERATORS, Input, RETURN_CONSUMED_CAPACITY, RETURN_ITEM_COLLECTION_METRICS, RETURN_VALUES,
    RETURN_VALUES_ON_FAILURE, Violations,
    legacy::{AttributeUpdates, Expected, validate_attributes_to_get, validate_expected, validate_updates},
};

/// Attribute-value maps (`Item`, `Key`, `ExpressionAttributeValues`) stay
/// JSON here: `value::item_from_json` gives them DynamoDB's own checks.
pub type AttributeMap = Map<String, Value>;
pub type NameMap = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    pub table_name: Option<String>,
    pub item: Option<AttributeMap>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub expression_attribute_values: Option<AttributeMap>,
    pub expected: Option<Expected>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

impl Input for PutItemInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.not_null(&self.item, "item");
        validate_expected(self.expected.as_ref(), "expected", violations);
        violations.one_of(self.conditional_operator.as_deref(), "conditionalOperator", CONDITIONAL_OPERATORS);
        violations.one_of(self.return_values.as_deref(), "returnValues", RETURN_VALUES);
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
        violations.one_of(
            self.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
        violations.one_of(
            self.return_values_on_condition_check_failure.as_deref(),
            "returnValuesOnConditionCheckFailure",
            RETURN_VALUES_ON_FAILURE,
        );
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    pub table_name: Option<String>,
    pub key: Option<AttributeMap>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub attributes_to_get: Option<Vec<String>>,
    pub consistent_read: Option<bool>,
    pub return_consumed_capacity: Option<String>,
}

impl Input for GetItemInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.not_null(&self.key, "key");
        validate_attributes_to_get(self.attributes_to_get.as_ref(), violations);
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    pub table_name: Option<String>,
    pub key: Option<AttributeMap>,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub expression_attribute_values: Option<AttributeMap>,
    pub attribute_updates: Option<AttributeUpdates>,
    pub expected: Option<Expected>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

impl Input for UpdateItemInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.not_null(&self.key, "key");
        validate_updates(self.attribute_updates.as_ref(), violations);
        validate_expected(self.expected.as_ref(), "expected", violations);
        violations.one_of(self.conditional_operator.as_deref(), "conditionalOperator", CONDITIONAL_OPERATORS);
        violations.one_of(self.return_values.as_deref(), "returnValues", RETURN_VALUES);
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
        violations.one_of(
            self.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
        violations.one_of(
            self.return_values_on_condition_check_failure.as_deref(),
            "returnValuesOnConditionCheckFailure",
            RETURN_VALUES_ON_FAILURE,
        );
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    pub table_name: Option<String>,
    pub key: Option<AttributeMap>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub expression_attribute_values: Option<AttributeMap>,
    pub expected: Option<Expected>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

impl Input for DeleteItemInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.not_null(&self.key, "key");
        validate_expected(self.expected.as_ref(), "expected", violations);
        violations.one_of(self.conditional_operator.as_deref(), "conditionalOperator", CONDITIONAL_OPERATORS);
        violations.one_of(self.return_values.as_deref(), "returnValues", RETURN_VALUES);
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
        violations.one_of(
            self.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
        violations.one_of(
            self.return_values_on_condition_check_failure.as_deref(),
            "returnValuesOnConditionCheckFailure",
            RETURN_VALUES_ON_FAILURE,
        );
    }
}
