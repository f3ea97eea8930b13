//! Whether a response may be stored (RFC 9111 §3, §3.5, §5.2.2.3).

use http::{HeaderMap, Method, StatusCode};

use super::{control::Directives, freshness::heuristically_cacheable};

/// Status codes whose caching rules this cache knows, for
/// `must-understand` (§5.2.2.3).
pub fn understood(status: u16) -> bool {
    heuristically_cacheable(status) || matches!(status, 302 | 303 | 307 | 400 | 403 | 500 | 502 | 503 | 504)
}

/// What decides storability besides the response's own directives.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub method: &'a Method,
    pub request: &'a HeaderMap,
    /// The distribution's policy gives the response a lifetime of its own
    /// (a minimum or default TTL), which counts as explicit freshness.
    pub policy_lifetime: bool,
    /// The policy's minimum TTL is set: CloudFront then caches `no-store`
    /// and `private` responses for that long.
    pub overrides_no_store: bool,
}

/// §3: a shared cache may store the response to a cacheable request.
pub fn storable(context: Context<'_>, status: StatusCode, response: &HeaderMap, directives: &Directives) -> bool {
    let code = status.as_u16();
    if !(context.method == Method::GET || context.method == Method::HEAD) {
        return false;
    }
    // Interim responses, partial content (not combined here) and 304s
    // (which only freshen what is stored) are not stored as such.
    if status.is_informational() || code == 206 || code == 304 {
        return false;
    }
    if directives.must_understand {
        if !understood(code) {
            return false;
        }
    } else if directives.no_store && !context.overrides_no_store {
        return false;
    }
    if directives.private_all() && !context.overrides_no_store {
        return false;
    }
    if Directives::parse(context.request).no_store {
        return false;
    }
    // §3.5: a shared cache stores an answer to an authenticated request
    // only when the origin says it may.
    if context.request.contains_key(http::header::AUTHORIZATION)
        && !(directives.must_revalidate || directives.public || directives.s_maxage.is_some())
    {
        return false;
    }
    directives.public
        || directives.max_age.is_some()
        || directives.s_maxage.is_some()
        || response.contains_key(http::header::EXPIRES)
        || heuristically_cacheable(code)
        || context.policy_lifetime
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: Method,
        request: &[(&'static str, &'static str)],
        status: u16,
        response: &[(&'static str, &'static str)],
    ) -> bool {
        let mut request_map = HeaderMap::new();
        for (name, value) in request {
            request_map.append(*name, http::HeaderValue::from_static(value));
        }
        let mut response_map = HeaderMap::new();
        for (name, value) in response {
            response_map.append(*name, http::HeaderValue::from_static(value));
        }
        let directives = Directives::for_cdn(&response_map);
        let context =
            Context { method: &method, request: &request_map, policy_lifetime: false, overrides_no_store: false };
        storable(context, StatusCode::from_u16(status).unwrap_or(StatusCode::OK), &response_map, &directives)
    }

    #[test]
    fn methods_and_statuses() {
        assert!(check(Method::GET, &[], 200, &[]));
        assert!(!check(Method::POST, &[], 200, &[("cache-control", "max-age=60")]));
        assert!(!check(Method::GET, &[], 302, &[]));
        assert!(check(Method::GET, &[], 302, &[("cache-control", "max-age=60")]));
        assert!(!check(Method::GET, &[], 206, &[("cache-control", "max-age=60")]));
        assert!(check(Method::GET, &[], 404, &[]));
    }

    #[test]
    fn no_store_private_and_must_understand() {
        assert!(!check(Method::GET, &[], 200, &[("cache-control", "no-store, max-age=60")]));
        assert!(!check(Method::GET, &[], 200, &[("cache-control", "private, max-age=60")]));
        assert!(check(Method::GET, &[], 200, &[("cache-control", "private=\"set-cookie\", max-age=60")]));
        assert!(check(Method::GET, &[], 200, &[("cache-control", "must-understand, no-store, max-age=60")]));
        assert!(!check(Method::GET, &[], 299, &[("cache-control", "must-understand, no-store, max-age=60")]));
        assert!(!check(Method::GET, &[("cache-control", "no-store")], 200, &[("cache-control", "max-age=60")]));
    }

    #[test]
    fn a_minimum_ttl_overrides_no_store_and_private() {
        let mut response = HeaderMap::new();
        response.insert("cache-control", http::HeaderValue::from_static("no-store, private"));
        let request = HeaderMap::new();
        let context =
            Context { method: &Method::GET, request: &request, policy_lifetime: true, overrides_no_store: true };
        assert!(storable(context, StatusCode::OK, &response, &Directives::parse(&response)));
    }

    #[test]
    fn authorized_requests_need_the_origins_consent() {
        let auth = [("authorization", "Basic dGVzdA==")];
        assert!(!check(Method::GET, &auth, 200, &[("cache-control", "max-age=60")]));
        for allowed in ["public, max-age=60", "s-maxage=60", "must-revalidate, max-age=60"] {
            let response = [("cache-control", allowed)];
            assert!(check(Method::GET, &auth, 200, &response), "{allowed}");
        }
    }
}
