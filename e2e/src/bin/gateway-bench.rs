//! The gateway benchmark of SPEC §3, against `nubo up`, its references
//! measured in the same run:
//!
//! 1. An HTTP API route to a warm, trivial `provided.al2023` function
//!    (`AWS_PROXY`), against the same function invoked directly: a
//!    SigV4-signed `Invoke` on the Lambda port (one Runtime API round trip
//!    per call, without the gateway). Both with the same closed-loop
//!    reqwest client; the difference is what the gateway adds.
//! 2. An `HTTP_PROXY` route to a static upstream (a hyper server in this
//!    process answering `ok`), against nginx (Debian's `nginx-light`, one
//!    worker, keepalive to the upstream) proxying to the same upstream, and
//!    the upstream itself. Driven by wrk (one thread).
//!
//! It prints requests/s and p50/p99 of each, the added latency and the
//! ratios. `make bench-gateway` builds nubo and this in release mode and
//! runs it. Arguments: `--seconds N` per measurement (default 5),
//! `--connections N` (default 16), `--wrk PATH`, `--nginx PATH`.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
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
        per_second: requests / (duration_us / 1e6),
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = argument(&args, "--seconds", 5).max(1);
    let connections = argument(&args, "--connections", 16).max(1) as usize;
    let wrk_binary = path_argument(&args, "--wrk", "wrk");
    let nginx_binary = path_argument(&args, "--nginx", "/usr/sbin/nginx");

    let state = tempfile::tempdir().expect("a state directory");
    let nubo = Nubo::up(&state.path().join("state")).await;
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

    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build().expect("a client");
    let function_url = format!("{endpoint}/fn");
    let static_url = format!("{endpoint}/static");
    for url in [&function_url, &static_url] {
        for _ in 0..50 {
            let response = http.get(url).send().await.expect("a warm-up request");
            assert!(response.status().is_success(), "{url}: {}", response.status());
        }
    }

    // 1. Gateway → function, against the function invoked directly.
    let gateway_call = {
        let (http, url) = (http.clone(), function_url.clone());
        move || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                match http.get(&url).send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
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
                let body = br#"{"version":"2.0","rawPath":"/fn"}"#;
                let headers = [("host", host.as_str()), ("content-type", "application/json")];
                let mut request = http.post(&url).header("content-type", "application/json").body(&body[..]);
                for (name, value) in sigv4_headers("POST", &url, &headers, body, "lambda") {
                    request = request.header(name, value);
                }
                match request.send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    let direct = run_load(connections, seconds, invoke_call).await;
    let through_gateway = run_load(connections, seconds, gateway_call).await;

    // 2. HTTP_PROXY against nginx and the upstream itself, with wrk.
    let script = state.path().join("report.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("the wrk script");
    let nginx_directory = state.path().join("nginx");
    std::fs::create_dir_all(&nginx_directory).expect("an nginx directory");
    let nginx_port = nubo_e2e::free_port();
    let mut nginx = start_nginx(&nginx_binary, &nginx_directory, nginx_port, upstream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let upstream_load = wrk(&wrk_binary, &script, connections, seconds, &format!("http://{upstream}/")).await;
    let nginx_load = match nginx {
        Some(_) => wrk(&wrk_binary, &script, connections, seconds, &format!("http://127.0.0.1:{nginx_port}/")).await,
        None => None,
    };
    let proxy_load = wrk(&wrk_binary, &script, connections, seconds, &static_url).await;
    let gateway_function_wrk = wrk(&wrk_binary, &script, connections, seconds, &function_url).await;
    if let Some(child) = nginx.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }

    println!("# gateway benchmark ({connections} connections, {seconds} s each)");
    println!();
    println!("| path | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    println!("{}", direct.row("function, signed Invoke on the Lambda port (reqwest)"));
    println!("{}", through_gateway.row("gateway → function, HTTP API route (reqwest)"));
    if let Some(load) = gateway_function_wrk {
        println!("{}", load.row("gateway → function, HTTP API route (wrk)"));
    }
    for (name, load) in [
        ("static upstream itself (wrk)", upstream_load),
        ("nginx → upstream (wrk)", nginx_load),
        ("gateway HTTP_PROXY → upstream (wrk)", proxy_load),
    ] {
        match load {
            Some(load) => println!("{}", load.row(name)),
            None => println!("| {name} | skipped: wrk or nginx did not run | | | |"),
        }
    }
    println!();
    println!(
        "gateway → function over direct Invoke: added p50 {:+.3} ms, p99 {:+.3} ms; throughput {:.2}× (SPEC §3: added p50 < 0.5 ms, p99 < 2 ms)",
        through_gateway.p50 - direct.p50,
        through_gateway.p99 - direct.p99,
        through_gateway.per_second / direct.per_second.max(f64::MIN_POSITIVE),
    );
    if let (Some(proxy), Some(nginx)) = (proxy_load, nginx_load) {
        println!(
            "HTTP_PROXY over nginx: p50 {:+.3} ms, p99 {:+.3} ms; throughput {:.2}× nginx's (SPEC §3: ≥ 0.5×)",
            proxy.p50 - nginx.p50,
            proxy.p99 - nginx.p99,
            proxy.per_second / nginx.per_second.max(f64::MIN_POSITIVE),
        );
    }
    if let (Some(proxy), Some(upstream)) = (proxy_load, upstream_load) {
        println!(
            "HTTP_PROXY over the upstream alone: added p50 {:+.3} ms, p99 {:+.3} ms",
            proxy.p50 - upstream.p50,
            proxy.p99 - upstream.p99
        );
    }
}
