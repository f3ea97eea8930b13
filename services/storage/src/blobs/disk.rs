//! Blobs on a local disk, written and read by nubo itself rather than
//! through `object_store`'s local store, whose reads take 8 KiB per thread
//! hop (a 256 MiB GET ran at 168 MB/s through it, 1.6 GB/s here) and whose
//! writer leaves the hashing on the async worker (MD5 is most of a large
//! PUT's CPU; here it runs on the blocking pool beside the network).
//! `object_store` still lists and deletes these files.

use std::{
    collections::HashSet,
    fs::File,
    io::Write as _,
    ops::Range,
    os::unix::fs::{FileExt as _, MetadataExt as _},
    path::{Path as FsPath, PathBuf},
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use futures::{Stream, StreamExt as _, stream::BoxStream};
use tokio::task::JoinHandle;

use super::{BlobError, Content, Digests, WriteError, Written};

/// The bytes a write hands the disk at once (at least), and a read takes
/// at once (at most): large enough that a thread hop per step is noise,
/// small enough that two in flight per request keep memory flat.
pub(super) const STEP_BYTES: usize = 1024 * 1024;
/// How much a streamed blob takes between the syncs started while it is
/// still being written, so the one that acknowledges it waits for the
/// tail only.
const SYNC_AHEAD_BYTES: usize = 16 * 1024 * 1024;

/// Blobs as files under `root/{bucket}/{id}`. Every step that touches the
/// disk runs on the blocking pool, one step per hop, with the next step of
/// the same request overlapping the network: no thread is held while a
/// slow client sends or takes its bytes.
#[derive(Debug)]
pub(super) struct Disk {
    root: PathBuf,
    /// Buckets whose directory exists and whose entry is on disk.
    ready_buckets: Mutex<HashSet<String>>,
}

/// A file being written and the digests of what it holds so far.
struct Writing {
    file: File,
    digests: Digests,
}

impl Disk {
    pub(super) fn new(root: PathBuf) -> Self {
        Self { root, ready_buckets: Mutex::default() }
    }

    /// The path of a new blob, its bucket's directory made (and its entry
    /// synced) the first time.
    async fn prepare(&self, id: &str) -> std::io::Result<PathBuf> {
        let path = self.root.join(id);
        let bucket = id.split('/').next().unwrap_or_default().to_owned();
        let ready = self.ready_buckets.lock().is_ok_and(|ready| ready.contains(&bucket));
        if !ready {
            let (root, directory) = (self.root.clone(), self.root.join(&bucket));
            blocking(move || {
                std::fs::create_dir_all(&directory)?;
                File::open(&root)?.sync_all()
            })
            .await?;
            if let Ok(mut ready) = self.ready_buckets.lock() {
                ready.insert(bucket);
            }
        }
        Ok(path)
    }

    /// A blob whose bytes are all in hand: written and synced in one step.
    pub(super) async fn write_whole(
        &self,
        id: String,
        chunks: Vec<Bytes>,
        mut digests: Digests,
    ) -> std::io::Result<Written> {
        let path = self.prepare(&id).await?;
        blocking(move || {
            let written = (|| {
                let mut file = File::create_new(&path)?;
                for chunk in &chunks {
                    digests.update(chunk);
                    file.write_all(chunk)?;
                }
                make_durable(&file, &path)
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&path);
            }
            written.map(|()| digests.finish(Content::Blob(id)))
        })
        .await
    }

    /// A blob streamed in: each step hashes and writes one batch while the
    /// next arrives; the file is synced before the blob is acknowledged.
    pub(super) async fn write_stream<S, E>(
        &self,
        id: String,
        head: Vec<Bytes>,
        mut chunks: S,
        digests: Digests,
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let path = self.prepare(&id).await?;
        // The file is made while the first batch arrives.
        let mut step: JoinHandle<std::io::Result<Writing>> = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || Ok(Writing { file: File::create_new(&path)?, digests }))
        };
        let mut batch = head;
        let mut batch_size: usize = batch.iter().map(Bytes::len).sum();
        let mut ended = false;
        // Writeback started while the body still arrives, so the sync that
        // acknowledges the blob waits for the tail only.
        let mut syncing: Option<JoinHandle<std::io::Result<()>>> = None;
        let mut unsynced = 0;
        while !ended {
            while batch_size < STEP_BYTES {
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        batch_size += chunk.len();
                        batch.push(chunk);
                    }
                    Some(Err(error)) => {
                        let _ = joined(step).await;
                        remove(path).await;
                        return Err(WriteError::Body(error));
                    }
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            let writing = match joined(step).await {
                Ok(writing) => writing,
                Err(error) => {
                    remove(path).await;
                    return Err(error.into());
                }
            };
            unsynced += batch_size;
            if unsynced >= SYNC_AHEAD_BYTES && syncing.as_ref().is_none_or(JoinHandle::is_finished) {
                if let Some(previous) = syncing.take()
                    && let Err(error) = joined(previous).await
                {
                    remove(path).await;
                    return Err(error.into());
                }
                match writing.file.try_clone() {
                    Ok(file) => syncing = Some(tokio::task::spawn_blocking(move || file.sync_data())),
                    Err(error) => {
                        remove(path).await;
                        return Err(error.into());
                    }
                }
                unsynced = 0;
            }
            let chunks_now = std::mem::take(&mut batch);
            batch_size = 0;
            step = tokio::task::spawn_blocking(move || {
                let Writing { mut file, mut digests } = writing;
                for chunk in &chunks_now {
                    digests.update(chunk);
                    file.write_all(chunk)?;
                }
                Ok(Writing { file, digests })
            });
        }
        let synced_ahead = match syncing {
            Some(syncing) => joined(syncing).await,
            None => Ok(()),
        };
        let finished = match joined(step).await.and_then(|writing| synced_ahead.map(|()| writing)) {
            Ok(Writing { file, digests }) => {
                let path = path.clone();
                blocking(move || {
                    make_durable(&file, &path)?;
                    still_named(&file, &path)?;
                    Ok(digests)
                })
                .await
            }
            Err(error) => Err(error),
        };
        match finished {
            Ok(digests) => Ok(digests.finish(Content::Blob(id))),
            Err(error) => {
                remove(path).await;
                Err(error.into())
            }
        }
    }

    /// The bytes of `range` of a blob, [`STEP_BYTES`] at a time, the next
    /// step read while the client takes this one. A missing blob is the
    /// stream's first error.
    pub(super) fn read(&self, id: &str, range: Range<u64>) -> BoxStream<'static, Result<Bytes, BlobError>> {
        let path = self.root.join(id);
        let first = read_step(Opened::Path(path), range.start, range.end);
        futures::stream::unfold(Some(first), move |ahead| async move {
            let (file, offset, bytes) = match joined(ahead?).await {
                Ok(read) => read,
                Err(error) => return Some((Err(BlobError::from(error)), None)),
            };
            let next = offset + bytes.len() as u64;
            let ahead = (next < range.end).then(|| read_step(Opened::File(file), next, range.end));
            Some((Ok(bytes), ahead))
        })
        .boxed()
    }
}

/// A blob to read: its path before the first step, its open file after.
enum Opened {
    Path(PathBuf),
    File(Arc<File>),
}

/// Reads one step of `offset..end`, opening the file first if need be.
fn read_step(opened: Opened, offset: u64, end: u64) -> JoinHandle<std::io::Result<(Arc<File>, u64, Bytes)>> {
    tokio::task::spawn_blocking(move || {
        let file = match opened {
            Opened::File(file) => file,
            Opened::Path(path) => Arc::new(File::open(path)?),
        };
        let length = (end - offset).min(STEP_BYTES as u64) as usize;
        let mut bytes = vec![0; length];
        file.read_exact_at(&mut bytes, offset)?;
        Ok((file, offset, Bytes::from(bytes)))
    })
}

/// Fails if `path` no longer names `file`. A blob is written at its final
/// name, where the collector may take it for unnamed once it has been
/// untouched for an hour: an upload stalled that long must fail rather
/// than name a removed blob. (Once written, its fresh time keeps it for
/// the hour its record needs to be committed.)
fn still_named(file: &File, path: &FsPath) -> std::io::Result<()> {
    let (ours, named) = (file.metadata()?, std::fs::metadata(path)?);
    if (ours.dev(), ours.ino()) == (named.dev(), named.ino()) {
        Ok(())
    } else {
        Err(std::io::Error::other("the blob was removed while its upload stalled"))
    }
}

/// Syncs a new file's bytes and its directory entry, so it outlives a crash.
fn make_durable(file: &File, path: &FsPath) -> std::io::Result<()> {
    file.sync_data()?;
    match path.parent() {
        Some(directory) => File::open(directory)?.sync_all(),
        None => Ok(()),
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> std::io::Result<T> {
    joined(tokio::task::spawn_blocking(work)).await
}

async fn joined<T>(handle: JoinHandle<std::io::Result<T>>) -> std::io::Result<T> {
    handle.await.map_err(std::io::Error::other)?
}

/// Removes what an interrupted write left.
async fn remove(path: PathBuf) {
    let outcome = blocking(move || match std::fs::remove_file(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    });
    if let Err(error) = outcome.await {
        tracing::warn!(%error, "an interrupted blob could not be removed (the collector will)");
    }
}
