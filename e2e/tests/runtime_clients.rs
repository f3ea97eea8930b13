//! AWS's four official runtime interface clients, unmodified, against
//! nubo's Lambda Runtime API: the python (`awslambdaric`, PyPI), nodejs
//! (`aws-lambda-ric`, npm), Go (`github.com/aws/aws-lambda-go`) and Rust
//! (`lambda_runtime`, crates.io) clients, each packaged as a user deploys a
//! custom runtime: a `provided.al2023` zip whose `bootstrap` starts the
//! client. Each handler answers with the event and context its client gave
//! it and a few of its environment variables, so the test compares them
//! with what the Lambda API said (request id, ARN, deadline, client
//! context); it also fails on request, answers past Lambda's 6 MB limit,
//! and (python, node) names a handler the package lacks, so the test sees
//! the client's error documents and how it takes the Runtime API's `413`
//! and `init/error`.
//!
//! The packages are built into `target/test-tools/runtime-clients` by
//! `e2e/runtime-clients.sh` (python, node, Go) and by cargo (Rust, a
//! workspace member); both reuse what they built before.

use std::path::{Path, PathBuf};

use aws_sdk_lambda::{
    Client,
    operation::RequestId as _,
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use base64::Engine as _;
use nubo_e2e::{Nubo, REGION, ROLE, ServiceName, lambda_client, package_directory};
use serde_json::{Value, json};

/// The function's timeout: the deadline a client reports is at most this
/// far ahead.
const TIMEOUT_SECS: i32 = 30;
/// Not the default, so the environment variable shows it was passed on.
const MEMORY_MB: i32 = 256;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn packages_dir() -> PathBuf {
    target_dir().join("test-tools/runtime-clients")
}

/// Builds (or finds built) the package of the python, node or Go client.
async fn scripted_package(client: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime-clients.sh");
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(client)
        .arg(packages_dir())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .expect("bash runs");
    assert!(output.status.success(), "{} {client} failed (see its output above)", script.display());
    let stdout = String::from_utf8(output.stdout).expect("a utf-8 path");
    PathBuf::from(stdout.lines().last().expect("the package directory").trim())
}

/// Builds the Rust client's `bootstrap` with cargo, into the workspace's
/// target directory, and puts it alone in a package directory.
async fn rust_package() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = tokio::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "nubo-rust-runtime-client", "--bin", "bootstrap", "--message-format=json"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .expect("cargo runs");
    assert!(output.status.success(), "cargo build -p nubo-rust-runtime-client failed (see its output above)");
    // The executable's path from cargo's own report, wherever the target
    // directory is.
    let executable = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "bootstrap")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo built the bootstrap executable");
    let package = packages_dir().join("rust/package");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::copy(&executable, package.join("bootstrap")).unwrap();
    package
}

/// One invocation's answer as the Lambda API returned it.
#[derive(Debug)]
struct Answer {
    request_id: String,
    function_error: Option<String>,
    body: Value,
}

async fn invoke(lambda: &Client, name: &str, event: &Value, client_context: &str) -> Answer {
    let output = lambda
        .invoke()
        .function_name(name)
        .client_context(client_context)
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .unwrap_or_else(|error| panic!("Invoke {name}: {error:?}"));
    let payload = output.payload().map(|payload| payload.as_ref().to_vec()).unwrap_or_default();
    Answer {
        request_id: output.request_id().expect("the invocation's request id").to_owned(),
        function_error: output.function_error().map(str::to_owned),
        body: serde_json::from_slice(&payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned())),
    }
}

/// What a test knows of one client.
struct RuntimeClient {
    name: &'static str,
    /// `_HANDLER`, which the python and node clients load.
    handler: &'static str,
    /// A handler the package lacks, and the init error the client reports
    /// for it (the Go and Rust clients have no handler to name).
    missing_handler: Option<(&'static str, &'static str)>,
}

const PYTHON: RuntimeClient = RuntimeClient {
    name: "python",
    handler: "app.handler",
    missing_handler: Some(("app.nope", "Handler 'nope' missing on module 'app'")),
};
const NODE: RuntimeClient = RuntimeClient {
    name: "node",
    handler: "index.handler",
    missing_handler: Some(("index.nope", "index.nope is undefined or not exported")),
};
// A compiled bootstrap needs no handler name; this is the one Lambda's
// console sets for them.
const GO: RuntimeClient = RuntimeClient { name: "go", handler: "bootstrap", missing_handler: None };
const RUST: RuntimeClient = RuntimeClient { name: "rust", handler: "bootstrap", missing_handler: None };

async fn create(lambda: &Client, name: &str, handler: &str, zip: Vec<u8>) -> String {
    let created = lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .role(ROLE)
        .handler(handler)
        .timeout(TIMEOUT_SECS)
        .memory_size(MEMORY_MB)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"));
    created.function_arn().expect("an ARN").to_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Creates the client's function from `package`, invokes it twice (the
/// second time warm), has its handler fail, then return more than Lambda
/// takes, and, for clients that load a handler by name, names one the
/// package lacks.
async fn runs_unmodified(client: RuntimeClient, package: PathBuf) {
    let zip = package_directory(&package);
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let name = format!("{}-runtime-client", client.name);
    let arn = create(&lambda, &name, client.handler, zip.clone()).await;
    // As the AWS SDKs send it: base64 of the JSON the runtime then gets in
    // Lambda-Runtime-Client-Context.
    let client_context = base64::engine::general_purpose::STANDARD.encode(
        json!({
            "client": { "installation_id": "e2e", "app_title": "nubo", "app_version_name": "1",
                        "app_version_code": "1", "app_package_name": "nubo.e2e" },
            "custom": { "suite": "runtime-clients" },
            "env": { "locale": "en" },
        })
        .to_string(),
    );
    let log = || nubo.process.log();

    let mut environment = None;
    let mut request_ids = Vec::new();
    for n in [1, 2] {
        let event = json!({ "n": n, "nested": { "list": [1, "two", null, { "three": 3.5 }] }, "text": "héllo ✓" });
        let answer = invoke(&lambda, &name, &event, &client_context).await;
        let body = &answer.body;
        assert_eq!(answer.function_error, None, "{} failed: {body}\n{}", client.name, log());
        assert_eq!(body["client"], client.name, "{body}");
        assert_eq!(body["event"], event, "the event as sent: {body}");
        assert_eq!(body["invocations"], n, "{body}");
        assert_eq!(body["requestId"], answer.request_id.as_str(), "the SDK's request id: {body}");
        assert_eq!(body["functionArn"], arn.as_str(), "{body}");
        let remaining = body["remainingMs"].as_i64().unwrap_or_else(|| panic!("no remaining time: {body}"));
        assert!(remaining > 0 && remaining <= i64::from(TIMEOUT_SECS) * 1000, "remaining {remaining} ms: {body}");
        if let Some(deadline) = body.get("deadlineMs").and_then(Value::as_i64) {
            let now = now_ms();
            assert!(deadline > now && deadline <= now + i64::from(TIMEOUT_SECS) * 1000, "deadline {deadline}: {body}");
        }
        assert_eq!(body["functionName"], name.as_str(), "{body}");
        assert_eq!(body["memoryLimitMb"], MEMORY_MB, "{body}");
        assert_eq!(body["clientContext"], json!({ "suite": "runtime-clients" }), "{body}");
        let env = &body["env"];
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], name.as_str(), "{body}");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], MEMORY_MB.to_string(), "{body}");
        assert_eq!(env["AWS_REGION"], REGION, "{body}");
        // Each client copies Lambda-Runtime-Trace-Id into the environment
        // for the X-Ray SDK, and the Go and Rust ones into the context.
        let trace = env["_X_AMZN_TRACE_ID"].as_str().unwrap_or_else(|| panic!("no _X_AMZN_TRACE_ID: {body}"));
        assert!(trace.starts_with("Root=1-"), "an X-Ray trace header: {body}");
        if let Some(context_trace) = body.get("traceId") {
            assert_eq!(context_trace, trace, "one trace id in context and environment: {body}");
        }
        let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].clone();
        if environment.is_some() {
            assert_eq!(environment.as_ref(), Some(&stream), "the warm environment served the second invocation");
        }
        environment = Some(stream);
        request_ids.push(answer.request_id);
    }
    assert_ne!(request_ids[0], request_ids[1]);

    let failed = invoke(&lambda, &name, &json!({ "fail": true }), &client_context).await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"), "{failed:?}\n{}", log());
    assert_eq!(failed.body["errorType"], "HandlerFailed", "{}", failed.body);
    assert_eq!(failed.body["errorMessage"], "asked to fail", "{}", failed.body);
    // A handler's error leaves the environment (and the client) serving.
    let after = invoke(&lambda, &name, &json!({ "n": 3 }), &client_context).await;
    assert_eq!(after.function_error, None, "{}\n{}", after.body, log());
    assert_eq!(after.body["invocations"], 4, "{}", after.body);
    assert_eq!(Some(&after.body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]), environment.as_ref());
    assert_eq!(after.body["requestId"], after.request_id.as_str());

    // 7 MiB: the Runtime API refuses it (413) and the invocation fails
    // with the size it had.
    let big = invoke(&lambda, &name, &json!({ "bytes": 7 * 1024 * 1024 }), &client_context).await;
    assert_eq!(big.function_error.as_deref(), Some("Unhandled"), "{}", big.body);
    assert_eq!(big.body["errorType"], "Function.ResponseSizeTooLarge", "{}", big.body);
    let message = big.body["errorMessage"].as_str().unwrap_or_default();
    let size: u64 = message
        .strip_prefix("Response payload size (")
        .and_then(|rest| rest.strip_suffix(" bytes) exceeded maximum allowed payload size (6291556 bytes)."))
        .and_then(|size| size.parse().ok())
        .unwrap_or_else(|| panic!("Lambda's message: {message}"));
    assert!(size >= 7 * 1024 * 1024, "the whole response counted: {message}");
    // Some clients exit after a 413 (python, Go): the next invocation gets
    // a new environment, as on Lambda, not the exiting one.
    let next = invoke(&lambda, &name, &json!({ "n": 5 }), &client_context).await;
    assert_eq!(next.function_error, None, "{}\n{}", next.body, log());
    assert_eq!(next.body["event"], json!({ "n": 5 }));

    if let Some((missing, message)) = client.missing_handler {
        create(&lambda, "missing-handler", missing, zip).await;
        // The client reports it on init/error; each invocation tries a new
        // environment, which fails the same way.
        for _ in 0..2 {
            let failed = invoke(&lambda, "missing-handler", &json!({}), &client_context).await;
            assert_eq!(failed.function_error.as_deref(), Some("Unhandled"), "{}", failed.body);
            assert_eq!(failed.body["errorType"], "Runtime.HandlerNotFound", "{}", failed.body);
            assert_eq!(failed.body["errorMessage"], message, "{}", failed.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_runtime_interface_client() {
    runs_unmodified(PYTHON, scripted_package("python").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nodejs_runtime_interface_client() {
    runs_unmodified(NODE, scripted_package("node").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_go_runtime_client() {
    runs_unmodified(GO, scripted_package("go").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_runtime_client() {
    runs_unmodified(RUST, rust_package().await).await;
}
