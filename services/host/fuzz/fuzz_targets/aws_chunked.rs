//! Any body through the `aws-chunked` decoder, in each of its modes —
//! unsigned with a CRC32 trailer, signed chunks, signed chunks with a
//! signed trailer — fed in two pieces split where the input says: the
//! decoder yields data or an error, never a panic, and never more data
//! than came in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_host::sigv4::{ChunkSigning, ChunkedDecoder, Payload, RequestHead, signing_key};

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else { return };
    let payload = match control % 3 {
        0 => Payload::UnsignedChunks,
        mode => {
            let key = signing_key("secret", "20130524", "us-east-1", "s3");
            let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
            Payload::SignedChunks(ChunkSigning::new(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", seed, mode == 2))
        }
    };
    let trailer = if control % 3 == 1 { vec![] } else { vec![("x-amz-trailer".to_owned(), "x-amz-checksum-crc32")] };
    let head = RequestHead { method: "PUT", raw_path: "/bucket/key", raw_query: "", headers: trailer };
    let Ok(Some(mut decoder)) = ChunkedDecoder::new(&payload, &head) else { return };
    let split = usize::from(control / 3).min(body.len());
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
