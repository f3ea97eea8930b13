//! The viewer request path: a request finds its distribution by `Host`,
//! its cache behavior by path, passes the behavior's gates (viewer
//! protocol, methods, signed URLs or cookies), and is answered from the
//! cache or the origin ([`fetch`]), with CloudFront's fields on every
//! answer ([`respond`]).
//!
//! The cache's rules are `crate::http_cache`'s; this module applies them
//! with I/O: the tiers, single flight (`crate::coalesce`), the origin
//! (`crate::origin`), compression and response headers policies.

mod fetch;
pub mod key;
pub mod respond;

use std::{net::IpAddr, sync::Arc, time::SystemTime};

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method};

use crate::{
    Config,
    access_log::{AccessLog, EdgeResult, LogLine},
    coalesce::Flights,
    http_cache::{
        hop, range,
        status::{CacheStatus, Forward},
    },
    origin::Origins,
    response_headers,
    signed::{self, ViewerUrl},
    site::{Site, ViewerProtocol},
    sites::Sites,
    stats::{Outcome, Stats},
    tiers::{Entry, Key, Tiers},
};
use respond::{Reply, Stamp, XCache};

/// CloudFront's limits on a viewer request: its head (request line and
/// fields) and its URL.
pub const MAX_REQUEST_HEAD_BYTES: usize = 20_480;
pub const MAX_URL_BYTES: usize = 8_192;

/// What the viewer path shares; cheap to clone.
#[derive(Clone)]
pub struct State {
    pub sites: Sites,
    pub tiers: Tiers,
    pub flights: Flights<Key, Arc<Entry>>,
    pub origins: Origins,
    pub config: Arc<Config>,
    /// Per-distribution metrics, counted once per response.
    pub stats: Stats,
    /// Standard access logs, one line per response.
    pub access_log: AccessLog,
}

impl State {
    /// A viewer path with fresh metrics and no access logs; set `stats`
    /// and `access_log` to the service's own.
    pub fn new(config: Config, sites: Sites, tiers: Tiers, origins: Origins) -> Self {
        Self {
            sites,
            tiers,
            flights: Flights::new(),
            origins,
            config: Arc::new(config),
            stats: Stats::new(),
            access_log: AccessLog::disabled(),
        }
    }
}

/// A viewer's request as the cache reads it, in `http`'s types.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub method: Method,
    /// The request's fields, hop-by-hop ones removed.
    pub headers: HeaderMap,
    /// The fields `Vary` is matched against: `headers` with the normalized
    /// `Accept-Encoding` when the cache key has it.
    pub presented: HeaderMap,
    /// `Host`, as sent.
    pub host: String,
    /// The path served (the default root object in place of `/`), with
    /// its leading `/`, still percent-encoded.
    pub path: String,
    /// The query without its `?` or CloudFront's signing parameters.
    pub query: String,
    pub client_ip: Option<IpAddr>,
    /// `X-Amz-Cf-Id`.
    pub request_id: String,
    /// The ranges of a `GET`'s valid `Range`.
    pub ranges: Option<Vec<range::Spec>>,
    /// Made by the cdn itself (a custom error page's fetch): custom error
    /// responses do not apply to it again.
    pub internal: bool,
}

/// Serves viewers on `listener` with `workers` threads, outside the
/// service's own server: for tests and harnesses that drive the viewer
/// path over a hand-built distribution. Stop it with its handle.
pub fn listen(
    state: State,
    listener: std::net::TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let server = actix_web::HttpServer::new(move || {
        let state = state.clone();
        actix_web::App::new().default_service(web::to(move |request: HttpRequest, body: web::Payload| {
            let state = state.clone();
            async move { handle(&state, request, body).await }
        }))
    })
    .workers(workers.max(1))
    .tcp_nodelay(true)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Serves one viewer request.
pub async fn handle(state: &State, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let request_id = request_id();
    let host = req.headers().get("host").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let Some(site) = state.sites.find(&host) else {
        let mut reply = respond::generated(
            403,
            "Bad request. We can't connect to the server for this app or website at this time.",
            CacheStatus::default(),
        );
        respond::stamp(&mut reply, &Stamp { domain_name: "cloudfront.localhost", request_id: &request_id });
        return respond::render(reply);
    };
    let started = std::time::Instant::now();
    let done = Done { state, site: &site, req: &req, request_id: &request_id, started };
    let finish = |reply: Reply| done.finish(reply, None, None);
    if !site.enabled {
        return finish(respond::generated(403, "This distribution is disabled.", CacheStatus::default()));
    }
    let head_bytes: usize = req.uri().to_string().len()
        + req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>();
    if head_bytes > MAX_REQUEST_HEAD_BYTES || req.uri().to_string().len() > MAX_URL_BYTES {
        return finish(respond::generated(413, "The request is too large.", CacheStatus::default()));
    }
    let Ok(method) = Method::from_bytes(req.method().as_str().as_bytes()) else {
        return finish(respond::generated(400, "The request method is not valid.", CacheStatus::default()));
    };
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            headers.append(name, value);
        }
    }
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() != "0");
    hop::strip(&mut headers);

    let raw_path = req.uri().path();
    if has_dot_segment(raw_path) {
        // The origin's URL parser would resolve `..` after the behavior,
        // the signature and the origin path were chosen for the raw path.
        return finish(respond::generated(400, "The request path has a dot segment.", CacheStatus::default()));
    }
    let path = match (&site.default_root_object, raw_path) {
        (Some(object), "/") => format!("/{object}"),
        _ => raw_path.to_owned(),
    };
    let index = behavior_index(&site, &path);
    let behavior = &site.behaviors[index];

    let scheme = crate::tls::viewer_scheme(&req);
    if scheme == "http" {
        match behavior.viewer_protocol {
            ViewerProtocol::AllowAll => {}
            ViewerProtocol::RedirectToHttps => return finish(redirect_to_https(&host, state.config.https_port, &req)),
            ViewerProtocol::HttpsOnly => {
                return finish(respond::generated(403, "This distribution only serves HTTPS.", CacheStatus::default()));
            }
        }
    }
    if !allows(&behavior.allowed_methods, &method) {
        return finish(respond::generated(
            403,
            "This distribution is not configured to allow the HTTP request method that was used for this request.",
            CacheStatus::default(),
        ));
    }
    if method == Method::GET && has_body {
        return finish(respond::generated(403, "A GET request cannot carry a body.", CacheStatus::default()));
    }

    let client_ip = req.peer_addr().map(|address| address.ip());
    let mut query = req.uri().query().unwrap_or_default().to_owned();
    if let Some(trusted) = &behavior.trusted_keys {
        let url = ViewerUrl { scheme, host: &host, path: raw_path, query: &query };
        let cookies = headers.get(http::header::COOKIE).and_then(|value| value.to_str().ok());
        match signed::check(trusted, &url, cookies, client_ip, SystemTime::now()) {
            Ok(granted) => {
                if !granted.strip().is_empty() {
                    query = signed::strip_signing_parameters(&query);
                }
            }
            Err(refusal) => {
                tracing::debug!(distribution = %site.id, reason = %refusal, "signed request refused");
                let mut reply_headers = HeaderMap::new();
                reply_headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
                let reply = Reply {
                    status: refusal.status().as_u16(),
                    headers: reply_headers,
                    body: respond::Body::Bytes(refusal.body().into()),
                    cache: CacheStatus::default(),
                    x_cache: XCache::Error,
                    origin_latency: None,
                };
                return finish(reply);
            }
        }
    }
    if let Some(policy) = &behavior.response_headers
        && let Some(preflight) = response_headers::preflight(policy, &method, &headers)
    {
        let (parts, ()) = preflight.into_parts();
        let reply = Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: respond::Body::Empty,
            cache: CacheStatus::default(),
            x_cache: XCache::Hit,
            origin_latency: None,
        };
        return finish(reply);
    }

    let mut presented = headers.clone();
    if let Some(encoding) = key::normalized_accept_encoding(&headers, &behavior.cache.key) {
        presented.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static(encoding));
    } else if behavior.cache.key.gzip || behavior.cache.key.brotli {
        presented.remove(http::header::ACCEPT_ENCODING);
    }
    let ranges = (method == Method::GET)
        .then(|| headers.get(http::header::RANGE).and_then(|value| value.to_str().ok()).and_then(range::parse))
        .flatten();
    let viewer = Viewer {
        method,
        headers,
        presented,
        host,
        path,
        query,
        client_ip,
        request_id: request_id.clone(),
        ranges,
        internal: false,
    };
    let route = fetch::Route { site: &site, index };
    let reply = if behavior.cached_methods.contains(&viewer.method) {
        fetch::cached(state, route, &viewer).await
    } else {
        fetch::forward(state, route, &viewer, has_body.then_some(body)).await
    };
    done.finish(reply, behavior.response_headers.as_deref(), Some(&viewer.headers))
}

/// What answering a request ends with.
struct Done<'a> {
    state: &'a State,
    site: &'a Site,
    req: &'a HttpRequest,
    request_id: &'a str,
    started: std::time::Instant,
}

impl Done<'_> {
    /// CloudFront's fields, then the response headers policy (which reads
    /// them for `Server-Timing`); the response counted and logged.
    fn finish(
        &self,
        mut reply: Reply,
        policy: Option<&crate::site::ResponseHeadersPolicy>,
        request: Option<&HeaderMap>,
    ) -> HttpResponse {
        let outcome = match reply.x_cache {
            XCache::Hit => Outcome::Hit,
            XCache::RefreshHit => Outcome::RefreshHit,
            XCache::Error => Outcome::Error,
            XCache::Redirect => Outcome::Pass,
            XCache::Miss if matches!(reply.cache.forward, Some(Forward::Method | Forward::Bypass)) => Outcome::Pass,
            XCache::Miss => Outcome::Miss,
        };
        respond::stamp(&mut reply, &Stamp { domain_name: &self.site.domain_name, request_id: self.request_id });
        if let (Some(policy), Some(request)) = (policy, request) {
            response_headers::apply(policy, request, &mut reply.headers);
        }
        let head_bytes: u64 =
            reply.headers.iter().map(|(name, value)| (name.as_str().len() + value.len() + 4) as u64).sum::<u64>() + 17;
        let body_bytes = match &reply.body {
            respond::Body::Bytes(bytes) => Some(bytes.len() as u64),
            respond::Body::Stream { length, .. } => *length,
            respond::Body::Empty | respond::Body::Head(_) => Some(0),
        };
        let sent = head_bytes + body_bytes.unwrap_or(0);
        self.state.stats.record(&self.site.id, outcome, reply.status, sent, reply.origin_latency);
        if self.site.logging.is_some() {
            self.state.access_log.record(self.site, self.log_line(&reply, outcome, sent, body_bytes));
        }
        respond::render(reply)
    }

    fn log_line(&self, reply: &Reply, outcome: Outcome, sent: u64, body_bytes: Option<u64>) -> LogLine {
        let req = self.req;
        let header =
            |name: &str| req.headers().get(name).and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok());
        let received: u64 = req.uri().to_string().len() as u64
            + req.headers().iter().map(|(name, value)| (name.as_str().len() + value.len() + 4) as u64).sum::<u64>();
        let taken = self.started.elapsed();
        let range = reply
            .headers
            .get(http::header::CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .and_then(range::parse_content_range)
            .map(|range| (range.first, range.last));
        LogLine {
            time: SystemTime::now(),
            client: req.peer_addr().unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
            method: Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(Method::GET),
            uri: req.uri().to_string().parse().unwrap_or_default(),
            status: reply.status,
            sc_bytes: sent,
            cs_bytes: received,
            referer: header("referer"),
            user_agent: header("user-agent"),
            cookie: header("cookie"),
            host: header("host"),
            forwarded_for: header("x-forwarded-for"),
            result: if reply.x_cache == XCache::Redirect { EdgeResult::Redirect } else { EdgeResult::from(outcome) },
            response_result: if reply.x_cache == XCache::Redirect {
                EdgeResult::Redirect
            } else {
                EdgeResult::from(outcome)
            },
            detailed_result: reply.cache.detail,
            request_id: self.request_id.to_owned(),
            https: crate::tls::viewer_scheme(req) == "https",
            time_taken: taken,
            time_to_first_byte: taken,
            content_type: reply.headers.get(http::header::CONTENT_TYPE).cloned(),
            content_length: body_bytes,
            range,
            ..LogLine::default()
        }
    }
}

/// The behavior serving `path`, by index.
fn behavior_index(site: &Site, path: &str) -> usize {
    let chosen = site.behavior(path) as *const _;
    site.behaviors
        .iter()
        .position(|behavior| std::ptr::eq(behavior, chosen))
        .unwrap_or(site.behaviors.len().saturating_sub(1))
}

/// Whether a behavior allowing `allowed` takes `method`. One that allows
/// all seven methods CloudFront relays also relays extension methods (a
/// proxy's part), uncached.
fn allows(allowed: &[Method], method: &Method) -> bool {
    if allowed.contains(method) {
        return true;
    }
    let all = [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::POST, Method::PATCH, Method::DELETE];
    let standard = all.contains(method) || *method == Method::TRACE || *method == Method::CONNECT;
    !standard && all.iter().all(|method| allowed.contains(method))
}

/// `redirect-to-https`: 301 to the same URL on the HTTPS listener.
fn redirect_to_https(host: &str, https_port: u16, req: &HttpRequest) -> Reply {
    let name = host_name(host);
    let authority = if https_port == 443 { name.to_owned() } else { format!("{name}:{https_port}") };
    let target = req.uri().path_and_query().map_or("/", |path| path.as_str());
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("https://{authority}{target}")) {
        headers.insert(http::header::LOCATION, location);
    }
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    let body = "<html><head><title>301 Moved Permanently</title></head><body><center><h1>301 Moved Permanently</h1></center><hr><center>CloudFront</center></body></html>";
    Reply {
        status: 301,
        headers,
        body: respond::Body::Bytes(body.into()),
        cache: CacheStatus::default(),
        x_cache: XCache::Redirect,
        origin_latency: None,
    }
}

/// `Host` without its port (`[v6]` keeps its brackets).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// A fresh `X-Amz-Cf-Id`: 56 characters of URL-safe base64, as
/// CloudFront's are.
fn request_id() -> String {
    let bytes: [u8; 40] = rand::random();
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_pass_only_where_every_method_does() {
        let all =
            [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::POST, Method::PATCH, Method::DELETE];
        let search = Method::from_bytes(b"M-SEARCH").unwrap_or(Method::TRACE);
        assert!(allows(&all, &search));
        assert!(!allows(&[Method::GET, Method::HEAD], &search));
        assert!(!allows(&all, &Method::TRACE));
        assert!(!allows(&[Method::GET, Method::HEAD], &Method::POST));
    }

    #[test]
    fn hosts_lose_their_ports() {
        assert_eq!(host_name("e1.cloudfront.localhost:8081"), "e1.cloudfront.localhost");
        assert_eq!(host_name("localhost"), "localhost");
        assert_eq!(host_name("[::1]:8081"), "[::1]");
    }

    #[test]
    fn request_ids_look_like_cloudfront_s() {
        let id = request_id();
        assert_eq!(id.len(), 56);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)));
    }
}

/// Whether `path` has a `.` or `..` segment, spelled plainly or
/// percent-encoded (`%2e`), or a backslash, which URL parsers read as `/`.
fn has_dot_segment(path: &str) -> bool {
    let lowered = path.to_ascii_lowercase().replace("%2e", ".");
    lowered.contains('\\')
        || lowered.contains("%5c")
        || lowered.split('/').any(|segment| segment == "." || segment == "..")
}

#[cfg(test)]
mod dot_segments {
    use super::has_dot_segment;

    #[test]
    fn dot_segments_are_found_in_every_spelling() {
        for path in ["/a/../b", "/..", "/a/./b", "/a/%2e%2E/b", "/a/.%2e/b", "/a/%2e/b", "/a\\..\\b", "/a/%5c../b"] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/", "/a/b", "/a/..b/c", "/a/b.../c", "/file.txt", "/.well-known/x"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }
}
