//! The events HTTP APIs send to Lambda proxy integrations, member by
//! member against the sample events of AWS's "Working with AWS Lambda
//! proxy integrations for HTTP APIs" (payload 1.0 and 2.0): the same
//! members, each of the same JSON type, and the values AWS's rules give
//! (repeated headers and query parameters joined with commas in 2.0 and
//! kept as lists in 1.0, cookies split out in 2.0, the stage in the raw
//! path, the request time in API Gateway's format). Then handlers written
//! with web frameworks' Lambda adapters — Mangum (python, ASGI) and
//! `lambda_http` (Rust, provided.al2023) — serve unchanged behind both
//! payload formats.

use std::path::{Path, PathBuf};

use aws_sdk_apigatewayv2::{
    Client,
    types::{IntegrationType, ProtocolType},
};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use nubo_e2e::{Nubo, ROLE, apigateway_client, lambda_client, package_directory, package_of};
use serde_json::{Value, json};

const ECHO: &str = r#"
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"#;

/// Checks `actual` against a shape: objects must have exactly the shape's
/// members; a leaf names the JSON type (`string`, `number`, `boolean`,
/// `null`, `string|null`), `map<string>` / `map<array<string>>` an object
/// of any keys, `array<string>` a list.
fn conforms(actual: &Value, shape: &Value, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    match shape {
        Value::Object(members) => match actual.as_object() {
            Some(object) => {
                for (name, member) in members {
                    match object.get(name) {
                        Some(value) => problems.extend(conforms(value, member, &format!("{at}.{name}"))),
                        None => problems.push(format!("{at}.{name} is missing")),
                    }
                }
                for name in object.keys().filter(|name| !members.contains_key(*name)) {
                    problems.push(format!("{at}.{name} is not in AWS's sample"));
                }
            }
            None => problems.push(format!("{at} is {actual}, not an object")),
        },
        Value::String(kind) => {
            let is_string = |value: &Value| value.is_string();
            let fits = match kind.as_str() {
                "string" => actual.is_string(),
                "number" => actual.is_number(),
                "boolean" => actual.is_boolean(),
                "null" => actual.is_null(),
                "string|null" => actual.is_string() || actual.is_null(),
                "array<string>" => actual.as_array().is_some_and(|items| items.iter().all(is_string)),
                "map<string>" => actual.as_object().is_some_and(|map| map.values().all(is_string)),
                "map<array<string>>" => actual.as_object().is_some_and(|map| {
                    map.values().all(|values| values.as_array().is_some_and(|items| items.iter().all(is_string)))
                }),
                other => panic!("unknown shape {other}"),
            };
            if !fits {
                problems.push(format!("{at} is {actual}, not {kind}"));
            }
        }
        other => panic!("unknown shape {other}"),
    }
    problems
}

/// AWS's payload 2.0 sample, as shapes (its `authentication` member
/// appears only with mutual TLS, and `authorizer` only behind one).
fn shape_v2() -> Value {
    json!({
        "version": "string",
        "routeKey": "string",
        "rawPath": "string",
        "rawQueryString": "string",
        "cookies": "array<string>",
        "headers": "map<string>",
        "queryStringParameters": "map<string>",
        "requestContext": {
            "accountId": "string",
            "apiId": "string",
            "domainName": "string",
            "domainPrefix": "string",
            "http": { "method": "string", "path": "string", "protocol": "string", "sourceIp": "string", "userAgent": "string" },
            "requestId": "string",
            "routeKey": "string",
            "stage": "string",
            "time": "string",
            "timeEpoch": "number",
        },
        "body": "string",
        "pathParameters": "map<string>",
        "isBase64Encoded": "boolean",
        "stageVariables": "map<string>",
    })
}

/// AWS's payload 1.0 sample, as shapes (without `clientCert`, which only
/// mutual TLS brings).
fn shape_v1() -> Value {
    json!({
        "version": "string",
        "resource": "string",
        "path": "string",
        "httpMethod": "string",
        "headers": "map<string>",
        "multiValueHeaders": "map<array<string>>",
        "queryStringParameters": "map<string>",
        "multiValueQueryStringParameters": "map<array<string>>",
        "requestContext": {
            "accountId": "string",
            "apiId": "string",
            "authorizer": { "claims": "null", "scopes": "null" },
            "domainName": "string",
            "domainPrefix": "string",
            "extendedRequestId": "string",
            "httpMethod": "string",
            "identity": {
                "accessKey": "null",
                "accountId": "null",
                "caller": "null",
                "cognitoAuthenticationProvider": "null",
                "cognitoAuthenticationType": "null",
                "cognitoIdentityId": "null",
                "cognitoIdentityPoolId": "null",
                "principalOrgId": "null",
                "sourceIp": "string",
                "user": "null",
                "userAgent": "string",
                "userArn": "null",
            },
            "path": "string",
            "protocol": "string",
            "requestId": "string",
            "requestTime": "string",
            "requestTimeEpoch": "number",
            // The sample shows null; API Gateway fills in the route.
            "resourceId": "string|null",
            "resourcePath": "string",
            "stage": "string",
        },
        "pathParameters": "map<string>",
        "stageVariables": "map<string>",
        "body": "string",
        "isBase64Encoded": "boolean",
    })
}

async fn create_function(nubo: &Nubo, name: &str, runtime: Runtime, handler: &str, zip: Vec<u8>) -> String {
    lambda_client(&nubo.edge_url())
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .role(ROLE)
        .handler(handler)
        .timeout(30)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"))
        .function_arn
        .unwrap()
}

/// An API whose stage `prod` (with a stage variable) serves `routes`,
/// each `(route key, payload format)` to `function_arn`; returns the
/// endpoint of the stage.
async fn api(apigateway: &Client, function_arn: &str, routes: &[(&str, &str)]) -> String {
    let api = apigateway.create_api().name("events").protocol_type(ProtocolType::Http).send().await.unwrap();
    let api_id = api.api_id().unwrap();
    for (key, version) in routes {
        let integration = apigateway
            .create_integration()
            .api_id(api_id)
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(function_arn)
            .payload_format_version(*version)
            .send()
            .await
            .unwrap();
        apigateway
            .create_route()
            .api_id(api_id)
            .route_key(*key)
            .target(format!("integrations/{}", integration.integration_id().unwrap()))
            .send()
            .await
            .unwrap();
    }
    apigateway
        .create_stage()
        .api_id(api_id)
        .stage_name("prod")
        .auto_deploy(true)
        .stage_variables("tier", "gold")
        .send()
        .await
        .unwrap();
    format!("{}/prod", api.api_endpoint().unwrap())
}

fn request(http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    http.post(url)
        .header("content-type", "application/json")
        .header("user-agent", "events-suite/1")
        .header("cookie", "c1=one; c2=two")
        .header("x-multi", "first")
        .header("x-multi", "second")
        .body(r#"{"k":1}"#)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_have_the_members_of_aws_samples() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let echo = create_function(&nubo, "echo", Runtime::Python312, "app.handler", package_of(&[("app.py", ECHO)])).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let endpoint = api(&apigateway, &echo, &[("POST /items/{id}", "2.0"), ("POST /legacy/{id}", "1.0")]).await;
    let http = reqwest::Client::new();
    let before = chrono::Utc::now().timestamp_millis();

    let v2: Value =
        request(&http, &format!("{endpoint}/items/42?a=1&a=2&b=x%20y")).send().await.unwrap().json().await.unwrap();
    assert_eq!(conforms(&v2, &shape_v2(), "event"), Vec::<String>::new(), "{v2:#}");
    assert_eq!(v2["version"], "2.0");
    assert_eq!(v2["routeKey"], "POST /items/{id}");
    assert_eq!(v2["rawPath"], "/prod/items/42");
    assert_eq!(v2["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(v2["queryStringParameters"], json!({ "a": "1,2", "b": "x y" }));
    assert_eq!(v2["cookies"], json!(["c1=one", "c2=two"]));
    assert!(v2["headers"].get("cookie").is_none());
    assert_eq!(v2["headers"]["x-multi"], "first,second");
    assert_eq!(v2["pathParameters"], json!({ "id": "42" }));
    assert_eq!(v2["stageVariables"], json!({ "tier": "gold" }));
    assert_eq!((v2["body"].as_str(), v2["isBase64Encoded"].as_bool()), (Some(r#"{"k":1}"#), Some(false)));
    let context = &v2["requestContext"];
    assert_eq!(context["accountId"], "000000000000");
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["routeKey"], "POST /items/{id}");
    assert_eq!(
        context["http"],
        json!({ "method": "POST", "path": "/prod/items/42", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "events-suite/1" })
    );
    let time = chrono::DateTime::parse_from_str(context["time"].as_str().unwrap(), "%d/%b/%Y:%H:%M:%S %z").unwrap();
    let epoch = context["timeEpoch"].as_i64().unwrap();
    assert!(epoch >= before && epoch - before < 30_000);
    assert_eq!(time.timestamp(), epoch / 1000);

    let v1: Value =
        request(&http, &format!("{endpoint}/legacy/7?a=1&a=2&b=x%20y")).send().await.unwrap().json().await.unwrap();
    assert_eq!(conforms(&v1, &shape_v1(), "event"), Vec::<String>::new(), "{v1:#}");
    assert_eq!(v1["version"], "1.0");
    assert_eq!(v1["resource"], "/legacy/{id}");
    assert_eq!(v1["path"], "/prod/legacy/7");
    assert_eq!(v1["httpMethod"], "POST");
    assert_eq!(v1["multiValueHeaders"]["x-multi"], json!(["first", "second"]));
    assert_eq!(v1["headers"]["cookie"], "c1=one; c2=two");
    assert_eq!(v1["queryStringParameters"], json!({ "a": "2", "b": "x y" }));
    assert_eq!(v1["multiValueQueryStringParameters"], json!({ "a": ["1", "2"], "b": ["x y"] }));
    assert_eq!(v1["pathParameters"], json!({ "id": "7" }));
    assert_eq!(v1["stageVariables"], json!({ "tier": "gold" }));
    let context = &v1["requestContext"];
    assert_eq!(
        (context["httpMethod"].as_str(), context["resourcePath"].as_str()),
        (Some("POST"), Some("/legacy/{id}"))
    );
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["identity"]["userAgent"], "events-suite/1");
    chrono::DateTime::parse_from_str(context["requestTime"].as_str().unwrap(), "%d/%b/%Y:%H:%M:%S %z").unwrap();

    // A request without query, cookies or body: those members are absent
    // in 2.0 and null in 1.0, as API Gateway sends them.
    let bare: Value = http.post(format!("{endpoint}/items/1")).send().await.unwrap().json().await.unwrap();
    for member in ["cookies", "queryStringParameters", "body"] {
        assert!(bare.get(member).is_none(), "{member}: {bare}");
    }
    let bare: Value = http.post(format!("{endpoint}/legacy/1")).send().await.unwrap().json().await.unwrap();
    for member in ["queryStringParameters", "multiValueQueryStringParameters", "body"] {
        assert_eq!(bare[member], Value::Null, "{member}");
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Builds the `lambda_http` handler's `bootstrap` with cargo and zips it.
async fn lambda_http_package() -> Vec<u8> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = tokio::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "nubo-rust-lambda-http", "--bin", "bootstrap", "--message-format=json"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .expect("cargo runs");
    assert!(output.status.success(), "cargo build -p nubo-rust-lambda-http failed (see its output above)");
    let executable = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "bootstrap")
        .filter(|message| message["package_id"].as_str().is_some_and(|id| id.contains("rust-lambda-http")))
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo built the bootstrap executable");
    let package = tempfile::tempdir().unwrap();
    std::fs::copy(&executable, package.path().join("bootstrap")).unwrap();
    package_directory(package.path())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// A raw ASGI application behind Mangum, answering with what Mangum made
/// of the request.
const MANGUM_APP: &str = r#"
import json
from mangum import Mangum

async def app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
    answer = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode(),
        "multi": [v for k, v in headers if k == "x-multi"],
        "cookie": [v for k, v in headers if k == "cookie"],
        "body": body.decode(),
    }
    await send({"type": "http.response.start", "status": 201, "headers": [
        (b"content-type", b"application/json"), (b"set-cookie", b"s1=a"), (b"set-cookie", b"s2=b"),
        (b"x-app", b"mangum")]})
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

handler = Mangum(app, lifespan="off")
"#;

/// Mangum (from `e2e/install-test-deps.sh`) with the app beside it.
fn mangum_package() -> Vec<u8> {
    let installed = target_dir().join("test-tools/python-handlers/mangum");
    assert!(installed.join("mangum").exists(), "{} has no mangum: run e2e/install-test-deps.sh", installed.display());
    let package = tempfile::tempdir().unwrap();
    copy_tree(&installed, package.path());
    std::fs::write(package.path().join("app.py"), MANGUM_APP).unwrap();
    package_directory(package.path())
}

/// What a framework handler must do behind either payload format: see
/// the method, path, repeated query parameters and headers, cookies and
/// body, and have its status, headers and both cookies reach the client.
async fn serves_unchanged(endpoint: &str, app: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    for prefix in ["items", "legacy"] {
        let url = format!("{endpoint}/{prefix}/42?a=1&a=2&b=x%20y");
        let response = request(&http, &url).send().await.unwrap();
        assert_eq!(response.status(), 201, "{app} {prefix}");
        assert_eq!(response.headers()["x-app"], app);
        let cookies: Vec<_> =
            response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        assert_eq!(cookies, ["s1=a", "s2=b"], "{app} {prefix}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["method"], "POST", "{app} {prefix}: {answer}");
        assert!(answer["path"].as_str().unwrap().ends_with(&format!("/{prefix}/42")), "{app} {prefix}: {answer}");
        assert_eq!(answer["body"], r#"{"k":1}"#, "{app} {prefix}");
        // One header per value, or one joined with commas (Mangum joins a
        // 1.0 event's lists with ", "): the same two values either way.
        let multi: Vec<String> = answer["multi"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v.as_str().unwrap().split(',').map(|part| part.trim().to_owned()).collect::<Vec<_>>())
            .collect();
        // lambda_http lays a 1.0 event's `headers` (one value, the last, as
        // API Gateway fills it) over `multiValueHeaders`: it sees the last.
        let expected: &[&str] =
            if app == "lambda_http" && prefix == "legacy" { &["second"] } else { &["first", "second"] };
        assert_eq!(multi, expected, "{app} {prefix}: {answer}");
        let cookie =
            answer["cookie"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>().join("; ");
        assert_eq!(cookie, "c1=one; c2=two", "{app} {prefix}: {answer}");
        answers.push(answer);
    }
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn framework_handlers_serve_unchanged_behind_both_formats() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let routes = [("POST /items/{id}", "2.0"), ("POST /legacy/{id}", "1.0")];

    let mangum = create_function(&nubo, "mangum", Runtime::Python312, "app.handler", mangum_package()).await;
    let endpoint = api(&apigateway, &mangum, &routes).await;
    for answer in serves_unchanged(&endpoint, "mangum").await {
        // 2.0 hands Mangum the raw query; from 1.0's lists it encodes its own.
        let query = answer["query"].as_str().unwrap();
        assert!(["a=1&a=2&b=x%20y", "a=1&a=2&b=x+y"].contains(&query), "{answer}");
    }

    let rust =
        create_function(&nubo, "lambda-http", Runtime::Providedal2023, "bootstrap", lambda_http_package().await).await;
    let endpoint = api(&apigateway, &rust, &routes).await;
    let answers = serves_unchanged(&endpoint, "lambda_http").await;
    for (answer, format) in answers.iter().zip(["2.0", "1.0"]) {
        assert_eq!(answer["format"], format, "{answer}");
        assert_eq!(answer["a"], json!(["1", "2"]), "{answer}");
        assert_eq!(answer["b"], "x y", "{answer}");
        assert_eq!(answer["id"], "42", "{answer}");
        assert_eq!(answer["tier"], "gold", "{answer}");
    }
}
