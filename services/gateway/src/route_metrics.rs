//! Per-route metrics of user APIs on the gateway's `/metrics`: requests and
//! latency by API, stage, route key and status (route keys are patterns,
//! so the series are bounded by the definitions, not by traffic), and
//! integration latency apart.

use nubo_host::metrics::Metrics;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub api: String,
    pub stage: String,
    /// The matched route key, or `-` when none matched.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug)]
pub struct RouteMetrics {
    requests: Family<RouteLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    integration_latency: Family<RouteLabels, Histogram>,
    throttled: Family<RouteLabels, Counter>,
}

fn buckets() -> Histogram {
    Histogram::new([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
}

impl RouteMetrics {
    /// The families, registered on the service's registry.
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(buckets),
            integration_latency: Family::new_with_constructor(buckets),
            throttled: Family::default(),
        };
        metrics.register("api_requests", "User API requests by route", this.requests.clone());
        metrics.register("api_latency_seconds", "User API latency by route", this.latency.clone());
        metrics.register(
            "api_integration_latency_seconds",
            "Time integrations took to answer, by route",
            this.integration_latency.clone(),
        );
        metrics.register("api_throttled", "User API requests refused with 429 by throttling", this.throttled.clone());
        this
    }

    pub fn observe(&self, labels: RouteLabels, seconds: f64, integration_seconds: Option<f64>, throttled: bool) {
        self.latency.get_or_create(&labels).observe(seconds);
        if let Some(integration) = integration_seconds {
            self.integration_latency.get_or_create(&labels).observe(integration);
        }
        if throttled {
            self.throttled.get_or_create(&labels).inc();
        }
        self.requests.get_or_create(&labels).inc();
    }
}
