//! `Code.Location` of GetFunction: a URL from which anyone holding it can
//! download the function's deployment package for ten minutes, as from the
//! presigned S3 URL Lambda answers with. nubo's is served by the functions
//! service itself (`GET /2015-03-31/functions/{name}/package`), so it works
//! wherever the Lambda API is reachable, the edge included, and is signed
//! with a key derived from the cluster secret, so any functions replica
//! can check it. The signature covers the function, its qualifier, the
//! package's SHA-256 and the expiry: a URL outlives neither its ten minutes
//! nor the package it was made for.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use hmac::{Hmac, Mac};
use nubo_host::front::{AwsError, Protocol};
use sha2::Sha256;

use crate::lambda::Lambda;

/// How long a `Code.Location` works, as on Lambda.
pub const VALID_FOR_SECS: i64 = 600;

const PACKAGE: &str = "/package";

/// Makes and checks package URLs.
#[derive(Clone)]
pub struct CodeUrls {
    key: [u8; 32],
}

impl std::fmt::Debug for CodeUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeUrls(..)")
    }
}

/// What one package URL names and until when.
#[derive(Debug, PartialEq, Eq)]
struct Claim<'a> {
    function: &'a str,
    qualifier: &'a str,
    sha256: &'a str,
    expires: i64,
}

impl Claim<'_> {
    fn message(&self) -> String {
        format!("nubo-lambda-package\n{}\n{}\n{}\n{}", self.function, self.qualifier, self.sha256, self.expires)
    }
}

impl CodeUrls {
    pub fn new(cluster_secret: &str) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(cluster_secret.as_bytes()).expect("HMAC takes any key");
        mac.update(b"nubo function package urls v1");
        Self { key: mac.finalize().into_bytes().into() }
    }

    fn mac(&self, claim: &Claim<'_>) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(claim.message().as_bytes());
        mac
    }

    /// The URL of `function`'s package (at `qualifier`, `$LATEST` or a
    /// version) under `base` (`http://host:port`), valid from `now` on.
    pub fn location(&self, base: &str, function: &str, qualifier: &str, sha256: &str, now: i64) -> String {
        let claim = Claim { function, qualifier, sha256, expires: now + VALID_FOR_SECS };
        let signature = hex::encode(self.mac(&claim).finalize().into_bytes());
        let encode = |value: &str| nubo_host::sigv4::uri_encode(value, true);
        format!(
            "{}/2015-03-31/functions/{}{PACKAGE}?Qualifier={}&Sha256={}&Expires={}&Signature={signature}",
            base.trim_end_matches('/'),
            encode(function),
            encode(qualifier),
            encode(sha256),
            claim.expires,
        )
    }

    fn verify(&self, claim: &Claim<'_>, signature: &str, now: i64) -> Result<(), AwsError> {
        let denied = |message: &str| AwsError::new(403, "AccessDenied", message);
        let signature = hex::decode(signature).map_err(|_| denied("The request signature is malformed."))?;
        self.mac(claim)
            .verify_slice(&signature)
            .map_err(|_| denied("The request signature we calculated does not match the signature you provided."))?;
        if now > claim.expires {
            return Err(denied("Request has expired"));
        }
        Ok(())
    }
}

/// Serves a package URL: checks it, then streams the package from storage
/// (only its headers, to a HEAD). Errors are S3's, as from the URL Lambda
/// hands out.
pub async fn serve(request: &HttpRequest, function: &str, lambda: &Lambda) -> HttpResponse {
    match download(request, function, lambda).await {
        Ok(response) => response,
        Err(error) => Protocol::S3.render(&error),
    }
}

async fn download(request: &HttpRequest, function: &str, lambda: &Lambda) -> Result<HttpResponse, AwsError> {
    let query = web_query(request.query_string());
    let field = |name: &str| {
        query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).ok_or_else(|| {
            AwsError::new(
                403,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and Qualifier parameters",
            )
        })
    };
    let expires = field("Expires")?
        .parse()
        .map_err(|_| AwsError::new(403, "AccessDenied", "Invalid date (should be seconds since epoch)"))?;
    let claim = Claim { function, qualifier: field("Qualifier")?, sha256: field("Sha256")?, expires };
    lambda.code_urls.verify(&claim, field("Signature")?, chrono::Utc::now().timestamp())?;
    let missing = || AwsError::new(404, "NoSuchKey", "The specified key does not exist.");
    let found = lambda.get_function(&format!("{function}:{}", claim.qualifier)).await.map_err(|_| missing())?;
    if found.code_sha256 != claim.sha256 {
        return Err(missing());
    }
    // Found before the answer starts, so a missing package is a 404 rather
    // than a 200 cut short.
    let stored =
        lambda.objects().head(&found.code_bucket, &found.code_key).await.map_err(|error| match error.code {
            nubo_proto::ErrorCode::NotFound => missing(),
            _ => AwsError::new(503, "ServiceUnavailable", "Please reduce your request rate."),
        })?;
    let mut response = HttpResponse::build(StatusCode::OK);
    response
        .content_type("application/zip")
        .insert_header(("etag", format!("\"{}\"", hex_of_base64(&found.code_sha256))));
    if request.method() == actix_web::http::Method::HEAD {
        // A body of the package's size, which a HEAD answer does not send,
        // so the Content-Length is the download's.
        let nothing = futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
        return Ok(response.no_chunking(stored.size).streaming(nothing));
    }
    let (reader, writer) = tokio::io::duplex(256 * 1024);
    let objects = lambda.objects().clone();
    let (bucket, key) = (found.code_bucket.clone(), found.code_key.clone());
    tokio::spawn(async move {
        let mut writer = writer;
        // A client that stops reading ends the copy; that is no failure.
        if let Err(error) = objects.get_into(&bucket, &key, &mut writer).await {
            tracing::debug!(%bucket, %key, %error, "a function package download ended early");
        }
    });
    let body = futures::stream::unfold(reader, |mut reader| async move {
        use tokio::io::AsyncReadExt;
        let mut chunk = vec![0; 64 * 1024];
        match reader.read(&mut chunk).await {
            Ok(0) => None,
            Ok(read) => {
                chunk.truncate(read);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)), reader))
            }
            Err(error) => Some((Err(error), reader)),
        }
    });
    Ok(response.no_chunking(stored.size).streaming(body))
}

/// A SHA-256 as hex, from the base64 Lambda reports it in.
fn hex_of_base64(sha256: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(sha256).map(hex::encode).unwrap_or_default()
}

fn web_query(query: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|query| query.into_inner())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_good_for_what_it_names_until_it_expires() {
        let urls = CodeUrls::new("a cluster secret of some length");
        let location = urls.location("http://127.0.0.1:9001", "my-fn", "$LATEST", "abc=", 1_000);
        let (path, query) = location.strip_prefix("http://127.0.0.1:9001").unwrap().split_once('?').unwrap();
        assert_eq!(
            crate::api::Operation::parse("GET", path),
            Some(crate::api::Operation::DownloadFunctionPackage("my-fn".into()))
        );
        let query = web_query(query);
        let get = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap();
        assert_eq!(get("Qualifier"), "$LATEST");
        assert_eq!(get("Sha256"), "abc=");
        let signature = get("Signature");
        let claim = Claim { function: "my-fn", qualifier: "$LATEST", sha256: "abc=", expires: 1_600 };
        assert!(urls.verify(&claim, &signature, 1_500).is_ok());
        assert_eq!(urls.verify(&claim, &signature, 1_601).unwrap_err().message, "Request has expired");
        let other = Claim { function: "other", ..claim };
        assert_eq!(urls.verify(&other, &signature, 1_500).unwrap_err().code, "AccessDenied");
        let other_key = CodeUrls::new("another cluster secret entirely");
        assert!(other_key.verify(&claim, &signature, 1_500).is_err());
        assert!(urls.verify(&claim, "not hex", 1_500).is_err());
    }
}
