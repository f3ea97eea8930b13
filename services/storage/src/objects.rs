//! Object bytes behind `object_store`. Writes stream through a multipart
//! upload, which the local store stages in a temporary file and renames
//! into place on completion: a reader sees the old object or the new one,
//! never a torn one, and memory stays bounded whatever the object's size.

use std::{path::Path as FsPath, sync::Arc};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream::BoxStream};
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart, local::LocalFileSystem, path::Path};

/// Parts uploaded concurrently while an object streams in.
const MAX_PARTS_IN_FLIGHT: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid bucket name `{0}`")]
    InvalidBucket(String),
    #[error("invalid object key `{0}`")]
    InvalidKey(String),
    #[error("no such object {bucket}/{key}")]
    NotFound { bucket: String, key: String },
    #[error("object store failure: {0}")]
    Store(#[from] object_store::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, ObjectError>;

/// What is known of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_unix_ms: i64,
}

/// The object store of this service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
}

/// S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and
/// hyphens, starting and ending with a letter or digit.
pub fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && !name.contains("..")
}

fn location(bucket: &str, key: &str) -> Result<Path> {
    if !valid_bucket(bucket) {
        return Err(ObjectError::InvalidBucket(bucket.to_owned()));
    }
    if key.is_empty() || key.len() > 1024 {
        return Err(ObjectError::InvalidKey(key.to_owned()));
    }
    // `Path::parse` refuses `.`/`..` segments and empty segments, so no key
    // can name a file outside its bucket.
    Path::parse(format!("{bucket}/{key}")).map_err(|_| ObjectError::InvalidKey(key.to_owned()))
}

fn not_found(bucket: &str, key: &str) -> impl FnOnce(object_store::Error) -> ObjectError {
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    move |error| match error {
        object_store::Error::NotFound { .. } => ObjectError::NotFound { bucket, key },
        other => ObjectError::Store(other),
    }
}

impl Objects {
    /// Objects in any store (an S3-compatible one, another nubo).
    pub fn in_store(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Objects under a local directory, created if missing; a put is
    /// fsynced (file and directories) before it is acknowledged.
    pub fn local(root: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root)?.with_fsync(true);
        Ok(Self { store: Arc::new(store) })
    }

    /// Streams `chunks` into `bucket/key`; the object appears when the last
    /// chunk is written, and not at all if the stream fails.
    pub async fn put<S, E>(&self, bucket: &str, key: &str, mut chunks: S) -> Result<ObjectMeta>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: Into<ObjectError>,
    {
        let path = location(bucket, key)?;
        let upload = self.store.put_multipart(&path).await?;
        let mut writer = WriteMultipart::new(upload);
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => {
                    // Bound the parts in flight, so memory does not grow
                    // with the object when the store is slower than the writer.
                    writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await?;
                    writer.write(&chunk)
                }
                Err(error) => {
                    writer.abort().await?;
                    return Err(error.into());
                }
            }
        }
        writer.finish().await?;
        self.head(bucket, key).await
    }

    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let path = location(bucket, key)?;
        let meta = self.store.head(&path).await.map_err(not_found(bucket, key))?;
        Ok(ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: meta.size,
            etag: meta.e_tag.unwrap_or_default(),
            last_modified_unix_ms: meta.last_modified.timestamp_millis(),
        })
    }

    /// The object's bytes as a stream of chunks.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let path = location(bucket, key)?;
        let result = self.store.get(&path).await.map_err(not_found(bucket, key))?;
        Ok(result.into_stream().map(|chunk| chunk.map_err(ObjectError::from)).boxed())
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let path = location(bucket, key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Every object of `bucket` whose key starts with `prefix`.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectMeta>> {
        if !valid_bucket(bucket) {
            return Err(ObjectError::InvalidBucket(bucket.to_owned()));
        }
        let bucket_path = Path::from(bucket);
        let mut listing = self.store.list(Some(&bucket_path));
        let mut objects = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let key =
                meta.location.as_ref().strip_prefix(bucket).unwrap_or_default().trim_start_matches('/').to_owned();
            if key.starts_with(prefix) {
                objects.push(ObjectMeta {
                    bucket: bucket.to_owned(),
                    key,
                    size: meta.size,
                    etag: meta.e_tag.unwrap_or_default(),
                    last_modified_unix_ms: meta.last_modified.timestamp_millis(),
                });
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt as _;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = std::result::Result<Bytes, ObjectError>> + Unpin {
        futures::stream::iter(parts.iter().map(|part| Ok(Bytes::from_static(part))).collect::<Vec<_>>())
    }

    async fn read(objects: &Objects, bucket: &str, key: &str) -> Vec<u8> {
        let stream = objects.get(bucket, key).await.unwrap();
        stream.map_ok(|chunk| chunk.to_vec()).try_concat().await.unwrap()
    }

    #[tokio::test]
    async fn puts_reads_lists_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::local(dir.path()).unwrap();
        let meta = objects.put("code", "fn/a.zip", chunks(&[b"hello ", b"world"])).await.unwrap();
        assert_eq!(meta.size, 11);
        assert_eq!(read(&objects, "code", "fn/a.zip").await, b"hello world");
        objects.put("code", "fn/b.zip", chunks(&[b"x"])).await.unwrap();
        let keys: Vec<_> = objects.list("code", "fn/").await.unwrap().into_iter().map(|o| o.key).collect();
        assert_eq!(keys, ["fn/a.zip", "fn/b.zip"]);
        objects.delete("code", "fn/a.zip").await.unwrap();
        assert!(matches!(objects.head("code", "fn/a.zip").await, Err(ObjectError::NotFound { .. })));
    }

    #[tokio::test]
    async fn a_failed_stream_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::local(dir.path()).unwrap();
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err(ObjectError::InvalidKey("interrupted".into())),
        ]);
        assert!(objects.put("code", "torn", failing).await.is_err());
        assert!(matches!(objects.head("code", "torn").await, Err(ObjectError::NotFound { .. })));
    }

    #[tokio::test]
    async fn keys_cannot_escape_their_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::local(dir.path()).unwrap();
        for key in ["../etc/passwd", "a/../../b", "./x", ""] {
            assert!(
                matches!(objects.put("code", key, chunks(&[b"x"])).await, Err(ObjectError::InvalidKey(_))),
                "{key}"
            );
        }
        assert!(matches!(objects.put("Bad_Bucket", "k", chunks(&[b"x"])).await, Err(ObjectError::InvalidBucket(_))));
    }
}
