//! Functions' logs, kept and read back: `nubo logs` (and `-f`) prints a
//! function's lines with their START/END/REPORT lines, boto3's CloudWatch
//! Logs client filters them, and an overlong line is cut at CloudWatch's
//! 256 KB.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use nubo_e2e::{Nubo, ROLE, ServiceName, lambda_client, nubo_binary, package_of, python_tools};
use serde_json::Value;

const CHATTY: &str = r#"
def handler(event, context):
    print("marker", event["n"])
    if event.get("long"):
        print("L" * 300000)
    return event["n"]
"#;

fn nubo_logs(edge: &str, args: &[&str]) -> Command {
    let mut command = Command::new(nubo_binary());
    command
        .arg("logs")
        .args(args)
        .env("AWS_ENDPOINT_URL", edge)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    command
}

/// Runs `nubo logs` until its output contains `wanted` (lines are kept a
/// moment after the invocation, in batches).
async fn logs_containing(edge: &str, function: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = tokio::process::Command::from(nubo_logs(edge, &[function])).output().await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "nubo logs failed: {}", String::from_utf8_lossy(&output.stderr));
        if stdout.contains(wanted) || Instant::now() > deadline {
            return stdout;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_functions_log_is_kept_and_read_back() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let edge = nubo.edge_url();
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    lambda
        .create_function()
        .function_name("chatty")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", CHATTY)]))).build())
        .send()
        .await
        .unwrap();
    for n in 1..=3 {
        let payload = if n == 2 { format!(r#"{{"n": {n}, "long": true}}"#) } else { format!(r#"{{"n": {n}}}"#) };
        lambda.invoke().function_name("chatty").payload(Blob::new(payload)).send().await.unwrap();
    }

    let printed = logs_containing(&edge, "chatty", "marker 3").await;
    for wanted in ["marker 1", "marker 2", "marker 3", "START RequestId: ", "END RequestId: ", "REPORT RequestId: "] {
        assert!(printed.contains(wanted), "`{wanted}` not in\n{}", &printed[..printed.len().min(2000)]);
    }
    assert!(printed.contains("[$LATEST]"), "lines name their stream");
    let long = printed.lines().find(|line| line.contains("LLLL")).expect("the long line");
    let ls = long.rsplit(' ').next().unwrap().len();
    assert_eq!(ls, 256 * 1024, "a line is cut at 256 KB");

    // boto3's CloudWatch Logs client, through the edge.
    let script = format!(
        "import boto3, json\nl = boto3.client('logs', endpoint_url='{edge}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\nevents = l.filter_log_events(logGroupName='/aws/lambda/chatty', filterPattern='\"marker 2\"')['events']\ngroups = l.describe_log_groups(logGroupNamePrefix='/aws/lambda/')['logGroups']\nstreams = l.describe_log_streams(logGroupName='/aws/lambda/chatty')['logStreams']\nprint(json.dumps({{'events': [e['message'] for e in events], 'groups': [g['logGroupName'] for g in groups], 'streams': len(streams)}}))\n"
    );
    let boto = Command::new(python_tools().join("python")).args(["-c", &script]).output().unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["events"], serde_json::json!(["marker 2"]));
    assert_eq!(answer["groups"], serde_json::json!(["/aws/lambda/chatty"]));
    assert_eq!(answer["streams"], 1);

    // `-f` prints lines of later invocations as they come.
    let mut follow = nubo_logs(&edge, &["chatty", "--follow", "--since", "1m"]).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    lambda.invoke().function_name("chatty").payload(Blob::new(r#"{"n": 42}"#)).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        if let Ok(line) = receiver.recv_timeout(Duration::from_millis(200)) {
            seen = line.contains("marker 42");
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen, "nubo logs -f printed the new invocation's line");
}
