//! DynamoDB Streams inputs: ListStreams, DescribeStream, GetShardIterator
//! and GetRecords, with the lengths of the Streams service model (stream
//! ARNs of 37 to 1024 characters, shard ids of 28 to 65, sequence numbers
//! of 21 to 40 digits).

use serde::Deserialize;

use super::{Input, Violations};

/// The `ShardIteratorType` values, in DynamoDB's order.
pub const SHARD_ITERATOR_TYPES: &[&str] = &["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"];
/// DescribeStream answers at most this many shards a page.
pub const MAX_DESCRIBE_SHARDS: i64 = 100;
/// GetRecords answers at most this many records a call.
pub const MAX_RECORDS: i64 = 1000;

fn stream_arn(arn: Option<&str>, member: &str, violations: &mut Violations) {
    if let Some(arn) = arn {
        violations.length(Some(arn.len()), arn, member, 37, 1024);
    }
}

fn shard_id(id: Option<&str>, member: &str, violations: &mut Violations) {
    if let Some(id) = id {
        violations.length(Some(id.len()), id, member, 28, 65);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub table_name: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_stream_arn: Option<String>,
}

impl Input for ListStreamsInput {
    fn validate(&self, violations: &mut Violations) {
        violations.name(self.table_name.as_deref(), "tableName");
        violations.at_least(self.limit, "limit", 1);
        stream_arn(self.exclusive_start_stream_arn.as_deref(), "exclusiveStartStreamArn", violations);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    pub stream_arn: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_shard_id: Option<String>,
}

impl DescribeStreamInput {
    pub fn arn(&self) -> &str {
        self.stream_arn.as_deref().unwrap_or_default()
    }
}

impl Input for DescribeStreamInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.stream_arn, "streamArn");
        stream_arn(self.stream_arn.as_deref(), "streamArn", violations);
        violations.at_least(self.limit, "limit", 1);
        violations.at_most(self.limit, "limit", MAX_DESCRIBE_SHARDS);
        shard_id(self.exclusive_start_shard_id.as_deref(), "exclusiveStartShardId", violations);
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub sequence_number: Option<String>,
}

impl Input for GetShardIteratorInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.stream_arn, "streamArn");
        stream_arn(self.stream_arn.as_deref(), "streamArn", violations);
        violations.not_null(&self.shard_id, "shardId");
        shard_id(self.shard_id.as_deref(), "shardId", violations);
        violations.not_null(&self.shard_iterator_type, "shardIteratorType");
        violations.one_of(self.shard_iterator_type.as_deref(), "shardIteratorType", SHARD_ITERATOR_TYPES);
        if let Some(sequence) = &self.sequence_number {
            violations.length(Some(sequence.len()), sequence, "sequenceNumber", 21, 40);
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
}

impl Input for GetRecordsInput {
    fn validate(&self, violations: &mut Violations) {
        violations.not_null(&self.shard_iterator, "shardIterator");
        if let Some(iterator) = &self.shard_iterator {
            violations.length(Some(iterator.len()), iterator, "shardIterator", 1, 2048);
        }
        violations.at_least(self.limit, "limit", 1);
        violations.at_most(self.limit, "limit", MAX_RECORDS);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::dynamodb::input::parse;

    fn refused<T: Input>(body: Value) -> String {
        parse::<T>(&body).err().expect("the input is refused").message().to_owned()
    }

    const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/things/stream/2026-01-01T00:00:00.000";

    #[test]
    fn list_streams_checks_its_members() {
        assert_eq!(
            refused::<ListStreamsInput>(json!({"TableName": "a", "Limit": 0, "ExclusiveStartStreamArn": "arn"})),
            "3 validation errors detected: \
             Value 'a' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value 'arn' at 'exclusiveStartStreamArn' failed to satisfy constraint: Member must have length greater than or equal to 37"
        );
        parse::<ListStreamsInput>(&json!({})).unwrap();
    }

    #[test]
    fn describe_stream_needs_an_arn_and_a_bounded_limit() {
        assert_eq!(
            refused::<DescribeStreamInput>(json!({"Limit": 101})),
            "2 validation errors detected: \
             Value null at 'streamArn' failed to satisfy constraint: Member must not be null; \
             Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
        );
        assert_eq!(
            refused::<DescribeStreamInput>(json!({"StreamArn": ARN, "ExclusiveStartShardId": "shardId-1"})),
            "1 validation error detected: Value 'shardId-1' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 28"
        );
    }

    #[test]
    fn get_shard_iterator_needs_its_three_members() {
        assert_eq!(
            refused::<GetShardIteratorInput>(json!({})),
            "3 validation errors detected: \
             Value null at 'streamArn' failed to satisfy constraint: Member must not be null; \
             Value null at 'shardId' failed to satisfy constraint: Member must not be null; \
             Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null"
        );
        let shard = "shardId-00000001767225600000-0000abcd";
        assert_eq!(
            refused::<GetShardIteratorInput>(
                json!({"StreamArn": ARN, "ShardId": shard, "ShardIteratorType": "OLDEST", "SequenceNumber": "12"})
            ),
            "2 validation errors detected: \
             Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]; \
             Value '12' at 'sequenceNumber' failed to satisfy constraint: Member must have length greater than or equal to 21"
        );
        parse::<GetShardIteratorInput>(&json!({"StreamArn": ARN, "ShardId": shard, "ShardIteratorType": "LATEST"}))
            .unwrap();
    }

    #[test]
    fn get_records_needs_an_iterator_and_a_bounded_limit() {
        assert_eq!(
            refused::<GetRecordsInput>(json!({"Limit": 1001})),
            "2 validation errors detected: \
             Value null at 'shardIterator' failed to satisfy constraint: Member must not be null; \
             Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
        );
        assert_eq!(
            refused::<GetRecordsInput>(json!({"ShardIterator": "", "Limit": 0})),
            "2 validation errors detected: \
             Value '' at 'shardIterator' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
    }
}
