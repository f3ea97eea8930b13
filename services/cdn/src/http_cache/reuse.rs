//! Whether a stored response may answer a request now (RFC 9111 §4.2,
//! §4.2.4; RFC 5861), and how long it is worth keeping.
//!
//! The viewer's own `Cache-Control` is read as CloudFront reads it: it
//! cannot force the cache back to the origin (`no-cache`, `max-age`,
//! `min-fresh` and `Pragma` are ignored, so no viewer can empty the cache
//! for everyone), but a viewer may accept a staler response
//! (`max-stale`) or ask for the cache alone (`only-if-cached`), which
//! costs the origin nothing.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::{age, control::Directives, freshness::Lifetime};

/// How long a response that can still be validated, or served when the
/// origin fails, is kept past its freshness.
pub const STALE_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// A stored response judged at one instant.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub lifetime: Lifetime,
    /// Its current age (§4.2.3).
    pub age: Duration,
    /// Its directives as a CDN reads them.
    pub directives: Directives,
    /// It carries an `ETag` or `Last-Modified` to validate with.
    pub validatable: bool,
}

impl Assessment {
    /// Judges a response stored with `headers`, requested at
    /// `request_time` and received at `response_time`, at `now`.
    pub fn new(
        lifetime: Lifetime,
        headers: &HeaderMap,
        request_time: SystemTime,
        response_time: SystemTime,
        now: SystemTime,
    ) -> Self {
        let initial = age::initial_age(headers, request_time, response_time);
        Self {
            lifetime,
            age: age::current_age(initial, response_time, now),
            directives: Directives::for_cdn(headers),
            validatable: headers.contains_key(http::header::ETAG) || headers.contains_key(http::header::LAST_MODIFIED),
        }
    }

    /// Fresh, and not to be validated at each use.
    pub fn fresh(&self) -> bool {
        !self.lifetime.validate_each_use && self.lifetime.ttl > self.age
    }

    /// Freshness left in seconds, negative once stale (for `Cache-Status`).
    pub fn ttl_left(&self) -> i64 {
        let ttl = i64::try_from(self.lifetime.ttl.as_secs()).unwrap_or(i64::MAX);
        let age = i64::try_from(self.age.as_secs()).unwrap_or(i64::MAX);
        ttl.saturating_sub(age)
    }

    /// How stale it is (zero while fresh).
    pub fn staleness(&self) -> Duration {
        self.age.saturating_sub(self.lifetime.ttl)
    }

    /// Nothing forbids serving it stale: not `must-revalidate`,
    /// `proxy-revalidate` or `s-maxage` (which bind a shared cache,
    /// §5.2.2.2, §5.2.2.8, §5.2.2.10), nor `no-cache`.
    pub fn may_serve_stale(&self) -> bool {
        !self.directives.revalidate_when_stale() && !self.lifetime.validate_each_use
    }

    /// Whether it answers a request with `request` directives without
    /// going forward: fresh, or within the staleness the viewer accepts.
    pub fn reusable(&self, request: &Directives) -> bool {
        if self.fresh() {
            return true;
        }
        match request.max_stale {
            Some(None) => self.may_serve_stale(),
            Some(Some(seconds)) => self.may_serve_stale() && self.staleness() <= Duration::from_secs(seconds),
            None => false,
        }
    }

    /// Stale, but within its `stale-while-revalidate` window: serve it and
    /// validate in the background (RFC 5861 §3).
    pub fn while_revalidating(&self) -> bool {
        !self.fresh()
            && self.may_serve_stale()
            && self
                .directives
                .stale_while_revalidate
                .is_some_and(|window| self.staleness() < Duration::from_secs(window))
    }

    /// Whether it may stand in for an error from the origin (a 5xx, or no
    /// answer): CloudFront serves what it has in that case, and RFC 5861's
    /// `stale-if-error` says the origin allows it; both yield to the
    /// directives that forbid stale responses.
    pub fn serves_on_error(&self) -> bool {
        self.may_serve_stale()
    }

    /// How long it is worth keeping from now: its freshness left, and past
    /// it a day when it can be validated or stand in for an error, or its
    /// `stale-while-revalidate` and `stale-if-error` windows otherwise.
    pub fn keep_for(&self) -> Duration {
        let left = self.lifetime.ttl.saturating_sub(self.age);
        let windows = [self.directives.stale_while_revalidate, self.directives.stale_if_error]
            .into_iter()
            .flatten()
            .map(Duration::from_secs)
            .max()
            .unwrap_or_default();
        let extra = if self.validatable || self.may_serve_stale() { STALE_KEEP.max(windows) } else { windows };
        if left.is_zero() && !self.validatable && !self.may_serve_stale() {
            return Duration::ZERO;
        }
        left + extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assess(cache_control: &'static str, ttl: u64, age_secs: u64, validate_each_use: bool) -> Assessment {
        let mut headers = HeaderMap::new();
        headers.insert("cache-control", http::HeaderValue::from_static(cache_control));
        let received = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let lifetime = Lifetime { ttl: Duration::from_secs(ttl), validate_each_use };
        Assessment::new(lifetime, &headers, received, received, received + Duration::from_secs(age_secs))
    }

    #[test]
    fn fresh_until_the_age_reaches_the_lifetime() {
        assert!(assess("max-age=10", 10, 9, false).fresh());
        assert!(!assess("max-age=10", 10, 10, false).fresh());
        assert_eq!(assess("max-age=10", 10, 13, false).ttl_left(), -3);
        assert!(!assess("no-cache", 10, 0, true).fresh());
    }

    #[test]
    fn stale_while_revalidate_has_its_window() {
        assert!(assess("max-age=1, stale-while-revalidate=10", 1, 5, false).while_revalidating());
        assert!(!assess("max-age=1, stale-while-revalidate=10", 1, 12, false).while_revalidating());
        assert!(!assess("max-age=1, stale-while-revalidate=10, must-revalidate", 1, 5, false).while_revalidating());
        assert!(!assess("max-age=1", 1, 5, false).while_revalidating());
    }

    #[test]
    fn directives_that_forbid_stale_responses() {
        for forbidding in ["max-age=1, must-revalidate", "max-age=1, proxy-revalidate", "s-maxage=1"] {
            assert!(!assess(forbidding, 1, 5, false).serves_on_error(), "{forbidding}");
        }
        assert!(!assess("no-cache", 1, 5, true).serves_on_error());
        assert!(assess("max-age=1", 1, 5, false).serves_on_error());
    }

    #[test]
    fn viewers_may_accept_staler_responses_only() {
        let stale = assess("max-age=1", 1, 5, false);
        let request = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("cache-control", http::HeaderValue::from_static(value));
            Directives::parse(&headers)
        };
        assert!(stale.reusable(&request("max-stale")));
        assert!(stale.reusable(&request("max-stale=10")));
        assert!(!stale.reusable(&request("max-stale=2")));
        assert!(!assess("max-age=1, must-revalidate", 1, 5, false).reusable(&request("max-stale")));
        let fresh = assess("max-age=100", 100, 5, false);
        assert!(fresh.reusable(&request("no-cache")));
        assert!(fresh.reusable(&request("max-age=0")));
    }

    #[test]
    fn kept_while_useful() {
        assert_eq!(assess("max-age=10", 10, 4, false).keep_for(), Duration::from_secs(6) + STALE_KEEP);
        assert_eq!(assess("no-cache", 0, 0, true).keep_for(), Duration::ZERO);
    }
}
