//! Browser form uploads (`POST /{bucket}`, `multipart/form-data`): the
//! form's policy document is checked against its SigV4 signature, its
//! expiration and every one of its conditions (bucket, exact and
//! `starts-with` fields, `content-length-range`), no field the policy does
//! not cover is accepted, and only then is the file streamed into a blob,
//! bounded by the policy's length range. A form without a policy is an
//! anonymous upload, allowed only where the bucket grants it.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;

use super::{
    S3, access,
    conditions::WriteCondition,
    errors::{self, S3Result},
    notifications,
    objects::{self, MAX_PUT},
    xml::Xml,
};
use crate::{
    blobs::WriteError,
    catalog::{ContentHeaders, Segment, Version, owner_of},
};
use nubo_host::{
    front::AwsError,
    sigv4::{ChecksumAlgorithm, Principal, signature_matches, signing_key},
};

/// The most bytes of fields a form may have before its file, as S3 allows.
const MAX_FIELDS: usize = 20 * 1024;
/// Fields no policy condition needs to cover.
fn exempt(name: &str) -> bool {
    matches!(name, "x-amz-signature" | "policy" | "file") || name.starts_with("x-ignore-")
}

fn policy_error(detail: &str) -> AwsError {
    AwsError::new(403, "AccessDenied", format!("Invalid according to Policy: {detail}"))
}

/// The text fields of a form, names lowercased, in order.
#[derive(Debug, Default)]
struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
    }
}

/// Checks the policy document's expiration and conditions against the form.
fn check_policy(policy: &Value, fields: &Fields, bucket: &str) -> Result<(u64, u64), AwsError> {
    let expiration = policy
        .get("expiration")
        .and_then(Value::as_str)
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .ok_or_else(|| policy_error("Policy could not be parsed as a valid JSON string."))?;
    if chrono::Utc::now() > expiration {
        return Err(policy_error("Policy expired."));
    }
    let conditions =
        policy.get("conditions").and_then(Value::as_array).ok_or_else(|| policy_error("Policy missing conditions."))?;
    let value_of = |name: &str| -> Option<String> {
        let name = name.trim_start_matches('$').to_ascii_lowercase();
        if name == "bucket" {
            return Some(bucket.to_owned());
        }
        fields.get(&name).map(str::to_owned)
    };
    let mut covered: Vec<String> = vec!["bucket".into()];
    let mut length = (0u64, MAX_PUT);
    for condition in conditions {
        let failed = || policy_error(&format!("Policy Condition failed: {condition}"));
        match condition {
            Value::Object(map) => {
                for (name, expected) in map {
                    let expected = expected.as_str().ok_or_else(failed)?;
                    if value_of(name).as_deref() != Some(expected) {
                        return Err(failed());
                    }
                    covered.push(name.to_ascii_lowercase());
                }
            }
            Value::Array(items) => match items.as_slice() {
                [Value::String(operator), Value::String(name), Value::String(expected)] => {
                    let actual = value_of(name).unwrap_or_default();
                    let holds = match operator.to_ascii_lowercase().as_str() {
                        "eq" => actual == *expected,
                        "starts-with" => actual.starts_with(expected.as_str()),
                        _ => return Err(failed()),
                    };
                    if !holds {
                        return Err(failed());
                    }
                    covered.push(name.trim_start_matches('$').to_ascii_lowercase());
                }
                [Value::String(operator), minimum, maximum] if operator == "content-length-range" => {
                    let (Some(minimum), Some(maximum)) = (minimum.as_u64(), maximum.as_u64()) else {
                        return Err(failed());
                    };
                    length = (minimum, maximum.min(MAX_PUT));
                }
                _ => return Err(failed()),
            },
            _ => return Err(failed()),
        }
    }
    if let Some((name, _)) = fields.pairs.iter().find(|(name, _)| !exempt(name) && !covered.contains(name)) {
        return Err(policy_error(&format!("Extra input fields: {name}")));
    }
    Ok(length)
}

/// The principal whose key signed the form's policy.
fn verify_signature(s3: &S3, fields: &Fields, policy_b64: &str) -> Result<Principal, AwsError> {
    let missing = |name: &str| {
        AwsError::new(400, "InvalidArgument", format!("Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."))
        .with("ArgumentName", name)
    };
    let algorithm = fields.get("x-amz-algorithm").ok_or_else(|| missing("x-amz-algorithm"))?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(errors::invalid_argument("Only AWS4-HMAC-SHA256 is supported", "x-amz-algorithm", algorithm));
    }
    let credential = fields.get("x-amz-credential").ok_or_else(|| missing("x-amz-credential"))?;
    let signature = fields.get("x-amz-signature").ok_or_else(|| missing("x-amz-signature"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(errors::invalid_argument("Invalid credential", "x-amz-credential", credential));
    };
    if *service != "s3" || *region != s3.region {
        return Err(errors::invalid_argument("Invalid credential scope", "x-amz-credential", credential));
    }
    let (secret, principal) = s3
        .credentials
        .resolve(key, fields.get("x-amz-security-token"), chrono::Utc::now())
        .map_err(|error| super::auth_error(&error).0)?;
    let signing = signing_key(&secret, date, region, service);
    if !signature_matches(&signing, policy_b64, signature) {
        return Err(AwsError::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ));
    }
    Ok(principal)
}

pub async fn upload(
    s3: &S3,
    request: &HttpRequest,
    payload: web::Payload,
    bucket_name: &str,
) -> S3Result<HttpResponse> {
    let is_form = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_form {
        return Err(AwsError::new(
            412,
            "PreconditionFailed",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        )
        .with("Condition", "Bucket POST must be of the enclosure-type multipart/form-data")
        .into());
    }
    let bucket = s3.catalog.bucket(bucket_name).await?.ok_or_else(|| errors::no_such_bucket(bucket_name))?;
    let mut form = Multipart::new(request.headers(), payload);
    let mut fields = Fields::default();
    let mut fields_size = 0usize;
    let malformed = |error: actix_multipart::MultipartError| {
        AwsError::new(
            400,
            "MalformedPOSTRequest",
            format!("The body of your POST request is not well-formed multipart/form-data: {error}"),
        )
    };
    // Text fields up to the file; the file is the last field S3 reads.
    let file = loop {
        let Some(mut field) = form.try_next().await.map_err(malformed)? else {
            return Err(AwsError::new(400, "InvalidArgument", "POST requires exactly one file upload per request.")
                .with("ArgumentName", "file")
                .into());
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            break field;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            fields_size += chunk.len();
            if fields_size > MAX_FIELDS {
                return Err(AwsError::new(
                    400,
                    "MaxPostPreDataLengthExceeded",
                    "Your POST request fields preceding the upload file were too large.",
                )
                .into());
            }
            value.extend_from_slice(&chunk);
        }
        fields.pairs.push((name, String::from_utf8_lossy(&value).into_owned()));
    };
    let filename =
        file.content_disposition().and_then(|disposition| disposition.get_filename()).unwrap_or_default().to_owned();
    let raw_key = fields.get("key").ok_or_else(|| {
        AwsError::new(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        )
        .with("ArgumentName", "key")
    })?;
    let key = raw_key.replace("${filename}", &filename);
    if key.is_empty() || key.len() > 1024 {
        return Err(AwsError::new(400, "KeyTooLongError", "Your key is too long").into());
    }

    let (principal, length) = match fields.get("policy") {
        Some(policy_b64) => {
            let principal = verify_signature(s3, &fields, policy_b64)?;
            let document = STANDARD
                .decode(policy_b64.trim())
                .ok()
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
                .ok_or_else(|| policy_error("Policy could not be parsed as a valid JSON string."))?;
            (Some(principal), check_policy(&document, &fields, bucket_name)?)
        }
        None => (None, (0, MAX_PUT)),
    };
    let owner = principal.as_ref().map(owner_of);
    let access = access::evaluate(
        &bucket,
        &access::Request {
            principal: principal.as_ref(),
            owner: owner.as_deref(),
            action: "s3:PutObject",
            resource: format!("arn:aws:s3:::{bucket_name}/{key}"),
            secure_transport: request.app_config().secure(),
            prefix: None,
        },
    );
    if access != access::Access::Allowed {
        return Err(errors::access_denied().into());
    }
    let acl = match fields.get("acl") {
        Some(acl) => {
            super::permissions::check_acl(acl, &bucket)?;
            Some(acl.to_owned())
        }
        None => None,
    };

    // The file, bounded by the policy's length range as it streams.
    let maximum = length.1;
    let mut received = 0u64;
    let bounded = file.map(move |chunk| {
        let chunk = chunk.map_err(|error| error.to_string())?;
        received += chunk.len() as u64;
        if received > maximum { Err("too large".to_owned()) } else { Ok::<Bytes, String>(chunk) }
    });
    let written = s3
        .blobs
        .write_or_inline(
            &bucket.name,
            Box::pin(bounded),
            &[ChecksumAlgorithm::Crc64Nvme],
            super::objects::inline_max(&bucket),
        )
        .await
        .map_err(|error| match error {
            WriteError::Body(message) if message == "too large" => errors::S3Error::from(
                AwsError::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
                    .with("MaxSizeAllowed", maximum),
            ),
            WriteError::Body(message) => {
                AwsError::new(400, "IncompleteBody", format!("The request body terminated unexpectedly: {message}"))
                    .into()
            }
            WriteError::Blob(error) => error.into(),
        })?;
    if written.size < length.0 {
        s3.blobs.delete_all(written.blob()).await;
        return Err(AwsError::new(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
        )
        .with("MinSizeAllowed", length.0)
        .into());
    }
    let field = |name: &str| fields.get(name).map(str::to_owned);
    let metadata = fields
        .pairs
        .iter()
        .filter_map(|(name, value)| name.strip_prefix("x-amz-meta-").map(|name| (name.to_owned(), value.clone())))
        .collect();
    let version = Version {
        version_id: objects::new_version_id(&bucket),
        delete_marker: false,
        last_modified_unix_ms: chrono::Utc::now().timestamp_millis(),
        segments: vec![Segment::from(&written)],
        size: written.size,
        etag: format!("\"{}\"", written.md5_hex),
        headers: ContentHeaders {
            content_type: field("content-type"),
            cache_control: field("cache-control"),
            content_disposition: field("content-disposition"),
            content_encoding: field("content-encoding"),
            content_language: None,
            expires: field("expires"),
            website_redirect: field("x-amz-website-redirect-location"),
        },
        metadata,
        checksum: Some(objects::stored_checksum(&written, ChecksumAlgorithm::Crc64Nvme)),
        storage_class: field("x-amz-storage-class").filter(|class| class != "STANDARD"),
        tags: Vec::new(),
        parts: Vec::new(),
        acl,
    };
    let version = objects::commit(s3, &bucket, &key, version, &WriteCondition::default()).await?;
    let source = request.peer_addr().map(|address| address.ip().to_string()).unwrap_or_default();
    let principal_id =
        principal.as_ref().map_or_else(|| "Anonymous".to_owned(), |principal| format!("AWS:{}", principal.user_id));
    notifications::emit(
        s3,
        &bucket,
        notifications::Event {
            name: "ObjectCreated:Post",
            key: &key,
            version: Some(&version),
            principal_id,
            source_ip: source,
        },
    );

    let location = {
        let info = request.connection_info();
        format!("{}://{}/{}/{}", info.scheme(), info.host(), bucket.name, nubo_host::sigv4::uri_encode(&key, false))
    };
    if let Some(redirect) = fields.get("success_action_redirect").or_else(|| fields.get("redirect"))
        && let Ok(mut url) = url::Url::parse(redirect)
    {
        {
            url.query_pairs_mut()
                .append_pair("bucket", &bucket.name)
                .append_pair("key", &key)
                .append_pair("etag", &version.etag);
            return Ok(HttpResponse::SeeOther()
                .insert_header(("Location", url.to_string()))
                .insert_header(("ETag", version.etag.as_str()))
                .finish());
        }
    }
    match fields.get("success_action_status") {
        Some("200") => Ok(HttpResponse::Ok()
            .insert_header(("ETag", version.etag.as_str()))
            .insert_header(("Location", location))
            .finish()),
        Some("201") => {
            let mut xml = Xml::bare("PostResponse");
            xml.element("Location", &location)
                .element("Bucket", &bucket.name)
                .element("Key", &key)
                .element("ETag", &version.etag);
            Ok(HttpResponse::Created()
                .content_type("application/xml")
                .insert_header(("ETag", version.etag.as_str()))
                .insert_header(("Location", location))
                .body(xml.finish()))
        }
        _ => Ok(HttpResponse::NoContent()
            .insert_header(("ETag", version.etag.as_str()))
            .insert_header(("Location", location))
            .finish()),
    }
}

/// A form's policy document, checked from untrusted text (fuzzing).
pub(super) fn parse_untrusted(text: &str) {
    if let Ok(document) = serde_json::from_str::<Value>(text) {
        let fields = Fields { pairs: vec![("key".into(), text.to_owned())] };
        let _ = check_policy(&document, &fields, "bucket");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields { pairs: pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect() }
    }

    fn policy(conditions: Value) -> Value {
        serde_json::json!({ "expiration": "2999-01-01T00:00:00Z", "conditions": conditions })
    }

    #[test]
    fn every_condition_holds_and_every_field_is_covered() {
        let form = fields(&[
            ("key", "uploads/${filename}"),
            ("content-type", "image/png"),
            ("x-amz-credential", "c"),
            ("x-amz-algorithm", "a"),
            ("x-amz-date", "d"),
        ]);
        let conditions = serde_json::json!([
            {"bucket": "photos"},
            ["starts-with", "$key", "uploads/"],
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 1, 1048576],
            {"x-amz-credential": "c"}, {"x-amz-algorithm": "a"}, {"x-amz-date": "d"}
        ]);
        assert_eq!(check_policy(&policy(conditions.clone()), &form, "photos").unwrap(), (1, 1_048_576));
        assert!(check_policy(&policy(conditions.clone()), &form, "other").is_err(), "the bucket condition");
        let extra = fields(&[
            ("key", "uploads/a"),
            ("content-type", "image/png"),
            ("x-amz-credential", "c"),
            ("x-amz-algorithm", "a"),
            ("x-amz-date", "d"),
            ("acl", "public-read"),
        ]);
        let refused = check_policy(&policy(conditions), &extra, "photos").unwrap_err();
        assert!(refused.message.contains("Extra input fields: acl"), "{}", refused.message);
        let expired = serde_json::json!({ "expiration": "2000-01-01T00:00:00Z", "conditions": [] });
        assert!(check_policy(&expired, &fields(&[]), "photos").unwrap_err().message.contains("expired"));
    }
}
