//! Any JSON as a DynamoDB item: parsing answers with an item or an error,
//! never a panic, and every parsed item serializes back to what parses to
//! the same item.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_data::dynamodb::value::{item_from_json, item_to_json};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(item) = item_from_json(&json) {
        let again = item_from_json(&item_to_json(&item)).expect("a written item parses");
        assert_eq!(again, item);
    }
});
