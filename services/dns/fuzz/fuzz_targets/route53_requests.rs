//! Any bytes as a Route 53 request body (every document the API reads) and
//! as a record value of every type: each is answered or refused, never a
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_dns::{api::input, names, rdata};

fuzz_target!(|data: &[u8]| {
    let _ = input::create_hosted_zone(data);
    let _ = input::change_resource_record_sets(data);
    let _ = input::update_comment(data);
    let _ = input::change_tags(data);
    let _ = input::resource_ids(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = names::canonical(text);
        let owner = names::to_name("fuzz.example.").expect("a valid name");
        for kind in rdata::SUPPORTED {
            let _ = rdata::record(&owner, kind, 300, text);
        }
    }
});
