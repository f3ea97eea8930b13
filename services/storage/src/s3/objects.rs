//! Objects: put, get, head, delete (one or many), copy, attributes and
//! tagging. A write streams the body into a new blob, checks it, and only
//! then names it from the key's record by compare-and-set ([`commit`]), so
//! a reader sees the old object or the new one and a failed write leaves
//! nothing visible.

use actix_web::{HttpResponse, HttpResponseBuilder, http::StatusCode};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _, stream::BoxStream};
use md5::{Digest as _, Md5};
use nubo_host::{
    front::AwsError,
    sigv4::{AuthError, BodyError, ChecksumAlgorithm},
};
use serde::Deserialize;

use super::{
    Call, S3, auth_error,
    buckets::{self, xml_response},
    checksums,
    conditions::{self, RangeRequest, ReadCondition, WriteCondition},
    errors::{self, S3Error, S3Result},
    notifications,
    xml::{self, Xml},
};
use crate::{
    blobs::{BlobError, WriteError, Written},
    catalog::{Bucket, ContentHeaders, ObjectRecord, Segment, Version, Versioning, objects_of},
};

/// The largest single PUT S3 accepts: 5 GiB.
pub const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// The most user metadata an object carries, names and values together.
const MAX_METADATA: usize = 2 * 1024;
/// How often a write retries its compare-and-set against concurrent writers.
const COMMIT_ATTEMPTS: usize = 32;

const STORAGE_CLASSES: [&str; 11] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

pub fn body_error(error: BodyError) -> S3Error {
    auth_error(&AuthError::Body(error))
}

fn write_error(error: WriteError<BodyError>) -> S3Error {
    match error {
        WriteError::Body(error) => body_error(error),
        WriteError::Blob(error) => error.into(),
    }
}

/// The size a request declares for its decoded body.
pub fn declared_size(call: &Call<'_>) -> S3Result<Option<u64>> {
    let parse = |name: &str| -> S3Result<Option<u64>> {
        match call.header(name) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| errors::invalid_argument(format!("Invalid {name}"), name, text).into()),
        }
    };
    match parse("x-amz-decoded-content-length")? {
        Some(size) => Ok(Some(size)),
        None => parse("content-length"),
    }
}

/// Checks an upload's declared size against `limit` before any byte is read.
pub fn check_upload_size(call: &Call<'_>, limit: u64) -> S3Result<()> {
    match declared_size(call)? {
        Some(size) if size > limit => {
            Err(AwsError::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
                .with("ProposedSize", size)
                .with("MaxSizeAllowed", limit)
                .into())
        }
        Some(_) => Ok(()),
        None if call.request.headers().contains_key("transfer-encoding") => Ok(()),
        None => {
            Err(AwsError::new(411, "MissingContentLength", "You must provide the Content-Length HTTP header.").into())
        }
    }
}

/// The content headers of an upload, as S3 stores them: `aws-chunked`
/// is the transfer's, not the object's, and is dropped.
pub fn content_headers(call: &Call<'_>) -> ContentHeaders {
    let header = |name: &str| call.header(name).map(str::to_owned);
    let content_encoding = call.header("content-encoding").and_then(|value| {
        let kept: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|encoding| !encoding.is_empty() && !encoding.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    ContentHeaders {
        content_type: header("content-type"),
        cache_control: header("cache-control"),
        content_disposition: header("content-disposition"),
        content_encoding,
        content_language: header("content-language"),
        expires: header("expires"),
        website_redirect: header("x-amz-website-redirect-location"),
    }
}

/// `x-amz-meta-*` headers, names lowercased as S3 returns them.
pub fn user_metadata(call: &Call<'_>) -> S3Result<Vec<(String, String)>> {
    let mut metadata: Vec<(String, String)> = Vec::new();
    for (name, value) in call.request.headers() {
        let Some(name) = name.as_str().strip_prefix("x-amz-meta-") else { continue };
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match metadata.iter_mut().find(|(existing, _)| existing == name) {
            // Repeated headers join as HTTP says, and S3 stores them so.
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => metadata.push((name.to_owned(), value)),
        }
    }
    let size: usize = metadata.iter().map(|(name, value)| "x-amz-meta-".len() + name.len() + value.len()).sum();
    if size > MAX_METADATA {
        return Err(AwsError::new(
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
        .with("Size", size)
        .with("MaxSizeAllowed", MAX_METADATA)
        .into());
    }
    Ok(metadata)
}

pub fn storage_class(call: &Call<'_>) -> S3Result<Option<String>> {
    match call.header("x-amz-storage-class") {
        None => Ok(None),
        Some(class) if STORAGE_CLASSES.contains(&class) => Ok((class != "STANDARD").then(|| class.to_owned())),
        Some(_) => {
            Err(AwsError::new(400, "InvalidStorageClass", "The storage class you specified is not valid").into())
        }
    }
}

/// Tags from the `x-amz-tagging` header (a URL query: `k1=v1&k2=v2`).
pub fn header_tags(call: &Call<'_>) -> S3Result<Vec<(String, String)>> {
    let Some(header) = call.header("x-amz-tagging") else { return Ok(Vec::new()) };
    let tags = super::request::Query::parse(header).pairs().to_vec();
    buckets::check_tags(&tags, 10)?;
    Ok(tags)
}

/// The largest object kept in its record rather than in a blob: below
/// it, a blob's file and directory syncs cost more than carrying the bytes
/// in the record's own (synced) commit.
const INLINE_MAX: usize = 8 * 1024;

/// How large an object written to `bucket` may be and still be kept
/// inline. Never where versioning is enabled: every version of a key
/// lives in the key's one record, which must not grow with each of them.
pub fn inline_max(bucket: &Bucket) -> usize {
    match bucket.versioning {
        Versioning::Enabled => 0,
        Versioning::Unversioned | Versioning::Suspended => INLINE_MAX,
    }
}

/// A fresh version id, or `null` where versioning is not enabled.
pub fn new_version_id(bucket: &Bucket) -> String {
    match bucket.versioning {
        Versioning::Enabled => uuid::Uuid::new_v4().simple().to_string(),
        Versioning::Unversioned | Versioning::Suspended => "null".into(),
    }
}

/// Makes `version` the key's current version, under `condition`, and
/// removes the bytes of whatever it replaced. The one write path of
/// PutObject, CopyObject and CompleteMultipartUpload.
pub async fn commit(
    s3: &S3,
    bucket: &Bucket,
    key: &str,
    version: Version,
    condition: &WriteCondition,
) -> S3Result<Version> {
    let namespace = objects_of(&bucket.name);
    for _ in 0..COMMIT_ATTEMPTS {
        let stored = s3.catalog.get::<ObjectRecord>(&namespace, key).await?;
        let (mut record, expected) =
            stored.map_or_else(|| (ObjectRecord::default(), 0), |stored| (stored.value, stored.version));
        condition.check(key, record.current())?;
        // A `null` version is replaced, whatever else the key keeps. Its
        // blobs are not removed here: a reader may still be streaming them;
        // the collector takes them once nothing has named them for a while.
        if version.version_id == "null" {
            record.versions.retain(|old| old.version_id != "null");
        }
        record.versions.insert(0, version.clone());
        if s3.catalog.put(&namespace, key, &record, expected).await? {
            return Ok(version);
        }
        if condition.is_set() {
            return Err(errors::conflict().into());
        }
    }
    Err(errors::conflict().into())
}

pub async fn put(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    check_upload_size(call, MAX_PUT)?;
    let expected = checksums::expected(call, ChecksumAlgorithm::Crc64Nvme)?;
    let condition = WriteCondition::from_call(call)?;
    let headers = content_headers(call);
    let metadata = user_metadata(call)?;
    let storage_class = storage_class(call)?;
    let tags = header_tags(call)?;
    let acl = super::permissions::requested_acl(call, bucket)?;
    let key = call.key().to_owned();
    // Checked before the bytes are taken, and again when they are named.
    if condition.is_set() {
        let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), &key).await?;
        condition.check(&key, stored.as_ref().and_then(|stored| stored.value.current()))?;
    }
    let body = call.body_stream()?;
    let written = s3
        .blobs
        .write_or_inline(&bucket.name, body, &expected.algorithms(), inline_max(bucket))
        .await
        .map_err(write_error)?;
    let checksum = match expected.verify(&written) {
        Ok(checksum) => checksum,
        Err(error) => {
            s3.blobs.delete_all(written.blob()).await;
            return Err(error.into());
        }
    };
    let version = Version {
        version_id: new_version_id(bucket),
        delete_marker: false,
        last_modified_unix_ms: chrono::Utc::now().timestamp_millis(),
        segments: vec![Segment::from(&written)],
        size: written.size,
        etag: format!("\"{}\"", written.md5_hex),
        headers,
        metadata,
        checksum: Some(checksum),
        storage_class,
        tags,
        parts: Vec::new(),
        acl,
    };
    // On failure the blob stays: a failure may be one data applied all
    // the same (a timeout), and an unnamed blob is the collector's.
    let version = commit(s3, bucket, &key, version, &condition).await?;
    created(s3, call, bucket, "ObjectCreated:Put", &key, &version);
    let mut response = HttpResponse::Ok();
    response.insert_header(("ETag", version.etag.as_str())).insert_header(("x-amz-server-side-encryption", "AES256"));
    version_header(&mut response, bucket, &version);
    // The checksum is echoed when the client sent one.
    if let Some(checksum) = &version.checksum
        && (call.header("x-amz-trailer").is_some()
            || call.header(&format!("x-amz-checksum-{}", checksum.algorithm.to_ascii_lowercase())).is_some()
            || call.header("x-amz-sdk-checksum-algorithm").is_some())
    {
        checksum_headers(&mut response, &version);
    }
    Ok(response.finish())
}

/// Raises an `ObjectCreated` event for a version just committed.
pub fn created(s3: &S3, call: &Call<'_>, bucket: &Bucket, name: &'static str, key: &str, version: &Version) {
    let (principal_id, source_ip) = notifications::caller(call);
    notifications::emit(
        s3,
        bucket,
        notifications::Event { name, key, version: Some(version), principal_id, source_ip },
    );
}

fn version_header(response: &mut HttpResponseBuilder, bucket: &Bucket, version: &Version) {
    if bucket.versioning != Versioning::Unversioned {
        response.insert_header(("x-amz-version-id", version.version_id.as_str()));
    }
}

fn checksum_headers(response: &mut HttpResponseBuilder, version: &Version) {
    if let Some(checksum) = &version.checksum {
        response
            .insert_header((
                format!("x-amz-checksum-{}", checksum.algorithm.to_ascii_lowercase()),
                checksum.value.as_str(),
            ))
            .insert_header(("x-amz-checksum-type", checksum.kind.as_str()));
    }
}

/// The version a read addresses: `versionId`, or the current one.
fn addressed<'a>(call: &Call<'_>, record: Option<&'a ObjectRecord>, key: &str) -> S3Result<&'a Version> {
    match call.query.get("versionId") {
        Some(version_id) => {
            check_version_id(version_id)?;
            let version = record
                .and_then(|record| record.version(version_id))
                .ok_or_else(|| errors::no_such_version(key, version_id))?;
            if version.delete_marker {
                return Err(delete_marker_error(version, 405));
            }
            Ok(version)
        }
        None => match record.and_then(|record| record.versions.first()) {
            Some(version) if version.delete_marker => Err(delete_marker_error(version, 404)),
            Some(version) => Ok(version),
            None => Err(errors::no_such_key(key).into()),
        },
    }
}

/// A version id S3 could have made: `null`, or one of nubo's ids.
fn check_version_id(version_id: &str) -> S3Result<()> {
    if version_id.is_empty() {
        return Err(errors::invalid_argument("Version id cannot be the empty string", "versionId", "").into());
    }
    if version_id != "null" && uuid::Uuid::try_parse(version_id).is_err() {
        return Err(errors::invalid_argument("Invalid version id specified", "versionId", version_id).into());
    }
    Ok(())
}

/// A read that meets a delete marker: 404 for the current version, 405 for
/// a version id, with the marker's headers.
fn delete_marker_error(version: &Version, status: u16) -> S3Error {
    let error = if status == 405 {
        AwsError::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            .with("Method", "GET")
            .with("ResourceType", "DeleteMarker")
    } else {
        AwsError::new(404, "NoSuchKey", "The specified key does not exist.")
    };
    S3Error(error, vec![("x-amz-delete-marker", "true".into()), ("x-amz-version-id", version.version_id.clone())])
}

/// The object's own headers, for GET, HEAD and 304.
fn object_headers(response: &mut HttpResponseBuilder, bucket: &Bucket, version: &Version, call: &Call<'_>) {
    response
        .insert_header(("ETag", version.etag.as_str()))
        .insert_header(("Last-Modified", xml::http_date(version.last_modified_unix_ms)));
    version_header(response, bucket, version);
    let headers = &version.headers;
    let chosen =
        |query: &str, stored: &Option<String>| call.query.get(query).map(str::to_owned).or_else(|| stored.clone());
    for (name, query, stored) in [
        ("Cache-Control", "response-cache-control", &headers.cache_control),
        ("Content-Disposition", "response-content-disposition", &headers.content_disposition),
        ("Content-Encoding", "response-content-encoding", &headers.content_encoding),
        ("Content-Language", "response-content-language", &headers.content_language),
        ("Expires", "response-expires", &headers.expires),
    ] {
        if let Some(value) = chosen(query, stored) {
            response.insert_header((name, value));
        }
    }
    if let Some(location) = &headers.website_redirect {
        response.insert_header(("x-amz-website-redirect-location", location.as_str()));
    }
    for (name, value) in &version.metadata {
        response.append_header((format!("x-amz-meta-{name}"), value.as_str()));
    }
    if let Some(class) = &version.storage_class {
        response.insert_header(("x-amz-storage-class", class.as_str()));
    }
    if !version.tags.is_empty() {
        response.insert_header(("x-amz-tagging-count", version.tags.len().to_string()));
    }
}

/// GetObject and HeadObject. `acl_needed`: nothing but the object's own
/// ACL can grant this caller the read.
pub async fn get(
    s3: &S3,
    call: &mut Call<'_>,
    bucket: &Bucket,
    head_only: bool,
    acl_needed: bool,
) -> S3Result<HttpResponse> {
    let key = call.key().to_owned();
    let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), &key).await?;
    let version = match addressed(call, stored.as_ref().map(|stored| &stored.value), &key) {
        Ok(version) => version.clone(),
        // Without a grant, a caller learns nothing of what is missing.
        Err(_) if acl_needed => return Err(errors::access_denied().into()),
        Err(error) => return Err(error),
    };
    if acl_needed {
        let owner = call.owner();
        let request = super::access::Request {
            principal: call.principal.as_ref(),
            owner: owner.as_deref(),
            action: "s3:GetObject",
            resource: format!("arn:aws:s3:::{}/{key}", bucket.name),
            secure_transport: call.secure(),
            prefix: None,
        };
        if !super::access::object_acl_allows(bucket, version.acl.as_deref(), &request) {
            return Err(errors::access_denied().into());
        }
    }
    if conditions::check_read(call, &version)? == ReadCondition::NotModified {
        let mut response = HttpResponse::NotModified();
        response
            .insert_header(("ETag", version.etag.as_str()))
            .insert_header(("Last-Modified", xml::http_date(version.last_modified_unix_ms)));
        version_header(&mut response, bucket, &version);
        return Ok(response.finish());
    }
    let (range, parts_count) = match call.query.get("partNumber") {
        Some(number) => part_range(&version, number)?,
        None => (conditions::range(call.header("range"), version.size)?, None),
    };
    let mut response = HttpResponse::Ok();
    object_headers(&mut response, bucket, &version, call);
    response
        .insert_header(("Accept-Ranges", "bytes"))
        .insert_header(("x-amz-server-side-encryption", "AES256"))
        .content_type(
            call.query
                .get("response-content-type")
                .map(str::to_owned)
                .or_else(|| version.headers.content_type.clone())
                .unwrap_or_else(|| "binary/octet-stream".into()),
        );
    if let Some(count) = parts_count {
        response.insert_header(("x-amz-mp-parts-count", count.to_string()));
    }
    let range = match range {
        RangeRequest::Whole => {
            if call.header("x-amz-checksum-mode").is_some_and(|mode| mode.eq_ignore_ascii_case("ENABLED")) {
                checksum_headers(&mut response, &version);
            }
            0..version.size
        }
        RangeRequest::Partial(range) => {
            response
                .status(StatusCode::PARTIAL_CONTENT)
                .insert_header(("Content-Range", format!("bytes {}-{}/{}", range.start, range.end - 1, version.size)));
            range
        }
    };
    let length = range.end - range.start;
    if head_only {
        return Ok(response
            .body(actix_web::body::SizedStream::new(length, futures::stream::empty::<Result<Bytes, BlobError>>())));
    }
    let body = read_segments(s3, &version.segments, range);
    Ok(response.body(actix_web::body::SizedStream::new(length, body)))
}

/// The byte range of part `number` of a multipart object (the whole object
/// is its part 1 otherwise), and the part count to report.
fn part_range(version: &Version, number: &str) -> S3Result<(RangeRequest, Option<usize>)> {
    let invalid = || {
        errors::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", number)
    };
    let number: usize = number.parse().map_err(|_| invalid())?;
    if !(1..=10_000).contains(&number) {
        return Err(invalid().into());
    }
    if version.parts.is_empty() {
        if number == 1 {
            return Ok((RangeRequest::Whole, None));
        }
        return Err(AwsError::new(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
            .with("PartNumberRequested", number)
            .with("ActualPartCount", 1)
            .into());
    }
    let Some(part) = version.parts.get(number - 1) else {
        return Err(AwsError::new(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
            .with("PartNumberRequested", number)
            .with("ActualPartCount", version.parts.len())
            .into());
    };
    let start: u64 = version.parts[..number - 1].iter().map(|part| part.size).sum();
    Ok((RangeRequest::Partial(start..start + part.size), Some(version.parts.len())))
}

/// The bytes of `range` of an object made of `segments`, read one blob
/// after another as the client takes them.
pub fn read_segments(
    s3: &S3,
    segments: &[Segment],
    range: std::ops::Range<u64>,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    let mut pieces = Vec::new();
    let mut offset = 0u64;
    for segment in segments {
        let (start, end) = (offset, offset + segment.size);
        offset = end;
        let (from, to) = (range.start.max(start), range.end.min(end));
        if from < to {
            pieces.push((segment.clone(), from - start..to - start));
        }
    }
    let blobs = s3.blobs.clone();
    futures::stream::iter(pieces)
        .then(move |(segment, range)| {
            let blobs = blobs.clone();
            async move {
                match (&segment.inline, &segment.blob) {
                    (Some(bytes), _) => {
                        let (start, end) = (range.start as usize, range.end as usize);
                        if end > bytes.len() {
                            return Err(BlobError::Io(std::io::Error::other(
                                "an inline segment is shorter than its size",
                            )));
                        }
                        let bytes = bytes.slice(start..end);
                        Ok(futures::stream::once(async { Ok(bytes) }).boxed())
                    }
                    (None, Some(blob)) => blobs.read(blob, range).await,
                    (None, None) => Err(BlobError::Io(std::io::Error::other("a segment names no bytes"))),
                }
            }
        })
        .try_flatten()
        .boxed()
}

pub async fn delete(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let key = call.key().to_owned();
    let outcome = delete_one(s3, bucket, &key, call.query.get("versionId"), None).await?;
    removed(s3, call, bucket, &key, &outcome);
    let mut response = HttpResponse::NoContent();
    if let Some(version_id) = &outcome.version_id {
        response.insert_header(("x-amz-version-id", version_id.as_str()));
    }
    if outcome.delete_marker {
        response.insert_header(("x-amz-delete-marker", "true"));
    }
    Ok(response.finish())
}

fn removed(s3: &S3, call: &Call<'_>, bucket: &Bucket, key: &str, outcome: &Deleted) {
    let (principal_id, source_ip) = notifications::caller(call);
    let name = if outcome.delete_marker && outcome.created_marker {
        "ObjectRemoved:DeleteMarkerCreated"
    } else {
        "ObjectRemoved:Delete"
    };
    let version = outcome
        .version_id
        .as_ref()
        .map(|version_id| Version { version_id: version_id.clone(), ..delete_marker_of(bucket) });
    notifications::emit(
        s3,
        bucket,
        notifications::Event { name, key, version: version.as_ref(), principal_id, source_ip },
    );
}

/// What a delete did, as S3 reports it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Deleted {
    version_id: Option<String>,
    delete_marker: bool,
    /// Whether this delete wrote a marker (rather than removing one).
    created_marker: bool,
}

/// Deletes a key's current version or one version of it. `seen`: only if
/// the key's record is still the one a caller (lifecycle) decided on.
async fn delete_one(
    s3: &S3,
    bucket: &Bucket,
    key: &str,
    version_id: Option<&str>,
    seen: Option<u64>,
) -> S3Result<Deleted> {
    let namespace = objects_of(&bucket.name);
    for _ in 0..COMMIT_ATTEMPTS {
        let stored = s3.catalog.get::<ObjectRecord>(&namespace, key).await?;
        if let Some(seen) = seen
            && stored.as_ref().is_none_or(|stored| stored.version != seen)
        {
            // Written since the decision was made: that write stands.
            return Ok(Deleted::default());
        }
        let Some(stored) = stored else {
            // Deleting what is not there succeeds, as in S3; under
            // versioning it still leaves a marker.
            if version_id.is_none() && bucket.versioning != Versioning::Unversioned {
                let marker = delete_marker(bucket);
                let record = ObjectRecord { versions: vec![marker.clone()] };
                if s3.catalog.put(&namespace, key, &record, 0).await? {
                    return Ok(Deleted {
                        version_id: Some(marker.version_id),
                        delete_marker: true,
                        created_marker: true,
                    });
                }
                continue;
            }
            return Ok(Deleted { version_id: version_id.map(str::to_owned), ..Deleted::default() });
        };
        let mut record = stored.value;
        // Removed versions' blobs are left to the collector: a reader may
        // still be streaming them.
        let outcome = match (version_id, bucket.versioning) {
            (Some(version_id), _) => {
                let Some(index) = record.versions.iter().position(|version| version.version_id == version_id) else {
                    if version_id != "null" && uuid::Uuid::try_parse(version_id).is_err() {
                        return Err(
                            errors::invalid_argument("Invalid version id specified", "versionId", version_id).into()
                        );
                    }
                    return Ok(Deleted { version_id: Some(version_id.to_owned()), ..Deleted::default() });
                };
                let removed = record.versions.remove(index);
                Deleted {
                    version_id: Some(version_id.to_owned()),
                    delete_marker: removed.delete_marker,
                    created_marker: false,
                }
            }
            (None, Versioning::Unversioned) => {
                record.versions.clear();
                Deleted::default()
            }
            (None, versioning) => {
                let marker = delete_marker(bucket);
                if versioning == Versioning::Suspended {
                    record.versions.retain(|old| old.version_id != "null");
                }
                let outcome =
                    Deleted { version_id: Some(marker.version_id.clone()), delete_marker: true, created_marker: true };
                record.versions.insert(0, marker);
                outcome
            }
        };
        let written = if record.versions.is_empty() {
            s3.catalog.delete(&namespace, key, Some(stored.version)).await?
        } else {
            s3.catalog.put(&namespace, key, &record, stored.version).await?
        };
        if written {
            return Ok(outcome);
        }
    }
    Err(errors::conflict().into())
}

/// Lifecycle expiration of a key's current version: what a DeleteObject
/// without a version id does.
pub async fn expire(s3: &S3, bucket: &Bucket, key: &str, seen: u64) -> S3Result<()> {
    let deleted = delete_one(s3, bucket, key, None, Some(seen)).await?;
    if deleted == Deleted::default() {
        return Ok(());
    }
    let name =
        if deleted.delete_marker { "LifecycleExpiration:DeleteMarkerCreated" } else { "LifecycleExpiration:Delete" };
    notifications::emit(
        s3,
        bucket,
        notifications::Event {
            name,
            key,
            version: None,
            principal_id: "s3.amazonaws.com".into(),
            source_ip: String::new(),
        },
    );
    Ok(())
}

/// Lifecycle removal of one noncurrent version (or an expired delete marker).
pub async fn remove_version(s3: &S3, bucket: &Bucket, key: &str, version_id: &str, seen: u64) -> S3Result<()> {
    delete_one(s3, bucket, key, Some(version_id), Some(seen)).await.map(drop)
}

fn delete_marker(bucket: &Bucket) -> Version {
    Version { version_id: new_version_id(bucket), ..delete_marker_of(bucket) }
}

/// A delete marker's fields, its id aside.
fn delete_marker_of(_bucket: &Bucket) -> Version {
    Version {
        version_id: String::new(),
        delete_marker: true,
        last_modified_unix_ms: chrono::Utc::now().timestamp_millis(),
        segments: Vec::new(),
        size: 0,
        etag: String::new(),
        headers: ContentHeaders::default(),
        metadata: Vec::new(),
        checksum: None,
        storage_class: None,
        tags: Vec::new(),
        parts: Vec::new(),
        acl: None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Delete {
    #[serde(rename = "Object", default)]
    objects: Vec<DeleteEntry>,
    #[serde(default)]
    quiet: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteEntry {
    key: String,
    version_id: Option<String>,
}

/// Checks a small body against its `Content-MD5` or `x-amz-checksum-*`
/// header (a trailer was checked as it streamed). DeleteObjects requires
/// one of them, and S3 now takes a CRC where it once took only MD5.
fn check_integrity(call: &Call<'_>, body: &[u8], required: bool) -> S3Result<()> {
    let mut checked = call.header("x-amz-trailer").is_some();
    if let Some(md5) = call.header("content-md5") {
        if STANDARD.encode(Md5::digest(body)) != md5.trim() {
            return Err(errors::bad_digest("MD5").into());
        }
        checked = true;
    }
    for algorithm in ChecksumAlgorithm::ALL {
        if let Some(value) = call.header(algorithm.header_name()) {
            let mut checksum = nubo_host::sigv4::Checksum::new(algorithm);
            checksum.update(body);
            if checksum.finish() != value.trim() {
                return Err(errors::bad_digest(algorithm.name()).into());
            }
            checked = true;
        }
    }
    if required && !checked {
        return Err(errors::invalid_request("Missing required header for this request: Content-MD5").into());
    }
    Ok(())
}

pub async fn delete_many(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    check_integrity(call, &body, true)?;
    let delete: Delete = xml::parse(&body)?;
    if delete.objects.is_empty() || delete.objects.len() > 1000 {
        return Err(xml::malformed().into());
    }
    let mut xml = Xml::document("DeleteResult");
    for entry in &delete.objects {
        let owner = call.owner();
        let request = super::access::Request {
            principal: call.principal.as_ref(),
            owner: owner.as_deref(),
            action: if entry.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" },
            resource: format!("arn:aws:s3:::{}/{}", bucket.name, entry.key),
            secure_transport: call.secure(),
            prefix: None,
        };
        let outcome = if entry.key.is_empty() || entry.key.len() > 1024 {
            Err(S3Error::from(AwsError::new(400, "InvalidArgument", "Invalid key")))
        } else if super::access::evaluate(bucket, &request) != super::access::Access::Allowed {
            Err(S3Error::from(errors::access_denied()))
        } else {
            delete_one(s3, bucket, &entry.key, entry.version_id.as_deref(), None).await
        };
        match outcome {
            Ok(deleted) => {
                removed(s3, call, bucket, &entry.key, &deleted);
                if delete.quiet {
                    continue;
                }
                xml.open("Deleted").element("Key", &entry.key);
                xml.optional("VersionId", entry.version_id.as_deref());
                if deleted.delete_marker {
                    xml.element("DeleteMarker", "true");
                    if entry.version_id.is_none() {
                        xml.optional("DeleteMarkerVersionId", deleted.version_id.as_deref());
                    }
                }
                xml.close();
            }
            Err(S3Error(error, _)) => {
                xml.open("Error").element("Key", &entry.key);
                xml.optional("VersionId", entry.version_id.as_deref());
                xml.element("Code", error.short_code()).element("Message", &error.message).close();
            }
        }
    }
    Ok(xml_response(xml))
}

/// `x-amz-copy-source`: `bucket/key`, URL-encoded, with an optional
/// `?versionId=`.
fn copy_source(call: &Call<'_>) -> S3Result<(String, String, Option<String>)> {
    let raw = call.header("x-amz-copy-source").unwrap_or_default();
    let invalid = || errors::invalid_argument("Invalid copy source object key", "x-amz-copy-source", raw);
    let (path, version_id) = match raw.split_once("?versionId=") {
        Some((path, version_id)) => (path, Some(version_id.to_owned())),
        None => (raw, None),
    };
    let decoded = String::from_utf8(nubo_host::sigv4::percent_decode_bytes(path.as_bytes())).map_err(|_| invalid())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid().into());
    }
    Ok((bucket.to_owned(), key.to_owned(), version_id))
}

/// The source version of a copy, after its own preconditions.
pub async fn copy_source_version(s3: &S3, call: &Call<'_>) -> S3Result<(Bucket, String, Version)> {
    let (source_bucket, source_key, version_id) = copy_source(call)?;
    let source = s3.readable_bucket(call, &source_bucket, &source_key).await?;
    let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&source.name), &source_key).await?;
    let record = stored.map(|stored| stored.value);
    let version = match &version_id {
        Some(version_id) => record
            .as_ref()
            .and_then(|record| record.version(version_id))
            .filter(|version| !version.delete_marker)
            .ok_or_else(|| errors::no_such_version(&source_key, version_id))?,
        None => record.as_ref().and_then(ObjectRecord::current).ok_or_else(|| errors::no_such_key(&source_key))?,
    }
    .clone();
    conditions::check_copy_source(call, &version)?;
    Ok((source, source_key, version))
}

pub async fn copy(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let (source_bucket, source_key, source) = copy_source_version(s3, call).await?;
    let key = call.key().to_owned();
    let replace_metadata = match call.header("x-amz-metadata-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(
                errors::invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", other).into()
            );
        }
    };
    let replace_tags = match call.header("x-amz-tagging-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(errors::invalid_argument("Unknown tagging directive.", "x-amz-tagging-directive", other).into());
        }
    };
    let storage_class = storage_class(call)?;
    let same_object = source_bucket.name == bucket.name && source_key == key;
    if same_object
        && !replace_metadata
        && storage_class.is_none()
        && call.header("x-amz-website-redirect-location").is_none()
    {
        return Err(errors::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        )
        .into());
    }
    let algorithm = match call.header("x-amz-checksum-algorithm") {
        Some(name) => checksums::algorithm_named(name).ok_or_else(|| {
            errors::invalid_argument(
                "Value for x-amz-checksum-algorithm header is invalid.",
                "x-amz-checksum-algorithm",
                name,
            )
        })?,
        None => source
            .checksum
            .as_ref()
            .and_then(|checksum| checksums::algorithm_named(&checksum.algorithm))
            .unwrap_or(ChecksumAlgorithm::Crc64Nvme),
    };
    let condition = WriteCondition::from_call(call)?;
    let body = read_segments(s3, &source.segments, 0..source.size);
    let written =
        s3.blobs.write_or_inline(&bucket.name, body, &[algorithm], inline_max(bucket)).await.map_err(|error| {
            match error {
                WriteError::Body(error) | WriteError::Blob(error) => S3Error::from(error),
            }
        })?;
    let version = Version {
        version_id: new_version_id(bucket),
        delete_marker: false,
        last_modified_unix_ms: chrono::Utc::now().timestamp_millis(),
        segments: vec![Segment::from(&written)],
        size: written.size,
        etag: format!("\"{}\"", written.md5_hex),
        headers: if replace_metadata { content_headers(call) } else { source.headers.clone() },
        metadata: if replace_metadata { user_metadata(call)? } else { source.metadata.clone() },
        checksum: Some(stored_checksum(&written, algorithm)),
        storage_class: storage_class.or_else(|| if replace_metadata { None } else { source.storage_class.clone() }),
        tags: if replace_tags { header_tags(call)? } else { source.tags.clone() },
        parts: Vec::new(),
        acl: super::permissions::requested_acl(call, bucket)?,
    };
    // On failure the blob stays: a failure may be one data applied all
    // the same (a timeout), and an unnamed blob is the collector's.
    let version = commit(s3, bucket, &key, version, &condition).await?;
    created(s3, call, bucket, "ObjectCreated:Copy", &key, &version);
    let mut xml = Xml::document("CopyObjectResult");
    xml.element("ETag", &version.etag).element("LastModified", &xml::timestamp(version.last_modified_unix_ms));
    if let Some(checksum) = &version.checksum {
        xml.element("ChecksumType", &checksum.kind);
        xml.element(&format!("Checksum{}", checksum.algorithm), &checksum.value);
    }
    let mut response = HttpResponse::Ok();
    response.content_type("application/xml").insert_header(("x-amz-server-side-encryption", "AES256"));
    version_header(&mut response, bucket, &version);
    if source_bucket.versioning != Versioning::Unversioned {
        response.insert_header(("x-amz-copy-source-version-id", source.version_id.as_str()));
    }
    Ok(response.body(xml.finish()))
}

pub fn stored_checksum(written: &Written, algorithm: ChecksumAlgorithm) -> crate::catalog::StoredChecksum {
    crate::catalog::StoredChecksum {
        algorithm: algorithm.name().into(),
        value: written
            .checksums
            .iter()
            .find(|(computed, _)| *computed == algorithm)
            .map(|(_, value)| value.clone())
            .unwrap_or_default(),
        kind: "FULL_OBJECT".into(),
    }
}

pub async fn attributes(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let key = call.key().to_owned();
    let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), &key).await?;
    let version = addressed(call, stored.as_ref().map(|stored| &stored.value), &key)?.clone();
    let asked: Vec<String> = call
        .request
        .headers()
        .get_all("x-amz-object-attributes")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    if asked.is_empty() {
        return Err(errors::invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes", "").into());
    }
    let mut xml = Xml::document("GetObjectAttributesResponse");
    for name in &asked {
        match name.as_str() {
            "ETag" => {
                xml.element("ETag", version.etag.trim_matches('"'));
            }
            "Checksum" => {
                if let Some(checksum) = &version.checksum {
                    xml.open("Checksum")
                        .element(&format!("Checksum{}", checksum.algorithm), &checksum.value)
                        .element("ChecksumType", &checksum.kind)
                        .close();
                }
            }
            "ObjectParts" => {
                if !version.parts.is_empty() {
                    xml.open("ObjectParts").element("TotalPartsCount", &version.parts.len().to_string());
                    xml.element("PartNumberMarker", "0")
                        .element("NextPartNumberMarker", &version.parts.len().to_string())
                        .element("MaxParts", "1000")
                        .element("IsTruncated", "false");
                    for part in &version.parts {
                        xml.open("Part")
                            .element("PartNumber", &part.number.to_string())
                            .element("Size", &part.size.to_string());
                        if let (Some(value), Some(checksum)) = (&part.checksum, &version.checksum) {
                            xml.element(&format!("Checksum{}", checksum.algorithm), value);
                        }
                        xml.close();
                    }
                    xml.close();
                }
            }
            "StorageClass" => {
                xml.element("StorageClass", version.storage_class());
            }
            "ObjectSize" => {
                xml.element("ObjectSize", &version.size.to_string());
            }
            other => {
                return Err(errors::invalid_argument(
                    "Invalid attribute name specified.",
                    "x-amz-object-attributes",
                    other,
                )
                .into());
            }
        }
    }
    let mut response = HttpResponse::Ok();
    response
        .content_type("application/xml")
        .insert_header(("Last-Modified", xml::http_date(version.last_modified_unix_ms)));
    version_header(&mut response, bucket, &version);
    Ok(response.body(xml.finish()))
}

/// Rewrites the tags of one version of a key.
async fn retag(s3: &S3, call: &Call<'_>, bucket: &Bucket, tags: Vec<(String, String)>) -> S3Result<Version> {
    let key = call.key();
    let namespace = objects_of(&bucket.name);
    for _ in 0..COMMIT_ATTEMPTS {
        let stored = s3.catalog.get::<ObjectRecord>(&namespace, key).await?;
        let record_version = stored.as_ref().map(|stored| stored.version).unwrap_or_default();
        let mut record = stored.map(|stored| stored.value).unwrap_or_default();
        let target = addressed(call, Some(&record), key)?.version_id.clone();
        let Some(version) = record.versions.iter_mut().find(|version| version.version_id == target) else {
            return Err(errors::no_such_key(key).into());
        };
        version.tags = tags.clone();
        let changed = version.clone();
        if s3.catalog.put(&namespace, key, &record, record_version).await? {
            return Ok(changed);
        }
    }
    Err(errors::conflict().into())
}

pub async fn put_tagging(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let tags = buckets::parse_tags(&body, 10)?;
    let version = retag(s3, call, bucket, tags).await?;
    let mut response = HttpResponse::Ok();
    version_header(&mut response, bucket, &version);
    Ok(response.finish())
}

pub async fn get_tagging(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let key = call.key().to_owned();
    let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), &key).await?;
    let version = addressed(call, stored.as_ref().map(|stored| &stored.value), &key)?;
    let mut response = HttpResponse::Ok();
    response.content_type("application/xml");
    version_header(&mut response, bucket, version);
    Ok(response.body(buckets::tagging_document(&version.tags).finish()))
}

pub async fn delete_tagging(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let version = retag(s3, call, bucket, Vec::new()).await?;
    let mut response = HttpResponse::NoContent();
    version_header(&mut response, bucket, &version);
    Ok(response.finish())
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<Delete>(body);
}
