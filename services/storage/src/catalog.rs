//! What S3 knows about buckets, objects and uploads, kept as records in
//! data (the one owner of durable state). The bytes are blobs
//! ([`crate::blobs`]) a record names, or, for a small object, in the
//! record itself.
//!
//! - `storage.buckets.v1`, key = bucket name: a [`Bucket`].
//! - `storage.objects.v1/{bucket}`, key = the object key: an
//!   [`ObjectRecord`], every version of one key, newest first. Records
//!   list in byte order, which is S3's UTF-8 order; one namespace per
//!   bucket keeps a bucket one partition of the engine, not all of S3.
//!   One record per key makes a write of a key one compare-and-set,
//!   whatever versioning does.
//! - `storage.uploads.v1/{bucket}`, key = upload id: an [`Upload`].
//! - `storage.parts.v1/{upload id}`, key = `{part:05}`: a [`Part`], one
//!   record each so parallel parts never contend.

use nubo_proto::{ErrorCode, RemoteError, clients::RecordsClient};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use crate::blobs::{Content, Written};

pub const BUCKETS: &str = "storage.buckets.v1";

pub fn objects_of(bucket: &str) -> String {
    format!("storage.objects.v1/{bucket}")
}

pub fn uploads_of(bucket: &str) -> String {
    format!("storage.uploads.v1/{bucket}")
}

pub fn parts_of(upload_id: &str) -> String {
    format!("storage.parts.v1/{upload_id}")
}

pub fn part_key(number: u32) -> String {
    format!("{number:05}")
}

/// A failure of the catalog itself (data unreachable, a record that does
/// not parse), never one of S3's client errors.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("data: {0}")]
    Remote(#[from] RemoteError),
    #[error("a stored record does not parse: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// A record and the version a compare-and-set must name.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Versioning {
    /// Never enabled: every object is the `null` version.
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    /// Who owns it: [`owner_of`] the principal that created it.
    pub owner: String,
    pub region: String,
    pub created_unix_ms: i64,
    #[serde(default)]
    pub versioning: Versioning,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`.
    #[serde(default)]
    pub ownership: Option<String>,
    /// The account of the owner, for policies naming accounts.
    #[serde(default)]
    pub owner_account: Option<String>,
    /// The bucket's canned ACL.
    #[serde(default = "private")]
    pub acl: String,
    /// The bucket policy as it was put (JSON).
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub public_access_block: Option<crate::s3::access::PublicAccessBlock>,
    #[serde(default)]
    pub cors: Option<Vec<crate::s3::cors::CorsRule>>,
    #[serde(default)]
    pub website: Option<crate::s3::website::Website>,
    #[serde(default)]
    pub lifecycle: Option<Vec<crate::s3::lifecycle::Rule>>,
    #[serde(default)]
    pub notifications: Option<Vec<crate::s3::notifications::Target>>,
}

fn private() -> String {
    "private".into()
}

/// One stored version of a key (or a delete marker).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// `null` for objects written while versioning was off or suspended.
    pub version_id: String,
    pub delete_marker: bool,
    pub last_modified_unix_ms: i64,
    /// The blobs of the object in order: one for a PUT, one per part for a
    /// completed multipart upload.
    #[serde(default)]
    pub segments: Vec<Segment>,
    pub size: u64,
    /// Quoted, as S3 sends it: `"md5"` or `"md5-of-md5s-N"`.
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub headers: ContentHeaders,
    #[serde(default)]
    pub metadata: Vec<(String, String)>,
    #[serde(default)]
    pub checksum: Option<StoredChecksum>,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Part sizes of a multipart object, for `partNumber` reads and
    /// GetObjectAttributes.
    #[serde(default)]
    pub parts: Vec<PartSummary>,
    /// The object's canned ACL, where the bucket allows ACLs.
    #[serde(default)]
    pub acl: Option<String>,
}

impl Version {
    pub fn blob_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.segments.iter().filter_map(|segment| segment.blob.clone())
    }

    pub fn storage_class(&self) -> &str {
        self.storage_class.as_deref().unwrap_or("STANDARD")
    }
}

/// A run of an object's bytes: a blob, or (for a small object) the bytes
/// themselves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_bytes")]
    pub inline: Option<bytes::Bytes>,
}

impl Segment {
    pub fn blob(id: String, size: u64) -> Self {
        Self { blob: Some(id), size, inline: None }
    }
}

impl From<&Written> for Segment {
    fn from(written: &Written) -> Self {
        match &written.content {
            Content::Blob(id) => Segment::blob(id.clone(), written.size),
            Content::Inline(bytes) => Segment { blob: None, size: written.size, inline: Some(bytes.clone()) },
        }
    }
}

/// Inline bytes as base64 in a JSON record.
mod base64_bytes {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(bytes: &Option<bytes::Bytes>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bytes::Bytes>, D::Error> {
        let Some(text) = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)? else { return Ok(None) };
        STANDARD.decode(text.as_bytes()).map(|raw| Some(raw.into())).map_err(D::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartSummary {
    pub number: u32,
    pub size: u64,
    #[serde(default)]
    pub checksum: Option<String>,
}

/// The content headers S3 stores and returns as they were sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<String>,
    pub website_redirect: Option<String>,
}

/// A checksum S3 keeps for an object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredChecksum {
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// Base64; a composite one ends in `-{parts}`.
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Newest first; the first is the current version.
    pub versions: Vec<Version>,
}

impl ObjectRecord {
    /// The current version, unless it is a delete marker (or none exists).
    pub fn current(&self) -> Option<&Version> {
        self.versions.first().filter(|version| !version.delete_marker)
    }

    pub fn version(&self, version_id: &str) -> Option<&Version> {
        self.versions.iter().find(|version| version.version_id == version_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated_unix_ms: i64,
    pub owner: String,
    pub headers: ContentHeaders,
    pub metadata: Vec<(String, String)>,
    pub storage_class: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The algorithm the parts carry, and `FULL_OBJECT` or `COMPOSITE`.
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
    #[serde(default)]
    pub acl: Option<String>,
    /// Claimed by a CompleteMultipartUpload: no part, abort or second
    /// completion may change it any more.
    #[serde(default)]
    pub completing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub number: u32,
    pub blob: String,
    pub size: u64,
    /// Quoted MD5 of the part.
    pub etag: String,
    pub last_modified_unix_ms: i64,
    /// The part's checksum in the upload's algorithm (base64).
    pub checksum: Option<String>,
    /// Its CRC64NVME, always kept, for the full-object checksum S3 gives an
    /// upload that named no algorithm.
    pub crc64nvme: String,
}

/// Who owns what a principal creates: the account for its root and its
/// assumed roles, the user itself for a configured user.
pub fn owner_of(principal: &nubo_host::sigv4::Principal) -> String {
    match principal.kind {
        nubo_host::sigv4::PrincipalKind::User => principal.user_id.clone(),
        _ => principal.account_id.clone(),
    }
}

/// How long a bucket read from data is used again before it is read anew.
/// S3 documents bucket configuration as eventually consistent; within one
/// storage process a bucket written here is seen at once.
const BUCKET_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Typed access to the storage service's records.
#[derive(Clone)]
pub struct Catalog {
    records: RecordsClient,
    /// Buckets by name, so a request to an object does not read its
    /// bucket's record every time; emptied of a bucket by every write of
    /// it through this catalog.
    buckets: moka::sync::Cache<String, Bucket>,
    /// Bumped by every bucket write: a read that began before one does not
    /// cache what it read, which may be the bucket as it was.
    bucket_writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("cached_buckets", &self.buckets.entry_count()).finish_non_exhaustive()
    }
}

impl Catalog {
    pub fn new(records: RecordsClient) -> Self {
        let buckets = moka::sync::Cache::builder().max_capacity(10_000).time_to_live(BUCKET_TTL).build();
        Self { records, buckets, bucket_writes: Arc::default() }
    }

    /// The bucket named `name`, as read from data at most [`BUCKET_TTL`]
    /// ago (never older than this catalog's own last write of it).
    pub async fn bucket(&self, name: &str) -> Result<Option<Bucket>, CatalogError> {
        if let Some(bucket) = self.buckets.get(name) {
            return Ok(Some(bucket));
        }
        let writes_before = self.bucket_writes.load(Ordering::SeqCst);
        let stored = self.get::<Bucket>(BUCKETS, name).await?;
        if let Some(stored) = &stored
            && self.bucket_writes.load(Ordering::SeqCst) == writes_before
        {
            self.buckets.insert(name.to_owned(), stored.value.clone());
        }
        Ok(stored.map(|stored| stored.value))
    }

    /// Forgets a cached bucket as its record changes, before and after the
    /// write, so no read that ends after the write sees the old bucket.
    fn forget(&self, namespace: &str, key: &str) {
        if namespace == BUCKETS {
            self.bucket_writes.fetch_add(1, Ordering::SeqCst);
            self.buckets.invalidate(key);
        }
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<Versioned<T>>, CatalogError> {
        match self.records.get(namespace, key).await? {
            Some(record) => {
                Ok(Some(Versioned { value: serde_json::from_slice(&record.value)?, version: record.version }))
            }
            None => Ok(None),
        }
    }

    /// Writes `value` if the record is still at `expected` (0: absent);
    /// `Ok(false)` when another write came first.
    pub async fn put<T: Serialize>(
        &self,
        namespace: &str,
        key: &str,
        value: &T,
        expected: u64,
    ) -> Result<bool, CatalogError> {
        let bytes = serde_json::to_vec(value)?;
        self.forget(namespace, key);
        let outcome = self.records.put(namespace, key, bytes, Some(expected)).await;
        self.forget(namespace, key);
        match outcome {
            Ok(_) => Ok(true),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// [`Catalog::put`] that gives the record's new version: `None` when
    /// another write came first.
    pub async fn put_returning<T: Serialize>(
        &self,
        namespace: &str,
        key: &str,
        value: &T,
        expected: u64,
    ) -> Result<Option<u64>, CatalogError> {
        let bytes = serde_json::to_vec(value)?;
        self.forget(namespace, key);
        let outcome = self.records.put(namespace, key, bytes, Some(expected)).await;
        self.forget(namespace, key);
        match outcome {
            Ok(version) => Ok(Some(version)),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes `value` whatever is stored.
    pub async fn put_any<T: Serialize>(&self, namespace: &str, key: &str, value: &T) -> Result<(), CatalogError> {
        self.forget(namespace, key);
        let outcome = self.records.put(namespace, key, serde_json::to_vec(value)?, None).await;
        self.forget(namespace, key);
        outcome?;
        Ok(())
    }

    /// Deletes if still at `expected`; `Ok(false)` when another write came first.
    pub async fn delete(&self, namespace: &str, key: &str, expected: Option<u64>) -> Result<bool, CatalogError> {
        self.forget(namespace, key);
        let outcome = self.records.delete(namespace, key, expected).await;
        self.forget(namespace, key);
        match outcome {
            Ok(existed) => Ok(existed || expected.is_none()),
            Err(error) if error.code == ErrorCode::ConditionFailed => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// One page of records under `prefix`, after `start_after`, and whether more follow.
    pub async fn list<T: DeserializeOwned>(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: &str,
        limit: u32,
    ) -> Result<(Vec<(String, Versioned<T>)>, bool), CatalogError> {
        let (records, next) = self.records.list(namespace, prefix, start_after, limit).await?;
        let mut page = Vec::with_capacity(records.len());
        for record in records {
            let value = serde_json::from_slice(&record.value)?;
            page.push((record.key, Versioned { value, version: record.version }));
        }
        Ok((page, next.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_read_as_blobs_or_inline_bytes() {
        let blob: Segment = serde_json::from_str(r#"{"blob":"b/0123","size":5}"#).unwrap();
        assert_eq!((blob.blob.as_deref(), blob.size, blob.inline), (Some("b/0123"), 5, None));
        let inline = Segment { blob: None, size: 5, inline: Some(bytes::Bytes::from_static(b"\x00hi\xff\n")) };
        let json = serde_json::to_string(&inline).unwrap();
        assert_eq!(json, r#"{"size":5,"inline":"AGhp/wo="}"#);
        let read: Segment = serde_json::from_str(&json).unwrap();
        assert_eq!(read.inline.as_deref(), Some(&b"\x00hi\xff\n"[..]));
        assert!(serde_json::from_str::<Segment>(r#"{"size":1,"inline":"not base64!"}"#).is_err());
    }
}
