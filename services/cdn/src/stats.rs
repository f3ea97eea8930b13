//! Per-distribution metrics on `/metrics`, beside the request metrics
//! `nubo_host` records for every service: requests, how the cache
//! answered them, bytes sent, errors by class, origin latency and the hit
//! ratio, all labelled by distribution id; and the tiers' own counters.
//!
//! The viewer path calls [`Stats::record`] once per response: one lookup
//! under a read lock, then atomic adds (and one histogram observation on
//! an origin fetch). The series are read when `/metrics` is rendered,
//! never copied on the request path.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use nubo_host::metrics::Metrics;
use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder, NoLabelSet},
    metrics::{MetricType, histogram::Histogram},
};

use crate::tiers::Tiers;

/// Origin latency buckets, in seconds: a nearby origin answers in
/// milliseconds, CloudFront's default origin response timeout is 30 s.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How the cache answered a request, as CloudFront's logs classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Served from the cache, fresh.
    Hit,
    /// Served from the cache after the origin confirmed it (a 304).
    RefreshHit,
    /// Fetched from the origin, because the cache had nothing to serve.
    Miss,
    /// Sent to the origin without the cache taking part: a method or
    /// policy that caches nothing.
    Pass,
    /// Refused or failed before anything was served (4xx or 5xx of the
    /// edge's own, an origin that could not be reached).
    Error,
}

impl Outcome {
    const ALL: [Self; 5] = [Self::Hit, Self::RefreshHit, Self::Miss, Self::Pass, Self::Error];

    /// The `result` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::RefreshHit => "refresh_hit",
            Self::Miss => "miss",
            Self::Pass => "pass",
            Self::Error => "error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One distribution's counters.
#[derive(Debug)]
struct Series {
    requests: AtomicU64,
    results: [AtomicU64; 5],
    bytes: AtomicU64,
    errors_4xx: AtomicU64,
    errors_5xx: AtomicU64,
    origin_latency: Histogram,
}

impl Series {
    fn new() -> Self {
        Self {
            requests: AtomicU64::new(0),
            results: Default::default(),
            bytes: AtomicU64::new(0),
            errors_4xx: AtomicU64::new(0),
            errors_5xx: AtomicU64::new(0),
            origin_latency: Histogram::new(LATENCY_BUCKETS),
        }
    }

    fn result(&self, outcome: Outcome) -> u64 {
        self.results[outcome.index()].load(Ordering::Relaxed)
    }

    /// CloudFront's cache hit rate: of the requests the cache could
    /// answer (hits, refresh hits, misses; not passes or errors), the
    /// share it answered from what it held. `None` before the first.
    fn hit_ratio(&self) -> Option<f64> {
        let served = self.result(Outcome::Hit) + self.result(Outcome::RefreshHit);
        let cacheable = served + self.result(Outcome::Miss);
        (cacheable > 0).then(|| served as f64 / cacheable as f64)
    }
}

/// The per-distribution metrics; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// By distribution id, ordered so `/metrics` lists them stably.
    series: Arc<RwLock<BTreeMap<String, Arc<Series>>>>,
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one response of `distribution`: its outcome, status,
    /// the bytes sent to the viewer (headers and body, CloudFront's
    /// `sc-bytes`), and how long the origin took to answer when it was
    /// asked.
    pub fn record(
        &self,
        distribution: &str,
        outcome: Outcome,
        status: u16,
        bytes: u64,
        origin_latency: Option<Duration>,
    ) {
        let series = self.series_of(distribution);
        series.requests.fetch_add(1, Ordering::Relaxed);
        series.results[outcome.index()].fetch_add(1, Ordering::Relaxed);
        series.bytes.fetch_add(bytes, Ordering::Relaxed);
        match status {
            400..=499 => series.errors_4xx.fetch_add(1, Ordering::Relaxed),
            500..=599 => series.errors_5xx.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        if let Some(latency) = origin_latency {
            series.origin_latency.observe(latency.as_secs_f64());
        }
    }

    /// Forgets a deleted distribution's series.
    pub fn forget(&self, distribution: &str) {
        if let Ok(mut series) = self.series.write() {
            series.remove(distribution);
        }
    }

    fn series_of(&self, distribution: &str) -> Arc<Series> {
        if let Some(found) = self.series.read().ok().and_then(|series| series.get(distribution).cloned()) {
            return found;
        }
        match self.series.write() {
            Ok(mut series) => series.entry(distribution.to_owned()).or_insert_with(|| Arc::new(Series::new())).clone(),
            // A poisoned lock only loses this request's counts.
            Err(_) => Arc::new(Series::new()),
        }
    }

    /// Adds the per-distribution series to `metrics` (prefixed
    /// `nubo_cdn_` when `metrics` is the cdn's):
    /// `requests_total`, `cache_results_total{result}`,
    /// `sent_bytes_total`, `errors_total{class="4xx"|"5xx"}`,
    /// `origin_latency_seconds` (a histogram) and `hit_ratio`, each
    /// labelled `distribution`.
    pub fn register(&self, metrics: &Metrics) {
        let series = |read: Read| View { stats: self.clone(), read };
        metrics.register("requests", "Viewer requests answered, by distribution", series(Read::Requests));
        metrics.register(
            "cache_results",
            "Viewer requests by how the cache answered (hit, refresh_hit, miss, pass, error)",
            series(Read::Results),
        );
        metrics.register("sent_bytes", "Bytes sent to viewers, header fields included", series(Read::Bytes));
        metrics.register("errors", "Viewer responses with a 4xx or 5xx status", series(Read::Errors));
        metrics.register(
            "origin_latency_seconds",
            "Time until the origin answered a fetch",
            series(Read::OriginLatency),
        );
        metrics.register(
            "hit_ratio",
            "Share of cacheable requests (hits, refresh hits, misses) answered from the cache",
            series(Read::HitRatio),
        );
    }
}

/// Which series a [`View`] renders.
#[derive(Debug, Clone, Copy)]
enum Read {
    Requests,
    Results,
    Bytes,
    Errors,
    OriginLatency,
    HitRatio,
}

/// One series of every distribution, read at render time.
#[derive(Debug)]
struct View {
    stats: Stats,
    read: Read,
}

impl EncodeMetric for View {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let Ok(all) = self.stats.series.read() else { return Ok(()) };
        for (distribution, series) in all.iter() {
            let distribution = distribution.as_str();
            match self.read {
                Read::Requests => {
                    counter(&mut encoder, &[("distribution", distribution)], series.requests.load(Ordering::Relaxed))?
                }
                Read::Bytes => {
                    counter(&mut encoder, &[("distribution", distribution)], series.bytes.load(Ordering::Relaxed))?
                }
                Read::Results => {
                    for outcome in Outcome::ALL {
                        counter(
                            &mut encoder,
                            &[("distribution", distribution), ("result", outcome.label())],
                            series.result(outcome),
                        )?;
                    }
                }
                Read::Errors => {
                    counter(
                        &mut encoder,
                        &[("distribution", distribution), ("class", "4xx")],
                        series.errors_4xx.load(Ordering::Relaxed),
                    )?;
                    counter(
                        &mut encoder,
                        &[("distribution", distribution), ("class", "5xx")],
                        series.errors_5xx.load(Ordering::Relaxed),
                    )?;
                }
                Read::OriginLatency => {
                    series.origin_latency.encode(encoder.encode_family(&[("distribution", distribution)])?)?
                }
                Read::HitRatio => {
                    if let Some(ratio) = series.hit_ratio() {
                        encoder.encode_family(&[("distribution", distribution)])?.encode_gauge(&ratio)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        match self.read {
            Read::Requests | Read::Results | Read::Bytes | Read::Errors => MetricType::Counter,
            Read::OriginLatency => MetricType::Histogram,
            Read::HitRatio => MetricType::Gauge,
        }
    }
}

fn counter<const N: usize>(
    encoder: &mut MetricEncoder,
    labels: &[(&str, &str); N],
    value: u64,
) -> Result<(), fmt::Error> {
    encoder.encode_family(labels)?.encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

/// A number read when `/metrics` is rendered.
struct Reading {
    read: Box<dyn Fn() -> u64 + Send + Sync>,
    kind: MetricType,
}

impl fmt::Debug for Reading {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("Reading").field("value", &(self.read)()).finish()
    }
}

impl EncodeMetric for Reading {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let value = (self.read)();
        match self.kind {
            MetricType::Gauge => encoder.encode_gauge(&value),
            _ => encoder.encode_counter::<NoLabelSet, u64, u64>(&value, None),
        }
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }
}

/// Adds a counter (`gauge` false) or gauge read from `read` at render
/// time.
pub fn register_reading(
    metrics: &Metrics,
    name: &str,
    help: &str,
    gauge: bool,
    read: impl Fn() -> u64 + Send + Sync + 'static,
) {
    let kind = if gauge { MetricType::Gauge } else { MetricType::Counter };
    metrics.register(name, help, Reading { read: Box::new(read), kind });
}

/// Adds the tiers' counters ([`Tiers::stats`]) to `metrics`, as
/// `tier_memory_hits_total`, `tier_shared_hits_total`,
/// `tier_misses_total`, `tier_stores_total`, `tier_stored_bytes_total`,
/// `tier_shared_errors_total`, and the gauges `tier_memory_bytes` and
/// `tier_memory_entries`.
pub fn register_tiers(metrics: &Metrics, tiers: &Tiers) {
    type Field = fn(&crate::tiers::Stats) -> u64;
    let fields: [(&str, &str, bool, Field); 8] = [
        ("tier_memory_hits", "Cache reads answered from this replica's memory", false, |stats| stats.memory_hits),
        ("tier_shared_hits", "Cache reads answered from Redis after a memory miss", false, |stats| stats.shared_hits),
        ("tier_misses", "Cache reads neither tier answered", false, |stats| stats.misses),
        ("tier_stores", "Entries stored in the tiers", false, |stats| stats.stores),
        ("tier_stored_bytes", "Bytes of the entries stored (bodies and header fields)", false, |stats| {
            stats.stored_bytes
        }),
        ("tier_shared_errors", "Redis calls that failed or timed out, each one skipped", false, |stats| {
            stats.shared_errors
        }),
        ("tier_memory_bytes", "Bytes this replica's memory tier holds", true, |stats| stats.memory_bytes),
        ("tier_memory_entries", "Keys this replica's memory tier holds", true, |stats| stats.memory_keys),
    ];
    for (name, help, gauge, field) in fields {
        let tiers = tiers.clone();
        register_reading(metrics, name, help, gauge, move || field(&tiers.stats()));
    }
}

/// Adds the access log's count of lines dropped because its queue was
/// full or its files could not be written, as
/// `access_log_dropped_lines_total`.
pub fn register_access_log(metrics: &Metrics, log: &crate::access_log::AccessLog) {
    let log = log.clone();
    register_reading(
        metrics,
        "access_log_dropped_lines",
        "Access log lines dropped: the writer's queue was full or a file could not be written",
        false,
        move || log.dropped(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(stats: &Stats) -> String {
        let metrics = Metrics::new("cdn");
        stats.register(&metrics);
        metrics.render()
    }

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|line| line.starts_with(prefix))
    }

    #[test]
    fn every_series_is_labelled_by_distribution() {
        let stats = Stats::new();
        stats.record("E1", Outcome::Miss, 200, 1_000, Some(Duration::from_millis(20)));
        stats.record("E1", Outcome::Hit, 200, 1_000, None);
        stats.record("E1", Outcome::Hit, 304, 200, None);
        stats.record("E1", Outcome::RefreshHit, 200, 1_000, Some(Duration::from_millis(3)));
        stats.record("E1", Outcome::Error, 502, 300, Some(Duration::from_secs(2)));
        stats.record("E1", Outcome::Hit, 404, 100, None);
        stats.record("E2", Outcome::Pass, 201, 50, Some(Duration::from_millis(1)));
        let text = rendered(&stats);

        assert_eq!(line(&text, "# TYPE nubo_cdn_requests counter"), Some("# TYPE nubo_cdn_requests counter"), "{text}");
        assert_eq!(
            line(&text, "nubo_cdn_requests_total{distribution=\"E1\"}"),
            Some("nubo_cdn_requests_total{distribution=\"E1\"} 6")
        );
        assert_eq!(
            line(&text, "nubo_cdn_requests_total{distribution=\"E2\"}"),
            Some("nubo_cdn_requests_total{distribution=\"E2\"} 1")
        );
        for (result, count) in [("hit", 3), ("refresh_hit", 1), ("miss", 1), ("pass", 0), ("error", 1)] {
            let expected = format!("nubo_cdn_cache_results_total{{distribution=\"E1\",result=\"{result}\"}} {count}");
            assert!(text.contains(&expected), "{expected} in {text}");
        }
        assert!(text.contains("nubo_cdn_sent_bytes_total{distribution=\"E1\"} 3600"), "{text}");
        assert!(text.contains("nubo_cdn_errors_total{distribution=\"E1\",class=\"4xx\"} 1"), "{text}");
        assert!(text.contains("nubo_cdn_errors_total{distribution=\"E1\",class=\"5xx\"} 1"), "{text}");
        assert!(text.contains("nubo_cdn_errors_total{distribution=\"E2\",class=\"5xx\"} 0"), "{text}");
        // Three origin fetches for E1: 20 ms, 3 ms, 2 s.
        assert!(text.contains("nubo_cdn_origin_latency_seconds_count{distribution=\"E1\"} 3"), "{text}");
        assert!(text.contains("nubo_cdn_origin_latency_seconds_bucket{le=\"0.005\",distribution=\"E1\"} 1"), "{text}");
        assert!(text.contains("nubo_cdn_origin_latency_seconds_bucket{le=\"0.025\",distribution=\"E1\"} 2"), "{text}");
        assert!(text.contains("nubo_cdn_origin_latency_seconds_bucket{le=\"+Inf\",distribution=\"E1\"} 3"), "{text}");
        assert!(text.contains("# TYPE nubo_cdn_origin_latency_seconds histogram"), "{text}");
        // Four served from the cache of five cacheable; errors and passes
        // do not count.
        assert!(text.contains("nubo_cdn_hit_ratio{distribution=\"E1\"} 0.8"), "{text}");
        assert!(!text.contains("nubo_cdn_hit_ratio{distribution=\"E2\"}"), "{text}");
        assert!(text.contains("# TYPE nubo_cdn_hit_ratio gauge"), "{text}");
    }

    #[test]
    fn distributions_are_listed_in_order_and_can_be_forgotten() {
        let stats = Stats::new();
        for distribution in ["EB", "EA", "EC"] {
            stats.record(distribution, Outcome::Hit, 200, 1, None);
        }
        let text = rendered(&stats);
        let order: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("nubo_cdn_requests_total"))
            .map(|line| line.split('"').nth(1).unwrap())
            .collect();
        assert_eq!(order, ["EA", "EB", "EC"]);
        stats.forget("EB");
        assert!(!rendered(&stats).contains("\"EB\""));
    }

    #[test]
    fn no_distribution_yet_renders_the_descriptors_only() {
        let text = rendered(&Stats::new());
        assert!(text.contains("# HELP nubo_cdn_requests Viewer requests answered, by distribution"), "{text}");
        assert!(!text.contains("nubo_cdn_requests_total{"), "{text}");
    }

    #[tokio::test]
    async fn the_tiers_counters_are_read_when_rendered() {
        let metrics = Metrics::new("cdn");
        let tiers = Tiers::new(1 << 20, None);
        register_tiers(&metrics, &tiers);
        let key = crate::tiers::Key { distribution: "E1".into(), path: "/a".into(), rest: String::new() };
        assert!(tiers.variants(&key).await.is_empty());
        let entry = crate::tiers::Entry {
            status: 200,
            headers: vec![],
            body: bytes::Bytes::from_static(b"hello"),
            request_time: std::time::SystemTime::UNIX_EPOCH,
            response_time: std::time::SystemTime::UNIX_EPOCH,
            vary: vec![],
        };
        tiers.store(&key, Arc::new(entry), Duration::from_secs(60)).await;
        assert_eq!(tiers.variants(&key).await.len(), 1);
        tiers.run_pending_tasks();
        let text = metrics.render();
        for expected in [
            "nubo_cdn_tier_memory_hits_total 1",
            "nubo_cdn_tier_shared_hits_total 0",
            "nubo_cdn_tier_misses_total 1",
            "nubo_cdn_tier_stores_total 1",
            "nubo_cdn_tier_stored_bytes_total 5",
            "nubo_cdn_tier_shared_errors_total 0",
            "nubo_cdn_tier_memory_entries 1",
            "# TYPE nubo_cdn_tier_memory_bytes gauge",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }
}
