//! A distribution as the viewer path serves it: the API's records (the
//! distribution's config, the cache, origin request and response headers
//! policies it names, its trusted key groups) compiled once per change
//! into plain values, so a viewer request reads no record and parses
//! nothing. `crate::compile` builds these; `crate::viewer` reads them.

use std::{collections::HashMap, sync::Arc, time::Duration};

/// One distribution, ready to serve.
#[derive(Debug, Clone)]
pub struct Site {
    /// The distribution id (`E1A2B3C4D5E6F7`).
    pub id: String,
    /// `{id lowercased}.cloudfront.localhost`, always served.
    pub domain_name: String,
    /// The CNAMEs of `Aliases`, lowercased (`localhost` among them when
    /// the distribution should answer at `http://localhost:8081`).
    pub aliases: Vec<String>,
    /// A disabled distribution answers 403 to every viewer.
    pub enabled: bool,
    /// Served for `/` (`index.html`), without a leading slash.
    pub default_root_object: Option<String>,
    /// The ordered cache behaviors, first match wins; the default last,
    /// with `path_pattern` `None`.
    pub behaviors: Vec<Behavior>,
    /// Custom error responses by origin status code.
    pub error_responses: HashMap<u16, ErrorResponse>,
    /// Standard access logs, when the distribution's `Logging.Enabled` is
    /// true.
    pub logging: Option<Logging>,
    /// The version of the record it was compiled from; a newer one
    /// replaces it.
    pub version: u64,
}

/// A distribution's standard logging settings. Its `Bucket` is not kept:
/// nubo writes the files under its state directory
/// (`crate::access_log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// `Logging.Prefix`, put before the file names (`logs/`), or empty.
    pub prefix: String,
    /// `Logging.IncludeCookies`: log the viewer's `Cookie` header.
    pub include_cookies: bool,
}

/// A cache behavior with everything it refers to resolved.
#[derive(Debug, Clone)]
pub struct Behavior {
    /// CloudFront's path pattern (`*` any run of characters, `?` one; case
    /// sensitive; matched against the path with its leading `/`); `None`
    /// for the default behavior.
    pub path_pattern: Option<String>,
    pub origin: Arc<Origin>,
    pub viewer_protocol: ViewerProtocol,
    /// Methods passed to the origin; others get 403.
    pub allowed_methods: Vec<http::Method>,
    /// Methods whose responses are cached (GET and HEAD, and OPTIONS
    /// when listed).
    pub cached_methods: Vec<http::Method>,
    /// Compress responses for viewers that accept gzip or br.
    pub compress: bool,
    pub cache: CachePolicy,
    pub forward: OriginRequestPolicy,
    pub response_headers: Option<Arc<ResponseHeadersPolicy>>,
    /// Set when the behavior requires signed URLs or cookies: the public
    /// keys of its trusted key groups.
    pub trusted_keys: Option<Arc<TrustedKeys>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerProtocol {
    AllowAll,
    RedirectToHttps,
    HttpsOnly,
}

/// The TTL bounds and cache key of a behavior, from its cache policy or
/// its legacy `ForwardedValues` and TTL settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CachePolicy {
    /// The policy id (a managed policy's AWS id), or `None` for legacy
    /// settings.
    pub id: Option<String>,
    pub min_ttl: Duration,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub key: CacheKeySpec,
}

/// What besides the host and path goes into the cache key.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheKeySpec {
    pub query_strings: Selection,
    /// Header names, lowercased.
    pub headers: Vec<String>,
    pub cookies: Selection,
    /// The normalized `Accept-Encoding` (gzip, br) is part of the key and
    /// the origin is asked for compressed bodies.
    pub gzip: bool,
    pub brotli: bool,
}

/// A choice of query strings or cookies by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    None,
    All,
    Only(Vec<String>),
    AllExcept(Vec<String>),
}

/// What of the viewer's request reaches the origin beyond what the cache
/// key already carries.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginRequestPolicy {
    pub id: Option<String>,
    pub query_strings: Selection,
    pub headers: HeaderSelection,
    pub cookies: Selection,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSelection {
    None,
    /// These viewer headers (lowercased).
    Only(Vec<String>),
    /// Every viewer header.
    AllViewer,
    /// Every viewer header and these CloudFront headers
    /// (`CloudFront-Viewer-Country`, ...).
    AllViewerAndCloudFront(Vec<String>),
    AllExcept(Vec<String>),
}

/// Where a behavior's misses go.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The origin's id in the distribution.
    pub id: String,
    pub kind: OriginKind,
    /// `scheme://host:port` of the origin, without a trailing slash.
    pub base_url: String,
    /// The `Host` header sent to the origin (its domain name).
    pub host: String,
    /// Prefixed to every path sent to the origin (`/production`), or empty.
    pub origin_path: String,
    /// Added to every origin request, replacing a viewer's header of the
    /// same name.
    pub custom_headers: Vec<(String, String)>,
    pub connection_timeout: Duration,
    /// CloudFront's origin response timeout: the longest wait for the
    /// first byte and between bytes.
    pub read_timeout: Duration,
    pub connection_attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginKind {
    /// A bucket's REST endpoint; with origin access control, requests are
    /// signed as the distribution.
    S3 { bucket: String, origin_access_control: bool },
    /// A bucket's website endpoint.
    S3Website { bucket: String },
    /// An API Gateway API or any HTTP server.
    Custom,
}

/// A custom error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorResponse {
    /// Fetched through the distribution in place of the error
    /// (`/index.html`).
    pub response_page_path: Option<String>,
    /// The status the viewer gets (200 for the SPA fallback).
    pub response_code: Option<u16>,
    /// How long the error is cached.
    pub error_caching_min_ttl: Duration,
}

/// A response headers policy, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHeadersPolicy {
    pub id: String,
    pub cors: Option<Cors>,
    /// Security and custom headers: name, value, and whether it replaces
    /// the origin's own.
    pub headers: Vec<(String, String, bool)>,
    /// Header names removed from responses (lowercased).
    pub remove: Vec<String>,
    /// `Server-Timing` added, at this sampling rate (0–100).
    pub server_timing: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    /// `*` allows any.
    pub allow_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age: Option<u64>,
    /// Replace the origin's own CORS headers.
    pub origin_override: bool,
}

/// The public keys of a behavior's trusted key groups, by key id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrustedKeys {
    /// DER (SubjectPublicKeyInfo) RSA public keys by their CloudFront id
    /// (`K2JCJMDEHXQW5F`).
    pub keys: HashMap<String, Vec<u8>>,
}

impl Site {
    /// The behavior serving `path`: the first ordered behavior whose
    /// pattern matches, else the default.
    pub fn behavior(&self, path: &str) -> &Behavior {
        self.behaviors
            .iter()
            .find(|behavior| behavior.path_pattern.as_deref().is_none_or(|pattern| path_matches(pattern, path)))
            .or_else(|| self.behaviors.last())
            .expect("a compiled site always has its default behavior")
    }

    /// Whether `host` (lowercased, port removed) names this distribution.
    pub fn serves_host(&self, host: &str) -> bool {
        host == self.domain_name || self.aliases.iter().any(|alias| alias_matches(alias, host))
    }
}

/// CloudFront's path pattern match: `*` any run of characters (slashes
/// included), `?` exactly one; case sensitive. A pattern without a leading
/// slash matches as if it had one.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern).as_bytes();
    let path = path.strip_prefix('/').unwrap_or(path).as_bytes();
    // Iterative glob with one backtrack point: linear in practice, and
    // never recursion on viewer-controlled input.
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < path.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(&c) if c == b'?' || c == path[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((star_p, star_s)) => {
                    p = star_p + 1;
                    s = star_s + 1;
                    star = Some((star_p, star_s + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// An alias is a name, or a wildcard `*.example.com` covering one or more
/// labels to the left.
fn alias_matches(alias: &str, host: &str) -> bool {
    match alias.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => alias == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_match_as_cloudfront_documents() {
        assert!(path_matches("*", "/anything/at/all"));
        assert!(path_matches("/images/*.jpg", "/images/a/b.jpg"));
        assert!(path_matches("images/*.jpg", "/images/b.jpg"));
        assert!(!path_matches("/images/*.jpg", "/images/b.JPG"));
        assert!(path_matches("/a?c", "/abc"));
        assert!(!path_matches("/a?c", "/ac"));
        assert!(path_matches("/api/*", "/api/"));
        assert!(!path_matches("/api/*", "/apix"));
        assert!(path_matches("/*.js", "/app.js"));
        assert!(!path_matches("/*.js", "/app.json"));
    }

    #[test]
    fn wildcard_aliases_cover_subdomains_only() {
        assert!(alias_matches("*.example.com", "www.example.com"));
        assert!(alias_matches("*.example.com", "a.b.example.com"));
        assert!(!alias_matches("*.example.com", "example.com"));
        assert!(!alias_matches("*.example.com", "wwwexample.com"));
        assert!(alias_matches("localhost", "localhost"));
    }
}
