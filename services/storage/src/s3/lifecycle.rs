//! Lifecycle rules (Put/Get/DeleteBucketLifecycleConfiguration) and the
//! background task that applies them: expiring current versions (a delete
//! marker where the bucket is versioned), removing noncurrent versions and
//! expired delete markers, and aborting incomplete multipart uploads. The
//! task's interval and the length of a lifecycle "day" are settings, so a
//! test need not wait a day; transitions are accepted and not acted on
//! (nubo has one storage class).

use std::time::Duration;

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};

use super::{
    S3,
    buckets::{update, xml_response},
    errors::{self, S3Result},
    xml::{self, Xml},
};
use crate::catalog::{BUCKETS, Bucket, ObjectRecord, Upload, Versioning, objects_of, uploads_of};
use nubo_host::front::AwsError;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rule {
    pub id: Option<String>,
    pub enabled: bool,
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
    pub expiration_days: Option<u32>,
    /// `YYYY-MM-DDT00:00:00Z`, as put.
    pub expiration_date: Option<String>,
    pub expired_object_delete_marker: bool,
    pub noncurrent_days: Option<u32>,
    pub abort_incomplete_days: Option<u32>,
    /// Transitions as put (XML), returned and not acted on.
    pub transitions: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
struct LifecycleConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    status: String,
    prefix: Option<String>,
    filter: Option<FilterXml>,
    expiration: Option<ExpirationXml>,
    noncurrent_version_expiration: Option<NoncurrentXml>,
    abort_incomplete_multipart_upload: Option<AbortXml>,
    #[serde(rename = "Transition", default)]
    transitions: Vec<TransitionXml>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct FilterXml {
    prefix: Option<String>,
    tag: Option<TagXml>,
    and: Option<AndXml>,
    object_size_greater_than: Option<u64>,
    object_size_less_than: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct AndXml {
    prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagXml>,
    object_size_greater_than: Option<u64>,
    object_size_less_than: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagXml {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExpirationXml {
    days: Option<u32>,
    date: Option<String>,
    expired_object_delete_marker: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NoncurrentXml {
    noncurrent_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AbortXml {
    days_after_initiation: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransitionXml {
    days: Option<String>,
    storage_class: String,
}

fn invalid(message: &str) -> AwsError {
    errors::invalid_argument(message, "LifecycleConfiguration", "")
}

pub async fn put(s3: &S3, call: &mut super::Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: LifecycleConfiguration = xml::parse(&body)?;
    if configuration.rules.is_empty() || configuration.rules.len() > 1000 {
        return Err(xml::malformed().into());
    }
    let mut rules = Vec::new();
    for rule in configuration.rules {
        let enabled = match rule.status.as_str() {
            "Enabled" => true,
            "Disabled" => false,
            _ => return Err(xml::malformed().into()),
        };
        let filter = rule.filter.unwrap_or_default();
        let and = filter.and.unwrap_or_default();
        let mut tags: Vec<(String, String)> = and.tags.into_iter().map(|tag| (tag.key, tag.value)).collect();
        tags.extend(filter.tag.map(|tag| (tag.key, tag.value)));
        let expiration = rule.expiration;
        if expiration.as_ref().is_some_and(|expiration| expiration.days == Some(0)) {
            return Err(invalid("'Days' for Expiration action must be a positive integer").into());
        }
        if rule.noncurrent_version_expiration.as_ref().is_some_and(|noncurrent| noncurrent.noncurrent_days == 0) {
            return Err(
                invalid("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer").into()
            );
        }
        let parsed = Rule {
            id: rule.id,
            enabled,
            prefix: rule.prefix.or(filter.prefix).or(and.prefix).unwrap_or_default(),
            tags,
            size_greater_than: filter.object_size_greater_than.or(and.object_size_greater_than),
            size_less_than: filter.object_size_less_than.or(and.object_size_less_than),
            expiration_days: expiration.as_ref().and_then(|expiration| expiration.days),
            expiration_date: expiration.as_ref().and_then(|expiration| expiration.date.clone()),
            expired_object_delete_marker: expiration
                .as_ref()
                .and_then(|expiration| expiration.expired_object_delete_marker)
                .unwrap_or(false),
            noncurrent_days: rule.noncurrent_version_expiration.map(|noncurrent| noncurrent.noncurrent_days),
            abort_incomplete_days: rule.abort_incomplete_multipart_upload.map(|abort| abort.days_after_initiation),
            transitions: rule
                .transitions
                .into_iter()
                .map(|transition| (transition.days.unwrap_or_default(), transition.storage_class))
                .collect(),
        };
        if parsed.expiration_days.is_none()
            && parsed.expiration_date.is_none()
            && !parsed.expired_object_delete_marker
            && parsed.noncurrent_days.is_none()
            && parsed.abort_incomplete_days.is_none()
            && parsed.transitions.is_empty()
        {
            return Err(invalid("At least one action needs to be specified in a rule").into());
        }
        if let Some(date) = &parsed.expiration_date
            && chrono::DateTime::parse_from_rfc3339(date).is_err()
        {
            return Err(invalid("'Date' must be at midnight GMT").into());
        }
        rules.push(parsed);
    }
    update(s3, &bucket.name, |stored| stored.lifecycle = Some(rules.clone())).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn get(bucket: &Bucket) -> S3Result<HttpResponse> {
    let Some(rules) = &bucket.lifecycle else {
        return Err(AwsError::new(404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
            .with("BucketName", bucket.name.as_str())
            .into());
    };
    let mut xml = Xml::document("LifecycleConfiguration");
    for rule in rules {
        xml.open("Rule");
        xml.optional("ID", rule.id.as_deref());
        xml.open("Filter");
        if rule.tags.is_empty() && rule.size_greater_than.is_none() && rule.size_less_than.is_none() {
            xml.element("Prefix", &rule.prefix);
        } else {
            xml.open("And").element("Prefix", &rule.prefix);
            for (key, value) in &rule.tags {
                xml.open("Tag").element("Key", key).element("Value", value).close();
            }
            if let Some(size) = rule.size_greater_than {
                xml.element("ObjectSizeGreaterThan", &size.to_string());
            }
            if let Some(size) = rule.size_less_than {
                xml.element("ObjectSizeLessThan", &size.to_string());
            }
            xml.close();
        }
        xml.close();
        xml.element("Status", if rule.enabled { "Enabled" } else { "Disabled" });
        if rule.expiration_days.is_some() || rule.expiration_date.is_some() || rule.expired_object_delete_marker {
            xml.open("Expiration");
            if let Some(days) = rule.expiration_days {
                xml.element("Days", &days.to_string());
            }
            xml.optional("Date", rule.expiration_date.as_deref());
            if rule.expired_object_delete_marker {
                xml.element("ExpiredObjectDeleteMarker", "true");
            }
            xml.close();
        }
        for (days, class) in &rule.transitions {
            xml.open("Transition").element("Days", days).element("StorageClass", class).close();
        }
        if let Some(days) = rule.noncurrent_days {
            xml.open("NoncurrentVersionExpiration").element("NoncurrentDays", &days.to_string()).close();
        }
        if let Some(days) = rule.abort_incomplete_days {
            xml.open("AbortIncompleteMultipartUpload").element("DaysAfterInitiation", &days.to_string()).close();
        }
        xml.close();
    }
    Ok(xml_response(xml))
}

pub async fn delete(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.lifecycle = None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How the background task runs.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub interval: Duration,
    /// The length of a lifecycle day (a day, unless a test shortens it).
    pub day: Duration,
}

/// Applies every bucket's rules each `interval`, and collects the blobs
/// no record names, until the process stops.
pub async fn run(s3: S3, schedule: Schedule) {
    let mut suspects = std::collections::HashSet::new();
    loop {
        tokio::time::sleep(schedule.interval).await;
        if let Err(error) = sweep(&s3, schedule.day).await {
            tracing::warn!(error = %error.0, "lifecycle sweep failed; it runs again at the next interval");
        }
        if let Err(error) = collect_unnamed_blobs(&s3, ORPHAN_GRACE, &mut suspects).await {
            tracing::warn!(error = %error.0, "collecting unreferenced blobs failed; it runs again at the next interval");
        }
    }
}

/// How old an unreferenced blob must be before it is collected: a blob is
/// written, made durable, then named by its record, so a young one may be
/// on its way to being named.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Removes blobs that no object version and no upload part names: the
/// bytes of overwritten and deleted objects, replaced and aborted parts,
/// and what a crash between a blob's write and its record leaves behind.
/// A blob goes only once it is older than `grace` and was already found
/// unnamed by the previous pass (`suspects`, a whole interval earlier):
/// a store's timestamps can be older than the write (a multipart blob's
/// is its start), and a blob just written is about to be named.
pub async fn collect_unnamed_blobs(
    s3: &S3,
    grace: Duration,
    suspects: &mut std::collections::HashSet<String>,
) -> S3Result<()> {
    let mut found = std::collections::HashSet::new();
    let oldest = chrono::Utc::now().timestamp_millis() - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    for bucket in s3.blobs.buckets().await? {
        let blobs = s3.blobs.list(&bucket).await?;
        let old: Vec<String> = blobs.into_iter().filter(|(_, written)| *written < oldest).map(|(id, _)| id).collect();
        if old.is_empty() {
            continue;
        }
        // What the bucket's records name, read after the listing. Parts
        // are read before objects: completing an upload names its parts'
        // blobs from the object's record before it drops the part records,
        // so a blob moving from one to the other is seen in one of them.
        let mut named = std::collections::HashSet::new();
        if s3.catalog.get::<Bucket>(BUCKETS, &bucket).await?.is_some() {
            let mut cursor = String::new();
            loop {
                let (uploads, more) = s3.catalog.list::<Upload>(&uploads_of(&bucket), "", &cursor, 500).await?;
                for (id, upload) in uploads {
                    cursor = id;
                    let parts = super::multipart::parts(s3, &upload.value.upload_id).await?;
                    named.extend(parts.into_iter().map(|part| part.blob));
                }
                if !more {
                    break;
                }
            }
            let namespace = objects_of(&bucket);
            let mut cursor = String::new();
            loop {
                let (records, more) = s3.catalog.list::<ObjectRecord>(&namespace, "", &cursor, 500).await?;
                for (key, record) in records {
                    cursor = key;
                    named.extend(record.value.versions.iter().flat_map(crate::catalog::Version::blob_ids));
                }
                if !more {
                    break;
                }
            }
        }
        let (confirmed, new): (Vec<String>, Vec<String>) =
            old.into_iter().filter(|id| !named.contains(id)).partition(|id| suspects.contains(id));
        found.extend(new);
        if !confirmed.is_empty() {
            tracing::info!(bucket = %bucket, blobs = confirmed.len(), "collecting blobs no record names");
            s3.blobs.delete_all(confirmed).await;
        }
    }
    *suspects = found;
    Ok(())
}

fn matches(rule: &Rule, key: &str, version: &crate::catalog::Version) -> bool {
    rule.enabled
        && key.starts_with(&rule.prefix)
        && rule.tags.iter().all(|tag| version.tags.contains(tag))
        && rule.size_greater_than.is_none_or(|size| version.size > size)
        && rule.size_less_than.is_none_or(|size| version.size < size)
}

/// Lifecycle time: now, and how long a rule's day is.
#[derive(Debug, Clone, Copy)]
struct Clock {
    now: i64,
    day_ms: i64,
}

impl Clock {
    /// Whether `days` lifecycle days have passed since `since`.
    fn after(&self, since: i64, days: u32) -> bool {
        self.now >= since.saturating_add(self.day_ms.saturating_mul(i64::from(days)))
    }
}

/// One pass over every bucket with rules.
pub async fn sweep(s3: &S3, day: Duration) -> S3Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let after = Clock { now, day_ms: i64::try_from(day.as_millis()).unwrap_or(i64::MAX) };
    let mut cursor = String::new();
    loop {
        let (buckets, more) = s3.catalog.list::<Bucket>(BUCKETS, "", &cursor, 100).await?;
        for (name, bucket) in buckets {
            cursor = name;
            let bucket = bucket.value;
            let Some(rules) = bucket.lifecycle.clone() else { continue };
            sweep_objects(s3, &bucket, &rules, after, now).await?;
            sweep_uploads(s3, &bucket, &rules, after).await?;
        }
        if !more {
            return Ok(());
        }
    }
}

async fn sweep_objects(s3: &S3, bucket: &Bucket, rules: &[Rule], after: Clock, now: i64) -> S3Result<()> {
    let namespace = objects_of(&bucket.name);
    let mut cursor = String::new();
    loop {
        let (records, more) = s3.catalog.list::<ObjectRecord>(&namespace, "", &cursor, 500).await?;
        for (key, stored) in records {
            cursor.clone_from(&key);
            let record = stored.value.clone();
            // The current version: expired by age or date.
            if let Some(current) = record.current()
                && rules.iter().any(|rule| {
                    matches(rule, &key, current)
                        && (rule.expiration_days.is_some_and(|days| after.after(current.last_modified_unix_ms, days))
                            || rule.expiration_date.as_deref().is_some_and(|date| {
                                chrono::DateTime::parse_from_rfc3339(date)
                                    .is_ok_and(|date| now >= date.timestamp_millis())
                            }))
                })
            {
                tracing::info!(bucket = %bucket.name, key = %key, "lifecycle: the current version expired");
                super::objects::expire(s3, bucket, &key, stored.version).await?;
                continue;
            }
            // Noncurrent versions: a version is noncurrent from the moment
            // the next newer one was written.
            let mut expired_versions = Vec::new();
            for (newer, version) in record.versions.iter().zip(record.versions.iter().skip(1)) {
                if rules.iter().any(|rule| {
                    matches(rule, &key, version)
                        && rule.noncurrent_days.is_some_and(|days| after.after(newer.last_modified_unix_ms, days))
                }) {
                    expired_versions.push(version.version_id.clone());
                }
            }
            // A delete marker left alone, with no version behind it.
            if let [marker] = record.versions.as_slice()
                && marker.delete_marker
                && bucket.versioning != Versioning::Unversioned
                && rules
                    .iter()
                    .any(|rule| rule.enabled && key.starts_with(&rule.prefix) && rule.expired_object_delete_marker)
            {
                expired_versions.push(marker.version_id.clone());
            }
            for version_id in expired_versions {
                tracing::info!(bucket = %bucket.name, key = %key, version = %version_id, "lifecycle: a noncurrent version expired");
                super::objects::remove_version(s3, bucket, &key, &version_id, stored.version).await?;
            }
        }
        if !more {
            return Ok(());
        }
    }
}

async fn sweep_uploads(s3: &S3, bucket: &Bucket, rules: &[Rule], after: Clock) -> S3Result<()> {
    let (uploads, _) = s3.catalog.list::<Upload>(&uploads_of(&bucket.name), "", "", 1000).await?;
    for (_, stored) in uploads {
        let upload = &stored.value;
        if !upload.completing
            && rules.iter().any(|rule| {
                rule.enabled
                    && upload.key.starts_with(&rule.prefix)
                    && rule.abort_incomplete_days.is_some_and(|days| after.after(upload.initiated_unix_ms, days))
            })
        {
            tracing::info!(bucket = %bucket.name, upload = %upload.upload_id, "lifecycle: an incomplete upload was aborted");
            super::multipart::discard(s3, upload, Some(stored.version)).await?;
        }
    }
    Ok(())
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<LifecycleConfiguration>(body);
}
