//! The L2 tier: Redis, shared by every replica.
//!
//! The `redis` crate's `ConnectionManager` multiplexes one connection for
//! all of a replica's requests and reconnects by itself after Redis
//! restarts, so this tier holds no pool. It is an optimisation, never a
//! dependency: every call has a short deadline, and after a failure the
//! tier is skipped for a moment (with a warning at most every few
//! seconds), so a viewer never waits on a Redis that is down or slow;
//! once Redis answers again, stores refill it. Nothing here is the only
//! copy of anything, so a Redis that restarts empty loses no correctness.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use redis::{AsyncCommands, aio::ConnectionManager};

use super::{
    Entry, Key,
    codec::{self, Stored},
};

/// How long a viewer's read or write may wait on Redis.
const DEADLINE: Duration = Duration::from_millis(50);
/// The extra time a write gets per MiB of value: the deadline is for
/// Redis's latency, not for moving a large body.
const DEADLINE_PER_MIB: Duration = Duration::from_millis(10);
/// How long each step of an invalidation's walk may take; invalidations
/// are not on a viewer's path.
const SCAN_DEADLINE: Duration = Duration::from_secs(2);
/// How long the tier is skipped after a failure.
const BACKOFF: Duration = Duration::from_millis(500);
/// The least time between two warnings of a failing Redis.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);
/// Bodies larger than this stay in memory only: moving them through
/// Redis would not fit the deadline, and they are few.
pub const MAX_SHARED_BYTES: usize = 8 * 1024 * 1024;

/// A connection to the shared tier; cheap to clone.
#[derive(Clone)]
pub struct RedisTier {
    connection: ConnectionManager,
    health: Arc<Health>,
    /// Invalidations Redis has not confirmed yet: retried in the
    /// background, and what they match is not served from Redis
    /// meanwhile, so a Redis that was unreachable for a moment never
    /// brings back what was invalidated.
    pending: Arc<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    invalidations: Mutex<Vec<(String, Vec<String>)>>,
    /// Whether `invalidations` is non-empty, read without the lock on
    /// every get.
    any: AtomicBool,
    /// Whether a retry task runs.
    retrying: AtomicBool,
}

impl Pending {
    fn matches(&self, key: &Key) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let Ok(invalidations) = self.invalidations.lock() else { return true };
        invalidations.iter().any(|(distribution, paths)| super::matches(key, distribution, paths))
    }

    fn push(&self, distribution: &str, paths: &[String]) {
        if let Ok(mut invalidations) = self.invalidations.lock() {
            invalidations.push((distribution.to_owned(), paths.to_vec()));
            self.any.store(true, Ordering::Release);
        }
    }

    fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        self.invalidations.lock().map(|invalidations| invalidations.clone()).unwrap_or_default()
    }

    /// Forgets the first `done` invalidations (those a retry confirmed).
    fn confirm(&self, done: usize) -> bool {
        let Ok(mut invalidations) = self.invalidations.lock() else { return false };
        let done = done.min(invalidations.len());
        invalidations.drain(..done);
        let any = !invalidations.is_empty();
        self.any.store(any, Ordering::Release);
        any
    }
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("RedisTier").field("errors", &self.health.errors.load(Ordering::Relaxed)).finish()
    }
}

impl RedisTier {
    /// A tier on `url` (`redis://host:port`). It connects lazily, so it
    /// is made whether or not Redis is up yet; it needs a tokio runtime.
    pub fn connect(url: &str) -> Result<Self, String> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("the redis tier needs a tokio runtime".into());
        }
        let client = redis::Client::open(url).map_err(|error| format!("redis url {url:?}: {error}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(250)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| format!("redis at {url:?}: {error}"))?;
        Ok(Self { connection, health: Arc::new(Health::new()), pending: Arc::default() })
    }

    /// The variants Redis holds under `key` that are still servable;
    /// `None` when Redis was skipped or failed (a miss to the caller).
    pub(crate) async fn get(&self, key: &Key) -> Option<Vec<Stored>> {
        if self.pending.matches(key) {
            return None;
        }
        let redis_key = codec::redis_key(key);
        let mut connection = self.connection.clone();
        let fields: Vec<(Vec<u8>, Vec<u8>)> =
            self.call("get", DEADLINE, async move { connection.hgetall(redis_key).await }).await?;
        let now = SystemTime::now();
        Some(
            fields
                .iter()
                .filter_map(|(_, value)| codec::decode(value))
                .filter(|stored| stored.expires_at > now)
                .collect(),
        )
    }

    /// Stores a variant until `expires_at`; the hash lives as long as its
    /// longest-lived variant.
    pub(crate) async fn put(&self, key: &Key, entry: &Entry, expires_at: SystemTime) {
        if entry.body.len() > MAX_SHARED_BYTES {
            return;
        }
        let Some(value) = codec::encode(entry, expires_at) else { return };
        let Ok(expires_in) = expires_at.duration_since(SystemTime::now()) else { return };
        let seconds = i64::try_from(expires_in.as_secs().max(1)).unwrap_or(i64::MAX);
        let deadline = DEADLINE + DEADLINE_PER_MIB * u32::try_from(value.len() >> 20).unwrap_or(u32::MAX);
        let redis_key = codec::redis_key(key);
        let field = codec::variant_field(entry);
        let mut connection = self.connection.clone();
        // `NX` gives a new hash its expiry, `GT` lengthens an old one's
        // (Redis treats a key without expiry as never expiring, so `GT`
        // alone would skip a new hash), in one transaction.
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .hset(&redis_key, field, value)
            .ignore()
            .cmd("EXPIRE")
            .arg(&redis_key)
            .arg(seconds)
            .arg("NX")
            .ignore()
            .cmd("EXPIRE")
            .arg(&redis_key)
            .arg(seconds)
            .arg("GT")
            .ignore();
        let _: Option<()> =
            self.call("store", deadline, async move { pipeline.query_async(&mut connection).await }).await;
    }

    pub(crate) async fn remove(&self, key: &Key) {
        let redis_key = codec::redis_key(key);
        let mut connection = self.connection.clone();
        let _: Option<()> = self.call("remove", DEADLINE, async move { connection.unlink(redis_key).await }).await;
    }

    /// Drops every key of `distribution` that one of `paths` matches;
    /// returns how many, or `None` if Redis failed part-way, in which
    /// case the invalidation is retried until Redis confirms it.
    pub(crate) async fn invalidate(&self, distribution: &str, paths: &[String]) -> Option<u64> {
        let dropped = self.unlink_matching(distribution, paths).await;
        if dropped.is_none() {
            self.pending.push(distribution, paths);
            self.retry_pending();
        }
        dropped
    }

    /// Starts the task that retries unconfirmed invalidations, unless it
    /// runs; it ends once none is left.
    fn retry_pending(&self) {
        if self.pending.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let tier = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BACKOFF).await;
                let invalidations = tier.pending.snapshot();
                let mut done = 0;
                for (distribution, paths) in &invalidations {
                    if tier.unlink_matching(distribution, paths).await.is_none() {
                        break;
                    }
                    done += 1;
                }
                if !tier.pending.confirm(done) {
                    tier.pending.retrying.store(false, Ordering::Release);
                    // One pushed between `confirm` and the store above
                    // would otherwise wait for the next failure.
                    if tier.pending.any.load(Ordering::Acquire) {
                        tier.retry_pending();
                    }
                    return;
                }
            }
        });
    }

    async fn unlink_matching(&self, distribution: &str, paths: &[String]) -> Option<u64> {
        let mut dropped = 0u64;
        for path in paths {
            let pattern = codec::invalidation_pattern(distribution, path);
            let mut cursor = 0u64;
            loop {
                let mut connection = self.connection.clone();
                let pattern = pattern.clone();
                let (next, keys): (u64, Vec<Vec<u8>>) = self
                    .call_anyway("invalidate", SCAN_DEADLINE, async move {
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(pattern)
                            .arg("COUNT")
                            .arg(1000)
                            .query_async(&mut connection)
                            .await
                    })
                    .await?;
                if !keys.is_empty() {
                    let mut connection = self.connection.clone();
                    let count: u64 = self
                        .call_anyway("invalidate", SCAN_DEADLINE, async move { connection.unlink(keys).await })
                        .await?;
                    dropped += count;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Some(dropped)
    }

    /// How many Redis calls failed or timed out.
    pub fn errors(&self) -> u64 {
        self.health.errors.load(Ordering::Relaxed)
    }

    /// Runs one Redis call within `deadline` unless the tier is backing
    /// off; a failure starts a backoff.
    async fn call<T>(
        &self,
        operation: &'static str,
        deadline: Duration,
        work: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        if !self.health.available() {
            return None;
        }
        self.call_anyway(operation, deadline, work).await
    }

    /// Runs one Redis call within `deadline`, backoff or not (an
    /// invalidation must reach Redis); a failure starts a backoff.
    async fn call_anyway<T>(
        &self,
        operation: &'static str,
        deadline: Duration,
        work: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        let error = match tokio::time::timeout(deadline, work).await {
            Ok(Ok(value)) => {
                self.health.succeeded();
                return Some(value);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", deadline.as_millis()),
        };
        self.health.failed(operation, &error);
        None
    }
}

/// Whether Redis is worth asking, as the last calls found it.
#[derive(Debug)]
struct Health {
    /// The origin of the millisecond clocks below.
    epoch: Instant,
    /// Until when the tier is skipped (milliseconds since `epoch`).
    skip_until: AtomicU64,
    /// When the last warning was logged (milliseconds since `epoch`, plus
    /// one so zero means never).
    warned_at: AtomicU64,
    /// Whether the last call failed, so recovery is logged once.
    down: AtomicBool,
    errors: AtomicU64,
}

impl Health {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            skip_until: AtomicU64::new(0),
            warned_at: AtomicU64::new(0),
            down: AtomicBool::new(false),
            errors: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn available(&self) -> bool {
        self.now() >= self.skip_until.load(Ordering::Relaxed)
    }

    fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("the redis tier answers again");
        }
    }

    fn failed(&self, operation: &'static str, error: &str) {
        let now = self.now();
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.down.store(true, Ordering::Relaxed);
        self.skip_until.store(now + u64::try_from(BACKOFF.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let warned_at = self.warned_at.load(Ordering::Relaxed);
        let interval = u64::try_from(WARNING_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        let due = warned_at == 0 || now + 1 >= warned_at + interval;
        if due && self.warned_at.compare_exchange(warned_at, now + 1, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(
                operation,
                error,
                "the redis tier is skipped for now: cache reads and writes stay in memory"
            );
        }
    }
}
