//! What of a viewer's request goes into the cache key (the cache policy)
//! and what reaches the origin (the cache key's values and the origin
//! request policy's), as CloudFront selects them.

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, Method};

use crate::{
    http_cache::hop,
    site::{Behavior, CacheKeySpec, HeaderSelection, OriginKind, OriginRequestPolicy, Selection},
    tiers::Key,
};

/// The viewer request fields a cache never lets through to the origin as
/// they came: it evaluates them itself, against what it stores, and asks
/// the origin its own questions.
pub const VIEWER_PRECONDITIONS: [&str; 5] =
    ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range"];

/// The cache key of a request for `path?query` under `spec`.
pub fn cache_key(
    distribution: &str,
    path: &str,
    query: &str,
    method: &Method,
    headers: &HeaderMap,
    spec: &CacheKeySpec,
) -> Key {
    let mut rest = String::new();
    let query = select_query(query, &spec.query_strings);
    if !query.is_empty() {
        rest.push_str("q=");
        rest.push_str(&query);
        rest.push('\n');
    }
    let mut names = spec.headers.clone();
    names.sort();
    names.dedup();
    for name in &names {
        rest.push_str("h=");
        rest.push_str(name);
        // Every byte of every value is in the key, escaped, so a value the
        // origin sees can never share a key with another (or with none).
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_some() {
            rest.push(':');
            for (i, value) in values.enumerate() {
                if i > 0 {
                    rest.push(',');
                }
                for &byte in value.as_bytes() {
                    if byte.is_ascii_graphic() && byte != b'%' && byte != b',' || byte == b' ' {
                        rest.push(byte as char);
                    } else {
                        rest.push_str(&format!("%{byte:02X}"));
                    }
                }
            }
        }
        rest.push('\n');
    }
    let mut cookies = select_cookies(headers, &spec.cookies);
    cookies.sort();
    for (name, value) in cookies {
        rest.push_str("c=");
        rest.push_str(&name);
        rest.push('=');
        rest.push_str(&value);
        rest.push('\n');
    }
    if let Some(encoding) = normalized_accept_encoding(headers, spec) {
        rest.push_str("e=");
        rest.push_str(encoding);
        rest.push('\n');
    }
    if *method == Method::OPTIONS {
        // OPTIONS responses, when cached, are kept apart from GET's.
        rest.push_str("m=OPTIONS\n");
    }
    Key { distribution: distribution.to_owned(), path: path.to_owned(), rest }
}

/// `key` without the viewer's encodings, when it has them.
pub fn without_encoding(key: &Key) -> Option<Key> {
    let lines: Vec<&str> = key.rest.split_inclusive('\n').collect();
    let kept: String = lines.iter().copied().filter(|line| !line.starts_with("e=")).collect();
    (kept.len() != key.rest.len()).then(|| Key { rest: kept, ..key.clone() })
}

/// The query's parameters `selection` picks, in their order, as sent.
pub fn select_query(query: &str, selection: &Selection) -> String {
    match selection {
        Selection::None => String::new(),
        Selection::All => query.to_owned(),
        Selection::Only(_) | Selection::AllExcept(_) => query
            .split('&')
            .filter(|pair| !pair.is_empty() && picks(selection, parameter_name(pair)))
            .collect::<Vec<_>>()
            .join("&"),
    }
}

fn parameter_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

fn picks(selection: &Selection, name: &str) -> bool {
    match selection {
        Selection::None => false,
        Selection::All => true,
        Selection::Only(names) => names.iter().any(|candidate| candidate == name),
        Selection::AllExcept(names) => !names.iter().any(|candidate| candidate == name),
    }
}

/// The query the origin gets: the parameters either policy selects.
pub fn origin_query(query: &str, key: &Selection, forward: &Selection) -> String {
    if matches!(key, Selection::All) || matches!(forward, Selection::All) {
        return query.to_owned();
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && (picks(key, parameter_name(pair)) || picks(forward, parameter_name(pair))))
        .collect::<Vec<_>>()
        .join("&")
}

/// The cookies of the `Cookie` header `selection` picks.
pub fn select_cookies(headers: &HeaderMap, selection: &Selection) -> Vec<(String, String)> {
    if matches!(selection, Selection::None) {
        return Vec::new();
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            picks(selection, name.trim()).then(|| (name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// CloudFront's normalized `Accept-Encoding` when the cache policy keys on
/// it: `br,gzip`, `gzip` or `br`, of the codings the policy enables that
/// the viewer accepts (`crate::compress` reads the field); `None` for
/// identity, or when the policy keys on neither.
pub fn normalized_accept_encoding(headers: &HeaderMap, spec: &CacheKeySpec) -> Option<&'static str> {
    if !spec.gzip && !spec.brotli {
        return None;
    }
    crate::compress::normalize_for(headers, spec.gzip, spec.brotli)
}

/// Whether the origin request policy lets `name` (lowercased) through.
fn forwards_header(policy: &OriginRequestPolicy, name: &str) -> bool {
    match &policy.headers {
        HeaderSelection::None => false,
        HeaderSelection::Only(names) => names.iter().any(|candidate| candidate == name),
        HeaderSelection::AllViewer | HeaderSelection::AllViewerAndCloudFront(_) => true,
        HeaderSelection::AllExcept(names) => !names.iter().any(|candidate| candidate == name),
    }
}

/// What identifies this hop in `Via` and `X-Forwarded-For`.
pub struct Hop<'a> {
    /// The distribution's domain name, for `Via`.
    pub domain_name: &'a str,
    pub client_ip: Option<IpAddr>,
    pub request_id: &'a str,
    /// The request is answered from the cache when it can be: the viewer's
    /// preconditions stay here.
    pub cacheable: bool,
    /// The request carries a body to relay.
    pub has_body: bool,
}

/// The header of the origin request for a viewer request with `viewer`
/// (hop-by-hop fields already gone): the cache key's headers and cookies,
/// what the origin request policy adds, and CloudFront's own fields.
/// `Host` is the viewer's only when the policy forwards it to a custom
/// origin (as `AllViewer` does); otherwise `crate::origin` sets the
/// origin's domain.
pub fn origin_headers(viewer: &HeaderMap, behavior: &Behavior, hop: &Hop<'_>) -> HeaderMap {
    let spec = &behavior.cache.key;
    let policy = &behavior.forward;
    let mut out = HeaderMap::new();
    for (name, value) in viewer {
        let name_text = name.as_str();
        let keyed = spec.headers.iter().any(|candidate| candidate == name_text);
        if !(keyed || forwards_header(policy, name_text)) {
            continue;
        }
        match name_text {
            "cookie" | "accept-encoding" | "content-length" | "x-forwarded-for" | "via" => continue,
            "host" if !matches!(behavior.origin.kind, OriginKind::Custom) => continue,
            _ => {}
        }
        if hop.cacheable && (VIEWER_PRECONDITIONS.contains(&name_text) && name_text != "if-range") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if hop.cacheable && !out.contains_key(http::header::RANGE) {
        out.remove(http::header::IF_RANGE);
    }
    // Cookies: those the cache key or the origin request policy selects.
    let mut cookies = select_cookies(viewer, &spec.cookies);
    for cookie in select_cookies(viewer, &policy.cookies) {
        if !cookies.contains(&cookie) {
            cookies.push(cookie);
        }
    }
    if !cookies.is_empty() {
        let line = cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ");
        if let Ok(value) = HeaderValue::from_str(&line) {
            out.insert(http::header::COOKIE, value);
        }
    }
    // Accept-Encoding: normalized when the cache key has it, else as the
    // viewer sent it when forwarded.
    if spec.gzip || spec.brotli {
        if let Some(encoding) = normalized_accept_encoding(viewer, spec) {
            out.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static(encoding));
        }
    } else if forwards_header(policy, "accept-encoding") {
        for value in viewer.get_all(http::header::ACCEPT_ENCODING) {
            out.append(http::header::ACCEPT_ENCODING, value.clone());
        }
    }
    if !out.contains_key(http::header::USER_AGENT) {
        out.insert(http::header::USER_AGENT, HeaderValue::from_static("Amazon CloudFront"));
    }
    if hop.has_body
        && let Some(length) = viewer.get(http::header::CONTENT_LENGTH)
    {
        out.insert(http::header::CONTENT_LENGTH, length.clone());
    }
    if hop.has_body
        && let Some(content_type) = viewer.get(http::header::CONTENT_TYPE)
        && !out.contains_key(http::header::CONTENT_TYPE)
    {
        out.insert(http::header::CONTENT_TYPE, content_type.clone());
    }
    // X-Forwarded-For: the viewer's chain, then the viewer.
    let mut forwarded: Vec<String> =
        viewer.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).map(str::to_owned).collect();
    if let Some(ip) = hop.client_ip {
        forwarded.push(ip.to_string());
    }
    if !forwarded.is_empty()
        && let Ok(value) = HeaderValue::from_str(&forwarded.join(","))
    {
        out.insert("x-forwarded-for", value);
    }
    let mut via: Vec<String> =
        viewer.get_all(http::header::VIA).iter().filter_map(|value| value.to_str().ok()).map(str::to_owned).collect();
    via.push(format!("1.1 {} (CloudFront)", hop.domain_name));
    if let Ok(value) = HeaderValue::from_str(&via.join(", ")) {
        out.insert(http::header::VIA, value);
    }
    if let Ok(value) = HeaderValue::from_str(hop.request_id) {
        out.insert("x-amz-cf-id", value);
    }
    for name in ["x-forwarded-proto", "x-real-ip", "x-http-method-override", "expect"] {
        out.remove(name);
    }
    hop::strip(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;
    use crate::site::{CachePolicy, Origin, ViewerProtocol};

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn spec(query_strings: Selection, headers: &[&str], cookies: Selection, gzip: bool, brotli: bool) -> CacheKeySpec {
        CacheKeySpec {
            query_strings,
            headers: headers.iter().map(|name| name.to_string()).collect(),
            cookies,
            gzip,
            brotli,
        }
    }

    fn behavior(key: CacheKeySpec, forward: HeaderSelection, kind: OriginKind) -> Behavior {
        Behavior {
            path_pattern: None,
            origin: Arc::new(Origin {
                id: "o".into(),
                kind,
                base_url: "http://127.0.0.1:1".into(),
                host: "origin.example".into(),
                origin_path: String::new(),
                custom_headers: vec![],
                connection_timeout: Duration::from_secs(1),
                read_timeout: Duration::from_secs(1),
                connection_attempts: 1,
            }),
            viewer_protocol: ViewerProtocol::AllowAll,
            allowed_methods: vec![Method::GET, Method::HEAD],
            cached_methods: vec![Method::GET, Method::HEAD],
            compress: false,
            cache: CachePolicy {
                id: None,
                min_ttl: Duration::ZERO,
                default_ttl: Duration::ZERO,
                max_ttl: Duration::from_secs(31_536_000),
                key,
            },
            forward: OriginRequestPolicy {
                id: None,
                query_strings: Selection::None,
                headers: forward,
                cookies: Selection::None,
            },
            response_headers: None,
            trusted_keys: None,
        }
    }

    fn hop() -> Hop<'static> {
        Hop {
            domain_name: "e1.cloudfront.localhost",
            client_ip: Some(IpAddr::from([192, 0, 2, 2])),
            request_id: "id==",
            cacheable: true,
            has_body: false,
        }
    }

    #[test]
    fn keys_separate_what_the_policy_names() {
        let all = spec(Selection::All, &[], Selection::None, false, false);
        let none = spec(Selection::None, &[], Selection::None, false, false);
        let headers = HeaderMap::new();
        let key = |query: &str, spec: &CacheKeySpec| cache_key("E1", "/a", query, &Method::GET, &headers, spec);
        assert_ne!(key("x=1", &all), key("x=2", &all));
        assert_eq!(key("x=1", &none), key("x=2", &none));
        let only = spec(Selection::Only(vec!["v".into()]), &[], Selection::None, false, false);
        assert_eq!(key("v=1&utm=a", &only), key("utm=b&v=1", &only));
        let except = spec(Selection::AllExcept(vec!["utm".into()]), &[], Selection::None, false, false);
        assert_eq!(key("v=1&utm=a", &except).rest, "q=v=1\n");
        let options = cache_key("E1", "/a", "", &Method::OPTIONS, &headers, &none);
        assert_ne!(options, key("", &none));
    }

    #[test]
    fn headers_cookies_and_encodings_key_as_named() {
        let spec = spec(Selection::None, &["x-device"], Selection::Only(vec!["session".into()]), true, true);
        let a =
            map(&[("x-device", "phone"), ("cookie", "session=1; other=2"), ("accept-encoding", "gzip, deflate, br")]);
        let b = map(&[("x-device", "phone"), ("cookie", "other=3; session=1"), ("accept-encoding", "br;q=1, gzip")]);
        let key_a = cache_key("E1", "/a", "", &Method::GET, &a, &spec);
        assert_eq!(key_a, cache_key("E1", "/a", "", &Method::GET, &b, &spec));
        assert_eq!(key_a.rest, "h=x-device:phone\nc=session=1\ne=br,gzip\n");
        assert_eq!(without_encoding(&key_a).map(|key| key.rest), Some("h=x-device:phone\nc=session=1\n".to_owned()));
        let identity = cache_key("E1", "/a", "", &Method::GET, &HeaderMap::new(), &spec);
        assert_eq!(without_encoding(&identity), None);
        let gzip_only = map(&[("accept-encoding", "gzip, br;q=0")]);
        assert_eq!(normalized_accept_encoding(&gzip_only, &spec), Some("gzip"));
        assert_eq!(normalized_accept_encoding(&map(&[("accept-encoding", "identity")]), &spec), None);
    }

    #[test]
    fn origin_queries_join_both_policies() {
        let key = Selection::Only(vec!["a".into()]);
        let forward = Selection::Only(vec!["b".into()]);
        assert_eq!(origin_query("a=1&b=2&c=3", &key, &forward), "a=1&b=2");
        assert_eq!(origin_query("a=1&c=3", &Selection::None, &Selection::All), "a=1&c=3");
    }

    #[test]
    fn all_viewer_forwards_the_viewer_but_not_its_preconditions() {
        let viewer = map(&[
            ("host", "cdn.example"),
            ("x-test", "1"),
            ("if-none-match", "\"a\""),
            ("range", "bytes=0-1"),
            ("cookie", "a=1"),
            ("user-agent", "curl"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        let custom = behavior(
            spec(Selection::All, &[], Selection::None, false, false),
            HeaderSelection::AllViewer,
            OriginKind::Custom,
        );
        let out = origin_headers(&viewer, &custom, &hop());
        assert_eq!(out.get("host").map(|value| value.as_bytes()), Some(&b"cdn.example"[..]));
        assert_eq!(out.get("x-test").map(|value| value.as_bytes()), Some(&b"1"[..]));
        assert_eq!(out.get("range").map(|value| value.as_bytes()), Some(&b"bytes=0-1"[..]));
        assert!(!out.contains_key("if-none-match"));
        assert!(!out.contains_key("cookie"), "cookies follow the cookie selections");
        assert_eq!(out.get("user-agent").map(|value| value.as_bytes()), Some(&b"curl"[..]));
        assert_eq!(out.get("x-forwarded-for").map(|value| value.as_bytes()), Some(&b"198.51.100.1,192.0.2.2"[..]));
        assert_eq!(
            out.get("via").map(|value| value.as_bytes()),
            Some(&b"1.1 e1.cloudfront.localhost (CloudFront)"[..])
        );
        let uncached = origin_headers(&viewer, &custom, &Hop { cacheable: false, ..hop() });
        assert!(
            uncached.contains_key("if-none-match"),
            "an uncached request's preconditions are the origin's to judge"
        );
    }

    #[test]
    fn without_an_origin_request_policy_only_the_key_goes() {
        let viewer = map(&[("host", "cdn.example"), ("x-test", "1"), ("x-device", "tv"), ("user-agent", "curl")]);
        let s3 = behavior(
            spec(Selection::None, &["x-device"], Selection::None, true, false),
            HeaderSelection::None,
            OriginKind::S3 { bucket: "b".into(), origin_access_control: false },
        );
        let out = origin_headers(&viewer, &s3, &hop());
        assert!(!out.contains_key("host"), "S3 gets its own domain");
        assert!(!out.contains_key("x-test"));
        assert_eq!(out.get("x-device").map(|value| value.as_bytes()), Some(&b"tv"[..]));
        assert_eq!(out.get("user-agent").map(|value| value.as_bytes()), Some(&b"Amazon CloudFront"[..]));
        assert!(!out.contains_key("accept-encoding"), "a viewer that accepts neither gets identity");
    }
}
