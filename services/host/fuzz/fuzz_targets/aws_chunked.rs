//! Any body through the `aws-chunked` decoder, unsigned with a CRC32
//! trailer, fed in two pieces split where the input says: the decoder
//! yields data or an error, never a panic, and never more data than came in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_host::sigv4::{ChunkedDecoder, Payload, RequestHead};

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else { return };
    let head = RequestHead {
        method: "PUT",
        raw_path: "/bucket/key",
        raw_query: "",
        headers: vec![("x-amz-trailer".into(), "x-amz-checksum-crc32")],
    };
    let Ok(Some(mut decoder)) = ChunkedDecoder::new(&Payload::UnsignedChunks, &head) else { return };
    let split = usize::from(split).min(body.len());
    let mut decoded = 0;
    for piece in [&body[..split], &body[split..]] {
        match decoder.push(piece) {
            Ok(out) => decoded += out.iter().map(|bytes| bytes.len()).sum::<usize>(),
            Err(_) => return,
        }
    }
    assert!(decoded <= body.len());
    let _ = decoder.finish();
});
