//! The cache's storage: an L1 memory tier per replica over an optional
//! shared Redis L2. (First cut: L1 only, unbounded; the real tiers keep
//! these signatures.)

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

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
/// are kept beside it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub status: u16,
    /// The response's header fields as stored, in order, names lowercased.
    pub headers: Vec<(String, Vec<u8>)>,
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
#[derive(Debug, Clone, Default)]
pub struct Tiers {
    memory: Arc<Mutex<HashMap<Key, Vec<Arc<Entry>>>>>,
}

impl Tiers {
    /// Every variant stored under `key`.
    pub async fn variants(&self, key: &Key) -> Vec<Arc<Entry>> {
        self.memory.lock().map(|memory| memory.get(key).cloned().unwrap_or_default()).unwrap_or_default()
    }

    /// Stores `entry` under `key`, replacing the variant with the same
    /// `vary` selection.
    pub async fn store(&self, key: &Key, entry: Arc<Entry>) {
        if let Ok(mut memory) = self.memory.lock() {
            let variants = memory.entry(key.clone()).or_default();
            variants.retain(|known| known.vary != entry.vary);
            variants.push(entry);
        }
    }

    /// Drops every variant under `key`.
    pub async fn remove(&self, key: &Key) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.remove(key);
        }
    }

    /// Drops every entry of `distribution` whose path matches one of
    /// `paths` (CloudFront invalidation paths: exact, or ending in `*`);
    /// returns how many keys were dropped.
    pub async fn invalidate(&self, distribution: &str, paths: &[String]) -> u64 {
        let Ok(mut memory) = self.memory.lock() else { return 0 };
        let before = memory.len();
        memory.retain(|key, _| {
            key.distribution != distribution
                || !paths.iter().any(|path| match path.strip_suffix('*') {
                    Some(prefix) => key.path.starts_with(prefix),
                    None => key.path == *path,
                })
        });
        (before - memory.len()) as u64
    }
}
