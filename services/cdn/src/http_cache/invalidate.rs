//! Invalidation by unsafe methods (RFC 9111 §4.4): a non-error response to
//! a request with an unsafe method makes the stored responses for the
//! target URI, and for the `Location` and `Content-Location` URIs when they
//! share its origin, unusable.

use http::{HeaderMap, Method};

/// A URI of this distribution: path (with its leading `/`) and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: String,
    pub query: Option<String>,
}

/// Whether a response of `status` to `method` invalidates: the method is
/// unsafe (RFC 9110 §9.2.1: anything but GET, HEAD, OPTIONS and TRACE)
/// and the status is not an error (2xx or 3xx).
pub fn invalidates(method: &Method, status: u16) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    !safe && (200..400).contains(&status)
}

/// The URIs an invalidating response reaches besides the target itself:
/// its `Location` and `Content-Location`, resolved against the target
/// (`base_path`), when they are relative or name `host` (the viewer's
/// `Host`, compared without case). Another origin's URIs are never
/// touched: that would let one site empty another's cache.
pub fn located(base_path: &str, host: &str, response: &HeaderMap) -> Vec<Target> {
    let mut targets = Vec::new();
    for name in ["location", "content-location"] {
        let Some(value) = response.get(name).and_then(|value| value.to_str().ok()) else { continue };
        if let Some(target) = resolve(base_path, host, value.trim())
            && !targets.contains(&target)
        {
            targets.push(target);
        }
    }
    targets
}

/// Resolves a URI reference (RFC 3986 §5.2) against `base_path` when it is
/// of this origin.
fn resolve(base_path: &str, host: &str, reference: &str) -> Option<Target> {
    let reference = reference.split('#').next().unwrap_or(reference);
    let relative = if let Some((scheme, rest)) = reference.split_once("://") {
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let (authority, path) = rest.find(['/', '?']).map_or((rest, "/"), |at| rest.split_at(at));
        if !authority.eq_ignore_ascii_case(host) {
            return None;
        }
        if path.starts_with('?') { format!("/{path}") } else { path.to_owned() }
    } else if let Some(rest) = reference.strip_prefix("//") {
        let (authority, path) = rest.find(['/', '?']).map_or((rest, "/"), |at| rest.split_at(at));
        if !authority.eq_ignore_ascii_case(host) {
            return None;
        }
        path.to_owned()
    } else if reference.contains(':')
        && !reference.starts_with('/')
        && reference.split(['/', '?']).next().is_some_and(|first| first.contains(':'))
    {
        // Another scheme (`mailto:`, `urn:`): not a URI of this origin.
        return None;
    } else {
        reference.to_owned()
    };
    let (path, query) = match relative.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (relative, None),
    };
    let merged = if path.starts_with('/') {
        path
    } else if path.is_empty() {
        base_path.to_owned()
    } else {
        let directory = base_path.rfind('/').map_or("/", |at| &base_path[..=at]);
        format!("{directory}{path}")
    };
    Some(Target { path: remove_dot_segments(&merged), query })
}

/// RFC 3986 §5.2.4, for an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if index == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if index == last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located_by(name: &'static str, value: &'static str) -> Vec<Target> {
        let mut headers = HeaderMap::new();
        headers.insert(name, http::HeaderValue::from_static(value));
        located("/test/abc", "cdn.example", &headers)
    }

    fn target(path: &str, query: Option<&str>) -> Target {
        Target { path: path.into(), query: query.map(Into::into) }
    }

    #[test]
    fn only_unsafe_methods_with_success_invalidate() {
        assert!(invalidates(&Method::POST, 201));
        assert!(invalidates(&Method::DELETE, 303));
        assert!(invalidates(&Method::from_bytes(b"M-SEARCH").unwrap_or(Method::POST), 200));
        assert!(!invalidates(&Method::PUT, 500));
        assert!(!invalidates(&Method::PUT, 404));
        assert!(!invalidates(&Method::GET, 200));
        assert!(!invalidates(&Method::OPTIONS, 200));
    }

    #[test]
    fn relative_and_same_host_locations_resolve() {
        assert_eq!(
            located_by("location", "/test/abc/location_target"),
            vec![target("/test/abc/location_target", None)]
        );
        assert_eq!(located_by("location", "other?x=1"), vec![target("/test/other", Some("x=1"))]);
        assert_eq!(located_by("content-location", "http://CDN.example/a/./b/../c"), vec![target("/a/c", None)]);
        assert_eq!(located_by("content-location", "//cdn.example/z"), vec![target("/z", None)]);
    }

    #[test]
    fn other_origins_are_left_alone() {
        assert!(located_by("location", "http://elsewhere.example/test/abc").is_empty());
        assert!(located_by("location", "//elsewhere.example/x").is_empty());
        assert!(located_by("location", "mailto:someone@cdn.example").is_empty());
    }

    #[test]
    fn dot_segments() {
        assert_eq!(remove_dot_segments("/a/b/../../../c"), "/c");
        assert_eq!(remove_dot_segments("/a/b/.."), "/a/");
    }
}
