//! Function URLs: configured through `aws-sdk-lambda`, called with plain
//! HTTP on the gateway's user-API port by host and by path, with payload
//! 2.0 events, the function's response mapped back, and CORS.

use aws_sdk_lambda::{
    error::ProvideErrorMetadata,
    primitives::Blob,
    types::{Cors, FunctionCode, FunctionUrlAuthType, Runtime},
};
use nubo_e2e::{Nubo, ROLE, ServiceName, lambda_client, package_of};
use serde_json::Value;

const HANDLER: &str = r#"
import json
def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"x-handled": "yes", "content-type": "application/json"},
        "body": json.dumps({
            "version": event["version"],
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "query": event.get("queryStringParameters"),
            "method": event["requestContext"]["http"]["method"],
            "body": event.get("body"),
            "function": context.function_name,
        }),
    }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_function_url_serves_http_with_payload_two() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    lambda
        .create_function()
        .function_name("web")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", HANDLER)]))).build())
        .send()
        .await
        .unwrap();
    let cors = Cors::builder().allow_origins("https://app.example").allow_methods("POST").max_age(300).build();
    let created = lambda
        .create_function_url_config()
        .function_name("web")
        .auth_type(FunctionUrlAuthType::None)
        .cors(cors)
        .send()
        .await
        .unwrap();
    let url = created.function_url().to_owned();
    let gateway_port = nubo.ports[&ServiceName::Gateway].http;
    assert!(
        url.starts_with("http://") && url.contains(".lambda-url.us-east-1.localhost:") && url.ends_with('/'),
        "{url}"
    );
    let url_id = url.trim_start_matches("http://").split('.').next().unwrap().to_owned();
    let again = lambda
        .create_function_url_config()
        .function_name("web")
        .auth_type(FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ResourceConflictException"));

    let http = reqwest::Client::new();
    // By path, which needs no DNS.
    let response = http
        .post(format!("http://127.0.0.1:{gateway_port}/lambda-url/{url_id}/orders/7?expand=1"))
        .header("origin", "https://app.example")
        .header("content-type", "application/json")
        .body(r#"{"item":"tea"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-handled"], "yes");
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example");
    let event: Value = response.json().await.unwrap();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/orders/7");
    assert_eq!(event["query"]["expand"], "1");
    assert_eq!(event["method"], "POST");
    assert_eq!(event["body"], r#"{"item":"tea"}"#);
    assert_eq!(event["function"], "web");

    // By host, as the URL is written.
    let response = http
        .get(format!("http://127.0.0.1:{gateway_port}/by-host"))
        .header("host", format!("{url_id}.lambda-url.us-east-1.localhost:{gateway_port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let event: Value = response.json().await.unwrap();
    assert_eq!(event["rawPath"], "/by-host");

    // A CORS preflight is answered without running the function.
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("http://127.0.0.1:{gateway_port}/lambda-url/{url_id}/orders"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-methods"], "POST");
    assert_eq!(preflight.headers()["access-control-max-age"], "300");

    let read = lambda.get_function_url_config().function_name("web").send().await.unwrap();
    assert_eq!(read.function_url(), url);
    assert_eq!(read.auth_type(), &FunctionUrlAuthType::None);
    let listed = lambda.list_function_url_configs().function_name("web").send().await.unwrap();
    assert_eq!(listed.function_url_configs().len(), 1);
    lambda
        .update_function_url_config()
        .function_name("web")
        .auth_type(FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap();
    let forbidden = http.get(format!("http://127.0.0.1:{gateway_port}/lambda-url/{url_id}/")).send().await.unwrap();
    assert_eq!(forbidden.status(), 403);

    lambda.delete_function_url_config().function_name("web").send().await.unwrap();
    let gone = http.get(format!("http://127.0.0.1:{gateway_port}/lambda-url/{url_id}/")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let missing = lambda.get_function_url_config().function_name("web").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
}
