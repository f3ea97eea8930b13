//! Holding a streamed body to what its signature promised: a SHA-256
//! digest, or `aws-chunked` framing with chained chunk signatures and
//! trailing checksums (the `STREAMING-*` payloads of S3).
//!
//! [`ChunkedDecoder`] is a push parser without I/O: bytes go in as they
//! arrive, verified data comes out. A signed chunk is held until its
//! signature is checked, so no byte of a tampered chunk is ever released;
//! memory is bounded by the largest chunk, never by the body.

use std::collections::VecDeque;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use futures::{Stream, StreamExt as _, stream::BoxStream};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::{
    ChunkSigning, Payload, RequestHead,
    canonical::{EMPTY_SHA256, sha256_hex, signature_matches},
};

/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// The largest signed chunk held for verification (SDKs send 64 KiB or
/// 1 MiB chunks; S3 documents no chunk above a few MiB).
pub const MAX_SIGNED_CHUNK: usize = 16 * 1024 * 1024;

/// Why a body does not match what its headers promised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("The request body is not valid aws-chunked encoding: {0}")]
    Malformed(String),
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    ChunkSignatureMismatch,
    #[error("The {algorithm} you specified did not match the calculated checksum.")]
    ChecksumMismatch { algorithm: &'static str, declared: String, computed: String },
    #[error("The trailer {0} was declared in x-amz-trailer but not sent")]
    MissingTrailer(String),
    #[error("You did not provide the number of bytes specified by the x-amz-decoded-content-length header.")]
    DecodedLength { declared: u64, received: u64 },
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch { claimed: String, computed: String },
    #[error("A chunk of {0} bytes is larger than the {MAX_SIGNED_CHUNK} bytes a signed chunk may have")]
    ChunkTooLarge(u64),
    #[error("The request body could not be read: {0}")]
    Read(String),
}

/// The checksum algorithms of S3 and the SDKs' `x-amz-checksum-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The header (or trailer) that carries it.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name S3 uses in messages and `x-amz-checksum-algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algorithm| algorithm.header_name().eq_ignore_ascii_case(name.trim()))
    }
}

/// A running checksum; [`Checksum::finish`] gives the base64 of its
/// big-endian digest, as the `x-amz-checksum-*` headers carry it.
pub struct Checksum {
    algorithm: ChecksumAlgorithm,
    state: ChecksumState,
}

enum ChecksumState {
    Crc32(crc32fast::Hasher),
    Crc(crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checksum").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Checksum {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => ChecksumState::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => ChecksumState::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi)),
            ChecksumAlgorithm::Crc64Nvme => {
                ChecksumState::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme))
            }
            ChecksumAlgorithm::Sha1 => ChecksumState::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumState::Sha256(Sha256::new()),
        };
        Self { algorithm, state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            ChecksumState::Crc32(hasher) => hasher.update(data),
            ChecksumState::Crc(digest) => digest.update(data),
            ChecksumState::Sha1(hasher) => hasher.update(data),
            ChecksumState::Sha256(hasher) => hasher.update(data),
        }
    }

    pub fn finish(self) -> String {
        match self.state {
            ChecksumState::Crc32(hasher) => STANDARD.encode(hasher.finalize().to_be_bytes()),
            ChecksumState::Crc(digest) => {
                let value = digest.finalize();
                if self.algorithm == ChecksumAlgorithm::Crc64Nvme {
                    STANDARD.encode(value.to_be_bytes())
                } else {
                    // A 32-bit CRC in the low half of the u64.
                    STANDARD.encode((value as u32).to_be_bytes())
                }
            }
            ChecksumState::Sha1(hasher) => STANDARD.encode(hasher.finalize()),
            ChecksumState::Sha256(hasher) => STANDARD.encode(hasher.finalize()),
        }
    }
}

/// The trailing headers of a chunked body. Only the trailer that
/// `x-amz-trailer` declared is accepted; under a signed payload it is
/// covered by the trailer signature, and a declared checksum matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers {
    /// The trailers as sent (lowercase names), the signature excepted.
    pub headers: Vec<(String, String)>,
    /// The checksum the trailer declared and the body matched.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting `hex-size[;chunk-signature=...]\r\n`.
    Header,
    /// Inside a chunk's data.
    Data,
    /// Expecting the `\r\n` after a chunk's data.
    DataEnd,
    /// After the last (empty) chunk: trailer lines up to an empty line.
    Trailer,
    Done,
}

/// Decodes and verifies an `aws-chunked` body as it arrives.
pub struct ChunkedDecoder {
    signing: Option<ChunkSigning>,
    previous_signature: String,
    state: State,
    input: Vec<u8>,
    chunk: Vec<u8>,
    remaining: u64,
    chunk_signature: Option<String>,
    checksum: Option<Checksum>,
    decoded: u64,
    declared_length: Option<u64>,
    /// The trailer `x-amz-trailer` declared, the only one accepted.
    declared_trailer: Option<String>,
    /// Whether the payload has a trailer section at all.
    trailer_expected: bool,
    trailers: Vec<(String, String)>,
    trailer_signed: bool,
}

impl std::fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedDecoder").field("state", &self.state).field("decoded", &self.decoded).finish()
    }
}

impl ChunkedDecoder {
    /// A decoder for a body whose head promised `payload`, or `None` if the
    /// payload is not chunked. `x-amz-trailer` names the checksum expected
    /// at the end; `x-amz-decoded-content-length` the decoded size.
    pub fn new(payload: &Payload, head: &RequestHead<'_>) -> Result<Option<Self>, BodyError> {
        let signing = match payload {
            Payload::SignedChunks(signing) => Some(signing.clone()),
            Payload::UnsignedChunks => None,
            _ => return Ok(None),
        };
        let declared_length =
            head.header("x-amz-decoded-content-length")
                .map(|value| {
                    value.trim().parse::<u64>().map_err(|_| {
                        BodyError::Malformed(format!("x-amz-decoded-content-length is not a number: {value}"))
                    })
                })
                .transpose()?;
        let declared_trailer = head.header("x-amz-trailer").map(|name| name.trim().to_ascii_lowercase());
        let checksum = match declared_trailer.as_deref() {
            Some(name) => Some(Checksum::new(
                ChecksumAlgorithm::from_header_name(name)
                    .ok_or_else(|| BodyError::Malformed(format!("x-amz-trailer names an unknown checksum: {name}")))?,
            )),
            None => None,
        };
        let trailer_expected = signing.as_ref().map(|signing| signing.trailer).unwrap_or(true);
        if checksum.is_some() && !trailer_expected {
            return Err(BodyError::Malformed("x-amz-trailer was sent with a payload that has no trailer".into()));
        }
        Ok(Some(Self {
            previous_signature: signing.as_ref().map(|signing| signing.seed_signature.clone()).unwrap_or_default(),
            signing,
            state: State::Header,
            input: Vec::new(),
            chunk: Vec::new(),
            remaining: 0,
            chunk_signature: None,
            checksum,
            decoded: 0,
            declared_length,
            declared_trailer,
            trailer_expected,
            trailers: Vec::new(),
            trailer_signed: false,
        }))
    }

    /// Feeds received bytes; returns the data they completed, verified.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Bytes>, BodyError> {
        // Taken out of `self` while parsing, so chunk data can be handed on
        // without copying it first.
        let mut input = std::mem::take(&mut self.input);
        input.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        let parsed = self.parse(&input, &mut at, &mut out);
        input.drain(..at);
        self.input = input;
        parsed.map(|()| out)
    }

    fn parse(&mut self, input: &[u8], at: &mut usize, out: &mut Vec<Bytes>) -> Result<(), BodyError> {
        loop {
            let rest = &input[*at..];
            match self.state {
                State::Header => {
                    let Some(line) = take_line(rest)? else { break };
                    *at += line.len() + 2;
                    let line = std::str::from_utf8(line)
                        .map_err(|_| BodyError::Malformed("a chunk header is not ASCII".into()))?
                        .to_owned();
                    self.start_chunk(&line)?;
                }
                State::Data => {
                    if rest.is_empty() {
                        break;
                    }
                    let take = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(rest.len());
                    let data = &rest[..take];
                    *at += take;
                    self.remaining -= take as u64;
                    if self.signing.is_some() {
                        self.chunk.extend_from_slice(data);
                    } else {
                        self.release(data, out)?;
                    }
                    if self.remaining == 0 {
                        self.state = State::DataEnd;
                    }
                }
                State::DataEnd => {
                    if rest.len() < 2 {
                        break;
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(BodyError::Malformed("a chunk's data is not followed by CRLF".into()));
                    }
                    *at += 2;
                    if self.signing.is_some() {
                        self.verify_chunk()?;
                        let chunk = std::mem::take(&mut self.chunk);
                        self.release(&chunk, out)?;
                    }
                    self.state = State::Header;
                }
                State::Trailer => {
                    let Some(line) = take_line(rest)? else { break };
                    *at += line.len() + 2;
                    let line = std::str::from_utf8(line)
                        .map_err(|_| BodyError::Malformed("a trailer is not ASCII".into()))?
                        .to_owned();
                    if line.is_empty() {
                        self.state = State::Done;
                    } else {
                        self.trailer_line(&line)?;
                    }
                }
                State::Done => {
                    if rest.iter().any(|byte| !byte.is_ascii_whitespace()) {
                        return Err(BodyError::Malformed("data follows the final chunk".into()));
                    }
                    *at = input.len();
                    break;
                }
            }
        }
        Ok(())
    }

    fn release(&mut self, data: &[u8], out: &mut Vec<Bytes>) -> Result<(), BodyError> {
        if data.is_empty() {
            return Ok(());
        }
        self.decoded += data.len() as u64;
        // More than the declared length is refused before it is released.
        if let Some(declared) = self.declared_length
            && self.decoded > declared
        {
            return Err(BodyError::DecodedLength { declared, received: self.decoded });
        }
        if let Some(checksum) = &mut self.checksum {
            checksum.update(data);
        }
        out.push(Bytes::copy_from_slice(data));
        Ok(())
    }

    fn start_chunk(&mut self, line: &str) -> Result<(), BodyError> {
        let mut parts = line.split(';');
        let size = parts.next().unwrap_or_default().trim();
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(BodyError::Malformed(format!("invalid chunk size {size:?}")));
        }
        let size =
            u64::from_str_radix(size, 16).map_err(|_| BodyError::Malformed(format!("invalid chunk size {size:?}")))?;
        let signature =
            parts.find_map(|extension| extension.trim().strip_prefix("chunk-signature=").map(str::to_owned));
        if self.signing.is_some() {
            let signature = signature.ok_or_else(|| BodyError::Malformed("a chunk has no chunk-signature".into()))?;
            if size > MAX_SIGNED_CHUNK as u64 {
                return Err(BodyError::ChunkTooLarge(size));
            }
            self.chunk_signature = Some(signature);
        }
        self.remaining = size;
        if size > 0 {
            self.state = State::Data;
            return Ok(());
        }
        // The last chunk: its (empty) data is signed too.
        if self.signing.is_some() {
            self.verify_chunk()?;
        }
        self.state = State::Trailer;
        Ok(())
    }

    fn verify_chunk(&mut self) -> Result<(), BodyError> {
        let (Some(signing), Some(signature)) = (&self.signing, self.chunk_signature.take()) else {
            return Ok(());
        };
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            signing.amz_date,
            signing.scope,
            self.previous_signature,
            sha256_hex(&self.chunk)
        );
        if !signature_matches(&signing.key, &to_sign, &signature) {
            return Err(BodyError::ChunkSignatureMismatch);
        }
        self.previous_signature = signature.to_ascii_lowercase();
        Ok(())
    }

    fn trailer_line(&mut self, line: &str) -> Result<(), BodyError> {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| BodyError::Malformed(format!("a trailer is not `name:value`: {line}")))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        if !self.trailer_expected {
            return Err(BodyError::Malformed(format!("a trailer on a payload without trailers: {name}")));
        }
        if name != "x-amz-trailer-signature" {
            if self.trailer_signed {
                return Err(BodyError::Malformed("a trailer follows the trailer signature".into()));
            }
            if self.declared_trailer.as_deref() != Some(name.as_str()) {
                return Err(BodyError::Malformed(format!("the trailer {name} was not declared in x-amz-trailer")));
            }
            if self.trailers.iter().any(|(seen, _)| *seen == name) {
                return Err(BodyError::Malformed(format!("the trailer {name} is sent twice")));
            }
            self.trailers.push((name, value));
            return Ok(());
        }
        if self.trailer_signed {
            return Err(BodyError::Malformed("the trailer signature is sent twice".into()));
        }
        let Some(signing) = self.signing.as_ref().filter(|signing| signing.trailer) else {
            return Err(BodyError::Malformed("a trailer signature on a payload without signed trailers".into()));
        };
        let canonical: String = self.trailers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            signing.amz_date,
            signing.scope,
            self.previous_signature,
            sha256_hex(canonical.as_bytes())
        );
        if !signature_matches(&signing.key, &to_sign, &value) {
            return Err(BodyError::ChunkSignatureMismatch);
        }
        self.trailer_signed = true;
        Ok(())
    }

    /// Ends the body: the last chunk must have come, and the trailer, the
    /// checksum and the decoded length must all hold.
    pub fn finish(mut self) -> Result<Trailers, BodyError> {
        // Some clients end the body right after the last chunk's line or
        // the trailers, without the closing empty line.
        let ended = self.state == State::Done || (self.state == State::Trailer && self.input.is_empty());
        if !ended {
            return Err(BodyError::Malformed("the body ended before its final chunk".into()));
        }
        if self.signing.as_ref().is_some_and(|signing| signing.trailer) && !self.trailer_signed {
            return Err(BodyError::MissingTrailer("x-amz-trailer-signature".into()));
        }
        if let Some(declared) = self.declared_length
            && declared != self.decoded
        {
            return Err(BodyError::DecodedLength { declared, received: self.decoded });
        }
        let mut verified = None;
        if let Some(checksum) = self.checksum.take() {
            let algorithm = checksum.algorithm();
            let declared = self
                .trailers
                .iter()
                .find(|(name, _)| name == algorithm.header_name())
                .map(|(_, value)| value.clone())
                .ok_or_else(|| BodyError::MissingTrailer(algorithm.header_name().into()))?;
            let computed = checksum.finish();
            if declared != computed {
                return Err(BodyError::ChecksumMismatch { algorithm: algorithm.name(), declared, computed });
            }
            verified = Some((algorithm, computed));
        }
        Ok(Trailers { headers: self.trailers, checksum: verified })
    }
}

/// The next CRLF-terminated line of `input`, without its CRLF.
fn take_line(input: &[u8]) -> Result<Option<&[u8]>, BodyError> {
    match input.windows(2).position(|pair| pair == b"\r\n") {
        Some(end) if end <= MAX_LINE => Ok(Some(&input[..end])),
        Some(_) => Err(BodyError::Malformed("a chunk header or trailer line is too long".into())),
        None if input.len() > MAX_LINE => {
            Err(BodyError::Malformed("a chunk header or trailer line is too long".into()))
        }
        None => Ok(None),
    }
}

/// What the body still has to prove while it streams.
enum Check {
    Nothing,
    Sha256 { claimed: String, hasher: Box<Sha256> },
    Chunked(Box<ChunkedDecoder>),
}

/// Wraps a received body so that it yields only verified, decoded bytes,
/// and fails (as its last item) if the body breaks what the signature
/// promised. Consumers must treat an error as "discard everything".
pub fn verified_stream<S, E>(
    payload: &Payload,
    head: &RequestHead<'_>,
    body: S,
) -> Result<BoxStream<'static, Result<Bytes, BodyError>>, BodyError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
{
    let check = match ChunkedDecoder::new(payload, head)? {
        Some(decoder) => Check::Chunked(Box::new(decoder)),
        None => match payload {
            Payload::Sha256(claimed) => Check::Sha256 { claimed: claimed.clone(), hasher: Box::default() },
            _ => Check::Nothing,
        },
    };
    struct Verifying<S> {
        body: S,
        check: Option<Check>,
        ready: VecDeque<Bytes>,
    }
    let state = Verifying { body: Box::pin(body), check: Some(check), ready: VecDeque::new() };
    let stream = futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(bytes) = state.ready.pop_front() {
                return Some((Ok(bytes), state));
            }
            let check = state.check.as_mut()?;
            match state.body.next().await {
                Some(Ok(bytes)) => match check {
                    Check::Nothing => return Some((Ok(bytes), state)),
                    Check::Sha256 { hasher, .. } => {
                        hasher.update(&bytes);
                        return Some((Ok(bytes), state));
                    }
                    Check::Chunked(decoder) => match decoder.push(&bytes) {
                        Ok(decoded) => state.ready.extend(decoded),
                        Err(error) => {
                            state.check = None;
                            return Some((Err(error), state));
                        }
                    },
                },
                Some(Err(error)) => {
                    state.check = None;
                    return Some((Err(BodyError::Read(error.to_string())), state));
                }
                None => {
                    let outcome = match state.check.take() {
                        Some(Check::Sha256 { claimed, hasher }) => {
                            let computed = hex::encode(hasher.finalize());
                            (computed != claimed).then_some(BodyError::ContentSha256Mismatch { claimed, computed })
                        }
                        Some(Check::Chunked(decoder)) => decoder.finish().err(),
                        _ => None,
                    };
                    return outcome.map(|error| (Err(error), state));
                }
            }
        }
    });
    Ok(stream.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_big_endian_base64() {
        let digest = |algorithm| {
            let mut checksum = Checksum::new(algorithm);
            checksum.update(b"Hello world");
            checksum.finish()
        };
        // aws-sdk-rust's aws-chunked test vector.
        assert_eq!(digest(ChecksumAlgorithm::Crc32), "i9aeUg==");
        let mut crc32c = Checksum::new(ChecksumAlgorithm::Crc32c);
        crc32c.update(&[b'a'; 66560]);
        // S3's trailer example.
        assert_eq!(crc32c.finish(), "sOO8/Q==");
        assert_eq!(digest(ChecksumAlgorithm::Sha256), STANDARD.encode(Sha256::digest(b"Hello world")));
        assert_eq!(digest(ChecksumAlgorithm::Crc64Nvme).len(), 12);
    }

    fn unsigned_head(trailer: &str) -> RequestHead<'_> {
        RequestHead {
            method: "PUT",
            raw_path: "/b/k",
            raw_query: "",
            headers: vec![("x-amz-trailer".into(), trailer), ("x-amz-decoded-content-length".into(), "11")],
        }
    }

    #[test]
    fn an_unsigned_trailer_body_decodes_in_any_split() {
        let body = b"B\r\nHello world\r\n0\r\nx-amz-checksum-crc32:i9aeUg==\r\n\r\n";
        for split in 0..body.len() {
            let head = unsigned_head("x-amz-checksum-crc32");
            let mut decoder = ChunkedDecoder::new(&Payload::UnsignedChunks, &head).unwrap().unwrap();
            let mut data = Vec::new();
            for part in [&body[..split], &body[split..]] {
                for bytes in decoder.push(part).unwrap() {
                    data.extend_from_slice(&bytes);
                }
            }
            let trailers = decoder.finish().unwrap();
            assert_eq!(data, b"Hello world");
            assert_eq!(trailers.checksum, Some((ChecksumAlgorithm::Crc32, "i9aeUg==".into())));
        }
    }

    #[test]
    fn a_wrong_or_missing_checksum_and_a_short_body_are_refused() {
        let decode = |body: &[u8]| {
            let head = unsigned_head("x-amz-checksum-crc32");
            let mut decoder = ChunkedDecoder::new(&Payload::UnsignedChunks, &head).unwrap().unwrap();
            decoder.push(body)?;
            decoder.finish()
        };
        assert!(matches!(
            decode(b"B\r\nHello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"),
            Err(BodyError::ChecksumMismatch { .. })
        ));
        assert!(matches!(decode(b"B\r\nHello world\r\n0\r\n\r\n"), Err(BodyError::MissingTrailer(_))));
        assert!(matches!(decode(b"B\r\nHello wor"), Err(BodyError::Malformed(_))));
        assert!(matches!(decode(b"zz\r\n"), Err(BodyError::Malformed(_))));
        assert!(matches!(decode(b"B\r\nHello worldXX"), Err(BodyError::Malformed(_))));
        assert!(matches!(
            decode(b"5\r\nHello\r\n0\r\nx-amz-checksum-crc32:9/ZyKw==\r\n\r\n"),
            Err(BodyError::DecodedLength { declared: 11, received: 5 })
        ));
        // More than declared fails before the excess is released.
        assert!(matches!(
            decode(b"C\r\nHello world!\r\n0\r\n\r\n"),
            Err(BodyError::DecodedLength { declared: 11, received: 12 })
        ));
        // Only the declared trailer, once.
        assert!(matches!(
            decode(b"B\r\nHello world\r\n0\r\nx-amz-meta-owner:mallory\r\nx-amz-checksum-crc32:i9aeUg==\r\n\r\n"),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            decode(b"B\r\nHello world\r\n0\r\nx-amz-checksum-crc32:i9aeUg==\r\nx-amz-checksum-crc32:i9aeUg==\r\n\r\n"),
            Err(BodyError::Malformed(_))
        ));
    }
}
