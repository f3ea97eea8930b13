//! The L1 tier: this replica's memory.
//!
//! `moka` rather than a map behind a lock: it bounds the cache by a
//! weight (here bytes) with a TinyLFU admission and LRU eviction that
//! keep hot objects under a scan of cold ones, its reads take no global
//! lock, and it expires each entry at its own time. One moka entry per
//! primary key holds all its variants, so a hit is one lookup and the
//! clones it makes are reference counts, never bodies.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use moka::{Expiry, sync::Cache};

use super::{Entry, Key};

/// A variant and when it stops being servable.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub entry: Arc<Entry>,
    pub expires_at: Instant,
}

/// The variants of one primary key.
pub(crate) type Variants = Arc<[Variant]>;

/// Each moka entry lives until its last variant stops being servable.
struct UntilLastVariant;

impl Expiry<Key, Variants> for UntilLastVariant {
    fn expire_after_create(&self, _key: &Key, value: &Variants, created_at: Instant) -> Option<Duration> {
        Some(remaining(value, created_at))
    }

    fn expire_after_update(
        &self,
        _key: &Key,
        value: &Variants,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(remaining(value, updated_at))
    }
}

fn remaining(value: &Variants, now: Instant) -> Duration {
    value.iter().map(|variant| variant.expires_at.saturating_duration_since(now)).max().unwrap_or_default()
}

/// What an entry costs in memory: its bodies, its header fields and its
/// key; moka's weights are `u32`, so larger ones saturate.
fn weigh(key: &Key, value: &Variants) -> u32 {
    let key_bytes = key.distribution.len() + key.path.len() + key.rest.len();
    let bytes = value.iter().fold(key_bytes, |sum, variant| sum.saturating_add(entry_bytes(&variant.entry)));
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The bytes an entry holds.
pub(crate) fn entry_bytes(entry: &Entry) -> usize {
    let headers: usize = entry.headers.iter().map(|(name, value)| name.len() + value.len()).sum();
    let vary: usize = entry.vary.iter().map(|(name, value)| name.len() + value.as_ref().map_or(0, Vec::len)).sum();
    entry.body.len() + headers + vary
}

#[derive(Debug, Clone)]
pub(crate) struct Memory {
    cache: Cache<Key, Variants>,
}

impl Memory {
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder().max_capacity(max_bytes).weigher(weigh).expire_after(UntilLastVariant).build();
        Self { cache }
    }

    /// The servable variants under `key`; `None` when it holds none.
    pub fn get(&self, key: &Key) -> Option<Vec<Arc<Entry>>> {
        let variants = self.cache.get(key)?;
        let now = Instant::now();
        let live: Vec<Arc<Entry>> =
            variants.iter().filter(|variant| variant.expires_at > now).map(|variant| variant.entry.clone()).collect();
        (!live.is_empty()).then_some(live)
    }

    /// Adds `variant`, replacing the one with the same `vary` selection and
    /// dropping those no longer servable.
    pub fn put(&self, key: &Key, variant: Variant) {
        let now = Instant::now();
        self.cache.entry_by_ref(key).and_upsert_with(|known| {
            let mut variants: Vec<Variant> = known
                .map(|known| {
                    known
                        .value()
                        .iter()
                        .filter(|old| old.expires_at > now && old.entry.vary != variant.entry.vary)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            variants.push(variant);
            variants.into()
        });
    }

    /// Fills `key` from the shared tier unless this replica stored it
    /// meanwhile (a fresher response than what Redis had).
    pub fn fill(&self, key: &Key, variants: Vec<Variant>) {
        self.cache.entry_by_ref(key).or_insert_with(|| variants.into());
    }

    pub fn remove(&self, key: &Key) {
        self.cache.invalidate(key);
    }

    /// Drops every key `matches` selects; returns how many.
    pub fn remove_matching(&self, matches: impl Fn(&Key) -> bool) -> u64 {
        // A walk rather than moka's invalidation closures: invalidations
        // are rare, and the walk says how many keys it dropped.
        let mut dropped = 0;
        for (key, _) in self.cache.iter() {
            if matches(&key) {
                self.cache.invalidate(&*key);
                dropped += 1;
            }
        }
        dropped
    }

    /// The bytes held, as moka last accounted them.
    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Applies pending evictions and accounting now (moka batches them).
    pub fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks();
    }
}
