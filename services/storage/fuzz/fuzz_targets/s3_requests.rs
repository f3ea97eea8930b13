//! Every parser the S3 front applies to untrusted input — addressing,
//! queries, ranges, bucket policies, form policies, XML bodies — on
//! arbitrary bytes: none may panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    nubo_storage::s3::parse_untrusted(input);
});
