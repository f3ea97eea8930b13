//! gzip and br for viewers that accept them (`Compress: true`). A
//! pass-through until the real encoder lands: it never chooses a coding,
//! so responses go out as the origin sent them.

use bytes::Bytes;
use http::HeaderMap;

/// A content coding CloudFront compresses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Brotli,
}

/// The coding to compress a response with for this viewer, if any.
pub fn choose(_request_headers: &HeaderMap, _response_headers: &HeaderMap, _body_len: usize) -> Option<Coding> {
    None
}

/// `body` compressed with `coding`.
pub fn encode(_coding: Coding, body: &[u8]) -> Bytes {
    Bytes::copy_from_slice(body)
}

/// Makes a strong `ETag` weak, for a body the cache transformed.
pub fn weaken_etag(_headers: &mut HeaderMap) {}
