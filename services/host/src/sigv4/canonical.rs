//! The canonical forms SigV4 signs: URI encoding, the canonical query and
//! headers, the string to sign and the signing key. Pure functions over
//! bytes, shared by header, query-string (presigned) and chunk signatures.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The algorithm name of header and query signatures.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// SHA-256 of the empty string, the payload hash of an empty chunk.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/`
/// unless `encode_slash`), with uppercase hex, as SigV4 requires.
pub fn uri_encode(input: &str, encode_slash: bool) -> String {
    uri_encode_bytes(input.as_bytes(), encode_slash)
}

fn uri_encode_bytes(input: &[u8], encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &byte in input {
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

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes into bytes; an invalid escape stays as it is.
/// Works on bytes, so no input (multi-byte characters next to a `%`
/// included) can make it slice a string off a character boundary.
pub fn percent_decode_bytes(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && let (Some(high), Some(low)) =
                (input.get(i + 1).copied().and_then(hex_value), input.get(i + 2).copied().and_then(hex_value))
        {
            out.push(high << 4 | low);
            i += 3;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// Decodes `%XX` escapes; invalid escapes stay as they are and bytes that
/// do not form UTF-8 become U+FFFD.
pub fn percent_decode(input: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(input.as_bytes())).into_owned()
}

/// The canonical query: every parameter decoded, re-encoded the SigV4 way
/// and sorted by name then value; for a presigned URL, its signature
/// (`X-Amz-Signature`) is left out.
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode_bytes(&percent_decode_bytes(key.as_bytes()), true),
                uri_encode_bytes(&percent_decode_bytes(value.as_bytes()), true),
            )
        })
        .filter(|(key, _)| !(presigned && key == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The canonical URI: the path as sent for S3, encoded once more for every
/// other service (whose SDKs encode each segment twice).
pub fn canonical_uri(raw_path: &str, encode_twice: bool) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    if encode_twice { uri_encode(path, false) } else { path.to_owned() }
}

/// The canonical request of SigV4, from its already-canonical parts.
/// `headers` holds every received header (lowercase name, value); each
/// signed header must be among them.
pub fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &[(String, &str)],
    signed_headers: &[&str],
    payload_hash: &str,
) -> Option<String> {
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    out.push_str(query);
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(key, _)| key == name) {
            if !first {
                out.push(',');
            }
            first = false;
            let mut words = value.split_whitespace();
            if let Some(word) = words.next() {
                out.push_str(word);
            }
            for word in words {
                out.push(' ');
                out.push_str(word);
            }
        }
        if first {
            return None;
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Some(out)
}

/// The string to sign of a header or query signature.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The key of one day, region and service, derived from the secret.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    key
}

pub fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { unreachable!("HMAC takes keys of any length") };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Whether `signature` (hex, as the client sent it) is the HMAC of
/// `message` under `key`, compared in constant time.
pub fn signature_matches(key: &[u8; 32], message: &str, signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature) else { return false };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return false };
    mac.update(message.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

pub fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1", false), "a=1&a=x%20y&b=2");
        assert_eq!(canonical_query("flag&x=a+b", false), "flag=&x=a%2Bb");
        assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", true), "a=1");
        assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", false), "X-Amz-Signature=abc&a=1");
    }

    #[test]
    fn paths_of_arns_are_encoded_twice() {
        assert_eq!(uri_encode("/functions/arn%3Aaws%3Alambda", false), "/functions/arn%253Aaws%253Alambda");
    }

    #[test]
    fn decoding_never_splits_a_character() {
        assert_eq!(percent_decode("%é"), "%é");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%%41"), "%A");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(canonical_query("k=%é%", false), "k=%25%C3%A9%25");
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let headers = vec![("host".to_owned(), "h"), ("x-a".to_owned(), "  one   two "), ("x-a".to_owned(), "three")];
        let canonical = canonical_request("GET", "/", "", &headers, &["host", "x-a"], EMPTY_SHA256).unwrap();
        assert!(canonical.contains("x-a:one two,three\n"), "{canonical}");
        assert!(canonical_request("GET", "/", "", &headers, &["host", "x-b"], EMPTY_SHA256).is_none());
    }
}
