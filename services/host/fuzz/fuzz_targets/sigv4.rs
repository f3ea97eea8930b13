//! Any request head through SigV4 verification, under both payload rules:
//! the verifier answers with a principal or an error, never a panic. The
//! input is lines: method, path, query, then `name: value` headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_host::sigv4::{Credentials, Policy, RequestHead};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET");
    let raw_path = lines.next().unwrap_or("/");
    let raw_query = lines.next().unwrap_or("");
    let headers: Vec<(String, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    let head = RequestHead { method, raw_path, raw_query, headers };
    let credentials = Credentials::new("000000000000").with_root_key("AKIDEXAMPLE", "secret");
    let now = chrono::DateTime::from_timestamp(1_440_938_160, 0).unwrap_or_default();
    let _ = credentials.verify(&Policy::hashed("service", "us-east-1", 15), &head, Some(data), now);
    let _ = credentials.verify(&Policy::s3("us-east-1"), &head, None, now);
    let _ = nubo_host::sigv4::percent_decode(raw_query);
});
