//! Hop-by-hop fields (RFC 9110 §7.6.1) and what a shared cache keeps of a
//! response's header (RFC 9111 §3.1).
//!
//! A proxy never forwards the fields that describe one connection, nor
//! the ones a `Connection` field names; a cache never stores them either,
//! nor the fields a qualified `no-cache` or `private` names (a shared
//! cache may not reuse them without revalidating, so it keeps none).

use http::HeaderMap;

use super::{control::Directives, fields};

/// The fields that belong to one connection, whatever `Connection` says.
pub const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "trailer",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-authentication-info",
];

/// The field names `Connection` lists, lowercased.
pub fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    fields::members(headers, "connection").into_iter().map(str::to_ascii_lowercase).collect()
}

/// Whether `name` (lowercased) is hop-by-hop in a message whose
/// `Connection` lists `listed`.
pub fn is_hop_by_hop(name: &str, listed: &[String]) -> bool {
    HOP_BY_HOP.contains(&name) || listed.iter().any(|listed| listed == name)
}

/// Removes the hop-by-hop fields and those `Connection` lists.
pub fn strip(headers: &mut HeaderMap) {
    let listed = connection_listed(headers);
    for name in HOP_BY_HOP.iter().copied().map(str::to_owned).chain(listed) {
        headers.remove(name.as_str());
    }
}

/// The fields a shared cache stores of a response, in order, names
/// lowercased: all but the hop-by-hop ones and those a qualified
/// `no-cache` or `private` names.
pub fn stored_fields(headers: &HeaderMap, directives: &Directives) -> Vec<(String, Vec<u8>)> {
    let listed = connection_listed(headers);
    let withheld = |name: &str| {
        directives.no_cache.as_ref().is_some_and(|names| names.iter().any(|n| n == name))
            || directives.private.as_ref().is_some_and(|names| names.iter().any(|n| n == name))
    };
    headers
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str(), &listed) && !withheld(name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, http::HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn connection_and_its_listed_fields_go() {
        let mut headers = map(&[
            ("connection", "close, Test-Header"),
            ("test-header", "x"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("proxy-authenticate", "Basic"),
            ("x-kept", "1"),
        ]);
        strip(&mut headers);
        let names: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
        assert_eq!(names, vec!["x-kept"]);
    }

    #[test]
    fn fields_named_by_no_cache_or_private_are_not_stored() {
        let headers = map(&[
            ("cache-control", "max-age=60, no-cache=\"Set-Cookie\", private=\"x-secret\""),
            ("set-cookie", "a=1"),
            ("x-secret", "s"),
            ("upgrade", "h2c"),
            ("content-type", "text/plain"),
        ]);
        let stored = stored_fields(&headers, &Directives::parse(&headers));
        let names: Vec<&str> = stored.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, vec!["cache-control", "content-type"]);
    }
}
