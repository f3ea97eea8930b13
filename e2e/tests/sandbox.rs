//! Execution environments' sandbox, tested the way it is meant to hold: a
//! function does each forbidden thing (reading another function's code or
//! the state directory, dialing the internal gRPC plane, forking without
//! end, allocating past its memory size, writing outside `/tmp`,
//! unsharing namespaces) and is stopped, reported as Lambda reports it,
//! and followed by an invocation that succeeds.
//!
//! The sandbox needs root. Run as another user the suite checks instead
//! that nubo says, at start-up, that the sandbox is off.

use aws_sdk_lambda::{
    Client,
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use nubo_e2e::{Nubo, Ports, ROLE, ServiceName, lambda_client, package, package_of};
use serde_json::{Value, json};

async fn create(lambda: &Client, name: &str, zip: Vec<u8>, memory_mb: i32) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .memory_size(memory_mb)
        .timeout(10)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"));
}

async fn invoke(lambda: &Client, name: &str, payload: Value) -> (Option<String>, Value) {
    nubo_e2e::invoke_json(lambda, name, &payload).await
}

/// Invokes and expects success.
async fn run(lambda: &Client, name: &str, payload: Value) -> Value {
    let (error, answer) = invoke(lambda, name, payload.clone()).await;
    assert_eq!(error, None, "{payload} failed: {answer}");
    answer
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The first file named `name` under `directory`.
fn find(directory: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(directory).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_sees_only_its_own_code_and_system_files() {
    if !is_root() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("state");
    let nubo = Nubo::up(&state_dir).await;
    assert!(nubo.process.log().contains("function sandbox: own uid per environment"), "{}", nubo.process.log());
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    create(
        &lambda,
        "other",
        package_of(&[("app.py", "def handler(e, c):\n    return 'other'\n"), ("secret.txt", "s3cr3t")]),
        128,
    )
    .await;
    assert_eq!(run(&lambda, "other", json!({})).await, "other");
    create(&lambda, "prober", package("functions/sandbox"), 128).await;

    let look = run(&lambda, "prober", json!({ "do": "look" })).await;
    let uid = look["uid"].as_u64().unwrap();
    assert!(uid >= 200_000, "a uid of its own, not nubo's: {look}");
    assert_eq!(look["gid"].as_u64(), Some(uid), "{look}");
    assert_eq!(look["task"], json!(["app.py"]), "only its own code in /var/task");
    assert_eq!(look["processes"], json!([1]), "a pid namespace of its own: {look}");
    assert_eq!(look["runtimeApi"], "127.0.0.1:9001", "the Runtime API where Lambda has it");
    assert_eq!(look["cwd"], "/var/task");
    // Only what Lambda sets: nothing of nubo's own environment.
    let environment: Vec<&str> = look["environment"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(environment.contains(&"AWS_LAMBDA_FUNCTION_NAME") && environment.contains(&"_HANDLER"), "{environment:?}");
    assert!(!environment.iter().any(|name| name.starts_with("NUBO") || name.starts_with("CARGO")), "{environment:?}");
    let root: Vec<&str> = look["root"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!root.contains(&"root") && !root.contains(&"home") && !root.contains(&"work"), "{root:?}");

    // The other function's unpacked code and nubo's database, by the paths
    // they have on the host.
    let secret = find(&state_dir, "secret.txt").expect("the other function's code is unpacked on the host");
    let database = find(&state_dir, "data.redb").expect("the embedded engine's file");
    let paths = [secret.display().to_string(), database.display().to_string(), "/etc/shadow".to_owned()];
    let read = run(&lambda, "prober", json!({ "do": "read", "paths": paths })).await;
    assert_eq!(read[&paths[0]], json!({ "ok": false, "error": "ENOENT" }), "{read}");
    assert_eq!(read[&paths[1]], json!({ "ok": false, "error": "ENOENT" }), "{read}");
    assert_eq!(read[&paths[2]]["ok"], false, "{read}");
    let listed =
        run(&lambda, "prober", json!({ "do": "list", "paths": [state_dir.display().to_string(), "/var"] })).await;
    assert_eq!(listed[state_dir.display().to_string()]["error"], "ENOENT", "{listed}");
    assert_eq!(listed["/var"]["value"], json!(["runtime", "task"]), "{listed}");

    // Writes: only /tmp is writable.
    let targets = ["/var/task/app.py", "/var/task/new", "/etc/nubo", "/new", "/usr/nubo", "/tmp/fine"];
    let written = run(&lambda, "prober", json!({ "do": "write", "paths": targets })).await;
    for target in &targets[..5] {
        assert_eq!(written[target]["ok"], false, "{target} was writable: {written}");
    }
    assert_eq!(written["/tmp/fine"]["ok"], true, "{written}");

    // No namespaces of its own making.
    let unshare = run(&lambda, "prober", json!({ "do": "mount" })).await;
    assert_eq!(unshare, json!({ "unshare": -1, "errno": "EPERM" }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_reaches_nubos_endpoints_but_not_the_internal_plane() {
    if !is_root() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    // Known gRPC ports (`nubo up` binds them on port 0 otherwise).
    let requested: std::collections::BTreeMap<_, _> =
        ServiceName::ALL.into_iter().map(|service| (service, Ports::free(service))).collect();
    let ports: Vec<u16> = requested.values().map(|ports| ports.grpc).collect();
    let nubo = Nubo::up_on(&state.path().join("state"), requested).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    create(&lambda, "prober", package("functions/sandbox"), 128).await;

    let connected = run(&lambda, "prober", json!({ "do": "connect", "ports": ports })).await;
    for port in &ports {
        assert_eq!(connected[port.to_string()], json!({ "ok": false, "error": "ECONNREFUSED" }), "{connected}");
    }
    // The edge, through AWS_ENDPOINT_URL, as a handler's SDK calls go.
    assert_eq!(run(&lambda, "prober", json!({ "do": "endpoint" })).await, json!({ "ok": true, "value": 200 }));
    // The environment's Runtime API is on its own loopback, not the host's.
    let outside = reqwest::Client::new()
        .get("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next")
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await;
    assert!(
        outside.as_ref().map_or(true, |response| !response.headers().contains_key("lambda-runtime-aws-request-id")),
        "the host reached an environment's Runtime API"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_and_process_limits_hold_and_the_next_invocation_succeeds() {
    if !is_root() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    // Room for a thousand small processes; the process limit stops them.
    create(&lambda, "forker", package("functions/sandbox"), 1024).await;
    create(&lambda, "prober", package("functions/sandbox"), 128).await;

    let forked = run(&lambda, "forker", json!({ "do": "fork", "count": 10_000 })).await;
    let count = forked["forked"].as_u64().unwrap();
    assert!((100..1024).contains(&count), "Lambda's 1,024 processes stop a fork bomb: {forked}");
    assert_eq!(forked["error"], "EAGAIN", "{forked}");

    let (error, answer) = invoke(&lambda, "prober", json!({ "do": "allocate", "megabytes": 400 })).await;
    assert_eq!(error.as_deref(), Some("Unhandled"), "{answer}");
    assert_eq!(answer["errorType"], "Runtime.OutOfMemory", "{answer}");
    let message = answer["errorMessage"].as_str().unwrap();
    assert!(message.contains("Runtime exited with error: signal: killed"), "{message}");

    // A fresh environment, with room to fork and to allocate within limits.
    assert_eq!(run(&lambda, "prober", json!({ "do": "allocate", "megabytes": 32 })).await, 32);
    let forked = run(&lambda, "prober", json!({ "do": "fork", "count": 5 })).await;
    assert_eq!(forked["forked"], 5, "{forked}");
    let log = nubo.process.log();
    let report = log.lines().rfind(|line| line.contains("REPORT RequestId")).unwrap();
    let used: u64 =
        report.split("Max Memory Used: ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap().parse().unwrap();
    assert!((32..=128).contains(&used), "Max Memory Used comes from the environment's cgroup: {report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_says_which_protections_are_active() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_FUNCTIONS__SANDBOX__ENABLED", "false")]).await;
    let log = nubo.process.log();
    assert!(log.contains("function sandbox: off (functions.sandbox.enabled = false)"), "{log}");
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    create(&lambda, "prober", package("functions/sandbox"), 128).await;
    let look = run(&lambda, "prober", json!({ "do": "look" })).await;
    assert_eq!(look["uid"].as_u64().map(|uid| uid as u32), Some(nix::unistd::geteuid().as_raw()), "{look}");
    if is_root() {
        drop(nubo);
        let nubo = Nubo::up(&state.path().join("second")).await;
        let log = nubo.process.log();
        let line = log.lines().find(|line| line.contains("function sandbox:")).unwrap_or_else(|| panic!("{log}"));
        for protection in ["own uid", "mount+pid+ipc+uts namespaces", "network namespace", "memory+pids", "seccomp"] {
            assert!(line.contains(protection), "{protection} is not active on a root host: {line}");
        }
    } else {
        let nubo = Nubo::up(&state.path().join("second")).await;
        assert!(nubo.process.log().contains("function sandbox: off (nubo is not root)"), "{}", nubo.process.log());
    }
}
