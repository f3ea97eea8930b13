//! Two edges of an HTTP API's integrations, through `aws-sdk-apigatewayv2`
//! and plain HTTP clients:
//!
//! - an integration that does not answer within its `timeoutInMillis`
//!   (50–30,000 ms) gets API Gateway's answer for HTTP APIs, 503
//!   `{"message":"Service Unavailable"}`, once that time is up — a Lambda
//!   proxy integration (a slow function) as well as an HTTP one (a slow
//!   upstream, covered in `gateway_http.rs`);
//! - path parameters reach the function percent-decoded in
//!   `pathParameters` (payload 2.0 and 1.0), and mappings see them decoded,
//!   while an `HTTP_PROXY` URI gets them as the client encoded them.

use std::{
    convert::Infallible,
    net::SocketAddr,
    time::{Duration, Instant},
};

use aws_sdk_apigatewayv2::{
    Client,
    error::ProvideErrorMetadata,
    types::{IntegrationType, ProtocolType},
};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use bytes::Bytes;
use nubo_e2e::{Nubo, ROLE, apigateway_client, lambda_client, package_of};
use serde_json::{Value, json};

const HANDLER: &str = r#"
import json, time
def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    if path.endswith("/slow"):
        time.sleep(2)
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"#;

/// An upstream answering with the request's URI and headers.
async fn upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
                    let headers: serde_json::Map<String, Value> = request
                        .headers()
                        .iter()
                        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or(""))))
                        .collect();
                    let body = json!({ "uri": request.uri().to_string(), "headers": headers });
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(Bytes::from(body.to_string())))
                            .unwrap(),
                    )
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    address
}

async fn route(apigateway: &Client, api_id: &str, key: &str, integration_id: &str) {
    apigateway
        .create_route()
        .api_id(api_id)
        .route_key(key)
        .target(format!("integrations/{integration_id}"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateRoute {key}: {error:?}"));
}

async fn lambda_integration(apigateway: &Client, api_id: &str, arn: &str, version: &str, timeout: i32) -> String {
    apigateway
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri(arn)
        .payload_format_version(version)
        .timeout_in_millis(timeout)
        .send()
        .await
        .unwrap()
        .integration_id
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_and_path_parameters_as_api_gateway_gives_them() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let upstream = upstream().await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let http = reqwest::Client::new();
    let function_arn = lambda_client(&nubo.edge_url())
        .create_function()
        .function_name("edges")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .timeout(30)
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", HANDLER)]))).build())
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();

    let api = apigateway.create_api().name("edges").protocol_type(ProtocolType::Http).send().await.unwrap();
    let api_id = api.api_id().unwrap().to_owned();
    let endpoint = api.api_endpoint().unwrap().to_owned();

    // timeoutInMillis outside 50–30,000 is refused.
    for timeout in [49, 30_001] {
        let refused = apigateway
            .create_integration()
            .api_id(&api_id)
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(&function_arn)
            .payload_format_version("2.0")
            .timeout_in_millis(timeout)
            .send()
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("BadRequestException"), "{timeout}");
    }

    let v2 = lambda_integration(&apigateway, &api_id, &function_arn, "2.0", 30_000).await;
    let v1 = lambda_integration(&apigateway, &api_id, &function_arn, "1.0", 30_000).await;
    let quick = lambda_integration(&apigateway, &api_id, &function_arn, "2.0", 400).await;
    route(&apigateway, &api_id, "GET /v2/items/{id}", &v2).await;
    route(&apigateway, &api_id, "GET /v2/files/{proxy+}", &v2).await;
    route(&apigateway, &api_id, "GET /v1/items/{id}", &v1).await;
    route(&apigateway, &api_id, "GET /quick/slow", &quick).await;
    route(&apigateway, &api_id, "GET /patient/slow", &v2).await;
    let proxied = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method("GET")
        .integration_uri(format!("http://{upstream}/echo/{{id}}"))
        .request_parameters("overwrite:header.x-id", "$request.path.id")
        .send()
        .await
        .unwrap()
        .integration_id
        .unwrap();
    route(&apigateway, &api_id, "GET /proxied/{id}", &proxied).await;
    apigateway.create_stage().api_id(&api_id).stage_name("$default").auto_deploy(true).send().await.unwrap();

    // Path parameters, decoded for the function in both payload formats.
    let event: Value =
        http.get(format!("{endpoint}/v2/items/a%20b%2Fc%C3%A9+d")).send().await.unwrap().json().await.unwrap();
    assert_eq!(event["pathParameters"], json!({ "id": "a b/cé+d" }), "{event}");
    assert_eq!(event["rawPath"], "/v2/items/a%20b%2Fc%C3%A9+d");
    let event: Value = http.get(format!("{endpoint}/v2/files/x%2By/z%20w")).send().await.unwrap().json().await.unwrap();
    assert_eq!(event["pathParameters"], json!({ "proxy": "x+y/z w" }), "{event}");
    let event: Value = http.get(format!("{endpoint}/v1/items/%7Bq%7D")).send().await.unwrap().json().await.unwrap();
    assert_eq!(event["pathParameters"], json!({ "id": "{q}" }), "{event}");
    assert_eq!(event["version"], "1.0");

    // An HTTP_PROXY URI gets the value as sent; a mapping gets it decoded.
    let seen: Value = http.get(format!("{endpoint}/proxied/a%20b")).send().await.unwrap().json().await.unwrap();
    assert_eq!(seen["uri"], "/echo/a%20b", "{seen}");
    assert_eq!(seen["headers"]["x-id"], "a b", "{seen}");

    // A function slower than its integration's timeout: 503 once it is up.
    let started = Instant::now();
    let timed_out = http.get(format!("{endpoint}/quick/slow")).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(timed_out.status(), 503);
    assert_eq!(timed_out.headers()["content-type"], "application/json");
    assert_eq!(timed_out.json::<Value>().await.unwrap(), json!({ "message": "Service Unavailable" }));
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_millis(1500), "{waited:?}");
    // The same function within the default 30 s answers.
    let answered = http.get(format!("{endpoint}/patient/slow")).send().await.unwrap();
    assert_eq!(answered.status(), 200);
}
