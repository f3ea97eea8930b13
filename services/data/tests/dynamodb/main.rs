//! In-process tests of the DynamoDB layer: `Dynamo::execute` on an embedded
//! engine in a temporary directory, so the semantics are tested without a
//! process or a socket (the SDK suites in `e2e/` keep the wire). One module
//! per operation family.

mod harness;

mod catalog_inputs;
mod consumed_capacity;
mod index_messages;
mod legacy_parameters;
mod multi_attribute_keys;
mod smoke;
mod storage;
mod streams;
mod table_settings;
mod typed_requests;
