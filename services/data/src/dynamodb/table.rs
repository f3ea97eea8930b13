//! Table definitions as stored and as DescribeTable shows them — keys,
//! secondary indexes, stream and TTL settings, tags — and the CreateTable
//! and UpdateTable rules that produce them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    error::{DynamoError, Result},
    request::{Request, validation_error},
};

/// The scalar types a key attribute can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }
}

/// Which attributes an index copies from the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

/// A global or local secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub global: bool,
    pub hash_key: String,
    pub range_key: Option<String>,
    /// A global index's further partition-key attributes, after `hash_key`
    /// (multi-attribute keys: up to four in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_hash_keys: Vec<String>,
    /// A global index's further sort-key attributes, after `range_key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_range_keys: Vec<String>,
    pub projection: Projection,
    /// The engine table holding the index's entries.
    pub id: String,
    pub read_capacity: u64,
    pub write_capacity: u64,
}

impl Index {
    /// The partition-key attributes, in key-schema order.
    pub fn hash_keys(&self) -> Vec<&str> {
        std::iter::once(self.hash_key.as_str()).chain(self.more_hash_keys.iter().map(String::as_str)).collect()
    }

    /// The sort-key attributes, in key-schema order (none without a sort key).
    pub fn range_keys(&self) -> Vec<&str> {
        self.range_key.iter().chain(&self.more_range_keys).map(String::as_str).collect()
    }

    /// Every key attribute of the index.
    pub fn key_names(&self) -> Vec<&str> {
        let mut names = self.hash_keys();
        names.extend(self.range_keys());
        names
    }

    /// The `KeySchema` DescribeTable shows.
    pub fn key_schema(&self) -> Vec<Value> {
        let hash = self.hash_keys().into_iter().map(|name| json!({ "AttributeName": name, "KeyType": "HASH" }));
        let range = self.range_keys().into_iter().map(|name| json!({ "AttributeName": name, "KeyType": "RANGE" }));
        hash.chain(range).collect()
    }
}

/// A table's stream, when enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamSettings {
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
    /// The stream's label, part of its ARN.
    pub label: String,
    /// When the stream was enabled, in epoch milliseconds (streams enabled
    /// before this was kept: read from the label).
    #[serde(default)]
    pub created_ms: Option<i64>,
    /// How long each shard of the stream takes records.
    #[serde(default)]
    pub shard_secs: Option<u64>,
}

impl StreamSettings {
    pub fn created_ms(&self) -> i64 {
        self.created_ms.unwrap_or_else(|| {
            chrono::NaiveDateTime::parse_from_str(&self.label, "%Y-%m-%dT%H:%M:%S%.3f")
                .map(|at| at.and_utc().timestamp_millis())
                .unwrap_or(0)
        })
    }

    pub fn shard_secs(&self) -> u64 {
        self.shard_secs.unwrap_or(super::settings::Settings::default().shard_secs)
    }
}

/// A table as the data service stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// The engine's name for the table's rows; a new one for every table
    /// created, so a table re-created under a name starts empty.
    pub id: String,
    pub attributes: Vec<(String, ScalarType)>,
    pub hash_key: String,
    pub range_key: Option<String>,
    /// Seconds since the epoch.
    pub created: f64,
    pub pay_per_request: bool,
    pub read_capacity: u64,
    pub write_capacity: u64,
    #[serde(default)]
    pub indexes: Vec<Index>,
    #[serde(default)]
    pub stream: Option<StreamSettings>,
    /// The TTL attribute, when Time to Live is enabled.
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Point-in-time recovery, when enabled.
    #[serde(default)]
    pub point_in_time_recovery: Option<super::backups::PointInTimeRecovery>,
}

impl Table {
    pub fn key_names(&self) -> Vec<&str> {
        let mut names = vec![self.hash_key.as_str()];
        if let Some(range) = &self.range_key {
            names.push(range);
        }
        names
    }

    pub fn attribute_type(&self, name: &str) -> Option<ScalarType> {
        self.attributes.iter().find(|(attribute, _)| attribute == name).map(|(_, kind)| *kind)
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|index| index.name == name)
    }

    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:dynamodb:{region}:{account}:table/{}", self.name)
    }

    /// The engine table of the stream's log.
    pub fn stream_log(&self) -> String {
        format!("{}.stream", self.id)
    }

    pub fn stream_arn(&self, region: &str, account: &str) -> Option<String> {
        self.stream.as_ref().map(|stream| format!("{}/stream/{}", self.arn(region, account), stream.label))
    }

    /// The `TableDescription` shape of the API.
    pub fn describe(&self, region: &str, account: &str, status: &str) -> Value {
        let key_schema = |hash: &str, range: Option<&String>| {
            let mut schema = vec![json!({ "AttributeName": hash, "KeyType": "HASH" })];
            if let Some(range) = range {
                schema.push(json!({ "AttributeName": range, "KeyType": "RANGE" }));
            }
            schema
        };
        let mut description = json!({
            "TableName": self.name,
            "TableId": self.id,
            "TableArn": self.arn(region, account),
            "TableStatus": status,
            "CreationDateTime": self.created,
            "AttributeDefinitions": self.attributes.iter().map(|(name, kind)| json!({ "AttributeName": name, "AttributeType": kind.name() })).collect::<Vec<_>>(),
            "KeySchema": key_schema(&self.hash_key, self.range_key.as_ref()),
            "ProvisionedThroughput": {
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
                "NumberOfDecreasesToday": 0,
            },
            "TableSizeBytes": 0,
            "ItemCount": 0,
            "DeletionProtectionEnabled": false,
        });
        if self.pay_per_request {
            description["BillingModeSummary"] =
                json!({ "BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": self.created });
        }
        let describe_index = |index: &Index| {
            let mut projection = json!({ "ProjectionType": match &index.projection {
                Projection::All => "ALL",
                Projection::KeysOnly => "KEYS_ONLY",
                Projection::Include(_) => "INCLUDE",
            } });
            if let Projection::Include(attributes) = &index.projection {
                projection["NonKeyAttributes"] = json!(attributes);
            }
            let mut described = json!({
                "IndexName": index.name,
                "KeySchema": index.key_schema(),
                "Projection": projection,
                "IndexSizeBytes": 0,
                "ItemCount": 0,
                "IndexArn": format!("{}/index/{}", self.arn(region, account), index.name),
            });
            if index.global {
                described["IndexStatus"] = json!("ACTIVE");
                described["ProvisionedThroughput"] = json!({
                    "ReadCapacityUnits": index.read_capacity,
                    "WriteCapacityUnits": index.write_capacity,
                    "NumberOfDecreasesToday": 0,
                });
            }
            described
        };
        let globals: Vec<Value> = self.indexes.iter().filter(|i| i.global).map(describe_index).collect();
        let locals: Vec<Value> = self.indexes.iter().filter(|i| !i.global).map(describe_index).collect();
        if !globals.is_empty() {
            description["GlobalSecondaryIndexes"] = json!(globals);
        }
        if !locals.is_empty() {
            description["LocalSecondaryIndexes"] = json!(locals);
        }
        if let Some(stream) = &self.stream {
            description["StreamSpecification"] = json!({ "StreamEnabled": true, "StreamViewType": stream.view_type });
            description["LatestStreamLabel"] = json!(stream.label);
            description["LatestStreamArn"] = json!(self.stream_arn(region, account));
        }
        description
    }
}

/// DynamoDB's table (and index) name rules.
pub fn check_table_name(name: &str, member: &str) -> Result<()> {
    if name.len() < 3 || name.len() > 255 {
        return Err(DynamoError::validation(
            "TableName must be at least 3 characters long and at most 255 characters long",
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(validation_error(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

fn parse_attributes(definitions: &[Value]) -> Result<Vec<(String, ScalarType)>> {
    let mut attributes: Vec<(String, ScalarType)> = Vec::new();
    for (index, definition) in definitions.iter().enumerate() {
        let attribute = definition.get("AttributeName").and_then(Value::as_str).unwrap_or_default();
        let kind = match definition.get("AttributeType").and_then(Value::as_str) {
            Some("S") => ScalarType::S,
            Some("N") => ScalarType::N,
            Some("B") => ScalarType::B,
            other => {
                return Err(validation_error(format!(
                    "Value '{}' at 'attributeDefinitions.{}.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                    other.unwrap_or("null"),
                    index + 1
                )));
            }
        };
        if attributes.iter().any(|(existing, _)| existing == attribute) {
            return Err(DynamoError::validation(format!("Attribute Name is duplicated: {attribute}")));
        }
        attributes.push((attribute.to_owned(), kind));
    }
    Ok(attributes)
}

/// A `KeySchema`: the hash key and the optional range key.
fn parse_key_schema(schema: &[Value], member: &str) -> Result<(String, Option<String>)> {
    if schema.is_empty() || schema.len() > 2 {
        return Err(validation_error(format!(
            "Value '{}' at '{member}' failed to satisfy constraint: Member must have length {} 2",
            Value::Array(schema.to_vec()),
            if schema.is_empty() { "greater than or equal to 1" } else { "less than or equal to" }
        )));
    }
    let element = |index: usize| {
        let element = &schema[index];
        (
            element.get("AttributeName").and_then(Value::as_str).unwrap_or_default().to_owned(),
            element.get("KeyType").and_then(Value::as_str).unwrap_or_default(),
        )
    };
    let (hash_key, hash_type) = element(0);
    if hash_type != "HASH" {
        return Err(DynamoError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    let range_key = if schema.len() == 2 {
        let (range_key, range_type) = element(1);
        if range_type != "RANGE" {
            return Err(DynamoError::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
        if range_key == hash_key {
            return Err(DynamoError::validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
        Some(range_key)
    } else {
        None
    };
    Ok((hash_key, range_key))
}

/// Partition- and sort-key attributes a global index may have each
/// (multi-attribute keys).
const MAX_INDEX_KEY_ATTRIBUTES: usize = 4;

/// A global index's `KeySchema`: one to four `HASH` elements, then up to
/// four `RANGE` elements, each attribute once.
fn parse_global_key_schema(schema: &[Value], member: &str) -> Result<(Vec<String>, Vec<String>)> {
    let most = 2 * MAX_INDEX_KEY_ATTRIBUTES;
    if schema.is_empty() || schema.len() > most {
        return Err(validation_error(format!(
            "Value '{}' at '{member}' failed to satisfy constraint: Member must have length {}",
            Value::Array(schema.to_vec()),
            if schema.is_empty() {
                "greater than or equal to 1".to_owned()
            } else {
                format!("less than or equal to {most}")
            }
        )));
    }
    let (mut hash, mut range) = (Vec::new(), Vec::new());
    for (position, element) in schema.iter().enumerate() {
        let name = element.get("AttributeName").and_then(Value::as_str).unwrap_or_default().to_owned();
        match element.get("KeyType").and_then(Value::as_str) {
            Some("HASH") if position == 0 || range.is_empty() => hash.push(name),
            Some("HASH") => {
                return Err(DynamoError::invalid_parameter(
                    "All HASH key attributes must precede RANGE key attributes in the KeySchema",
                ));
            }
            Some("RANGE") if position == 0 => {
                return Err(DynamoError::validation(
                    "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                ));
            }
            Some("RANGE") => range.push(name),
            other => {
                return Err(validation_error(format!(
                    "Value '{}' at '{member}.{}.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
                    other.unwrap_or("null"),
                    position + 1
                )));
            }
        }
    }
    for (keys, kind) in [(&hash, "HASH"), (&range, "RANGE")] {
        if keys.len() > MAX_INDEX_KEY_ATTRIBUTES {
            return Err(DynamoError::invalid_parameter(format!(
                "The KeySchema exceeds the maximum allowed number of {kind} key attributes"
            )));
        }
    }
    let mut names: Vec<&String> = hash.iter().chain(&range).collect();
    names.sort();
    names.dedup();
    if names.len() != schema.len() {
        return Err(DynamoError::validation(if schema.len() == 2 && hash.len() == 1 {
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        } else {
            "The KeySchema contains multiple key attributes with the same name"
        }));
    }
    Ok((hash, range))
}

fn parse_projection(index: &Value, name: &str) -> Result<Projection> {
    let Some(projection) = index.get("Projection").filter(|v| !v.is_null()) else {
        return Err(DynamoError::invalid_parameter(format!("Projection must be specified for index: {name}")));
    };
    let non_key = projection.get("NonKeyAttributes").and_then(Value::as_array);
    match projection.get("ProjectionType").and_then(Value::as_str) {
        Some("ALL") | None if non_key.is_none() => Ok(Projection::All),
        Some("KEYS_ONLY") if non_key.is_none() => Ok(Projection::KeysOnly),
        Some("INCLUDE") => match non_key {
            Some(attributes) if !attributes.is_empty() => {
                Ok(Projection::Include(attributes.iter().filter_map(Value::as_str).map(str::to_owned).collect()))
            }
            _ => Err(DynamoError::invalid_parameter(format!(
                "NonKeyAttributes must not be empty when ProjectionType is INCLUDE for index: {name}"
            ))),
        },
        Some(kind) if non_key.is_some() => {
            Err(DynamoError::invalid_parameter(format!("ProjectionType is {kind}, but NonKeyAttributes is specified")))
        }
        Some(other) => Err(validation_error(format!(
            "Value '{other}' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
        ))),
        None => Err(DynamoError::invalid_parameter(format!("Unknown ProjectionType for index: {name}"))),
    }
}

/// Parses one secondary index definition of CreateTable or UpdateTable.
pub fn parse_index(
    definition: &Value,
    global: bool,
    table_hash: &str,
    table_has_range: bool,
    pay_per_request: bool,
) -> Result<Index> {
    let name = definition.get("IndexName").and_then(Value::as_str).unwrap_or_default().to_owned();
    check_table_name(
        &name,
        if global { "globalSecondaryIndexes.1.member.indexName" } else { "localSecondaryIndexes.1.member.indexName" },
    )?;
    let schema = definition.get("KeySchema").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let (hash_key, range_key, more_hash_keys, more_range_keys) = if global {
        let (mut hash, mut range) = parse_global_key_schema(schema, "keySchema")?;
        let more_hash = hash.split_off(1);
        let more_range = if range.is_empty() { Vec::new() } else { range.split_off(1) };
        (hash.remove(0), range.pop(), more_hash, more_range)
    } else {
        let (hash, range) = parse_key_schema(schema, "keySchema")?;
        (hash, range, Vec::new(), Vec::new())
    };
    if !global {
        if !table_has_range {
            return Err(DynamoError::invalid_parameter(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if hash_key != table_hash {
            return Err(DynamoError::invalid_parameter(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {hash_key}, table hash key: {table_hash}"
            )));
        }
        if range_key.is_none() {
            return Err(DynamoError::invalid_parameter(format!(
                "Index KeySchema does not have a range key for index: {name}"
            )));
        }
    }
    let projection = parse_projection(definition, &name)?;
    let throughput = definition.get("ProvisionedThroughput").filter(|v| !v.is_null());
    let (read_capacity, write_capacity) = match (global, pay_per_request, throughput) {
        (false, _, _) => (0, 0),
        (true, true, Some(_)) => {
            return Err(DynamoError::invalid_parameter(format!(
                "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )));
        }
        (true, true, None) => (0, 0),
        (true, false, None) => {
            return Err(DynamoError::invalid_parameter(format!(
                "ProvisionedThroughput must be specified for index: {name}"
            )));
        }
        (true, false, Some(throughput)) => (
            throughput.get("ReadCapacityUnits").and_then(Value::as_u64).unwrap_or(1),
            throughput.get("WriteCapacityUnits").and_then(Value::as_u64).unwrap_or(1),
        ),
    };
    Ok(Index {
        name,
        global,
        hash_key,
        range_key,
        more_hash_keys,
        more_range_keys,
        projection,
        id: uuid::Uuid::new_v4().simple().to_string(),
        read_capacity,
        write_capacity,
    })
}

/// Parses a `StreamSpecification`; `None` when streams are off.
pub fn parse_stream(request: &Request, now: f64) -> Result<Option<StreamSettings>> {
    let Some(spec) = request.member("StreamSpecification") else { return Ok(None) };
    let enabled = spec.get("StreamEnabled").and_then(Value::as_bool).unwrap_or(false);
    let view_type = spec.get("StreamViewType").and_then(Value::as_str);
    if !enabled {
        if view_type.is_some() {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: StreamViewType must not be set when StreamEnabled is false",
            ));
        }
        return Ok(None);
    }
    let view_type = match view_type {
        Some(kind @ ("KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")) => kind.to_owned(),
        Some(other) => {
            return Err(validation_error(format!(
                "Value '{other}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
            )));
        }
        None => {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: StreamViewType is required when StreamEnabled is true",
            ));
        }
    };
    let label = chrono::DateTime::from_timestamp_millis((now * 1000.0) as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string();
    Ok(Some(StreamSettings { view_type, label, created_ms: Some((now * 1000.0) as i64), shard_secs: None }))
}

/// Builds a table from a CreateTable request.
pub fn from_create_request(request: &Request, id: String, now: f64) -> Result<Table> {
    let name = request.required_str("TableName", "tableName")?;
    check_table_name(name, "tableName")?;
    let definitions = request.required_array("AttributeDefinitions", "attributeDefinitions")?;
    let key_schema = request.required_array("KeySchema", "keySchema")?;
    let attributes = parse_attributes(definitions)?;
    let (hash_key, range_key) = parse_key_schema(key_schema, "keySchema")?;

    let pay_per_request = match request.optional_str("BillingMode")? {
        None | Some("PROVISIONED") => false,
        Some("PAY_PER_REQUEST") => true,
        Some(other) => {
            return Err(validation_error(format!(
                "Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            )));
        }
    };
    let throughput = request.member("ProvisionedThroughput");
    let (read_capacity, write_capacity) = match (pay_per_request, throughput) {
        (true, Some(_)) => {
            return Err(DynamoError::invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        (true, None) => (0, 0),
        (false, None) => {
            return Err(DynamoError::invalid_parameter(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        (false, Some(throughput)) => {
            let units = |member: &str| throughput.get(member).and_then(Value::as_u64).filter(|units| *units >= 1);
            match (units("ReadCapacityUnits"), units("WriteCapacityUnits")) {
                (Some(read), Some(write)) => (read, write),
                _ => {
                    return Err(DynamoError::invalid_parameter(
                        "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                    ));
                }
            }
        }
    };

    let mut indexes = Vec::new();
    for (member, global) in [("GlobalSecondaryIndexes", true), ("LocalSecondaryIndexes", false)] {
        let Some(list) = request.member(member) else { continue };
        let list = list.as_array().ok_or_else(|| DynamoError::validation(format!("{member} must be a list")))?;
        if list.is_empty() {
            return Err(DynamoError::invalid_parameter(format!("List of {member} is empty")));
        }
        for definition in list {
            let index = parse_index(definition, global, &hash_key, range_key.is_some(), pay_per_request)?;
            if indexes.iter().any(|existing: &Index| existing.name == index.name) {
                return Err(DynamoError::invalid_parameter(format!("Duplicate index name: {}", index.name)));
            }
            indexes.push(index);
        }
    }
    if indexes.iter().filter(|i| !i.global).count() > 5 {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5",
        ));
    }
    if indexes.iter().filter(|i| i.global).count() > 20 {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20",
        ));
    }

    let mut used: Vec<&str> = vec![hash_key.as_str()];
    used.extend(range_key.as_deref());
    for index in &indexes {
        used.extend(index.key_names());
    }
    used.sort();
    used.dedup();
    let undefined: Vec<&str> =
        used.iter().copied().filter(|key| !attributes.iter().any(|(name, _)| name == key)).collect();
    if !undefined.is_empty() {
        let defined: Vec<&str> = attributes.iter().map(|(name, _)| name.as_str()).collect();
        return Err(DynamoError::invalid_parameter(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            undefined.join(", "),
            defined.join(", ")
        )));
    }
    if attributes.len() != used.len() {
        if indexes.is_empty() {
            return Err(DynamoError::invalid_parameter(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        let defined: Vec<&str> = attributes.iter().map(|(name, _)| name.as_str()).collect();
        return Err(DynamoError::invalid_parameter(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            defined.join(", "),
            used.join(", ")
        )));
    }

    let mut tags = BTreeMap::new();
    if let Some(list) = request.member("Tags").and_then(Value::as_array) {
        for tag in list {
            let key = tag.get("Key").and_then(Value::as_str).unwrap_or_default();
            let value = tag.get("Value").and_then(Value::as_str).unwrap_or_default();
            tags.insert(key.to_owned(), value.to_owned());
        }
    }

    Ok(Table {
        name: name.to_owned(),
        id,
        attributes,
        hash_key,
        range_key,
        created: now,
        pay_per_request,
        read_capacity,
        write_capacity,
        indexes,
        stream: parse_stream(request, now)?,
        ttl_attribute: None,
        tags,
        point_in_time_recovery: None,
    })
}
