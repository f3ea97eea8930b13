//! The Lambda API and execution environments through `aws-sdk-lambda`:
//! warm reuse, the error shapes of failing handlers, log tails, timeouts,
//! the nodejs and provided runtimes, and bad input of every kind.

use aws_sdk_lambda::{
    Client,
    error::ProvideErrorMetadata,
    primitives::Blob,
    types::{Environment, FunctionCode, InvocationType, LogType, Runtime},
};
use base64::Engine as _;
use nubo_e2e::{
    Nubo, ROLE, ServiceName, create_echo, credentials, lambda_client, lambda_client_with, package, package_of,
};
use serde_json::{Value, json};

async fn create(lambda: &Client, name: &str, runtime: Runtime, handler: &str, fixture: &str) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .role(ROLE)
        .handler(handler)
        .environment(Environment::builder().variables("GREETING", "hello").build())
        .code(FunctionCode::builder().zip_file(Blob::new(package(fixture))).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"));
}

async fn invoke(lambda: &Client, name: &str, payload: Value) -> (Option<String>, Value) {
    nubo_e2e::invoke_json(lambda, name, &payload).await
}

#[tokio::test(flavor = "multi_thread")]
async fn environments_are_reused_and_failures_have_the_lambda_shape() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let url = nubo.http_url(ServiceName::Functions);
    let lambda = lambda_client(&url);
    create(&lambda, "echo", Runtime::Python312, "app.handler", "functions/echo").await;

    let (error, first) = invoke(&lambda, "echo", json!({ "n": 1 })).await;
    assert_eq!(error, None, "{first}");
    assert_eq!(first["echo"], json!({ "n": 1 }));
    assert_eq!(first["greeting"], "hello");
    assert_eq!(first["functionName"], "echo");
    assert!(first["remainingMs"].as_i64().unwrap() > 0);
    let (_, second) = invoke(&lambda, "echo", json!({ "n": 2 })).await;
    assert_eq!(first["environment"], second["environment"], "the warm environment serves the second invocation");
    assert_ne!(first["requestId"], second["requestId"]);

    let (error, failure) = invoke(&lambda, "echo", json!({ "fail": true })).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(failure["errorType"], "ValueError");
    assert_eq!(failure["errorMessage"], "asked to fail");
    assert!(failure["stackTrace"].as_array().is_some_and(|s| !s.is_empty()), "{failure}");
    let (_, after) = invoke(&lambda, "echo", json!({})).await;
    assert_eq!(after["environment"], first["environment"], "a handled exception keeps the environment");

    let tailed = lambda
        .invoke()
        .function_name("echo")
        .log_type(LogType::Tail)
        .payload(Blob::new(r#"{"say":"hi"}"#))
        .send()
        .await
        .expect("Invoke with a log tail");
    let log = base64::engine::general_purpose::STANDARD.decode(tailed.log_result().expect("a log tail")).unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.starts_with("START RequestId: "), "{log}");
    assert!(log.contains(r#"invoked with {"say": "hi"}"#), "{log}");
    assert!(
        log.contains("END RequestId: ") && log.contains("REPORT RequestId: ") && log.contains("Billed Duration: "),
        "{log}"
    );

    let queued = lambda.invoke().function_name("echo").invocation_type(InvocationType::Event).send().await.unwrap();
    assert_eq!(queued.status_code(), 202);
    let dry = lambda.invoke().function_name("echo").invocation_type(InvocationType::DryRun).send().await.unwrap();
    assert_eq!(dry.status_code(), 204);

    // Updates reach the next invocation: new settings, new code, new environment.
    let updated = lambda.update_function_configuration().function_name("echo").timeout(10).send().await.unwrap();
    assert_eq!(updated.timeout(), Some(10));
    let fetched = lambda.get_function().function_name("echo").send().await.unwrap();
    let configuration = fetched.configuration().unwrap();
    assert_eq!((configuration.timeout(), configuration.handler()), (Some(10), Some("app.handler")));
    assert_eq!(fetched.code().unwrap().repository_type(), Some("S3"));
    let new_code = package_of(&[(
        "app.py",
        "import os\ndef handler(event, context):\n    return {'environment': os.environ['AWS_LAMBDA_LOG_STREAM_NAME'], 'version': 2}\n",
    )]);
    let replaced =
        lambda.update_function_code().function_name("echo").zip_file(Blob::new(new_code.clone())).send().await.unwrap();
    assert_ne!(replaced.code_sha256(), configuration.code_sha256());
    let (_, answer) = invoke(&lambda, "echo", json!({})).await;
    assert_eq!(answer["version"], 2);
    assert_ne!(answer["environment"], first["environment"], "environments of the old code retired");

    // Code.Location downloads the package with a plain GET, for ten
    // minutes, and only the package it was made for.
    let fetched = lambda.get_function().function_name("echo").send().await.unwrap();
    let location = fetched.code().unwrap().location().unwrap().to_owned();
    assert!(location.starts_with(&url), "{location} is under the endpoint the client used ({url})");
    let download = reqwest::get(&location).await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/zip");
    assert_eq!(download.bytes().await.unwrap().as_ref(), new_code.as_slice(), "the package as uploaded");
    let head = reqwest::Client::new().head(&location).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), new_code.len().to_string());
    let tampered = location.replace("Expires=", "Expires=9");
    let refused = reqwest::get(&tampered).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("<Code>AccessDenied</Code>"));
    lambda
        .update_function_code()
        .function_name("echo")
        .zip_file(Blob::new(package("functions/echo")))
        .send()
        .await
        .unwrap();
    let stale = reqwest::get(&location).await.unwrap();
    assert_eq!(stale.status(), 404, "a URL of replaced code finds nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn node_and_provided_runtimes_speak_the_runtime_api() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    create(&lambda, "node-echo", Runtime::Nodejs20x, "index.handler", "functions/node-echo").await;
    let (error, answer) = invoke(&lambda, "node-echo", json!({ "from": "node" })).await;
    assert_eq!(error, None, "{answer}");
    assert_eq!(answer["echo"]["from"], "node");
    assert_eq!(answer["runtime"], "AWS_Lambda_nodejs20.x");

    create(&lambda, "shout", Runtime::Providedal2023, "unused.handler", "functions/provided-echo").await;
    let (error, answer) = invoke(&lambda, "shout", json!({ "say": "quiet" })).await;
    assert_eq!(error, None, "{answer}");
    assert_eq!(answer, json!({ "shout": "QUIET", "handler": "unused.handler" }));
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_kill_the_environment_and_the_next_invocation_starts_fresh() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let code = "import os, time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return os.environ['AWS_LAMBDA_LOG_STREAM_NAME']\n";
    let zip = package_of(&[("slow.py", code)]);
    lambda
        .create_function()
        .function_name("slow")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("slow.handler")
        .timeout(1)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap();
    let (_, first_environment) = invoke(&lambda, "slow", json!({})).await;
    let (error, timed_out) = invoke(&lambda, "slow", json!({ "sleep": 5 })).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(timed_out["errorType"], "Sandbox.Timedout");
    assert!(timed_out["errorMessage"].as_str().unwrap().contains("Task timed out after 1.00 seconds"), "{timed_out}");
    let (error, next_environment) = invoke(&lambda, "slow", json!({})).await;
    assert_eq!(error, None);
    assert_ne!(first_environment, next_environment, "the timed-out environment was replaced");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_lambda_errors_and_nothing_breaks() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let url = nubo.http_url(ServiceName::Functions);
    let lambda = lambda_client(&url);

    let unknown_runtime = lambda
        .create_function()
        .function_name("bad-runtime")
        .runtime(Runtime::from("cobol85"))
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package("functions/echo"))).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown_runtime.code(), Some("InvalidParameterValueException"));
    assert!(unknown_runtime.message().unwrap().contains("Value cobol85 at 'runtime' failed to satisfy constraint"));

    let not_a_zip = lambda
        .create_function()
        .function_name("not-a-zip")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(b"plain text".to_vec())).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_a_zip.code(), Some("InvalidParameterValueException"));
    assert!(not_a_zip.message().unwrap().contains("Could not unzip uploaded file"));

    // A package without the handler's module is accepted, as by Lambda, and
    // fails at invocation with the runtime's import error.
    create(&lambda, "no-handler", Runtime::Python312, "app.handler", "functions/broken").await;
    let (error, failure) = invoke(&lambda, "no-handler", json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(failure["errorType"], "Runtime.ImportModuleError");
    assert_eq!(failure["errorMessage"], "Unable to import module 'app': No module named 'app'");

    create(&lambda, "echo", Runtime::Python312, "app.handler", "functions/echo").await;
    let duplicate = create_echo(&lambda, "echo").send().await.unwrap_err();
    assert_eq!(duplicate.code(), Some("ResourceConflictException"));

    let malformed = lambda.invoke().function_name("echo").payload(Blob::new("{not json")).send().await.unwrap_err();
    assert_eq!(malformed.code(), Some("InvalidRequestContentException"));
    assert!(malformed.message().unwrap().starts_with("Could not parse request body into json"));

    let missing = lambda.get_function().function_name("nope").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    assert_eq!(missing.message(), Some("Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"));
    let missing = lambda.invoke().function_name("nope").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));

    let bad_timeout = lambda.update_function_configuration().function_name("echo").timeout(0).send().await.unwrap_err();
    assert_eq!(bad_timeout.code(), Some("ValidationException"));

    let wrong_secret = lambda_client_with(&url, credentials("test", "not-the-secret"));
    let refused = wrong_secret.list_functions().send().await.unwrap_err();
    assert_eq!(refused.code(), Some("InvalidSignatureException"));
    let unknown_key = lambda_client_with(&url, credentials("nobody", "x"));
    assert_eq!(unknown_key.list_functions().send().await.unwrap_err().code(), Some("UnrecognizedClientException"));

    let unsigned = reqwest::get(format!("{url}/2015-03-31/functions/")).await.unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(unsigned.headers()["x-amzn-errortype"], "MissingAuthenticationTokenException");

    // After all of that the service still works.
    let (error, answer) = invoke(&lambda, "echo", json!({ "still": "here" })).await;
    assert_eq!(error, None);
    assert_eq!(answer["echo"]["still"], "here");

    lambda.delete_function().function_name("echo").send().await.expect("DeleteFunction succeeds");
    let gone = lambda.invoke().function_name("echo").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}
