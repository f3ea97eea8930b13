//! The functions (Lambda) benchmark of SPEC §3, run against `nubo up` and
//! side by side with its references in the same run:
//!
//! 1. Cold start of a python3.12 and a nodejs20.x hello world (each sample
//!    forced cold by UpdateFunctionConfiguration, which retires the warm
//!    environments): the `Init Duration` of nubo's REPORT line and the
//!    client's round trip of that invoke, against the bare start of the
//!    same interpreter (`python3 -c pass`, `node -e 0`, spawn and wait).
//! 2. Warm invoke of a trivial python handler with `aws-sdk-lambda`, against
//!    the same SDK client's round trip to `GET /health` on the same port;
//!    then `wrk` against an HTTP API quick-created on the function, against
//!    `GET /health` on the gateway's user-API port.
//! 3. The same HTTP API and no-op with a plain reqwest (hyper) client, and
//!    a SigV4-signed Invoke on the Lambda port with that client, to tell the
//!    gateway's hop from the rest.
//!
//! Then a breakdown of the warm path: time inside the environment (the
//! REPORT lines' Duration under that load, read back through the
//! CloudWatch Logs API), the functions front's own time per Invoke (its
//! `/metrics`), and a signed call that reads the function's record.
//!
//! `make bench-functions` builds nubo and this in release mode and runs it.
//! Arguments: `--seconds N` per warm measurement (default 3),
//! `--cold-samples N` cold starts per runtime and kind (default 20),
//! `--wrk PATH` (default `wrk`; its part is skipped when it cannot run),
//! `--no-sandbox` to compare with environments left unconfined (the
//! figures SPEC §3 asks for are the sandboxed ones, nubo's default as root).

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use aws_sdk_apigatewayv2::types::ProtocolType;
use aws_sdk_lambda::{
    Client,
    config::{ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextMut},
    primitives::Blob,
    types::{Environment, FunctionCode, LogType, Runtime},
};
use base64::Engine as _;
use nubo_e2e::{
    Nubo, REGION, ROLE, ServiceName, apigateway_client, credentials, lambda_client, package_of, sdk_http_client,
    sigv4_headers,
};

/// The `PATH` nubo resolves `python3` and `node` in for its environments
/// (the default `functions.environment_path`): the bare start is measured
/// on the very interpreter the runtime runs, not on a shim earlier on the
/// caller's PATH.
const ENVIRONMENT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A pause between retiring the warm environment and the cold invoke, so a
/// sample does not share the CPU with the teardown of the previous one
/// (killing its process group, removing its cgroup): on Lambda a cold start
/// never pays for another environment's end.
const SETTLE: Duration = Duration::from_millis(50);

const PYTHON_HELLO: &str = "def handler(event, context):\n    return {\"statusCode\": 200, \"body\": \"hello\"}\n";
const NODE_HELLO: &str = "export const handler = async () => ({ statusCode: 200, body: \"hello\" });\n";
/// The warm function answers the HTTP API too, so it returns a proxy response.
const PYTHON_TRIVIAL: &str = "def handler(event, context):\n    return {\"statusCode\": 200, \"body\": \"ok\"}\n";

/// What the bootstraps import before their first `invocation/next`: part
/// of every cold start, none of the bare interpreter's.
const PYTHON_BOOTSTRAP_IMPORTS: &str = "import _json, _socket, os, sys, time";
const NODE_BOOTSTRAP_IMPORTS: &str = "Promise.all(['node:http','node:path','node:fs','node:url'].map(m => import(m)))";

/// Latency percentiles, in milliseconds (so differences may be negative).
#[derive(Debug, Clone, Copy, Default)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
}

impl Percentiles {
    fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let at = |fraction: f64| {
            if samples.is_empty() {
                return 0.0;
            }
            samples[((samples.len() as f64 * fraction) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0
        };
        Self { p50: at(0.50), p90: at(0.90), p99: at(0.99) }
    }

    fn minus(self, other: Self) -> Self {
        Self { p50: self.p50 - other.p50, p90: self.p90 - other.p90, p99: self.p99 - other.p99 }
    }

    fn show(self) -> String {
        format!("{:.3} / {:.3} / {:.3}", self.p50, self.p90, self.p99)
    }

    fn show_signed(self) -> String {
        format!("{:+.3} / {:+.3} / {:+.3}", self.p50, self.p90, self.p99)
    }
}

/// One measurement under load.
#[derive(Debug, Clone, Copy, Default)]
struct Load {
    latency: Percentiles,
    per_second: f64,
    mean_ms: f64,
    errors: usize,
}

/// Runs `call` from `clients` tasks for `seconds`, each task waiting for
/// its answer before sending again (closed loop), and times every call.
async fn run_load<F, Fut>(clients: usize, seconds: u64, call: F) -> Load
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let mut run = nubo_e2e::load::closed_loop(clients, seconds, call).await;
    Load {
        per_second: run.per_second(),
        mean_ms: mean_ms(&run.latencies),
        latency: Percentiles::of(&mut run.latencies),
        errors: run.errors,
    }
}

/// Rewrites a request the SDK built, signed and is about to send into
/// `GET /health` on the same host: the no-op round trip of the very same
/// client (serialisation, signing, retry layer, connection pool), with
/// none of the server's Invoke work. `/health` answers 200 with a JSON
/// body, which the Invoke deserialiser takes as a payload.
#[derive(Debug)]
struct ToHealth;

impl Intercept for ToHealth {
    fn name(&self) -> &'static str {
        "ToHealth"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let request = context.request_mut();
        let uri = request.uri().to_owned();
        let authority_end = uri.find("://").map(|scheme| scheme + 3).unwrap_or(0);
        let path_start = uri[authority_end..].find('/').map_or(uri.len(), |slash| authority_end + slash);
        request.set_uri(format!("{}/health", &uri[..path_start]))?;
        request.set_method("GET")?;
        Ok(())
    }
}

fn no_op_client(endpoint: &str) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new(REGION))
        .credentials_provider(credentials("test", "test"))
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .interceptor(ToHealth)
        .build();
    Client::from_conf(config)
}

async fn create_function(lambda: &Client, name: &str, runtime: Runtime, handler: &str, file: &str, code: &str) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .role(ROLE)
        .handler(handler)
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[(file, code)]))).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"));
}

/// The `Init Duration` of the REPORT line in a base64 log tail, in ms.
fn init_duration(log_result: &str) -> Option<f64> {
    let log = base64::engine::general_purpose::STANDARD.decode(log_result).ok()?;
    let log = String::from_utf8_lossy(&log);
    let report = log.lines().find(|line| line.starts_with("REPORT "))?;
    report_field(report, "Init Duration: ")
}

/// A `Name: 1.23 ms` field of a REPORT line.
fn report_field(report: &str, name: &str) -> Option<f64> {
    let rest = &report[report.find(name)? + name.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// One forced cold start: retire the warm environments by changing the
/// configuration, then one Invoke. Returns the client's round trip and,
/// with a log tail, nubo's Init Duration.
async fn cold_start(lambda: &Client, name: &str, sample: usize, tail: bool) -> (Duration, Option<f64>) {
    lambda
        .update_function_configuration()
        .function_name(name)
        .environment(Environment::builder().variables("BENCH_SAMPLE", format!("{sample}-{tail}")).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("UpdateFunctionConfiguration {name}: {error:?}"));
    tokio::time::sleep(SETTLE).await;
    let mut invoke = lambda.invoke().function_name(name).payload(Blob::new("{}"));
    if tail {
        invoke = invoke.log_type(LogType::Tail);
    }
    let sent = Instant::now();
    let invoked = invoke.send().await.unwrap_or_else(|error| panic!("cold Invoke {name}: {error:?}"));
    let round_trip = sent.elapsed();
    assert!(invoked.function_error().is_none(), "{name} failed: {:?}", invoked.payload());
    (round_trip, invoked.log_result().and_then(init_duration))
}

/// `program` as nubo's launcher finds it on [`ENVIRONMENT_PATH`].
fn which(program: &str) -> PathBuf {
    ENVIRONMENT_PATH
        .split(':')
        .map(|directory| Path::new(directory).join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("no {program} on {ENVIRONMENT_PATH}"))
}

/// Spawns `program args` with an empty environment but PATH and waits for
/// it: the bare cost of starting the interpreter.
async fn spawn_and_wait(program: &Path, args: &[&str]) -> Duration {
    let (program, args) = (program.to_owned(), args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let status = std::process::Command::new(&program)
            .args(&args)
            .env_clear()
            .env("PATH", ENVIRONMENT_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|error| panic!("{} does not start: {error}", program.display()));
        assert!(status.success(), "{} {args:?} failed: {status}", program.display());
        started.elapsed()
    })
    .await
    .expect("a spawn task")
}

fn version_of(program: &Path) -> String {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .map(|out| {
            String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).trim().to_owned()
        })
        .unwrap_or_default()
}

struct ColdResult {
    bare: Percentiles,
    with_imports: Percentiles,
    init: Percentiles,
    round_trip: Percentiles,
    missing_init: usize,
}

async fn measure_cold(
    lambda: &Client,
    name: &str,
    interpreter: &Path,
    bare_args: &[&str],
    imports_args: &[&str],
    samples: usize,
) -> ColdResult {
    // The first invoke after CreateFunction also unpacks the package into
    // the code cache; every later cold start finds it there.
    cold_start(lambda, name, 0, false).await;
    let _ = spawn_and_wait(interpreter, bare_args).await;
    let (mut bare, mut with_imports, mut init, mut round_trip) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut missing_init = 0;
    // Interleaved, so drift in the machine's state touches all alike. The
    // log tail costs the invoke a few ms of waiting for the runtime's last
    // lines, so Init Duration and the round trip come from separate starts.
    for sample in 1..=samples {
        match cold_start(lambda, name, sample, true).await.1 {
            Some(ms) => init.push(Duration::from_secs_f64(ms / 1000.0)),
            None => missing_init += 1,
        }
        bare.push(spawn_and_wait(interpreter, bare_args).await);
        round_trip.push(cold_start(lambda, name, sample, false).await.0);
        bare.push(spawn_and_wait(interpreter, bare_args).await);
        with_imports.push(spawn_and_wait(interpreter, imports_args).await);
        bare.push(spawn_and_wait(interpreter, bare_args).await);
    }
    ColdResult {
        bare: Percentiles::of(&mut bare),
        with_imports: Percentiles::of(&mut with_imports),
        init: Percentiles::of(&mut init),
        round_trip: Percentiles::of(&mut round_trip),
        missing_init,
    }
}

/// The `_sum` and `_count` of a service's request-duration histogram for
/// one operation label (status 200), from its `/metrics`.
async fn server_time(http: &reqwest::Client, base: &str, service: &str, operation: &str) -> (f64, f64) {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return (0.0, 0.0),
    };
    let metric = format!("nubo_{service}_http_request_duration_seconds");
    let label = format!("operation=\"{operation}\"");
    let value = |suffix: &str| {
        text.lines()
            .filter(|line| line.starts_with(&format!("{metric}{suffix}{{")))
            .filter(|line| line.contains(&label) && line.contains("status=\"200\""))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    (value("_sum"), value("_count"))
}

/// Mean server-side time per request, in ms, between two scrapes.
fn mean_between(before: (f64, f64), after: (f64, f64)) -> f64 {
    let count = after.1 - before.1;
    if count <= 0.0 { 0.0 } else { (after.0 - before.0) * 1000.0 / count }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn mean_ms(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / samples.len().max(1) as f64
}

/// The `Duration` of every REPORT line nubo kept for `function` between
/// `start_ms` and `end_ms` (Unix ms), read back with CloudWatch Logs'
/// FilterLogEvents on the functions port: the time inside the environment
/// (hand-off to the runtime, handler, reply) under the very load measured,
/// which a log tail cannot give, since it makes each invoke wait for the
/// runtime's last lines. Empty if the logs cannot be read.
async fn report_durations(
    http: &reqwest::Client,
    functions_url: &str,
    function: &str,
    start_ms: i64,
    end_ms: i64,
) -> Vec<Duration> {
    let url = format!("{functions_url}/");
    let host = functions_url.trim_start_matches("http://").to_owned();
    let target = "Logs_20140328.FilterLogEvents";
    let content_type = "application/x-amz-json-1.1";
    let mut durations = Vec::new();
    let mut token: Option<String> = None;
    // Bounded: a page holds up to 10,000 events.
    for _ in 0..100 {
        let mut input = serde_json::json!({
            "logGroupName": format!("/aws/lambda/{function}"),
            "startTime": start_ms,
            "endTime": end_ms,
            "filterPattern": "REPORT",
        });
        if let Some(token) = &token {
            input["nextToken"] = token.clone().into();
        }
        let body = input.to_string();
        let headers = [("host", host.as_str()), ("content-type", content_type), ("x-amz-target", target)];
        let mut request =
            http.post(&url).header("content-type", content_type).header("x-amz-target", target).body(body.clone());
        for (name, value) in sigv4_headers("POST", &url, &headers, body.as_bytes(), "logs") {
            request = request.header(name, value);
        }
        let Ok(response) = request.send().await else { break };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let page: serde_json::Value = match serde_json::from_str(&text) {
            Ok(page) if status.is_success() => page,
            _ => {
                eprintln!("FilterLogEvents answered {status}: {}", &text[..text.len().min(300)]);
                break;
            }
        };
        for event in page["events"].as_array().into_iter().flatten() {
            if let Some(ms) = event["message"].as_str().and_then(|line| report_field(line, "Duration: ")) {
                durations.push(Duration::from_secs_f64(ms / 1000.0));
            }
        }
        match page["nextToken"].as_str() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    durations
}

/// Runs wrk (one thread, so it takes one core at most and the server the
/// rest) with a script that prints exact percentiles on one line.
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
    let [requests, duration_us, p50, p90, p99, mean, errors] = numbers[..] else { return None };
    Some(Load {
        latency: Percentiles { p50: p50 / 1000.0, p90: p90 / 1000.0, p99: p99 / 1000.0 },
        per_second: requests / (duration_us / 1e6),
        mean_ms: mean / 1000.0,
        errors: errors as usize,
    })
}

const WRK_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("nubo-bench %d %d %d %d %d %.1f %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

fn argument(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ratio(ours: f64, reference: f64) -> String {
    format!("{:.2}×", ours / reference.max(f64::MIN_POSITIVE))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = argument(&args, "--seconds", 3).max(1);
    let cold_samples = argument(&args, "--cold-samples", 20).max(1) as usize;
    let wrk_binary =
        PathBuf::from(args.iter().position(|a| a == "--wrk").and_then(|i| args.get(i + 1)).map_or("wrk", |v| v));

    let unconfined = args.iter().any(|a| a == "--no-sandbox");

    let state = tempfile::tempdir().expect("a state directory");
    // Warnings only, as an operator tuning for speed would run it (at the
    // default level every invocation writes its REPORT line), and the one
    // line that says which sandbox protections are on.
    let mut settings = vec![("NUBO_LOG", "warn,nubo_functions::sandbox=info")];
    if unconfined {
        settings.push(("NUBO_FUNCTIONS__SANDBOX__ENABLED", "false"));
    }
    let nubo = Nubo::up_with(&state.path().join("state"), &settings).await;
    let functions_url = nubo.http_url(ServiceName::Functions);
    let gateway_url = nubo.http_url(ServiceName::Gateway);
    let lambda = lambda_client(&functions_url);
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("an HTTP client");

    let python = which("python3");
    let node = which("node");
    let sandbox = nubo
        .process
        .log()
        .lines()
        .find_map(|line| line.split_once("function sandbox: ").map(|(_, rest)| rest.trim().to_owned()))
        .unwrap_or_else(|| "(no sandbox line in nubo's log)".into());
    println!("# nubo functions benchmark");
    println!();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let user = if nix::unistd::geteuid().is_root() { "root" } else { "not root" };
    println!("{cores} cores; nubo runs as {user}");
    println!("sandbox: {sandbox}");
    println!("python3: {} ({})", python.display(), version_of(&python));
    println!("node:    {} ({})", node.display(), version_of(&node));
    println!("{seconds} s per warm measurement, {cold_samples} cold starts per runtime and kind");

    // 1. Cold start.
    create_function(&lambda, "cold-python", Runtime::Python312, "app.handler", "app.py", PYTHON_HELLO).await;
    create_function(&lambda, "cold-node", Runtime::Nodejs20x, "index.handler", "index.mjs", NODE_HELLO).await;
    let cold = [
        (
            "python3.12",
            "python3 -c pass",
            measure_cold(
                &lambda,
                "cold-python",
                &python,
                &["-c", "pass"],
                &["-c", PYTHON_BOOTSTRAP_IMPORTS],
                cold_samples,
            )
            .await,
        ),
        (
            "nodejs20.x",
            "node -e 0",
            measure_cold(&lambda, "cold-node", &node, &["-e", "0"], &["-e", NODE_BOOTSTRAP_IMPORTS], cold_samples)
                .await,
        ),
    ];
    println!();
    println!("## 1. Cold start (ms, p50 / p90; SPEC §3: cold ≤ 1.3× bare)");
    println!();
    println!(
        "| runtime | bare start | bare + bootstrap imports | Init Duration | cold invoke round trip | Init ÷ bare (p50) | round trip ÷ bare (p50) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (runtime, bare_command, result) in &cold {
        println!(
            "| {runtime} | `{bare_command}` {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {} | {} |",
            result.bare.p50,
            result.bare.p90,
            result.with_imports.p50,
            result.with_imports.p90,
            result.init.p50,
            result.init.p90,
            result.round_trip.p50,
            result.round_trip.p90,
            ratio(result.init.p50, result.bare.p50),
            ratio(result.round_trip.p50, result.bare.p50),
        );
        if result.missing_init > 0 {
            println!("  ({runtime}: {} tailed cold invokes had no Init Duration: they ran warm)", result.missing_init);
        }
    }

    // 2. Warm invoke with the SDK on the Lambda port.
    create_function(&lambda, "warm", Runtime::Python312, "app.handler", "app.py", PYTHON_TRIVIAL).await;
    let no_op = no_op_client(&functions_url);
    let invoke_call = {
        let lambda = lambda.clone();
        move || {
            let lambda = lambda.clone();
            async move {
                matches!(
                    lambda.invoke().function_name("warm").payload(Blob::new("{}")).send().await,
                    Ok(out) if out.function_error().is_none()
                )
            }
        }
    };
    let no_op_call = {
        let no_op = no_op.clone();
        move || {
            let no_op = no_op.clone();
            async move { no_op.invoke().function_name("warm").payload(Blob::new("{}")).send().await.is_ok() }
        }
    };
    // Sixteen environments started before any measurement, so no cold start
    // lands in a warm figure.
    run_load(16, 1, invoke_call.clone()).await;
    let mut sdk = Vec::new();
    let mut in_environment = Vec::new();
    let mut invoke_server_ms = 0.0;
    for clients in [1, 16] {
        let no_op_load = run_load(clients, seconds, no_op_call.clone()).await;
        let before = server_time(&http, &functions_url, "functions", "Invoke").await;
        let start_ms = unix_ms();
        let invoke_load = run_load(clients, seconds, invoke_call.clone()).await;
        let end_ms = unix_ms();
        let after = server_time(&http, &functions_url, "functions", "Invoke").await;
        if clients == 1 {
            invoke_server_ms = mean_between(before, after);
        }
        sdk.push((clients, no_op_load, invoke_load));
        // Read right after the load, while few batches follow it: nubo's
        // FilterLogEvents reads 100 batches at a time, and a page past the
        // data service's 8 MiB gRPC message limit fails (seen when later
        // loads had added their batches).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut durations = Vec::new();
        // Shipping may lag behind a burst of lines; a few tries, bounded.
        for _ in 0..5 {
            durations = report_durations(&http, &functions_url, "warm", start_ms, end_ms).await;
            if !durations.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        in_environment.push((durations.len(), Percentiles::of(&mut durations), mean_ms(&durations)));
    }
    println!();
    println!(
        "## 2. Warm invoke, `aws-sdk-lambda` on the Lambda port (ms, p50 / p90 / p99; SPEC §3: overhead < 0.3 ms)"
    );
    println!();
    println!(
        "No-op: the same SDK client's Invoke rewritten to `GET /health` on the functions port (same actix stack)."
    );
    println!();
    println!(
        "In the environment: the Duration of the REPORT lines of the same invokes (runtime API hand-off, handler, reply)."
    );
    println!();
    println!(
        "| clients | no-op | Invoke | overhead (Invoke − no-op) | in the environment | Invoke req/s | no-op req/s | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for ((clients, no_op_load, invoke_load), (reports, inside, _)) in sdk.iter().zip(&in_environment) {
        println!(
            "| {clients} | {} | {} | {} | {} ({reports} REPORT lines) | {:.0} | {:.0} | {} |",
            no_op_load.latency.show(),
            invoke_load.latency.show(),
            invoke_load.latency.minus(no_op_load.latency).show_signed(),
            inside.show(),
            invoke_load.per_second,
            no_op_load.per_second,
            no_op_load.errors + invoke_load.errors,
        );
    }

    // The HTTP API on the same function.
    let apigateway = apigateway_client(&nubo.edge_url());
    let api = apigateway
        .create_api()
        .name("bench")
        .protocol_type(ProtocolType::Http)
        .target(format!("arn:aws:lambda:{REGION}:000000000000:function:warm"))
        .send()
        .await
        .expect("CreateApi");
    let api_url = format!("{}/bench", api.api_endpoint().expect("an endpoint"));
    let health_url = format!("{gateway_url}/health");
    let probe = http.get(&api_url).send().await.expect("the HTTP API answers");
    assert_eq!(probe.status(), 200, "{:?}", probe.text().await);

    let script = state.path().join("report.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("the wrk script");
    let mut wrk_rows = Vec::new();
    for connections in [1, 16] {
        let no_op_load = wrk(&wrk_binary, &script, connections, seconds, &health_url).await;
        let api_load = wrk(&wrk_binary, &script, connections, seconds, &api_url).await;
        match (no_op_load, api_load) {
            (Some(no_op_load), Some(api_load)) => wrk_rows.push((connections, no_op_load, api_load)),
            _ => {
                println!("\n({} did not run or printed no result: the wrk rows are skipped)", wrk_binary.display());
                break;
            }
        }
    }
    if !wrk_rows.is_empty() {
        println!();
        println!("### wrk (one thread) against the HTTP API on the gateway's user-API port (ms, p50 / p90 / p99)");
        println!();
        println!("No-op: `GET /health` on the same port (same actix stack, no API lookup, no invoke).");
        println!();
        println!("| connections | no-op | HTTP API | difference | no-op req/s | HTTP API req/s | errors |");
        println!("|---|---|---|---|---|---|---|");
        for (connections, no_op_load, api_load) in &wrk_rows {
            println!(
                "| {connections} | {} | {} | {} | {:.0} | {:.0} | {} |",
                no_op_load.latency.show(),
                api_load.latency.show(),
                api_load.latency.minus(no_op_load.latency).show_signed(),
                no_op_load.per_second,
                api_load.per_second,
                no_op_load.errors + api_load.errors,
            );
        }
    }

    // 3. A plain hyper client (reqwest): the HTTP API and its no-op, and a
    // signed Invoke on the Lambda port, which skips the gateway's hop.
    let get_call = |url: String| {
        let http = http.clone();
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
    let invoke_url = format!("{functions_url}/2015-03-31/functions/warm/invocations");
    let signed_invoke_call = {
        let (http, url) = (http.clone(), invoke_url.clone());
        let host = url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
        move || {
            let (http, url, host) = (http.clone(), url.clone(), host.clone());
            async move {
                let body = b"{}";
                let headers = [("host", host.as_str()), ("content-type", "application/json")];
                let mut request = http.post(&url).header("content-type", "application/json").body(&body[..]);
                for (name, value) in sigv4_headers("POST", &url, &headers, body, "lambda") {
                    request = request.header(name, value);
                }
                match request.send().await {
                    Ok(response) => {
                        response.status().is_success()
                            && !response.headers().contains_key("x-amz-function-error")
                            && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        }
    };
    let mut plain = Vec::new();
    let mut api_server_ms = 0.0;
    let mut health_server_ms = 0.0;
    for clients in [1, 16] {
        let health_before = server_time(&http, &gateway_url, "gateway", "/health").await;
        let no_op_load = run_load(clients, seconds, get_call(health_url.clone())).await;
        let health_after = server_time(&http, &gateway_url, "gateway", "/health").await;
        let api_before = server_time(&http, &gateway_url, "gateway", "UserRequest").await;
        let api_load = run_load(clients, seconds, get_call(api_url.clone())).await;
        let api_after = server_time(&http, &gateway_url, "gateway", "UserRequest").await;
        let signed_load = run_load(clients, seconds, signed_invoke_call.clone()).await;
        if clients == 1 {
            // Scrapes of /metrics themselves are not under the labels read.
            health_server_ms = mean_between(health_before, health_after);
            api_server_ms = mean_between(api_before, api_after);
        }
        plain.push((clients, no_op_load, api_load, signed_load));
    }
    println!();
    println!("## 3. Warm, plain reqwest (hyper) client (ms, p50 / p90 / p99)");
    println!();
    println!(
        "No-op: `GET /health` on the gateway's user-API port. Signed Invoke: SigV4-signed `POST .../invocations` on the Lambda port, signed per request by the client."
    );
    println!();
    println!(
        "| clients | no-op | HTTP API | HTTP API − no-op | signed Invoke | HTTP API − signed Invoke | no-op req/s | HTTP API req/s | Invoke req/s | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (clients, no_op_load, api_load, signed_load) in &plain {
        println!(
            "| {clients} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            no_op_load.latency.show(),
            api_load.latency.show(),
            api_load.latency.minus(no_op_load.latency).show_signed(),
            signed_load.latency.show(),
            api_load.latency.minus(signed_load.latency).show_signed(),
            no_op_load.per_second,
            api_load.per_second,
            signed_load.per_second,
            no_op_load.errors + api_load.errors + signed_load.errors,
        );
    }

    // Breakdown of one warm invoke, one client at a time.
    let configuration_call = {
        let lambda = lambda.clone();
        move || {
            let lambda = lambda.clone();
            async move { lambda.get_function_configuration().function_name("warm").send().await.is_ok() }
        }
    };
    let before = server_time(&http, &functions_url, "functions", "GetFunctionConfiguration").await;
    let configuration = run_load(1, seconds, configuration_call).await;
    let after = server_time(&http, &functions_url, "functions", "GetFunctionConfiguration").await;
    let configuration_server_ms = mean_between(before, after);
    let (sdk_no_op, sdk_invoke) = (sdk[0].1, sdk[0].2);
    let (plain_no_op, plain_api, plain_invoke) = (plain[0].1, plain[0].2, plain[0].3);
    println!();
    println!("## Where a warm invoke's time goes (1 client, ms)");
    println!();
    println!("| part | ms |");
    println!("|---|---|");
    println!("| SDK Invoke round trip at the client (mean) | {:.3} |", sdk_invoke.mean_ms);
    println!("| SDK no-op round trip at the client (mean) | {:.3} |", sdk_no_op.mean_ms);
    println!("| functions front's own time per Invoke, from its /metrics (mean) | {invoke_server_ms:.3} |");
    let inside_ms = in_environment[0].2;
    println!("| … inside the environment: REPORT Duration of the same invokes (mean) | {inside_ms:.3} |");
    println!(
        "| … the rest: SigV4 check, resolving the function, the invoker (the difference) | {:.3} |",
        invoke_server_ms - inside_ms
    );
    println!(
        "| Invoke − no-op − inside the environment, at the client (means): the overhead without the runtime's turn | {:+.3} |",
        sdk_invoke.mean_ms - sdk_no_op.mean_ms - inside_ms
    );
    // For scale: management calls read the record from data each time,
    // where the invocation path reads through a short-lived cache.
    println!(
        "| for scale: GetFunctionConfiguration's own time, SigV4 check + an uncached record read from data over gRPC (mean) | {configuration_server_ms:.3} |"
    );
    println!(
        "| for scale: SDK GetFunctionConfiguration − no-op at the client, p50 | {:+.3} |",
        configuration.latency.p50 - sdk_no_op.latency.p50
    );
    println!(
        "| reqwest: HTTP API − signed Invoke on the Lambda port, p50 (the gateway's hop) | {:+.3} |",
        plain_api.latency.p50 - plain_invoke.latency.p50
    );
    println!("| gateway's own time per HTTP API request, from its /metrics (mean) | {api_server_ms:.3} |");
    println!("| gateway's own time per /health, from its /metrics (mean) | {health_server_ms:.3} |");
    println!("| reqwest HTTP API round trip at the client (mean) | {:.3} |", plain_api.mean_ms);
    println!("| reqwest no-op round trip at the client (mean) | {:.3} |", plain_no_op.mean_ms);
}
