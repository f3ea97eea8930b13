//! Presigned URLs in S3's legacy signature (version 2): `AWSAccessKeyId`,
//! `Expires` and `Signature` in the query, an HMAC-SHA1 over the method,
//! `Content-MD5`, `Content-Type`, the expiry, the `x-amz-*` headers and
//! the resource with its subresources. boto3 presigns this way for a
//! custom endpoint unless told `signature_version="s3v4"`, so a URL it
//! hands a browser must work here too. Header-signed version 2 requests
//! are not accepted.

use actix_web::HttpRequest;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac as _};
use nubo_host::{
    front::{AwsError, Protocol},
    sigv4::{AuthError, Credentials, Principal, percent_decode},
};
use sha1::Sha1;

/// The subresources a version 2 signature covers, as S3 lists them.
const SUBRESOURCES: [&str; 37] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "encryption",
    "ownershipControls",
];

/// The query's pairs as sent: names raw, values still encoded.
fn raw_pairs(raw_query: &str) -> Vec<(&str, Option<&str>)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (pair, None),
        })
        .collect()
}

/// The string a version 2 presigned URL signs.
pub fn string_to_sign(
    method: &str,
    content_md5: &str,
    content_type: &str,
    expires: &str,
    amz_headers: &[(String, String)],
    resource: &str,
    raw_query: &str,
) -> String {
    let mut text = format!("{method}\n{content_md5}\n{content_type}\n{expires}\n");
    let mut headers = amz_headers.to_vec();
    headers.sort();
    for (name, value) in headers {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push_str(resource);
    let mut subresources: Vec<(String, Option<String>)> = raw_pairs(raw_query)
        .into_iter()
        .filter(|(name, _)| SUBRESOURCES.contains(name))
        .map(|(name, value)| (name.to_owned(), value.map(percent_decode)))
        .collect();
    subresources.sort_by(|a, b| a.0.cmp(&b.0));
    for (index, (name, value)) in subresources.iter().enumerate() {
        text.push(if index == 0 { '?' } else { '&' });
        text.push_str(name);
        if let Some(value) = value {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

/// Checks a version 2 presigned request; `None` when the request is not one.
pub fn verify(
    request: &HttpRequest,
    bucket_from_host: Option<&str>,
    credentials: &Credentials,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Result<Principal, AwsError>> {
    let raw_query = request.uri().query().unwrap_or("");
    let pairs = raw_pairs(raw_query);
    let value =
        |name: &str| pairs.iter().find(|(key, _)| *key == name).and_then(|(_, value)| value.map(percent_decode));
    let access_key = value("AWSAccessKeyId")?;
    Some(check(request, bucket_from_host, credentials, now, raw_query, &access_key, &value))
}

fn check(
    request: &HttpRequest,
    bucket_from_host: Option<&str>,
    credentials: &Credentials,
    now: chrono::DateTime<chrono::Utc>,
    raw_query: &str,
    access_key: &str,
    value: &dyn Fn(&str) -> Option<String>,
) -> Result<Principal, AwsError> {
    let missing = || {
        AwsError::new(
            403,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        )
    };
    let (Some(signature), Some(expires)) = (value("Signature"), value("Expires")) else { return Err(missing()) };
    let expires_at = expires.parse::<i64>().map_err(|_| missing())?;
    if now.timestamp() > expires_at {
        let at = chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default();
        return Err(AwsError::new(403, "AccessDenied", "Request has expired")
            .with("Expires", at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .with("ServerTime", now.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    let token = value("x-amz-security-token");
    let (secret, principal) =
        credentials.resolve(access_key, token.as_deref(), now).map_err(|error| Protocol::S3.auth_error(&error))?;
    let header =
        |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("").trim().to_owned();
    let mut amz_headers: Vec<(String, String)> = Vec::new();
    for (name, value) in request.headers() {
        let name = name.as_str();
        if name.starts_with("x-amz-")
            && let Ok(value) = value.to_str()
        {
            match amz_headers.iter_mut().find(|(existing, _)| existing == name) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(value.trim());
                }
                None => amz_headers.push((name.to_owned(), value.trim().to_owned())),
            }
        }
    }
    // `x-amz-*` values a presigned URL carries in its query are signed too.
    for (name, raw) in raw_pairs(raw_query) {
        let name = percent_decode(name).to_ascii_lowercase();
        if name.starts_with("x-amz-") && !amz_headers.iter().any(|(existing, _)| *existing == name) {
            amz_headers.push((name, raw.map(percent_decode).unwrap_or_default()));
        }
    }
    let path = request.uri().path();
    let resource = match bucket_from_host {
        Some(bucket) => format!("/{bucket}{path}"),
        None => path.to_owned(),
    };
    let to_sign = string_to_sign(
        request.method().as_str(),
        &header("content-md5"),
        &header("content-type"),
        &expires,
        &amz_headers,
        &resource,
        raw_query,
    );
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).map_err(|_| Protocol::S3.auth_error(&AuthError::Mismatch))?;
    mac.update(to_sign.as_bytes());
    let expected = STANDARD.decode(signature.trim()).unwrap_or_default();
    if mac.verify_slice(&expected).is_err() {
        return Err(Protocol::S3.auth_error(&AuthError::Mismatch).with("StringToSign", to_sign));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_is_s3s() {
        // The example of S3's documentation for query-string authentication.
        let text = string_to_sign(
            "GET",
            "",
            "",
            "1175139620",
            &[],
            "/johnsmith/photos/puppy.jpg",
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=x",
        );
        assert_eq!(text, "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg");
        let mut mac = Hmac::<Sha1>::new_from_slice(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
        mac.update(text.as_bytes());
        assert_eq!(STANDARD.encode(mac.finalize().into_bytes()), "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
        let with_subresources = string_to_sign(
            "GET",
            "",
            "",
            "1",
            &[("x-amz-security-token".into(), "t".into())],
            "/b/k",
            "versionId=3&acl&response-content-type=text%2Fplain&foo=bar",
        );
        assert_eq!(
            with_subresources,
            "GET\n\n\n1\nx-amz-security-token:t\n/b/k?acl&response-content-type=text/plain&versionId=3"
        );
    }
}
