//! `Cache-Status` (RFC 9211): what this cache did with a request, on every
//! response, as one list member named for the cache.

/// Why the request went forward to the origin (RFC 9211 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// The cache was not used (an uncacheable method, a disabled cache).
    Bypass,
    /// The method is not one whose responses are cached.
    Method,
    /// Nothing is stored under the key.
    UriMiss,
    /// Something is stored, but not for this request's `Vary` fields.
    VaryMiss,
    /// The stored response was stale (or must be validated each use).
    Stale,
    /// Only part of what was asked for is stored.
    Partial,
    /// The request asked for the origin (`only-if-cached` aside).
    Request,
}

impl Forward {
    fn token(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::Method => "method",
            Self::UriMiss => "uri-miss",
            Self::VaryMiss => "vary-miss",
            Self::Stale => "stale",
            Self::Partial => "partial",
            Self::Request => "request",
        }
    }
}

/// One cache's entry of `Cache-Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStatus {
    /// Served from the cache without going forward.
    pub hit: bool,
    pub forward: Option<Forward>,
    /// The status the origin answered the forwarded request with.
    pub forward_status: Option<u16>,
    /// Freshness left of the response served, in seconds (negative when
    /// stale).
    pub ttl: Option<i64>,
    /// The response was stored.
    pub stored: bool,
    /// The request waited for another request's fetch and was served
    /// from it.
    pub collapsed: bool,
    /// A reason, for the cases the parameters do not cover.
    pub detail: Option<&'static str>,
}

impl CacheStatus {
    pub fn hit(ttl: i64) -> Self {
        Self { hit: true, ttl: Some(ttl), ..Self::default() }
    }

    pub fn forward(forward: Forward) -> Self {
        Self { forward: Some(forward), ..Self::default() }
    }

    /// The field value, naming the cache `cache` (an sf-token).
    pub fn value(&self, cache: &str) -> String {
        let mut out = cache.to_owned();
        if self.hit {
            out.push_str("; hit");
        }
        if let Some(forward) = self.forward {
            out.push_str("; fwd=");
            out.push_str(forward.token());
        }
        if let Some(status) = self.forward_status {
            out.push_str(&format!("; fwd-status={status}"));
        }
        if let Some(ttl) = self.ttl {
            out.push_str(&format!("; ttl={ttl}"));
        }
        if self.stored {
            out.push_str("; stored");
        }
        if self.collapsed {
            out.push_str("; collapsed");
        }
        if let Some(detail) = self.detail {
            out.push_str("; detail=");
            out.push_str(detail);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_and_forwards_read_as_the_rfc_writes_them() {
        assert_eq!(CacheStatus::hit(42).value("nubo"), "nubo; hit; ttl=42");
        let miss = CacheStatus { forward_status: Some(200), stored: true, ..CacheStatus::forward(Forward::UriMiss) };
        assert_eq!(miss.value("nubo"), "nubo; fwd=uri-miss; fwd-status=200; stored");
        let refreshed = CacheStatus {
            forward_status: Some(304),
            ttl: Some(-3),
            collapsed: true,
            ..CacheStatus::forward(Forward::Stale)
        };
        assert_eq!(refreshed.value("nubo"), "nubo; fwd=stale; fwd-status=304; ttl=-3; collapsed");
        let error = CacheStatus { detail: Some("origin-timeout"), ..CacheStatus::forward(Forward::UriMiss) };
        assert_eq!(error.value("nubo"), "nubo; fwd=uri-miss; detail=origin-timeout");
    }
}
