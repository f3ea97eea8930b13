//! The bytes of S3 objects: immutable blobs behind `object_store`, named
//! by a fresh id, never by the object's key. A key is metadata (a record
//! in data); the blob it points to is written whole, made durable, and only
//! then named by a record, so a reader sees the old object or the new one,
//! never a torn one, and no key, however odd its bytes, reaches a path.

use std::{
    ops::Range,
    path::{Path as FsPath, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _, stream::BoxStream};
use md5::{Digest as _, Md5};
use nubo_host::sigv4::{Checksum, ChecksumAlgorithm};
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart, local::LocalFileSystem, path::Path,
};

/// Gives up an interrupted upload, so a remote store keeps no parts of it.
async fn abort(writer: WriteMultipart) {
    if let Err(error) = writer.abort().await {
        tracing::warn!(%error, "an interrupted blob could not be aborted");
    }
}

/// Parts uploaded concurrently while a blob streams in.
const MAX_PARTS_IN_FLIGHT: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object store failure: {0}")]
    Store(#[from] object_store::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why writing a blob stopped: the body's own failure (a broken
/// signature, a client gone) or the store's.
#[derive(Debug)]
pub enum WriteError<E> {
    Body(E),
    Blob(BlobError),
}

impl<E> From<BlobError> for WriteError<E> {
    fn from(error: BlobError) -> Self {
        WriteError::Blob(error)
    }
}

/// What is known of a blob once written.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: String,
    pub size: u64,
    /// The MD5 of the bytes, lowercase hex (an S3 ETag, unquoted).
    pub md5_hex: String,
    /// The checksums asked for, base64 as S3 carries them.
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
}

/// Where blobs live and how they are made durable.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The root of a local store, whose files are fsynced before a write
    /// is acknowledged (`object_store`'s local store does not sync).
    local_root: Option<PathBuf>,
}

impl Blobs {
    /// Blobs under a local directory, created if missing.
    pub fn local(root: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root)?;
        Ok(Self { store: Arc::new(store), local_root: Some(root.to_owned()) })
    }

    /// Blobs in any other store (an S3-compatible one, a cloud store),
    /// which acknowledges a write only once it is durable itself.
    pub fn remote(store: Arc<dyn ObjectStore>) -> Self {
        Self { store, local_root: None }
    }

    fn path(id: &str) -> Path {
        Path::from(id)
    }

    /// A fresh blob id under `bucket` (so a bucket's blobs can be found).
    pub fn new_id(bucket: &str) -> String {
        format!("{bucket}/{}", uuid::Uuid::new_v4().simple())
    }

    /// Streams `chunks` into a new blob, hashing as it goes; nothing is
    /// left behind if the stream or the store fails.
    pub async fn write<S, E>(
        &self,
        bucket: &str,
        mut chunks: S,
        algorithms: &[ChecksumAlgorithm],
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let id = Self::new_id(bucket);
        let path = Self::path(&id);
        let upload = self.store.put_multipart(&path).await.map_err(BlobError::from)?;
        let mut writer = WriteMultipart::new(upload);
        let mut md5 = Md5::new();
        let mut checksums: Vec<Checksum> = algorithms.iter().map(|algorithm| Checksum::new(*algorithm)).collect();
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => {
                    md5.update(&chunk);
                    for checksum in &mut checksums {
                        checksum.update(&chunk);
                    }
                    size += chunk.len() as u64;
                    // Bound the parts in flight, so memory does not grow
                    // with the object when the store is slower than the client.
                    if let Err(error) = writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await {
                        abort(writer).await;
                        return Err(BlobError::from(error).into());
                    }
                    writer.write(&chunk);
                }
                Err(error) => {
                    abort(writer).await;
                    return Err(WriteError::Body(error));
                }
            }
        }
        // `finish` aborts the upload itself when it fails.
        writer.finish().await.map_err(BlobError::from)?;
        self.make_durable(&id).await?;
        Ok(Written {
            id,
            size,
            md5_hex: hex::encode(md5.finalize()),
            checksums: checksums.into_iter().map(|checksum| (checksum.algorithm(), checksum.finish())).collect(),
        })
    }

    /// Flushes a local blob and its directory entries (the bucket's
    /// directory may be new) to disk.
    async fn make_durable(&self, id: &str) -> Result<(), BlobError> {
        let Some(root) = &self.local_root else { return Ok(()) };
        let file = root.join(id);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            for directory in file.ancestors().skip(1).take(2) {
                std::fs::File::open(directory)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// The bytes of `range` of a blob.
    pub async fn read(
        &self,
        id: &str,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions { range: Some(GetRange::Bounded(range)), ..GetOptions::default() };
        let result = self.store.get_opts(&Self::path(id), options).await?;
        Ok(result.into_stream().map_err(BlobError::from).boxed())
    }

    /// A new blob with the bytes of `range` of another, hashed as written.
    pub async fn copy_range(
        &self,
        bucket: &str,
        id: &str,
        range: Range<u64>,
        algorithms: &[ChecksumAlgorithm],
    ) -> Result<Written, BlobError> {
        let source = self.read(id, range).await?;
        self.write(bucket, source, algorithms).await.map_err(|error| match error {
            WriteError::Body(error) | WriteError::Blob(error) => error,
        })
    }

    /// Removes a blob; one already gone is not an error.
    pub async fn delete(&self, id: &str) -> Result<(), BlobError> {
        match self.store.delete(&Self::path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Every blob of `bucket` and when it was written (unix ms).
    pub async fn list(&self, bucket: &str) -> Result<Vec<(String, i64)>, BlobError> {
        let mut listing = self.store.list(Some(&Path::from(bucket)));
        let mut blobs = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            blobs.push((meta.location.to_string(), meta.last_modified.timestamp_millis()));
        }
        Ok(blobs)
    }

    /// The buckets that hold blobs.
    pub async fn buckets(&self) -> Result<Vec<String>, BlobError> {
        let listing = self.store.list_with_delimiter(None).await?;
        Ok(listing.common_prefixes.iter().map(|prefix| prefix.to_string()).collect())
    }

    /// Removes blobs no record names any more, logging what it cannot.
    pub async fn delete_all(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if let Err(error) = self.delete(&id).await {
                tracing::warn!(%error, blob = %id, "a replaced blob could not be removed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(mut stream: BoxStream<'static, Result<Bytes, BlobError>>) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn writes_hash_and_read_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let chunks = futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from_static(b"hello ")),
            Ok(Bytes::from_static(b"world")),
        ]);
        let written = blobs.write("b", chunks, &[ChecksumAlgorithm::Crc32]).await.unwrap();
        assert_eq!(written.size, 11);
        assert_eq!(written.md5_hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(written.checksums, [(ChecksumAlgorithm::Crc32, "DUoRhQ==".to_owned())]);
        assert_eq!(collect(blobs.read(&written.id, 6..11).await.unwrap()).await, b"world");
        let copy = blobs.copy_range("b", &written.id, 0..5, &[]).await.unwrap();
        assert_eq!(collect(blobs.read(&copy.id, 0..5).await.unwrap()).await, b"hello");
        blobs.delete(&written.id).await.unwrap();
        blobs.delete(&written.id).await.unwrap();
        assert!(blobs.read(&written.id, 0..1).await.is_err());
    }

    #[tokio::test]
    async fn a_broken_body_leaves_no_blob() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let chunks = futures::stream::iter([Ok(Bytes::from_static(b"partial")), Err("broken")]);
        assert!(matches!(blobs.write("b", chunks, &[]).await, Err(WriteError::Body("broken"))));
        let files: Vec<_> = walk(dir.path());
        assert!(files.is_empty(), "{files:?}");
    }

    fn walk(dir: &FsPath) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
        }
        files
    }
}
