//! REST APIs (API Gateway v1) through `aws-sdk-apigateway`: resources,
//! methods, Lambda proxy, HTTP proxy and MOCK integrations, deployments
//! and stages, `binaryMediaTypes`, API keys with usage plans, and the
//! three ways a REST API is reached.

use aws_sdk_apigateway::{
    error::ProvideErrorMetadata,
    types::{ApiStage, IntegrationType, QuotaPeriodType, QuotaSettings, ThrottleSettings},
};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use nubo_e2e::{Nubo, ServiceName, lambda_client, package_of, rest_apigateway_client};
use serde_json::{Value, json};

const HANDLER: &str = r#"
import json
def handler(event, context):
    if event["path"].endswith("/bin"):
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"}, "body": "AP8=", "isBase64Encoded": True}
    return {"statusCode": 200, "multiValueHeaders": {"x-v": ["1", "2"]}, "body": json.dumps(event)}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn rest_apis_serve_lambda_http_and_mock_integrations_with_api_keys() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let function_arn = lambda_client(&nubo.edge_url())
        .create_function()
        .function_name("rest-echo")
        .runtime(Runtime::Python312)
        .role("arn:aws:iam::000000000000:role/lambda")
        .handler("echo.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("echo.py", HANDLER)]))).build())
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();
    let lambda_uri =
        format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations");

    let client = rest_apigateway_client(&nubo.edge_url());
    let api =
        client.create_rest_api().name("pets").binary_media_types("application/octet-stream").send().await.unwrap();
    let api_id = api.id().unwrap().to_owned();
    assert_eq!(api.binary_media_types(), ["application/octet-stream"]);
    let resources = client.get_resources().rest_api_id(&api_id).send().await.unwrap();
    let root = resources.items()[0].clone();
    assert_eq!(root.path(), Some("/"));
    let root_id = root.id().unwrap();
    let resource = |parent: String, part: &'static str| {
        let client = client.clone();
        let api_id = api_id.clone();
        async move { client.create_resource().rest_api_id(api_id).parent_id(parent).path_part(part).send().await.unwrap() }
    };
    let items = resource(root_id.to_owned(), "items").await;
    let item = resource(items.id().unwrap().to_owned(), "{id}").await;
    assert_eq!(item.path(), Some("/items/{id}"));
    let mock = resource(root_id.to_owned(), "mock").await;
    let forward = resource(root_id.to_owned(), "forward").await;
    let duplicate =
        client.create_resource().rest_api_id(&api_id).parent_id(root_id).path_part("items").send().await.unwrap_err();
    assert_eq!(duplicate.code(), Some("ConflictException"));

    // ANY /items/{id} → the function, payload 1.0.
    client
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(item.id().unwrap())
        .http_method("ANY")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    client
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(item.id().unwrap())
        .http_method("ANY")
        .r#type(IntegrationType::AwsProxy)
        .integration_http_method("POST")
        .uri(&lambda_uri)
        .send()
        .await
        .unwrap();

    // GET /mock: the request template picks the integration response.
    let mock_id = mock.id().unwrap();
    client
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(mock_id)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    client
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(mock_id)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .request_templates(
            "application/json",
            r#"#if( $input.params('fail') == "yes" ) {"statusCode": 500} #else {"statusCode": 200} #end"#,
        )
        .send()
        .await
        .unwrap();
    for status in ["200", "500"] {
        client
            .put_method_response()
            .rest_api_id(&api_id)
            .resource_id(mock_id)
            .http_method("GET")
            .status_code(status)
            .response_parameters("method.response.header.X-Mock", false)
            .send()
            .await
            .unwrap();
    }
    client
        .put_integration_response()
        .rest_api_id(&api_id)
        .resource_id(mock_id)
        .http_method("GET")
        .status_code("200")
        .response_templates("application/json", r#"{"mocked": true, "stage": "$context.stage"}"#)
        .response_parameters("method.response.header.X-Mock", "'yes'")
        .send()
        .await
        .unwrap();
    client
        .put_integration_response()
        .rest_api_id(&api_id)
        .resource_id(mock_id)
        .http_method("GET")
        .status_code("500")
        .selection_pattern("5\\d{2}")
        .response_templates("application/json", r#"{"error": "mocked failure"}"#)
        .send()
        .await
        .unwrap();

    // POST /items needs an API key.
    client
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("POST")
        .authorization_type("NONE")
        .api_key_required(true)
        .send()
        .await
        .unwrap();
    client
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("POST")
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 201}"#)
        .send()
        .await
        .unwrap();
    client
        .put_method_response()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("POST")
        .status_code("201")
        .send()
        .await
        .unwrap();
    client
        .put_integration_response()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("POST")
        .status_code("201")
        .response_templates("application/json", r#"{"created": true}"#)
        .send()
        .await
        .unwrap();

    // GET /forward → HTTP proxy to this API's own MOCK through the gateway.
    let gateway = nubo.http_url(ServiceName::Gateway);
    client
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(forward.id().unwrap())
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    client
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(forward.id().unwrap())
        .http_method("GET")
        .r#type(IntegrationType::HttpProxy)
        .integration_http_method("GET")
        .uri(format!("{gateway}/{api_id}/prod/mock"))
        .send()
        .await
        .unwrap();

    let method = client.get_method().rest_api_id(&api_id).resource_id(mock_id).http_method("GET").send().await.unwrap();
    let integration = method.method_integration().unwrap();
    assert_eq!(integration.r#type(), Some(&IntegrationType::Mock));
    assert_eq!(integration.integration_responses().unwrap()["500"].selection_pattern(), Some("5\\d{2}"));

    let deployment = client.create_deployment().rest_api_id(&api_id).stage_name("prod").send().await.unwrap();
    let stages = client.get_stages().rest_api_id(&api_id).send().await.unwrap();
    assert_eq!(stages.item()[0].stage_name(), Some("prod"));
    assert_eq!(stages.item()[0].deployment_id(), deployment.id());
    client
        .create_stage()
        .rest_api_id(&api_id)
        .stage_name("dev")
        .deployment_id(deployment.id().unwrap())
        .variables("color", "blue")
        .send()
        .await
        .unwrap();
    let dev = client.get_stage().rest_api_id(&api_id).stage_name("dev").send().await.unwrap();
    assert_eq!(dev.variables().unwrap()["color"], "blue");

    let http = reqwest::Client::new();
    // The path form, the host form and LocalStack's `_user_request_` form.
    let urls = [
        format!("{gateway}/{api_id}/prod/items/42?a=1&a=2"),
        format!("{gateway}/restapis/{api_id}/prod/_user_request_/items/42?a=1&a=2"),
    ];
    for url in &urls {
        let response = http.get(url).header("user-agent", "rest-test").send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let values: Vec<_> = response.headers().get_all("x-v").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        assert_eq!(values, ["1", "2"]);
        let event: Value = response.json().await.unwrap();
        assert!(event.get("version").is_none());
        assert_eq!(event["resource"], "/items/{id}");
        assert_eq!(event["path"], "/items/42");
        assert_eq!(event["httpMethod"], "GET");
        assert_eq!(event["pathParameters"], json!({ "id": "42" }));
        assert_eq!(event["multiValueQueryStringParameters"], json!({ "a": ["1", "2"] }));
        assert_eq!(event["queryStringParameters"], json!({ "a": "2" }));
        assert_eq!(event["body"], Value::Null);
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        assert_eq!(context["path"], "/prod/items/42");
        assert_eq!(context["stage"], "prod");
        assert_eq!(context["resourcePath"], "/items/{id}");
        assert_eq!(context["resourceId"], item.id().unwrap());
        assert_eq!(context["apiId"], api_id.as_str());
        assert_eq!(context["identity"]["userAgent"], "rest-test");
        assert_eq!(context["identity"]["apiKey"], Value::Null);
    }
    let by_host = http
        .get(format!("{gateway}/dev/items/7"))
        .header("host", format!("{api_id}.execute-api.localhost"))
        .send()
        .await
        .unwrap();
    let event: Value = by_host.json().await.unwrap();
    assert_eq!((event["path"].as_str(), event["requestContext"]["stage"].as_str()), (Some("/items/7"), Some("dev")));
    assert_eq!(event["stageVariables"], json!({ "color": "blue" }));

    // binaryMediaTypes decide what is base64, both ways.
    let binary: Value = http
        .post(format!("{gateway}/{api_id}/prod/items/1"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 255])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((binary["body"].as_str(), binary["isBase64Encoded"].as_bool()), (Some("AP8="), Some(true)));
    let text: Value = http
        .post(format!("{gateway}/{api_id}/prod/items/1"))
        .header("content-type", "image/png")
        .body("not listed")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((text["body"].as_str(), text["isBase64Encoded"].as_bool()), (Some("not listed"), Some(false)));
    let decoded = http
        .get(format!("{gateway}/{api_id}/prod/items/bin"))
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(decoded.bytes().await.unwrap().as_ref(), &[0u8, 255]);
    let as_text = http.get(format!("{gateway}/{api_id}/prod/items/bin")).send().await.unwrap();
    assert_eq!(as_text.text().await.unwrap(), "AP8=");

    // MOCK: the template's status selects the response.
    let mocked = http.get(format!("{gateway}/{api_id}/prod/mock")).send().await.unwrap();
    assert_eq!(mocked.status(), 200);
    assert_eq!(mocked.headers()["x-mock"], "yes");
    assert_eq!(mocked.json::<Value>().await.unwrap(), json!({ "mocked": true, "stage": "prod" }));
    let failed = http.get(format!("{gateway}/{api_id}/prod/mock?fail=yes")).send().await.unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(failed.json::<Value>().await.unwrap(), json!({ "error": "mocked failure" }));

    // HTTP proxy: the upstream's answer as it came.
    let forwarded = http.get(format!("{gateway}/{api_id}/prod/forward")).send().await.unwrap();
    assert_eq!(forwarded.status(), 200);
    assert_eq!(forwarded.headers()["x-mock"], "yes");

    // Gateway responses for what is not there.
    let missing = http.get(format!("{gateway}/{api_id}/prod/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.headers()["x-amzn-errortype"], "MissingAuthenticationTokenException");
    assert_eq!(missing.json::<Value>().await.unwrap(), json!({ "message": "Missing Authentication Token" }));
    let wrong_method = http.put(format!("{gateway}/{api_id}/prod/mock")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 403);
    let no_stage = http.get(format!("{gateway}/{api_id}/staging/mock")).send().await.unwrap();
    assert_eq!(no_stage.status(), 403);
    assert_eq!(no_stage.json::<Value>().await.unwrap(), json!({ "message": "Forbidden" }));

    // API keys: none, unknown, then two keys under plans with a throttle
    // and with a quota.
    let post_items = |key: Option<&str>| {
        let mut request = http.post(format!("{gateway}/{api_id}/prod/items"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };
    let forbidden = post_items(None).await.unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(forbidden.json::<Value>().await.unwrap(), json!({ "message": "Forbidden" }));
    assert_eq!(post_items(Some("an-unknown-key-of-enough-length")).await.unwrap().status(), 403);
    let throttled_key = client.create_api_key().name("throttled").enabled(true).send().await.unwrap();
    let quota_key = client.create_api_key().name("quota").enabled(true).send().await.unwrap();
    let stage = ApiStage::builder().api_id(&api_id).stage("prod").build();
    // Not yet in a plan: still refused.
    assert_eq!(post_items(throttled_key.value()).await.unwrap().status(), 403);
    let throttled_plan = client
        .create_usage_plan()
        .name("throttled")
        .api_stages(stage.clone())
        .throttle(ThrottleSettings::builder().burst_limit(2).rate_limit(0.01).build())
        .send()
        .await
        .unwrap();
    let quota_plan = client
        .create_usage_plan()
        .name("quota")
        .api_stages(stage)
        .throttle(ThrottleSettings::builder().burst_limit(100).rate_limit(100.0).build())
        .quota(QuotaSettings::builder().limit(2).period(QuotaPeriodType::Day).build())
        .send()
        .await
        .unwrap();
    for (plan, key) in [(&throttled_plan, &throttled_key), (&quota_plan, &quota_key)] {
        client
            .create_usage_plan_key()
            .usage_plan_id(plan.id().unwrap())
            .key_id(key.id().unwrap())
            .key_type("API_KEY")
            .send()
            .await
            .unwrap();
    }
    let keys = client.get_usage_plan_keys().usage_plan_id(quota_plan.id().unwrap()).send().await.unwrap();
    assert_eq!(keys.items()[0].value(), quota_key.value());
    for _ in 0..2 {
        let admitted = post_items(throttled_key.value()).await.unwrap();
        assert_eq!(admitted.status(), 201);
        assert_eq!(admitted.json::<Value>().await.unwrap(), json!({ "created": true }));
    }
    let throttled = post_items(throttled_key.value()).await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.json::<Value>().await.unwrap(), json!({ "message": "Too Many Requests" }));
    for _ in 0..2 {
        assert_eq!(post_items(quota_key.value()).await.unwrap().status(), 201);
    }
    let exceeded = post_items(quota_key.value()).await.unwrap();
    assert_eq!(exceeded.status(), 429);
    assert_eq!(exceeded.json::<Value>().await.unwrap(), json!({ "message": "Limit Exceeded" }));

    // Management errors and the end of the API.
    let unknown = client.get_rest_api().rest_api_id("nosuchapi0").send().await.unwrap_err();
    assert_eq!(unknown.code(), Some("NotFoundException"));
    let listed = client.get_rest_apis().send().await.unwrap();
    assert!(listed.items().iter().any(|listed| listed.id() == Some(api_id.as_str())));
    client.delete_rest_api().rest_api_id(&api_id).send().await.unwrap();
    let gone = client.get_rest_api().rest_api_id(&api_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("NotFoundException"));
    let after = http.get(format!("{gateway}/{api_id}/prod/mock")).send().await.unwrap();
    assert_eq!(after.status(), 404);
}
