//! Side-by-side DynamoDB benchmark: PutItem, GetItem and Query through the
//! DynamoDB API with `aws-sdk-dynamodb`, against nubo and against peers run
//! on the same machine in the same run (dynalite from npm, moto_server from
//! PyPI), printing ops/s, p50 and p99 for each and nubo's ratio to each
//! peer; then nubo again at half its peak rate, for its p99 there.
//!
//! `make bench-dynamodb` builds nubo in release mode, installs the peers and
//! runs this. Arguments: `--seconds N` per measurement (default 5),
//! `--clients N` concurrent clients (default 8).

use std::{
    collections::HashMap,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::{
    Client,
    types::{AttributeDefinition, AttributeValue as AV, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType},
};
use nubo_e2e::{Nubo, ServiceName, credentials, fixture, free_port, sdk_http_client};
use tokio::io::AsyncBufReadExt as _;

const PRELOADED: usize = 1_000;
const PARTITIONS: usize = 100;

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
    let seconds = argument("--seconds", 5);
    let clients = argument("--clients", 8) as usize;
    let moto = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());

    let state = tempfile::tempdir().expect("a state directory");
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_LOG", "warn")]).await;
    let (_dynalite, dynalite_url) = start_dynalite().await;
    let (_moto, moto_url) = start_moto(&moto).await;
    let servers = [("nubo", nubo.http_url(ServiceName::Data)), ("dynalite", dynalite_url), ("moto_server", moto_url)];

    let mut results: HashMap<(&str, &str), Measured> = HashMap::new();
    for (name, url) in &servers {
        let client = client(url);
        prepare(&client).await;
        for (label, operation) in
            [("PutItem", Operation::Put), ("GetItem", Operation::Get), ("Query", Operation::Query)]
        {
            let measured = measure(&client, operation, clients, seconds, None).await;
            println!(
                "{name:<12} {label:<8} {:>9.0} ops/s  p50 {:>9}  p99 {:>9}  errors {}",
                measured.ops_per_sec,
                ms(measured.p50),
                ms(measured.p99),
                measured.errors
            );
            results.insert((name, label), measured);
        }
    }
    println!("\nnubo / peer, ops/s:");
    for label in ["PutItem", "GetItem", "Query"] {
        let ours = results[&("nubo", label)].ops_per_sec;
        println!(
            "  {label:<8} {:>6.1}x dynalite   {:>6.1}x moto_server",
            ours / results[&("dynalite", label)].ops_per_sec.max(f64::MIN_POSITIVE),
            ours / results[&("moto_server", label)].ops_per_sec.max(f64::MIN_POSITIVE)
        );
    }
    println!("\nnubo at half its peak rate:");
    let client = client(&servers[0].1);
    for (label, operation) in [("PutItem", Operation::Put), ("GetItem", Operation::Get), ("Query", Operation::Query)] {
        let half = results[&("nubo", label)].ops_per_sec / 2.0;
        let measured = measure(&client, operation, clients, seconds, Some(half)).await;
        println!(
            "  {label:<8} {:>9.0} ops/s  p50 {:>9}  p99 {:>9}",
            measured.ops_per_sec,
            ms(measured.p50),
            ms(measured.p99)
        );
    }
}
