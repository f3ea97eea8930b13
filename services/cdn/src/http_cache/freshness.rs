//! Freshness lifetime (RFC 9111 §4.2.1–4.2.2) and CloudFront's TTL
//! bounds over it.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::{control::Directives, fields};
use crate::site::CachePolicy;

/// The lifetime the origin gave: `s-maxage`, else `max-age`, else
/// `Expires` minus `Date` (an invalid `Expires` is already past).
pub fn explicit(directives: &Directives, headers: &HeaderMap, response_time: SystemTime) -> Option<Duration> {
    if let Some(seconds) = directives.s_maxage.or(directives.max_age) {
        return Some(Duration::from_secs(seconds));
    }
    let expires = match fields::date(headers, "expires")? {
        Ok(expires) => expires,
        Err(()) => return Some(Duration::ZERO),
    };
    let date = match fields::date(headers, "date") {
        Some(Ok(date)) => date,
        _ => response_time,
    };
    Some(expires.duration_since(date).unwrap_or(Duration::ZERO))
}

/// Status codes a cache may give a heuristic lifetime (RFC 9110 §15.1).
pub fn heuristically_cacheable(status: u16) -> bool {
    matches!(status, 200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501)
}

/// A tenth of the time since `Last-Modified` (§4.2.2), for a status that
/// allows it or a `public` response.
pub fn heuristic(
    status: u16,
    directives: &Directives,
    headers: &HeaderMap,
    response_time: SystemTime,
) -> Option<Duration> {
    if !heuristically_cacheable(status) && !directives.public {
        return None;
    }
    let Some(Ok(modified)) = fields::date(headers, "last-modified") else { return None };
    let date = match fields::date(headers, "date") {
        Some(Ok(date)) => date,
        _ => response_time,
    };
    Some(date.duration_since(modified).ok()? / 10)
}

/// How long CloudFront keeps a response fresh under `policy`, or `None`
/// when it does not cache it ("Managing how long content stays in the
/// cache"):
/// - `no-store` or `private`: not cached, unless the minimum TTL is set,
///   which then applies;
/// - `no-cache`: stored, but validated before each reuse (a minimum TTL
///   overrides it);
/// - an origin lifetime (`s-maxage`, `max-age`, `Expires`): bounded by the
///   minimum and maximum TTL;
/// - none: the greater of the default and minimum TTL; a policy that
///   defers to the origin (default TTL 0) uses RFC 9111's heuristic
///   instead, bounded the same way, so `UseOriginCacheControlHeaders`
///   (0/0/1 year) gives plain RFC 9111 freshness.
pub fn cloudfront_ttl(
    status: u16,
    directives: &Directives,
    headers: &HeaderMap,
    policy: &CachePolicy,
    response_time: SystemTime,
) -> Option<Duration> {
    let bound = |ttl: Duration| ttl.clamp(policy.min_ttl, policy.max_ttl.max(policy.min_ttl));
    // must-understand stands in for no-store where the status is understood.
    let no_store = directives.no_store && !(directives.must_understand && super::storable::understood(status));
    if no_store || directives.private_all() {
        return (!policy.min_ttl.is_zero()).then_some(policy.min_ttl);
    }
    if directives.no_cache_all() {
        return Some(policy.min_ttl);
    }
    if let Some(lifetime) = explicit(directives, headers, response_time) {
        return Some(bound(lifetime));
    }
    if !policy.default_ttl.is_zero() {
        return Some(bound(policy.default_ttl));
    }
    Some(bound(heuristic(status, directives, headers, response_time).unwrap_or(Duration::ZERO)))
}

/// What CloudFront caches an error for when the distribution has no
/// `ErrorCachingMinTTL` for its code.
pub const DEFAULT_ERROR_CACHING_MIN_TTL: Duration = Duration::from_secs(10);

/// How CloudFront treats an error status ("How CloudFront processes and
/// caches HTTP 4xx and 5xx status codes from your origin").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Not an error CloudFront treats apart: the TTL rules above apply.
    Ordinary,
    /// Cached for the greater of the error caching minimum TTL and the
    /// origin's `max-age`/`s-maxage`: 404, 405, 414, 500, 501, 502, 503,
    /// 504.
    Always,
    /// Cached only when the origin gives a `max-age` or `s-maxage`: 400,
    /// 403, 412, 415.
    WithMaxAge,
}

pub fn error_class(status: u16) -> ErrorClass {
    match status {
        404 | 405 | 414 | 500..=504 => ErrorClass::Always,
        400 | 403 | 412 | 415 => ErrorClass::WithMaxAge,
        _ => ErrorClass::Ordinary,
    }
}

/// How long a stored response stays fresh, and whether it must be
/// validated at each use anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub ttl: Duration,
    /// `no-cache` without field names and no minimum TTL to override it.
    pub validate_each_use: bool,
}

/// A response's lifetime in this cache: [`cloudfront_ttl`], with an error
/// status cached as CloudFront caches errors. `error_min_ttl` is the
/// distribution's `ErrorCachingMinTTL` for `status`, if it sets one.
/// `None`: not cached.
pub fn lifetime(
    status: u16,
    directives: &Directives,
    headers: &HeaderMap,
    policy: &CachePolicy,
    error_min_ttl: Option<Duration>,
    response_time: SystemTime,
) -> Option<Lifetime> {
    let validate_each_use = directives.no_cache_all() && policy.min_ttl.is_zero();
    let ordinary = || cloudfront_ttl(status, directives, headers, policy, response_time);
    let ttl = match error_class(status) {
        ErrorClass::Ordinary => match error_min_ttl {
            // A configured error caching minimum raises the lifetime of any
            // error the origin lets a cache keep.
            Some(min) if status >= 400 => ordinary().map(|ttl| ttl.max(min)),
            _ => ordinary(),
        },
        ErrorClass::Always => ordinary().map(|ttl| ttl.max(error_min_ttl.unwrap_or(DEFAULT_ERROR_CACHING_MIN_TTL))),
        ErrorClass::WithMaxAge => {
            directives.s_maxage.or(directives.max_age)?;
            ordinary().map(|ttl| ttl.max(error_min_ttl.unwrap_or(DEFAULT_ERROR_CACHING_MIN_TTL)))
        }
    }?;
    Some(Lifetime { ttl, validate_each_use })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::{CacheKeySpec, Selection};

    fn policy(min: u64, default: u64, max: u64) -> CachePolicy {
        CachePolicy {
            id: None,
            min_ttl: Duration::from_secs(min),
            default_ttl: Duration::from_secs(default),
            max_ttl: Duration::from_secs(max),
            key: CacheKeySpec {
                query_strings: Selection::All,
                headers: vec![],
                cookies: Selection::None,
                gzip: false,
                brotli: false,
            },
        }
    }

    fn headers(lines: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                map.append(*name, value);
            }
        }
        map
    }

    fn ttl(lines: &[(&'static str, String)], policy: &CachePolicy, now: SystemTime) -> Option<Duration> {
        let map = headers(lines);
        cloudfront_ttl(200, &Directives::for_cdn(&map), &map, policy, now)
    }

    #[test]
    fn origin_lifetimes_are_bounded_by_the_policy() {
        let now = SystemTime::now();
        let cc = |value: &str| vec![("cache-control", value.to_string())];
        let origin = policy(0, 0, 31_536_000);
        assert_eq!(ttl(&cc("max-age=60"), &origin, now), Some(Duration::from_secs(60)));
        assert_eq!(ttl(&cc("max-age=60, s-maxage=600"), &origin, now), Some(Duration::from_secs(600)));
        assert_eq!(ttl(&cc("max-age=99999999999"), &origin, now), Some(Duration::from_secs(31_536_000)));
        let bounded = policy(100, 200, 300);
        assert_eq!(ttl(&cc("max-age=60"), &bounded, now), Some(Duration::from_secs(100)));
        assert_eq!(ttl(&cc("max-age=6000"), &bounded, now), Some(Duration::from_secs(300)));
        assert_eq!(ttl(&[], &bounded, now), Some(Duration::from_secs(200)));
    }

    #[test]
    fn no_store_and_private_are_not_cached_without_a_minimum() {
        let now = SystemTime::now();
        for value in ["no-store", "private", "max-age=60, private"] {
            let lines = vec![("cache-control", value.to_string())];
            assert_eq!(ttl(&lines, &policy(0, 86_400, 31_536_000), now), None, "{value}");
            assert_eq!(ttl(&lines, &policy(30, 86_400, 31_536_000), now), Some(Duration::from_secs(30)), "{value}");
        }
        let lines = vec![("cache-control", "no-cache".to_string())];
        assert_eq!(ttl(&lines, &policy(0, 86_400, 31_536_000), now), Some(Duration::ZERO));
    }

    #[test]
    fn expires_counts_from_date_and_invalid_expires_is_past() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let origin = policy(0, 0, 31_536_000);
        let lines = vec![
            ("date", httpdate::fmt_http_date(now - Duration::from_secs(100))),
            ("expires", httpdate::fmt_http_date(now + Duration::from_secs(100))),
        ];
        assert_eq!(ttl(&lines, &origin, now), Some(Duration::from_secs(200)));
        assert_eq!(ttl(&[("expires", "0".to_string())], &origin, now), Some(Duration::ZERO));
    }

    #[test]
    fn errors_are_cached_as_cloudfront_caches_them() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let origin = policy(0, 0, 31_536_000);
        let life = |status: u16, lines: &[(&'static str, String)], min: Option<u64>| {
            let map = headers(lines);
            lifetime(status, &Directives::for_cdn(&map), &map, &origin, min.map(Duration::from_secs), now)
                .map(|life| life.ttl.as_secs())
        };
        let cc = |value: &str| vec![("cache-control", value.to_string())];
        assert_eq!(life(404, &[], None), Some(10));
        assert_eq!(life(503, &cc("max-age=60"), None), Some(60));
        assert_eq!(life(503, &[], Some(0)), Some(0));
        assert_eq!(life(403, &[], None), None);
        assert_eq!(life(403, &cc("max-age=5"), None), Some(10));
        assert_eq!(life(403, &cc("max-age=5"), Some(0)), Some(5));
        assert_eq!(life(404, &cc("no-store"), None), None);
        assert_eq!(life(410, &[], Some(30)), Some(30));
        assert_eq!(life(200, &[], Some(30)), Some(0));
    }

    #[test]
    fn no_cache_is_validated_unless_a_minimum_ttl_overrides_it() {
        let now = SystemTime::now();
        let map = headers(&[("cache-control", "no-cache, max-age=600".to_string())]);
        let directives = Directives::for_cdn(&map);
        let origin = lifetime(200, &directives, &map, &policy(0, 0, 31_536_000), None, now);
        assert!(origin.is_some_and(|life| life.validate_each_use));
        let overridden = lifetime(200, &directives, &map, &policy(60, 86_400, 31_536_000), None, now);
        assert_eq!(overridden, Some(Lifetime { ttl: Duration::from_secs(60), validate_each_use: false }));
    }

    #[test]
    fn heuristics_only_for_heuristically_cacheable_statuses() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let map = headers(&[("last-modified", httpdate::fmt_http_date(now - Duration::from_secs(10_000)))]);
        let directives = Directives::parse(&map);
        assert_eq!(heuristic(200, &directives, &map, now), Some(Duration::from_secs(1000)));
        assert_eq!(heuristic(302, &directives, &map, now), None);
    }
}
