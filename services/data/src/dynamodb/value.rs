//! Attribute values (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ...), parsed
//! from DynamoDB JSON with DynamoDB's validation and written back the same way.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use super::{
    error::{DynamoError, Result},
    number::Number,
};

/// One attribute value. Sets keep their members sorted and unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Ss(BTreeSet<String>),
    Ns(Vec<Number>),
    Bs(BTreeSet<Vec<u8>>),
    M(Item),
    L(Vec<AttributeValue>),
    Null,
    Bool(bool),
}

/// An item, or a map value: attribute names to values.
pub type Item = BTreeMap<String, AttributeValue>;

/// The type descriptor of a value (`S`, `N`, `SS`, ...).
pub fn type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
        AttributeValue::M(_) => "M",
        AttributeValue::L(_) => "L",
        AttributeValue::Null => "NULL",
        AttributeValue::Bool(_) => "BOOL",
    }
}

fn decode_binary(text: &Json) -> Result<Vec<u8>> {
    let text = text.as_str().ok_or_else(|| {
        DynamoError::new(super::error::ErrorKind::Serialization, "Binary values must be base64 strings")
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| DynamoError::new(super::error::ErrorKind::Serialization, "Base64 encoded binary value is invalid"))
}

fn strings(value: &Json) -> Result<Vec<&str>> {
    value
        .as_array()
        .ok_or_else(|| {
            DynamoError::new(super::error::ErrorKind::Serialization, "Start of list found where not expected")
        })?
        .iter()
        .map(|v| {
            v.as_str().ok_or_else(|| {
                DynamoError::new(super::error::ErrorKind::Serialization, "NUMBER_VALUE cannot be converted to String")
            })
        })
        .collect()
}

fn duplicates<T: std::fmt::Display>(members: &[T]) -> DynamoError {
    let list: Vec<String> = members.iter().map(ToString::to_string).collect();
    DynamoError::invalid_parameter(format!("Input collection [{}] contains duplicates.", list.join(", ")))
}

impl AttributeValue {
    /// Parses one DynamoDB JSON attribute value.
    pub fn from_json(json: &Json) -> Result<Self> {
        let serialization = |m: &str| DynamoError::new(super::error::ErrorKind::Serialization, m);
        let object = json.as_object().ok_or_else(|| serialization("Unexpected value type in payload"))?;
        let mut present = object.iter().filter(|(_, v)| !v.is_null());
        let Some((kind, value)) = present.next() else {
            return Err(DynamoError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        };
        if present.next().is_some() {
            return Err(DynamoError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        Ok(match kind.as_str() {
            "S" => AttributeValue::S(
                value.as_str().ok_or_else(|| serialization("NUMBER_VALUE cannot be converted to String"))?.to_owned(),
            ),
            "N" => AttributeValue::N(
                value.as_str().ok_or_else(|| serialization("NUMBER_VALUE cannot be converted to String"))?.parse()?,
            ),
            "B" => AttributeValue::B(decode_binary(value)?),
            "BOOL" => {
                AttributeValue::Bool(value.as_bool().ok_or_else(|| serialization("Unexpected value type in payload"))?)
            }
            "NULL" => match value.as_bool() {
                Some(true) => AttributeValue::Null,
                Some(false) => {
                    return Err(DynamoError::invalid_parameter(
                        "Null attribute value types must have the value of true",
                    ));
                }
                None => return Err(serialization("Unexpected value type in payload")),
            },
            "SS" => {
                let members = strings(value)?;
                if members.is_empty() {
                    return Err(DynamoError::invalid_parameter("An string set  may not be empty"));
                }
                let set: BTreeSet<String> = members.iter().map(|s| (*s).to_owned()).collect();
                if set.len() != members.len() {
                    return Err(duplicates(&members));
                }
                AttributeValue::Ss(set)
            }
            "NS" => {
                let members = strings(value)?;
                if members.is_empty() {
                    return Err(DynamoError::invalid_parameter("An number set  may not be empty"));
                }
                let mut numbers = members.iter().map(|s| s.parse::<Number>()).collect::<Result<Vec<_>>>()?;
                numbers.sort();
                numbers.dedup();
                if numbers.len() != members.len() {
                    return Err(duplicates(&members));
                }
                AttributeValue::Ns(numbers)
            }
            "BS" => {
                let members =
                    value.as_array().ok_or_else(|| serialization("Start of list found where not expected"))?;
                if members.is_empty() {
                    return Err(DynamoError::invalid_parameter("Binary sets should not be empty"));
                }
                let decoded = members.iter().map(decode_binary).collect::<Result<Vec<_>>>()?;
                let set: BTreeSet<Vec<u8>> = decoded.iter().cloned().collect();
                if set.len() != decoded.len() {
                    let shown: Vec<String> =
                        members.iter().map(|m| m.as_str().unwrap_or_default().to_owned()).collect();
                    return Err(duplicates(&shown));
                }
                AttributeValue::Bs(set)
            }
            "M" => AttributeValue::M(item_from_json(value)?),
            "L" => AttributeValue::L(
                value
                    .as_array()
                    .ok_or_else(|| serialization("Start of structure or map found where not expected"))?
                    .iter()
                    .map(AttributeValue::from_json)
                    .collect::<Result<_>>()?,
            ),
            other => return Err(serialization(&format!("Unknown member {other} in AttributeValue"))),
        })
    }

    pub fn to_json(&self) -> Json {
        let base64 = |bytes: &[u8]| json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        match self {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n.to_string() }),
            AttributeValue::B(b) => json!({ "B": base64(b) }),
            AttributeValue::Ss(set) => json!({ "SS": set }),
            AttributeValue::Ns(set) => json!({ "NS": set.iter().map(ToString::to_string).collect::<Vec<_>>() }),
            AttributeValue::Bs(set) => json!({ "BS": set.iter().map(|b| base64(b)).collect::<Vec<_>>() }),
            AttributeValue::M(map) => json!({ "M": item_to_json(map) }),
            AttributeValue::L(list) => json!({ "L": list.iter().map(AttributeValue::to_json).collect::<Vec<_>>() }),
            AttributeValue::Null => json!({ "NULL": true }),
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
        }
    }

    /// DynamoDB's size of a value in bytes, for the 400 KB item limit.
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
            AttributeValue::Ns(set) => set.iter().map(number_size).sum(),
            AttributeValue::Bs(set) => set.iter().map(Vec::len).sum(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            AttributeValue::L(list) => 3 + list.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttributeValue::Null | AttributeValue::Bool(_) => 1,
        }
    }
}

/// About one byte per two significant digits, plus one.
fn number_size(number: &Number) -> usize {
    let digits = number.to_string().bytes().filter(u8::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

/// Parses a DynamoDB JSON map of attribute values.
pub fn item_from_json(json: &Json) -> Result<Item> {
    let object = json.as_object().ok_or_else(|| {
        DynamoError::new(super::error::ErrorKind::Serialization, "Start of structure or map found where not expected")
    })?;
    object.iter().map(|(name, value)| Ok((name.clone(), AttributeValue::from_json(value)?))).collect()
}

pub fn item_to_json(item: &Item) -> Json {
    Json::Object(item.iter().map(|(name, value)| (name.clone(), value.to_json())).collect::<Map<_, _>>())
}

/// The size of an item: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value.size()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AttributeValue> {
        AttributeValue::from_json(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn round_trips_every_type() {
        for text in [
            r#"{"S":"x"}"#,
            r#"{"N":"12.5"}"#,
            r#"{"B":"AAE="}"#,
            r#"{"SS":["a","b"]}"#,
            r#"{"NS":["1","2"]}"#,
            r#"{"BS":["AA==","AQ=="]}"#,
            r#"{"M":{"k":{"BOOL":true}}}"#,
            r#"{"L":[{"NULL":true},{"S":""}]}"#,
        ] {
            let value = parse(text).unwrap();
            assert_eq!(value.to_json(), serde_json::from_str::<Json>(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn refuses_what_dynamodb_refuses() {
        let message = |text: &str| parse(text).unwrap_err().message().to_owned();
        assert_eq!(
            message("{}"),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
        assert!(message(r#"{"S":"a","N":"1"}"#).contains("more than one datatypes"));
        assert!(message(r#"{"SS":[]}"#).contains("may not be empty"));
        assert!(message(r#"{"SS":["a","a"]}"#).contains("contains duplicates"));
        assert!(message(r#"{"NS":["1","1.0"]}"#).contains("contains duplicates"));
        assert_eq!(message(r#"{"N":"one"}"#), "The parameter cannot be converted to a numeric value: one");
        assert!(message(r#"{"NULL":false}"#).contains("Null attribute value types must have the value of true"));
    }
}
