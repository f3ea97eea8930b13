//! The cdn benchmark of SPEC §3 (cache hits ≥ Varnish's requests/s):
//! `nubo up` and Varnish (Debian, its default VCL, a malloc store) side by
//! side in one run, in front of the same origin (this process's hyper
//! server), both serving cache hits of a 1 KiB and a 100 KiB object to
//! `wrk`. nubo's distribution is made through the CloudFront API with the
//! CachingOptimized policy and compression off, so both caches send the
//! same bytes. Each size is measured `--repeats` times, alternating nubo
//! and Varnish, for `--seconds` each with `--connections` connections
//! from one wrk thread; requests/s, p99 and nubo ÷ Varnish are printed per
//! repeat and as the median.
//!
//! Placement: the machine's cores are shared. wrk runs one thread (one
//! core at most); the cache under test and the idle origin share the rest.
//! nubo runs every service of `nubo up`; Varnish runs its default two
//! thread pools. Neither is pinned.
//!
//! `make bench-cdn` builds nubo and this in release mode, installs
//! varnish and wrk from apt when missing, and runs it. Environment:
//! `NUBO_BIN`.

use std::{path::Path, time::Duration};

use nubo_e2e::{
    Nubo, ServiceName,
    cdn::{Origin, Resource, Varnish},
    cloudfront::{CACHING_OPTIMIZED, create, distribution, http_origin},
    cloudfront_client,
};

fn argument(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    per_second: f64,
    p99: Duration,
    errors: u64,
}

const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("cdn-bench %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"#;

/// Runs wrk against `url` with `host` as the Host header.
fn wrk(script: &Path, url: &str, seconds: u64, connections: u64) -> Load {
    let output = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "5s", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs (Debian: wrk)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("cdn-bench "))
        .unwrap_or_else(|| panic!("wrk printed no report: {stdout} {}", String::from_utf8_lossy(&output.stderr)));
    let numbers: Vec<f64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let [requests, duration_us, p99, status, other] = numbers[..] else { panic!("an unreadable report: {line}") };
    Load {
        per_second: (requests - status) / (duration_us / 1e6),
        p99: Duration::from_secs_f64(p99 / 1e6),
        errors: (status + other) as u64,
    }
}

/// A wrk script that sends `host` as the Host header and reports.
fn script(directory: &Path, name: &str, host: &str) -> std::path::PathBuf {
    let path = directory.join(format!("{name}.lua"));
    let text = format!("wrk.headers[\"Host\"] = \"{host}\"\n{WRK_REPORT}");
    std::fs::write(&path, text).expect("a wrk script");
    path
}

/// Fetches `url` once with `host`, so the object is cached before wrk runs,
/// and checks the cache answered it.
async fn warm(url: &str, host: &str, expected: usize) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..2 {
        let response = client.get(url).header("host", host).send().await.expect("the cache answers");
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.bytes().await.unwrap().len(), expected, "{url}");
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let seconds = argument("--seconds", 5);
    let repeats = argument("--repeats", 3);
    let connections = argument("--connections", 32);
    let directory = tempfile::tempdir().expect("a scratch directory");

    let objects = [("/1k.bin", 1024usize), ("/100k.bin", 100 * 1024)];
    let origin = Origin::start(objects.map(|(path, size)| {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        (path, Resource::cacheable("application/octet-stream", body, 3600))
    }))
    .await;

    let nubo = Nubo::up(&directory.path().join("nubo")).await;
    let cloudfront = cloudfront_client(&nubo.edge_url());
    let mut behavior = nubo_e2e::cloudfront::default_behavior("origin", CACHING_OPTIMIZED);
    behavior.compress = Some(false);
    let config =
        distribution("bench", vec![http_origin("origin", &origin.host(), origin.port())], behavior, vec![], &[])
            .build()
            .unwrap();
    let (_, domain) = create(&cloudfront, config).await;
    let nubo_url = nubo.http_url(ServiceName::Cdn);
    let varnish = Varnish::start(&directory.path().join("varnish"), origin.address);
    let varnish_url = format!("http://127.0.0.1:{}", varnish.port);
    let nubo_script = script(directory.path(), "nubo", &domain);
    let varnish_script = script(directory.path(), "varnish", "origin");

    println!(
        "cache hits, wrk 1 thread × {connections} connections, {seconds} s per run, {repeats} repeats (nubo, then Varnish)"
    );
    println!(
        "{:<10} {:>6} {:>14} {:>10} {:>14} {:>10} {:>8}",
        "object", "run", "nubo req/s", "nubo p99", "varnish req/s", "varnish p99", "ratio"
    );
    for (path, size) in objects {
        warm(&format!("{nubo_url}{path}"), &domain, size).await;
        warm(&format!("{varnish_url}{path}"), "origin", size).await;
        let (mut nubo_rates, mut varnish_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for run in 1..=repeats {
            let ours = wrk(&nubo_script, &format!("{nubo_url}{path}"), seconds, connections);
            let theirs = wrk(&varnish_script, &format!("{varnish_url}{path}"), seconds, connections);
            let ratio = ours.per_second / theirs.per_second;
            println!(
                "{:<10} {:>6} {:>14.0} {:>8.2}ms {:>14.0} {:>8.2}ms {:>7.2}×{}",
                path.trim_start_matches('/'),
                run,
                ours.per_second,
                ours.p99.as_secs_f64() * 1e3,
                theirs.per_second,
                theirs.p99.as_secs_f64() * 1e3,
                ratio,
                if ours.errors + theirs.errors > 0 {
                    format!("  ({} nubo errors, {} varnish errors)", ours.errors, theirs.errors)
                } else {
                    String::new()
                }
            );
            nubo_rates.push(ours.per_second);
            varnish_rates.push(theirs.per_second);
            ratios.push(ratio);
        }
        println!(
            "{:<10} {:>6} {:>14.0} {:>10} {:>14.0} {:>10} {:>7.2}×",
            path.trim_start_matches('/'),
            "median",
            median(&mut nubo_rates),
            "",
            median(&mut varnish_rates),
            "",
            median(&mut ratios)
        );
    }
    // One client, one request at a time: the latency a single viewer sees,
    // which concurrency would hide.
    println!("one client, 2,000 sequential hits of 1k.bin (reqwest, keep-alive):");
    for (name, url, host) in [
        ("nubo", format!("{nubo_url}/1k.bin"), domain.as_str()),
        ("varnish", format!("{varnish_url}/1k.bin"), "origin"),
    ] {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut latencies = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let started = std::time::Instant::now();
            let response = client.get(&url).header("host", host).send().await.expect("a hit");
            response.bytes().await.expect("its body");
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "  {name:<8} p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            at(0.5),
            at(0.99),
            latencies[latencies.len() - 1]
        );
    }
    assert_eq!(origin.hits("/1k.bin") + origin.hits("/100k.bin"), 4, "every measured request was a cache hit");
}
