//! Prometheus metrics of one service: a registry every module of the
//! service adds to, and the HTTP request metrics recorded by the front.

use std::sync::{Arc, Mutex};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The front that answered (`data`, `gateway-edge`).
    pub service: &'static str,
    /// The AWS operation (`PutItem`), or the matched route pattern, never
    /// the raw path, to bound cardinality.
    pub operation: String,
    pub status: u16,
}

/// A service's metrics registry and its HTTP request metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry whose metrics are all prefixed `nubo_{service}_`.
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix(format!("nubo_{service}"));
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0])
        });
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", latency.clone());
        Self { registry: Arc::new(Mutex::new(registry)), requests, latency }
    }

    /// Adds a metric of the service's own.
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    pub fn observe_request(&self, labels: RequestLabels, seconds: f64) {
        self.latency.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = encode(&mut out, &registry);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_operation() {
        let metrics = Metrics::new("test");
        let labels = RequestLabels { service: "data", operation: "PutItem".into(), status: 200 };
        metrics.observe_request(labels.clone(), 0.001);
        metrics.observe_request(labels, 0.002);
        let text = metrics.render();
        assert!(
            text.contains("nubo_test_http_requests_total{service=\"data\",operation=\"PutItem\",status=\"200\"} 2"),
            "{text}"
        );
    }
}
