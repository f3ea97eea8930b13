//! Verification of AWS Signature Version 4, as every AWS service does it.
//!
//! Signing crates (`aws-sigv4`) only sign; a server must rebuild the
//! canonical request from what arrived and compare signatures, which is
//! what [`Credentials::verify`] does, for both forms a client may use: the
//! `Authorization` header and the presigned query string (`X-Amz-*`
//! parameters). Each receiving service states its own rules in a
//! [`Policy`]: its signing name and region (a signature scoped to another
//! service or region is refused), the clock skew it tolerates, and whether
//! it accepts S3's payload markers (`UNSIGNED-PAYLOAD`, `STREAMING-*`).
//!
//! Verification looks at the head of the request only, so a body can
//! stream: what it promises about the payload comes back as a [`Payload`]
//! for [`body`] to hold the body to — a SHA-256 to match, or `aws-chunked`
//! framing whose every chunk signature and trailing checksum is checked as
//! the bytes arrive. Services whose bodies are small (the JSON protocols)
//! pass the whole body in, and its hash is always the one signed.

mod body;
mod canonical;
mod principals;
mod sessions;
mod signing_keys;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

pub use body::{BodyError, Checksum, ChecksumAlgorithm, ChunkedDecoder, Trailers, verified_stream};
pub use canonical::{percent_decode, percent_decode_bytes, sha256_hex, signature_matches, signing_key, uri_encode};
pub use principals::{Credentials, Principal, PrincipalKind, stable_id};
pub use sessions::{ACCESS_KEY_PREFIX, Sessions, TemporaryCredentials};

use canonical::{ALGORITHM, is_sha256_hex};

/// The development key pair `nubo up` accepts unless told otherwise.
pub const DEV_ACCESS_KEY_ID: &str = "test";
pub const DEV_SECRET_ACCESS_KEY: &str = "test";

/// The longest a presigned URL may live: seven days.
pub const MAX_PRESIGNED_EXPIRY_SECS: i64 = 7 * 24 * 3600;

/// The payload markers of S3 (`x-amz-content-sha256` values that are not a
/// digest).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// How a service treats the payload hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadRule {
    /// The body is always hashed and that hash is what must be signed, so
    /// a captured request cannot be replayed with another body (the JSON
    /// and REST-JSON services).
    Hashed,
    /// S3: `x-amz-content-sha256` is required and may be a digest or one of
    /// S3's markers; the path is signed as sent.
    S3,
}

/// What one receiving service accepts.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The signing name in the credential scope (`dynamodb`, `s3`, ...).
    pub service: &'static str,
    /// The regions a credential scope may name: the deployment's region,
    /// and for global services (Route 53, CloudFront, STS) `us-east-1`.
    pub regions: Vec<String>,
    /// How far `X-Amz-Date` may be from the server's clock.
    pub max_skew: Duration,
    pub payload: PayloadRule,
}

impl Policy {
    /// A JSON or REST-JSON service: body always hashed, path encoded twice.
    pub fn hashed(service: &'static str, region: &str, max_skew_minutes: i64) -> Self {
        Self {
            service,
            regions: vec![region.to_owned()],
            max_skew: Duration::minutes(max_skew_minutes),
            payload: PayloadRule::Hashed,
        }
    }

    /// S3's rules: 15 minutes of skew, payload markers, path as sent.
    pub fn s3(region: &str) -> Self {
        Self {
            service: "s3",
            regions: vec![region.to_owned()],
            max_skew: Duration::minutes(15),
            payload: PayloadRule::S3,
        }
    }

    /// Also accepts scopes in `us-east-1`, where global services sign.
    pub fn global(mut self) -> Self {
        if !self.regions.iter().any(|region| region == "us-east-1") {
            self.regions.push("us-east-1".into());
        }
        self
    }

    fn max_skew_minutes(&self) -> i64 {
        self.max_skew.num_minutes()
    }
}

/// The parts of a received request SigV4 covers, body aside.
#[derive(Debug)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The path exactly as it arrived, still percent-encoded.
    pub raw_path: &'a str,
    /// The query string exactly as it arrived, without `?`.
    pub raw_query: &'a str,
    /// Header names in lowercase, with every value of repeated headers.
    pub headers: Vec<(String, &'a str)>,
}

impl<'a> RequestHead<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| *value)
    }
}

/// The value of one query parameter, decoded.
fn query_param(raw_query: &str, name: &str) -> Option<String> {
    raw_query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// A verified request: who signed it, and what its body must still prove.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub payload: Payload,
}

/// What the signature says about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The body was hashed and the hash signed: nothing left to check.
    Verified,
    /// The body must hash to this SHA-256 (lowercase hex), checked as it
    /// streams.
    Sha256(String),
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    Unsigned,
    /// `aws-chunked` with a signature per chunk chained from the seed.
    SignedChunks(ChunkSigning),
    /// `aws-chunked` without chunk signatures, ending in a checksum trailer.
    UnsignedChunks,
}

/// What checking the chunk signatures of a body needs.
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkSigning {
    pub(crate) key: [u8; 32],
    pub(crate) amz_date: String,
    pub(crate) scope: String,
    pub(crate) seed_signature: String,
    /// Whether a signed trailer follows the last chunk.
    pub(crate) trailer: bool,
}

impl ChunkSigning {
    /// A chunk verifier from known parts: the signing key of the scope, the
    /// request's `X-Amz-Date`, its scope string and seed signature. What
    /// [`Credentials::verify`] makes for a `STREAMING-*` payload; public
    /// for tests and fuzzing.
    pub fn new(key: [u8; 32], amz_date: &str, scope: &str, seed_signature: &str, trailer: bool) -> Self {
        Self {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            seed_signature: seed_signature.to_ascii_lowercase(),
            trailer,
        }
    }
}

impl std::fmt::Debug for ChunkSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigning").field("scope", &self.scope).field("trailer", &self.trailer).finish()
    }
}

/// Why a request's signature, or its body, was refused. Each AWS protocol
/// family renders these in its own shape (see `nubo_host::front`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing Authentication Token")]
    Missing,
    /// An `Authorization` header that lacks a part or has a bad one.
    #[error("{0}")]
    Malformed(String),
    /// The same, of a presigned URL's query parameters.
    #[error("{0}")]
    MalformedQuery(String),
    #[error(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
    )]
    AmbiguousAuth,
    /// An `x-amz-*` header the signature does not cover: a replay could
    /// have added or changed it.
    #[error("There were headers present in the request which were not signed: {0}")]
    UnsignedHeader(String),
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService { expected: &'static str, got: String },
    #[error("Credential should be scoped to a valid region. ")]
    WrongRegion { expected: String, got: String },
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// `X-Amz-Date` too far from the server's clock.
    #[error("{}", skew_message(signed_at, now, *max_minutes))]
    Skewed { signed_at: String, now: String, max_minutes: i64 },
    #[error("Request has expired")]
    PresignedExpired { expires_secs: i64, expired_at: String, now: String },
    #[error("Request is not valid yet")]
    PresignedNotYetValid,
    #[error(
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"
    )]
    PresignedExpiryTooLong,
    #[error("The security token included in the request is invalid.")]
    InvalidToken,
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,
    #[error(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
    )]
    BadContentSha256(String),
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch { claimed: String, computed: String },
    /// Signature Version 2, SigV4a and other schemes nubo does not verify.
    #[error("{0} is not supported; sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256)")]
    Unsupported(&'static str),
    #[error("{0}")]
    Body(#[from] BodyError),
}

/// DynamoDB's wording for a skewed clock, which the JSON services share.
fn skew_message(signed_at: &str, now: &str, max_minutes: i64) -> String {
    let parse = |stamp: &str| NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").ok().map(|at| at.and_utc());
    let (Some(signed), Some(current)) = (parse(signed_at), parse(now)) else {
        return format!("Signature expired: {signed_at} is now earlier than {now}");
    };
    let window = Duration::minutes(max_minutes);
    let stamp = |at: DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
    if signed < current {
        format!(
            "Signature expired: {signed_at} is now earlier than {} ({now} - {max_minutes} min.)",
            stamp(current - window)
        )
    } else {
        format!(
            "Signature not yet current: {signed_at} is still later than {} ({now} + {max_minutes} min.)",
            stamp(current + window)
        )
    }
}

/// The parsed signature material, from either the header or the query.
struct Signature {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    security_token: Option<String>,
    presigned: Option<i64>,
}

impl Signature {
    fn from_header(header: &str, head: &RequestHead<'_>) -> Result<Self, AuthError> {
        if header.starts_with("AWS ") {
            return Err(AuthError::Unsupported("AWS Signature Version 2"));
        }
        if header.starts_with("AWS4-ECDSA-P256-SHA256") {
            return Err(AuthError::Unsupported("AWS Signature Version 4A"));
        }
        let rest = header.strip_prefix(ALGORITHM).ok_or(AuthError::Missing)?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (key, value) = part.trim().split_once('=').unwrap_or((part.trim(), ""));
            match key {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => {}
            }
        }
        let missing = |part: &str| AuthError::Malformed(format!("Authorization header requires '{part}' parameter."));
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        let amz_date = head
            .header("x-amz-date")
            .ok_or_else(|| {
                AuthError::Malformed(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
                )
            })?
            .to_owned();
        Self::assemble(credential, signed_headers, signature, amz_date, head.header("x-amz-security-token"), None)
    }

    fn from_query(head: &RequestHead<'_>) -> Result<Self, AuthError> {
        let param = |name: &str| query_param(head.raw_query, name);
        let algorithm = param("X-Amz-Algorithm").unwrap_or_default();
        if algorithm != ALGORITHM {
            return Err(AuthError::MalformedQuery(format!(
                "X-Amz-Algorithm only supports \"{ALGORITHM}\", not \"{algorithm}\""
            )));
        }
        let missing = |name: &str| {
            AuthError::MalformedQuery(format!(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; {name} is missing."
            ))
        };
        let credential = param("X-Amz-Credential").ok_or_else(|| missing("X-Amz-Credential"))?;
        let signed_headers = param("X-Amz-SignedHeaders").ok_or_else(|| missing("X-Amz-SignedHeaders"))?;
        let signature = param("X-Amz-Signature").ok_or_else(|| missing("X-Amz-Signature"))?;
        let amz_date = param("X-Amz-Date").ok_or_else(|| missing("X-Amz-Date"))?;
        let expires = param("X-Amz-Expires").ok_or_else(|| missing("X-Amz-Expires"))?;
        let expires: i64 = expires
            .parse()
            .ok()
            .filter(|secs| *secs >= 0)
            .ok_or_else(|| AuthError::MalformedQuery("X-Amz-Expires should be a number".into()))?;
        if expires > MAX_PRESIGNED_EXPIRY_SECS {
            return Err(AuthError::PresignedExpiryTooLong);
        }
        let token = param("X-Amz-Security-Token");
        Self::assemble(&credential, &signed_headers, &signature, amz_date, token.as_deref(), Some(expires)).map_err(
            |error| match error {
                AuthError::Malformed(message) => AuthError::MalformedQuery(message),
                other => other,
            },
        )
    }

    fn assemble(
        credential: &str,
        signed_headers: &str,
        signature: &str,
        amz_date: String,
        security_token: Option<&str>,
        presigned: Option<i64>,
    ) -> Result<Self, AuthError> {
        let mut scope = credential.split('/');
        let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
            (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
        else {
            return Err(AuthError::Malformed(format!(
                "Credential should be scoped to a valid region, and contain the date, region, service and aws4_request: {credential}"
            )));
        };
        if access_key_id.is_empty() {
            return Err(AuthError::Malformed("Credential is missing its access key id".into()));
        }
        Ok(Self {
            access_key_id: access_key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers: signed_headers.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
            amz_date,
            security_token: security_token.map(str::to_owned),
            presigned,
        })
    }

    fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

impl Credentials {
    /// Checks the request's signature under `policy` and returns who signed
    /// it and what the body must still prove. `body` is the whole body for
    /// services that buffer it (always under [`PayloadRule::Hashed`]);
    /// `None` leaves an S3 body to stream through [`verified_stream`].
    pub fn verify(
        &self,
        policy: &Policy,
        head: &RequestHead<'_>,
        body: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<Authenticated, AuthError> {
        let in_query = query_param(head.raw_query, "X-Amz-Algorithm").is_some()
            || query_param(head.raw_query, "X-Amz-Credential").is_some()
            || query_param(head.raw_query, "X-Amz-Signature").is_some();
        let signature = match (head.header("authorization"), in_query) {
            (Some(_), true) => return Err(AuthError::AmbiguousAuth),
            (Some(header), false) => Signature::from_header(header, head)?,
            (None, true) => Signature::from_query(head)?,
            (None, false) => return Err(AuthError::Missing),
        };
        let presigned = signature.presigned.is_some();
        let malformed = |message: String| {
            if presigned { AuthError::MalformedQuery(message) } else { AuthError::Malformed(message) }
        };

        // The scope must name this service in this region on the date signed.
        if signature.service != policy.service {
            return Err(AuthError::WrongService { expected: policy.service, got: signature.service.clone() });
        }
        if !policy.regions.contains(&signature.region) {
            return Err(AuthError::WrongRegion {
                expected: policy.regions.first().cloned().unwrap_or_default(),
                got: signature.region.clone(),
            });
        }
        let signed_at = NaiveDateTime::parse_from_str(&signature.amz_date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| malformed(format!("Invalid X-Amz-Date: {}", signature.amz_date)))?
            .and_utc();
        if !signature.amz_date.starts_with(&signature.date) {
            return Err(malformed(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                signature.date,
                signature.amz_date.get(..8).unwrap_or("")
            )));
        }
        match signature.presigned {
            Some(expires) => {
                if signed_at - now > policy.max_skew {
                    return Err(AuthError::PresignedNotYetValid);
                }
                // At most seven days past a date chrono parsed: no overflow,
                // but checked all the same.
                let expires_at = signed_at
                    .checked_add_signed(Duration::seconds(expires))
                    .ok_or_else(|| malformed(format!("X-Amz-Expires is out of range: {expires}")))?;
                if now > expires_at {
                    return Err(AuthError::PresignedExpired {
                        expires_secs: expires,
                        expired_at: expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        now: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    });
                }
            }
            None if (now - signed_at).abs() > policy.max_skew => {
                return Err(AuthError::Skewed {
                    signed_at: signature.amz_date.clone(),
                    now: stamp(now),
                    max_minutes: policy.max_skew_minutes(),
                });
            }
            None => {}
        }
        if !signature.signed_headers.iter().any(|name| name == "host") {
            return Err(AuthError::HostNotSigned);
        }
        let (secret, principal) = self.resolve(&signature.access_key_id, signature.security_token.as_deref(), now)?;
        let (payload_hash, payload) = payload_of(policy, head, body, presigned)?;
        // As S3 does, for every service: each `x-amz-*` header sent must be
        // signed (X-Amz-Target names the action, x-amz-decoded-content-length
        // and x-amz-trailer shape the body, x-amz-meta-* is stored). Two may
        // go unsigned because their values are bound anyway: the payload
        // hash is in the canonical request itself, and outside S3 a session
        // token only opens the key it was issued with.
        let bound = |name: &str| {
            name == "x-amz-content-sha256" || (name == "x-amz-security-token" && policy.payload == PayloadRule::Hashed)
        };
        if let Some((unsigned, _)) = head.headers.iter().find(|(name, _)| {
            name.starts_with("x-amz-") && !bound(name) && !signature.signed_headers.iter().any(|signed| signed == name)
        }) {
            return Err(AuthError::UnsignedHeader(unsigned.clone()));
        }

        let signed_headers: Vec<&str> = signature.signed_headers.iter().map(String::as_str).collect();
        let uri = canonical::canonical_uri(head.raw_path, policy.payload == PayloadRule::Hashed);
        let query = canonical::canonical_query(head.raw_query, presigned);
        let canonical =
            canonical::canonical_request(head.method, &uri, &query, &head.headers, &signed_headers, &payload_hash)
                .ok_or(AuthError::Mismatch)?;
        let scope = signature.scope();
        let to_sign = canonical::string_to_sign(&signature.amz_date, &scope, &canonical);
        let key = self.signing_keys().get(&secret, &signature.date, &signature.region, &signature.service);
        if !signature_matches(&key, &to_sign, &signature.signature) {
            return Err(AuthError::Mismatch);
        }

        let payload = match payload {
            PayloadClaim::Settled(payload) => payload,
            PayloadClaim::Chunked { trailer } => Payload::SignedChunks(ChunkSigning {
                key,
                amz_date: signature.amz_date.clone(),
                scope,
                seed_signature: signature.signature.to_ascii_lowercase(),
                trailer,
            }),
        };
        Ok(Authenticated { principal, payload })
    }
}

/// What the head says of the payload before the signature is checked.
enum PayloadClaim {
    Settled(Payload),
    Chunked { trailer: bool },
}

/// The payload hash to put in the canonical request, and the check the body
/// still owes.
fn payload_of(
    policy: &Policy,
    head: &RequestHead<'_>,
    body: Option<&[u8]>,
    presigned: bool,
) -> Result<(String, PayloadClaim), AuthError> {
    let declared = head.header("x-amz-content-sha256");
    match policy.payload {
        PayloadRule::Hashed => {
            // Always the hash of what arrived: a declared hash must agree.
            let Some(body) = body else {
                return Err(AuthError::Body(BodyError::Read(
                    "this service verifies the whole body, which was not read".into(),
                )));
            };
            let computed = sha256_hex(body);
            if let Some(declared) = declared
                && !declared.eq_ignore_ascii_case(&computed)
            {
                return Err(if is_sha256_hex(declared) {
                    AuthError::ContentSha256Mismatch { claimed: declared.to_owned(), computed }
                } else {
                    AuthError::BadContentSha256(declared.to_owned())
                });
            }
            Ok((computed, PayloadClaim::Settled(Payload::Verified)))
        }
        PayloadRule::S3 => {
            let declared = match declared {
                Some(declared) => declared,
                None if presigned => UNSIGNED_PAYLOAD,
                None => return Err(AuthError::MissingContentSha256),
            };
            let claim = match declared {
                UNSIGNED_PAYLOAD => PayloadClaim::Settled(Payload::Unsigned),
                STREAMING_PAYLOAD => PayloadClaim::Chunked { trailer: false },
                STREAMING_PAYLOAD_TRAILER => PayloadClaim::Chunked { trailer: true },
                STREAMING_UNSIGNED_PAYLOAD_TRAILER => PayloadClaim::Settled(Payload::UnsignedChunks),
                "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => {
                    return Err(AuthError::Unsupported("AWS Signature Version 4A"));
                }
                digest if is_sha256_hex(digest) => {
                    let digest = digest.to_ascii_lowercase();
                    match body {
                        Some(body) => {
                            let computed = sha256_hex(body);
                            if computed != digest {
                                return Err(AuthError::ContentSha256Mismatch { claimed: digest, computed });
                            }
                            PayloadClaim::Settled(Payload::Verified)
                        }
                        None => PayloadClaim::Settled(Payload::Sha256(digest)),
                    }
                }
                other => return Err(AuthError::BadContentSha256(other.to_owned())),
            };
            Ok((declared.to_owned(), claim))
        }
    }
}

#[cfg(test)]
mod tests;
