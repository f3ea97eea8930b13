//! Every parser the cdn applies to what a viewer sends, on arbitrary
//! bytes: none may panic.
//!
//! The input is read as lines (lossy UTF-8): a viewer URL's scheme, host,
//! path and query, a `Cookie` header, a client address, then `name: value`
//! request headers, an empty line, and `name: value` headers of an origin's
//! response. The fixed key ids are the ones a signed URL must name to get
//! past the key lookup to the policy and signature checks.
#![no_main]

use std::{
    collections::HashMap,
    sync::OnceLock,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use nubo_cdn::{
    compress, response_headers,
    signed::{self, ViewerUrl},
    site::{self, Cors, ResponseHeadersPolicy, TrustedKeys},
};

const PUBLIC_KEY: &[u8] = include_bytes!("../../src/testdata/cloudfront-signer.spki.der");

fn trusted() -> &'static TrustedKeys {
    static KEYS: OnceLock<TrustedKeys> = OnceLock::new();
    KEYS.get_or_init(|| TrustedKeys {
        keys: HashMap::from([
            ("K2JCJMDEHXQW5F".to_owned(), PUBLIC_KEY.to_vec()),
            ("K".to_owned(), PUBLIC_KEY.to_vec()),
        ]),
    })
}

/// A policy with every CORS path live: credentials (so origins are
/// echoed), a wildcard origin, `*` headers, Server-Timing always.
fn policy() -> &'static ResponseHeadersPolicy {
    static POLICY: OnceLock<ResponseHeadersPolicy> = OnceLock::new();
    POLICY.get_or_init(|| ResponseHeadersPolicy {
        id: "fuzz".into(),
        cors: Some(Cors {
            allow_origins: vec!["https://*.example.org".into(), "app.example".into()],
            allow_headers: vec!["*".into()],
            allow_methods: vec!["ALL".into()],
            expose_headers: vec!["ETag".into()],
            allow_credentials: true,
            max_age: Some(600),
            origin_override: false,
        }),
        headers: vec![("x-frame-options".into(), "DENY".into(), false)],
        remove: vec!["server".into(), "x-powered-by".into()],
        server_timing: Some(100.0),
    })
}

fn headers(lines: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
        {
            map.append(name, value);
        }
    }
    map
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let field = |index: usize| lines.get(index).copied().unwrap_or("");

    // Signed URLs and cookies, canned and custom policies.
    let url = ViewerUrl { scheme: field(0), host: field(1), path: field(2), query: field(3) };
    let cookies = lines.get(4).copied();
    let client_ip = field(5).parse().ok();
    let now = UNIX_EPOCH + Duration::from_secs(1_893_456_000);
    let _ = signed::check(trusted(), &url, cookies, client_ip, now);
    let _ = signed::check(trusted(), &url, cookies, client_ip, SystemTime::UNIX_EPOCH);
    let stripped = signed::strip_signing_parameters(url.query);
    assert!(stripped.len() <= url.query.len(), "stripping never adds");

    // Behavior path patterns against a viewer's path.
    let _ = site::path_matches(field(1), field(2));

    // Response headers policies read the viewer's Origin, Pragma and
    // Access-Control-Request-* headers, and the origin's response.
    let rest = lines.get(6..).unwrap_or(&[]);
    let split = rest.iter().position(|line| line.is_empty()).unwrap_or(rest.len());
    let request = headers(&rest[..split]);
    let origin_response = headers(rest.get(split + 1..).unwrap_or(&[]));
    let mut response = origin_response.clone();
    response.insert("x-cache", HeaderValue::from_static("Miss from cloudfront"));
    response_headers::apply(policy(), &request, &mut response);
    let _ = response_headers::preflight(policy(), &Method::OPTIONS, &request);

    // Accept-Encoding, against the origin's Content-Type, Content-Length,
    // Content-Encoding, Cache-Control and ETag.
    let _ = compress::normalize_accept_encoding(&request);
    for (gzip, brotli) in [(true, false), (false, true)] {
        let _ = compress::normalize_for(&request, gzip, brotli);
    }
    let coding = compress::choose(&request, &origin_response, None);
    let _ = compress::choose_among(&request, &origin_response, Some(data.len() as u64), false);
    if let Some(coding) = coding {
        let mut marked = origin_response.clone();
        compress::mark_compressed(&mut marked, coding, data.len());
        assert!(marked.contains_key(http::header::CONTENT_ENCODING));
    }

    for value in request.values().chain(origin_response.values()).filter_map(|value| value.to_str().ok()) {
        cache_control(value);
        range(value);
    }
});

/// `Cache-Control` and `CDN-Cache-Control` from origins, and the viewer's
/// `Cache-Control`, parsed as the cache reads them.
fn cache_control(value: &str) {
    let Ok(value) = http::HeaderValue::from_str(value) else { return };
    let mut headers = http::HeaderMap::new();
    headers.insert("cache-control", value.clone());
    let _ = nubo_cdn::http_cache::control::Directives::parse(&headers);
    headers.insert("cdn-cache-control", value);
    let _ = nubo_cdn::http_cache::control::Directives::for_cdn(&headers);
}

/// The viewer's `Range` header and an origin's `Content-Range`: whatever
/// parses must resolve, against any length, to ranges inside it.
fn range(value: &str) {
    use nubo_cdn::http_cache::range;
    if let Some(specs) = range::parse(value) {
        for length in [0, 1, 10, u64::MAX] {
            if let range::Resolved::Ranges(ranges) = range::resolve(&specs, length) {
                for (first, last) in ranges {
                    assert!(first <= last && last < length, "{value}: {first}-{last} of {length}");
                }
            }
        }
    }
    let _ = range::parse_content_range(value);
}
