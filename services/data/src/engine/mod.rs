//! The storage engine under DynamoDB tables, shaped like a wide-column
//! store so ScyllaDB fits it natively: rows addressed by a partition key and
//! a clustering key inside a table, range reads within a partition in either
//! direction, segment scans for parallel Scan, compare-and-set on a per-row
//! version, and atomic multi-row writes for transactions. DynamoDB
//! semantics live above this trait, written once for every engine.

pub mod backoff;
pub mod cql;
pub mod embedded;

use std::ops::Bound;

use async_trait::async_trait;

/// Where a row lives in its table. Keys are byte strings whose order is the
/// DynamoDB order of the key values (see `dynamodb::keys`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub partition: Vec<u8>,
    /// Empty for tables without a range key.
    pub clustering: Vec<u8>,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: Key,
    pub value: Vec<u8>,
    /// Changes with every write of the row and never comes back, even after
    /// the row is deleted and written again, so a compare-and-set cannot
    /// mistake a new row for the one it read; 0 means "absent".
    pub version: u64,
}

/// What a conditional write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Anything,
    /// The row's current version (0: the row must be absent).
    Version(u64),
}

/// What a write does to its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Vec<u8>),
    Delete,
    /// Writes nothing: only the expectation is checked (a transaction's
    /// ConditionCheck).
    Check,
    /// Appends a row to a log partition: the engine picks the clustering
    /// key, the next 8-byte big-endian sequence number of the partition, in
    /// the same atomic write, so log order is commit order.
    Append(Vec<u8>),
}

/// One write of an atomic batch.
#[derive(Debug, Clone)]
pub struct Write {
    pub table: String,
    pub key: Key,
    pub change: Change,
    pub expect: Expect,
}

impl Write {
    pub fn put(table: &str, key: Key, value: Vec<u8>, expect: Expect) -> Self {
        Self { table: table.to_owned(), key, change: Change::Put(value), expect }
    }

    pub fn delete(table: &str, key: Key, expect: Expect) -> Self {
        Self { table: table.to_owned(), key, change: Change::Delete, expect }
    }
}

/// Which share of a table a scan reads: rows whose partition hashes to
/// `segment` modulo `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub segment: u32,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A compare-and-set did not hold; for a batch, the index of the write.
    #[error("a conditional write found another version")]
    VersionMismatch { index: usize },
    #[error("no such table")]
    NoSuchTable,
    #[error("storage failure: {0}")]
    Storage(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;

#[async_trait]
pub trait Engine: Send + Sync + std::fmt::Debug + 'static {
    async fn create_table(&self, table: &str) -> Result<()>;
    async fn drop_table(&self, table: &str) -> Result<()>;
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Row>>;
    /// Reads several rows as of one moment (a transaction's reads).
    async fn get_many(&self, keys: Vec<(String, Key)>) -> Result<Vec<Option<Row>>>;
    /// Applies `writes` all or none: every expectation must hold. Returns
    /// the version the written rows now have.
    async fn write(&self, writes: Vec<Write>) -> Result<u64>;
    /// Rows of one partition whose clustering key is within the bounds, in
    /// clustering order (or reversed), at most `limit`.
    async fn query(
        &self,
        table: &str,
        partition: &[u8],
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Row>>;
    /// Up to `limit` rows of a segment, in key order, after `after`.
    async fn scan(&self, table: &str, segment: Segment, after: Option<Key>, limit: usize) -> Result<Vec<Row>>;
}

/// The segment a partition belongs to: a stable hash (FNV-1a) of its key.
pub fn segment_of(partition: &[u8], total: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in partition {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(total.max(1))) as u32
}

/// The smallest byte string greater than every string starting with
/// `prefix`, as an exclusive upper bound (unbounded for `ff ff ...`).
pub fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}
