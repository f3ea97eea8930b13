//! TransactWriteItems and TransactGetItems inputs.

use serde::{Deserialize, Serialize};

use super::{
    Input, RETURN_CONSUMED_CAPACITY, RETURN_ITEM_COLLECTION_METRICS, RETURN_VALUES_ON_FAILURE, Violations,
    items::{AttributeMap, NameMap},
};

/// One action of a write transaction (`ConditionCheck`, `Put`, `Delete`
/// or `Update`); which members apply depends on the action.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactAction {
    pub table_name: Option<String>,
    pub key: Option<AttributeMap>,
    pub item: Option<AttributeMap>,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
    pub expression_attribute_values: Option<AttributeMap>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItem {
    pub condition_check: Option<TransactAction>,
    pub put: Option<TransactAction>,
    pub delete: Option<TransactAction>,
    pub update: Option<TransactAction>,
}

impl TransactWriteItem {
    /// The actions given, by name.
    pub fn actions(&self) -> Vec<(&'static str, &TransactAction)> {
        [
            ("ConditionCheck", &self.condition_check),
            ("Put", &self.put),
            ("Delete", &self.delete),
            ("Update", &self.update),
        ]
        .into_iter()
        .filter_map(|(kind, action)| action.as_ref().map(|action| (kind, action)))
        .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    pub transact_items: Option<Vec<TransactWriteItem>>,
    pub client_request_token: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
}

/// DynamoDB's limit on actions in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

fn validate_count(count: Option<usize>, violations: &mut Violations) {
    let Some(count) = count else {
        violations.not_null(&None::<()>, "transactItems");
        return;
    };
    if count == 0 {
        // DynamoDB shows the empty list it was given.
        violations.push(Some("[]".to_owned()), "transactItems", "Member must have length greater than or equal to 1");
    }
    if count > MAX_TRANSACTION_ITEMS {
        violations.push(
            None,
            "transactItems",
            format!("Member must have length less than or equal to {MAX_TRANSACTION_ITEMS}"),
        );
    }
}

impl Input for TransactWriteItemsInput {
    fn validate(&self, violations: &mut Violations) {
        validate_count(self.transact_items.as_ref().map(Vec::len), violations);
        for (position, item) in self.transact_items.iter().flatten().enumerate() {
            for (kind, action) in item.actions() {
                let member = format!("transactItems.{}.member.{}", position + 1, lower_first(kind));
                violations.table_name(action.table_name.as_deref(), &format!("{member}.tableName"));
                match kind {
                    "Put" => violations.not_null(&action.item, &format!("{member}.item")),
                    _ => violations.not_null(&action.key, &format!("{member}.key")),
                }
                if kind == "Update" {
                    violations.not_null(&action.update_expression, &format!("{member}.updateExpression"));
                }
                if kind == "ConditionCheck" {
                    violations.not_null(&action.condition_expression, &format!("{member}.conditionExpression"));
                }
                violations.one_of(
                    action.return_values_on_condition_check_failure.as_deref(),
                    &format!("{member}.returnValuesOnConditionCheckFailure"),
                    RETURN_VALUES_ON_FAILURE,
                );
            }
        }
        if let Some(token) = &self.client_request_token {
            violations.length(Some(token.len()), token, "clientRequestToken", 1, 36);
        }
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
        violations.one_of(
            self.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAction {
    pub table_name: Option<String>,
    pub key: Option<AttributeMap>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<NameMap>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItem {
    pub get: Option<GetAction>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsInput {
    pub transact_items: Option<Vec<TransactGetItem>>,
    pub return_consumed_capacity: Option<String>,
}

impl Input for TransactGetItemsInput {
    fn validate(&self, violations: &mut Violations) {
        validate_count(self.transact_items.as_ref().map(Vec::len), violations);
        for (position, item) in self.transact_items.iter().flatten().enumerate() {
            let member = format!("transactItems.{}.member.get", position + 1);
            violations.not_null(&item.get, &member);
            if let Some(get) = &item.get {
                violations.table_name(get.table_name.as_deref(), &format!("{member}.tableName"));
                violations.not_null(&get.key, &format!("{member}.key"));
            }
        }
        violations.one_of(self.return_consumed_capacity.as_deref(), "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
    }
}
