//! What the viewer tests run: the viewer path on a loopback port over a
//! hand-built distribution, and an origin that writes exactly the bytes a
//! test gives it (well-formed or not) and counts what reaches it.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use http::Method;
use nubo_cdn::{
    Config,
    origin::Origins,
    site::{
        Behavior, CacheKeySpec, CachePolicy, ErrorResponse, HeaderSelection, Origin, OriginKind, OriginRequestPolicy,
        Selection, Site, ViewerProtocol,
    },
    sites::Sites,
    tiers::Tiers,
    viewer,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// A request as the origin saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(candidate, _)| candidate.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// What the origin answers: raw bytes, after a delay, then maybe closing.
#[derive(Debug, Clone)]
pub struct Answer {
    pub raw: Vec<u8>,
    pub delay: Duration,
    pub close: bool,
}

impl Answer {
    /// A well-formed response with a `Content-Length`.
    pub fn new(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let mut raw = format!("HTTP/1.1 {status} Status\r\n").into_bytes();
        for (name, value) in headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        raw.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        raw.extend_from_slice(body);
        Self { raw, delay: Duration::ZERO, close: false }
    }

    /// Exactly these bytes, then the connection closes.
    pub fn raw(bytes: &[u8]) -> Self {
        Self { raw: bytes.to_vec(), delay: Duration::ZERO, close: true }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

#[derive(Default)]
struct OriginState {
    handlers: HashMap<String, Handler>,
    seen: Vec<Seen>,
}

/// An HTTP/1.1 origin on a free loopback port, written by hand so a test
/// can make it send anything. Stops when dropped.
pub struct RawOrigin {
    pub address: SocketAddr,
    state: Arc<Mutex<OriginState>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawOrigin {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the origin");
        let address = listener.local_addr().expect("the origin's address");
        let state = Arc::new(Mutex::new(OriginState::default()));
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                tokio::spawn(connection(stream, serving.clone()));
            }
        });
        Self { address, state, task }
    }

    /// Answers `path` with what `handler` makes of each request.
    pub fn route(&self, path: &str, handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) {
        self.state.lock().expect("origin state").handlers.insert(path.to_owned(), Arc::new(handler));
    }

    /// Answers `path` with `answer` every time.
    pub fn set(&self, path: &str, answer: Answer) {
        self.route(path, move |_| answer.clone());
    }

    /// How many requests for `path` arrived.
    pub fn hits(&self, path: &str) -> usize {
        self.state.lock().expect("origin state").seen.iter().filter(|seen| seen.path == path).count()
    }

    /// The requests for `path`, in order.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state.lock().expect("origin state").seen.iter().filter(|seen| seen.path == path).cloned().collect()
    }
}

impl Drop for RawOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection(mut stream: tokio::net::TcpStream, state: Arc<Mutex<OriginState>>) {
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break at;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        while buffer.len() < length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        }
        let body: Vec<u8> = buffer.drain(..length).collect();
        let seen = Seen { method, path: path.to_owned(), query: query.to_owned(), headers, body };
        let handler = {
            let mut state = state.lock().expect("origin state");
            state.seen.push(seen.clone());
            state.handlers.get(&seen.path).cloned()
        };
        let answer = match handler {
            Some(handler) => handler(&seen),
            None => Answer::new(404, &[("content-type", "text/plain")], b"no such thing at the origin"),
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        if stream.write_all(&answer.raw).await.is_err() || answer.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A distribution over `origin` answering at `127.0.0.1`: one default
/// behavior with the `UseOriginCacheControlHeaders` TTLs (0, 0, a year),
/// the whole query in the key, every viewer header forwarded.
pub fn site(origin: SocketAddr) -> Site {
    Site {
        id: "E2TESTDIST0001".into(),
        domain_name: "e2testdist0001.cloudfront.localhost".into(),
        aliases: vec!["127.0.0.1".into(), "localhost".into()],
        enabled: true,
        default_root_object: Some("index.html".into()),
        behaviors: vec![behavior(origin)],
        error_responses: HashMap::new(),
        logging: None,
        version: 1,
    }
}

pub fn behavior(origin: SocketAddr) -> Behavior {
    Behavior {
        path_pattern: None,
        origin: Arc::new(Origin {
            id: "origin".into(),
            kind: OriginKind::Custom,
            base_url: format!("http://{origin}"),
            host: origin.ip().to_string(),
            origin_path: String::new(),
            custom_headers: vec![],
            connection_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(5),
            connection_attempts: 1,
        }),
        viewer_protocol: ViewerProtocol::AllowAll,
        allowed_methods: vec![
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PUT,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ],
        cached_methods: vec![Method::GET, Method::HEAD],
        compress: false,
        cache: CachePolicy {
            id: Some("83da9c7e-98b4-4e11-a168-04f0df8e2c65".into()),
            min_ttl: Duration::ZERO,
            default_ttl: Duration::ZERO,
            max_ttl: Duration::from_secs(31_536_000),
            key: CacheKeySpec {
                query_strings: Selection::All,
                headers: vec![],
                cookies: Selection::None,
                gzip: false,
                brotli: false,
            },
        },
        forward: OriginRequestPolicy {
            id: Some("216adef6-5c7f-47e4-b989-5492eafa07d3".into()),
            query_strings: Selection::All,
            headers: HeaderSelection::AllViewer,
            cookies: Selection::All,
        },
        response_headers: None,
        trusted_keys: None,
    }
}

/// `ErrorCachingMinTTL` `ttl` for `status`, with a page and a status to
/// answer with if given.
pub fn error_response(page: Option<&str>, code: Option<u16>, ttl: u64) -> ErrorResponse {
    ErrorResponse {
        response_page_path: page.map(str::to_owned),
        response_code: code,
        error_caching_min_ttl: Duration::from_secs(ttl),
    }
}

/// The viewer path on a free loopback port. Stops when dropped.
pub struct Edge {
    pub address: SocketAddr,
    pub sites: Sites,
    pub tiers: Tiers,
    handle: actix_web::dev::ServerHandle,
}

impl Edge {
    pub async fn start(site: Site) -> Self {
        Self::start_with(site, Config::default()).await
    }

    pub async fn start_with(site: Site, config: Config) -> Self {
        let sites = Sites::default();
        sites.upsert(Arc::new(site));
        let tiers = Tiers::new(config.memory_bytes, None);
        let state = viewer::State::new(config, sites.clone(), tiers.clone(), Origins::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the viewer port");
        let address = listener.local_addr().expect("the viewer's address");
        let server = viewer::listen(state, listener, 2).expect("listen");
        let handle = server.handle();
        tokio::spawn(server);
        Self { address, sites, tiers, handle }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// A client that never pools, follows redirects or uses a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("a client")
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
}
