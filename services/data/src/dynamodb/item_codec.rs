//! How an item is stored in an engine row: a compact, versioned binary
//! encoding of its attribute values, cheaper to write and read than the
//! DynamoDB JSON rows were.
//!
//! A row starts with a tag byte naming its encoding. Rows written before
//! this encoding are DynamoDB JSON, whose first byte is always `{`, so they
//! still read. Version 1, after its tag:
//!
//! ```text
//! item   = count (name value){count}
//! name   = bytes
//! value  = type payload
//! bytes  = length byte{length}         (lengths and counts: LEB128)
//! ```
//!
//! with one type byte per DynamoDB type; numbers keep their canonical
//! decimal text, so they read back exactly.

use std::collections::BTreeSet;

use super::{
    error::{DynamoError, Result},
    number::Number,
    value::{AttributeValue, Item, item_from_json},
};

/// The tag of version 1 of the binary encoding.
const V1: u8 = 0x01;
/// The first byte of every JSON row.
const JSON: u8 = b'{';

const S: u8 = 1;
const N: u8 = 2;
const B: u8 = 3;
const SS: u8 = 4;
const NS: u8 = 5;
const BS: u8 = 6;
const M: u8 = 7;
const L: u8 = 8;
const NULL: u8 = 9;
const TRUE: u8 = 10;
const FALSE: u8 = 11;

pub fn encode(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(V1);
    put_item(&mut out, item);
    out
}

pub fn decode(bytes: &[u8]) -> Result<Item> {
    match bytes.first() {
        Some(&V1) => {
            let mut reader = Reader { bytes, at: 1 };
            let item = reader.item()?;
            if reader.at != bytes.len() {
                return Err(unreadable("trailing bytes"));
            }
            Ok(item)
        }
        Some(&JSON) => {
            let json: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|error| DynamoError::internal(format!("stored item is unreadable: {error}")))?;
            item_from_json(&json)
        }
        _ => Err(unreadable("unknown encoding")),
    }
}

fn unreadable(why: &str) -> DynamoError {
    DynamoError::internal(format!("stored item is unreadable: {why}"))
}

fn put_length(out: &mut Vec<u8>, mut length: usize) {
    loop {
        let low = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_item(out: &mut Vec<u8>, item: &Item) {
    put_length(out, item.len());
    for (name, value) in item {
        put_bytes(out, name.as_bytes());
        put_value(out, value);
    }
}

fn put_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::S(text) => {
            out.push(S);
            put_bytes(out, text.as_bytes());
        }
        AttributeValue::N(number) => {
            out.push(N);
            put_bytes(out, number.to_string().as_bytes());
        }
        AttributeValue::B(bytes) => {
            out.push(B);
            put_bytes(out, bytes);
        }
        AttributeValue::Ss(set) => {
            out.push(SS);
            put_length(out, set.len());
            set.iter().for_each(|member| put_bytes(out, member.as_bytes()));
        }
        AttributeValue::Ns(set) => {
            out.push(NS);
            put_length(out, set.len());
            set.iter().for_each(|member| put_bytes(out, member.to_string().as_bytes()));
        }
        AttributeValue::Bs(set) => {
            out.push(BS);
            put_length(out, set.len());
            set.iter().for_each(|member| put_bytes(out, member));
        }
        AttributeValue::M(map) => {
            out.push(M);
            put_item(out, map);
        }
        AttributeValue::L(list) => {
            out.push(L);
            put_length(out, list.len());
            list.iter().for_each(|member| put_value(out, member));
        }
        AttributeValue::Null => out.push(NULL),
        AttributeValue::Bool(true) => out.push(TRUE),
        AttributeValue::Bool(false) => out.push(FALSE),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let byte = *self.bytes.get(self.at).ok_or_else(|| unreadable("truncated"))?;
        self.at += 1;
        Ok(byte)
    }

    fn length(&mut self) -> Result<usize> {
        let mut length = 0usize;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            length |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                // A count can never exceed the bytes left: a corrupt one
                // fails here instead of reserving memory for it.
                return if length <= self.bytes.len() - self.at { Ok(length) } else { Err(unreadable("truncated")) };
            }
        }
        Err(unreadable("a length overflows"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let length = self.length()?;
        let slice = &self.bytes[self.at..self.at + length];
        self.at += length;
        Ok(slice)
    }

    fn text(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| unreadable("a string is not UTF-8"))
    }

    fn number(&mut self) -> Result<Number> {
        let text = std::str::from_utf8(self.bytes()?).map_err(|_| unreadable("a number is not text"))?;
        text.parse()
    }

    fn item(&mut self) -> Result<Item> {
        let count = self.length()?;
        let mut item = Item::new();
        for _ in 0..count {
            let name = self.text()?;
            let value = self.value()?;
            item.insert(name, value);
        }
        Ok(item)
    }

    fn value(&mut self) -> Result<AttributeValue> {
        Ok(match self.byte()? {
            S => AttributeValue::S(self.text()?),
            N => AttributeValue::N(self.number()?),
            B => AttributeValue::B(self.bytes()?.to_vec()),
            SS => {
                let count = self.length()?;
                AttributeValue::Ss((0..count).map(|_| self.text()).collect::<Result<BTreeSet<_>>>()?)
            }
            NS => {
                let count = self.length()?;
                AttributeValue::Ns((0..count).map(|_| self.number()).collect::<Result<Vec<_>>>()?)
            }
            BS => {
                let count = self.length()?;
                AttributeValue::Bs((0..count).map(|_| self.bytes().map(<[u8]>::to_vec)).collect::<Result<_>>()?)
            }
            M => AttributeValue::M(self.item()?),
            L => {
                let count = self.length()?;
                AttributeValue::L((0..count).map(|_| self.value()).collect::<Result<Vec<_>>>()?)
            }
            NULL => AttributeValue::Null,
            TRUE => AttributeValue::Bool(true),
            FALSE => AttributeValue::Bool(false),
            _ => return Err(unreadable("unknown type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dynamodb::value::item_to_json;

    fn every_type() -> Item {
        item_from_json(&json!({
            "s": {"S": "héllo"},
            "empty": {"S": ""},
            "n": {"N": "-12.500"},
            "big": {"N": "1E+100"},
            "b": {"B": "AAEC"},
            "ss": {"SS": ["b", "a"]},
            "ns": {"NS": ["3", "1.5"]},
            "bs": {"BS": ["AA==", "AQ=="]},
            "m": {"M": {"inner": {"L": [{"NULL": true}, {"BOOL": false}, {"BOOL": true}, {"M": {}}]}}},
            "long": {"S": "x".repeat(300)},
        }))
        .unwrap()
    }

    #[test]
    fn every_type_reads_back_as_written() {
        let item = every_type();
        let encoded = encode(&item);
        assert_eq!(encoded[0], V1);
        assert_eq!(decode(&encoded).unwrap(), item);
    }

    #[test]
    fn it_is_smaller_than_json() {
        let item = every_type();
        assert!(encode(&item).len() < item_to_json(&item).to_string().len());
    }

    #[test]
    fn rows_written_as_json_still_read() {
        let item = every_type();
        let json_row = item_to_json(&item).to_string().into_bytes();
        assert_eq!(decode(&json_row).unwrap(), item);
    }

    #[test]
    fn damaged_rows_are_errors_not_panics() {
        let encoded = encode(&every_type());
        for cut in 0..encoded.len() {
            assert!(decode(&encoded[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[V1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(decode(&[V1, 1, 1, b'a', 99]).is_err());
        assert!(decode(&[0x02]).is_err());
        assert!(decode(&[]).is_err());
        let mut trailing = encoded.clone();
        trailing.push(0);
        assert!(decode(&trailing).is_err());
    }
}
