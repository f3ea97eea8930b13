//! Signed URLs and signed cookies, checked as CloudFront checks them for a
//! behavior with trusted key groups.
//!
//! A grant is a policy statement signed with RSA-SHA1 (PKCS#1 v1.5) by a
//! private key whose public half is in one of the behavior's key groups:
//!
//! - a *canned* policy travels as `Expires` alone; CloudFront rebuilds the
//!   statement from the requested URL and that time, byte for byte
//!   (`{"Statement":[{"Resource":"URL","Condition":{"DateLessThan":{"AWS:EpochTime":N}}}]}`),
//!   so the signature also pins the URL;
//! - a *custom* policy travels whole (`Policy`), and the signature covers
//!   its exact bytes; its `Resource` may use `*` and `?` wildcards and its
//!   conditions add a start time and a source address range.
//!
//! In a URL the grant is the `Expires` or `Policy`, `Signature` and
//! `Key-Pair-Id` query parameters; in cookies, `CloudFront-Expires` or
//! `CloudFront-Policy`, `CloudFront-Signature` and `CloudFront-Key-Pair-Id`.
//! A URL that carries any signing parameter is judged as a signed URL, its
//! cookies ignored. Both use CloudFront's base64, whose `-`, `_` and `~`
//! stand for `+`, `=` and `/`.
//!
//! The URL a policy is matched against (and a canned one rebuilt from) is
//! the viewer's `scheme://host/path?query` with the signing parameters
//! taken out of the query; the signing parameters are CloudFront's, not
//! the origin's, so they stay out of the cache key and the origin request
//! too ([`Signed::strip`]). Everything here reads viewer input: each
//! failure is a [`Refusal`], never a panic.

use std::{
    net::IpAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};
use base64::Engine as _;

use crate::site::TrustedKeys;

/// The query parameters of a signed URL.
pub const SIGNING_PARAMETERS: [&str; 4] = ["Expires", "Policy", "Signature", "Key-Pair-Id"];

/// The requested URL as the viewer sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerUrl<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The `Host` header, port included when the viewer sent one.
    pub host: &'a str,
    /// The path as requested, still percent-encoded, with its leading `/`.
    pub path: &'a str,
    /// The raw query string without its `?`, empty when there is none.
    pub query: &'a str,
}

/// How an accepted request proved its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Url,
    Cookies,
}

/// An accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub proof: Proof,
    /// The key that signed the grant.
    pub key_pair_id: String,
}

impl Signed {
    /// The query parameters to drop before the cache key and the origin
    /// request: the signing parameters of a signed URL, nothing for
    /// cookies (which the cache and origin request policies select as
    /// they would any cookie).
    pub fn strip(&self) -> &'static [&'static str] {
        match self.proof {
            Proof::Url => &SIGNING_PARAMETERS,
            Proof::Cookies => &[],
        }
    }
}

/// Why CloudFront refuses a request to a restricted behavior; each is a 403
/// with CloudFront's XML error body ([`Refusal::body`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Key-Pair-Id` parameter or `CloudFront-Key-Pair-Id` cookie, or an
    /// empty one.
    #[error("missing key pair id")]
    MissingKey,
    /// The key id is in none of the behavior's trusted key groups.
    #[error("unknown key")]
    UnknownKey,
    /// The signature is not CloudFront base64.
    #[error("malformed signature")]
    MalformedSignature,
    /// The policy is not CloudFront base64 of a policy statement.
    #[error("malformed policy")]
    MalformedPolicy,
    #[error("access denied: {0}")]
    AccessDenied(Denial),
}

/// What an `AccessDenied` was for: the viewer sees the same answer for
/// each, the log tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("no signature")]
    MissingSignature,
    #[error("neither an expiry nor a policy")]
    MissingPolicy,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
    #[error("the viewer address is outside the policy's range")]
    SourceIp,
    #[error("the policy does not cover this url")]
    Resource,
}

impl Refusal {
    /// CloudFront's error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingKey => "MissingKey",
            Self::UnknownKey => "InvalidKey",
            Self::MalformedSignature => "MalformedSignature",
            Self::MalformedPolicy => "MalformedPolicy",
            Self::AccessDenied(_) => "AccessDenied",
        }
    }

    /// CloudFront's error message.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingKey => "Missing Key-Pair-Id query parameter or cookie value",
            Self::UnknownKey => "Unknown Key",
            Self::MalformedSignature => "Could not unencode Signature",
            Self::MalformedPolicy => "Malformed Policy",
            Self::AccessDenied(_) => "Access denied",
        }
    }

    /// Always 403.
    pub fn status(self) -> http::StatusCode {
        http::StatusCode::FORBIDDEN
    }

    /// The `text/xml` body CloudFront answers with. Codes and messages are
    /// fixed strings without markup, so nothing needs escaping.
    pub fn body(self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code(),
            self.message()
        )
    }
}

/// The grant's parts, from the query or the cookies, still encoded.
#[derive(Default)]
struct Grant<'a> {
    expires: Option<std::borrow::Cow<'a, str>>,
    policy: Option<std::borrow::Cow<'a, str>>,
    signature: Option<std::borrow::Cow<'a, str>>,
    key_pair_id: Option<std::borrow::Cow<'a, str>>,
}

/// Checks the signed URL or signed cookies of a request to a behavior
/// restricted to `trusted`, at `now`, from `client_ip` (`None` when unknown,
/// which no `IpAddress` condition admits). `cookies` is the `Cookie` header.
pub fn check(
    trusted: &TrustedKeys,
    request: &ViewerUrl<'_>,
    cookies: Option<&str>,
    client_ip: Option<IpAddr>,
    now: SystemTime,
) -> Result<Signed, Refusal> {
    let from_query = grant_from_query(request.query);
    let (grant, proof) = if from_query.is_some() {
        (from_query.unwrap_or_default(), Proof::Url)
    } else {
        (cookies.map(grant_from_cookies).unwrap_or_default(), Proof::Cookies)
    };

    let key_pair_id = grant.key_pair_id.as_deref().filter(|id| !id.is_empty()).ok_or(Refusal::MissingKey)?;
    let public_key = trusted.keys.get(key_pair_id).ok_or(Refusal::UnknownKey)?;
    let signature = grant.signature.as_deref().filter(|s| !s.is_empty());
    let signature = signature.ok_or(Refusal::AccessDenied(Denial::MissingSignature))?;
    let signature = decode(signature).ok_or(Refusal::MalformedSignature)?;

    let url = resource_url(request);
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    if let Some(policy) = grant.policy.as_deref() {
        let document = decode(policy).ok_or(Refusal::MalformedPolicy)?;
        let statement = Statement::parse(&document).ok_or(Refusal::MalformedPolicy)?;
        verify(public_key, &document, &signature)?;
        statement.admits(&url, client_ip, now)?;
    } else if let Some(expires) = grant.expires.as_deref() {
        // A canned policy's expiry is a plain number of seconds.
        let expires: u64 = expires.parse().map_err(|_| Refusal::AccessDenied(Denial::BadSignature))?;
        verify(public_key, canned_policy(&url, expires).as_bytes(), &signature)?;
        if now >= expires {
            return Err(Refusal::AccessDenied(Denial::Expired));
        }
    } else {
        return Err(Refusal::AccessDenied(Denial::MissingPolicy));
    }
    Ok(Signed { proof, key_pair_id: key_pair_id.to_owned() })
}

/// The query without the signing parameters, the rest in its order and
/// encoding.
pub fn strip_signing_parameters(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            !pair.is_empty() && !SIGNING_PARAMETERS.contains(&pair.split_once('=').map_or(*pair, |(name, _)| name))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The URL a policy speaks of: `scheme://host/path`, and `?query` when
/// anything is left of it once the signing parameters are out.
fn resource_url(request: &ViewerUrl<'_>) -> String {
    let query = strip_signing_parameters(request.query);
    let mut url = format!("{}://{}{}", request.scheme, request.host, request.path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    url
}

/// The canned policy CloudFront signs for `url` until `expires`: compact,
/// in this member order, as the signer produced it.
fn canned_policy(url: &str, expires: u64) -> String {
    // A JSON string of the URL; a URL has nothing to escape but a hostile
    // one might, and an escaped quote cannot forge the structure.
    let resource = serde_json::Value::String(url.to_owned()).to_string();
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Refusal> {
    // aws-lc-rs takes the SubjectPublicKeyInfo DER the key groups hold as
    // well as a bare PKCS#1 RSAPublicKey.
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, public_key)
        .verify(message, signature)
        .map_err(|_| Refusal::AccessDenied(Denial::BadSignature))
}

/// CloudFront base64: `-`, `_` and `~` for `+`, `=` and `/`. Standard
/// base64 is read too, since `+` and `/` are not CloudFront's and mean
/// the same.
fn decode(text: &str) -> Option<Vec<u8>> {
    let standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            other => other,
        })
        .collect();
    base64::engine::general_purpose::STANDARD.decode(standard.trim()).ok()
}

fn grant_from_query(query: &str) -> Option<Grant<'_>> {
    let mut grant = Grant::default();
    let mut any = false;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "Expires" => &mut grant.expires,
            "Policy" => &mut grant.policy,
            "Signature" => &mut grant.signature,
            "Key-Pair-Id" => &mut grant.key_pair_id,
            _ => continue,
        };
        any = true;
        // The first of a repeated parameter counts.
        if slot.is_none() {
            *slot = Some(percent_decode(value));
        }
    }
    any.then_some(grant)
}

fn grant_from_cookies(header: &str) -> Grant<'_> {
    let mut grant = Grant::default();
    for cookie in header.split(';') {
        let Some((name, value)) = cookie.trim().split_once('=') else { continue };
        let slot = match name.trim() {
            "CloudFront-Expires" => &mut grant.expires,
            "CloudFront-Policy" => &mut grant.policy,
            "CloudFront-Signature" => &mut grant.signature,
            "CloudFront-Key-Pair-Id" => &mut grant.key_pair_id,
            _ => continue,
        };
        if slot.is_none() {
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            *slot = Some(std::borrow::Cow::Borrowed(value));
        }
    }
    grant
}

/// `%XX` escapes decoded; CloudFront's values need none, but clients that
/// escape `~` as `%7E` still mean the same value. A broken escape stays
/// as it is.
fn percent_decode(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains('%') {
        return std::borrow::Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A custom policy's one statement.
#[derive(Debug, PartialEq)]
struct Statement {
    /// Absent: every URL of the distribution.
    resource: Option<String>,
    date_less_than: u64,
    date_greater_than: Option<u64>,
    source_ip: Option<ipnet::IpNet>,
}

impl Statement {
    /// `{"Statement":[{"Resource":..., "Condition":{...}}]}` with exactly
    /// one statement, a required `DateLessThan` and no member CloudFront
    /// does not know: a policy that says more than nubo checks is refused,
    /// not half applied.
    fn parse(document: &[u8]) -> Option<Self> {
        let serde_json::Value::Object(root) = serde_json::from_slice(document).ok()? else { return None };
        if root.len() != 1 {
            return None;
        }
        let [serde_json::Value::Object(statement)] = root.get("Statement")?.as_array()?.as_slice() else { return None };
        if statement.keys().any(|key| key != "Resource" && key != "Condition") {
            return None;
        }
        let resource = match statement.get("Resource") {
            None => None,
            Some(resource) => Some(resource.as_str()?.to_owned()),
        };
        let condition = statement.get("Condition")?.as_object()?;
        let (mut date_less_than, mut date_greater_than, mut source_ip) = (None, None, None);
        for (name, value) in condition {
            match name.as_str() {
                "DateLessThan" => date_less_than = Some(epoch_time(value)?),
                "DateGreaterThan" => date_greater_than = Some(epoch_time(value)?),
                "IpAddress" => source_ip = Some(source_range(value)?),
                _ => return None,
            }
        }
        Some(Self { resource, date_less_than: date_less_than?, date_greater_than, source_ip })
    }

    fn admits(&self, url: &str, client_ip: Option<IpAddr>, now: u64) -> Result<(), Refusal> {
        if now >= self.date_less_than {
            return Err(Refusal::AccessDenied(Denial::Expired));
        }
        if self.date_greater_than.is_some_and(|start| now < start) {
            return Err(Refusal::AccessDenied(Denial::NotYetValid));
        }
        if let Some(range) = self.source_ip {
            let admitted = client_ip.is_some_and(|ip| range.contains(&ip.to_canonical()));
            if !admitted {
                return Err(Refusal::AccessDenied(Denial::SourceIp));
            }
        }
        if self.resource.as_deref().is_some_and(|pattern| !wildcard_matches(pattern, url)) {
            return Err(Refusal::AccessDenied(Denial::Resource));
        }
        Ok(())
    }
}

/// `{"AWS:EpochTime": seconds}`.
fn epoch_time(value: &serde_json::Value) -> Option<u64> {
    let object = value.as_object()?;
    (object.len() == 1).then_some(())?;
    object.get("AWS:EpochTime")?.as_u64()
}

/// `{"AWS:SourceIp": "192.0.2.0/24"}`; a bare address is its own /32 or
/// /128.
fn source_range(value: &serde_json::Value) -> Option<ipnet::IpNet> {
    let object = value.as_object()?;
    (object.len() == 1).then_some(())?;
    let text = object.get("AWS:SourceIp")?.as_str()?;
    text.parse::<ipnet::IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

/// A policy `Resource`: `*` any run of characters, `?` exactly one, all
/// else literal and case sensitive, against the whole URL.
fn wildcard_matches(pattern: &str, url: &str) -> bool {
    let (pattern, url) = (pattern.as_bytes(), url.as_bytes());
    // Iterative glob with one backtrack point: no recursion on viewer
    // input, and quadratic at worst.
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < url.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(&c) if c == b'?' || c == url[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((star_p, star_s)) => {
                    p = star_p + 1;
                    s = star_s + 1;
                    star = Some((star_p, star_s + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, time::Duration};

    use super::*;

    const PUBLIC_KEY: &[u8] = include_bytes!("testdata/cloudfront-signer.spki.der");
    const FIXTURES: &str = include_str!("testdata/signed.json");
    const KEY_ID: &str = "K2JCJMDEHXQW5F";

    fn trusted() -> TrustedKeys {
        TrustedKeys { keys: HashMap::from([(KEY_ID.to_owned(), PUBLIC_KEY.to_vec())]) }
    }

    /// 2030-01-01: after every `PAST` of the fixtures, before every
    /// `FAR_FUTURE`.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_893_456_000)
    }

    struct Case {
        url: String,
        cookie: Option<String>,
    }

    fn case(name: &str) -> Case {
        let fixtures: serde_json::Value = serde_json::from_str(FIXTURES).unwrap();
        let case = &fixtures["cases"][name];
        Case { url: case["url"].as_str().unwrap().to_owned(), cookie: case["cookie"].as_str().map(str::to_owned) }
    }

    fn split(url: &str) -> ViewerUrl<'_> {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (host, rest) = rest.split_at(rest.find('/').unwrap());
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        ViewerUrl { scheme, host, path, query }
    }

    fn check_url(url: &str, ip: Option<IpAddr>) -> Result<Signed, Refusal> {
        check(&trusted(), &split(url), None, ip, now())
    }

    fn denied(denial: Denial) -> Result<Signed, Refusal> {
        Err(Refusal::AccessDenied(denial))
    }

    #[test]
    fn a_canned_url_from_botocore_is_accepted_and_its_parameters_stripped() {
        let signed = check_url(&case("canned").url, None).unwrap();
        assert_eq!(signed, Signed { proof: Proof::Url, key_pair_id: KEY_ID.into() });
        assert_eq!(signed.strip(), &SIGNING_PARAMETERS);
        assert_eq!(strip_signing_parameters(split(&case("canned").url).query), "version=2");
    }

    #[test]
    fn a_canned_url_signs_its_own_query_string_and_host() {
        let url = case("canned").url;
        assert_eq!(check_url(&url.replace("version=2", "version=3"), None), denied(Denial::BadSignature));
        assert_eq!(check_url(&url.replace("report.pdf", "other.pdf"), None), denied(Denial::BadSignature));
        assert_eq!(check_url(&url.replace("https://", "http://"), None), denied(Denial::BadSignature));
        assert_eq!(
            check_url(&url.replace("Expires=4070908800", "Expires=4070908801"), None),
            denied(Denial::BadSignature)
        );
    }

    #[test]
    fn a_tampered_signature_is_denied_and_an_undecodable_one_is_malformed() {
        let url = case("canned").url;
        let (head, signature) = url.split_once("Signature=").unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        assert_eq!(
            check_url(&format!("{head}Signature={flipped}{}", &signature[1..]), None),
            denied(Denial::BadSignature)
        );
        assert_eq!(
            check_url(&format!("{head}Signature=!!!{}", &signature[3..]), None),
            Err(Refusal::MalformedSignature)
        );
    }

    #[test]
    fn the_key_must_be_present_and_trusted() {
        let url = case("canned").url;
        assert_eq!(check_url(&url.replace(KEY_ID, "K3OTHERKEYID00"), None), Err(Refusal::UnknownKey));
        assert_eq!(check_url(&url.replace(&format!("&Key-Pair-Id={KEY_ID}"), ""), None), Err(Refusal::MissingKey));
        assert_eq!(
            check_url(&url.replace(&format!("Key-Pair-Id={KEY_ID}"), "Key-Pair-Id="), None),
            Err(Refusal::MissingKey)
        );
        let unsigned =
            ViewerUrl { scheme: "https", host: "d111111abcdef8.cloudfront.net", path: "/private/a.txt", query: "" };
        assert_eq!(check(&trusted(), &unsigned, Some("session=abc"), None, now()), Err(Refusal::MissingKey));
        assert_eq!(check(&TrustedKeys::default(), &split(&url), None, None, now()), Err(Refusal::UnknownKey));
    }

    #[test]
    fn missing_parts_are_refused() {
        let url = case("canned").url;
        let (head, _) = url.split_once("&Signature=").unwrap();
        assert_eq!(check_url(&format!("{head}&Key-Pair-Id={KEY_ID}"), None), denied(Denial::MissingSignature));
        let without_expiry = url.replace("Expires=4070908800&", "");
        assert_eq!(check_url(&without_expiry, None), denied(Denial::MissingPolicy));
    }

    #[test]
    fn expired_grants_are_denied() {
        assert_eq!(check_url(&case("canned_expired").url, None), denied(Denial::Expired));
        assert_eq!(check_url(&case("custom_expired").url, None), denied(Denial::Expired));
    }

    #[test]
    fn a_custom_policy_matches_its_resource_with_wildcards() {
        let url = case("custom_wildcard").url;
        assert_eq!(check_url(&url, None).map(|signed| signed.proof), Ok(Proof::Url));
        let sibling = url.replace("/movies/one.mp4", "/movies/two/three.mp4");
        assert!(check_url(&sibling, None).is_ok(), "a policy's URL is not pinned by its signature");
        assert_eq!(check_url(&url.replace("/movies/one.mp4", "/music/one.mp3"), None), denied(Denial::Resource));
        assert_eq!(check_url(&url.replace("d111111abcdef8", "d222222abcdef8"), None), denied(Denial::Resource));
    }

    #[test]
    fn a_custom_policy_limits_the_source_address() {
        let url = case("custom_ip").url;
        assert!(check_url(&url, Some("192.0.2.77".parse().unwrap())).is_ok());
        assert!(
            check_url(&url, Some("::ffff:192.0.2.77".parse().unwrap())).is_ok(),
            "a mapped v4 viewer is that v4 address"
        );
        assert_eq!(check_url(&url, Some("198.51.100.1".parse().unwrap())), denied(Denial::SourceIp));
        assert_eq!(check_url(&url, None), denied(Denial::SourceIp));
    }

    #[test]
    fn a_custom_policy_can_start_later() {
        assert_eq!(check_url(&case("custom_not_yet").url, None), denied(Denial::NotYetValid));
    }

    #[test]
    fn a_broken_policy_is_malformed() {
        let url = case("custom_wildcard").url;
        let (head, rest) = url.split_once("Policy=").unwrap();
        let (_, tail) = rest.split_once('&').unwrap();
        let encode = |policy: &str| {
            base64::engine::general_purpose::STANDARD
                .encode(policy)
                .replace('+', "-")
                .replace('=', "_")
                .replace('/', "~")
        };
        for policy in [
            r#"{"Statement":{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":4070908800}}}}"#,
            r#"{"Statement":[{"Resource":"*","Condition":{}}]}"#,
            r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":"soon"}}}]}"#,
            r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":4070908800},"Other":{}}}]}"#,
            r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":4070908800},"IpAddress":{"AWS:SourceIp":"ten"}}}]}"#,
            "not json",
        ] {
            assert_eq!(
                check_url(&format!("{head}Policy={}&{tail}", encode(policy)), None),
                Err(Refusal::MalformedPolicy),
                "{policy}"
            );
        }
        assert_eq!(check_url(&format!("{head}Policy=%%%&{tail}"), None), Err(Refusal::MalformedPolicy));
        // A well-formed policy nobody signed.
        let forged = r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":4070908800}}}]}"#;
        assert_eq!(check_url(&format!("{head}Policy={}&{tail}", encode(forged)), None), denied(Denial::BadSignature));
    }

    #[test]
    fn signed_cookies_with_either_policy_are_accepted() {
        for name in ["cookies_canned", "cookies_custom"] {
            let Case { url, cookie } = case(name);
            let signed = check(&trusted(), &split(&url), cookie.as_deref(), None, now()).unwrap();
            assert_eq!(signed.proof, Proof::Cookies, "{name}");
            assert!(signed.strip().is_empty());
        }
        let Case { url, cookie } = case("cookies_canned");
        let other = url.replace("page.html", "other.html");
        assert_eq!(check(&trusted(), &split(&other), cookie.as_deref(), None, now()), denied(Denial::BadSignature));
        let later = UNIX_EPOCH + Duration::from_secs(4_070_908_800);
        assert_eq!(check(&trusted(), &split(&url), cookie.as_deref(), None, later), denied(Denial::Expired));
    }

    #[test]
    fn signing_parameters_in_the_url_take_precedence_over_cookies() {
        let Case { url, cookie } = case("cookies_custom");
        let with_stray_parameter = format!("{url}?Key-Pair-Id={KEY_ID}");
        let refused = check(&trusted(), &split(&with_stray_parameter), cookie.as_deref(), None, now());
        assert_eq!(refused, denied(Denial::MissingSignature));
    }

    #[test]
    fn percent_escaped_values_mean_the_same() {
        let url = case("canned").url.replace('~', "%7E");
        assert!(check_url(&url, None).is_ok());
    }

    #[test]
    fn the_canned_policy_is_rebuilt_byte_for_byte() {
        assert_eq!(
            canned_policy("https://d111111abcdef8.cloudfront.net/a.png?x=1", 1357034400),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/a.png?x=1","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
    }

    #[test]
    fn refusals_render_cloudfront_s_body() {
        assert_eq!(
            Refusal::MissingKey.body(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>MissingKey</Code><Message>Missing Key-Pair-Id query parameter or cookie value</Message></Error>"#
        );
        assert_eq!(Refusal::AccessDenied(Denial::Expired).code(), "AccessDenied");
        assert_eq!(Refusal::AccessDenied(Denial::Expired).message(), "Access denied");
        assert_eq!(Refusal::UnknownKey.code(), "InvalidKey");
    }

    #[test]
    fn wildcards_cover_the_whole_url() {
        assert!(wildcard_matches("https://d1.cloudfront.net/*", "https://d1.cloudfront.net/a/b?c=d"));
        assert!(wildcard_matches("http*://d1.cloudfront.net/a?c", "https://d1.cloudfront.net/abc"));
        assert!(!wildcard_matches("https://d1.cloudfront.net/a", "https://d1.cloudfront.net/a/b"));
        assert!(wildcard_matches("*", ""));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_is_refused_without_panicking(query in ".{0,200}", cookie in ".{0,200}", path in ".{0,40}") {
            let url = ViewerUrl { scheme: "https", host: "d1.cloudfront.net", path: &path, query: &query };
            let _ = check(&trusted(), &url, Some(&cookie), None, now());
        }
    }
}
