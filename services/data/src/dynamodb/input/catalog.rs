//! Inputs of the table catalog operations: CreateTable, UpdateTable,
//! DescribeTable, DeleteTable, ListTables, DescribeTimeToLive and
//! ListTagsOfResource.
//!
//! The constraint pass here is DynamoDB's service model (member names,
//! lengths, enums, minimums) and lists every broken constraint in the
//! order DynamoDB reports them for CreateTable: attribute definitions,
//! table name, throughput, key schema, then the indexes. The rules that
//! relate members to one another ("Some index key attributes are not
//! defined ...") come after it, in the table definition's parser.

use serde::Deserialize;

use super::{
    Input, Violations,
    tables::{Tag, validate_tags},
};

/// The `AttributeType` values, as DynamoDB lists them in its message.
pub const ATTRIBUTE_TYPES: &[&str] = &["B", "N", "S"];
/// The `KeyType` values.
pub const KEY_TYPES: &[&str] = &["HASH", "RANGE"];
/// The `ProjectionType` values, in DynamoDB's order.
pub const PROJECTION_TYPES: &[&str] = &["ALL", "INCLUDE", "KEYS_ONLY"];
/// The `BillingMode` values.
pub const BILLING_MODES: &[&str] = &["PROVISIONED", "PAY_PER_REQUEST"];
/// The `StreamViewType` values, in DynamoDB's order.
pub const STREAM_VIEW_TYPES: &[&str] = &["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"];

/// Longest attribute name in a key schema or attribute definition.
const MAX_KEY_ATTRIBUTE_NAME: usize = 255;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: Option<String>,
    pub attribute_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: Option<String>,
    pub key_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughput {
    pub read_capacity_units: Option<i64>,
    pub write_capacity_units: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    pub projection_type: Option<String>,
    pub non_key_attributes: Option<Vec<String>>,
}

/// A secondary index of CreateTable, or the `Create` of UpdateTable's
/// `GlobalSecondaryIndexUpdates` (a local index has no throughput).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecondaryIndex {
    pub index_name: Option<String>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub projection: Option<Projection>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    pub stream_enabled: Option<bool>,
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub local_secondary_indexes: Option<Vec<SecondaryIndex>>,
    pub global_secondary_indexes: Option<Vec<SecondaryIndex>>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub stream_specification: Option<StreamSpecification>,
    pub tags: Option<Vec<Tag>>,
    pub deletion_protection_enabled: Option<bool>,
}

fn validate_definitions(definitions: Option<&Vec<AttributeDefinition>>, violations: &mut Violations) {
    for (position, definition) in definitions.into_iter().flatten().enumerate() {
        let member = format!("attributeDefinitions.{}.member", position + 1);
        key_attribute_name(definition.attribute_name.as_deref(), &format!("{member}.attributeName"), violations);
        let kind = format!("{member}.attributeType");
        violations.not_null(&definition.attribute_type, &kind);
        violations.one_of(definition.attribute_type.as_deref(), &kind, ATTRIBUTE_TYPES);
    }
}

fn key_attribute_name(name: Option<&str>, member: &str, violations: &mut Violations) {
    violations.not_null(&name, member);
    if let Some(name) = name {
        violations.length(Some(name.len()), name, member, 1, MAX_KEY_ATTRIBUTE_NAME);
    }
}

fn validate_throughput(throughput: Option<&ProvisionedThroughput>, member: &str, violations: &mut Violations) {
    let Some(throughput) = throughput else { return };
    for (units, name) in
        [(throughput.write_capacity_units, "writeCapacityUnits"), (throughput.read_capacity_units, "readCapacityUnits")]
    {
        let member = format!("{member}.{name}");
        violations.not_null(&units, &member);
        violations.at_least(units, &member, 1);
    }
}

fn validate_key_schema(schema: Option<&Vec<KeySchemaElement>>, member: &str, violations: &mut Violations) {
    violations.not_null(&schema, member);
    let Some(schema) = schema else { return };
    if schema.is_empty() {
        violations.push(Some("[]".to_owned()), member, "Member must have length greater than or equal to 1");
    }
    for (position, element) in schema.iter().enumerate() {
        let element_member = format!("{member}.{}.member", position + 1);
        key_attribute_name(element.attribute_name.as_deref(), &format!("{element_member}.attributeName"), violations);
        let kind = format!("{element_member}.keyType");
        violations.not_null(&element.key_type, &kind);
        violations.one_of(element.key_type.as_deref(), &kind, KEY_TYPES);
    }
}

fn validate_projection(projection: Option<&Projection>, member: &str, violations: &mut Violations) {
    violations.not_null(&projection, member);
    let Some(projection) = projection else { return };
    violations.one_of(projection.projection_type.as_deref(), &format!("{member}.projectionType"), PROJECTION_TYPES);
    if let Some(attributes) = &projection.non_key_attributes {
        let list = format!("{member}.nonKeyAttributes");
        let shown = format!("[{}]", attributes.join(", "));
        violations.length(Some(attributes.len()), &shown, &list, 1, 20);
    }
}

fn validate_index(index: &SecondaryIndex, member: &str, global: bool, violations: &mut Violations) {
    validate_key_schema(index.key_schema.as_ref(), &format!("{member}.keySchema"), violations);
    validate_projection(index.projection.as_ref(), &format!("{member}.projection"), violations);
    let name = format!("{member}.indexName");
    violations.not_null(&index.index_name, &name);
    violations.name(index.index_name.as_deref(), &name);
    if global {
        validate_throughput(
            index.provisioned_throughput.as_ref(),
            &format!("{member}.provisionedThroughput"),
            violations,
        );
    }
}

fn validate_stream(stream: Option<&StreamSpecification>, violations: &mut Violations) {
    let Some(stream) = stream else { return };
    violations.not_null(&stream.stream_enabled, "streamSpecification.streamEnabled");
    violations.one_of(stream.stream_view_type.as_deref(), "streamSpecification.streamViewType", STREAM_VIEW_TYPES);
}

impl Input for CreateTableInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.attribute_definitions, "attributeDefinitions");
        validate_definitions(self.attribute_definitions.as_ref(), violations);
        violations.table_name(self.table_name.as_deref(), "tableName");
        validate_throughput(self.provisioned_throughput.as_ref(), "provisionedThroughput", violations);
        validate_key_schema(self.key_schema.as_ref(), "keySchema", violations);
        for (indexes, list, global) in [
            (&self.local_secondary_indexes, "localSecondaryIndexes", false),
            (&self.global_secondary_indexes, "globalSecondaryIndexes", true),
        ] {
            for (position, index) in indexes.iter().flatten().enumerate() {
                validate_index(index, &format!("{list}.{}.member", position + 1), global, violations);
            }
        }
        violations.one_of(self.billing_mode.as_deref(), "billingMode", BILLING_MODES);
        validate_stream(self.stream_specification.as_ref(), violations);
        validate_tags(self.tags.as_ref(), violations);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedIndex {
    pub index_name: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndexUpdate {
    pub create: Option<SecondaryIndex>,
    pub update: Option<NamedIndex>,
    pub delete: Option<NamedIndex>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTableInput {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub global_secondary_index_updates: Option<Vec<GlobalSecondaryIndexUpdate>>,
    pub stream_specification: Option<StreamSpecification>,
    pub deletion_protection_enabled: Option<bool>,
}

impl Input for UpdateTableInput {
    fn validate(&self, violations: &mut Violations) {
        validate_definitions(self.attribute_definitions.as_ref(), violations);
        violations.table_name(self.table_name.as_deref(), "tableName");
        violations.one_of(self.billing_mode.as_deref(), "billingMode", BILLING_MODES);
        validate_throughput(self.provisioned_throughput.as_ref(), "provisionedThroughput", violations);
        for (position, update) in self.global_secondary_index_updates.iter().flatten().enumerate() {
            let member = format!("globalSecondaryIndexUpdates.{}.member", position + 1);
            if let Some(create) = &update.create {
                validate_index(create, &format!("{member}.create"), true, violations);
            }
            if let Some(change) = &update.update {
                let action = format!("{member}.update");
                let name = format!("{action}.indexName");
                violations.not_null(&change.index_name, &name);
                violations.name(change.index_name.as_deref(), &name);
                validate_throughput(
                    change.provisioned_throughput.as_ref(),
                    &format!("{action}.provisionedThroughput"),
                    violations,
                );
            }
            if let Some(delete) = &update.delete {
                let name = format!("{member}.delete.indexName");
                violations.not_null(&delete.index_name, &name);
                violations.name(delete.index_name.as_deref(), &name);
            }
        }
        validate_stream(self.stream_specification.as_ref(), violations);
    }
}

/// DescribeTable, DeleteTable and DescribeTimeToLive: a table by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableNameInput {
    pub table_name: Option<String>,
}

impl TableNameInput {
    /// The validated name.
    pub fn name(&self) -> &str {
        self.table_name.as_deref().unwrap_or_default()
    }
}

impl Input for TableNameInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
    }
}

/// The most table names one ListTables page holds.
pub const MAX_LIST_TABLES: i64 = 100;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesInput {
    pub exclusive_start_table_name: Option<String>,
    pub limit: Option<i64>,
}

impl Input for ListTablesInput {
    fn validate(&self, violations: &mut Violations) {
        let start = self.exclusive_start_table_name.as_deref();
        violations.name(start, "exclusiveStartTableName");
        violations.at_least(self.limit, "limit", 1);
        violations.at_most(self.limit, "limit", MAX_LIST_TABLES);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOfResourceInput {
    pub resource_arn: Option<String>,
    pub next_token: Option<String>,
}

impl Input for ListTagsOfResourceInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.resource_arn, "resourceArn");
        if let Some(arn) = &self.resource_arn {
            violations.length(Some(arn.len()), arn, "resourceArn", 1, 1283);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::dynamodb::{error::ErrorKind, input::parse};

    fn refused<T: Input>(body: Value) -> String {
        let error = parse::<T>(&body).err().expect("the input is refused");
        assert_eq!(error.kind, ErrorKind::Validation);
        error.message().to_owned()
    }

    const NOT_NULL: &str = "failed to satisfy constraint: Member must not be null";

    #[test]
    fn create_table_lists_missing_members_in_dynamodbs_order() {
        assert_eq!(
            refused::<CreateTableInput>(json!({"TableName": "abc;"})),
            format!(
                "3 validation errors detected: Value null at 'attributeDefinitions' {NOT_NULL}; \
                 Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
                 Value null at 'keySchema' {NOT_NULL}"
            )
        );
    }

    #[test]
    fn create_table_checks_throughput_and_an_empty_key_schema() {
        assert_eq!(
            refused::<CreateTableInput>(json!({
                "TableName": "abc", "AttributeDefinitions": [], "KeySchema": [],
                "ProvisionedThroughput": {"ReadCapacityUnits": -1, "WriteCapacityUnits": -1}
            })),
            "3 validation errors detected: \
             Value '-1' at 'provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value '-1' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        assert_eq!(
            refused::<CreateTableInput>(
                json!({"TableName": "abc", "AttributeDefinitions": [], "ProvisionedThroughput": {}})
            ),
            format!(
                "3 validation errors detected: Value null at 'provisionedThroughput.writeCapacityUnits' {NOT_NULL}; \
                 Value null at 'provisionedThroughput.readCapacityUnits' {NOT_NULL}; Value null at 'keySchema' {NOT_NULL}"
            )
        );
    }

    #[test]
    fn create_table_checks_each_key_element_and_definition() {
        assert_eq!(
            refused::<CreateTableInput>(json!({
                "TableName": "abc", "AttributeDefinitions": [{}],
                "KeySchema": [{"KeyType": "HASH"}, {"AttributeName": "a"}, {"KeyType": "Woop", "AttributeName": "a"}]
            })),
            format!(
                "5 validation errors detected: Value null at 'attributeDefinitions.1.member.attributeName' {NOT_NULL}; \
                 Value null at 'attributeDefinitions.1.member.attributeType' {NOT_NULL}; \
                 Value null at 'keySchema.1.member.attributeName' {NOT_NULL}; \
                 Value null at 'keySchema.2.member.keyType' {NOT_NULL}; \
                 Value 'Woop' at 'keySchema.3.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"
            )
        );
        assert_eq!(
            refused::<CreateTableInput>(json!({
                "TableName": "abc", "AttributeDefinitions": [{"AttributeName": "b", "AttributeType": "SS"}],
                "KeySchema": [{"KeyType": "HASH", "AttributeName": "b"}]
            })),
            "1 validation error detected: Value 'SS' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
        );
    }

    #[test]
    fn create_table_checks_index_members() {
        let long = "a".repeat(256);
        assert_eq!(
            refused::<CreateTableInput>(json!({
                "TableName": "abc",
                "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                "KeySchema": [{"KeyType": "HASH", "AttributeName": "a"}],
                "LocalSecondaryIndexes": [
                    {"IndexName": "h;", "KeySchema": [], "Projection": {}},
                    {"IndexName": long, "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}], "Projection": {}},
                ],
                "GlobalSecondaryIndexes": [{}],
            })),
            format!(
                "7 validation errors detected: \
                 Value '[]' at 'localSecondaryIndexes.1.member.keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1; \
                 Value 'h;' at 'localSecondaryIndexes.1.member.indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
                 Value 'h;' at 'localSecondaryIndexes.1.member.indexName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
                 Value '{long}' at 'localSecondaryIndexes.2.member.indexName' failed to satisfy constraint: Member must have length less than or equal to 255; \
                 Value null at 'globalSecondaryIndexes.1.member.keySchema' {NOT_NULL}; \
                 Value null at 'globalSecondaryIndexes.1.member.projection' {NOT_NULL}; \
                 Value null at 'globalSecondaryIndexes.1.member.indexName' {NOT_NULL}"
            )
        );
    }

    #[test]
    fn create_table_checks_projection_billing_and_stream_enums() {
        assert_eq!(
            refused::<CreateTableInput>(json!({
                "TableName": "abc",
                "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                "KeySchema": [{"KeyType": "HASH", "AttributeName": "a"}],
                "GlobalSecondaryIndexes": [{"IndexName": "byA", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "SOME", "NonKeyAttributes": []}}],
                "BillingMode": "FREE",
                "StreamSpecification": {"StreamViewType": "EVERYTHING"},
            })),
            format!(
                "5 validation errors detected: \
                 Value 'SOME' at 'globalSecondaryIndexes.1.member.projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]; \
                 Value '[]' at 'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy constraint: Member must have length greater than or equal to 1; \
                 Value 'FREE' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]; \
                 Value null at 'streamSpecification.streamEnabled' {NOT_NULL}; \
                 Value 'EVERYTHING' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
            )
        );
    }

    #[test]
    fn create_table_checks_tags() {
        assert_eq!(
            refused::<CreateTableInput>(json!({
                "TableName": "abc",
                "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                "KeySchema": [{"KeyType": "HASH", "AttributeName": "a"}],
                "Tags": [{"Key": ""}],
            })),
            format!(
                "2 validation errors detected: \
                 Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; \
                 Value null at 'tags.1.member.value' {NOT_NULL}"
            )
        );
    }

    #[test]
    fn a_valid_create_table_passes() {
        parse::<CreateTableInput>(&json!({
            "TableName": "abc",
            "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
            "KeySchema": [{"KeyType": "HASH", "AttributeName": "a"}],
            "BillingMode": "PAY_PER_REQUEST",
        }))
        .unwrap();
    }

    #[test]
    fn update_table_checks_index_updates() {
        assert_eq!(
            refused::<UpdateTableInput>(json!({
                "TableName": "abc",
                "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 1},
                "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "byA", "ProvisionedThroughput": {}}}, {"Delete": {}}],
            })),
            format!(
                "4 validation errors detected: \
                 Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1; \
                 Value null at 'globalSecondaryIndexUpdates.1.member.update.provisionedThroughput.writeCapacityUnits' {NOT_NULL}; \
                 Value null at 'globalSecondaryIndexUpdates.1.member.update.provisionedThroughput.readCapacityUnits' {NOT_NULL}; \
                 Value null at 'globalSecondaryIndexUpdates.2.member.delete.indexName' {NOT_NULL}"
            )
        );
        assert_eq!(
            refused::<UpdateTableInput>(json!({
                "TableName": "abc",
                "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "byA", "KeySchema": [{"AttributeName": "a"}]}}],
            })),
            format!(
                "2 validation errors detected: \
                 Value null at 'globalSecondaryIndexUpdates.1.member.create.keySchema.1.member.keyType' {NOT_NULL}; \
                 Value null at 'globalSecondaryIndexUpdates.1.member.create.projection' {NOT_NULL}"
            )
        );
        assert_eq!(
            refused::<UpdateTableInput>(
                json!({"AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "X"}]})
            ),
            format!(
                "2 validation errors detected: \
                 Value 'X' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]; \
                 Value null at 'tableName' {NOT_NULL}"
            )
        );
    }

    #[test]
    fn a_table_is_named_by_a_valid_name() {
        assert_eq!(
            refused::<TableNameInput>(json!({})),
            format!("1 validation error detected: Value null at 'tableName' {NOT_NULL}")
        );
        assert_eq!(
            refused::<TableNameInput>(json!({"TableName": "ab"})),
            "TableName must be at least 3 characters long and at most 255 characters long"
        );
        assert_eq!(parse::<TableNameInput>(&json!({"TableName": "abc"})).unwrap().name(), "abc");
    }

    #[test]
    fn list_tables_checks_its_limit_and_start_name() {
        assert_eq!(
            refused::<ListTablesInput>(json!({"Limit": 101})),
            "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
        );
        assert_eq!(
            refused::<ListTablesInput>(json!({"Limit": 0, "ExclusiveStartTableName": "a;"})),
            "3 validation errors detected: \
             Value 'a;' at 'exclusiveStartTableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'a;' at 'exclusiveStartTableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
    }

    #[test]
    fn list_tags_needs_a_resource() {
        assert_eq!(
            refused::<ListTagsOfResourceInput>(json!({})),
            format!("1 validation error detected: Value null at 'resourceArn' {NOT_NULL}")
        );
        assert_eq!(
            refused::<ListTagsOfResourceInput>(json!({"ResourceArn": ""})),
            "1 validation error detected: Value '' at 'resourceArn' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }
}
