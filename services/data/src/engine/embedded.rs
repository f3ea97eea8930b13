//! The embedded engine: every DynamoDB table is a `redb` table keyed by
//! `(partition, clustering)`, in the same ACID file as the service's
//! records. Commits are fsynced before they return, so an acknowledged
//! write survives a crash; redb serializes write transactions, which makes
//! compare-and-set and multi-row batches atomic without further locking.

use std::{ops::Bound, sync::Arc};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use super::{Change, Engine, EngineError, Expect, Key, Result, Row, Segment, Write, segment_of};

type ItemsTable<'a> = TableDefinition<'a, (&'static [u8], &'static [u8]), &'static [u8]>;

/// The last commit number: every write transaction takes the next one and
/// stamps it on the rows it writes, so versions never repeat.
const COMMITS: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta/commits");

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

fn decode(key: (&[u8], &[u8]), stored: &[u8]) -> Row {
    let (version, value) = stored.split_at(8.min(stored.len()));
    Row {
        key: Key { partition: key.0.to_vec(), clustering: key.1.to_vec() },
        value: value.to_vec(),
        version: version.try_into().map(u64::from_be_bytes).unwrap_or(0),
    }
}

#[derive(Debug, Clone)]
pub struct EmbeddedEngine {
    db: Arc<Database>,
}

impl EmbeddedEngine {
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await.map_err(storage)?
    }
}

#[async_trait]
impl Engine for EmbeddedEngine {
    async fn create_table(&self, table: &str) -> Result<()> {
        let name = redb_name(table);
        self.blocking(move |db| {
            let write = db.begin_write().map_err(storage)?;
            write.open_table(definition(&name)).map_err(storage)?;
            write.commit().map_err(storage)
        })
        .await
    }

    async fn drop_table(&self, table: &str) -> Result<()> {
        let name = redb_name(table);
        self.blocking(move |db| {
            let write = db.begin_write().map_err(storage)?;
            write.delete_table(definition(&name)).map_err(storage)?;
            write.commit().map_err(storage)
        })
        .await
    }

    async fn get(&self, table: &str, key: &Key) -> Result<Option<Row>> {
        let (name, key) = (redb_name(table), key.clone());
        self.blocking(move |db| {
            let read = db.begin_read().map_err(storage)?;
            let table = open_read(&read, &name)?;
            let row = table
                .get((key.partition.as_slice(), key.clustering.as_slice()))
                .map_err(storage)?
                .map(|stored| decode((&key.partition, &key.clustering), stored.value()));
            Ok(row)
        })
        .await
    }

    async fn get_many(&self, keys: Vec<(String, Key)>) -> Result<Vec<Option<Row>>> {
        self.blocking(move |db| {
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
        })
        .await
    }

    async fn write(&self, writes: Vec<Write>) -> Result<u64> {
        self.blocking(move |db| {
            let transaction = db.begin_write().map_err(storage)?;
            let commit = {
                let mut commits = transaction.open_table(COMMITS).map_err(storage)?;
                let commit = commits.get("last").map_err(storage)?.map(|v| v.value()).unwrap_or(0) + 1;
                commits.insert("last", commit).map_err(storage)?;
                commit
            };
            for (index, write) in writes.iter().enumerate() {
                let name = redb_name(&write.table);
                let mut table = match transaction.open_table(definition(&name)) {
                    Ok(table) => table,
                    Err(error) => return Err(storage(error)),
                };
                let address = (write.key.partition.as_slice(), write.key.clustering.as_slice());
                let current =
                    table.get(address).map_err(storage)?.map(|s| decode(address, s.value()).version).unwrap_or(0);
                if let Expect::Version(expected) = write.expect
                    && expected != current
                {
                    // Dropping the transaction without commit discards it.
                    return Err(EngineError::VersionMismatch { index });
                }
                match &write.change {
                    Change::Put(value) => {
                        let mut stored = Vec::with_capacity(8 + value.len());
                        stored.extend_from_slice(&commit.to_be_bytes());
                        stored.extend_from_slice(value);
                        table.insert(address, stored.as_slice()).map_err(storage)?;
                    }
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
                        let mut stored = Vec::with_capacity(8 + value.len());
                        stored.extend_from_slice(&commit.to_be_bytes());
                        stored.extend_from_slice(value);
                        table.insert((partition, &sequence[..]), stored.as_slice()).map_err(storage)?;
                    }
                }
            }
            transaction.commit().map_err(storage)?;
            Ok(commit)
        })
        .await
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
        self.blocking(move |db| {
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
        })
        .await
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
    async fn missing_tables_are_reported() {
        let (_dir, engine) = engine();
        assert_eq!(engine.get("nope", &key(b"a", b"")).await, Err(EngineError::NoSuchTable));
    }
}
