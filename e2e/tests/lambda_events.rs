//! Asynchronous invocation through `aws-sdk-lambda`: an `Event` that fails
//! is retried as the function's event-invoke configuration says and lands
//! in its on-failure destination in Lambda's record shape; a success lands
//! in the on-success destination; an acknowledged event survives a crash
//! of nubo. Destinations are functions that print what they receive, read
//! back from nubo's log.

use std::time::{Duration, Instant};

use aws_sdk_lambda::operation::RequestId as _;
use aws_sdk_lambda::{
    Client,
    error::ProvideErrorMetadata,
    primitives::Blob,
    types::{DestinationConfig, FunctionCode, InvocationType, OnFailure, OnSuccess, Runtime},
};
use nubo_e2e::{Nubo, ROLE, ServiceName, lambda_client, package_of};
use serde_json::{Value, json};

const SINK: &str = "import json\ndef handler(event, context):\n    print('DESTINATION ' + json.dumps(event))\n";
const FLAKY: &str =
    "def handler(event, context):\n    print('flaky attempt', event['order'])\n    raise Exception('boom')\n";
const FINE: &str =
    "def handler(event, context):\n    print('fine ran', event['order'])\n    return {'done': event['order']}\n";

async fn create(lambda: &Client, name: &str, code: &str) -> String {
    let created = lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", code)]))).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"));
    created.function_arn().unwrap().to_owned()
}

async fn send_event(lambda: &Client, name: &str, payload: Value) -> String {
    let output = lambda
        .invoke()
        .function_name(name)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(output.status_code(), 202);
    output.request_id().map(str::to_owned).unwrap_or_default()
}

/// Waits for `count` destination records in nubo's log.
async fn destinations(nubo: &Nubo, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = nubo.process.log();
        let records: Vec<Value> = log
            .lines()
            .filter_map(|line| line.split_once("DESTINATION ").map(|(_, record)| record))
            .filter_map(|record| serde_json::from_str(record.trim_end_matches(|c: char| c != '}')).ok())
            .collect();
        if records.len() >= count || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_event_is_retried_then_sent_to_its_failure_destination() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_FUNCTIONS__EVENT_RETRY_DELAY_MS", "200")]).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let sink = create(&lambda, "sink", SINK).await;
    create(&lambda, "flaky", FLAKY).await;
    create(&lambda, "fine", FINE).await;

    let refused = lambda
        .put_function_event_invoke_config()
        .function_name("flaky")
        .maximum_retry_attempts(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ValidationException"), "{refused:?}");
    let queue_destination = DestinationConfig::builder()
        .on_failure(OnFailure::builder().destination("arn:aws:sqs:us-east-1:000000000000:q").build())
        .build();
    let refused = lambda
        .put_function_event_invoke_config()
        .function_name("flaky")
        .destination_config(queue_destination)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("InvalidParameterValueException"), "{refused:?}");
    let missing = lambda.get_function_event_invoke_config().function_name("flaky").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));

    let config = lambda
        .put_function_event_invoke_config()
        .function_name("flaky")
        .maximum_event_age_in_seconds(600)
        .destination_config(
            DestinationConfig::builder().on_failure(OnFailure::builder().destination(&sink).build()).build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(config.maximum_retry_attempts(), Some(2), "Lambda's default of two retries");
    assert!(config.function_arn().unwrap().ends_with(":function:flaky:$LATEST"));
    let updated = lambda
        .update_function_event_invoke_config()
        .function_name("flaky")
        .maximum_retry_attempts(2)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.maximum_event_age_in_seconds(), Some(600), "an update keeps what it does not name");
    let listed = lambda.list_function_event_invoke_configs().function_name("flaky").send().await.unwrap();
    assert_eq!(listed.function_event_invoke_configs().len(), 1);
    lambda
        .put_function_event_invoke_config()
        .function_name("fine")
        .destination_config(
            DestinationConfig::builder().on_success(OnSuccess::builder().destination(&sink).build()).build(),
        )
        .send()
        .await
        .unwrap();

    let failed_id = send_event(&lambda, "flaky", json!({ "order": 7 })).await;
    send_event(&lambda, "fine", json!({ "order": 8 })).await;
    let records = destinations(&nubo, 2).await;
    assert_eq!(records.len(), 2, "{}", nubo.process.log());
    let failure = records
        .iter()
        .find(|record| record["requestContext"]["condition"] == "RetriesExhausted")
        .expect("a failure record");
    assert_eq!(failure["version"], "1.0");
    assert_eq!(failure["requestContext"]["requestId"], failed_id.as_str());
    assert_eq!(failure["requestContext"]["approximateInvokeCount"], 3);
    assert!(failure["requestContext"]["functionArn"].as_str().unwrap().ends_with(":function:flaky:$LATEST"));
    assert_eq!(failure["requestPayload"], json!({ "order": 7 }));
    assert_eq!(failure["responseContext"]["functionError"], "Unhandled");
    assert_eq!(failure["responsePayload"]["errorMessage"], "boom");
    let success =
        records.iter().find(|record| record["requestContext"]["condition"] == "Success").expect("a success record");
    assert_eq!(success["responsePayload"], json!({ "done": 8 }));
    assert_eq!(success["requestContext"]["approximateInvokeCount"], 1);
    let attempts = nubo.process.log().matches("flaky attempt 7").count();
    assert_eq!(attempts, 3, "one attempt and two retries");

    lambda.delete_function_event_invoke_config().function_name("flaky").send().await.unwrap();
    let gone = lambda.get_function_event_invoke_config().function_name("flaky").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledged_event_survives_a_crash() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    create(&lambda, "fine", FINE).await;
    // Throttled: the event waits in the queue.
    lambda.put_function_concurrency().function_name("fine").reserved_concurrent_executions(0).send().await.unwrap();
    send_event(&lambda, "fine", json!({ "order": 42 })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!nubo.process.log().contains("fine ran 42"));

    let nubo = nubo.crash_and_restart().await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    lambda.delete_function_concurrency().function_name("fine").send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nubo.process.log().contains("fine ran 42") {
        assert!(Instant::now() < deadline, "the event was lost\n{}", nubo.process.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
