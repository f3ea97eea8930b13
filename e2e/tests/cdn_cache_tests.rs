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
//! Part of `make test`; `make cache-tests` runs it alone and prints the
//! score.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
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

/// A distribution serving the suite, and the nubo that serves it.
struct Distribution {
    /// Where the suite's client sends its requests (no trailing slash).
    base_url: String,
    _nubo: nubo_e2e::Nubo,
}

/// Sets up the distribution the suite runs against, through the CloudFront
/// API of a `nubo up`, as a user would: a custom origin at `origin`, the
/// `UseOriginCacheControlHeaders` cache policy, the `AllViewer` origin
/// request policy, every method allowed, GET and HEAD cached, and
/// `ErrorCachingMinTTL` 0 for every error code. `localhost` is its alias,
/// so the suite's client reaches it by name without DNS.
async fn distribution(origin: SocketAddr, state: &Path) -> Distribution {
    use aws_sdk_cloudfront::types::{AllowedMethods, CachedMethods, Method};
    use nubo_e2e::cloudfront::{create, distribution as config, error_responses, http_origin};
    let nubo = nubo_e2e::Nubo::up(state).await;
    let cloudfront = nubo_e2e::cloudfront_client(&nubo.edge_url());
    let mut suite_origin = http_origin("cache-tests", &origin.ip().to_string(), origin.port());
    if let Some(custom) = suite_origin.custom_origin_config.as_mut() {
        custom.origin_read_timeout = Some(30);
    }
    let all = [Method::Get, Method::Head, Method::Options, Method::Put, Method::Post, Method::Patch, Method::Delete];
    let cached = CachedMethods::builder().quantity(2).items(Method::Get).items(Method::Head).build().unwrap();
    let behavior = aws_sdk_cloudfront::types::DefaultCacheBehavior::builder()
        .target_origin_id("cache-tests")
        .viewer_protocol_policy(aws_sdk_cloudfront::types::ViewerProtocolPolicy::AllowAll)
        .cache_policy_id(USE_ORIGIN_CACHE_CONTROL_HEADERS)
        .origin_request_policy_id(ALL_VIEWER)
        .compress(false)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(all.len() as i32)
                .set_items(Some(all.to_vec()))
                .cached_methods(cached)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let codes: Vec<i32> = ERROR_CODES.iter().map(|code| i32::from(*code)).collect();
    let config = config("cache-tests", vec![suite_origin], behavior, vec![], &["localhost"])
        .custom_error_responses(error_responses(&codes, None, None, 0))
        .build()
        .unwrap();
    create(&cloudfront, config).await;
    let port = nubo.http_url(nubo_e2e::ServiceName::Cdn).rsplit(':').next().unwrap().to_owned();
    Distribution { base_url: format!("http://localhost:{port}"), _nubo: nubo }
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
async fn cache_tests_suite() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let suite = suite_copy(work.path());
    let (_server, origin) = start_suite_server(&suite, work.path()).await;
    let distribution = distribution(origin, &work.path().join("nubo")).await;

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
