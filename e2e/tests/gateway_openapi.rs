//! OpenAPI import and export through the AWS CLI: `aws apigateway
//! import-rest-api` (Swagger 2) serving a MOCK method, `aws apigatewayv2
//! import-api`/`export-api`, and a malformed document refused with
//! `BadRequestException` naming where it is wrong.

use nubo_e2e::{Nubo, ServiceName, aws_cli};
use serde_json::Value;

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
