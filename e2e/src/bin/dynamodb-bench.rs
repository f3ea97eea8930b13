//! Side-by-side DynamoDB benchmark: PutItem, GetItem and Query over many
//! keys (100 partitions, 1,000 items preloaded, every request a different
//! key) against nubo and against peers run on the same machine in the same
//! run (dynalite from npm, moto_server from PyPI), printing ops/s, p50 and
//! p99 for each and nubo's ratio to each peer; then nubo again at half its
//! peak rate, for its p99 there.
//!
//! Two load generators: `wrk` (one thread) replaying requests that
//! `aws-sdk-dynamodb` built and signed beforehand, a different key each
//! (a client that costs the server's cores little, so the servers are
//! what is measured), and the SDK client itself, signing every request.
//! wrk has no constant-rate mode (its per-connection delays are whole
//! milliseconds and fire in bursts), so the half-peak rows use [`paced`],
//! an open-loop replay of the same signed requests at a fixed rate.
//!
//! First, in process: the embedded engine's PutItem through
//! `Dynamo::execute` against raw redb rows committed in groups as large as
//! the engine's can be with the same concurrency (SPEC §3: within 3×).
//!
//! `make bench-dynamodb` builds nubo in release mode, installs the peers and
//! runs this. Arguments: `--seconds N` per measurement (default 5),
//! `--clients N` concurrent clients and wrk connections (default 8),
//! `--wrk PATH` (default `wrk`; its rows are skipped when it cannot run),
//! `--rounds N` runs of each wrk row (each printed, the median compared;
//! default 1), `--peers LIST` (default `dynalite,moto_server`; empty for
//! none), `--no-engine` to skip the in-process rows.

use std::{
    collections::HashMap,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::{
    Client,
    config::{ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextRef},
    types::{AttributeDefinition, AttributeValue as AV, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType},
};
use nubo_e2e::{Nubo, ServiceName, credentials, fixture, free_port, sdk_http_client};
use tokio::io::AsyncBufReadExt as _;

const PRELOADED: usize = 1_000;
const PARTITIONS: usize = 100;
/// Pre-signed requests per operation wrk rotates over.
const SIGNED: usize = 2_000;

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(credentials("test", "test"))
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    Client::from_conf(config)
}

#[derive(Clone, Copy, Debug)]
enum Operation {
    Put,
    Get,
    Query,
}

struct Measured {
    ops_per_sec: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * fraction) as usize).min(sorted.len() - 1)]
}

async fn prepare(client: &Client) {
    let _ = client
        .create_table()
        .table_name("bench")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a definition"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .expect("a definition"),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("a key"))
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().expect("a key"))
        .send()
        .await
        .expect("the bench table is created");
    // Tables some peers create asynchronously become usable within seconds.
    for _ in 0..100 {
        let described = client.describe_table().table_name("bench").send().await.expect("DescribeTable");
        if described.table().and_then(|t| t.table_status()).is_some_and(|s| s.as_str() == "ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..PRELOADED {
        client
            .put_item()
            .table_name("bench")
            .item("pk", AV::S(format!("p{}", i % PARTITIONS)))
            .item("sk", AV::N(i.to_string()))
            .item("payload", AV::S("x".repeat(200)))
            .send()
            .await
            .expect("preload");
    }
}

/// Keeps the request the SDK signed and stops it there: the requests wrk
/// replays are the SDK's own, headers and signature included.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<Signed>>>);

#[derive(Debug, Clone)]
struct Signed {
    headers: Vec<(String, String)>,
    body: String,
}

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let request = context.request();
        let headers = request
            .headers()
            .iter()
            // wrk writes Content-Length itself.
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .map(|(name, value)| {
                (if name.eq_ignore_ascii_case("host") { "Host" } else { name }.to_owned(), value.to_owned())
            })
            .collect();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        self.0.lock().expect("the capture").push(Signed { headers, body });
        Err("captured, not sent".into())
    }
}

/// `SIGNED` requests of `operation`, each for another key, signed for
/// `endpoint`.
async fn presign(endpoint: &str, operation: Operation) -> Vec<Signed> {
    let capture = Capture::default();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(credentials("test", "test"))
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .interceptor(capture.clone())
        .build();
    let client = Client::from_conf(config);
    for i in 0..SIGNED {
        run_one(&client, operation, i).await;
    }
    capture.0.lock().expect("the capture").clone()
}

/// A wrk script rotating over `signed`.
fn wrk_script(signed: &[Signed]) -> String {
    let mut script = String::from("local raw = {\n");
    for request in signed {
        script.push_str("  { headers = {");
        for (name, value) in &request.headers {
            script.push_str(&format!(" [ [==[{name}]==] ] = [==[{value}]==],"));
        }
        script.push_str(&format!(" }}, body = [==[{}]==] }},\n", request.body));
    }
    script.push_str(
        r#"}
local formatted = {}
local next = 0
init = function(args)
  for i, r in ipairs(raw) do formatted[i] = wrk.format("POST", "/", r.headers, r.body) end
end
request = function()
  next = next % #formatted + 1
  return formatted[next]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("nubo-bench %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"#,
    );
    script
}

/// Runs wrk with one thread (one core at most, the server gets the rest).
async fn wrk(binary: &str, script: &str, connections: usize, seconds: u64, url: &str) -> Option<Measured> {
    let file = tempfile::NamedTempFile::new().ok()?;
    std::fs::write(file.path(), script).ok()?;
    let output = tokio::process::Command::new(binary)
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "5s", "-s"])
        .arg(file.path())
        .arg(url)
        .output()
        .await
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|line| line.strip_prefix("nubo-bench "))?;
    let numbers: Vec<f64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let [requests, duration_us, p50, p99, errors] = numbers[..] else { return None };
    Some(Measured {
        ops_per_sec: (requests - errors) / (duration_us / 1e6),
        p50: Duration::from_micros(p50 as u64),
        p99: Duration::from_micros(p99 as u64),
        errors: errors as usize,
    })
}

/// An open-loop client for the half-peak rows: `connections` threads on
/// keep-alive connections replay `signed` at `rate` requests per second in
/// all, each thread sending at its own fixed times (std's sleep, not a
/// millisecond timer wheel). A request's latency runs from when it was due
/// to be sent, so a server that falls behind is charged for the wait
/// (no coordinated omission), and a plain blocking socket costs the server
/// little CPU.
fn paced(signed: &[Signed], url: &str, rate: f64, connections: usize, seconds: u64) -> Option<Measured> {
    let address = url.strip_prefix("http://")?.to_owned();
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        signed
            .iter()
            .map(|request| {
                let mut raw = String::from("POST / HTTP/1.1\r\n");
                for (name, value) in &request.headers {
                    raw.push_str(&format!("{name}: {value}\r\n"));
                }
                raw.push_str(&format!("Content-Length: {}\r\n\r\n{}", request.body.len(), request.body));
                raw.into_bytes()
            })
            .collect(),
    );
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..connections)
        .map(|thread| {
            let (requests, address) = (requests.clone(), address.clone());
            std::thread::spawn(move || -> Result<(Vec<Duration>, usize), String> {
                let mut stream = std::net::TcpStream::connect(&address).map_err(|e| format!("connect: {e}"))?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                let mut reader = std::io::BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
                let (mut latencies, mut errors) = (Vec::new(), 0);
                // The threads' send times interleave evenly.
                let mut due = start + interval.mul_f64(thread as f64 / connections as f64);
                let mut next = thread;
                while due < end {
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        // Each connection has its own OS thread: no async worker waits here.
                        #[allow(clippy::disallowed_methods)]
                        std::thread::sleep(wait);
                    }
                    use std::io::{BufRead as _, Read as _, Write as _};
                    stream.write_all(&requests[next % requests.len()]).map_err(|e| format!("write: {e}"))?;
                    let (mut status, mut length, mut line) = (0u16, 0usize, String::new());
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).map_err(|e| format!("read: {e}"))? == 0 {
                            return Err("the server closed the connection".into());
                        }
                        let trimmed = line.trim_end();
                        if trimmed.is_empty() {
                            break;
                        }
                        if status == 0 {
                            status =
                                trimmed.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(trimmed.to_owned())?;
                        } else if let Some((name, value)) = trimmed.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().map_err(|_| trimmed.to_owned())?;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).map_err(|e| format!("read: {e}"))?;
                    if status == 200 {
                        latencies.push(due.elapsed());
                    } else {
                        errors += 1;
                    }
                    due += interval;
                    next += connections;
                }
                Ok((latencies, errors))
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for thread in threads {
        let (mut part, failed) = match thread.join() {
            Ok(Ok(done)) => done,
            Ok(Err(why)) => {
                println!("(the paced client failed: {why})");
                return None;
            }
            Err(_) => return None,
        };
        latencies.append(&mut part);
        errors += failed;
    }
    latencies.sort();
    Some(Measured {
        ops_per_sec: latencies.len() as f64 / seconds as f64,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        errors,
    })
}

async fn run_one(client: &Client, operation: Operation, i: usize) -> bool {
    let partition = format!("p{}", i % PARTITIONS);
    match operation {
        Operation::Put => client
            .put_item()
            .table_name("bench")
            .item("pk", AV::S(partition))
            .item("sk", AV::N((PRELOADED + i).to_string()))
            .item("payload", AV::S("y".repeat(200)))
            .send()
            .await
            .is_ok(),
        Operation::Get => client
            .get_item()
            .table_name("bench")
            .key("pk", AV::S(partition))
            .key("sk", AV::N((i % PRELOADED).to_string()))
            .send()
            .await
            .is_ok(),
        Operation::Query => client
            .query()
            .table_name("bench")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AV::S(partition))
            .limit(10)
            .send()
            .await
            .is_ok(),
    }
}

/// Runs `operation` from `clients` tasks for `seconds`; with `rate`, the
/// tasks together start at most that many requests per second.
async fn measure(client: &Client, operation: Operation, clients: usize, seconds: u64, rate: Option<f64>) -> Measured {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, counter) = (client.clone(), counter.clone());
        let interval = rate.map(|rate| Duration::from_secs_f64(clients as f64 / rate));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut next = Instant::now();
            while Instant::now() < deadline {
                if let Some(interval) = interval {
                    next += interval;
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let started = Instant::now();
                if run_one(&client, operation, i).await {
                    latencies.push(started.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut part, failed) = task.await.expect("a bench task");
        latencies.append(&mut part);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds as f64);
    latencies.sort();
    Measured {
        ops_per_sec: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        errors,
    }
}

async fn wait_for_port(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {port}");
}

async fn start_dynalite() -> (tokio::process::Child, String) {
    let directory = fixture("../differential");
    let mut child = tokio::process::Command::new("node")
        .arg(directory.join("start-dynalite.js"))
        .arg("0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dynalite starts (npm install --prefix e2e/differential)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = lines.next_line().await.expect("a line").expect("a port");
    (child, format!("http://127.0.0.1:{}", port.trim()))
}

async fn start_moto(moto: &str) -> (tokio::process::Child, String) {
    let port = free_port();
    let child = tokio::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server starts");
    wait_for_port(port).await;
    (child, format!("http://127.0.0.1:{port}"))
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Raw redb rows written as the engine's group commit writes them at best:
/// with `clients` writers, a group holds at most `clients` rows, so one
/// thread commits `clients` rows per durable write transaction, with none
/// of the queueing, checks or encoding the engine does around it. That is
/// the ceiling the engine is measured against.
fn raw_redb_puts(clients: usize, seconds: u64) -> f64 {
    const RAW: redb::TableDefinition<(&[u8], &[u8]), &[u8]> = redb::TableDefinition::new("raw");
    let directory = tempfile::tempdir().expect("a directory");
    let db = redb::Database::create(directory.path().join("raw.redb")).expect("a database");
    let setup = db.begin_write().expect("a transaction");
    setup.open_table(RAW).expect("the table");
    setup.commit().expect("a commit");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let value = vec![b'y'; 8 + 240];
    let mut written = 0usize;
    let started = Instant::now();
    while Instant::now() < deadline {
        let write = db.begin_write().expect("a transaction");
        {
            let mut table = write.open_table(RAW).expect("the table");
            for _ in 0..clients {
                let partition = format!("p{}", written % PARTITIONS);
                let sort = written.to_be_bytes();
                table.insert((partition.as_bytes(), &sort[..]), value.as_slice()).expect("an insert");
                written += 1;
            }
        }
        write.commit().expect("a commit");
    }
    written as f64 / started.elapsed().as_secs_f64()
}

/// PutItem through `Dynamo::execute` on the embedded engine, in process.
async fn engine_puts(clients: usize, seconds: u64) -> f64 {
    use nubo_data::{
        dynamodb::{Action, Dynamo},
        engine::{Engine, embedded::EmbeddedEngine},
        records::RecordStore,
    };
    let directory = tempfile::tempdir().expect("a directory");
    let db = Arc::new(redb::Database::create(directory.path().join("data.redb")).expect("a database"));
    let engine: Arc<dyn Engine> = Arc::new(EmbeddedEngine::new(db));
    let records = RecordStore::open(engine.clone()).await.expect("records");
    let dynamo = Dynamo::new(records, engine, "us-east-1".into(), "000000000000".into());
    dynamo
        .execute(
            Action::CreateTable,
            serde_json::json!({"TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]}),
        )
        .await
        .expect("the bench table");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (dynamo, counter) = (dynamo.clone(), counter.clone());
            tokio::spawn(async move {
                let mut written = 0usize;
                while Instant::now() < deadline {
                    let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let item = serde_json::json!({"TableName": "bench", "Item": {
                        "pk": {"S": format!("p{}", i % PARTITIONS)}, "sk": {"N": i.to_string()},
                        "payload": {"S": "y".repeat(200)}}});
                    dynamo.execute(Action::PutItem, item).await.expect("PutItem");
                    written += 1;
                }
                written
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("a writer");
    }
    total as f64 / seconds as f64
}

fn row(name: &str, label: &str, how: &str, measured: &Measured) {
    println!(
        "{name:<12} {label:<8} {how:<4} {:>9.0} ops/s  p50 {:>9}  p99 {:>9}  errors {}",
        measured.ops_per_sec,
        ms(measured.p50),
        ms(measured.p99),
        measured.errors
    );
}

const OPERATIONS: [(&str, Operation); 3] =
    [("PutItem", Operation::Put), ("GetItem", Operation::Get), ("Query", Operation::Query)];

/// The middle of several runs of one row, by ops/s.
fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    let middle = runs.len() / 2;
    runs.swap_remove(middle)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let argument = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let text = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let seconds = argument("--seconds", 5).max(1);
    let clients = argument("--clients", 8).max(1) as usize;
    // Each wrk row is run this many times (printed each), the median kept.
    let rounds = argument("--rounds", 1).max(1) as usize;
    let wrk_binary = text("--wrk").unwrap_or("wrk".into());
    let peers = text("--peers").unwrap_or("dynalite,moto_server".into());
    let moto = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());

    if !args.iter().any(|a| a == "--no-engine") {
        println!("In process, {clients} writers, PutItem of a 250-byte item:");
        let raw = tokio::task::spawn_blocking(move || raw_redb_puts(clients, seconds)).await.expect("raw redb");
        let engine = engine_puts(clients, seconds).await;
        println!("  raw redb, {clients} rows per durable commit   {raw:>9.0} rows/s");
        println!("  Dynamo::execute PutItem, embedded     {engine:>9.0} ops/s  ({:.2}x raw)\n", engine / raw);
    }

    let state = tempfile::tempdir().expect("a state directory");
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_LOG", "warn")]).await;
    let mut servers = vec![("nubo", nubo.http_url(ServiceName::Data))];
    let mut children = Vec::new();
    if peers.split(',').any(|peer| peer == "dynalite") {
        let (child, url) = start_dynalite().await;
        children.push(child);
        servers.push(("dynalite", url));
    }
    if peers.split(',').any(|peer| peer == "moto_server") {
        let (child, url) = start_moto(&moto).await;
        children.push(child);
        servers.push(("moto_server", url));
    }

    let mut results: HashMap<(&str, &str, &str), Measured> = HashMap::new();
    let mut wrk_runs = true;
    let mut scripts: HashMap<&str, Vec<Signed>> = HashMap::new();
    for (name, url) in &servers {
        let client = client(url);
        prepare(&client).await;
        for (label, operation) in OPERATIONS {
            if wrk_runs {
                let signed = presign(url, operation).await;
                let mut runs = Vec::new();
                for _ in 0..rounds {
                    match wrk(&wrk_binary, &wrk_script(&signed), clients, seconds, url).await {
                        Some(measured) => {
                            row(name, label, "wrk", &measured);
                            runs.push(measured);
                        }
                        None => {
                            println!("({wrk_binary} did not run or printed no result: the wrk rows are skipped)");
                            wrk_runs = false;
                            break;
                        }
                    }
                }
                if !runs.is_empty() {
                    results.insert((name, label, "wrk"), median(runs));
                }
                if *name == "nubo" {
                    scripts.insert(label, signed);
                }
            }
            let measured = measure(&client, operation, clients, seconds, None).await;
            row(name, label, "sdk", &measured);
            results.insert((name, label, "sdk"), measured);
        }
    }
    for how in ["wrk", "sdk"] {
        if !results.contains_key(&("nubo", "PutItem", how)) || servers.len() < 2 {
            continue;
        }
        println!("\nnubo / peer, ops/s, {how}{}:", if how == "wrk" && rounds > 1 { ", medians" } else { "" });
        for (label, _) in OPERATIONS {
            let ours = results[&("nubo", label, how)].ops_per_sec;
            let mut line = format!("  {label:<8}");
            for (peer, _) in &servers[1..] {
                let theirs = results[&(*peer, label, how)].ops_per_sec.max(f64::MIN_POSITIVE);
                line.push_str(&format!(" {:>7.1}x {peer:<12}", ours / theirs));
            }
            println!("{line}");
        }
    }
    println!("\nnubo at half its peak rate (paced: open-loop raw HTTP, latency from when each request was due):");
    let client = client(&servers[0].1);
    for (label, operation) in OPERATIONS {
        if let (Some(peak), Some(signed)) = (results.get(&("nubo", label, "wrk")), scripts.get(label)) {
            let (half, url, connections) = (peak.ops_per_sec / 2.0, servers[0].1.clone(), clients * 2);
            let signed = signed.clone();
            let measured = tokio::task::spawn_blocking(move || paced(&signed, &url, half, connections, seconds))
                .await
                .expect("the paced client");
            if let Some(measured) = measured {
                row(&format!("  nubo {half:.0}/s"), label, "pace", &measured);
            }
        }
        let half = results[&("nubo", label, "sdk")].ops_per_sec / 2.0;
        let measured = measure(&client, operation, clients, seconds, Some(half)).await;
        row(&format!("  nubo {half:.0}/s"), label, "sdk", &measured);
    }
    drop(children);
}
