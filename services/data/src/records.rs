//! Versioned records in an embedded `redb` database: the durable state of
//! every other service (function configurations, API definitions, ...).
//!
//! One table maps `namespace \0 key` to `version (u64, big-endian) ‖ value`.
//! A write transaction is committed with redb's immediate durability, which
//! fsyncs before returning, so an acknowledged write survives `kill -9` and
//! power loss. Versions make compare-and-set possible: a writer names the
//! version it read, and the write fails if another got there first.

use std::{path::Path, sync::Arc};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// The longest page `list` returns.
pub const MAX_PAGE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("version mismatch: expected {expected}, found {found}")]
    VersionMismatch { expected: u64, found: u64 },
    #[error("invalid record address: {0}")]
    InvalidAddress(&'static str),
    #[error("storage failure: {0}")]
    Storage(String),
}

pub type Result<T> = std::result::Result<T, RecordError>;

macro_rules! storage_error {
    ($($error:ty),*) => {$(
        impl From<$error> for RecordError {
            fn from(error: $error) -> Self {
                RecordError::Storage(error.to_string())
            }
        }
    )*};
}
storage_error!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
    pub version: u64,
}

/// The record store; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct RecordStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStore").finish_non_exhaustive()
    }
}

fn address(namespace: &str, key: &str) -> Result<Vec<u8>> {
    if namespace.is_empty() || namespace.contains('\0') {
        return Err(RecordError::InvalidAddress("namespace must be non-empty and free of NUL"));
    }
    if key.contains('\0') {
        return Err(RecordError::InvalidAddress("key must be free of NUL"));
    }
    let mut address = Vec::with_capacity(namespace.len() + 1 + key.len());
    address.extend_from_slice(namespace.as_bytes());
    address.push(0);
    address.extend_from_slice(key.as_bytes());
    Ok(address)
}

fn decode(stored: &[u8]) -> (u64, &[u8]) {
    let (version, value) = stored.split_at(8.min(stored.len()));
    let version = version.try_into().map(u64::from_be_bytes).unwrap_or(0);
    (version, value)
}

impl RecordStore {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)?;
        // Create the table up front so readers never find it missing.
        let write = db.begin_write()?;
        write.open_table(RECORDS)?;
        write.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    /// The database the record store lives in, shared with the embedded
    /// item engine so both commit through one file.
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }

    /// Writes `value`; with `expected_version`, only if the stored version
    /// is that one (0: the key must not exist). Returns the new version.
    pub fn put(&self, namespace: &str, key: &str, value: &[u8], expected_version: Option<u64>) -> Result<u64> {
        let address = address(namespace, key)?;
        let write = self.db.begin_write()?;
        let version = {
            let mut table = write.open_table(RECORDS)?;
            let current = table.get(address.as_slice())?.map(|stored| decode(stored.value()).0).unwrap_or(0);
            if let Some(expected) = expected_version
                && expected != current
            {
                return Err(RecordError::VersionMismatch { expected, found: current });
            }
            let version = current + 1;
            let mut stored = Vec::with_capacity(8 + value.len());
            stored.extend_from_slice(&version.to_be_bytes());
            stored.extend_from_slice(value);
            table.insert(address.as_slice(), stored.as_slice())?;
            version
        };
        write.commit()?;
        Ok(version)
    }

    pub fn get(&self, namespace: &str, key: &str) -> Result<Option<Record>> {
        let address = address(namespace, key)?;
        let read = self.db.begin_read()?;
        let table = read.open_table(RECORDS)?;
        Ok(table.get(address.as_slice())?.map(|stored| {
            let (version, value) = decode(stored.value());
            Record { key: key.to_owned(), value: value.to_vec(), version }
        }))
    }

    /// Deletes the key; with `expected_version`, only if it matches.
    /// Returns whether the key existed.
    pub fn delete(&self, namespace: &str, key: &str, expected_version: Option<u64>) -> Result<bool> {
        let address = address(namespace, key)?;
        let write = self.db.begin_write()?;
        let existed = {
            let mut table = write.open_table(RECORDS)?;
            let current = table.get(address.as_slice())?.map(|stored| decode(stored.value()).0).unwrap_or(0);
            if let Some(expected) = expected_version
                && expected != current
            {
                return Err(RecordError::VersionMismatch { expected, found: current });
            }
            table.remove(address.as_slice())?.is_some()
        };
        write.commit()?;
        Ok(existed)
    }

    /// Up to `limit` records of `namespace` whose key starts with `prefix`
    /// and sorts after `start_after`, in key order, and whether more follow.
    pub fn list(&self, namespace: &str, prefix: &str, start_after: &str, limit: usize) -> Result<(Vec<Record>, bool)> {
        let limit = limit.clamp(1, MAX_PAGE);
        let lower = address(namespace, if start_after.as_bytes() > prefix.as_bytes() { start_after } else { prefix })?;
        let namespace_start = address(namespace, "")?;
        let read = self.db.begin_read()?;
        let table = read.open_table(RECORDS)?;
        let mut records = Vec::new();
        for entry in table.range(lower.as_slice()..)? {
            let (stored_key, stored) = entry?;
            let Some(key) = stored_key.value().strip_prefix(namespace_start.as_slice()) else { break };
            let key = String::from_utf8_lossy(key).into_owned();
            if !key.starts_with(prefix) {
                break;
            }
            if key.as_str() <= start_after && !start_after.is_empty() {
                continue;
            }
            if records.len() == limit {
                return Ok((records, true));
            }
            let (version, value) = decode(stored.value());
            records.push(Record { key, value: value.to_vec(), version });
        }
        Ok((records, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, RecordStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(&dir.path().join("records.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn versions_grow_and_guard_writes() {
        let (_dir, store) = store();
        assert_eq!(store.put("fn", "a", b"1", Some(0)).unwrap(), 1);
        assert!(matches!(
            store.put("fn", "a", b"x", Some(0)),
            Err(RecordError::VersionMismatch { expected: 0, found: 1 })
        ));
        assert_eq!(store.put("fn", "a", b"2", Some(1)).unwrap(), 2);
        assert_eq!(store.put("fn", "a", b"3", None).unwrap(), 3);
        let record = store.get("fn", "a").unwrap().unwrap();
        assert_eq!((record.value.as_slice(), record.version), (&b"3"[..], 3));
        assert!(matches!(store.delete("fn", "a", Some(1)), Err(RecordError::VersionMismatch { .. })));
        assert!(store.delete("fn", "a", Some(3)).unwrap());
        assert!(!store.delete("fn", "a", None).unwrap());
        assert_eq!(store.get("fn", "a").unwrap(), None);
    }

    #[test]
    fn lists_one_namespace_by_prefix_in_pages() {
        let (_dir, store) = store();
        for key in ["a1", "a2", "a3", "b1"] {
            store.put("x", key, key.as_bytes(), None).unwrap();
        }
        store.put("xy", "a0", b"other namespace", None).unwrap();
        store.put("w", "a9", b"other namespace", None).unwrap();
        let (page, more) = store.list("x", "a", "", 2).unwrap();
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a1", "a2"]);
        assert!(more);
        let (page, more) = store.list("x", "a", "a2", 2).unwrap();
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a3"]);
        assert!(!more);
        let (page, _) = store.list("x", "", "", 10).unwrap();
        assert_eq!(page.len(), 4);
    }

    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.redb");
        RecordStore::open(&path).unwrap().put("fn", "k", b"v", None).unwrap();
        let reopened = RecordStore::open(&path).unwrap();
        assert_eq!(reopened.get("fn", "k").unwrap().unwrap().value, b"v");
    }

    #[test]
    fn refuses_nul_in_addresses() {
        let (_dir, store) = store();
        assert!(matches!(store.put("", "k", b"", None), Err(RecordError::InvalidAddress(_))));
        assert!(matches!(store.put("n", "k\0", b"", None), Err(RecordError::InvalidAddress(_))));
    }
}
