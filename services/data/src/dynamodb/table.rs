//! Table definitions as stored and as DescribeTable shows them, and the
//! CreateTable rules that produce them.

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

    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:dynamodb:{region}:{account}:table/{}", self.name)
    }

    /// The `TableDescription` shape of the API.
    pub fn describe(&self, region: &str, account: &str, status: &str) -> Value {
        let mut key_schema = vec![json!({ "AttributeName": self.hash_key, "KeyType": "HASH" })];
        if let Some(range) = &self.range_key {
            key_schema.push(json!({ "AttributeName": range, "KeyType": "RANGE" }));
        }
        let mut description = json!({
            "TableName": self.name,
            "TableId": self.id,
            "TableArn": self.arn(region, account),
            "TableStatus": status,
            "CreationDateTime": self.created,
            "AttributeDefinitions": self.attributes.iter().map(|(name, kind)| json!({ "AttributeName": name, "AttributeType": kind.name() })).collect::<Vec<_>>(),
            "KeySchema": key_schema,
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
        description
    }
}

/// DynamoDB's table name rules.
pub fn check_table_name(name: &str, member: &str) -> Result<()> {
    if name.len() < 3 {
        return Err(validation_error(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 3"
        )));
    }
    if name.len() > 255 {
        return Err(validation_error(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 255"
        )));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(validation_error(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

/// Builds a table from a CreateTable request.
pub fn from_create_request(request: &Request, id: String, now: f64) -> Result<Table> {
    let name = request.required_str("TableName", "tableName")?;
    check_table_name(name, "tableName")?;
    let definitions = request.required_array("AttributeDefinitions", "attributeDefinitions")?;
    let key_schema = request.required_array("KeySchema", "keySchema")?;
    if request.body.get("GlobalSecondaryIndexes").is_some_and(|v| !v.is_null())
        || request.body.get("LocalSecondaryIndexes").is_some_and(|v| !v.is_null())
    {
        return Err(DynamoError::validation("Secondary indexes are not supported by nubo yet"));
    }

    let mut attributes = Vec::new();
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
            return Err(DynamoError::validation(format!(
                "Cannot have two attributes with the same name; attribute: {attribute}"
            )));
        }
        attributes.push((attribute.to_owned(), kind));
    }

    if key_schema.is_empty() || key_schema.len() > 2 {
        return Err(validation_error(format!(
            "Value '{}' at 'keySchema' failed to satisfy constraint: Member must have length {} 2",
            Value::Array(key_schema.to_vec()),
            if key_schema.is_empty() { "greater than or equal to 1" } else { "less than or equal to" }
        )));
    }
    let element = |index: usize| {
        let element = &key_schema[index];
        (
            element.get("AttributeName").and_then(Value::as_str).unwrap_or_default().to_owned(),
            element.get("KeyType").and_then(Value::as_str).unwrap_or_default(),
        )
    };
    let (hash_key, hash_type) = element(0);
    if hash_type != "HASH" {
        return Err(DynamoError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    let range_key = if key_schema.len() == 2 {
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

    let key_names: Vec<&str> = std::iter::once(hash_key.as_str()).chain(range_key.as_deref()).collect();
    let undefined: Vec<&str> =
        key_names.iter().copied().filter(|key| !attributes.iter().any(|(name, _)| name == key)).collect();
    if !undefined.is_empty() {
        let defined: Vec<&str> = attributes.iter().map(|(name, _)| name.as_str()).collect();
        return Err(DynamoError::invalid_parameter(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            undefined.join(", "),
            defined.join(", ")
        )));
    }
    if attributes.len() != key_names.len() {
        return Err(DynamoError::invalid_parameter(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }

    let pay_per_request = match request.optional_str("BillingMode")? {
        None | Some("PROVISIONED") => false,
        Some("PAY_PER_REQUEST") => true,
        Some(other) => {
            return Err(validation_error(format!(
                "Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            )));
        }
    };
    let throughput = request.body.get("ProvisionedThroughput").filter(|v| !v.is_null());
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
    })
}
