//! The first request path, end to end: a zipped Python handler created with
//! `aws-sdk-lambda`, an HTTP API quick-created with `aws-sdk-apigatewayv2`,
//! called with a plain HTTP client, and called again after a restart.

use aws_sdk_apigatewayv2::types::ProtocolType;
use nubo_e2e::{Nubo, ServiceName, apigateway_client, create_echo, lambda_client};
use serde_json::Value;

async fn get_json(url: &str) -> (u16, Option<String>, Value) {
    let response = reqwest::get(url).await.expect("the API answers");
    let status = response.status().as_u16();
    let echo = response.headers().get("x-echo").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await.expect("a body");
    (status, echo, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quick_created_api_reaches_a_python_function_and_survives_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;

    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    let created = create_echo(&lambda, "echo").send().await.expect("CreateFunction succeeds");
    let function_arn = created.function_arn().expect("an ARN").to_owned();
    assert_eq!(function_arn, "arn:aws:lambda:us-east-1:000000000000:function:echo");
    assert_eq!(created.handler(), Some("app.handler"));

    // The management API is reached through the AWS edge, as with LocalStack.
    let apigateway = apigateway_client(&nubo.edge_url());
    let api = apigateway
        .create_api()
        .name("echo-api")
        .protocol_type(ProtocolType::Http)
        .target(&function_arn)
        .send()
        .await
        .expect("CreateApi succeeds");
    let endpoint = api.api_endpoint().expect("an endpoint").to_owned();
    let api_id = api.api_id().expect("an id").to_owned();
    let routes = apigateway.get_routes().api_id(&api_id).send().await.expect("GetRoutes succeeds");
    assert_eq!(routes.items().iter().map(|r| r.route_key().unwrap_or_default()).collect::<Vec<_>>(), ["$default"]);
    let stages = apigateway.get_stages().api_id(&api_id).send().await.expect("GetStages succeeds");
    assert_eq!(stages.items()[0].stage_name(), Some("$default"));

    let (status, echo, body) = get_json(&format!("{endpoint}/hello/world?x=1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echo.as_deref(), Some("yes"));
    assert_eq!(body["rawPath"], "/hello/world");
    assert_eq!(body["queryStringParameters"], serde_json::json!({ "x": "1" }));
    assert_eq!(body["method"], "GET");
    assert_eq!(body["routeKey"], "$default");
    assert_eq!(body["version"], "2.0");

    let nubo = nubo.restart().await;
    let (status, _, body) = get_json(&format!("{endpoint}/hello/world?x=1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rawPath"], "/hello/world");
    let lambda = lambda_client(&nubo.edge_url());
    let listed = lambda.list_functions().send().await.expect("ListFunctions through the edge");
    assert_eq!(listed.functions().iter().map(|f| f.function_name().unwrap_or_default()).collect::<Vec<_>>(), ["echo"]);
    let apis = apigateway_client(&nubo.edge_url()).get_apis().send().await.expect("GetApis succeeds");
    assert_eq!(apis.items().len(), 1);
}
