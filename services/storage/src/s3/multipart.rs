//! Multipart uploads. An upload is a record; each part is a blob and a
//! record of its own, so parallel parts never contend. Completing names
//! the listed parts' blobs, in order, as the object's segments (no bytes
//! are copied) and collects every part not listed; aborting collects them
//! all. Nothing of an upload is visible until it completes.

use actix_web::HttpResponse;
use md5::{Digest as _, Md5};
use nubo_host::{front::AwsError, sigv4::ChecksumAlgorithm};
use serde::Deserialize;

use super::{
    Call, S3,
    buckets::{canonical_id, xml_response},
    checksums,
    conditions::{self, RangeRequest, WriteCondition},
    errors::{self, S3Result},
    objects::{self, MAX_PUT},
    xml::{self, Xml},
};
use crate::{
    blobs::{BlobError, WriteError},
    catalog::{Bucket, Part, PartSummary, Segment, Upload, Version, Versioned, part_key, parts_of, uploads_of},
};

/// The smallest part S3 accepts, the last one excepted.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PARTS: u32 = 10_000;

fn part_number(call: &Call<'_>) -> S3Result<u32> {
    let text = call.query.get("partNumber").unwrap_or_default();
    match text.parse::<u32>() {
        Ok(number) if (1..=MAX_PARTS).contains(&number) => Ok(number),
        _ => Err(errors::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            text,
        )
        .into()),
    }
}

/// The upload a request names, which must be for the key it addresses.
async fn upload_of(s3: &S3, call: &Call<'_>, bucket: &Bucket) -> S3Result<Upload> {
    Ok(stored_upload(s3, call, bucket).await?.value)
}

/// The upload and its record version; one being completed is gone already.
async fn stored_upload(s3: &S3, call: &Call<'_>, bucket: &Bucket) -> S3Result<Versioned<Upload>> {
    let upload_id = call.query.get("uploadId").unwrap_or_default();
    let upload = s3.catalog.get::<Upload>(&uploads_of(&bucket.name), upload_id).await?;
    match upload {
        Some(upload) if upload.value.key == call.key() && !upload.value.completing => Ok(upload),
        _ => Err(errors::no_such_upload(upload_id).into()),
    }
}

/// Claims an upload for its completion: a compare-and-set, so of two
/// completions (or a completion and an abort) exactly one goes on.
async fn claim(s3: &S3, call: &Call<'_>, bucket: &Bucket) -> S3Result<Versioned<Upload>> {
    let mut stored = stored_upload(s3, call, bucket).await?;
    stored.value.completing = true;
    let namespace = uploads_of(&bucket.name);
    match s3.catalog.put_returning(&namespace, &stored.value.upload_id, &stored.value, stored.version).await? {
        Some(version) => {
            stored.version = version;
            Ok(stored)
        }
        None => Err(errors::no_such_upload(&stored.value.upload_id).into()),
    }
}

/// Gives a claimed upload back after a completion that failed, so the
/// client can correct its request and complete again.
async fn release(s3: &S3, claimed: &Versioned<Upload>) {
    let mut upload = claimed.value.clone();
    upload.completing = false;
    if let Err(error) = s3.catalog.put(&uploads_of(&upload.bucket), &upload.upload_id, &upload, claimed.version).await {
        tracing::warn!(error = %error, upload = %upload.upload_id, "a failed completion could not release its upload");
    }
}

/// The checksum type an upload's algorithm allows, as S3 decides it.
fn checksum_type(algorithm: Option<ChecksumAlgorithm>, asked: Option<&str>) -> S3Result<Option<String>> {
    let Some(algorithm) = algorithm else {
        return match asked {
            None => Ok(None),
            Some(_) => Err(errors::invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            )
            .into()),
        };
    };
    let kind = match (algorithm, asked) {
        (ChecksumAlgorithm::Crc64Nvme, None | Some("FULL_OBJECT")) => "FULL_OBJECT",
        (ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c, None | Some("COMPOSITE")) => "COMPOSITE",
        (ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c, Some("FULL_OBJECT")) => "FULL_OBJECT",
        (ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256, None | Some("COMPOSITE")) => "COMPOSITE",
        (_, Some(other)) if other != "FULL_OBJECT" && other != "COMPOSITE" => {
            return Err(errors::invalid_argument(
                "Value for x-amz-checksum-type header is invalid.",
                "x-amz-checksum-type",
                other,
            )
            .into());
        }
        (algorithm, Some(kind)) => {
            return Err(errors::invalid_request(format!(
                "The {kind} checksum type cannot be used with the {} checksum algorithm.",
                algorithm.name().to_ascii_lowercase()
            ))
            .into());
        }
    };
    Ok(Some(kind.to_owned()))
}

pub async fn create(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let algorithm = match call.header("x-amz-checksum-algorithm") {
        Some(name) => Some(checksums::algorithm_named(name).ok_or_else(|| {
            errors::invalid_argument(
                "Value for x-amz-checksum-algorithm header is invalid.",
                "x-amz-checksum-algorithm",
                name,
            )
        })?),
        None => None,
    };
    let kind = checksum_type(algorithm, call.header("x-amz-checksum-type"))?;
    let upload = Upload {
        bucket: bucket.name.clone(),
        key: call.key().to_owned(),
        upload_id: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
        initiated_unix_ms: chrono::Utc::now().timestamp_millis(),
        owner: call.owner().unwrap_or_default(),
        acl: super::permissions::requested_acl(call, bucket)?,
        headers: objects::content_headers(call),
        metadata: objects::user_metadata(call)?,
        storage_class: objects::storage_class(call)?,
        tags: objects::header_tags(call)?,
        checksum_algorithm: algorithm.map(|algorithm| algorithm.name().to_owned()),
        checksum_type: kind,
        completing: false,
    };
    s3.catalog.put(&uploads_of(&bucket.name), &upload.upload_id, &upload, 0).await?;
    let mut xml = Xml::document("InitiateMultipartUploadResult");
    xml.element("Bucket", &bucket.name).element("Key", &upload.key).element("UploadId", &upload.upload_id);
    let mut response = HttpResponse::Ok();
    response.content_type("application/xml").insert_header(("x-amz-server-side-encryption", "AES256"));
    if let (Some(algorithm), Some(kind)) = (&upload.checksum_algorithm, &upload.checksum_type) {
        response
            .insert_header(("x-amz-checksum-algorithm", algorithm.as_str()))
            .insert_header(("x-amz-checksum-type", kind.as_str()));
    }
    Ok(response.body(xml.finish()))
}

/// The last byte a `bytes=first-last` range names.
fn exact_last(header: &str) -> Option<u64> {
    header.trim().rsplit_once('-').and_then(|(_, last)| last.trim().parse().ok())
}

fn upload_algorithm(upload: &Upload) -> Option<ChecksumAlgorithm> {
    upload.checksum_algorithm.as_deref().and_then(checksums::algorithm_named)
}

pub async fn upload_part(s3: &S3, call: &mut Call<'_>, bucket: &Bucket, copy: bool) -> S3Result<HttpResponse> {
    let number = part_number(call)?;
    let upload = upload_of(s3, call, bucket).await?;
    let declared = upload_algorithm(&upload);
    let (written, copied_from) = if copy {
        let (source_bucket, _, source) = objects::copy_source_version(s3, call).await?;
        let range = match call.header("x-amz-copy-source-range") {
            None => 0..source.size,
            Some(header) => match conditions::range(Some(header), source.size) {
                // A copy range is exact, `bytes=first-last`, and inside the source.
                Ok(RangeRequest::Partial(range))
                    if header.trim().starts_with("bytes=")
                        && !header.contains("=-")
                        && exact_last(header).is_some_and(|last| last < source.size) =>
                {
                    range
                }
                _ => {
                    return Err(errors::invalid_argument(
                        format!("Range specified is not valid for source object of size: {}", source.size),
                        "x-amz-copy-source-range",
                        header,
                    )
                    .into());
                }
            },
        };
        if range.end - range.start > MAX_PUT {
            return Err(AwsError::new(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed object size.",
            )
            .into());
        }
        let mut algorithms = vec![ChecksumAlgorithm::Crc64Nvme];
        if let Some(algorithm) = declared.filter(|algorithm| *algorithm != ChecksumAlgorithm::Crc64Nvme) {
            algorithms.push(algorithm);
        }
        let body = objects::read_segments(s3, &source.segments, range);
        let written = s3.blobs.write(&bucket.name, body, &algorithms).await.map_err(|error| match error {
            WriteError::Body(error) | WriteError::Blob(error) => errors::S3Error::from(error),
        })?;
        let version_id =
            (source_bucket.versioning != crate::catalog::Versioning::Unversioned).then_some(source.version_id);
        (written, Some(version_id))
    } else {
        objects::check_upload_size(call, MAX_PUT)?;
        let expected = checksums::expected(call, declared.unwrap_or(ChecksumAlgorithm::Crc64Nvme))?;
        if let Some(declared) = declared
            && declared != expected.algorithm
        {
            return Err(errors::invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                declared.name().to_ascii_lowercase(),
                expected.algorithm.name().to_ascii_lowercase()
            ))
            .into());
        }
        let mut algorithms = expected.algorithms();
        if !algorithms.contains(&ChecksumAlgorithm::Crc64Nvme) {
            algorithms.push(ChecksumAlgorithm::Crc64Nvme);
        }
        let body = call.body_stream()?;
        let written = s3.blobs.write(&bucket.name, body, &algorithms).await.map_err(|error| match error {
            WriteError::Body(error) => objects::body_error(error),
            WriteError::Blob(error) => error.into(),
        })?;
        if let Err(error) = expected.verify(&written) {
            s3.blobs.delete_all(written.blob()).await;
            return Err(error.into());
        }
        (written, None)
    };
    let value_of = |algorithm: ChecksumAlgorithm| {
        written.checksums.iter().find(|(computed, _)| *computed == algorithm).map(|(_, value)| value.clone())
    };
    // `write` keeps nothing inline: a part is always a blob.
    let Some(blob) = written.blob() else {
        return Err(BlobError::Io(std::io::Error::other("an uploaded part was kept without a blob")).into());
    };
    let part = Part {
        number,
        blob,
        size: written.size,
        etag: format!("\"{}\"", written.md5_hex),
        last_modified_unix_ms: chrono::Utc::now().timestamp_millis(),
        checksum: declared.and_then(value_of),
        crc64nvme: value_of(ChecksumAlgorithm::Crc64Nvme).unwrap_or_default(),
    };
    let namespace = parts_of(&upload.upload_id);
    // A replaced part's blob is left to the collector: a completion that
    // read the old record may have named it.
    s3.catalog.put_any(&namespace, &part_key(number), &part).await?;
    // An abort or a completion that raced this part has already taken the
    // upload's parts: this record goes too (its blob, unnamed, is collected).
    let current = s3.catalog.get::<Upload>(&uploads_of(&bucket.name), &upload.upload_id).await?;
    if current.is_none_or(|current| current.value.completing) {
        s3.catalog.delete(&namespace, &part_key(number), None).await?;
        return Err(errors::no_such_upload(&upload.upload_id).into());
    }
    match copied_from {
        Some(source_version) => {
            let mut xml = Xml::document("CopyPartResult");
            xml.element("ETag", &part.etag).element("LastModified", &xml::timestamp(part.last_modified_unix_ms));
            if let (Some(algorithm), Some(value)) = (declared, &part.checksum) {
                xml.element(&format!("Checksum{}", algorithm.name()), value);
            }
            let mut response = HttpResponse::Ok();
            response.content_type("application/xml");
            if let Some(version_id) = source_version {
                response.insert_header(("x-amz-copy-source-version-id", version_id));
            }
            Ok(response.body(xml.finish()))
        }
        None => {
            let mut response = HttpResponse::Ok();
            response
                .insert_header(("ETag", part.etag.as_str()))
                .insert_header(("x-amz-server-side-encryption", "AES256"));
            if let (Some(algorithm), Some(value)) = (declared, &part.checksum) {
                response.insert_header((algorithm.header_name(), value.as_str()));
            } else if call.header("x-amz-trailer").is_some() || call.header("x-amz-sdk-checksum-algorithm").is_some() {
                // The client's own checksum of the part, echoed.
                if let Ok(expected) = checksums::expected(call, ChecksumAlgorithm::Crc64Nvme)
                    && let Some(value) = value_of(expected.algorithm)
                {
                    response.insert_header((expected.algorithm.header_name(), value));
                }
            }
            Ok(response.finish())
        }
    }
}

/// Every part record of an upload, in part order.
pub(super) async fn parts(s3: &S3, upload_id: &str) -> S3Result<Vec<Part>> {
    let namespace = parts_of(upload_id);
    let mut parts = Vec::new();
    let mut cursor = String::new();
    loop {
        let (page, more) = s3.catalog.list::<Part>(&namespace, "", &cursor, 1000).await?;
        if let Some((last, _)) = page.last() {
            cursor.clone_from(last);
        }
        parts.extend(page.into_iter().map(|(_, part)| part.value));
        if !more {
            return Ok(parts);
        }
    }
}

/// Removes an upload, its parts' records and their blobs, except the
/// blobs in `keep` (a completed object's segments).
/// Removes an upload (unless a completion claimed it since `seen`) and its
/// part records. The parts' blobs are left to the collector: a completed
/// object may name them, and one no record names goes after its grace.
pub async fn discard(s3: &S3, upload: &Upload, seen: Option<u64>) -> S3Result<bool> {
    // The upload record goes first: a part that races it sees it gone.
    if !s3.catalog.delete(&uploads_of(&upload.bucket), &upload.upload_id, seen).await? {
        return Ok(false);
    }
    let namespace = parts_of(&upload.upload_id);
    for part in parts(s3, &upload.upload_id).await? {
        s3.catalog.delete(&namespace, &part_key(part.number), None).await?;
    }
    Ok(true)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompletedPart {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "ChecksumCRC32")]
    checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    checksum_sha256: Option<String>,
}

impl CompletedPart {
    fn checksum(&self, algorithm: ChecksumAlgorithm) -> Option<&str> {
        match algorithm {
            ChecksumAlgorithm::Crc32 => self.checksum_crc32.as_deref(),
            ChecksumAlgorithm::Crc32c => self.checksum_crc32c.as_deref(),
            ChecksumAlgorithm::Crc64Nvme => self.checksum_crc64nvme.as_deref(),
            ChecksumAlgorithm::Sha1 => self.checksum_sha1.as_deref(),
            ChecksumAlgorithm::Sha256 => self.checksum_sha256.as_deref(),
        }
    }
}

fn invalid_part(number: u32, etag: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with("UploadId", "")
    .with("PartNumber", number)
    .with("ETag", etag)
}

pub async fn complete(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let condition = WriteCondition::from_call(call)?;
    let body = call.body().await?;
    let request: CompleteMultipartUpload = xml::parse(&body)?;
    let claimed = claim(s3, call, bucket).await?;
    match complete_claimed(s3, call, bucket, &claimed.value, request, &condition).await {
        Ok(response) => Ok(response),
        Err(error) => {
            release(s3, &claimed).await;
            Err(error)
        }
    }
}

async fn complete_claimed(
    s3: &S3,
    call: &Call<'_>,
    bucket: &Bucket,
    upload: &Upload,
    request: CompleteMultipartUpload,
    condition: &WriteCondition,
) -> S3Result<HttpResponse> {
    let upload = upload.clone();
    if request.parts.is_empty() {
        return Err(xml::malformed().into());
    }
    if request.parts.windows(2).any(|pair| pair[0].part_number >= pair[1].part_number) {
        return Err(AwsError::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        )
        .with("UploadId", upload.upload_id.as_str())
        .into());
    }
    let stored = parts(s3, &upload.upload_id).await?;
    let algorithm = upload_algorithm(&upload);
    let mut chosen: Vec<&Part> = Vec::with_capacity(request.parts.len());
    for (index, listed) in request.parts.iter().enumerate() {
        let etag = listed.etag.trim().trim_matches('"');
        let part = stored
            .iter()
            .find(|part| part.number == listed.part_number && part.etag.trim_matches('"') == etag)
            .ok_or_else(|| {
                invalid_part(listed.part_number, &listed.etag).with("UploadId", upload.upload_id.as_str())
            })?;
        if let Some(algorithm) = algorithm
            && let Some(sent) = listed.checksum(algorithm)
            && part.checksum.as_deref() != Some(sent)
        {
            return Err(invalid_part(listed.part_number, &listed.etag)
                .with("UploadId", upload.upload_id.as_str())
                .into());
        }
        let last = index + 1 == request.parts.len();
        if !last && part.size < MIN_PART_SIZE {
            return Err(AwsError::new(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with("ProposedSize", part.size)
            .with("MinSizeAllowed", MIN_PART_SIZE)
            .with("PartNumber", part.number)
            .with("ETag", part.etag.trim_matches('"'))
            .into());
        }
        chosen.push(part);
    }
    let mut md5s = Md5::new();
    for part in &chosen {
        md5s.update(hex::decode(part.etag.trim_matches('"')).unwrap_or_default());
    }
    let etag = format!("\"{}-{}\"", hex::encode(md5s.finalize()), chosen.len());
    let checksum = match algorithm {
        Some(algorithm) => {
            let sums: Option<Vec<(String, u64)>> =
                chosen.iter().map(|part| part.checksum.clone().map(|value| (value, part.size))).collect();
            let full = upload.checksum_type.as_deref() == Some("FULL_OBJECT");
            sums.and_then(|sums| checksums::combine(algorithm, full, &sums))
        }
        None => {
            let sums: Vec<(String, u64)> = chosen.iter().map(|part| (part.crc64nvme.clone(), part.size)).collect();
            checksums::combine(ChecksumAlgorithm::Crc64Nvme, true, &sums)
        }
    };
    let version = Version {
        version_id: objects::new_version_id(bucket),
        delete_marker: false,
        last_modified_unix_ms: chrono::Utc::now().timestamp_millis(),
        segments: chosen.iter().map(|part| Segment::blob(part.blob.clone(), part.size)).collect(),
        size: chosen.iter().map(|part| part.size).sum(),
        etag,
        headers: upload.headers.clone(),
        metadata: upload.metadata.clone(),
        checksum,
        storage_class: upload.storage_class.clone(),
        tags: upload.tags.clone(),
        parts: chosen
            .iter()
            .map(|part| PartSummary { number: part.number, size: part.size, checksum: part.checksum.clone() })
            .collect(),
        acl: upload.acl.clone(),
    };
    let version = objects::commit(s3, bucket, &upload.key, version, condition).await?;
    discard(s3, &upload, None).await?;
    objects::created(s3, call, bucket, "ObjectCreated:CompleteMultipartUpload", &upload.key, &version);

    let mut xml = Xml::document("CompleteMultipartUploadResult");
    let location =
        format!("{}/{}/{}", location_base(call), bucket.name, nubo_host::sigv4::uri_encode(&upload.key, false));
    xml.element("Location", &location)
        .element("Bucket", &bucket.name)
        .element("Key", &upload.key)
        .element("ETag", &version.etag);
    if let Some(checksum) = &version.checksum
        && upload.checksum_algorithm.is_some()
    {
        xml.element(&format!("Checksum{}", checksum.algorithm), &checksum.value)
            .element("ChecksumType", &checksum.kind);
    }
    let mut response = HttpResponse::Ok();
    response.content_type("application/xml").insert_header(("x-amz-server-side-encryption", "AES256"));
    if bucket.versioning != crate::catalog::Versioning::Unversioned {
        response.insert_header(("x-amz-version-id", version.version_id.as_str()));
    }
    Ok(response.body(xml.finish()))
}

fn location_base(call: &Call<'_>) -> String {
    let info = call.request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

pub async fn abort(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let stored = stored_upload(s3, call, bucket).await?;
    if !discard(s3, &stored.value, Some(stored.version)).await? {
        // A completion claimed it in between.
        return Err(errors::no_such_upload(&stored.value.upload_id).into());
    }
    Ok(HttpResponse::NoContent().finish())
}

fn max_of(call: &Call<'_>, name: &str) -> S3Result<usize> {
    match call.query.get(name) {
        None => Ok(1000),
        Some(text) => match text.parse::<i64>() {
            Ok(max) if max >= 0 => Ok(usize::try_from(max.min(1000)).unwrap_or(1000)),
            _ => Err(errors::invalid_argument(
                format!("Provided {name} not an integer or within integer range"),
                name,
                text,
            )
            .into()),
        },
    }
}

pub async fn list_parts(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let upload = upload_of(s3, call, bucket).await?;
    let max = max_of(call, "max-parts")?;
    let marker: u32 = call.query.get("part-number-marker").and_then(|text| text.parse().ok()).unwrap_or(0);
    let all = parts(s3, &upload.upload_id).await?;
    let after: Vec<&Part> = all.iter().filter(|part| part.number > marker).collect();
    let truncated = after.len() > max;
    let page = &after[..after.len().min(max)];
    let algorithm = upload_algorithm(&upload);
    let mut xml = Xml::document("ListPartsResult");
    xml.element("Bucket", &bucket.name).element("Key", &upload.key).element("UploadId", &upload.upload_id);
    xml.element("PartNumberMarker", &marker.to_string());
    if let Some(last) = page.last() {
        xml.element("NextPartNumberMarker", &last.number.to_string());
    }
    xml.element("MaxParts", &max.to_string()).element("IsTruncated", if truncated { "true" } else { "false" });
    for part in page {
        xml.open("Part")
            .element("PartNumber", &part.number.to_string())
            .element("LastModified", &xml::timestamp(part.last_modified_unix_ms))
            .element("ETag", &part.etag)
            .element("Size", &part.size.to_string());
        if let (Some(algorithm), Some(value)) = (algorithm, &part.checksum) {
            xml.element(&format!("Checksum{}", algorithm.name()), value);
        }
        xml.close();
    }
    people(&mut xml, &upload);
    xml.element("StorageClass", upload.storage_class.as_deref().unwrap_or("STANDARD"));
    if let (Some(algorithm), Some(kind)) = (&upload.checksum_algorithm, &upload.checksum_type) {
        xml.element("ChecksumAlgorithm", algorithm).element("ChecksumType", kind);
    }
    Ok(xml_response(xml))
}

fn people(xml: &mut Xml, upload: &Upload) {
    let id = canonical_id(&upload.owner);
    xml.open("Initiator").element("ID", &id).element("DisplayName", "owner").close();
    xml.open("Owner").element("ID", &id).element("DisplayName", "owner").close();
}

pub async fn list_uploads(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let max = max_of(call, "max-uploads")?;
    let prefix = call.query.get("prefix").unwrap_or_default().to_owned();
    let delimiter = call.query.get("delimiter").filter(|delimiter| !delimiter.is_empty()).map(str::to_owned);
    let key_marker = call.query.get("key-marker").unwrap_or_default().to_owned();
    let upload_marker = call.query.get("upload-id-marker").unwrap_or_default().to_owned();
    let namespace = uploads_of(&bucket.name);
    let mut uploads = Vec::new();
    let mut cursor = String::new();
    loop {
        let (page, more) = s3.catalog.list::<Upload>(&namespace, "", &cursor, 1000).await?;
        if let Some((last, _)) = page.last() {
            cursor.clone_from(last);
        }
        uploads
            .extend(page.into_iter().map(|(_, upload)| upload.value).filter(|upload| upload.key.starts_with(&prefix)));
        if !more {
            break;
        }
    }
    uploads
        .sort_by(|a, b| (&a.key, a.initiated_unix_ms, &a.upload_id).cmp(&(&b.key, b.initiated_unix_ms, &b.upload_id)));
    let resumed: Vec<&Upload> = uploads
        .iter()
        .filter(|upload| {
            key_marker.is_empty()
                || upload.key > key_marker
                || (!upload_marker.is_empty() && upload.key == key_marker && upload.upload_id > upload_marker)
        })
        .collect();
    let mut rows: Vec<&Upload> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    for upload in resumed {
        let rolled = delimiter.as_deref().and_then(|delimiter| {
            upload.key[prefix.len()..]
                .find(delimiter)
                .map(|at| upload.key[..prefix.len() + at + delimiter.len()].to_owned())
        });
        if let Some(common) = &rolled
            && prefixes.last() == Some(common)
        {
            continue;
        }
        if rows.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match rolled {
            Some(common) => prefixes.push(common),
            None => rows.push(upload),
        }
    }
    let mut xml = Xml::document("ListMultipartUploadsResult");
    xml.element("Bucket", &bucket.name).element("KeyMarker", &key_marker).element("UploadIdMarker", &upload_marker);
    if truncated && let Some(last) = rows.last() {
        xml.element("NextKeyMarker", &last.key).element("NextUploadIdMarker", &last.upload_id);
    }
    if !prefix.is_empty() {
        xml.element("Prefix", &prefix);
    }
    if let Some(delimiter) = &delimiter {
        xml.element("Delimiter", delimiter);
    }
    xml.element("MaxUploads", &max.to_string()).element("IsTruncated", if truncated { "true" } else { "false" });
    for upload in rows {
        xml.open("Upload").element("Key", &upload.key).element("UploadId", &upload.upload_id);
        people(&mut xml, upload);
        xml.element("StorageClass", upload.storage_class.as_deref().unwrap_or("STANDARD"))
            .element("Initiated", &xml::timestamp(upload.initiated_unix_ms));
        if let (Some(algorithm), Some(kind)) = (&upload.checksum_algorithm, &upload.checksum_type) {
            xml.element("ChecksumAlgorithm", algorithm).element("ChecksumType", kind);
        }
        xml.close();
    }
    for common in prefixes {
        xml.open("CommonPrefixes").element("Prefix", &common).close();
    }
    Ok(xml_response(xml))
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<CompleteMultipartUpload>(body);
}
