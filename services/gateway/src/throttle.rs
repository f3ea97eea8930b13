//! Throttling as API Gateway applies it to HTTP APIs: a token bucket per
//! route of each stage (the stage's `defaultRouteSettings`, overridden by
//! its `routeSettings` for that route key) and one for the account, each a
//! rate (requests per second, refilled continuously) and a burst (the
//! bucket's size). A request that finds a bucket empty is refused at once
//! with 429 — nothing queues.
//!
//! Buckets are GCRA limiters from `governor`, kept in a bounded moka cache
//! keyed by API, stage, route and the limits themselves, so a settings
//! change starts a fresh bucket and memory stays bounded whatever the
//! traffic.
//!
//! Across replicas (a documented approximation): each of the `replicas`
//! gateway processes enforces `rate / replicas` and `burst / replicas`
//! (rounded up) on its own. With requests spread evenly by the load
//! balancer in front, the total matches the configured limits; with
//! skewed spreading a replica refuses early. No shared counter sits on the
//! request path.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::model::RouteSettings;

/// Buckets kept at most; a bucket evicted while idle starts full again.
const MAX_BUCKETS: u64 = 100_000;

/// A rate and burst limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rate: f64,
    pub burst: u64,
}

impl Limits {
    /// This replica's share of the limits.
    fn share(self, replicas: u32) -> Limits {
        let replicas = f64::from(replicas.max(1));
        Limits { rate: self.rate / replicas, burst: (self.burst as f64 / replicas).ceil() as u64 }
    }
}

#[derive(Debug)]
enum Bucket {
    Limited(DefaultDirectRateLimiter),
    /// A zero rate or burst: every request is refused.
    Closed,
}

impl Bucket {
    fn new(limits: Limits) -> Self {
        let burst = u32::try_from(limits.burst).unwrap_or(u32::MAX);
        let (Some(burst), true) = (NonZeroU32::new(burst), limits.rate > 0.0 && limits.rate.is_finite()) else {
            return Bucket::Closed;
        };
        match Quota::with_period(Duration::from_secs_f64(1.0 / limits.rate)) {
            Some(quota) => Bucket::Limited(RateLimiter::direct(quota.allow_burst(burst))),
            None => Bucket::Closed,
        }
    }

    fn admit(&self) -> bool {
        match self {
            Bucket::Limited(limiter) => limiter.check().is_ok(),
            Bucket::Closed => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BucketKey {
    api_id: String,
    stage: String,
    route_key: String,
    rate_bits: u64,
    burst: u64,
}

#[derive(Debug, Clone)]
pub struct Throttle {
    replicas: u32,
    account: Option<Arc<Bucket>>,
    account_limits: Limits,
    buckets: moka::sync::Cache<BucketKey, Arc<Bucket>>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Route,
    Account,
}

impl Throttle {
    /// `account`: the account's limits across every API (API Gateway's
    /// default quota is 10,000 per second with a burst of 5,000).
    pub fn new(account: Limits, replicas: u32) -> Self {
        let share = account.share(replicas);
        Self {
            replicas: replicas.max(1),
            account: Some(Arc::new(Bucket::new(share))),
            account_limits: account,
            buckets: moka::sync::Cache::new(MAX_BUCKETS),
        }
    }

    /// The route's limits under `settings`; a limit left unset is the
    /// account's.
    fn route_limits(&self, settings: &RouteSettings) -> Option<Limits> {
        if settings.throttling_rate_limit.is_none() && settings.throttling_burst_limit.is_none() {
            return None;
        }
        Some(Limits {
            rate: settings.throttling_rate_limit.unwrap_or(self.account_limits.rate),
            burst: settings
                .throttling_burst_limit
                .map(|burst| burst.max(0) as u64)
                .unwrap_or(self.account_limits.burst),
        })
    }

    /// Takes a token for one request on a route, or says which bucket was empty.
    pub fn admit(&self, api_id: &str, stage: &str, route_key: &str, settings: &RouteSettings) -> Result<(), Refusal> {
        if let Some(limits) = self.route_limits(settings) {
            let limits = limits.share(self.replicas);
            let key = BucketKey {
                api_id: api_id.to_owned(),
                stage: stage.to_owned(),
                route_key: route_key.to_owned(),
                rate_bits: limits.rate.to_bits(),
                burst: limits.burst,
            };
            let bucket = self.buckets.get_with(key, || Arc::new(Bucket::new(limits)));
            if !bucket.admit() {
                return Err(Refusal::Route);
            }
        }
        match &self.account {
            Some(account) if !account.admit() => Err(Refusal::Account),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rate: f64, burst: i64) -> RouteSettings {
        RouteSettings { throttling_rate_limit: Some(rate), throttling_burst_limit: Some(burst), ..Default::default() }
    }

    #[test]
    fn a_route_admits_its_burst_then_refuses() {
        let throttle = Throttle::new(Limits { rate: 10_000.0, burst: 5_000 }, 1);
        let route = settings(1.0, 5);
        let admitted = (0..20).filter(|_| throttle.admit("a", "s", "GET /x", &route).is_ok()).count();
        assert_eq!(admitted, 5);
        assert_eq!(throttle.admit("a", "s", "GET /x", &route), Err(Refusal::Route));
        // Another route, another stage and another API have buckets of their own.
        assert!(throttle.admit("a", "s", "GET /y", &route).is_ok());
        assert!(throttle.admit("a", "t", "GET /x", &route).is_ok());
        assert!(throttle.admit("b", "s", "GET /x", &route).is_ok());
        // New limits start a new bucket.
        assert!(throttle.admit("a", "s", "GET /x", &settings(1.0, 6)).is_ok());
    }

    #[test]
    fn the_account_bucket_covers_every_route() {
        let throttle = Throttle::new(Limits { rate: 1.0, burst: 3 }, 1);
        let none = RouteSettings::default();
        let admitted = (0..10).filter(|i| throttle.admit("a", "s", &format!("GET /{i}"), &none).is_ok()).count();
        assert_eq!(admitted, 3);
        assert_eq!(throttle.admit("z", "s", "GET /", &none), Err(Refusal::Account));
    }

    #[test]
    fn zero_limits_refuse_everything_and_replicas_share() {
        let throttle = Throttle::new(Limits { rate: 100.0, burst: 100 }, 1);
        assert_eq!(throttle.admit("a", "s", "r", &settings(0.0, 10)), Err(Refusal::Route));
        assert_eq!(throttle.admit("a", "s", "r", &settings(10.0, 0)), Err(Refusal::Route));
        assert_eq!(Limits { rate: 10.0, burst: 5 }.share(2), Limits { rate: 5.0, burst: 3 });
        let shared = Throttle::new(Limits { rate: 100.0, burst: 100 }, 2);
        let admitted = (0..10).filter(|_| shared.admit("a", "s", "r", &settings(1.0, 4)).is_ok()).count();
        assert_eq!(admitted, 2);
    }
}
