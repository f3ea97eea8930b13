//! Differential test: the same DynamoDB requests, valid and invalid, sent to
//! nubo and to dynalite (built to reproduce DynamoDB's validation and error
//! messages) side by side; status, error `__type` and message, and the
//! item-level answers must agree. Every known difference is listed with its
//! reason in `fixtures/dynamodb/differential-known.json`, and the test also
//! fails when a listed difference has disappeared, so the list stays true.
//! The cases cover the expression API, the legacy parameters (`Expected`,
//! `AttributeUpdates`, `AttributesToGet`, `KeyConditions`, `QueryFilter`,
//! `ScanFilter`, `ConditionalOperator`) and queries and scans of global and
//! local secondary indexes.

use std::{collections::BTreeMap, process::Stdio, time::Duration};

use nubo_e2e::{Nubo, ServiceName, fixture, sigv4_headers};
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    action: String,
    body: Value,
}

/// What is compared of an answer.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: u16,
    body: Value,
}

async fn send(client: &reqwest::Client, url: &str, action: &str, body: &Value) -> Outcome {
    let host = url.trim_start_matches("http://").to_owned();
    let payload = body.to_string();
    let target = format!("DynamoDB_20120810.{action}");
    let headers =
        [("host", host.as_str()), ("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target.as_str())];
    let mut request = client.post(url).body(payload.clone());
    for (name, value) in headers.iter().skip(1) {
        request = request.header(*name, *value);
    }
    for (name, value) in sigv4_headers("POST", url, &headers, payload.as_bytes(), "dynamodb") {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Outcome { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

/// The part of an answer both servers must agree on.
fn comparable(action: &str, outcome: &Outcome) -> Value {
    if outcome.status != 200 {
        let kind = outcome.body["__type"].as_str().unwrap_or_default();
        let kind = kind.rsplit('#').next().unwrap_or(kind);
        let message =
            outcome.body.get("message").or_else(|| outcome.body.get("Message")).cloned().unwrap_or(Value::Null);
        return serde_json::json!({ "status": outcome.status, "type": kind, "message": message });
    }
    let mut body = outcome.body.clone();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("ConsumedCapacity");
    }
    match action {
        // Table answers carry ids, times and states that legitimately differ.
        "CreateTable" | "DescribeTable" | "DeleteTable" => {
            let table = body.get("TableDescription").or_else(|| body.get("Table")).cloned().unwrap_or(Value::Null);
            serde_json::json!({
                "status": 200,
                "TableName": table["TableName"],
                "KeySchema": table["KeySchema"],
                "AttributeDefinitions": table["AttributeDefinitions"],
            })
        }
        // A Scan's order is the order of hashed partition keys, which
        // DynamoDB leaves unspecified: compare its items as a set.
        "Scan" => {
            if let Some(Value::Array(items)) = body.get_mut("Items") {
                items.sort_by_key(|item| item.to_string());
            }
            serde_json::json!({ "status": 200, "body": body })
        }
        _ => serde_json::json!({ "status": 200, "body": body }),
    }
}

struct Dynalite(tokio::process::Child);

impl Drop for Dynalite {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

async fn start_dynalite() -> (Dynalite, String) {
    let directory = fixture("../differential");
    assert!(
        directory.join("node_modules/dynalite").is_dir(),
        "dynalite is missing: run `npm install --prefix e2e/differential` (make test does)"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(directory.join("start-dynalite.js"))
        .arg("0")
        .current_dir(&directory)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts dynalite");
    let stdout = child.stdout.take().expect("dynalite's stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("dynalite prints its port")
        .expect("a line")
        .expect("a port");
    (Dynalite(child), format!("http://127.0.0.1:{}", port.trim()))
}

#[tokio::test(flavor = "multi_thread")]
async fn nubo_answers_like_dynalite() {
    let cases: Vec<Case> =
        serde_json::from_slice(&std::fs::read(fixture("dynamodb/differential.json")).unwrap()).unwrap();
    let known: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(fixture("dynamodb/differential-known.json")).unwrap()).unwrap();
    let (_dynalite, dynalite_url) = start_dynalite().await;
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), &[]).await;
    let nubo_url = nubo.http_url(ServiceName::Data);
    let client = reqwest::Client::new();

    let mut unexpected = Vec::new();
    let mut vanished = Vec::new();
    for case in &cases {
        let ours = comparable(&case.action, &send(&client, &nubo_url, &case.action, &case.body).await);
        let theirs = comparable(&case.action, &send(&client, &dynalite_url, &case.action, &case.body).await);
        let differs = ours != theirs;
        match (differs, known.contains_key(&case.name)) {
            (true, false) => unexpected.push(format!("{}:\n  nubo:     {ours}\n  dynalite: {theirs}", case.name)),
            (false, true) => vanished.push(case.name.clone()),
            _ => {}
        }
    }
    for name in known.keys() {
        assert!(cases.iter().any(|case| &case.name == name), "the known difference {name} names no case");
    }
    assert!(unexpected.is_empty(), "{} unexplained differences:\n{}", unexpected.len(), unexpected.join("\n"));
    assert!(vanished.is_empty(), "listed differences that no longer differ: {vanished:?}");
}
