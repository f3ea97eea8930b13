//! The embedded engine: every DynamoDB table is a `redb` table keyed by
//! `(partition, clustering)`, in the same ACID file as the service's
//! records.
//!
//! Writes go through group commit: every batch is queued to one committer
//! thread, which drains what has queued up while the previous commit was
//! being fsynced and applies it all in one redb write transaction, then
//! acknowledges every batch of it after that one fsync. So concurrent
//! writers share the cost of durability, and an acknowledged write still
//! survives a crash. Each batch stays all-or-nothing on its own: its
//! compare-and-set checks run before any of its writes, and a batch that
//! fails them writes nothing, so it never fails the others of its group.
//! The queue is bounded: a writer past it waits for room. A group is
//! capped by count and by bytes, so one commit stays short. A group whose
//! commit panics fails its writers with an error, and the committer goes on
//! with the next one: no writer waits forever on a committer that died.
//!
//! Point reads and short range reads run on the caller's thread: a redb
//! read transaction never waits for the writer, and those reads take
//! microseconds, less than handing them to a blocking thread would.

use std::{
    collections::HashSet,
    ops::Bound,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError, TableHandle, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::{Change, Engine, EngineError, Expect, Key, Result, Row, Segment, Write, segment_of};

type ItemsTable<'a> = TableDefinition<'a, (&'static [u8], &'static [u8]), &'static [u8]>;

/// The last commit number: every batch takes the next one and stamps it on
/// the rows it writes, so versions never repeat.
const COMMITS: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta/commits");
/// Batches waiting for the committer; past this a writer waits for room, so
/// a burst of writers costs bounded memory.
const QUEUE_DEPTH: usize = 1024;
/// The most batches one commit carries, so one fsync never waits on an
/// unbounded transaction.
const MAX_GROUP: usize = 256;
/// The most bytes (keys and values) one commit carries beyond its first
/// batch, so a group of large items does not hold back the next one.
const MAX_GROUP_BYTES: usize = 4 * 1024 * 1024;
/// Range reads of at most this many rows run on the caller's thread;
/// longer ones on a blocking thread.
const INLINE_ROWS: usize = 128;
#[cfg(test)]
/// Writes to this table make the committer panic (the tests' fault).
const PANICKING_TABLE: &str = "test/committer-panics";

fn definition(table: &str) -> ItemsTable<'_> {
    TableDefinition::new(table)
}

/// Table names in redb are prefixed so they never meet other tables.
fn redb_name(table: &str) -> String {
    format!("items/{table}")
}

type ReadTable = redb::ReadOnlyTable<(&'static [u8], &'static [u8]), &'static [u8]>;

/// Opens an engine table for reading; a missing one is `NoSuchTable`.
fn open_read(read: &redb::ReadTransaction, name: &str) -> Result<ReadTable> {
    match read.open_table(definition(name)) {
        Ok(table) => Ok(table),
        Err(TableError::TableDoesNotExist(_)) => Err(EngineError::NoSuchTable),
        Err(error) => Err(storage(error)),
    }
}

fn storage(error: impl std::fmt::Display) -> EngineError {
    EngineError::Storage(error.to_string())
}

fn version_of(stored: &[u8]) -> u64 {
    stored.get(..8).and_then(|bytes| bytes.try_into().ok()).map_or(0, u64::from_be_bytes)
}

fn decode(key: (&[u8], &[u8]), stored: &[u8]) -> Row {
    let (version, value) = stored.split_at(8.min(stored.len()));
    Row {
        key: Key { partition: key.0.to_vec(), clustering: key.1.to_vec() },
        value: value.to_vec(),
        version: version.try_into().map(u64::from_be_bytes).unwrap_or(0),
    }
}

/// Stores `value` behind its version, written in place in the page (no
/// intermediate copy of the value).
fn store(
    table: &mut redb::Table<'_, (&'static [u8], &'static [u8]), &'static [u8]>,
    address: (&[u8], &[u8]),
    version: u64,
    value: &[u8],
) -> Result<()> {
    let mut slot = table.insert_reserve(address, 8 + value.len()).map_err(storage)?;
    let bytes: &mut [u8] = slot.as_mut();
    bytes[..8].copy_from_slice(&version.to_be_bytes());
    bytes[8..].copy_from_slice(value);
    Ok(())
}

/// A batch waiting for its commit.
struct Pending {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<u64>>,
}

/// The redb names of tables known to exist. A write must never create a
/// table (a write racing DeleteTable would bring the dropped table back),
/// and redb's write transactions only open tables by creating them, so
/// writes check this first; a name missing here is looked up in the file.
/// Taken only while holding a write transaction, so it changes in commit
/// order.
type KnownTables = Arc<Mutex<HashSet<String>>>;

fn lock(known: &KnownTables) -> MutexGuard<'_, HashSet<String>> {
    known.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone)]
pub struct EmbeddedEngine {
    db: Arc<Database>,
    known: KnownTables,
    committer: Arc<Committer>,
}

/// The queue to the committer thread. Dropped with the last clone of the
/// engine, it closes the queue and waits for the thread to commit what is
/// queued and let go of the database, so the file can be opened again at
/// once.
#[derive(Debug)]
struct Committer {
    queue: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("writes", &self.writes.len()).finish()
    }
}

impl EmbeddedEngine {
    /// Starts the committer thread; it ends when the last clone of the
    /// engine is dropped.
    pub fn new(db: Arc<Database>) -> Self {
        let known: KnownTables = Arc::default();
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let (committer_db, committer_known) = (db.clone(), known.clone());
        let thread = std::thread::Builder::new()
            .name("redb-committer".into())
            .spawn(move || run_committer(&committer_db, &committer_known, receiver))
            .expect("the committer thread starts");
        Self { db, known, committer: Arc::new(Committer { queue: Some(queue), thread: Some(thread) }) }
    }

    /// Runs a short read on the caller's thread (see the module's note).
    fn read_now<T>(&self, work: impl FnOnce(&Database) -> Result<T>) -> Result<T> {
        work(&self.db)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await.map_err(storage)?
    }
}

/// Runs the committer until every sender is gone. A panic inside a group's
/// commit aborts that transaction (nothing of it lands) and drops the
/// group, whose writers then get an error; the loop starts again for the
/// writers after them.
fn run_committer(db: &Database, known: &KnownTables, mut receiver: mpsc::Receiver<Pending>) {
    let mut carried = None;
    loop {
        let run = std::panic::AssertUnwindSafe(|| commit_loop(db, known, &mut receiver, &mut carried));
        match std::panic::catch_unwind(run) {
            Ok(()) => return,
            Err(_) => tracing::error!("a commit group panicked; its writers were failed, the committer goes on"),
        }
    }
}

fn batch_bytes(writes: &[Write]) -> usize {
    writes
        .iter()
        .map(|write| {
            let value = match &write.change {
                Change::Put(value) | Change::Append(value) => value.len(),
                Change::Delete | Change::Check => 0,
            };
            write.key.partition.len() + write.key.clustering.len() + value
        })
        .sum()
}

/// `first` and whatever has queued up behind it, within the caps.
fn take_group(first: Pending, receiver: &mut mpsc::Receiver<Pending>, carried: &mut Option<Pending>) -> Vec<Pending> {
    let mut bytes = batch_bytes(&first.writes);
    let mut group = vec![first];
    while group.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
        let Ok(next) = receiver.try_recv() else { break };
        let size = batch_bytes(&next.writes);
        if bytes + size > MAX_GROUP_BYTES {
            *carried = Some(next);
            break;
        }
        bytes += size;
        group.push(next);
    }
    group
}

/// Commits whatever has queued up, group after group, until every sender
/// is gone. A batch that would take its group past the byte cap is
/// `carried` over to open the next group.
fn commit_loop(
    db: &Database,
    known: &KnownTables,
    receiver: &mut mpsc::Receiver<Pending>,
    carried: &mut Option<Pending>,
) {
    while let Some(first) = carried.take().or_else(|| receiver.blocking_recv()) {
        let group = take_group(first, receiver, carried);
        let outcomes = commit_group(db, known, &group);
        for (index, pending) in group.into_iter().enumerate() {
            let outcome = match &outcomes {
                Ok(outcomes) => outcomes[index].clone(),
                Err(error) => Err(error.clone()),
            };
            // A writer that stopped waiting no longer needs its answer.
            let _ = pending.done.send(outcome);
        }
    }
}

/// One write transaction for a whole group, one outcome per batch. An
/// error here (storage) fails the group: nothing of it was committed.
fn commit_group(db: &Database, known: &KnownTables, group: &[Pending]) -> Result<Vec<Result<u64>>> {
    let transaction = db.begin_write().map_err(storage)?;
    let mut outcomes = Vec::with_capacity(group.len());
    {
        let mut known = lock(known);
        let mut commits = transaction.open_table(COMMITS).map_err(storage)?;
        let mut last = commits.get("last").map_err(storage)?.map(|v| v.value()).unwrap_or(0);
        for pending in group {
            let outcome = apply_batch(&transaction, &mut known, &pending.writes, last + 1)?;
            if outcome.is_ok() {
                last += 1;
            }
            outcomes.push(outcome);
        }
        commits.insert("last", last).map_err(storage)?;
    }
    transaction.commit().map_err(storage)?;
    Ok(outcomes)
}

/// Whether an engine table exists, without creating it.
fn exists(transaction: &WriteTransaction, known: &mut HashSet<String>, name: &str) -> Result<bool> {
    if known.contains(name) {
        return Ok(true);
    }
    let found = transaction.list_tables().map_err(storage)?.any(|handle| handle.name() == name);
    if found {
        known.insert(name.to_owned());
    }
    Ok(found)
}

/// Checks a batch, then applies it as commit `commit`. The inner result is
/// the batch's own (a failed check, a missing table: nothing written); the
/// outer one a storage failure, which fails the whole group.
fn apply_batch(
    transaction: &WriteTransaction,
    known: &mut HashSet<String>,
    writes: &[Write],
    commit: u64,
) -> Result<Result<u64>> {
    let names: Vec<String> = writes.iter().map(|write| redb_name(&write.table)).collect();
    // Every check before any write, so a batch that fails one leaves the
    // transaction as it found it. The checks see earlier batches of the
    // group, which commit first.
    for (index, (write, name)) in writes.iter().zip(&names).enumerate() {
        #[cfg(test)]
        if write.table == PANICKING_TABLE {
            panic!("the fault a test injects");
        }
        if !exists(transaction, known, name)? {
            return Ok(Err(EngineError::NoSuchTable));
        }
        if let Expect::Version(expected) = write.expect {
            let table = transaction.open_table(definition(name)).map_err(storage)?;
            let address = (write.key.partition.as_slice(), write.key.clustering.as_slice());
            let current = table.get(address).map_err(storage)?.map_or(0, |stored| version_of(stored.value()));
            if current != expected {
                return Ok(Err(EngineError::VersionMismatch { index }));
            }
        }
    }
    for (write, name) in writes.iter().zip(&names) {
        let mut table = transaction.open_table(definition(name)).map_err(storage)?;
        let address = (write.key.partition.as_slice(), write.key.clustering.as_slice());
        match &write.change {
            Change::Put(value) => store(&mut table, address, commit, value)?,
            Change::Delete => {
                table.remove(address).map_err(storage)?;
            }
            Change::Check => {}
            Change::Append(value) => {
                let partition = write.key.partition.as_slice();
                let next_partition = [partition, &[0]].concat();
                let last = table
                    .range::<(&[u8], &[u8])>((partition, &[][..])..(next_partition.as_slice(), &[][..]))
                    .map_err(storage)?
                    .next_back()
                    .transpose()
                    .map_err(storage)?
                    .and_then(|(key, _)| key.value().1.try_into().ok().map(u64::from_be_bytes))
                    .unwrap_or(0);
                let sequence = (last + 1).to_be_bytes();
                store(&mut table, (partition, &sequence[..]), commit, value)?;
            }
        }
    }
    Ok(Ok(commit))
}

#[async_trait]
impl Engine for EmbeddedEngine {
    async fn create_table(&self, table: &str) -> Result<()> {
        let (name, known) = (redb_name(table), self.known.clone());
        self.blocking(move |db| {
            let write = db.begin_write().map_err(storage)?;
            write.open_table(definition(&name)).map_err(storage)?;
            // Known before the write transaction is let go: a drop that
            // runs right after the commit then removes the name again,
            // rather than this insert bringing back a dropped table.
            lock(&known).insert(name.clone());
            if let Err(error) = write.commit() {
                lock(&known).remove(&name);
                return Err(storage(error));
            }
            Ok(())
        })
        .await
    }

    async fn drop_table(&self, table: &str) -> Result<()> {
        let (name, known) = (redb_name(table), self.known.clone());
        self.blocking(move |db| {
            let write = db.begin_write().map_err(storage)?;
            // Forgotten before the commit and while this transaction keeps
            // the committer out, so no write after the drop finds it known.
            let mut known = lock(&known);
            known.remove(&name);
            write.delete_table(definition(&name)).map_err(storage)?;
            write.commit().map_err(storage)
        })
        .await
    }

    async fn get(&self, table: &str, key: &Key) -> Result<Option<Row>> {
        let name = redb_name(table);
        self.read_now(|db| {
            let read = db.begin_read().map_err(storage)?;
            let table = open_read(&read, &name)?;
            let row = table
                .get((key.partition.as_slice(), key.clustering.as_slice()))
                .map_err(storage)?
                .map(|stored| decode((&key.partition, &key.clustering), stored.value()));
            Ok(row)
        })
    }

    async fn get_many(&self, keys: Vec<(String, Key)>) -> Result<Vec<Option<Row>>> {
        // A transaction's or a batch's reads (at most 100 keys) are short.
        let inline = keys.len() <= INLINE_ROWS;
        let read_rows = move |db: &Database| {
            // One read transaction: every row as of the same commit.
            let read = db.begin_read().map_err(storage)?;
            let mut rows = Vec::with_capacity(keys.len());
            for (table, key) in &keys {
                let name = redb_name(table);
                let table = open_read(&read, &name)?;
                let address = (key.partition.as_slice(), key.clustering.as_slice());
                rows.push(table.get(address).map_err(storage)?.map(|stored| decode(address, stored.value())));
            }
            Ok(rows)
        };
        if inline { self.read_now(read_rows) } else { self.blocking(read_rows).await }
    }

    async fn write(&self, writes: Vec<Write>) -> Result<u64> {
        let (done, answer) = oneshot::channel();
        let queue = self.committer.queue.as_ref().ok_or_else(|| storage("the committer has stopped"))?;
        queue.send(Pending { writes, done }).await.map_err(|_| storage("the committer has stopped"))?;
        // Dropped unanswered: the group's commit panicked, nothing of it
        // was written.
        answer.await.map_err(|_| storage("the commit of this write failed"))?
    }

    async fn query(
        &self,
        table: &str,
        partition: &[u8],
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Row>> {
        let (name, partition) = (redb_name(table), partition.to_vec());
        let read_rows = move |db: &Database| {
            let read = db.begin_read().map_err(storage)?;
            let table = open_read(&read, &name)?;
            // Rows of one partition are contiguous: (p, c) for every c sorts
            // below (p ++ [0], []), the first key of any later partition.
            let next_partition = [partition.as_slice(), &[0]].concat();
            let lower = match &range.0 {
                Bound::Included(start) => Bound::Included((partition.as_slice(), start.as_slice())),
                Bound::Excluded(start) => Bound::Excluded((partition.as_slice(), start.as_slice())),
                Bound::Unbounded => Bound::Included((partition.as_slice(), &[][..])),
            };
            let upper = match &range.1 {
                Bound::Included(end) => Bound::Included((partition.as_slice(), end.as_slice())),
                Bound::Excluded(end) => Bound::Excluded((partition.as_slice(), end.as_slice())),
                Bound::Unbounded => Bound::Excluded((next_partition.as_slice(), &[][..])),
            };
            let entries = table.range::<(&[u8], &[u8])>((lower, upper)).map_err(storage)?;
            let mut rows = Vec::new();
            let mut push = |entry: std::result::Result<
                (redb::AccessGuard<'_, (&[u8], &[u8])>, redb::AccessGuard<'_, &[u8]>),
                redb::StorageError,
            >|
             -> Result<bool> {
                let (key, stored) = entry.map_err(storage)?;
                rows.push(decode(key.value(), stored.value()));
                Ok(rows.len() < limit)
            };
            if reverse {
                for entry in entries.rev() {
                    if !push(entry)? {
                        break;
                    }
                }
            } else {
                for entry in entries {
                    if !push(entry)? {
                        break;
                    }
                }
            }
            Ok(rows)
        };
        if limit <= INLINE_ROWS { self.read_now(read_rows) } else { self.blocking(read_rows).await }
    }

    async fn scan(&self, table: &str, segment: Segment, after: Option<Key>, limit: usize) -> Result<Vec<Row>> {
        let name = redb_name(table);
        self.blocking(move |db| {
            let read = db.begin_read().map_err(storage)?;
            let table = open_read(&read, &name)?;
            let mut rows = Vec::new();
            let iter = match &after {
                Some(after) => table.range::<(&[u8], &[u8])>((
                    Bound::Excluded((after.partition.as_slice(), after.clustering.as_slice())),
                    Bound::Unbounded,
                )),
                None => table.range::<(&[u8], &[u8])>(..),
            }
            .map_err(storage)?;
            for entry in iter {
                let (key, stored) = entry.map_err(storage)?;
                let (p, c) = key.value();
                if segment.total > 1 && segment_of(p, segment.total) != segment.segment {
                    continue;
                }
                rows.push(decode((p, c), stored.value()));
                if rows.len() >= limit {
                    break;
                }
            }
            Ok(rows)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> (tempfile::TempDir, EmbeddedEngine) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("items.redb")).unwrap();
        (dir, EmbeddedEngine::new(Arc::new(db)))
    }

    fn key(p: &[u8], c: &[u8]) -> Key {
        Key { partition: p.to_vec(), clustering: c.to_vec() }
    }

    fn put(table: &str, k: Key, value: &[u8], expect: Expect) -> Write {
        Write::put(table, k, value.to_vec(), expect)
    }

    #[tokio::test]
    async fn compare_and_set_on_versions() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        let first = engine.write(vec![put("t", key(b"a", b""), b"1", Expect::Version(0))]).await.unwrap();
        let row = engine.get("t", &key(b"a", b"")).await.unwrap().unwrap();
        assert_eq!((row.value.as_slice(), row.version), (&b"1"[..], first));
        let stale = engine.write(vec![put("t", key(b"a", b""), b"2", Expect::Version(0))]).await;
        assert_eq!(stale, Err(EngineError::VersionMismatch { index: 0 }));
        let second = engine.write(vec![put("t", key(b"a", b""), b"2", Expect::Version(first))]).await.unwrap();
        assert_eq!(engine.get("t", &key(b"a", b"")).await.unwrap().unwrap().version, second);
        // Deleted and written again, the row never gets an old version back.
        engine.write(vec![Write::delete("t", key(b"a", b""), Expect::Version(second))]).await.unwrap();
        engine.write(vec![put("t", key(b"a", b""), b"3", Expect::Version(0))]).await.unwrap();
        let reborn = engine.write(vec![put("t", key(b"a", b""), b"4", Expect::Version(first))]).await;
        assert_eq!(reborn, Err(EngineError::VersionMismatch { index: 0 }));
    }

    #[tokio::test]
    async fn batches_are_all_or_nothing() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        let failed = engine
            .write(vec![
                put("t", key(b"a", b""), b"1", Expect::Anything),
                put("t", key(b"b", b""), b"1", Expect::Version(7)),
            ])
            .await;
        assert_eq!(failed, Err(EngineError::VersionMismatch { index: 1 }));
        assert_eq!(engine.get("t", &key(b"a", b"")).await.unwrap(), None, "the first write was rolled back");
    }

    #[tokio::test]
    async fn queries_stay_in_their_partition_in_both_directions() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        let mut writes = Vec::new();
        for (p, c) in [(b"a", b"1"), (b"b", b"1"), (b"b", b"2"), (b"b", b"3"), (b"b", b"4"), (b"c", b"1")] {
            writes.push(put("t", key(p, c), c, Expect::Anything));
        }
        engine.write(writes).await.unwrap();
        let clusterings = |rows: Vec<Row>| rows.into_iter().map(|r| r.key.clustering[0]).collect::<Vec<_>>();
        let all = engine.query("t", b"b", (Bound::Unbounded, Bound::Unbounded), false, 100).await.unwrap();
        assert_eq!(clusterings(all), b"1234");
        let window = engine
            .query("t", b"b", (Bound::Excluded(b"1".to_vec()), Bound::Included(b"3".to_vec())), true, 100)
            .await
            .unwrap();
        assert_eq!(clusterings(window), b"32");
        let limited = engine.query("t", b"b", (Bound::Unbounded, Bound::Unbounded), true, 2).await.unwrap();
        assert_eq!(clusterings(limited), b"43");
    }

    #[tokio::test]
    async fn segments_partition_a_scan() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        let writes = (0..50u8).map(|i| put("t", key(&[i], b""), b"v", Expect::Anything)).collect();
        engine.write(writes).await.unwrap();
        let mut seen = 0;
        for segment in 0..4 {
            let rows = engine.scan("t", Segment { segment, total: 4 }, None, 1000).await.unwrap();
            seen += rows.len();
        }
        assert_eq!(seen, 50);
        let first = engine.scan("t", Segment { segment: 0, total: 1 }, None, 10).await.unwrap();
        let next = engine.scan("t", Segment { segment: 0, total: 1 }, Some(first[9].key.clone()), 100).await.unwrap();
        assert_eq!(first.len() + next.len(), 50);
    }

    #[tokio::test]
    async fn appends_number_a_log_in_commit_order() {
        let (_dir, engine) = engine();
        engine.create_table("log").await.unwrap();
        for value in [b"a", b"b", b"c"] {
            let append = Write {
                table: "log".into(),
                key: key(b"shard", b""),
                change: Change::Append(value.to_vec()),
                expect: Expect::Anything,
            };
            engine.write(vec![append]).await.unwrap();
        }
        let rows = engine.query("log", b"shard", (Bound::Unbounded, Bound::Unbounded), false, 10).await.unwrap();
        let sequences: Vec<u64> =
            rows.iter().map(|r| u64::from_be_bytes(r.key.clustering.clone().try_into().unwrap())).collect();
        assert_eq!(sequences, [1, 2, 3]);
        assert_eq!(rows[2].value, b"c");
        let check = Write {
            table: "log".into(),
            key: key(b"shard", &2u64.to_be_bytes()),
            change: Change::Check,
            expect: Expect::Version(rows[1].version),
        };
        engine.write(vec![check]).await.unwrap();
        let many = engine
            .get_many(vec![("log".into(), key(b"shard", &1u64.to_be_bytes())), ("log".into(), key(b"x", b""))])
            .await
            .unwrap();
        assert!(many[0].is_some() && many[1].is_none());
    }

    #[tokio::test]
    async fn a_panicking_commit_fails_its_writers_and_the_committer_goes_on() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        engine.create_table(PANICKING_TABLE).await.unwrap();
        let doomed = engine.write(vec![put(PANICKING_TABLE, key(b"a", b""), b"1", Expect::Anything)]).await;
        assert!(matches!(doomed, Err(EngineError::Storage(_))), "{doomed:?}");
        let version = engine.write(vec![put("t", key(b"a", b""), b"1", Expect::Anything)]).await.unwrap();
        assert_eq!(engine.get("t", &key(b"a", b"")).await.unwrap().unwrap().version, version);
    }

    #[test]
    fn groups_are_capped_by_bytes_and_count() {
        let (queue, mut receiver) = mpsc::channel(MAX_GROUP * 2);
        let pending = |size: usize| {
            let (done, _) = oneshot::channel();
            Pending { writes: vec![put("t", key(b"k", b""), &vec![0u8; size], Expect::Anything)], done }
        };
        // Each a third of the cap, key included: two fit, a third does not.
        for _ in 0..5 {
            queue.try_send(pending(MAX_GROUP_BYTES / 3)).unwrap();
        }
        let mut carried = None;
        let mut sizes = Vec::new();
        while let Some(first) = carried.take().or_else(|| receiver.try_recv().ok()) {
            sizes.push(take_group(first, &mut receiver, &mut carried).len());
        }
        assert_eq!(sizes, [2, 2, 1]);
        // A batch larger than the cap still commits, alone.
        queue.try_send(pending(MAX_GROUP_BYTES * 2)).unwrap();
        queue.try_send(pending(1)).unwrap();
        let first = receiver.try_recv().unwrap();
        assert_eq!(take_group(first, &mut receiver, &mut carried).len(), 1);
        assert!(carried.take().is_none(), "the small one waits in the queue, not carried");
        receiver.try_recv().unwrap();
        for _ in 0..MAX_GROUP + 10 {
            queue.try_send(pending(1)).unwrap();
        }
        let first = receiver.try_recv().unwrap();
        assert_eq!(take_group(first, &mut receiver, &mut carried).len(), MAX_GROUP);
    }

    #[tokio::test]
    async fn missing_tables_are_reported() {
        let (_dir, engine) = engine();
        assert_eq!(engine.get("nope", &key(b"a", b"")).await, Err(EngineError::NoSuchTable));
    }

    #[tokio::test]
    async fn a_write_after_drop_table_does_not_bring_the_table_back() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        engine.write(vec![put("t", key(b"a", b""), b"1", Expect::Anything)]).await.unwrap();
        engine.drop_table("t").await.unwrap();
        let late = engine.write(vec![put("t", key(b"b", b""), b"2", Expect::Anything)]).await;
        assert_eq!(late, Err(EngineError::NoSuchTable));
        assert_eq!(engine.get("t", &key(b"b", b"")).await, Err(EngineError::NoSuchTable), "the table stays dropped");
        // A table created again is writable again.
        engine.create_table("t").await.unwrap();
        engine.write(vec![put("t", key(b"c", b""), b"3", Expect::Anything)]).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_share_commits_and_fail_alone() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let k = key(&i.to_be_bytes(), b"");
                if i % 3 == 0 {
                    // Its first write would hold; its second does not, so
                    // neither may land.
                    let doomed = vec![
                        put("t", k, b"doomed", Expect::Anything),
                        put("t", key(b"other", &i.to_be_bytes()), b"x", Expect::Version(99_999)),
                    ];
                    (i, engine.write(doomed).await)
                } else {
                    (i, engine.write(vec![put("t", k, b"ok", Expect::Version(0))]).await)
                }
            }));
        }
        let mut versions = HashSet::new();
        for task in tasks {
            let (i, outcome) = task.await.unwrap();
            let row = engine.get("t", &key(&i.to_be_bytes(), b"")).await.unwrap();
            if i % 3 == 0 {
                assert_eq!(outcome, Err(EngineError::VersionMismatch { index: 1 }));
                assert_eq!(row, None, "a failed batch wrote nothing");
            } else {
                let version = outcome.unwrap();
                assert_eq!(row.unwrap().version, version);
                assert!(versions.insert(version), "every batch has its own version");
            }
        }
        assert_eq!(versions.len(), 133);
    }

    #[tokio::test]
    async fn a_check_sees_the_batches_committed_before_it_in_its_group() {
        let (_dir, engine) = engine();
        engine.create_table("t").await.unwrap();
        let (first, second) = tokio::join!(
            engine.write(vec![put("t", key(b"a", b""), b"1", Expect::Version(0))]),
            engine.write(vec![put("t", key(b"a", b""), b"2", Expect::Version(0))]),
        );
        // Exactly one of two creators of the same row wins.
        assert!(first.is_ok() != second.is_ok(), "{first:?} {second:?}");
    }
}
