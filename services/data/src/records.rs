//! Versioned records: the durable state of every other service (function
//! configurations, API definitions, ...) and the DynamoDB catalog, kept in
//! the same storage engine as the tables, in one engine table whose
//! partition is the namespace and whose clustering key is the record key.
//!
//! Versions make compare-and-set possible: a writer names the version it
//! read, and the write fails if another got there first. Durability is the
//! engine's: an acknowledged write survives a crash.

use std::{ops::Bound, sync::Arc};

use crate::engine::{Engine, EngineError, Expect, Key, Write, prefix_end};

/// The engine table of records.
const TABLE: &str = "records";
/// The longest page `list` returns.
pub const MAX_PAGE: usize = 1000;
/// The most value bytes one page carries (past its first record), so a
/// page of large records stays well inside one gRPC message (8 MiB).
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("version mismatch: expected {expected}")]
    VersionMismatch { expected: u64 },
    #[error("invalid record address: {0}")]
    InvalidAddress(&'static str),
    #[error("storage failure: {0}")]
    Storage(String),
}

pub type Result<T> = std::result::Result<T, RecordError>;

impl From<EngineError> for RecordError {
    fn from(error: EngineError) -> Self {
        RecordError::Storage(error.to_string())
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
    pub version: u64,
}

/// The record store; cheap to clone, safe to share between tasks.
#[derive(Debug, Clone)]
pub struct RecordStore {
    engine: Arc<dyn Engine>,
}

fn address(namespace: &str, key: &str) -> Result<Key> {
    if namespace.is_empty() {
        return Err(RecordError::InvalidAddress("namespace must be non-empty"));
    }
    Ok(Key { partition: namespace.as_bytes().to_vec(), clustering: key.as_bytes().to_vec() })
}

impl RecordStore {
    pub async fn open(engine: Arc<dyn Engine>) -> Result<Self> {
        engine.create_table(TABLE).await?;
        Ok(Self { engine })
    }

    /// Writes `value`; with `expected_version`, only if the stored version
    /// is that one (0: the key must not exist). Returns the new version.
    pub async fn put(&self, namespace: &str, key: &str, value: &[u8], expected_version: Option<u64>) -> Result<u64> {
        let address = address(namespace, key)?;
        let expected = match expected_version {
            Some(expected) => expected,
            None => self.engine.get(TABLE, &address).await?.map_or(0, |row| row.version),
        };
        let write = Write::put(TABLE, address, value.to_vec(), Expect::Version(expected));
        match self.engine.write(vec![write]).await {
            Ok(version) => Ok(version),
            Err(EngineError::VersionMismatch { .. }) if expected_version.is_none() => {
                // An unconditional write that lost a race: write again,
                // after a pause so racing writers spread out.
                crate::engine::backoff::Backoff::new().wait().await;
                Box::pin(self.put(namespace, key, value, None)).await
            }
            Err(EngineError::VersionMismatch { .. }) => Err(RecordError::VersionMismatch { expected }),
            Err(error) => Err(error.into()),
        }
    }

    /// The engine write that stores a record, for a caller that commits it
    /// atomically with other writes (a transaction and its token).
    pub fn write_of(namespace: &str, key: &str, value: Vec<u8>, expected_version: u64) -> Result<Write> {
        Ok(Write::put(TABLE, address(namespace, key)?, value, Expect::Version(expected_version)))
    }

    pub async fn get(&self, namespace: &str, key: &str) -> Result<Option<Record>> {
        let address = address(namespace, key)?;
        Ok(self.engine.get(TABLE, &address).await?.map(|row| Record {
            key: key.to_owned(),
            value: row.value,
            version: row.version,
        }))
    }

    /// Deletes the key; with `expected_version`, only if it matches.
    /// Returns whether the key existed.
    pub async fn delete(&self, namespace: &str, key: &str, expected_version: Option<u64>) -> Result<bool> {
        let address = address(namespace, key)?;
        let current = self.engine.get(TABLE, &address).await?.map_or(0, |row| row.version);
        let expected = expected_version.unwrap_or(current);
        if expected != current {
            return Err(RecordError::VersionMismatch { expected });
        }
        if current == 0 {
            return Ok(false);
        }
        match self.engine.write(vec![Write::delete(TABLE, address, Expect::Version(expected))]).await {
            Ok(_) => Ok(true),
            Err(EngineError::VersionMismatch { .. }) if expected_version.is_none() => {
                crate::engine::backoff::Backoff::new().wait().await;
                Box::pin(self.delete(namespace, key, None)).await
            }
            Err(EngineError::VersionMismatch { .. }) => Err(RecordError::VersionMismatch { expected }),
            Err(error) => Err(error.into()),
        }
    }

    /// Every record of `namespace`, page after page.
    pub async fn list_all(&self, namespace: &str) -> Result<Vec<Record>> {
        let mut all: Vec<Record> = Vec::new();
        loop {
            let after = all.last().map(|record| record.key.clone()).unwrap_or_default();
            let (page, more) = self.list(namespace, "", &after, MAX_PAGE).await?;
            all.extend(page);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Up to `limit` records of `namespace` whose key starts with `prefix`
    /// and sorts after `start_after`, in key order, and whether more follow.
    /// A page ends early once its values pass [`MAX_PAGE_BYTES`].
    pub async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<(Vec<Record>, bool)> {
        let limit = limit.clamp(1, MAX_PAGE);
        address(namespace, "")?;
        let lower = if !start_after.is_empty() && start_after >= prefix {
            Bound::Excluded(start_after.as_bytes().to_vec())
        } else {
            Bound::Included(prefix.as_bytes().to_vec())
        };
        let upper = if prefix.is_empty() { Bound::Unbounded } else { prefix_end(prefix.as_bytes()) };
        let rows = self.engine.query(TABLE, namespace.as_bytes(), (lower, upper), false, limit + 1).await?;
        let mut more = rows.len() > limit;
        let mut records = Vec::with_capacity(rows.len().min(limit));
        let mut bytes = 0;
        for row in rows.into_iter().take(limit) {
            if !records.is_empty() && bytes + row.value.len() > MAX_PAGE_BYTES {
                more = true;
                break;
            }
            bytes += row.value.len();
            records.push(Record {
                key: String::from_utf8_lossy(&row.key.clustering).into_owned(),
                value: row.value,
                version: row.version,
            });
        }
        Ok((records, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::embedded::EmbeddedEngine;

    async fn store() -> (tempfile::TempDir, RecordStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("data.redb")).unwrap();
        let store = RecordStore::open(Arc::new(EmbeddedEngine::new(Arc::new(db)))).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn versions_grow_and_guard_writes() {
        let (_dir, store) = store().await;
        let first = store.put("fn", "a", b"1", Some(0)).await.unwrap();
        assert!(matches!(store.put("fn", "a", b"x", Some(0)).await, Err(RecordError::VersionMismatch { expected: 0 })));
        let second = store.put("fn", "a", b"2", Some(first)).await.unwrap();
        let third = store.put("fn", "a", b"3", None).await.unwrap();
        assert!(first < second && second < third);
        let record = store.get("fn", "a").await.unwrap().unwrap();
        assert_eq!((record.value.as_slice(), record.version), (&b"3"[..], third));
        assert!(matches!(store.delete("fn", "a", Some(first)).await, Err(RecordError::VersionMismatch { .. })));
        assert!(store.delete("fn", "a", Some(third)).await.unwrap());
        assert!(!store.delete("fn", "a", None).await.unwrap());
        assert_eq!(store.get("fn", "a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn lists_one_namespace_by_prefix_in_pages() {
        let (_dir, store) = store().await;
        for key in ["a1", "a2", "a3", "b1"] {
            store.put("x", key, key.as_bytes(), None).await.unwrap();
        }
        store.put("xy", "a0", b"other namespace", None).await.unwrap();
        store.put("w", "a9", b"other namespace", None).await.unwrap();
        let (page, more) = store.list("x", "a", "", 2).await.unwrap();
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a1", "a2"]);
        assert!(more);
        let (page, more) = store.list("x", "a", "a2", 2).await.unwrap();
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a3"]);
        assert!(!more);
        let (page, _) = store.list("x", "", "", 10).await.unwrap();
        assert_eq!(page.len(), 4);
    }

    #[tokio::test]
    async fn a_page_of_large_records_ends_before_the_byte_bound() {
        let (_dir, store) = store().await;
        let large = vec![7u8; MAX_PAGE_BYTES / 3 + 1];
        for key in ["a", "b", "c", "d"] {
            store.put("x", key, &large, None).await.unwrap();
        }
        let (page, more) = store.list("x", "", "", 10).await.unwrap();
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(more);
        let (page, more) = store.list("x", "", "b", 10).await.unwrap();
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["c", "d"]);
        assert!(!more);
        let all = store.list_all("x").await.unwrap();
        assert_eq!(all.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    }

    #[tokio::test]
    async fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.redb");
        {
            let engine = Arc::new(EmbeddedEngine::new(Arc::new(redb::Database::create(&path).unwrap())));
            RecordStore::open(engine).await.unwrap().put("fn", "k", b"v", None).await.unwrap();
        }
        let engine = Arc::new(EmbeddedEngine::new(Arc::new(redb::Database::create(&path).unwrap())));
        let reopened = RecordStore::open(engine).await.unwrap();
        assert_eq!(reopened.get("fn", "k").await.unwrap().unwrap().value, b"v");
    }

    #[tokio::test]
    async fn refuses_an_empty_namespace() {
        let (_dir, store) = store().await;
        assert!(matches!(store.put("", "k", b"", None).await, Err(RecordError::InvalidAddress(_))));
    }
}
