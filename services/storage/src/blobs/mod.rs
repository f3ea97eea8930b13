//! The bytes of S3 objects: immutable blobs, named by a fresh id, never
//! by the object's key. A key is metadata (a record in data); the blob it
//! points to is written whole, made durable, and only then named by a
//! record, so a reader sees the old object or the new one, never a torn
//! one, and no key, however odd its bytes, reaches a path. Blobs are files
//! on a local disk ([`disk`]) or objects in any store `object_store`
//! reaches; a small object needs no blob at all ([`Content::Inline`]).

use std::{ops::Range, path::Path as FsPath, sync::Arc};

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _, stream::BoxStream};
use md5::{Digest as _, Md5};
use nubo_host::sigv4::{Checksum, ChecksumAlgorithm};
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart, local::LocalFileSystem, path::Path,
};

mod disk;

use disk::Disk;

/// Gives up an interrupted upload, so a remote store keeps no parts of it.
async fn abort(writer: WriteMultipart) {
    if let Err(error) = writer.abort().await {
        tracing::warn!(%error, "an interrupted blob could not be aborted");
    }
}

/// Parts uploaded concurrently while a blob streams into a remote store.
const MAX_PARTS_IN_FLIGHT: usize = 4;
/// How much of a body is taken before deciding how to store it: a body
/// that ends within it is written (or kept inline) in one step.
const HEAD_BYTES: usize = 256 * 1024;

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

impl<E> From<std::io::Error> for WriteError<E> {
    fn from(error: std::io::Error) -> Self {
        WriteError::Blob(error.into())
    }
}

/// Where written bytes are kept.
#[derive(Debug, Clone)]
pub enum Content {
    /// A blob of this id.
    Blob(String),
    /// No blob: the bytes are small enough to live in the object's record.
    Inline(Bytes),
}

/// What is known of bytes once written.
#[derive(Debug, Clone)]
pub struct Written {
    pub content: Content,
    pub size: u64,
    /// The MD5 of the bytes, lowercase hex (an S3 ETag, unquoted).
    pub md5_hex: String,
    /// The checksums asked for, base64 as S3 carries them.
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
}

impl Written {
    /// The blob the bytes went to, unless they are inline.
    pub fn blob(&self) -> Option<String> {
        match &self.content {
            Content::Blob(id) => Some(id.clone()),
            Content::Inline(_) => None,
        }
    }
}

/// The MD5 and the checksums of bytes as they pass.
struct Digests {
    md5: Md5,
    checksums: Vec<Checksum>,
    size: u64,
}

impl Digests {
    fn new(algorithms: &[ChecksumAlgorithm]) -> Self {
        Self {
            md5: Md5::new(),
            checksums: algorithms.iter().map(|algorithm| Checksum::new(*algorithm)).collect(),
            size: 0,
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        for checksum in &mut self.checksums {
            checksum.update(chunk);
        }
        self.size += chunk.len() as u64;
    }

    fn finish(self, content: Content) -> Written {
        Written {
            content,
            size: self.size,
            md5_hex: hex::encode(self.md5.finalize()),
            checksums: self.checksums.into_iter().map(|checksum| (checksum.algorithm(), checksum.finish())).collect(),
        }
    }
}

/// Where blobs live and how they are made durable.
#[derive(Debug, Clone)]
pub struct Blobs {
    /// Lists and deletes blobs, and holds them when they are not local.
    store: Arc<dyn ObjectStore>,
    /// A local store, written and read by nubo itself ([`disk`] says why).
    disk: Option<Arc<Disk>>,
}

impl Blobs {
    /// Blobs under a local directory, created if missing.
    pub fn local(root: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root)?;
        let disk = Disk::new(root.to_owned());
        Ok(Self { store: Arc::new(store), disk: Some(Arc::new(disk)) })
    }

    /// Blobs in any other store (an S3-compatible one, a cloud store),
    /// which acknowledges a write only once it is durable itself.
    pub fn remote(store: Arc<dyn ObjectStore>) -> Self {
        Self { store, disk: None }
    }

    fn path(id: &str) -> Path {
        Path::from(id)
    }

    /// A fresh blob id under `bucket` (so a bucket's blobs can be found).
    pub fn new_id(bucket: &str) -> String {
        format!("{bucket}/{}", uuid::Uuid::new_v4().simple())
    }

    /// Streams `chunks` into a new durable blob, hashing as it goes;
    /// nothing is left behind if the stream or the store fails.
    pub async fn write<S, E>(
        &self,
        bucket: &str,
        chunks: S,
        algorithms: &[ChecksumAlgorithm],
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        self.write_or_inline(bucket, chunks, algorithms, 0).await
    }

    /// [`Blobs::write`], except that bytes of at most `inline_max` are
    /// given back as [`Content::Inline`], with no blob written: a record
    /// holding them is as durable, and costs no file and directory sync.
    pub async fn write_or_inline<S, E>(
        &self,
        bucket: &str,
        mut chunks: S,
        algorithms: &[ChecksumAlgorithm],
        inline_max: usize,
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let mut head = Vec::new();
        let mut head_size = 0;
        let mut ended = false;
        while head_size <= HEAD_BYTES.max(inline_max) {
            match chunks.next().await {
                Some(Ok(chunk)) => {
                    head_size += chunk.len();
                    head.push(chunk);
                }
                Some(Err(error)) => return Err(WriteError::Body(error)),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if inline_max > 0 && ended && head_size <= inline_max {
            let mut digests = Digests::new(algorithms);
            let mut bytes = bytes::BytesMut::with_capacity(head_size);
            for chunk in &head {
                digests.update(chunk);
                bytes.extend_from_slice(chunk);
            }
            return Ok(digests.finish(Content::Inline(bytes.freeze())));
        }
        let id = Self::new_id(bucket);
        match &self.disk {
            Some(disk) if ended => Ok(disk.write_whole(id, head, Digests::new(algorithms)).await?),
            Some(disk) => disk.write_stream(id, head, chunks, Digests::new(algorithms)).await,
            None => {
                let head = futures::stream::iter(head.into_iter().map(Ok));
                self.write_remote(id, head.chain(chunks), Digests::new(algorithms)).await
            }
        }
    }

    async fn write_remote<S, E>(
        &self,
        id: String,
        mut chunks: S,
        mut digests: Digests,
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let upload = self.store.put_multipart(&Self::path(&id)).await.map_err(BlobError::from)?;
        let mut writer = WriteMultipart::new(upload);
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => {
                    digests.update(&chunk);
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
        Ok(digests.finish(Content::Blob(id)))
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
        if let Some(disk) = &self.disk {
            return Ok(disk.read(id, range));
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
    use super::{disk::STEP_BYTES, *};
    use std::path::PathBuf;

    async fn collect(stream: BoxStream<'static, Result<Bytes, BlobError>>) -> Vec<u8> {
        stream.map_ok(|chunk| chunk.to_vec()).try_concat().await.unwrap()
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
        let id = written.blob().unwrap();
        assert_eq!(collect(blobs.read(&id, 6..11).await.unwrap()).await, b"world");
        let copy = blobs.copy_range("b", &id, 0..5, &[]).await.unwrap().blob().unwrap();
        assert_eq!(collect(blobs.read(&copy, 0..5).await.unwrap()).await, b"hello");
        blobs.delete(&id).await.unwrap();
        blobs.delete(&id).await.unwrap();
        let mut gone = blobs.read(&id, 0..1).await.unwrap();
        assert!(gone.next().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn small_bodies_can_stay_inline_and_large_ones_stream_in_steps() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let small = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"hello world"))]);
        let inline = blobs.write_or_inline("b", small, &[], 11).await.unwrap();
        assert!(matches!(&inline.content, Content::Inline(bytes) if &bytes[..] == b"hello world"));
        assert_eq!(inline.md5_hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(walk(dir.path()).is_empty());

        // Several write steps and several read steps, in 64 KiB chunks.
        let data: Vec<u8> = (0..STEP_BYTES * 3 + 12_345).map(|i| (i % 251) as u8).collect();
        let chunks = futures::stream::iter(
            data.chunks(64 * 1024).map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
        );
        let written = blobs.write_or_inline("b", chunks, &[ChecksumAlgorithm::Crc32c], 11).await.unwrap();
        assert_eq!(written.size, data.len() as u64);
        assert_eq!(written.md5_hex, hex::encode(Md5::digest(&data)));
        let id = written.blob().unwrap();
        let whole = collect(blobs.read(&id, 0..data.len() as u64).await.unwrap()).await;
        assert!(whole == data, "the blob reads back as written");
        let range = STEP_BYTES as u64 - 5..2 * STEP_BYTES as u64 + 7;
        let part = collect(blobs.read(&id, range.clone()).await.unwrap()).await;
        assert!(part[..] == data[range.start as usize..range.end as usize]);
    }

    #[tokio::test]
    async fn an_empty_body_is_a_blob_unless_inline_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let empty = || futures::stream::empty::<Result<Bytes, std::io::Error>>();
        let written = blobs.write("b", empty(), &[]).await.unwrap();
        assert_eq!(collect(blobs.read(&written.blob().unwrap(), 0..0).await.unwrap()).await, b"");
        let inline = blobs.write_or_inline("b", empty(), &[], 8).await.unwrap();
        assert!(matches!(inline.content, Content::Inline(bytes) if bytes.is_empty()));
    }

    #[tokio::test]
    async fn a_long_stream_is_synced_ahead_and_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let data: Vec<u8> = (0..40 * 1024 * 1024 + 3).map(|i| (i % 253) as u8).collect();
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            data.chunks(100_000).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
        let written = blobs.write("b", futures::stream::iter(chunks), &[]).await.unwrap();
        assert_eq!(written.md5_hex, hex::encode(Md5::digest(&data)));
        let read = collect(blobs.read(&written.blob().unwrap(), 0..data.len() as u64).await.unwrap()).await;
        assert!(read == data);
    }

    #[tokio::test]
    async fn a_body_broken_after_the_first_step_leaves_no_blob() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let mut chunks: Vec<Result<Bytes, &str>> = (0..40).map(|_| Ok(Bytes::from(vec![1u8; 64 * 1024]))).collect();
        chunks.push(Err("broken"));
        assert!(matches!(blobs.write("b", futures::stream::iter(chunks), &[]).await, Err(WriteError::Body("broken"))));
        let files: Vec<_> = walk(dir.path());
        assert!(files.is_empty(), "{files:?}");
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
