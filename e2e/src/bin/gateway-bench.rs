//! The gateway benchmark of SPEC §3, against `nubo up`, its references
//! measured in the same run:
//!
//! 1. An HTTP API route to a warm, trivial `provided.al2023` function
//!    (`AWS_PROXY`), against the same bootstrap's Runtime API round trip
//!    driven directly: this process serves a Runtime API of its own
//!    (`/invocation/next`, `/invocation/{id}/response`) to a copy of the
//!    bootstrap, hands it an event and waits for its answer, with nothing
//!    of nubo in between. The difference is what the gateway (and the
//!    functions service behind it) adds. A SigV4-signed `Invoke` on the
//!    Lambda port is shown beside them, to split the two.
//! 2. An `HTTP_PROXY` route to a static upstream (a hyper server in this
//!    process answering `ok`), against nginx (Debian's `nginx-light`, one
//!    worker, keepalive to the upstream) proxying to the same upstream, and
//!    the upstream itself.
//!
//! Latency is one client in a closed loop (reqwest, one request at a time,
//! p50/p99 of every call); throughput is wrk (one thread, `--connections`).
//! It prints requests/s and p50/p99 of each, the added latency and the
//! ratios. `make bench-gateway` builds nubo and this in release mode and
//! runs it. Arguments: `--seconds N` per measurement (default 5),
//! `--connections N` (default 16), `--wrk PATH`, `--nginx PATH`.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aws_sdk_apigatewayv2::types::{IntegrationType, ProtocolType};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use bytes::Bytes;
use nubo_e2e::{Nubo, ROLE, ServiceName, apigateway_client, lambda_client, sigv4_headers};

/// A trivial custom runtime: keeps one connection to the Runtime API and
/// answers every event with a fixed 200.
const BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import http.client, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
connection = http.client.HTTPConnection(host, int(port))
answer = b'{"statusCode":200,"body":"ok"}'
while True:
    connection.request("GET", "/2018-06-01/runtime/invocation/next")
    response = connection.getresponse()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    response.read()
    connection.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=answer)
    connection.getresponse().read()
"#;

const WRK_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("nubo-bench %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

/// One measurement: requests/s, p50 and p99 in ms, errors.
#[derive(Debug, Clone, Copy, Default)]
struct Load {
    per_second: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

impl Load {
    fn row(&self, name: &str) -> String {
        format!("| {name} | {:.0} | {:.3} | {:.3} | {} |", self.per_second, self.p50, self.p99, self.errors)
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// `clients` tasks calling `call` in a closed loop for `seconds`.
async fn run_load<F, Fut>(clients: usize, seconds: u64, call: F) -> Load
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let run = nubo_e2e::load::closed_loop(clients, seconds, call).await;
    Load {
        per_second: run.per_second(),
        p50: percentile(&run.latencies, 0.5),
        p99: percentile(&run.latencies, 0.99),
        errors: run.errors as u64,
    }
}

async fn wrk(wrk: &Path, script: &Path, connections: usize, seconds: u64, url: &str) -> Option<Load> {
    let output = tokio::process::Command::new(wrk)
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "5s", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .await
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|line| line.strip_prefix("nubo-bench "))?;
    let numbers: Vec<f64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let [requests, duration_us, p50, p99, errors] = numbers[..] else { return None };
    Some(Load {
        // Only answered requests count: a refusal (429) is no throughput.
        per_second: (requests - errors).max(0.0) / (duration_us / 1e6),
        p50: p50 / 1000.0,
        p99: p99 / 1000.0,
        errors: errors as u64,
    })
}

/// The static upstream: `ok` to every request, HTTP/1.1 keep-alive.
async fn upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an upstream port");
    let address = listener.local_addr().expect("the upstream address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request: hyper::Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::from_static(b"ok"))))
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    address
}

/// Starts nginx (one worker, no access log, keepalive to the upstream) on
/// `port`, proxying to `upstream`.
fn start_nginx(nginx: &Path, directory: &Path, port: u16, upstream: SocketAddr) -> Option<std::process::Child> {
    let config = format!(
        "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\nevents {{ worker_connections 1024; }}\n\
http {{\n  access_log off;\n  client_body_temp_path {dir};\n  proxy_temp_path {dir};\n  fastcgi_temp_path {dir};\n  uwsgi_temp_path {dir};\n  scgi_temp_path {dir};\n\
  upstream static {{ server {upstream}; keepalive 64; }}\n\
  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://static;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n",
        dir = directory.display(),
    );
    let file = directory.join("nginx.conf");
    std::fs::write(&file, config).ok()?;
    std::process::Command::new(nginx)
        .arg("-c")
        .arg(&file)
        .arg("-p")
        .arg(directory)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn argument(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn path_argument(args: &[String], name: &str, default: &str) -> PathBuf {
    PathBuf::from(args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v))
}

fn package_bootstrap() -> Vec<u8> {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("a zip entry");
    zip.write_all(BOOTSTRAP.as_bytes()).expect("the bootstrap");
    zip.finish().expect("the package").into_inner()
}

/// Events waiting for the runtime, and the callers waiting for answers.
#[derive(Clone)]
struct RuntimeApi {
    events: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(String, Bytes)>>>,
    sender: tokio::sync::mpsc::Sender<(String, Bytes)>,
    waiting: Arc<Mutex<HashMap<String, tokio::sync::oneshot::Sender<Bytes>>>>,
    next_id: Arc<AtomicU64>,
}

impl RuntimeApi {
    fn new() -> Self {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        Self {
            events: Arc::new(tokio::sync::Mutex::new(receiver)),
            sender,
            waiting: Arc::default(),
            next_id: Arc::default(),
        }
    }

    /// Hands the runtime one event and waits for its answer.
    async fn call(&self, event: Bytes) -> Option<Bytes> {
        let id = format!("bench-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.waiting.lock().expect("the waiting map").insert(id.clone(), answer);
        self.sender.send((id, event)).await.ok()?;
        tokio::time::timeout(Duration::from_secs(5), answered).await.ok()?.ok()
    }

    async fn serve(
        self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<http_body_util::Full<Bytes>>, Infallible> {
        use http_body_util::BodyExt as _;
        let path = request.uri().path().to_owned();
        if path.ends_with("/invocation/next") {
            let Some((id, event)) = self.events.lock().await.recv().await else {
                return Ok(hyper::Response::builder().status(500).body(Default::default()).expect("a response"));
            };
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            return Ok(hyper::Response::builder()
                .header("lambda-runtime-aws-request-id", id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:direct")
                .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                .body(http_body_util::Full::new(event))
                .expect("a response"));
        }
        let id = path.strip_prefix("/2018-06-01/runtime/invocation/").and_then(|rest| rest.strip_suffix("/response"));
        let body = request.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
        if let Some(answer) = id.and_then(|id| self.waiting.lock().expect("the waiting map").remove(id)) {
            let _ = answer.send(body);
        }
        Ok(hyper::Response::builder().status(202).body(Default::default()).expect("a response"))
    }
}

/// Serves a Runtime API of this process's own to a copy of the bootstrap.
async fn direct_runtime(directory: &Path) -> (RuntimeApi, tokio::process::Child) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a runtime API port");
    let address = listener.local_addr().expect("the runtime API address");
    let api = RuntimeApi::new();
    let serving = api.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let api = serving.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| api.clone().serve(request));
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    let bootstrap = directory.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).expect("the bootstrap");
    let child = tokio::process::Command::new("python3")
        .arg(&bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the bootstrap");
    (api, child)
}

/// A closed-loop call of `GET url` with reqwest, successful on a 2xx.
fn get_call(
    http: &reqwest::Client,
    url: &str,
) -> impl Fn() -> futures::future::BoxFuture<'static, bool> + Clone + use<> {
    let (http, url) = (http.clone(), url.to_owned());
    move || {
        let (http, url) = (http.clone(), url.clone());
        Box::pin(async move {
            match http.get(&url).send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        })
    }
}

/// The v2 event the gateway would send for `GET /fn`, for the direct runs.
const EVENT: &[u8] = br#"{"version":"2.0","routeKey":"GET /fn","rawPath":"/fn","rawQueryString":"","headers":{"host":"bench.execute-api.localhost"},"requestContext":{"http":{"method":"GET","path":"/fn"}},"isBase64Encoded":false}"#;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = argument(&args, "--seconds", 5).max(1);
    let connections = argument(&args, "--connections", 16).max(1) as usize;
    let wrk_binary = path_argument(&args, "--wrk", "wrk");
    let nginx_binary = path_argument(&args, "--nginx", "/usr/sbin/nginx");

    let state = tempfile::tempdir().expect("a state directory");
    // The account bucket (10,000/s by default, as AWS's quota) would cap
    // the proxy rows below what the path itself serves.
    let nubo = Nubo::up_with(
        &state.path().join("state"),
        &[
            ("NUBO_GATEWAY__THROTTLING__ACCOUNT_RATE_LIMIT", "100000000.0"),
            ("NUBO_GATEWAY__THROTTLING__ACCOUNT_BURST_LIMIT", "100000000"),
        ],
    )
    .await;
    let upstream = upstream().await;

    let lambda = lambda_client(&nubo.edge_url());
    lambda
        .create_function()
        .function_name("bench-provided")
        .runtime(Runtime::Providedal2023)
        .role(ROLE)
        .handler("unused")
        .code(FunctionCode::builder().zip_file(Blob::new(package_bootstrap())).build())
        .send()
        .await
        .expect("CreateFunction");
    let apigateway = apigateway_client(&nubo.edge_url());
    let api = apigateway.create_api().name("bench").protocol_type(ProtocolType::Http).send().await.expect("CreateApi");
    let api_id = api.api_id().expect("an api id").to_owned();
    let endpoint = api.api_endpoint().expect("an endpoint").to_owned();
    let function = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri("arn:aws:lambda:us-east-1:000000000000:function:bench-provided")
        .payload_format_version("2.0")
        .send()
        .await
        .expect("the function integration");
    let proxy = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method("GET")
        .integration_uri(format!("http://{upstream}/"))
        .send()
        .await
        .expect("the proxy integration");
    for (key, integration) in [("GET /fn", &function), ("GET /static", &proxy)] {
        apigateway
            .create_route()
            .api_id(&api_id)
            .route_key(key)
            .target(format!("integrations/{}", integration.integration_id().expect("an id")))
            .send()
            .await
            .expect("CreateRoute");
    }
    apigateway.create_stage().api_id(&api_id).stage_name("$default").auto_deploy(true).send().await.expect("a stage");

    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).tcp_nodelay(true).build().expect("a client");
    let function_url = format!("{endpoint}/fn");
    let static_url = format!("{endpoint}/static");
    for url in [&function_url, &static_url] {
        for _ in 0..50 {
            let response = http.get(url).send().await.expect("a warm-up request");
            assert!(response.status().is_success(), "{url}: {}", response.status());
        }
    }

    // The references: the bootstrap on a Runtime API of our own, nginx.
    let runtime_directory = state.path().join("runtime");
    std::fs::create_dir_all(&runtime_directory).expect("a runtime directory");
    let (runtime, mut runtime_process) = direct_runtime(&runtime_directory).await;
    for _ in 0..50 {
        assert!(runtime.call(Bytes::from_static(EVENT)).await.is_some(), "the direct runtime answers");
    }
    let script = state.path().join("report.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("the wrk script");
    let nginx_directory = state.path().join("nginx");
    std::fs::create_dir_all(&nginx_directory).expect("an nginx directory");
    let nginx_port = nubo_e2e::free_port();
    let mut nginx = start_nginx(&nginx_binary, &nginx_directory, nginx_port, upstream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let nginx_url = format!("http://127.0.0.1:{nginx_port}/");
    let upstream_url = format!("http://{upstream}/");

    // 1. One client: latency.
    let direct_call = {
        let runtime = runtime.clone();
        move || {
            let runtime = runtime.clone();
            async move { runtime.call(Bytes::from_static(EVENT)).await.is_some() }
        }
    };
    let invoke_url =
        format!("{}/2015-03-31/functions/bench-provided/invocations", nubo.http_url(ServiceName::Functions));
    let invoke_call = {
        let (http, url) = (http.clone(), invoke_url.clone());
        let host = url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
        move || {
            let (http, url, host) = (http.clone(), url.clone(), host.clone());
            async move {
                let headers = [("host", host.as_str()), ("content-type", "application/json")];
                let mut request = http.post(&url).header("content-type", "application/json").body(EVENT);
                for (name, value) in sigv4_headers("POST", &url, &headers, EVENT, "lambda") {
                    request = request.header(name, value);
                }
                match request.send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    let direct = run_load(1, seconds, direct_call.clone()).await;
    let invoke = run_load(1, seconds, invoke_call).await;
    let gateway_function = run_load(1, seconds, get_call(&http, &function_url)).await;
    let upstream_one = run_load(1, seconds, get_call(&http, &upstream_url)).await;
    let nginx_one = match nginx {
        Some(_) => Some(run_load(1, seconds, get_call(&http, &nginx_url)).await),
        None => None,
    };
    let proxy_one = run_load(1, seconds, get_call(&http, &static_url)).await;

    // 2. `--connections` at once: throughput, with wrk (the direct runtime,
    // one process answering one event at a time, is driven by as many
    // closed-loop callers).
    let direct_many = run_load(connections, seconds, direct_call).await;
    let function_wrk = wrk(&wrk_binary, &script, connections, seconds, &function_url).await;
    let upstream_wrk = wrk(&wrk_binary, &script, connections, seconds, &upstream_url).await;
    let nginx_wrk = match nginx {
        Some(_) => wrk(&wrk_binary, &script, connections, seconds, &nginx_url).await,
        None => None,
    };
    let proxy_wrk = wrk(&wrk_binary, &script, connections, seconds, &static_url).await;
    if let Some(child) = nginx.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = runtime_process.kill().await;

    println!("# gateway benchmark ({seconds} s per measurement)");
    println!();
    println!("## One client, one request at a time (reqwest; ms)");
    println!();
    println!("| path | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    println!("{}", direct.row("function's Runtime API round trip, driven directly (no nubo)"));
    println!("{}", invoke.row("function, SigV4-signed Invoke on the Lambda port"));
    println!("{}", gateway_function.row("gateway → function, HTTP API route (AWS_PROXY)"));
    println!("{}", upstream_one.row("static upstream itself"));
    match nginx_one {
        Some(load) => println!("{}", load.row("nginx → upstream")),
        None => println!("| nginx → upstream | skipped: nginx did not run | | | |"),
    }
    println!("{}", proxy_one.row("gateway HTTP_PROXY → upstream"));
    println!();
    println!("## {connections} connections (wrk, one thread; the direct runtime: {connections} closed-loop callers)");
    println!();
    println!("| path | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    println!("{}", direct_many.row("function's Runtime API round trip, driven directly (one runtime)"));
    for (name, load) in [
        ("gateway → function, HTTP API route (AWS_PROXY)", function_wrk),
        ("static upstream itself", upstream_wrk),
        ("nginx → upstream", nginx_wrk),
        ("gateway HTTP_PROXY → upstream", proxy_wrk),
    ] {
        match load {
            Some(load) => println!("{}", load.row(name)),
            None => println!("| {name} | skipped: wrk or nginx did not run | | | |"),
        }
    }
    println!();
    println!(
        "gateway → function over its Runtime API round trip: added p50 {:+.3} ms, p99 {:+.3} ms (SPEC §3: p50 < 0.5 ms, p99 < 2 ms)",
        gateway_function.p50 - direct.p50,
        gateway_function.p99 - direct.p99,
    );
    println!(
        "  of which the Lambda port's Invoke adds p50 {:+.3} ms, p99 {:+.3} ms; the gateway over that Invoke p50 {:+.3} ms, p99 {:+.3} ms",
        invoke.p50 - direct.p50,
        invoke.p99 - direct.p99,
        gateway_function.p50 - invoke.p50,
        gateway_function.p99 - invoke.p99,
    );
    if let Some(nginx) = nginx_one {
        println!(
            "HTTP_PROXY over nginx, one client: p50 {:+.3} ms, p99 {:+.3} ms; over the upstream alone: p50 {:+.3} ms, p99 {:+.3} ms",
            proxy_one.p50 - nginx.p50,
            proxy_one.p99 - nginx.p99,
            proxy_one.p50 - upstream_one.p50,
            proxy_one.p99 - upstream_one.p99,
        );
    }
    if let (Some(proxy), Some(nginx)) = (proxy_wrk, nginx_wrk) {
        println!(
            "HTTP_PROXY throughput {:.2}× nginx's (SPEC §3: ≥ 0.5×); p50 {:+.3} ms, p99 {:+.3} ms over nginx",
            proxy.per_second / nginx.per_second.max(f64::MIN_POSITIVE),
            proxy.p50 - nginx.p50,
            proxy.p99 - nginx.p99,
        );
    }
    if let (Some(function), Some(nginx)) = (function_wrk, nginx_wrk) {
        println!(
            "gateway → function throughput {:.2}× nginx's proxy throughput",
            function.per_second / nginx.per_second.max(f64::MIN_POSITIVE),
        );
    }
}
