//! The storage (S3) benchmark of SPEC §3, against `nubo up` and side by
//! side with moto_server (PyPI) in the same run, each on loopback:
//!
//! 1. 4 KiB PutObject and GetObject with `aws-sdk-s3` at its default
//!    settings, closed loop, from 1 and from 32 concurrent clients; then the
//!    same GETs and PUTs from `wrk` (one thread) with presigned URLs, so no
//!    client signs anything and the client is not what is measured.
//! 2. p50 / p99 (and p99.9, max) of those single-client calls.
//! 3. One 256 MiB PUT and one 256 MiB GET, single stream: with the SDK from
//!    memory (its default over plain HTTP: the payload's SHA-256 in the
//!    signature, a CRC32 header), with the SDK from a file (`aws-chunked`
//!    with per-chunk signatures and a CRC32 trailer), and with a plain
//!    reqwest (hyper) client on a presigned URL (`UNSIGNED-PAYLOAD`),
//!    against the disk's own sequential write bandwidth on the same
//!    filesystem (`dd … conv=fdatasync` in nubo's state directory) and one
//!    TCP stream's bandwidth on loopback.
//! 4. The resident memory of each server's process tree while a 1 GiB
//!    object is uploaded in 16 MiB parts (4 in flight) and read back, as
//!    while the 256 MiB objects are: sampled every 10 ms from `/proc`,
//!    and the process's own high-water mark (`VmHWM`, reset before).
//!
//! Each large transfer also records the server process's CPU time, and the
//! run the machine's load average before and after: on two cores anything
//! else running shows in every figure.
//!
//! `make bench-s3` builds nubo and this in release mode, installs
//! moto_server into target/bench-venv and runs it. Arguments:
//! `--seconds N` per small-object measurement (default 5), `--large-runs N`
//! runs of each large transfer, the median reported (default 3), `--wrk
//! PATH` (default `wrk`; its rows are skipped when it cannot run).
//! Environment: `NUBO_BIN`, `MOTO_SERVER` (default `moto_server`).

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_s3::{
    Client,
    config::{ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextRef},
    error::DisplayErrorContext,
    presigning::PresigningConfig,
    primitives::ByteStream,
    types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart},
};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use nubo_e2e::{Nubo, ServiceName, free_port, s3_client};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BUCKET: &str = "bench";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
const SMALL: usize = 4 * KIB;
/// Objects written before the GETs, which read them round-robin.
const PRELOADED: usize = 1_000;
/// Keys the presigned PUTs cycle through (overwrites after the first pass).
const PRESIGNED_PUT_KEYS: usize = 1_000;
const LARGE: usize = 256 * MIB;
const PART: usize = 16 * MIB;
const HUGE_PARTS: usize = 64;
const HUGE: usize = PART * HUGE_PARTS;
const PARTS_IN_FLIGHT: usize = 4;
/// Throughput is in MB/s of 10^6 bytes, as dd reports it.
const MB: f64 = 1e6;
const CLIENTS: [usize; 2] = [1, 32];

/// Counts the SDK's attempts, so retries (which hide failures from the
/// caller) show in the figures.
#[derive(Debug, Clone, Default)]
struct Attempts(Arc<AtomicUsize>);

impl Attempts {
    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "Attempts"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// `nubo_e2e::s3_client` (the SDK at its default settings) with the
/// attempt counter added.
fn counted_client(endpoint: &str) -> (Client, Attempts) {
    let attempts = Attempts::default();
    let config = s3_client(endpoint).config().to_builder().interceptor(attempts.clone()).build();
    (Client::from_conf(config), attempts)
}

fn sdk_error<E: std::error::Error>(error: E) -> String {
    DisplayErrorContext(&error).to_string()
}

/// One closed-loop measurement.
#[derive(Debug, Clone, Default)]
struct Load {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
    requests: usize,
    errors: usize,
    retries: usize,
    first_error: Option<String>,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * fraction) as usize).min(sorted.len() - 1)]
}

/// Runs `call(i)` from `clients` tasks for `seconds`, each waiting for its
/// answer before sending again, `i` counting calls across all of them.
async fn run_load<F, Fut>(clients: usize, seconds: u64, call: F) -> Load
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (call, counter, first_error) = (call.clone(), counter.clone(), first_error.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    match call(i).await {
                        Ok(()) => latencies.push(sent.elapsed()),
                        Err(error) => {
                            errors += 1;
                            first_error.lock().expect("the error slot").get_or_insert(error);
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (mut part, failed) = task.await.expect("a load task");
        latencies.append(&mut part);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let first_error = first_error.lock().expect("the error slot").take();
    Load {
        per_second: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        max: latencies.last().copied().unwrap_or_default(),
        requests: latencies.len(),
        errors,
        retries: 0,
        first_error,
    }
}

async fn put_small(s3: &Client, key: String, body: Bytes) -> Result<(), String> {
    s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(body)).send().await.map(drop).map_err(sdk_error)
}

async fn get_small(s3: &Client, key: String) -> Result<(), String> {
    let got = s3.get_object().bucket(BUCKET).key(key).send().await.map_err(sdk_error)?;
    let body = got.body.collect().await.map_err(|error| error.to_string())?.into_bytes();
    if body.len() == SMALL { Ok(()) } else { Err(format!("a GET returned {} bytes", body.len())) }
}

/// Bytes no layer could compress or deduplicate (xorshift).
fn pseudo_random(length: usize, seed: u64) -> Bytes {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(length + 8);
    while out.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(length);
    out.into()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---- /proc sampling ----

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// `pid` and every descendant (nubo's are its functions' standby sandboxes).
fn process_tree(pid: u32) -> Vec<u32> {
    let (mut tree, mut pending) = (Vec::new(), vec![pid]);
    while let Some(pid) = pending.pop() {
        tree.push(pid);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                pending.extend(children.split_whitespace().filter_map(|child| child.parse::<u32>().ok()));
            }
        }
    }
    tree
}

/// The resident memory of `pid` and every descendant, in KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    process_tree(pid).into_iter().map(|pid| status_kib(pid, "VmRSS:").unwrap_or(0)).sum()
}

/// The CPU time `pid` has used (user + system), in seconds (`/proc/<pid>/stat`
/// counts in USER_HZ, 100 on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The fields after the command's closing parenthesis: state is the
    // first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets the process's `VmHWM` to its current RSS (`clear_refs` 5).
fn reset_high_water_mark(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Samples a process tree's RSS every 10 ms until finished.
struct RssSampler {
    pid: u32,
    before_kib: u64,
    reset: bool,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

/// What a sampler saw, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    before_kib: u64,
    /// The largest sampled RSS of the process tree.
    peak_kib: u64,
    /// The process's own high-water mark since the start (reset if it could be).
    high_water_kib: Option<u64>,
}

impl Memory {
    fn peak_growth_mib(&self) -> f64 {
        self.peak_kib.saturating_sub(self.before_kib) as f64 / 1024.0
    }
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let reset = reset_high_water_mark(pid);
        let before_kib = tree_rss_kib(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut peak = before_kib;
                loop {
                    peak = peak.max(tree_rss_kib(pid));
                    if stop.load(Ordering::Relaxed) {
                        return peak;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        Self { pid, before_kib, reset, stop, task }
    }

    async fn finish(self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        let peak_kib = self.task.await.expect("the sampler");
        let high_water_kib = status_kib(self.pid, "VmHWM:").filter(|_| self.reset);
        Memory { before_kib: self.before_kib, peak_kib, high_water_kib }
    }
}

// ---- references ----

/// The 1, 5 and 15 minute load averages: other work on the machine skews
/// every figure here, so the run records it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|line| line.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `dd if=/dev/zero of=<directory>/ddtest bs=1M count=1024 conv=fdatasync`,
/// in MB/s (from dd's own figure of seconds).
fn dd_write(directory: &Path) -> Option<f64> {
    let target = directory.join("ddtest");
    let output = std::process::Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", target.display()))
        .args(["bs=1M", "count=1024", "conv=fdatasync"])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&target);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.2345 s, 870 MB/s"
    let line = stderr.lines().find(|line| line.contains(" copied, "))?;
    let bytes: f64 = line.split_whitespace().next()?.parse().ok()?;
    let seconds: f64 = line.split(" copied, ").nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some(bytes / seconds / MB)
}

/// One TCP stream on loopback, 1 GiB in 1 MiB writes, in MB/s.
async fn loopback_bandwidth() -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a listener");
    let address = listener.local_addr().expect("an address");
    let total = 1024 * MIB;
    let reader = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut buffer = vec![0u8; MIB];
        let mut read = 0;
        while read < total {
            match socket.read(&mut buffer).await.expect("a read") {
                0 => break,
                n => read += n,
            }
        }
        read
    });
    let chunk = vec![7u8; MIB];
    let started = Instant::now();
    let mut socket = tokio::net::TcpStream::connect(address).await.expect("a connection");
    for _ in 0..total / MIB {
        socket.write_all(&chunk).await.expect("a write");
    }
    socket.shutdown().await.expect("a shutdown");
    let read = reader.await.expect("the reader");
    read as f64 / started.elapsed().as_secs_f64() / MB
}

// ---- peers ----

async fn wait_for_port(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {port}");
}

async fn start_moto(moto: &str) -> (tokio::process::Child, String) {
    let port = free_port();
    let child = tokio::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server starts (make bench-s3 installs it into target/bench-venv)");
    wait_for_port(port).await;
    (child, format!("http://127.0.0.1:{port}"))
}

// ---- wrk ----

/// Runs wrk (one thread, so it takes one core at most and the server the
/// other) with `script`; `None` when it cannot run.
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
    let [requests, duration_us, p50, p99, p999, max, status, other] = numbers[..] else { return None };
    let us = |value: f64| Duration::from_secs_f64(value / 1e6);
    Some(Load {
        per_second: (requests - status) / (duration_us / 1e6),
        p50: us(p50),
        p99: us(p99),
        p999: us(p999),
        max: us(max),
        requests: (requests - status) as usize,
        errors: (status + other) as usize,
        retries: 0,
        first_error: (status + other > 0.0)
            .then(|| format!("{status} non-2xx answers, {other} socket errors (connect, read, write, timeout)")),
    })
}

const WRK_DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("nubo-bench %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"#;

/// A wrk script sending `method` to each path in turn, with `headers` and,
/// for a PUT, a 4 KiB body.
fn wrk_script(method: &str, paths: &[String], headers: &[(String, String)], body: bool) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let mut script = String::from("paths = {\n");
    for path in paths {
        script.push_str(&format!("  {},\n", quote(path)));
    }
    script.push_str("}\n");
    script.push_str(&format!("method = {}\n", quote(method)));
    script.push_str(&format!("body = {}\n", if body { format!("string.rep(\"x\", {SMALL})") } else { "nil".into() }));
    // wrk.format adds Host (as signed: the URL's host:port) and Content-Length.
    script.push_str("i = 0\nrequest = function()\n  i = i + 1\n  local headers = {");
    for (name, value) in headers {
        script.push_str(&format!("[{}] = {}, ", quote(name), quote(value)));
    }
    script.push_str("}\n  return wrk.format(method, paths[(i % #paths) + 1], headers, body)\nend\n");
    script.push_str(WRK_DONE);
    script
}

/// Presigned URLs (path and query only) for `keys`, and the headers the
/// signature asks for beyond Host.
async fn presigned(s3: &Client, keys: &[String], put: bool) -> (Vec<String>, Vec<(String, String)>) {
    let config = PresigningConfig::expires_in(Duration::from_secs(3600)).expect("a presigning config");
    let mut paths = Vec::new();
    let mut headers = Vec::new();
    for key in keys {
        let request = if put {
            s3.put_object().bucket(BUCKET).key(key).presigned(config.clone()).await.expect("a presigned PUT")
        } else {
            s3.get_object().bucket(BUCKET).key(key).presigned(config.clone()).await.expect("a presigned GET")
        };
        let uri = request.uri();
        let after_scheme = uri.find("://").map_or(0, |at| at + 3);
        paths.push(uri[after_scheme + uri[after_scheme..].find('/').unwrap_or(0)..].to_owned());
        headers = request
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
    }
    (paths, headers)
}

fn presigned_url<'a>(s3: &'a Client, key: &str, put: bool) -> impl Future<Output = String> + 'a {
    let key = key.to_owned();
    async move {
        let config = PresigningConfig::expires_in(Duration::from_secs(3600)).expect("a presigning config");
        let request = if put {
            s3.put_object().bucket(BUCKET).key(key).presigned(config).await.expect("a presigned PUT")
        } else {
            s3.get_object().bucket(BUCKET).key(key).presigned(config).await.expect("a presigned GET")
        };
        request.uri().to_owned()
    }
}

// ---- large objects ----

/// One large transfer: bytes moved, time, the server's memory meanwhile.
#[derive(Debug, Clone, Default)]
struct Transfer {
    mb_per_s: f64,
    seconds: f64,
    /// The server process's CPU time during the transfer.
    cpu_seconds: f64,
    memory: Memory,
    error: Option<String>,
}

async fn transfer<Fut>(pid: u32, expected: usize, run: Fut) -> Transfer
where
    Fut: Future<Output = Result<usize, String>>,
{
    let sampler = RssSampler::start(pid);
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let result = run.await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds(pid) - cpu_before;
    let memory = sampler.finish().await;
    let (mb_per_s, error) = match result {
        Ok(bytes) if bytes == expected => (bytes as f64 / seconds / MB, None),
        Ok(bytes) => (0.0, Some(format!("moved {bytes} bytes of {expected}"))),
        Err(error) => (0.0, Some(error)),
    };
    Transfer { mb_per_s, seconds, cpu_seconds, memory, error }
}

/// The median run by throughput (failed runs count as 0 MB/s).
fn median(mut runs: Vec<Transfer>) -> Transfer {
    runs.sort_by(|a, b| a.mb_per_s.total_cmp(&b.mb_per_s));
    runs[runs.len() / 2].clone()
}

async fn count_sdk_body(got: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Result<usize, String> {
    let mut body = got.body;
    let mut total = 0;
    while let Some(chunk) = body.try_next().await.map_err(|error| error.to_string())? {
        total += chunk.len();
    }
    Ok(total)
}

async fn count_http_body(response: reqwest::Response) -> Result<usize, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{status}: {}", response.text().await.unwrap_or_default()));
    }
    let mut stream = response.bytes_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.map_err(|error| error.to_string())?.len();
    }
    Ok(total)
}

async fn http_put(http: &reqwest::Client, url: &str, body: Bytes) -> Result<usize, String> {
    let length = body.len();
    let response = http.put(url).body(body).send().await.map_err(|error| error.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(length)
    } else {
        Err(format!("{status}: {}", response.text().await.unwrap_or_default()))
    }
}

/// 1 GiB in 16 MiB parts with CRC32s, `PARTS_IN_FLIGHT` at a time, as a
/// transfer manager sends it.
async fn multipart_upload(s3: &Client, key: &str, data: &Bytes) -> Result<usize, String> {
    let upload = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .map_err(sdk_error)?;
    let upload_id = upload.upload_id().unwrap_or_default().to_owned();
    let per_buffer = data.len() / PART;
    let parts: Vec<CompletedPart> = futures::stream::iter(0..HUGE_PARTS)
        .map(|index| {
            let (s3, upload_id) = (s3.clone(), upload_id.clone());
            let start = (index % per_buffer) * PART;
            let body = data.slice(start..start + PART);
            let key = key.to_owned();
            async move {
                let part = s3
                    .upload_part()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(index as i32 + 1)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok::<_, String>(
                    CompletedPart::builder()
                        .part_number(index as i32 + 1)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                        .build(),
                )
            }
        })
        .buffered(PARTS_IN_FLIGHT)
        .try_collect()
        .await?;
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(HUGE)
}

// ---- one server ----

#[derive(Debug, Default)]
struct Figures {
    /// Label → closed-loop load.
    small: Vec<(String, Load)>,
    /// Label → median large transfer, and every run's MB/s.
    large: Vec<(String, Transfer, Vec<f64>)>,
    rss_idle_kib: u64,
}

impl Figures {
    fn small(&self, label: &str) -> Option<&Load> {
        self.small.iter().find(|(l, _)| l == label).map(|(_, load)| load)
    }

    fn large(&self, label: &str) -> Option<&Transfer> {
        self.large.iter().find(|(l, _, _)| l == label).map(|(_, transfer, _)| transfer)
    }
}

fn print_load(server: &str, label: &str, load: &Load) {
    println!(
        "{server:<12} {label:<34} {:>8.0} ops/s  p50 {:>7.2}  p99 {:>7.2}  p99.9 {:>7.2}  max {:>8.2} ms  ({} ok, {} errors, {} retries)",
        load.per_second,
        ms(load.p50),
        ms(load.p99),
        ms(load.p999),
        ms(load.max),
        load.requests,
        load.errors,
        load.retries
    );
    if let Some(error) = &load.first_error {
        println!("{:<12}   first error: {}", "", error.chars().take(400).collect::<String>());
    }
}

fn print_transfer(server: &str, label: &str, transfer: &Transfer) {
    println!(
        "{server:<12} {label:<34} {:>8.1} MB/s  ({:.2} s, server CPU {:.2} s)  RSS {:.0} → peak {:.0} MiB (+{:.0}){}",
        transfer.mb_per_s,
        transfer.seconds,
        transfer.cpu_seconds,
        transfer.memory.before_kib as f64 / 1024.0,
        transfer.memory.peak_kib as f64 / 1024.0,
        transfer.memory.peak_growth_mib(),
        transfer.memory.high_water_kib.map(|kib| format!(", VmHWM {:.0} MiB", kib as f64 / 1024.0)).unwrap_or_default(),
    );
    if let Some(error) = &transfer.error {
        println!("{:<12}   error: {}", "", error.chars().take(400).collect::<String>());
    }
}

struct Run<'a> {
    seconds: u64,
    large_runs: usize,
    wrk: &'a Path,
    scratch: &'a Path,
    data: &'a Bytes,
    data_file: &'a Path,
}

async fn bench_server(server: &str, url: &str, pid: u32, run: &Run<'_>) -> Figures {
    let (s3, attempts) = counted_client(url);
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("an HTTP client");
    let mut figures = Figures::default();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap_or_else(|error| panic!("{server}: {}", sdk_error(error)));
    let small_body = pseudo_random(SMALL, 42);
    let preloads: Vec<Result<(), String>> = futures::stream::iter(0..PRELOADED)
        .map(|i| {
            let (s3, body) = (s3.clone(), small_body.clone());
            async move { put_small(&s3, format!("pre/{i}"), body).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    if let Some(Err(error)) = preloads.iter().find(|result| result.is_err()) {
        panic!("{server}: preloading failed: {error}");
    }
    figures.rss_idle_kib = tree_rss_kib(pid);
    let tree = process_tree(pid);
    println!(
        "{server:<12} idle after {PRELOADED} PUTs: {} process(es), RSS {} in all, {} the server process itself",
        tree.len(),
        mib(figures.rss_idle_kib),
        mib(status_kib(pid, "VmRSS:").unwrap_or(0))
    );

    // 1 and 2: small objects with the SDK.
    for clients in CLIENTS {
        for operation in ["PutObject", "GetObject"] {
            let label = format!("{operation} 4 KiB, SDK, {clients} client{}", if clients == 1 { "" } else { "s" });
            let before = attempts.count();
            let s3 = s3.clone();
            let body = small_body.clone();
            let mut load = if operation == "PutObject" {
                let tag = clients;
                run_load(clients, run.seconds, move |i| {
                    let (s3, body) = (s3.clone(), body.clone());
                    async move { put_small(&s3, format!("put/{tag}/{i}"), body).await }
                })
                .await
            } else {
                run_load(clients, run.seconds, move |i| {
                    let s3 = s3.clone();
                    async move { get_small(&s3, format!("pre/{}", i % PRELOADED)).await }
                })
                .await
            };
            load.retries = (attempts.count() - before).saturating_sub(load.requests + load.errors);
            print_load(server, &label, &load);
            figures.small.push((label, load));
        }
    }

    // 1: small objects from wrk on presigned URLs.
    let get_keys: Vec<String> = (0..PRELOADED).map(|i| format!("pre/{i}")).collect();
    let put_keys: Vec<String> = (0..PRESIGNED_PUT_KEYS).map(|i| format!("presigned/{i}")).collect();
    let (get_paths, get_headers) = presigned(&s3, &get_keys, false).await;
    let (put_paths, put_headers) = presigned(&s3, &put_keys, true).await;
    let get_script = run.scratch.join(format!("{server}-get.lua"));
    let put_script = run.scratch.join(format!("{server}-put.lua"));
    std::fs::write(&get_script, wrk_script("GET", &get_paths, &get_headers, false)).expect("a wrk script");
    std::fs::write(&put_script, wrk_script("PUT", &put_paths, &put_headers, true)).expect("a wrk script");
    'wrk: for connections in CLIENTS {
        for (operation, script) in [("GET", &get_script), ("PUT", &put_script)] {
            let label = format!("{operation} 4 KiB, wrk presigned, {connections} conn");
            match wrk(run.wrk, script, connections, run.seconds, url).await {
                Some(load) => {
                    print_load(server, &label, &load);
                    figures.small.push((label, load));
                }
                None => {
                    println!("({} did not run or printed no result: the wrk rows are skipped)", run.wrk.display());
                    break 'wrk;
                }
            }
        }
    }

    // 3: one large object at a time, single stream, with the memory meanwhile.
    let mut large = |label: &str, runs: Vec<Transfer>| {
        let all: Vec<f64> = runs.iter().map(|run| run.mb_per_s).collect();
        for transfer in runs.iter().filter(|transfer| transfer.error.is_some()) {
            print_transfer(server, &format!("{label} (failed run)"), transfer);
        }
        let chosen = median(runs);
        print_transfer(server, label, &chosen);
        println!("{:<12}   runs: {}", "", all.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(", "));
        figures.large.push((label.to_owned(), chosen, all));
    };
    let mut runs = Vec::new();
    for n in 0..run.large_runs {
        let body = ByteStream::from(run.data.clone());
        runs.push(
            transfer(pid, LARGE, async {
                s3.put_object()
                    .bucket(BUCKET)
                    .key(format!("large/sdk-memory/{n}"))
                    .body(body)
                    .send()
                    .await
                    .map(|_| LARGE)
                    .map_err(sdk_error)
            })
            .await,
        );
    }
    large("PUT 256 MiB, SDK, from memory", runs);
    let mut runs = Vec::new();
    for n in 0..run.large_runs {
        let body = ByteStream::from_path(run.data_file).await.expect("the 256 MiB file");
        runs.push(
            transfer(pid, LARGE, async {
                s3.put_object()
                    .bucket(BUCKET)
                    .key(format!("large/sdk-file/{n}"))
                    .body(body)
                    .send()
                    .await
                    .map(|_| LARGE)
                    .map_err(sdk_error)
            })
            .await,
        );
    }
    large("PUT 256 MiB, SDK, from a file", runs);
    let mut runs = Vec::new();
    for n in 0..run.large_runs {
        let url = presigned_url(&s3, &format!("large/presigned/{n}"), true).await;
        runs.push(transfer(pid, LARGE, http_put(&http, &url, run.data.clone())).await);
    }
    large("PUT 256 MiB, presigned, reqwest", runs);
    let mut runs = Vec::new();
    for _ in 0..run.large_runs {
        runs.push(
            transfer(pid, LARGE, async {
                let got = s3.get_object().bucket(BUCKET).key("large/sdk-memory/0").send().await.map_err(sdk_error)?;
                count_sdk_body(got).await
            })
            .await,
        );
    }
    large("GET 256 MiB, SDK", runs);
    let mut runs = Vec::new();
    let url = presigned_url(&s3, "large/sdk-memory/0", false).await;
    for _ in 0..run.large_runs {
        runs.push(
            transfer(pid, LARGE, async {
                count_http_body(http.get(&url).send().await.map_err(|error| error.to_string())?).await
            })
            .await,
        );
    }
    large("GET 256 MiB, presigned, reqwest", runs);

    // 4: 1 GiB up and down.
    let upload = transfer(pid, HUGE, multipart_upload(&s3, "huge", run.data)).await;
    large("PUT 1 GiB, SDK multipart", vec![upload]);
    let url = presigned_url(&s3, "huge", false).await;
    let download = transfer(pid, HUGE, async {
        count_http_body(http.get(&url).send().await.map_err(|error| error.to_string())?).await
    })
    .await;
    large("GET 1 GiB, presigned, reqwest", vec![download]);
    figures
}

fn argument(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs <= 0.0 { "–".into() } else { format!("{:.1}×", ours / theirs) }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = argument(&args, "--seconds", 5).max(1);
    let large_runs = argument(&args, "--large-runs", 3).max(1) as usize;
    let wrk_binary =
        PathBuf::from(args.iter().position(|a| a == "--wrk").and_then(|i| args.get(i + 1)).map_or("wrk", |v| v));
    let moto = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());

    let scratch = tempfile::tempdir().expect("a scratch directory");
    let state_dir = scratch.path().join("state");
    let nubo = Nubo::up_with(&state_dir, &[("NUBO_LOG", "warn")]).await;
    let nubo_url = nubo.http_url(ServiceName::Storage);
    let (mut moto_child, moto_url) = start_moto(&moto).await;
    let moto_pid = moto_child.id().expect("moto_server's pid");

    let data = pseudo_random(LARGE, 7);
    let data_file = scratch.path().join("large.bin");
    // Synced, so its writeback never lands in the middle of a measurement
    // (an fsync of nubo's would wait behind it).
    let file = std::fs::File::create(&data_file).expect("the 256 MiB file");
    std::io::Write::write_all(&mut &file, &data).expect("the 256 MiB file");
    file.sync_all().expect("the 256 MiB file synced");

    println!("# nubo S3 benchmark");
    println!();
    println!(
        "{} cores; nubo {} (pid {}), moto_server {moto} (pid {moto_pid}); {seconds} s per small-object measurement, {large_runs} run(s) per large transfer (median)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        nubo_e2e::nubo_binary().display(),
        nubo.process.id(),
    );
    println!("load average before: {}", load_average());
    let disk_before = dd_write(&state_dir);
    let loopback = loopback_bandwidth().await;
    println!(
        "disk: dd bs=1M count=1024 conv=fdatasync in {}: {}; loopback, one TCP stream: {loopback:.0} MB/s",
        state_dir.display(),
        disk_before.map_or("dd failed".into(), |v| format!("{v:.0} MB/s"))
    );
    println!();

    let run =
        Run { seconds, large_runs, wrk: &wrk_binary, scratch: scratch.path(), data: &data, data_file: &data_file };
    let ours = bench_server("nubo", &nubo_url, nubo.process.id(), &run).await;
    println!();
    let theirs = bench_server("moto_server", &moto_url, moto_pid, &run).await;
    // moto_server's spooled objects are unsynced temporary files: gone with
    // it, so their writeback does not share the disk with the second dd.
    let _ = moto_child.kill().await;
    let disk_after = dd_write(&state_dir);
    println!();
    println!("load average after: {}", load_average());
    println!("disk again after the run: {}", disk_after.map_or("dd failed".into(), |v| format!("{v:.0} MB/s")));
    let disks: Vec<f64> = [disk_before, disk_after].into_iter().flatten().collect();
    let disk = if disks.is_empty() { 0.0 } else { disks.iter().sum::<f64>() / disks.len() as f64 };

    println!();
    println!("## Small objects (4 KiB), ops/s (p50 / p99 ms)");
    println!();
    println!("| measurement | nubo | moto_server | nubo ÷ moto |");
    println!("|---|---|---|---|");
    for (label, load) in &ours.small {
        let peer = theirs.small(label);
        let cell = |load: &Load| {
            let errors = if load.errors + load.retries > 0 {
                format!(", {} errors, {} retries", load.errors, load.retries)
            } else {
                String::new()
            };
            format!("{:.0} ({:.2} / {:.2}{errors})", load.per_second, ms(load.p50), ms(load.p99))
        };
        println!(
            "| {label} | {} | {} | {} |",
            cell(load),
            peer.map_or("–".into(), cell),
            peer.map_or("–".into(), |peer| ratio(load.per_second, peer.per_second))
        );
    }
    println!();
    println!(
        "## Large objects, single stream, MB/s (median of {large_runs}); disk {disk:.0} MB/s (dd, fdatasync), loopback {loopback:.0} MB/s"
    );
    println!();
    println!(
        "| transfer | nubo | moto_server | nubo ÷ moto | nubo ÷ disk | nubo ÷ loopback | server CPU s, nubo / moto |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, transfer, _) in &ours.large {
        let peer = theirs.large(label);
        println!(
            "| {label} | {:.0} | {} | {} | {:.0}% | {:.0}% | {:.2} / {} |",
            transfer.mb_per_s,
            peer.map_or("–".into(), |peer| format!("{:.0}", peer.mb_per_s)),
            peer.map_or("–".into(), |peer| ratio(transfer.mb_per_s, peer.mb_per_s)),
            transfer.mb_per_s / disk.max(f64::MIN_POSITIVE) * 100.0,
            transfer.mb_per_s / loopback * 100.0,
            transfer.cpu_seconds,
            peer.map_or("–".into(), |peer| format!("{:.2}", peer.cpu_seconds)),
        );
    }
    println!();
    println!("## Resident memory of the server's process tree (sampled every 10 ms)");
    println!();
    println!("| while | nubo: before → peak (VmHWM) | moto_server: before → peak (VmHWM) | nubo ÷ moto (peak) |");
    println!("|---|---|---|---|");
    let cell = |memory: &Memory| {
        format!(
            "{} → {} ({})",
            mib(memory.before_kib),
            mib(memory.peak_kib),
            memory.high_water_kib.map_or("–".into(), mib)
        )
    };
    println!(
        "| idle, {PRELOADED} small objects stored | {} | {} | {} |",
        mib(ours.rss_idle_kib),
        mib(theirs.rss_idle_kib),
        ratio(ours.rss_idle_kib as f64, theirs.rss_idle_kib as f64)
    );
    for (label, transfer, _) in &ours.large {
        let peer = theirs.large(label);
        println!(
            "| {label} | {} | {} | {} |",
            cell(&transfer.memory),
            peer.map_or("–".into(), |peer| cell(&peer.memory)),
            peer.map_or("–".into(), |peer| ratio(transfer.memory.peak_kib as f64, peer.memory.peak_kib as f64))
        );
    }

    let log = nubo.process.log();
    let complaints: Vec<&str> =
        log.lines().filter(|line| line.contains("WARN") || line.contains("ERROR") || line.contains("panic")).collect();
    println!();
    if complaints.is_empty() {
        println!("nubo logged no warning or error during the run.");
    } else {
        println!("nubo logged {} warnings or errors; the first ones:", complaints.len());
        for line in complaints.iter().take(20) {
            println!("  {}", line.chars().take(300).collect::<String>());
        }
    }
}
