//! Query and Scan inputs.

use serde::Deserialize;

use super::{
    CONDITIONAL_OPERATORS, Input, RETURN_CONSUMED_CAPACITY, Violations,
    items::{AttributeMap, NameMap},
    legacy::{Conditions, validate_attributes_to_get, validate_conditions},
};

/// The `Select` values, in DynamoDB's order.
pub const SELECT: &[&str] = &["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub key_condition_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub expression_attribute_values: Option<AttributeMap>,
    pub key_conditions: Option<Conditions>,
    pub query_filter: Option<Conditions>,
    pub attributes_to_get: Option<Vec<String>>,
    pub conditional_operator: Option<String>,
    pub select: Option<String>,
    pub limit: Option<i64>,
    pub consistent_read: Option<bool>,
    pub scan_index_forward: Option<bool>,
    pub exclusive_start_key: Option<AttributeMap>,
    pub return_consumed_capacity: Option<String>,
}

impl Input for QueryInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.name(self.index_name.as_deref(), "indexName");
        validate_conditions(self.key_conditions.as_ref(), "keyConditions", violations);
        validate_conditions(self.query_filter.as_ref(), "queryFilter", violations);
        validate_attributes_to_get(self.attributes_to_get.as_ref(), violations);
        violations.one_of(self.conditional_operator.as_deref(), "conditionalOperator", CONDITIONAL_OPERATORS);
        violations.one_of(self.select.as_deref(), "select", SELECT);
        violations.at_least(self.limit, "limit", 1);
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScanInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub filter_expression: Option<String>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub expression_attribute_values: Option<AttributeMap>,
    pub scan_filter: Option<Conditions>,
    pub attributes_to_get: Option<Vec<String>>,
    pub conditional_operator: Option<String>,
    pub select: Option<String>,
    pub limit: Option<i64>,
    pub consistent_read: Option<bool>,
    pub segment: Option<i64>,
    pub total_segments: Option<i64>,
    pub exclusive_start_key: Option<AttributeMap>,
    pub return_consumed_capacity: Option<String>,
}

impl Input for ScanInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.name(self.index_name.as_deref(), "indexName");
        validate_conditions(self.scan_filter.as_ref(), "scanFilter", violations);
        validate_attributes_to_get(self.attributes_to_get.as_ref(), violations);
        violations.one_of(self.conditional_operator.as_deref(), "conditionalOperator", CONDITIONAL_OPERATORS);
        violations.one_of(self.select.as_deref(), "select", SELECT);
        violations.at_least(self.limit, "limit", 1);
        violations.at_least(self.segment, "segment", 0);
        violations.at_most(self.segment, "segment", 999_999);
        violations.at_least(self.total_segments, "totalSegments", 1);
        violations.at_most(self.total_segments, "totalSegments", 1_000_000);
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
    }
}
