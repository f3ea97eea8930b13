//! Differential test: the same S3 request sequences, valid and invalid, sent
//! to nubo and to moto's server (`moto_server`, from PyPI) side by side.
//! `fixtures/s3/differential.py` runs every case on both, each in fresh
//! buckets, and prints both outcomes: the status, the S3 error `<Code>` and
//! the parts of the answer that matter (ids, dates and owners normalized).
//! Every known difference is listed with its reason, saying which side
//! AWS's documentation agrees with, in `fixtures/s3/differential-known.json`;
//! the test fails on any other difference, and when a listed difference has
//! disappeared, so the list stays true.

use std::{
    collections::BTreeMap,
    process::Stdio,
    time::{Duration, Instant},
};

use nubo_e2e::{Nubo, ServiceName, fixture, free_port, path_with_python_tools, python_tools};
use serde_json::Value;

/// One case's outcomes on both servers.
#[derive(Debug, serde::Deserialize)]
struct Sides {
    nubo: Value,
    peer: Value,
}

/// moto's server, killed when dropped.
struct Moto(tokio::process::Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// Starts `moto_server` on a free loopback port and waits until it answers.
async fn start_moto(log: &std::path::Path) -> (Moto, String) {
    let binary = python_tools().join("moto_server");
    assert!(binary.exists(), "{} is missing: run e2e/install-test-deps.sh (make test does)", binary.display());
    let port = free_port();
    let log_file = std::fs::File::create(log).expect("a log file");
    let child = tokio::process::Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("a log file"))
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server starts");
    let mut moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client.get(format!("{url}/moto-api/")).send().await.is_ok() {
            return (moto, url);
        }
        let exited = matches!(moto.0.try_wait(), Ok(Some(_)));
        if exited || Instant::now() > deadline {
            panic!("moto_server never answered on {url}\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nubo_answers_like_moto() {
    let known: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(fixture("s3/differential-known.json")).unwrap()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (moto, moto_url) = start_moto(&state.path().join("moto.log")).await;
    let nubo = Nubo::up_with(&state.path().join("state"), &[]).await;
    let nubo_url = nubo.http_url(ServiceName::Storage);

    let run = tokio::process::Command::new("python3")
        .arg(fixture("s3/differential.py"))
        .arg(&nubo_url)
        .arg(&moto_url)
        .env("PATH", path_with_python_tools())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the differential script finishes within 10 minutes")
        .expect("python3 runs the differential script");
    drop(nubo);
    drop(moto);
    assert!(
        output.status.success(),
        "the differential script failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let outcomes: BTreeMap<String, Sides> =
        serde_json::from_slice(&output.stdout).expect("the script prints one JSON object");
    assert!(outcomes.len() > 200, "only {} cases ran", outcomes.len());

    let mut crashed = Vec::new();
    let mut unexpected = Vec::new();
    let mut vanished = Vec::new();
    for (name, sides) in &outcomes {
        for (side, outcome) in [("nubo", &sides.nubo), ("moto", &sides.peer)] {
            if let Some(error) = outcome.get("crashed") {
                crashed.push(format!("{name} on {side}: {error}"));
            }
        }
        let differs = sides.nubo != sides.peer;
        match (differs, known.contains_key(name)) {
            (true, false) => unexpected.push(format!("{name}:\n  nubo: {}\n  moto: {}", sides.nubo, sides.peer)),
            (false, true) => vanished.push(format!("{name}: both {}", sides.nubo)),
            _ => {}
        }
    }
    for name in known.keys() {
        assert!(outcomes.contains_key(name), "the known difference {name} names no case");
    }
    assert!(crashed.is_empty(), "cases crashed in the script:\n{}", crashed.join("\n"));
    assert!(unexpected.is_empty(), "{} unexplained differences:\n{}", unexpected.len(), unexpected.join("\n"));
    assert!(vanished.is_empty(), "listed differences that no longer differ:\n{}", vanished.join("\n"));
}
