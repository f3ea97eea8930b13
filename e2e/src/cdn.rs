//! What the cdn suites and benchmark run beside nubo: an HTTP origin that
//! counts what reaches it, and the Debian servers they compare with or
//! depend on (redis-server, varnishd), each started on a free loopback
//! port and stopped on drop.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;

use crate::free_port;

/// The responses an [`Origin`] serves, by path.
#[derive(Debug, Clone)]
pub struct Resource {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Waited before answering (to hold concurrent misses in flight).
    pub delay: Duration,
}

impl Resource {
    /// A 200 with `Cache-Control: max-age={max_age}`, an ETag and a
    /// `Last-Modified`.
    pub fn cacheable(content_type: &str, body: impl Into<Bytes>, max_age: u64) -> Self {
        let body = body.into();
        let etag = format!("\"{:x}\"", body.len() * 31 + body.first().copied().unwrap_or(0) as usize);
        Self {
            status: 200,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("cache-control".into(), format!("max-age={max_age}")),
                ("etag".into(), etag),
                ("last-modified".into(), "Tue, 01 Dec 2026 00:00:00 GMT".into()),
            ],
            body,
            delay: Duration::ZERO,
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct OriginState {
    resources: HashMap<String, Resource>,
    /// Requests that reached the origin, by path (query removed).
    hits: HashMap<String, u64>,
    /// The last request's headers, by path.
    last_headers: HashMap<String, Vec<(String, String)>>,
}

/// An HTTP/1.1 origin on a free loopback port: serves its [`Resource`]s,
/// answers `/echo*` with the query string it got, counts every request by
/// path. Stops when dropped.
pub struct Origin {
    pub address: SocketAddr,
    state: Arc<Mutex<OriginState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    pub async fn start(resources: impl IntoIterator<Item = (&'static str, Resource)>) -> Self {
        let state = Arc::new(Mutex::new(OriginState {
            resources: resources.into_iter().map(|(path, resource)| (path.to_owned(), resource)).collect(),
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the origin");
        let address = listener.local_addr().expect("the origin's address");
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(state.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { address, state, task }
    }

    /// `127.0.0.1`, the host an origin domain name is given as.
    pub fn host(&self) -> String {
        self.address.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// How many requests for `path` reached the origin.
    pub fn hits(&self, path: &str) -> u64 {
        self.state.lock().expect("origin state").hits.get(path).copied().unwrap_or(0)
    }

    /// The headers of the last request for `path`.
    pub fn last_headers(&self, path: &str) -> Vec<(String, String)> {
        self.state.lock().expect("origin state").last_headers.get(path).cloned().unwrap_or_default()
    }

    /// Serves `resource` at `path` from now on.
    pub fn set(&self, path: &str, resource: Resource) {
        self.state.lock().expect("origin state").resources.insert(path.to_owned(), resource);
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    state: Arc<Mutex<OriginState>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let resource = {
        let mut state = state.lock().expect("origin state");
        *state.hits.entry(path.clone()).or_default() += 1;
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        state.last_headers.insert(path.clone(), headers);
        state.resources.get(&path).cloned()
    };
    let resource = match resource {
        Some(resource) => resource,
        None if path.starts_with("/echo") => Resource::cacheable("text/plain", format!("query={query}"), 300),
        None => Resource {
            status: 404,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Bytes::from_static(b"not found at the origin"),
            delay: Duration::ZERO,
        },
    };
    if !resource.delay.is_zero() {
        tokio::time::sleep(resource.delay).await;
    }
    let mut response = Response::builder().status(resource.status);
    for (name, value) in &resource.headers {
        response = response.header(name, value);
    }
    let body = if request.method() == hyper::Method::HEAD { Bytes::new() } else { resource.body };
    Ok(response.body(Full::new(body)).expect("a valid response"))
}

/// `redis-server` on a free loopback port, without persistence, in its
/// own directory. Stops when dropped.
pub struct Redis {
    pub port: u16,
    process: Daemon,
    directory: PathBuf,
}

impl Redis {
    pub fn start(directory: &Path) -> Self {
        Self::start_on(directory, free_port())
    }

    /// Starts on `port` (again, after [`Redis::stop`]).
    pub fn start_on(directory: &Path, port: u16) -> Self {
        std::fs::create_dir_all(directory).expect("the redis directory");
        let binary = which("redis-server").expect("redis-server (Debian: redis-server) is needed");
        let port_text = port.to_string();
        let dir_text = directory.to_string_lossy().into_owned();
        let args = [
            binary.to_str().expect("a utf-8 path"),
            "--port",
            &port_text,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_text,
        ];
        let process = Daemon::spawn(&args, directory.join("redis.log"));
        let redis = Self { port, process, directory: directory.to_owned() };
        redis.wait_ready();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read as _, Write as _};
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                if stream.write_all(b"PING\r\n").is_ok() {
                    let mut reply = [0u8; 7];
                    if stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n" {
                        return;
                    }
                }
            }
            // A start-up wait on a child process, before any request runs.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not answer on {}: {}", self.port, self.process.log());
    }

    /// Stops the server (its data is gone: it keeps none on disk).
    pub fn stop(mut self) -> (PathBuf, u16) {
        self.process.stop();
        (self.directory.clone(), self.port)
    }
}

/// `varnishd` in the foreground on a free loopback port with `backend` as
/// its only backend, a malloc store and its default VCL (which caches by
/// `Cache-Control`). Stops when dropped.
pub struct Varnish {
    pub port: u16,
    _process: Daemon,
}

impl Varnish {
    pub fn start(directory: &Path, backend: SocketAddr) -> Self {
        std::fs::create_dir_all(directory).expect("the varnish directory");
        let binary = which("varnishd").expect("varnishd (Debian: varnish) is needed");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let backend = backend.to_string();
        let work = directory.join("work");
        let work_text = work.to_string_lossy().into_owned();
        let args = [
            binary.to_str().expect("a utf-8 path"),
            "-F",
            "-a",
            &listen,
            "-b",
            &backend,
            "-n",
            &work_text,
            "-s",
            "malloc,256m",
            "-T",
            "none",
        ];
        let process = Daemon::spawn(&args, directory.join("varnish.log"));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "varnishd did not listen: {}", process.log());
            // A start-up wait on a child process, before any request runs.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { port, _process: process }
    }
}

/// A program on the PATH or in the system directories Debian installs
/// servers to.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|directory| Path::new(directory).join(program))
        .find(|candidate| candidate.is_file())
}

/// A server program started with its output in `log`, killed when dropped.
pub struct Daemon {
    child: std::process::Child,
    log: PathBuf,
}

impl Daemon {
    /// Runs `args[0]` with the rest as arguments.
    pub fn spawn(args: &[&str], log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("a log file");
        let child = std::process::Command::new(args[0])
            .args(&args[1..])
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().expect("a log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("{} starts: {error}", args[0]));
        Self { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the program and reaps it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
