//! Verification of AWS Signature Version 4 `Authorization` headers.
//!
//! Signing crates (`aws-sigv4`) only sign; a server must rebuild the
//! canonical request from what arrived and compare signatures, which is
//! what [`Credentials::verify`] does. The canonical form follows the SigV4
//! specification: URI-encoded path (twice for every service but S3), sorted
//! and re-encoded query, the signed headers with trimmed values, and the
//! payload hash.

use std::{collections::HashMap, fmt::Write as _};

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The development key pair `nubo up` accepts unless told otherwise.
pub const DEV_ACCESS_KEY_ID: &str = "test";
pub const DEV_SECRET_ACCESS_KEY: &str = "test";

/// How far a request's `X-Amz-Date` may be from the server's clock.
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// The access keys a deployment accepts, by access key id.
#[derive(Clone, Default)]
pub struct Credentials {
    secrets: HashMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, only which keys exist.
        f.debug_struct("Credentials").field("access_key_ids", &self.secrets.keys().collect::<Vec<_>>()).finish()
    }
}

impl Credentials {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_key(mut self, access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.secrets.insert(access_key_id.into(), secret.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn secret_for(&self, access_key_id: &str) -> Option<&str> {
        self.secrets.get(access_key_id).map(String::as_str)
    }

    /// Checks the request's signature and returns who signed it.
    pub fn verify(&self, request: &SignedRequest<'_>, now: DateTime<Utc>) -> Result<Identity, AuthError> {
        let authorization = request.header("authorization").ok_or(AuthError::Missing)?;
        let parsed = Authorization::parse(authorization)?;
        let secret = self.secret_for(parsed.access_key_id).ok_or(AuthError::UnknownKey)?;

        let amz_date = request.header("x-amz-date").ok_or(AuthError::Incomplete("X-Amz-Date"))?;
        let signed_at = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| AuthError::Incomplete("X-Amz-Date"))?
            .and_utc();
        if (now - signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECS {
            return Err(AuthError::Expired {
                signed_at: amz_date.to_owned(),
                now: now.format("%Y%m%dT%H%M%SZ").to_string(),
            });
        }
        if !amz_date.starts_with(parsed.date) {
            return Err(AuthError::Mismatch);
        }

        let canonical = canonical_request(request, &parsed.signed_headers)?;
        let scope = format!("{}/{}/{}/aws4_request", parsed.date, parsed.region, parsed.service);
        let string_to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let key = signing_key(secret, parsed.date, parsed.region, parsed.service);
        let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| AuthError::Mismatch)?;
        mac.update(string_to_sign.as_bytes());
        let expected = hex::decode(parsed.signature).map_err(|_| AuthError::Mismatch)?;
        // `verify_slice` compares in constant time.
        mac.verify_slice(&expected).map_err(|_| AuthError::Mismatch)?;

        Ok(Identity {
            access_key_id: parsed.access_key_id.to_owned(),
            region: parsed.region.to_owned(),
            service: parsed.service.to_owned(),
        })
    }
}

/// Who signed a request, and for which region and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

/// Why a request's signature was refused. Each front end turns these into
/// its protocol's error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("Authorization header requires '{0}' parameter")]
    Incomplete(&'static str),
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
    #[error("Signature expired: {signed_at} is now earlier than {now} (15 minutes of clock skew are allowed)")]
    Expired { signed_at: String, now: String },
}

impl AuthError {
    /// The error name AWS JSON and REST-JSON services answer with.
    pub fn aws_code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Incomplete(_) => "IncompleteSignatureException",
            AuthError::UnknownKey => "UnrecognizedClientException",
            AuthError::Mismatch | AuthError::Expired { .. } => "InvalidSignatureException",
        }
    }

    /// The HTTP status AWS uses for it.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::Incomplete(_) => 400,
            _ => 403,
        }
    }
}

/// The parts of a received request that SigV4 covers.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as it arrived, still percent-encoded.
    pub raw_path: &'a str,
    /// The query string exactly as it arrived, without `?`.
    pub raw_query: &'a str,
    /// Header names in lowercase, with every value of repeated headers.
    pub headers: Vec<(String, &'a str)>,
    pub body: &'a [u8],
    /// S3 signs the path as sent; every other service encodes it again.
    pub encode_path_twice: bool,
}

impl<'a> SignedRequest<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| *value)
    }
}

struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(header: &'a str) -> Result<Self, AuthError> {
        let rest = header.strip_prefix("AWS4-HMAC-SHA256").ok_or(AuthError::Missing)?;
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
        let credential = credential.ok_or(AuthError::Incomplete("Credential"))?;
        let signed_headers = signed_headers.ok_or(AuthError::Incomplete("SignedHeaders"))?;
        let signature = signature.ok_or(AuthError::Incomplete("Signature"))?;
        let mut scope = credential.split('/');
        let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
            (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
        else {
            return Err(AuthError::Incomplete("Credential"));
        };
        Ok(Self {
            access_key_id,
            date,
            region,
            service,
            signed_headers: signed_headers.split(';').collect(),
            signature,
        })
    }
}

fn canonical_request(request: &SignedRequest<'_>, signed_headers: &[&str]) -> Result<String, AuthError> {
    let mut out = String::with_capacity(256);
    out.push_str(request.method);
    out.push('\n');
    let path = if request.raw_path.is_empty() { "/" } else { request.raw_path };
    if request.encode_path_twice {
        out.push_str(&uri_encode(path, false));
    } else {
        out.push_str(path);
    }
    out.push('\n');
    out.push_str(&canonical_query(request.raw_query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = request
            .headers
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(AuthError::Mismatch);
        }
        let _ = writeln!(out, "{name}:{}", values.join(","));
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    // The payload hash header is only trusted when the signature covers it,
    // and a digest in it must be the body's: otherwise a captured request
    // could carry any body.
    let body_hash = || hex::encode(Sha256::digest(request.body));
    match request.header("x-amz-content-sha256").filter(|_| signed_headers.contains(&"x-amz-content-sha256")) {
        Some(hash) if is_sha256_hex(hash) => {
            if !hash.eq_ignore_ascii_case(&body_hash()) {
                return Err(AuthError::Mismatch);
            }
            out.push_str(hash);
        }
        // UNSIGNED-PAYLOAD and the STREAMING-* forms of S3.
        Some(marker) => out.push_str(marker),
        None => out.push_str(&body_hash()),
    }
    Ok(out)
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode(key), true), uri_encode(&percent_decode(value), true))
        })
        .filter(|(key, _)| key != "X-Amz-Signature")
        .collect();
    pairs.sort();
    pairs.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/`
/// unless `encode_slash`), with uppercase hex, as SigV4 requires.
pub fn uri_encode(input: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if !encode_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// Decodes `%XX` escapes; invalid escapes stay as they are.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&input[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        let Ok(mut mac) = HmacSha256::new_from_slice(&key) else { unreachable!("HMAC takes keys of any length") };
        mac.update(part.as_bytes());
        key = mac.finalize().into_bytes().to_vec();
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(stamp: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").unwrap().and_utc()
    }

    /// The `get-vanilla` case of AWS's published SigV4 test suite.
    fn vanilla(authorization: &str) -> SignedRequest<'_> {
        SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: vec![
                ("host".into(), "example.amazonaws.com"),
                ("x-amz-date".into(), "20150830T123600Z"),
                ("authorization".into(), authorization),
            ],
            body: b"",
            encode_path_twice: true,
        }
    }

    const VANILLA_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn accepts_the_published_test_vector() {
        let credentials = Credentials::new().with_key("AKIDEXAMPLE", SECRET);
        let identity = credentials.verify(&vanilla(VANILLA_AUTH), at("20150830T123900Z")).unwrap();
        assert_eq!(identity.region, "us-east-1");
        assert_eq!(identity.service, "service");
    }

    #[test]
    fn refuses_a_wrong_secret_an_unknown_key_and_a_stale_date() {
        let wrong = Credentials::new().with_key("AKIDEXAMPLE", "not-the-secret");
        assert_eq!(wrong.verify(&vanilla(VANILLA_AUTH), at("20150830T123600Z")), Err(AuthError::Mismatch));
        let other = Credentials::new().with_key("SOMEONE", SECRET);
        assert_eq!(other.verify(&vanilla(VANILLA_AUTH), at("20150830T123600Z")), Err(AuthError::UnknownKey));
        let right = Credentials::new().with_key("AKIDEXAMPLE", SECRET);
        assert!(matches!(right.verify(&vanilla(VANILLA_AUTH), at("20150831T123600Z")), Err(AuthError::Expired { .. })));
    }

    #[test]
    fn refuses_a_tampered_request() {
        let credentials = Credentials::new().with_key("AKIDEXAMPLE", SECRET);
        let mut request = vanilla(VANILLA_AUTH);
        request.raw_path = "/other";
        assert_eq!(credentials.verify(&request, at("20150830T123600Z")), Err(AuthError::Mismatch));
    }

    #[test]
    fn refuses_malformed_headers() {
        let credentials = Credentials::new().with_key("AKIDEXAMPLE", SECRET);
        let mut request = vanilla("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request");
        assert_eq!(credentials.verify(&request, at("20150830T123600Z")), Err(AuthError::Incomplete("SignedHeaders")));
        request.headers.retain(|(name, _)| name != "authorization");
        assert_eq!(credentials.verify(&request, at("20150830T123600Z")), Err(AuthError::Missing));
    }

    /// Signs `request` with this module's own canonical form.
    fn signature(request: &SignedRequest<'_>, signed_headers: &[&str]) -> String {
        let canonical = canonical_request(request, signed_headers).unwrap();
        let scope = "20150830/us-east-1/service/aws4_request";
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut mac = HmacSha256::new_from_slice(&signing_key(SECRET, "20150830", "us-east-1", "service")).unwrap();
        mac.update(to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_signed_payload_hash_must_match_the_body() {
        let credentials = Credentials::new().with_key("AKIDEXAMPLE", SECRET);
        let hash = hex::encode(Sha256::digest(b"original"));
        let mut request = vanilla("");
        request.headers.retain(|(name, _)| name != "authorization");
        request.headers.push(("x-amz-content-sha256".into(), hash.as_str()));
        request.body = b"original";
        let signed = ["host", "x-amz-content-sha256", "x-amz-date"];
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
            signed.join(";"),
            signature(&request, &signed)
        );
        request.headers.push(("authorization".into(), authorization.as_str()));
        assert!(credentials.verify(&request, at("20150830T123600Z")).is_ok());
        request.body = b"swapped";
        assert_eq!(credentials.verify(&request, at("20150830T123600Z")), Err(AuthError::Mismatch));
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(canonical_query("flag&x=a+b"), "flag=&x=a%2Bb");
    }

    #[test]
    fn paths_of_arns_are_encoded_twice() {
        assert_eq!(uri_encode("/functions/arn%3Aaws%3Alambda", false), "/functions/arn%253Aaws%253Alambda");
    }
}
