//! HTTP APIs beyond Lambda routes, through `aws-sdk-apigatewayv2` and plain
//! HTTP clients: stages that serve their deployment (not the draft), stage
//! variables in integration URIs, `HTTP_PROXY` integrations to a local
//! upstream with request and response parameter mapping and timeouts, CORS
//! answered by the gateway, custom domain names routed by `Host`, tags,
//! Update* calls, access logs and per-route metrics; and throttling under a
//! flood.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_apigatewayv2::{
    error::ProvideErrorMetadata,
    types::{AccessLogSettings, Cors, IntegrationType, ProtocolType, RouteSettings},
};
use bytes::Bytes;
use nubo_e2e::{Nubo, ServiceName, apigateway_client};
use serde_json::{Value, json};

/// An upstream that answers every request with what it received, as JSON,
/// plus CORS headers of its own (which the gateway must drop). Paths
/// containing `/slow` answer after two seconds.
async fn upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
                    let uri = request.uri().to_string();
                    if uri.contains("/slow") {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    let headers: serde_json::Map<String, Value> = request
                        .headers()
                        .iter()
                        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or(""))))
                        .collect();
                    let body = json!({ "method": request.method().as_str(), "uri": uri, "headers": headers, "id": 7 });
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .header("x-upstream", "yes")
                            .header("access-control-allow-origin", "https://upstream.example")
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

fn api_arn(api_id: &str) -> String {
    format!("arn:aws:apigateway:us-east-1::/apis/{api_id}")
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_http_proxy_mapping_cors_domains_and_logs() {
    let upstream = upstream().await;
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let http = reqwest::Client::new();

    let api = apigateway
        .create_api()
        .name("proxied")
        .protocol_type(ProtocolType::Http)
        .cors_configuration(
            Cors::builder()
                .allow_origins("https://app.example")
                .allow_methods("GET")
                .allow_methods("POST")
                .allow_headers("authorization")
                .expose_headers("x-upstream")
                .max_age(300)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let api_id = api.api_id().unwrap().to_owned();
    let endpoint = api.api_endpoint().unwrap().to_owned();
    assert_eq!(api.cors_configuration().unwrap().max_age(), Some(300));

    let integration = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method("ANY")
        .integration_uri("http://${stageVariables.upstream}/base/{proxy}")
        .payload_format_version("1.0")
        .request_parameters("append:header.x-request-id", "$context.requestId")
        .request_parameters("overwrite:querystring.stage", "$context.stage")
        .response_parameters(
            "200",
            [("append:header.x-mapped".to_string(), "$response.header.x-upstream".to_string())].into(),
        )
        .send()
        .await
        .unwrap();
    let integration_id = integration.integration_id().unwrap().to_owned();
    assert_eq!(integration.integration_type(), Some(&IntegrationType::HttpProxy));
    let route = apigateway
        .create_route()
        .api_id(&api_id)
        .route_key("ANY /svc/{proxy+}")
        .target(format!("integrations/{integration_id}"))
        .send()
        .await
        .unwrap();
    let route_id = route.route_id().unwrap().to_owned();
    let unknown_type = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_uri("not a url")
        .integration_method("GET")
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown_type.code(), Some("BadRequestException"));

    let log_group = "arn:aws:logs:us-east-1:000000000000:log-group:proxied-access";
    apigateway
        .create_stage()
        .api_id(&api_id)
        .stage_name("prod")
        .stage_variables("upstream", upstream.to_string())
        .access_log_settings(
            AccessLogSettings::builder()
                .destination_arn(log_group)
                .format(r#"{"requestId":"$context.requestId","status":"$context.status","route":"$context.routeKey"}"#)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Nothing deployed to the stage yet: API Gateway answers Not Found.
    let undeployed = http.get(format!("{endpoint}/prod/svc/a")).send().await.unwrap();
    assert_eq!(undeployed.status(), 404);

    let first =
        apigateway.create_deployment().api_id(&api_id).stage_name("prod").description("one").send().await.unwrap();
    let first_id = first.deployment_id().unwrap().to_owned();
    let response =
        http.get(format!("{endpoint}/prod/svc/a/b?x=1")).header("origin", "https://app.example").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mapped"], "yes");
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(response.headers()["access-control-expose-headers"], "x-upstream");
    let request_id = response.headers()["apigw-requestid"].to_str().unwrap().to_owned();
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["uri"], "/base/a/b?x=1&stage=prod");
    assert_eq!(seen["headers"]["x-request-id"], request_id.as_str());

    // The draft changes; the stage keeps serving its deployment until the next.
    apigateway
        .update_integration()
        .api_id(&api_id)
        .integration_id(&integration_id)
        .integration_uri("http://${stageVariables.upstream}/v2/{proxy}")
        .send()
        .await
        .unwrap();
    let still: Value = http.get(format!("{endpoint}/prod/svc/a")).send().await.unwrap().json().await.unwrap();
    assert_eq!(still["uri"], "/base/a?stage=prod");
    let second = apigateway.create_deployment().api_id(&api_id).stage_name("prod").send().await.unwrap();
    let now: Value = http.get(format!("{endpoint}/prod/svc/a")).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["uri"], "/v2/a?stage=prod");
    let deployments = apigateway.get_deployments().api_id(&api_id).send().await.unwrap();
    assert_eq!(deployments.items().len(), 2);
    let active = apigateway
        .delete_deployment()
        .api_id(&api_id)
        .deployment_id(second.deployment_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(active.code(), Some("BadRequestException"));
    apigateway.delete_deployment().api_id(&api_id).deployment_id(&first_id).send().await.unwrap();
    let gone = apigateway.get_deployment().api_id(&api_id).deployment_id(&first_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("NotFoundException"));

    // A preflight is the gateway's own answer; a disallowed origin gets no CORS headers.
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{endpoint}/prod/svc/a"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-methods"], "GET,POST");
    assert_eq!(preflight.headers()["access-control-max-age"], "300");
    let foreign =
        http.get(format!("{endpoint}/prod/svc/a")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());

    // An auto-deployed $default stage serves the draft; a slow upstream times out.
    apigateway
        .create_stage()
        .api_id(&api_id)
        .stage_name("$default")
        .auto_deploy(true)
        .stage_variables("upstream", upstream.to_string())
        .send()
        .await
        .unwrap();
    let slow = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method("GET")
        .integration_uri(format!("http://{upstream}/slow"))
        .timeout_in_millis(200)
        .send()
        .await
        .unwrap();
    apigateway
        .create_route()
        .api_id(&api_id)
        .route_key("GET /slow")
        .target(format!("integrations/{}", slow.integration_id().unwrap()))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let timed_out = http.get(format!("{endpoint}/slow")).send().await.unwrap();
    assert_eq!(timed_out.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(timed_out.json::<Value>().await.unwrap(), json!({ "message": "Service Unavailable" }));

    // Update calls answer with the changed resource.
    let renamed = apigateway.update_api().api_id(&api_id).name("renamed").send().await.unwrap();
    assert_eq!(renamed.name(), Some("renamed"));
    let moved = apigateway
        .update_route()
        .api_id(&api_id)
        .route_id(&route_id)
        .route_key("ANY /service/{proxy+}")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.route_key(), Some("ANY /service/{proxy+}"));
    let moved_draft: Value = http.get(format!("{endpoint}/service/q")).send().await.unwrap().json().await.unwrap();
    assert_eq!(moved_draft["uri"], "/v2/q?stage=%24default");
    let updated =
        apigateway.update_stage().api_id(&api_id).stage_name("prod").description("production").send().await.unwrap();
    assert_eq!(updated.description(), Some("production"));
    assert_eq!(updated.deployment_id(), second.deployment_id());

    // Tags on the API.
    apigateway
        .tag_resource()
        .resource_arn(api_arn(&api_id))
        .tags("team", "core")
        .tags("env", "dev")
        .send()
        .await
        .unwrap();
    apigateway.untag_resource().resource_arn(api_arn(&api_id)).tag_keys("env").send().await.unwrap();
    let tags = apigateway.get_tags().resource_arn(api_arn(&api_id)).send().await.unwrap();
    let tags: BTreeMap<String, String> = tags.tags().cloned().unwrap_or_default().into_iter().collect();
    assert_eq!(tags, BTreeMap::from([("team".to_string(), "core".to_string())]));

    // A custom domain maps `v1` to the prod stage, chosen by Host.
    let domain = apigateway.create_domain_name().domain_name("api.example.test").send().await.unwrap();
    assert_eq!(domain.domain_name(), Some("api.example.test"));
    let mapping = apigateway
        .create_api_mapping()
        .domain_name("api.example.test")
        .api_id(&api_id)
        .stage("prod")
        .api_mapping_key("v1")
        .send()
        .await
        .unwrap();
    let gateway_url = nubo.http_url(ServiceName::Gateway);
    let by_host: Value = http
        .get(format!("{gateway_url}/v1/svc/z"))
        .header("host", "api.example.test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_host["uri"], "/v2/z?stage=prod");
    let mappings = apigateway.get_api_mappings().domain_name("api.example.test").send().await.unwrap();
    assert_eq!(mappings.items().len(), 1);
    apigateway
        .delete_api_mapping()
        .domain_name("api.example.test")
        .api_mapping_id(mapping.api_mapping_id().unwrap())
        .send()
        .await
        .unwrap();
    let unmapped = http.get(format!("{gateway_url}/v1/svc/z")).header("host", "api.example.test").send().await.unwrap();
    assert_eq!(unmapped.status(), 404);
    apigateway.delete_domain_name().domain_name("api.example.test").send().await.unwrap();
    let no_domain = apigateway.get_domain_name().domain_name("api.example.test").send().await.unwrap_err();
    assert_eq!(no_domain.code(), Some("NotFoundException"));

    // The access log holds the request, in the stage's format.
    let directory = state.path().join("state/gateway/logs/proxied-access");
    let mut logged = String::new();
    for _ in 0..50 {
        logged = std::fs::read_dir(&directory)
            .map(|entries| {
                entries.flatten().map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default()).collect()
            })
            .unwrap_or_default();
        if logged.contains(&request_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line: Value = serde_json::from_str(logged.lines().find(|line| line.contains(&request_id)).unwrap()).unwrap();
    assert_eq!(line, json!({ "requestId": request_id, "status": "200", "route": "ANY /svc/{proxy+}" }));

    // Per-route metrics.
    let metrics = http.get(format!("{gateway_url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|line| line.starts_with("nubo_gateway_api_requests_total")
            && line.contains(&format!("api=\"{api_id}\""))
            && line.contains("route=\"GET /slow\"")
            && line.contains("status=\"503\"")),
        "{metrics}"
    );
}

/// The resident memory of a process, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooded_route_admits_burst_plus_rate_and_nothing_else_slows() {
    const RATE: f64 = 20.0;
    const BURST: i32 = 10;
    const SECONDS: u64 = 10;
    let upstream = upstream().await;
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let apigateway = apigateway_client(&nubo.edge_url());

    let mut endpoints = Vec::new();
    for name in ["flooded", "bystander"] {
        let api = apigateway.create_api().name(name).protocol_type(ProtocolType::Http).send().await.unwrap();
        let api_id = api.api_id().unwrap().to_owned();
        let integration = apigateway
            .create_integration()
            .api_id(&api_id)
            .integration_type(IntegrationType::HttpProxy)
            .integration_method("GET")
            .integration_uri(format!("http://{upstream}/ok"))
            .send()
            .await
            .unwrap();
        for key in ["GET /limited", "GET /free"] {
            apigateway
                .create_route()
                .api_id(&api_id)
                .route_key(key)
                .target(format!("integrations/{}", integration.integration_id().unwrap()))
                .send()
                .await
                .unwrap();
        }
        apigateway.create_stage().api_id(&api_id).stage_name("$default").auto_deploy(true).send().await.unwrap();
        endpoints.push(api.api_endpoint().unwrap().to_owned());
    }
    apigateway
        .update_stage()
        .api_id(nubo_api_id(&endpoints[0]))
        .stage_name("$default")
        .route_settings(
            "GET /limited",
            RouteSettings::builder().throttling_rate_limit(RATE).throttling_burst_limit(BURST).build(),
        )
        .send()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    // Warm the definitions' caches, and let the new bucket's settings arrive.
    for endpoint in &endpoints {
        assert_eq!(http.get(format!("{endpoint}/free")).send().await.unwrap().status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = nubo.process.id();
    let memory_before = resident_kib(pid);

    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let flood_url = format!("{}/limited", endpoints[0]);
    let started = Instant::now();
    let mut flooders = Vec::new();
    for _ in 0..16 {
        let (http, url, accepted, refused, other, stop) =
            (http.clone(), flood_url.clone(), accepted.clone(), refused.clone(), other.clone(), stop.clone());
        flooders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match http.get(&url).send().await {
                    Ok(response) if response.status() == 200 => accepted.fetch_add(1, Ordering::Relaxed),
                    Ok(response) if response.status() == 429 => {
                        assert_eq!(response.json::<Value>().await.unwrap(), json!({ "message": "Too Many Requests" }));
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // Meanwhile, another route of the same API and another API answer fast.
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(SECONDS) - Duration::from_millis(500) {
        for url in [format!("{}/free", endpoints[0]), format!("{}/limited", endpoints[1])] {
            let sent = Instant::now();
            assert_eq!(http.get(&url).send().await.unwrap().status(), 200, "{url}");
            slowest = slowest.max(sent.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while started.elapsed() < Duration::from_secs(SECONDS) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for flooder in flooders {
        flooder.await.unwrap();
    }
    let memory_after = resident_kib(pid);

    let accepted = accepted.load(Ordering::Relaxed) as f64;
    let refused = refused.load(Ordering::Relaxed);
    let expected = f64::from(BURST) + RATE * elapsed;
    assert!((accepted - expected).abs() <= expected * 0.1, "accepted {accepted}, expected {expected} ± 10%");
    assert!(refused > 1000, "the flood was refused {refused} times only");
    assert_eq!(other.load(Ordering::Relaxed), 0);
    assert!(slowest < Duration::from_millis(500), "a bystander request took {slowest:?}");
    // Thousands of refused requests leave no queue or per-request state behind.
    assert!(memory_after < memory_before + 64 * 1024, "memory grew from {memory_before} KiB to {memory_after} KiB");
}

/// The API id of an `{public_url}/{apiId}` endpoint.
fn nubo_api_id(endpoint: &str) -> &str {
    endpoint.rsplit('/').next().unwrap()
}
