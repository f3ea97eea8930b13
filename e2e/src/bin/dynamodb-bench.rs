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
//! wrk has no constant-rate mode; at half peak each connection waits
//! [`PACE_MS`] before each request (wrk's waits are whole milliseconds),
//! and enough connections are opened that together they offer that rate.
//!
//! First, in process: the embedded engine's PutItem through
//! `Dynamo::execute` against raw redb rows written with the same
//! concurrency, one durable commit each (SPEC §3: within 3×).
//!
//! `make bench-dynamodb` builds nubo in release mode, installs the peers and
//! runs this. Arguments: `--seconds N` per measurement (default 5),
//! `--clients N` concurrent clients and wrk connections (default 8),
//! `--wrk PATH` (default `wrk`; its rows are skipped when it cannot run).

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

/// What each wrk connection waits before each request of a paced run.
const PACE_MS: u64 = 10;

/// A wrk script rotating over `signed`; with `pace_ms`, each connection
/// waits that long before each request.
fn wrk_script(signed: &[Signed], pace_ms: Option<u64>) -> String {
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
    if let Some(pace) = pace_ms {
        script.push_str(&format!("delay = function() return {pace} end\n"));
    }
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

/// Raw redb rows: `clients` threads, each committing one row per durable
/// write transaction, the value the size of a bench item.
fn raw_redb_puts(clients: usize, seconds: u64) -> f64 {
    const RAW: redb::TableDefinition<(&[u8], &[u8]), &[u8]> = redb::TableDefinition::new("raw");
    let directory = tempfile::tempdir().expect("a directory");
    let db = Arc::new(redb::Database::create(directory.path().join("raw.redb")).expect("a database"));
    let setup = db.begin_write().expect("a transaction");
    setup.open_table(RAW).expect("the table");
    setup.commit().expect("a commit");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let value = vec![b'y'; 8 + 240];
    let threads: Vec<_> = (0..clients)
        .map(|thread| {
            let (db, value) = (db.clone(), value.clone());
            std::thread::spawn(move || {
                let mut written = 0usize;
                while Instant::now() < deadline {
                    let write = db.begin_write().expect("a transaction");
                    {
                        let mut table = write.open_table(RAW).expect("the table");
                        let key = format!("{thread}-{written}");
                        table.insert((key.as_bytes(), &b""[..]), value.as_slice()).expect("an insert");
                    }
                    write.commit().expect("a commit");
                    written += 1;
                }
                written
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|thread| thread.join().expect("a writer")).sum();
    total as f64 / seconds as f64
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
    let seconds = argument("--seconds", 5).max(1);
    let clients = argument("--clients", 8).max(1) as usize;
    let wrk_binary =
        args.iter().position(|a| a == "--wrk").and_then(|i| args.get(i + 1)).cloned().unwrap_or("wrk".into());
    let moto = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());

    println!("In process, {clients} writers, PutItem of a 250-byte item:");
    let raw = tokio::task::spawn_blocking(move || raw_redb_puts(clients, seconds)).await.expect("raw redb");
    let engine = engine_puts(clients, seconds).await;
    println!("  raw redb rows, one durable commit each  {raw:>9.0} rows/s");
    println!("  Dynamo::execute PutItem, embedded       {engine:>9.0} ops/s  ({:.2}x raw)\n", engine / raw);

    let state = tempfile::tempdir().expect("a state directory");
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_LOG", "warn")]).await;
    let (_dynalite, dynalite_url) = start_dynalite().await;
    let (_moto, moto_url) = start_moto(&moto).await;
    let servers = [("nubo", nubo.http_url(ServiceName::Data)), ("dynalite", dynalite_url), ("moto_server", moto_url)];

    let mut results: HashMap<(&str, &str, &str), Measured> = HashMap::new();
    let mut wrk_runs = true;
    let mut scripts: HashMap<&str, Vec<Signed>> = HashMap::new();
    for (name, url) in &servers {
        let client = client(url);
        prepare(&client).await;
        for (label, operation) in OPERATIONS {
            if wrk_runs {
                let signed = presign(url, operation).await;
                match wrk(&wrk_binary, &wrk_script(&signed, None), clients, seconds, url).await {
                    Some(measured) => {
                        row(name, label, "wrk", &measured);
                        results.insert((name, label, "wrk"), measured);
                    }
                    None => {
                        println!("({wrk_binary} did not run or printed no result: the wrk rows are skipped)");
                        wrk_runs = false;
                    }
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
        if !results.contains_key(&("nubo", "PutItem", how)) {
            continue;
        }
        println!("\nnubo / peer, ops/s, {how}:");
        for (label, _) in OPERATIONS {
            let ours = results[&("nubo", label, how)].ops_per_sec;
            println!(
                "  {label:<8} {:>6.1}x dynalite   {:>6.1}x moto_server",
                ours / results[&("dynalite", label, how)].ops_per_sec.max(f64::MIN_POSITIVE),
                ours / results[&("moto_server", label, how)].ops_per_sec.max(f64::MIN_POSITIVE)
            );
        }
    }
    println!("\nnubo at half its peak rate:");
    let client = client(&servers[0].1);
    for (label, operation) in OPERATIONS {
        if let (Some(peak), Some(signed)) = (results.get(&("nubo", label, "wrk")), scripts.get(label)) {
            // Each connection offers one request per wait plus its latency.
            let half = peak.ops_per_sec / 2.0;
            let cycle_ms = PACE_MS as f64 + peak.p50.as_secs_f64() * 1000.0;
            let connections = (half * cycle_ms / 1000.0).round().max(1.0) as usize;
            let script = wrk_script(signed, Some(PACE_MS));
            if let Some(measured) = wrk(&wrk_binary, &script, connections, seconds, &servers[0].1).await {
                row(&format!("  nubo ({connections}c)"), label, "wrk", &measured);
            }
        }
        let half = results[&("nubo", label, "sdk")].ops_per_sec / 2.0;
        let measured = measure(&client, operation, clients, seconds, Some(half)).await;
        row("  nubo", label, "sdk", &measured);
    }
}
