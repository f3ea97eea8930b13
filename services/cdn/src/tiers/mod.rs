//! The cache's storage: an L1 memory tier per replica ([`memory`]) over
//! an optional L2 in Redis shared by every replica ([`shared`]).
//!
//! A read looks in memory, then in Redis (filling memory with what it
//! finds); a store writes both. Each variant is stored with how long it
//! stays servable (its freshness plus the staleness the caller may still
//! serve), and neither tier keeps it longer. Redis is best effort: when
//! it is down or slow the tiers act as memory alone.

mod codec;
mod memory;
mod shared;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use shared::{MAX_SHARED_BYTES, RedisTier};

use memory::{Memory, Variant};

/// A primary cache key: the distribution, the viewer's path, and what
/// else the behavior's cache policy puts in the key. Invalidations match
/// on the first two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub distribution: String,
    pub path: String,
    /// Query strings, headers, cookies and encoding, as the policy keys
    /// them, in a canonical order.
    pub rest: String,
}

/// One stored response (a variant: the request headers its `Vary` names
/// are kept beside it). Redis holds its serde fields as they are, so a
/// field added here is stored too; an old value that lacks one no longer
/// decodes and reads as a miss, unless the field has a serde default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub status: u16,
    /// The response's header fields as stored, in order, names lowercased.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Kept raw beside the serde head, never inside it.
    #[serde(skip)]
    pub body: Bytes,
    /// When the request that fetched it was sent, and when its response
    /// arrived (RFC 9111 §4.2.3's `request_time` and `response_time`).
    pub request_time: SystemTime,
    pub response_time: SystemTime,
    /// The request header fields its `Vary` names, as the request that
    /// stored it carried them (`None`: absent).
    pub vary: Vec<(String, Option<Vec<u8>>)>,
}

/// The cache tiers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Tiers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    memory: Memory,
    redis: Option<RedisTier>,
    counters: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    memory_hits: AtomicU64,
    shared_hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    stored_bytes: AtomicU64,
}

/// What the tiers have done since they were made, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Reads answered from this replica's memory.
    pub memory_hits: u64,
    /// Reads answered from Redis after a memory miss.
    pub shared_hits: u64,
    /// Reads neither tier answered.
    pub misses: u64,
    pub stores: u64,
    /// The bytes of the entries stored (bodies and header fields).
    pub stored_bytes: u64,
    /// The bytes memory holds now, and in how many keys.
    pub memory_bytes: u64,
    pub memory_keys: u64,
    /// Redis calls that failed or timed out (each one skipped).
    pub shared_errors: u64,
}

impl Default for Tiers {
    /// Memory only, of the configuration's default size.
    fn default() -> Self {
        Self::new(crate::Config::default().memory_bytes, None)
    }
}

impl Tiers {
    /// Tiers of `memory_bytes` in memory, over `redis` if given.
    pub fn new(memory_bytes: u64, redis: Option<RedisTier>) -> Self {
        let inner = Inner { memory: Memory::new(memory_bytes), redis, counters: Counters::default() };
        Self { inner: Arc::new(inner) }
    }

    /// The tiers `config` asks for. Redis is connected lazily, so this
    /// succeeds while Redis is still starting; it fails only on a bad URL
    /// or outside a tokio runtime.
    pub fn connect(config: &crate::Config) -> Result<Self, String> {
        let redis = config.redis.as_deref().map(RedisTier::connect).transpose()?;
        Ok(Self::new(config.memory_bytes, redis))
    }

    /// Every servable variant stored under `key` (empty: a miss). A hit
    /// in memory clones reference counts only.
    pub async fn variants(&self, key: &Key) -> Vec<Arc<Entry>> {
        let counters = &self.inner.counters;
        if let Some(found) = self.inner.memory.get(key) {
            counters.memory_hits.fetch_add(1, Ordering::Relaxed);
            return found;
        }
        let Some(redis) = &self.inner.redis else {
            counters.misses.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        };
        let stored = redis.get(key).await.unwrap_or_default();
        if stored.is_empty() {
            counters.misses.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        }
        counters.shared_hits.fetch_add(1, Ordering::Relaxed);
        let (now, wall) = (Instant::now(), SystemTime::now());
        let variants: Vec<Variant> = stored
            .into_iter()
            .map(|stored| Variant {
                expires_at: now + stored.expires_at.duration_since(wall).unwrap_or_default(),
                entry: Arc::new(stored.entry),
            })
            .collect();
        let found = variants.iter().map(|variant| variant.entry.clone()).collect();
        self.inner.memory.fill(key, variants);
        found
    }

    /// Stores `entry` under `key`, replacing the variant with the same
    /// `vary` selection, for `expires_in`: how long the caller could still
    /// serve it (its freshness lifetime left plus the staleness it may
    /// serve, as `stale-while-revalidate` and `stale-if-error` allow).
    /// Neither tier keeps it longer; Redis expires it by itself. Waits
    /// for Redis at most a few tens of milliseconds.
    pub async fn store(&self, key: &Key, entry: Arc<Entry>, expires_in: Duration) {
        if expires_in.is_zero() {
            return;
        }
        let counters = &self.inner.counters;
        counters.stores.fetch_add(1, Ordering::Relaxed);
        let bytes = u64::try_from(memory::entry_bytes(&entry)).unwrap_or(u64::MAX);
        counters.stored_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner.memory.put(key, Variant { entry: entry.clone(), expires_at: Instant::now() + expires_in });
        if let Some(redis) = &self.inner.redis {
            redis.put(key, &entry, SystemTime::now() + expires_in).await;
        }
    }

    /// Drops every variant under `key`.
    pub async fn remove(&self, key: &Key) {
        self.inner.memory.remove(key);
        if let Some(redis) = &self.inner.redis {
            redis.remove(key).await;
        }
    }

    /// Drops every entry of `distribution` whose path matches one of
    /// `paths` (CloudFront invalidation paths: exact, which covers every
    /// query string and header variant, or ending in `*` for a prefix, as
    /// `/*`), from this replica's memory and from Redis (each replica
    /// applies an invalidation to its own memory). Returns how many keys
    /// were dropped: from memory, or from Redis if that is more. A Redis
    /// that cannot be reached gets the invalidation when it can be, and
    /// serves nothing it matches until then.
    pub async fn invalidate(&self, distribution: &str, paths: &[String]) -> u64 {
        // Keys hold the path alone (the query is in `rest`), so a path
        // given with a query string invalidates every variant of its path:
        // a superset of what it names, never less.
        let paths: Vec<String> =
            paths.iter().map(|path| path.split_once('?').map_or(path.as_str(), |(path, _)| path).to_owned()).collect();
        let paths = paths.as_slice();
        let from_memory = self.inner.memory.remove_matching(|key| matches(key, distribution, paths));
        let from_redis = match &self.inner.redis {
            Some(redis) => redis.invalidate(distribution, paths).await.unwrap_or(0),
            None => 0,
        };
        from_memory.max(from_redis)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let counters = &self.inner.counters;
        Stats {
            memory_hits: counters.memory_hits.load(Ordering::Relaxed),
            shared_hits: counters.shared_hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            stores: counters.stores.load(Ordering::Relaxed),
            stored_bytes: counters.stored_bytes.load(Ordering::Relaxed),
            memory_bytes: self.inner.memory.weighted_size(),
            memory_keys: self.inner.memory.entry_count(),
            shared_errors: self.inner.redis.as_ref().map_or(0, RedisTier::errors),
        }
    }

    /// Applies memory's pending evictions and accounting, which moka
    /// otherwise batches; for tests and exact `stats`.
    pub fn run_pending_tasks(&self) {
        self.inner.memory.run_pending_tasks();
    }
}

/// Whether an invalidation of `paths` in `distribution` reaches `key`.
pub(crate) fn matches(key: &Key, distribution: &str, paths: &[String]) -> bool {
    key.distribution == distribution
        && paths.iter().any(|path| match path.strip_suffix('*') {
            Some(prefix) => key.path.starts_with(prefix),
            None => key.path == *path,
        })
}

#[cfg(test)]
mod tests;
