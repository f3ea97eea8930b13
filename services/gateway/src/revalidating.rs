//! A bounded read-through cache of definitions that never makes a request
//! wait on the data service once a key is known: an entry older than its
//! freshness is still served while one background read replaces it, and a
//! read that finds the same record version keeps the entry it has. Only a
//! key's first request reads inline. Entries are bounded in number (moka's
//! TinyLFU admission), unknown keys included, so requests naming random
//! ids cannot grow it.

use std::{
    future::Future,
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// One cached read: the value (`None`: no such record) and its version.
#[derive(Debug)]
struct Entry<V> {
    fetched: Instant,
    version: u64,
    value: Option<Arc<V>>,
    refreshing: AtomicBool,
}

#[derive(Debug, Clone)]
pub struct Revalidating<K: Hash + Eq + Send + Sync + 'static, V: Send + Sync + 'static> {
    entries: moka::sync::Cache<K, Arc<Entry<V>>>,
    fresh_for: Duration,
}

/// What a loader returns: the record's version (0 when missing) and value.
pub type Loaded<V> = (u64, Option<V>);

impl<K, V> Revalidating<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub fn new(capacity: u64, fresh_for: Duration) -> Self {
        Self { entries: moka::sync::Cache::new(capacity), fresh_for }
    }

    /// The value for `key`, loading it with `load` on first use and
    /// refreshing it in the background once stale.
    pub async fn get<F, Fut, E>(&self, key: &K, load: F) -> Result<Option<Arc<V>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded<V>, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        if let Some(entry) = self.entries.get(key) {
            if entry.fetched.elapsed() >= self.fresh_for && !entry.refreshing.swap(true, Ordering::AcqRel) {
                let entries = self.entries.clone();
                let key = key.clone();
                let load = load();
                let stale = entry.clone();
                tokio::spawn(async move {
                    let entry = stale;
                    match load.await {
                        Ok((version, value)) => {
                            let value = if version == entry.version && version != 0 {
                                entry.value.clone()
                            } else {
                                value.map(Arc::new)
                            };
                            entries.insert(
                                key,
                                Arc::new(Entry {
                                    fetched: Instant::now(),
                                    version,
                                    value,
                                    refreshing: AtomicBool::new(false),
                                }),
                            );
                        }
                        Err(error) => {
                            // The stale entry keeps serving; the next request retries.
                            tracing::warn!(%error, "cannot refresh a cached definition");
                            entry.refreshing.store(false, Ordering::Release);
                        }
                    }
                });
            }
            return Ok(entry.value.clone());
        }
        let (version, value) = load().await?;
        let value = value.map(Arc::new);
        self.entries.insert(
            key.clone(),
            Arc::new(Entry {
                fetched: Instant::now(),
                version,
                value: value.clone(),
                refreshing: AtomicBool::new(false),
            }),
        );
        Ok(value)
    }

    pub fn invalidate(&self, key: &K) {
        self.entries.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    #[tokio::test]
    async fn stale_entries_serve_while_one_read_refreshes_them() {
        let cache: Revalidating<String, String> = Revalidating::new(10, Duration::from_millis(20));
        let reads = Arc::new(AtomicU64::new(0));
        let load = |reads: Arc<AtomicU64>, text: &'static str| {
            move || async move {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>((reads.load(Ordering::SeqCst), Some(text.to_owned())))
            }
        };
        let key = "a".to_string();
        assert_eq!(cache.get(&key, load(reads.clone(), "one")).await.unwrap().unwrap().as_str(), "one");
        assert_eq!(cache.get(&key, load(reads.clone(), "two")).await.unwrap().unwrap().as_str(), "one");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        // Stale: still the old value, and one refresh starts.
        assert_eq!(cache.get(&key, load(reads.clone(), "two")).await.unwrap().unwrap().as_str(), "one");
        for _ in 0..50 {
            if cache.get(&key, load(reads.clone(), "three")).await.unwrap().unwrap().as_str() == "two" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(cache.get(&key, load(reads.clone(), "x")).await.unwrap().unwrap().as_str(), "two");
        cache.invalidate(&key);
        assert_eq!(cache.get(&key, load(reads.clone(), "four")).await.unwrap().unwrap().as_str(), "four");
    }
}
