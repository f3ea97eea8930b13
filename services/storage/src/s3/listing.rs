//! ListObjects, ListObjectsV2 and ListObjectVersions over a bucket's
//! records, which data keeps in S3's UTF-8 byte order. With a delimiter,
//! keys roll up into CommonPrefixes, each counted once toward `max-keys`
//! and never repeated on a later page: a page that starts after a common
//! prefix skips every key under it.

use actix_web::HttpResponse;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{
    Call, S3,
    buckets::{canonical_id, xml_response},
    errors::{self, S3Result},
    xml::{self, Xml},
};
use crate::catalog::{Bucket, ObjectRecord, Version, objects_of};

/// Records read from data per call while a page fills.
const BATCH: u32 = 1000;

/// One entry of a listing page.
#[derive(Debug)]
enum Entry {
    Object { key: String, record: ObjectRecord },
    Prefix(String),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Object { key, .. } => key,
            Entry::Prefix(prefix) => prefix,
        }
    }
}

/// A page of a bucket's keys, rolled up by `delimiter`.
#[derive(Debug)]
struct Page {
    entries: Vec<Entry>,
    truncated: bool,
}

/// Walks the bucket from after `start_after`, keeping keys under `prefix`
/// that `keep` accepts, until `max` entries are in hand and one more exists.
async fn page(
    s3: &S3,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    start_after: &str,
    max: usize,
    keep: impl Fn(&ObjectRecord) -> bool,
) -> S3Result<Page> {
    let namespace = objects_of(bucket);
    let mut entries = Vec::new();
    let mut cursor = start_after.to_owned();
    // A page that starts after a common prefix must not list it again.
    let mut last_prefix: Option<String> =
        delimiter.filter(|delimiter| start_after.ends_with(delimiter)).map(|_| start_after.to_owned());
    loop {
        let (records, more) = s3.catalog.list::<ObjectRecord>(&namespace, prefix, &cursor, BATCH).await?;
        let mut skip_to = None;
        for (key, record) in records {
            cursor.clone_from(&key);
            if !keep(&record.value) {
                continue;
            }
            let rolled = delimiter.filter(|delimiter| !delimiter.is_empty()).and_then(|delimiter| {
                key[prefix.len()..].find(delimiter).map(|at| key[..prefix.len() + at + delimiter.len()].to_owned())
            });
            match rolled {
                Some(common) if last_prefix.as_deref() == Some(common.as_str()) => continue,
                Some(common) => {
                    if entries.len() == max {
                        return Ok(Page { entries, truncated: true });
                    }
                    last_prefix = Some(common.clone());
                    // Everything under this prefix is one entry: jump past it.
                    skip_to = Some(format!("{common}\u{10FFFF}"));
                    entries.push(Entry::Prefix(common));
                    break;
                }
                None => {
                    if entries.len() == max {
                        return Ok(Page { entries, truncated: true });
                    }
                    entries.push(Entry::Object { key, record: record.value });
                }
            }
        }
        match skip_to {
            Some(next) => cursor = next,
            None if !more => return Ok(Page { entries, truncated: false }),
            None => {}
        }
    }
}

/// `max-keys` as asked (echoed in the answer) and as served: at most 1,000.
fn max_keys(call: &Call<'_>) -> S3Result<(usize, i64)> {
    match call.query.get("max-keys") {
        None => Ok((1000, 1000)),
        Some(text) => match text.parse::<i64>() {
            Ok(max) if max >= 0 => Ok((usize::try_from(max.min(1000)).unwrap_or(1000), max)),
            _ => Err(errors::invalid_argument(
                "Provided max-keys not an integer or within integer range",
                "max-keys",
                text,
            )
            .into()),
        },
    }
}

/// `encoding-type=url`: keys and prefixes percent-encoded in the answer.
fn encoder(call: &Call<'_>) -> S3Result<impl Fn(&str) -> String + use<>> {
    let url = match call.query.get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => {
            return Err(errors::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                other,
            )
            .into());
        }
    };
    Ok(move |text: &str| if url { nubo_host::sigv4::uri_encode(text, false) } else { text.to_owned() })
}

fn owner(xml: &mut Xml, bucket: &Bucket) {
    xml.open("Owner").element("ID", &canonical_id(&bucket.owner)).element("DisplayName", "owner").close();
}

fn object_fields(xml: &mut Xml, key: &str, version: &Version, encode: &impl Fn(&str) -> String) {
    xml.element("Key", &encode(key))
        .element("LastModified", &xml::timestamp(version.last_modified_unix_ms))
        .element("ETag", &version.etag);
    if let Some(checksum) = &version.checksum {
        xml.element("ChecksumAlgorithm", &checksum.algorithm).element("ChecksumType", &checksum.kind);
    }
    xml.element("Size", &version.size.to_string()).element("StorageClass", version.storage_class());
}

pub async fn list_objects(s3: &S3, call: &mut Call<'_>, bucket: &Bucket, v2: bool) -> S3Result<HttpResponse> {
    let prefix = call.query.get("prefix").unwrap_or_default().to_owned();
    let delimiter = call.query.get("delimiter").filter(|delimiter| !delimiter.is_empty()).map(str::to_owned);
    let (max, asked) = max_keys(call)?;
    let encode = encoder(call)?;
    let start_after = if v2 {
        match call.query.get("continuation-token") {
            Some(token) => decode_token(token)?,
            None => call.query.get("start-after").unwrap_or_default().to_owned(),
        }
    } else {
        call.query.get("marker").unwrap_or_default().to_owned()
    };
    let page = if max == 0 {
        Page { entries: Vec::new(), truncated: false }
    } else {
        page(s3, &bucket.name, &prefix, delimiter.as_deref(), &start_after, max, |record| record.current().is_some())
            .await?
    };
    let fetch_owner = !v2 || call.query.get("fetch-owner") == Some("true");

    let mut xml = Xml::document("ListBucketResult");
    xml.element("Name", &bucket.name).element("Prefix", &encode(&prefix));
    if v2 {
        if let Some(token) = call.query.get("continuation-token") {
            xml.element("ContinuationToken", token);
        }
        if let Some(after) = call.query.get("start-after") {
            xml.element("StartAfter", &encode(after));
        }
        xml.element("KeyCount", &page.entries.len().to_string());
    } else {
        xml.element("Marker", &encode(call.query.get("marker").unwrap_or_default()));
    }
    xml.element("MaxKeys", &asked.to_string());
    if let Some(delimiter) = &delimiter {
        xml.element("Delimiter", &encode(delimiter));
    }
    if call.query.get("encoding-type") == Some("url") {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated
        && let Some(last) = page.entries.last()
    {
        if v2 {
            xml.element("NextContinuationToken", &URL_SAFE_NO_PAD.encode(last.name()));
        } else if delimiter.is_some() {
            // V1 names NextMarker only with a delimiter; without one the
            // client continues from its last key.
            xml.element("NextMarker", &encode(last.name()));
        }
    }
    for entry in &page.entries {
        if let Entry::Object { key, record } = entry
            && let Some(version) = record.current()
        {
            xml.open("Contents");
            object_fields(&mut xml, key, version, &encode);
            if fetch_owner {
                owner(&mut xml, bucket);
            }
            xml.close();
        }
    }
    for entry in &page.entries {
        if let Entry::Prefix(common) = entry {
            xml.open("CommonPrefixes").element("Prefix", &encode(common)).close();
        }
    }
    Ok(xml_response(xml))
}

fn decode_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD.decode(token).ok().and_then(|raw| String::from_utf8(raw).ok()).ok_or_else(|| {
        errors::invalid_argument("The continuation token provided is incorrect", "continuation-token", token).into()
    })
}

pub async fn list_versions(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let prefix = call.query.get("prefix").unwrap_or_default().to_owned();
    let delimiter = call.query.get("delimiter").filter(|delimiter| !delimiter.is_empty()).map(str::to_owned);
    let (max, asked) = max_keys(call)?;
    let encode = encoder(call)?;
    let key_marker = call.query.get("key-marker").unwrap_or_default().to_owned();
    let version_marker = call.query.get("version-id-marker").filter(|marker| !marker.is_empty()).map(str::to_owned);
    if version_marker.is_some() && key_marker.is_empty() {
        return Err(errors::invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
            "version-id-marker",
            version_marker.as_deref().unwrap_or_default(),
        )
        .into());
    }
    // Versions count toward max-keys one by one; a page of `max` keys
    // holds at least `max` versions.
    let mut listed = page(s3, &bucket.name, &prefix, delimiter.as_deref(), &key_marker, max.max(1), |record| {
        !record.versions.is_empty()
    })
    .await?;
    // A version marker resumes within its key: the rest of that key's
    // versions come first.
    if version_marker.is_some()
        && let Some(stored) = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), &key_marker).await?
    {
        listed.entries.insert(0, Entry::Object { key: key_marker.clone(), record: stored.value });
    }

    let mut rows: Vec<(&str, &Version, bool)> = Vec::new();
    let mut prefixes: Vec<&str> = Vec::new();
    let mut truncated = listed.truncated;
    // The last entry returned: a page resumes after it (a common prefix
    // resumes past every key under it).
    let mut last: Option<(String, Option<String>)> = None;
    'entries: for entry in &listed.entries {
        match entry {
            Entry::Prefix(common) => {
                if rows.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                prefixes.push(common);
                last = Some((common.clone(), None));
            }
            Entry::Object { key, record } => {
                let mut versions: Vec<(usize, &Version)> = record.versions.iter().enumerate().collect();
                if let Some(marker) = &version_marker
                    && *key == key_marker
                {
                    match versions.iter().position(|(_, version)| version.version_id == *marker) {
                        Some(at) => versions.drain(..=at),
                        None => versions.drain(..0),
                    };
                }
                for (index, version) in versions {
                    if rows.len() + prefixes.len() == max {
                        truncated = true;
                        break 'entries;
                    }
                    rows.push((key, version, index == 0));
                    last = Some((key.clone(), Some(version.version_id.clone())));
                }
            }
        }
    }
    let next = if truncated { last } else { None };
    let mut xml = Xml::document("ListVersionsResult");
    xml.element("Name", &bucket.name)
        .element("Prefix", &encode(&prefix))
        .element("KeyMarker", &encode(&key_marker))
        .element("VersionIdMarker", version_marker.as_deref().unwrap_or_default());
    if let Some((key, version_id)) = &next {
        xml.element("NextKeyMarker", &encode(key));
        xml.optional("NextVersionIdMarker", version_id.as_deref());
    }
    xml.element("MaxKeys", &asked.to_string());
    if let Some(delimiter) = &delimiter {
        xml.element("Delimiter", &encode(delimiter));
    }
    if call.query.get("encoding-type") == Some("url") {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", if truncated { "true" } else { "false" });
    for (key, version, latest) in &rows {
        if version.delete_marker {
            xml.open("DeleteMarker")
                .element("Key", &encode(key))
                .element("VersionId", &version.version_id)
                .element("IsLatest", if *latest { "true" } else { "false" })
                .element("LastModified", &xml::timestamp(version.last_modified_unix_ms));
            owner(&mut xml, bucket);
            xml.close();
        } else {
            xml.open("Version")
                .element("Key", &encode(key))
                .element("VersionId", &version.version_id)
                .element("IsLatest", if *latest { "true" } else { "false" })
                .element("LastModified", &xml::timestamp(version.last_modified_unix_ms))
                .element("ETag", &version.etag)
                .element("Size", &version.size.to_string())
                .element("StorageClass", version.storage_class());
            owner(&mut xml, bucket);
            xml.close();
        }
    }
    for common in prefixes {
        xml.open("CommonPrefixes").element("Prefix", &encode(common)).close();
    }
    Ok(xml_response(xml))
}
