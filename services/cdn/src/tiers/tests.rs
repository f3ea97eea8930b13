//! The memory tier through the public interface; the Redis tier has its
//! own integration test (`tests/redis_tier.rs`).

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

fn key(distribution: &str, path: &str, rest: &str) -> Key {
    Key { distribution: distribution.into(), path: path.into(), rest: rest.into() }
}

fn entry(body: &[u8], encoding: Option<&str>) -> Arc<Entry> {
    Arc::new(Entry {
        status: 200,
        headers: vec![("content-type".into(), b"text/plain".to_vec())],
        body: Bytes::copy_from_slice(body),
        request_time: SystemTime::UNIX_EPOCH,
        response_time: SystemTime::UNIX_EPOCH,
        vary: vec![("accept-encoding".into(), encoding.map(|value| value.as_bytes().to_vec()))],
    })
}

#[tokio::test]
async fn a_stored_entry_is_a_hit_that_shares_its_body() {
    let tiers = Tiers::new(1 << 20, None);
    let key = key("E1", "/a", "");
    assert!(tiers.variants(&key).await.is_empty());
    let stored = entry(b"hello", None);
    tiers.store(&key, stored.clone(), HOUR).await;
    let found = tiers.variants(&key).await;
    assert_eq!(found.len(), 1);
    assert!(Arc::ptr_eq(&found[0], &stored));
    let stats = tiers.stats();
    assert_eq!((stats.memory_hits, stats.misses, stats.stores), (1, 1, 1));
}

#[tokio::test]
async fn variants_are_kept_side_by_side_and_replaced_by_their_selection() {
    let tiers = Tiers::new(1 << 20, None);
    let key = key("E1", "/a", "");
    tiers.store(&key, entry(b"plain", None), HOUR).await;
    tiers.store(&key, entry(b"gzip one", Some("gzip")), HOUR).await;
    tiers.store(&key, entry(b"gzip two", Some("gzip")), HOUR).await;
    let mut bodies: Vec<Bytes> = tiers.variants(&key).await.iter().map(|entry| entry.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, [Bytes::from_static(b"gzip two"), Bytes::from_static(b"plain")]);
    tiers.remove(&key).await;
    assert!(tiers.variants(&key).await.is_empty());
}

#[tokio::test]
async fn memory_is_bounded_by_bytes() {
    let tiers = Tiers::new(100_000, None);
    let body = vec![b'x'; 10_000];
    for index in 0..50 {
        tiers.store(&key("E1", &format!("/{index}"), ""), entry(&body, None), HOUR).await;
    }
    tiers.run_pending_tasks();
    let stats = tiers.stats();
    assert!(stats.memory_bytes <= 100_000, "{stats:?}");
    assert!(stats.memory_keys >= 1 && stats.memory_keys <= 10, "{stats:?}");
    assert_eq!(
        stats.stored_bytes,
        50 * (10_000 + "content-type".len() + "text/plain".len() + "accept-encoding".len()) as u64
    );
}

#[tokio::test]
async fn nothing_is_kept_that_cannot_be_served() {
    let tiers = Tiers::new(1 << 20, None);
    let key = key("E1", "/a", "");
    tiers.store(&key, entry(b"never", None), Duration::ZERO).await;
    assert!(tiers.variants(&key).await.is_empty());
    assert_eq!(tiers.stats().stores, 0);
    // A variant past its time is not served even before moka expires it.
    tiers.inner.memory.put(&key, Variant { entry: entry(b"old", None), expires_at: Instant::now() });
    assert!(tiers.variants(&key).await.is_empty());
}

#[tokio::test]
async fn invalidations_match_exact_paths_with_every_variant_and_prefixes() {
    let tiers = Tiers::new(1 << 20, None);
    let keys = [
        key("E1", "/a/b.html", ""),
        key("E1", "/a/b.html", "q=1"),
        key("E1", "/a/b.htmlx", ""),
        key("E1", "/a/c.html", ""),
        key("E1", "/images/1.png", ""),
        key("E1", "/images/2.png", "w=100"),
        key("E2", "/a/b.html", ""),
    ];
    for key in &keys {
        tiers.store(key, entry(b"x", None), HOUR).await;
    }
    async fn present(tiers: &Tiers, keys: &[Key]) -> Vec<bool> {
        let mut present = Vec::new();
        for key in keys {
            present.push(!tiers.inner.memory.get(key).unwrap_or_default().is_empty());
        }
        present
    }
    assert_eq!(tiers.invalidate("E1", &["/a/b.html".into()]).await, 2);
    assert_eq!(present(&tiers, &keys).await, [false, false, true, true, true, true, true]);
    assert_eq!(tiers.invalidate("E1", &["/images/*".into(), "/nothing".into()]).await, 2);
    assert_eq!(present(&tiers, &keys).await, [false, false, true, true, false, false, true]);
    assert_eq!(tiers.invalidate("E1", &["/*".into()]).await, 2);
    assert_eq!(present(&tiers, &keys).await, [false, false, false, false, false, false, true]);
}
