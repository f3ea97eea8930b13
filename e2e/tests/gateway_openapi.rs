//! OpenAPI import and export through the AWS CLI: `aws apigateway
//! import-rest-api` (Swagger 2) serving a MOCK method, `aws apigatewayv2
//! import-api`/`export-api`, and a malformed document refused with
//! `BadRequestException` naming where it is wrong. Through the SDKs:
//! ImportApi keeping `x-amazon-apigateway-cors` as the API's
//! CorsConfiguration and integrations' parameter mappings (shared only
//! when identical), ReimportApi with a base path, ExportApi writing them
//! back; PutRestApi merging into and overwriting a REST API.

use aws_sdk_apigateway::{primitives::Blob, types::PutMode};
use aws_sdk_apigatewayv2::error::ProvideErrorMetadata as _;
use nubo_e2e::{Nubo, ServiceName, apigateway_client, aws_cli, rest_apigateway_client};
use serde_json::{Value, json};

const REST_DOCUMENT: &str = r#"
swagger: "2.0"
info: { title: imported-rest, version: "1" }
paths:
  /health:
    get:
      responses: { "200": { description: ok } }
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseTemplates: { application/json: '{"healthy": true}' }
"#;

const HTTP_DOCUMENT: &str = r#"
openapi: 3.0.1
info: { title: imported-http, version: "1" }
paths:
  /items/{id}:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:lambda:us-east-1:000000000000:function:items
        payloadFormatVersion: "2.0"
"#;

const MAPPED_DOCUMENT: &str = r#"
openapi: 3.0.1
info: { title: mapped-http, version: "1" }
servers:
  - url: https://api.example/{basePath}
    variables: { basePath: { default: /v1 } }
x-amazon-apigateway-cors:
  allowOrigins: ["https://app.example"]
  allowMethods: [GET, POST]
  maxAge: 300
paths:
  /mapped:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/upstream
        payloadFormatVersion: "1.0"
        requestParameters: { "append:header.x-from": "$context.requestId" }
        responseParameters: { "200": { "overwrite:header.x-seen": "yes" } }
  /plain:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/upstream
        payloadFormatVersion: "1.0"
  /also-plain:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/upstream
        payloadFormatVersion: "1.0"
"#;

const MERGED_DOCUMENT: &str = r#"
swagger: "2.0"
info: { title: merged-rest, version: "2" }
paths:
  /added:
    post:
      responses: { "200": { description: ok } }
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseTemplates: { application/json: '{"added": true}' }
"#;

fn cli(home: &std::path::Path, endpoint: &str, args: &[&str]) -> std::process::Output {
    aws_cli(home, Some(endpoint)).args(args).output().unwrap()
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_import_through_the_cli() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let home = state.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let edge = nubo.edge_url();
    let rest_file = state.path().join("rest.yaml");
    std::fs::write(&rest_file, REST_DOCUMENT).unwrap();
    let http_file = state.path().join("http.yaml");
    std::fs::write(&http_file, HTTP_DOCUMENT).unwrap();

    let imported = json_of(&cli(
        &home,
        &edge,
        &["apigateway", "import-rest-api", "--body", &format!("fileb://{}", rest_file.display())],
    ));
    assert_eq!(imported["name"], "imported-rest");
    let api_id = imported["id"].as_str().unwrap().to_owned();
    let resources = json_of(&cli(&home, &edge, &["apigateway", "get-resources", "--rest-api-id", &api_id]));
    let paths: Vec<&str> = resources["items"].as_array().unwrap().iter().filter_map(|r| r["path"].as_str()).collect();
    assert!(paths.contains(&"/health"), "{paths:?}");
    json_of(&cli(&home, &edge, &["apigateway", "create-deployment", "--rest-api-id", &api_id, "--stage-name", "prod"]));
    let gateway = nubo.http_url(ServiceName::Gateway);
    let health = reqwest::get(format!("{gateway}/restapis/{api_id}/prod/_user_request_/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap(), serde_json::json!({ "healthy": true }));

    let http_api = json_of(&cli(
        &home,
        &edge,
        &["apigatewayv2", "import-api", "--body", &format!("file://{}", http_file.display())],
    ));
    assert_eq!(http_api["Name"], "imported-http");
    let http_id = http_api["ApiId"].as_str().unwrap().to_owned();
    let routes = json_of(&cli(&home, &edge, &["apigatewayv2", "get-routes", "--api-id", &http_id]));
    assert_eq!(routes["Items"][0]["RouteKey"], "GET /items/{id}");
    let exported = state.path().join("exported.json");
    let export = cli(
        &home,
        &edge,
        &[
            "apigatewayv2",
            "export-api",
            "--api-id",
            &http_id,
            "--specification",
            "OAS30",
            "--output-type",
            "JSON",
            &exported.display().to_string(),
        ],
    );
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let document: Value = serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    assert_eq!(document["paths"]["/items/{id}"]["get"]["x-amazon-apigateway-integration"]["type"], "aws_proxy");

    let broken = state.path().join("broken.yaml");
    std::fs::write(&broken, "openapi: 3.0.1\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration:\n        timeoutInMillis: soon\n").unwrap();
    let refused = cli(&home, &edge, &["apigatewayv2", "import-api", "--body", &format!("file://{}", broken.display())]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("BadRequestException"), "{stderr}");
    assert!(stderr.contains("paths./a.get.x-amazon-apigateway-integration.timeoutInMillis"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_import_reimport_and_export_through_the_sdks() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let edge = nubo.edge_url();
    let v2 = apigateway_client(&edge);

    // ImportApi: CORS and parameter mappings kept; `/plain` and
    // `/also-plain` share one integration, `/mapped` has its own.
    let imported = v2.import_api().body(MAPPED_DOCUMENT).send().await.unwrap();
    let api_id = imported.api_id().unwrap().to_owned();
    let cors = imported.cors_configuration().expect("the document's CORS configuration");
    assert_eq!(cors.allow_origins(), ["https://app.example"]);
    assert_eq!(cors.allow_methods(), ["GET", "POST"]);
    assert_eq!(cors.max_age(), Some(300));
    let routes = v2.get_routes().api_id(&api_id).send().await.unwrap();
    let target_of = |key: &str| {
        routes.items().iter().find(|route| route.route_key() == Some(key)).and_then(|r| r.target()).unwrap().to_owned()
    };
    assert_eq!(target_of("GET /plain"), target_of("GET /also-plain"));
    assert_ne!(target_of("GET /plain"), target_of("GET /mapped"));
    let integrations = v2.get_integrations().api_id(&api_id).send().await.unwrap();
    assert_eq!(integrations.items().len(), 2);
    let mapped_id = target_of("GET /mapped").trim_start_matches("integrations/").to_owned();
    let mapped = v2.get_integration().api_id(&api_id).integration_id(&mapped_id).send().await.unwrap();
    assert_eq!(
        mapped.request_parameters().and_then(|p| p.get("append:header.x-from")).map(String::as_str),
        Some("$context.requestId")
    );
    let response = mapped.response_parameters().and_then(|p| p.get("200")).expect("the 200 response mapping");
    assert_eq!(response.get("overwrite:header.x-seen").map(String::as_str), Some("yes"));

    // ExportApi writes them back.
    let exported = v2.export_api().api_id(&api_id).specification("OAS30").output_type("JSON").send().await.unwrap();
    let document: Value = serde_json::from_slice(exported.body().unwrap().as_ref()).unwrap();
    assert_eq!(document["x-amazon-apigateway-cors"]["allowOrigins"], json!(["https://app.example"]));
    let extension = &document["paths"]["/mapped"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(extension["requestParameters"], json!({ "append:header.x-from": "$context.requestId" }));
    assert_eq!(extension["responseParameters"], json!({ "200": { "overwrite:header.x-seen": "yes" } }));

    // ReimportApi with `basepath=prepend`: the server's base path goes
    // before every route; stages stay.
    v2.create_stage().api_id(&api_id).stage_name("live").send().await.unwrap();
    v2.reimport_api().api_id(&api_id).body(MAPPED_DOCUMENT).basepath("prepend").send().await.unwrap();
    let routes = v2.get_routes().api_id(&api_id).send().await.unwrap();
    let mut keys: Vec<&str> = routes.items().iter().filter_map(|route| route.route_key()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["GET /v1/also-plain", "GET /v1/mapped", "GET /v1/plain"]);
    assert_eq!(v2.get_stages().api_id(&api_id).send().await.unwrap().items().len(), 1);
    let bad_mode = v2.reimport_api().api_id(&api_id).body(MAPPED_DOCUMENT).basepath("sideways").send().await;
    assert_eq!(bad_mode.unwrap_err().code(), Some("BadRequestException"));
    // A malformed document changes nothing, and says where it is wrong.
    let refused = v2
        .reimport_api()
        .api_id(&api_id)
        .body("openapi: 3.0.1\npaths:\n  /x:\n    get:\n      x-amazon-apigateway-integration: just text\n")
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("BadRequestException"));
    assert!(refused.message().unwrap_or_default().contains("paths./x.get"), "{refused:?}");
    assert_eq!(v2.get_routes().api_id(&api_id).send().await.unwrap().items().len(), 3);

    // REST APIs: ImportRestApi from Swagger 2, then PutRestApi merging
    // (the old paths stay) and overwriting (only the new ones are left).
    let v1 = rest_apigateway_client(&edge);
    let rest = v1.import_rest_api().body(Blob::new(REST_DOCUMENT)).send().await.unwrap();
    let rest_id = rest.id().unwrap().to_owned();
    let paths = |resources: aws_sdk_apigateway::operation::get_resources::GetResourcesOutput| {
        let mut paths: Vec<String> = resources.items().iter().filter_map(|r| r.path().map(str::to_owned)).collect();
        paths.sort();
        paths
    };
    let merged = v1
        .put_rest_api()
        .rest_api_id(&rest_id)
        .mode(PutMode::Merge)
        .parameters("basepath", "prepend")
        .body(Blob::new(MERGED_DOCUMENT.replace("paths:", "basePath: /v2\npaths:")))
        .send()
        .await
        .unwrap();
    assert_eq!(merged.name(), Some("imported-rest"), "merge keeps the API's name");
    let resources = v1.get_resources().rest_api_id(&rest_id).send().await.unwrap();
    assert_eq!(paths(resources), ["/", "/health", "/v2", "/v2/added"]);
    let overwritten = v1
        .put_rest_api()
        .rest_api_id(&rest_id)
        .mode(PutMode::Overwrite)
        .body(Blob::new(MERGED_DOCUMENT))
        .send()
        .await
        .unwrap();
    assert_eq!(overwritten.name(), Some("merged-rest"));
    let resources = v1.get_resources().rest_api_id(&rest_id).send().await.unwrap();
    assert_eq!(paths(resources), ["/", "/added"]);
    // The overwritten API serves its new method once deployed.
    v1.create_deployment().rest_api_id(&rest_id).stage_name("prod").send().await.unwrap();
    let gateway = nubo.http_url(ServiceName::Gateway);
    let added = reqwest::Client::new()
        .post(format!("{gateway}/restapis/{rest_id}/prod/_user_request_/added"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    assert_eq!(added.json::<Value>().await.unwrap(), json!({ "added": true }));
    let broken = v1
        .put_rest_api()
        .rest_api_id(&rest_id)
        .mode(PutMode::Overwrite)
        .body(Blob::new("swagger: '2.0'\npaths:\n  /x:\n    get:\n      responses: 7\n"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(aws_sdk_apigateway::error::ProvideErrorMetadata::code(&broken), Some("BadRequestException"));
    let message = aws_sdk_apigateway::error::ProvideErrorMetadata::message(&broken).unwrap_or_default().to_owned();
    assert!(message.contains("paths./x.get.responses"), "{message}");
}
