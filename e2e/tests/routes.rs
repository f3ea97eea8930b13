//! HTTP API routing through `aws-sdk-apigatewayv2`: explicit routes,
//! integrations and stages, path parameters, payload format 1.0, and the
//! errors of routes and APIs that do not exist.

use aws_sdk_apigatewayv2::{
    error::ProvideErrorMetadata,
    types::{IntegrationType, ProtocolType},
};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use nubo_e2e::{Nubo, ServiceName, apigateway_client, lambda_client, package_of, sigv4_headers};
use serde_json::{Value, json};

const HANDLER: &str = r#"
import json
def handler(event, context):
    if event.get("version") == "1.0":
        return {"statusCode": 200, "multiValueHeaders": {"x-v": ["1", "one"]}, "body": json.dumps({"path": event["path"], "id": (event.get("pathParameters") or {}).get("id")})}
    if event["rawPath"].endswith("/raw"):
        return {"plain": True}
    if event["rawPath"].endswith("/broken"):
        return {"statusCode": "not a status"}
    return {"statusCode": 201, "cookies": ["a=1"], "body": json.dumps({"path": event["rawPath"], "params": event.get("pathParameters"), "stage": event["requestContext"]["stage"], "body": event.get("body")})}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn routes_stages_and_payload_formats() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.edge_url());
    let function_arn = lambda
        .create_function()
        .function_name("router")
        .runtime(Runtime::Python312)
        .role("arn:aws:iam::000000000000:role/lambda")
        .handler("router.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("router.py", HANDLER)]))).build())
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();

    let apigateway = apigateway_client(&nubo.edge_url());
    let api = apigateway.create_api().name("routes").protocol_type(ProtocolType::Http).send().await.unwrap();
    let api_id = api.api_id().unwrap();
    let endpoint = api.api_endpoint().unwrap();
    let v2 = apigateway
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri(&function_arn)
        .payload_format_version("2.0")
        .send()
        .await
        .unwrap();
    let v1 = apigateway
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri(format!(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        ))
        .payload_format_version("1.0")
        .send()
        .await
        .unwrap();
    let target = |id: Option<&str>| format!("integrations/{}", id.unwrap());
    for (key, integration) in [("GET /items/{id}", &v2), ("POST /items", &v2), ("GET /raw", &v2), ("GET /broken", &v2)]
    {
        apigateway
            .create_route()
            .api_id(api_id)
            .route_key(key)
            .target(target(integration.integration_id()))
            .send()
            .await
            .unwrap();
    }
    apigateway
        .create_route()
        .api_id(api_id)
        .route_key("GET /legacy/{id}")
        .target(target(v1.integration_id()))
        .send()
        .await
        .unwrap();
    let duplicate = apigateway.create_route().api_id(api_id).route_key("POST /items").send().await.unwrap_err();
    assert_eq!(duplicate.code(), Some("ConflictException"));
    let invalid = apigateway.create_route().api_id(api_id).route_key("FETCH items").send().await.unwrap_err();
    assert_eq!(invalid.code(), Some("BadRequestException"));
    apigateway.create_stage().api_id(api_id).stage_name("prod").auto_deploy(true).send().await.unwrap();

    let http = reqwest::Client::new();
    let response = http.get(format!("{endpoint}/prod/items/42")).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["set-cookie"], "a=1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "path": "/prod/items/42", "params": { "id": "42" }, "stage": "prod", "body": null }));

    let posted: Value = http
        .post(format!("{endpoint}/prod/items"))
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["body"], r#"{"a":1}"#);

    let legacy = http.get(format!("{endpoint}/prod/legacy/7")).send().await.unwrap();
    assert_eq!(legacy.status(), 200);
    let values: Vec<_> = legacy.headers().get_all("x-v").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(values, ["1", "one"]);
    assert_eq!(legacy.json::<Value>().await.unwrap(), json!({ "path": "/prod/legacy/7", "id": "7" }));

    let raw = http.get(format!("{endpoint}/prod/raw")).send().await.unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.json::<Value>().await.unwrap(), json!({ "plain": true }));

    let broken = http.get(format!("{endpoint}/prod/broken")).send().await.unwrap();
    assert_eq!(broken.status(), 500);
    assert_eq!(broken.json::<Value>().await.unwrap(), json!({ "message": "Internal Server Error" }));

    for missing in [
        format!("{endpoint}/prod/nowhere"),
        format!("{endpoint}/items/42"),
        format!("{}/notanapi1/x", nubo.http_url(ServiceName::Gateway)),
    ] {
        let response = http.get(&missing).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
        assert_eq!(response.json::<Value>().await.unwrap(), json!({ "message": "Not Found" }));
    }

    let unknown = apigateway.get_api().api_id("nosuchapi0").send().await.unwrap_err();
    assert_eq!(unknown.code(), Some("NotFoundException"));
    assert_eq!(unknown.message(), Some("Invalid API identifier specified 000000000000:nosuchapi0"));

    // A malformed body no SDK would send, signed as one would sign it.
    let url = format!("{}/v2/apis", nubo.edge_url());
    let host = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let body = b"{\"name\": ";
    let headers = [("host", host.as_str()), ("content-type", "application/json")];
    let mut request = http.post(&url).header("content-type", "application/json").body(body.to_vec());
    for (name, value) in sigv4_headers("POST", &url, &headers, body, "apigateway") {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-amzn-errortype"], "BadRequestException");

    apigateway.delete_api().api_id(api_id).send().await.unwrap();
    let gone = http.get(format!("{endpoint}/prod/items/42")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
}
