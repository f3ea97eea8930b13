//! The cache-tests suite (http-tests/cache-tests, the suite behind
//! cache-tests.fyi) against a nubo distribution whose origin is the
//! suite's own server, scored beside the published results of the other
//! caches by `e2e/cache-tests/score.mjs`.
//!
//! The suite is BSD-3-Clause and is not part of this repository: it is
//! read from `$CACHE_TESTS` (a checkout; by default `../shared/cache-tests`
//! beside the workspace), copied to a temporary directory, and its
//! dependencies installed there with `npm install`. Its results are
//! written to `target/cache-tests/nubo.json`.
//!
//! Run with `make cache-tests` (it needs node and npm).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use nubo_e2e::cdn::Daemon;

/// The managed policies the suite runs under, by their AWS ids: origin
/// `Cache-Control` with no TTL of CloudFront's own, and every viewer field
/// forwarded.
const USE_ORIGIN_CACHE_CONTROL_HEADERS: &str = "83da9c7e-98b4-4e11-a168-04f0df8e2c65";
const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

/// The error codes CloudFront's `CustomErrorResponses` take; each gets an
/// `ErrorCachingMinTTL` of 0 so errors are cached as RFC 9111 says.
const ERROR_CODES: [u16; 11] = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/// A distribution serving the suite, and what keeps it up.
struct Distribution {
    /// Where the suite's client sends its requests (no trailing slash).
    base_url: String,
    _server: Server,
}

struct Server(actix_web::dev::ServerHandle);

impl Drop for Server {
    fn drop(&mut self) {
        let handle = self.0.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// Sets up the distribution the suite runs against: a custom origin at
/// `origin`, the `UseOriginCacheControlHeaders` cache policy, the
/// `AllViewer` origin request policy, every method allowed, GET and HEAD
/// cached, and `ErrorCachingMinTTL` 0 for every error code.
///
/// This is the one function that knows how: today it serves the viewer
/// path in-process over the compiled distribution; with the CloudFront
/// API it becomes a `CreateDistribution` through `aws-sdk-cloudfront`
/// against a running nubo, and `base_url` its `DomainName`'s port.
async fn distribution(origin: SocketAddr) -> Distribution {
    use http::Method;
    use nubo_cdn::site::*;
    let behavior = Behavior {
        path_pattern: None,
        origin: Arc::new(Origin {
            id: "cache-tests".into(),
            kind: OriginKind::Custom,
            base_url: format!("http://{origin}"),
            host: origin.ip().to_string(),
            origin_path: String::new(),
            custom_headers: vec![],
            connection_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            connection_attempts: 3,
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
            id: Some(USE_ORIGIN_CACHE_CONTROL_HEADERS.into()),
            min_ttl: Duration::ZERO,
            default_ttl: Duration::ZERO,
            max_ttl: Duration::from_secs(31_536_000),
            key: CacheKeySpec {
                query_strings: Selection::None,
                headers: ["host", "origin", "x-http-method-override", "x-http-method", "x-method-override"]
                    .map(String::from)
                    .to_vec(),
                cookies: Selection::All,
                gzip: true,
                brotli: true,
            },
        },
        forward: OriginRequestPolicy {
            id: Some(ALL_VIEWER.into()),
            query_strings: Selection::All,
            headers: HeaderSelection::AllViewer,
            cookies: Selection::All,
        },
        response_headers: None,
        trusted_keys: None,
    };
    let error_responses = ERROR_CODES
        .into_iter()
        .map(|code| {
            (
                code,
                ErrorResponse { response_page_path: None, response_code: None, error_caching_min_ttl: Duration::ZERO },
            )
        })
        .collect();
    let site = Site {
        id: "E3CACHETESTS01".into(),
        domain_name: "e3cachetests01.cloudfront.localhost".into(),
        aliases: vec!["127.0.0.1".into(), "localhost".into()],
        enabled: true,
        default_root_object: None,
        behaviors: vec![behavior],
        error_responses,
        logging: None,
        version: 1,
    };
    let config = nubo_cdn::Config::default();
    let sites = nubo_cdn::sites::Sites::default();
    sites.upsert(Arc::new(site));
    let tiers = nubo_cdn::tiers::Tiers::new(config.memory_bytes, None);
    let state = nubo_cdn::viewer::State::new(config, sites, tiers, nubo_cdn::origin::Origins::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the viewer port");
    let address = listener.local_addr().expect("the viewer's address");
    let server = nubo_cdn::viewer::listen(state, listener, 2).expect("serve viewers");
    let handle = server.handle();
    tokio::spawn(server);
    Distribution { base_url: format!("http://{address}"), _server: Server(handle) }
}

/// The suite's checkout.
fn suite_source() -> PathBuf {
    match std::env::var_os("CACHE_TESTS") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cache-tests"),
    }
}

/// Copies the suite (without any `node_modules`) and installs its
/// dependencies in the copy.
fn suite_copy(into: &Path) -> PathBuf {
    let source = suite_source();
    assert!(
        source.join("tests/index.mjs").is_file(),
        "no cache-tests checkout at {}: set CACHE_TESTS",
        source.display()
    );
    let copy = into.join("cache-tests");
    copy_tree(&source, &copy);
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"])
        .current_dir(&copy)
        .status()
        .expect("npm (Debian: npm) is needed");
    assert!(status.success(), "npm install in the suite's copy failed");
    copy
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("the suite's directory") {
        let entry = entry.expect("an entry");
        let name = entry.file_name();
        if name == "node_modules" || name == ".git" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copy");
        }
    }
}

/// The suite's origin server on a free port.
async fn start_suite_server(suite: &Path, logs: &Path) -> (Daemon, SocketAddr) {
    let port = nubo_e2e::free_port();
    let pidfile = logs.join("server.pid");
    let script = suite.join("test-engine/server/server.mjs");
    let script = script.to_str().expect("a utf-8 path");
    let command = format!(
        "cd '{}' && npm_config_protocol=http npm_config_port={port} npm_config_pidfile='{}' exec node {script}",
        suite.display(),
        pidfile.display()
    );
    let server = Daemon::spawn(&["/bin/sh", "-c", &command], logs.join("server.log"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the suite's server did not listen: {}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, SocketAddr::from(([127, 0, 0, 1], port)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the cache-tests suite: needs node and npm (make cache-tests)"]
async fn cache_tests_suite() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let suite = suite_copy(work.path());
    let (_server, origin) = start_suite_server(&suite, work.path()).await;
    let distribution = distribution(origin).await;

    // `CACHE_TESTS_ID=test-id` runs one test and shows its exchanges.
    let only = std::env::var("CACHE_TESTS_ID").unwrap_or_default();
    let suite_for_client = suite.clone();
    let base_url = distribution.base_url.clone();
    let one = only.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--no-warnings", "test-engine/cli.mjs"])
            .env("npm_config_base", &base_url)
            // The client reads its options as npm passes them; an empty id
            // runs every test.
            .env("npm_config_id", &one)
            .env("npm_package_config_id", &one)
            .current_dir(&suite_for_client)
            .stderr(Stdio::inherit())
            .output()
            .expect("node runs the suite's client")
    })
    .await
    .expect("the client's thread");
    assert!(output.status.success(), "the suite's client failed");
    if !only.is_empty() {
        println!("{}", String::from_utf8_lossy(&output.stdout));
        return;
    }

    let results_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/cache-tests");
    std::fs::create_dir_all(&results_dir).expect("the results directory");
    let results = results_dir.join("nubo.json");
    std::fs::write(&results, &output.stdout).expect("the results");

    let scorer = Path::new(env!("CARGO_MANIFEST_DIR")).join("cache-tests/score.mjs");
    let scored = Command::new("node")
        .arg(&scorer)
        .arg(&suite)
        .arg(&results)
        .args(["--failures", "--check"])
        .output()
        .expect("node runs the scorer");
    let report = String::from_utf8_lossy(&scored.stdout);
    println!("{report}");
    std::fs::write(results_dir.join("score.txt"), report.as_bytes()).expect("the score");
    assert!(scored.status.success(), "nubo does not pass more tests than every published cache:\n{report}");
}
