//! WebSocket APIs with real clients: `tokio-tungstenite` and the Python
//! `websockets` package connect through `$connect` (refused by its Lambda
//! REQUEST authorizer with a bad token, and by its integration's non-2xx
//! answer), get replies the function posts through the `@connections` API
//! with boto3 and replies route responses carry, and are closed by
//! `DeleteConnection`, after which `$disconnect` runs; the events are
//! checked against AWS's samples. The stage serves its deployment, not the
//! draft, and its variables name the function and reach the events. A
//! client that does not read gets no more than its queue holds, and
//! `PostToConnection` to it answers `LimitExceededException` while others
//! are served. A second gateway process over the same data and functions
//! serves the same API: a message posted through one replica reaches a
//! socket held by the other, the second replica's short idle and maximum
//! durations close its sockets as AWS's do, and once it is killed its
//! connections are `GoneException` through the first.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aws_sdk_apigatewaymanagement::{error::ProvideErrorMetadata, primitives::Blob};
use aws_sdk_apigatewayv2::types::{IntegrationType, ProtocolType};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use futures::{SinkExt as _, StreamExt as _};
use nubo_e2e::{
    Nubo, Ports, Process, ROLE, ServiceName, apigateway_client, dynamodb_client, fixture, lambda_client,
    package_directory, python_tools, sdk_http_client, try_wait_healthy,
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, protocol::frame::coding::CloseCode};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const TABLE: &str = "ws-events";
const CLUSTER_TOKEN: &str = "websocket-suite-cluster-token";

/// The `@connections` client of one API stage, as a handler makes it.
fn connections_client(stage_url: &str) -> aws_sdk_apigatewaymanagement::Client {
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewaymanagement::config::Region::new(nubo_e2e::REGION))
        .credentials_provider(nubo_e2e::credentials("test", "test"))
        .endpoint_url(stage_url)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

/// Copies `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The handler with boto3 vendored beside it, as a function package built
/// for Lambda carries it; botocore keeps the two service models it uses.
fn package_with_boto3(build: &Path) -> Vec<u8> {
    let site = std::fs::read_dir(python_tools().join("../lib"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.join("boto3").exists())
        .expect("boto3 in the test tools");
    for package in ["boto3", "jmespath", "dateutil", "s3transfer", "urllib3"] {
        copy_tree(&site.join(package), &build.join(package));
    }
    std::fs::copy(site.join("six.py"), build.join("six.py")).unwrap();
    let botocore = site.join("botocore");
    std::fs::create_dir_all(build.join("botocore/data")).unwrap();
    for entry in std::fs::read_dir(&botocore).unwrap().flatten() {
        let name = entry.file_name();
        if entry.path().is_dir() && name != "data" {
            copy_tree(&entry.path(), &build.join("botocore").join(&name));
        } else if !entry.path().is_dir() {
            std::fs::copy(entry.path(), build.join("botocore").join(&name)).unwrap();
        }
    }
    let data = botocore.join("data");
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let name = entry.file_name();
        let keep = ["apigatewaymanagementapi", "dynamodb"].iter().any(|kept| name == *kept);
        if !entry.path().is_dir() {
            std::fs::copy(entry.path(), build.join("botocore/data").join(&name)).unwrap();
        } else if keep {
            copy_tree(&entry.path(), &build.join("botocore/data").join(&name));
        }
    }
    std::fs::copy(fixture("gateway/websocket/app.py"), build.join("app.py")).unwrap();
    package_directory(build)
}

/// The next text message, within 30 s, skipping control frames.
async fn next_text(socket: &mut Socket) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Waits for the server's close frame and returns its code.
async fn closed_with(socket: &mut Socket, within: Duration) -> CloseCode {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code,
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn send_json(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.unwrap();
}

/// The event the function recorded for `connection_id` on `route`, once it has.
async fn recorded(dynamodb: &aws_sdk_dynamodb::Client, connection_id: &str, route: &str) -> Value {
    let started = Instant::now();
    loop {
        let item = dynamodb
            .get_item()
            .table_name(TABLE)
            .key("id", AttributeValue::S(format!("{connection_id}#{route}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        if let Some(event) = item.item().and_then(|item| item.get("event")).and_then(|event| event.as_s().ok()) {
            return serde_json::from_str(event).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no {route} event for {connection_id}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    names.sort();
    names
}

/// The fields every WebSocket event's `requestContext` has in AWS's samples.
const CONTEXT_FIELDS: &[&str] = &[
    "routeKey",
    "eventType",
    "extendedRequestId",
    "requestTime",
    "messageDirection",
    "stage",
    "connectedAt",
    "requestTimeEpoch",
    "identity",
    "requestId",
    "domainName",
    "connectionId",
    "apiId",
    "authorizer",
];

async fn connect(url: &str) -> Socket {
    let (socket, response) =
        tokio_tungstenite::connect_async(url).await.unwrap_or_else(|error| panic!("{url}: {error}"));
    assert_eq!(response.status(), 101);
    socket
}

/// Asks the function for this socket's connection id (it echoes it).
async fn connection_id_of(socket: &mut Socket) -> String {
    send_json(socket, json!({ "action": "echo", "text": "who am i" })).await;
    let reply: Value = serde_json::from_str(&next_text(socket).await).unwrap();
    assert_eq!(reply["echo"], "who am i", "{reply}");
    reply["connectionId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_apis_with_real_clients_across_two_gateways() {
    let dir = tempfile::tempdir().unwrap();
    // Data and functions on known gRPC ports, and a cluster token the
    // second gateway shares.
    let data_grpc = nubo_e2e::free_port().to_string();
    let functions_grpc = nubo_e2e::free_port().to_string();
    let nubo = Nubo::up_with(
        &dir.path().join("state"),
        &[
            ("NUBO_CLUSTER__TOKEN", CLUSTER_TOKEN),
            ("NUBO_DATA__GRPC_PORT", &data_grpc),
            ("NUBO_FUNCTIONS__GRPC_PORT", &functions_grpc),
        ],
    )
    .await;
    let gateway_a = nubo.http_url(ServiceName::Gateway);

    let b_ports = Ports::free(ServiceName::Gateway);
    let mut b_env: Vec<(String, String)> = vec![
        ("NUBO_BIND_HOST".into(), "127.0.0.1".into()),
        ("NUBO_STATE_DIR".into(), dir.path().join("gateway-b").to_str().unwrap().into()),
        ("NUBO_CLUSTER__TOKEN".into(), CLUSTER_TOKEN.into()),
        ("NUBO_CREDENTIALS__ALLOW_DEV_KEYS".into(), "true".into()),
        ("NUBO_LINKS__DATA".into(), format!("http://127.0.0.1:{data_grpc}")),
        ("NUBO_LINKS__FUNCTIONS".into(), format!("http://127.0.0.1:{functions_grpc}")),
        // Short limits on this replica, to see them enforced.
        ("NUBO_GATEWAY__WEBSOCKET__IDLE_TIMEOUT_SECONDS".into(), "3".into()),
        ("NUBO_GATEWAY__WEBSOCKET__MAX_DURATION_SECONDS".into(), "6".into()),
    ];
    b_env.extend(b_ports.env(ServiceName::Gateway));
    let mut gateway_b_process =
        Process::spawn(&["serve", "--services", "gateway"], &b_env, dir.path().join("gateway-b.log"));
    let gateway_b = format!("http://127.0.0.1:{}", b_ports.http);
    try_wait_healthy(&mut gateway_b_process, &gateway_b).await.expect("the second gateway starts");

    let dynamodb = dynamodb_client(&nubo.http_url(ServiceName::Data));
    dynamodb
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();

    let lambda = lambda_client(&nubo.edge_url());
    let function_arn = lambda
        .create_function()
        .function_name("sockets")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .timeout(30)
        .environment(Environment::builder().variables("EVENTS_TABLE", TABLE).build())
        .code(
            FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(package_with_boto3(&dir.path().join("package"))))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();

    let gatekeeper_arn = lambda
        .create_function()
        .function_name("gatekeeper")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("gatekeeper.handler")
        .code(
            FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(nubo_e2e::package_of(&[(
                    "gatekeeper.py",
                    &std::fs::read_to_string(fixture("gateway/websocket/gatekeeper.py")).unwrap(),
                )])))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap();

    // The API: $connect (behind a Lambda REQUEST authorizer), $disconnect,
    // $default and custom routes, all to the function; `ask` and `tell`
    // answer through route responses.
    let apigateway = apigateway_client(&nubo.edge_url());
    let api = apigateway
        .create_api()
        .name("sockets")
        .protocol_type(ProtocolType::Websocket)
        .route_selection_expression("$request.body.action")
        .send()
        .await
        .unwrap();
    let api_id = api.api_id().unwrap().to_owned();
    assert_eq!(api.api_endpoint().unwrap(), format!("ws://{}/{api_id}", gateway_a.trim_start_matches("http://")));
    let missing_expression =
        apigateway.create_api().name("bad").protocol_type(ProtocolType::Websocket).send().await.unwrap_err();
    assert_eq!(missing_expression.code(), Some("BadRequestException"));
    // The function is named by the stage's `handler` variable.
    let staged_arn = function_arn.replace(":function:sockets", ":function:${stageVariables.handler}");
    assert_ne!(staged_arn, function_arn);
    let integration = apigateway
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri(format!(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{staged_arn}/invocations"
        ))
        .send()
        .await
        .unwrap();
    let target = format!("integrations/{}", integration.integration_id().unwrap());
    // A WebSocket REQUEST authorizer takes no payload format version.
    let authorizer = apigateway
        .create_authorizer()
        .api_id(&api_id)
        .name("gatekeeper")
        .authorizer_type(aws_sdk_apigatewayv2::types::AuthorizerType::Request)
        .authorizer_uri(format!(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{gatekeeper_arn}/invocations"
        ))
        .identity_source("route.request.querystring.token")
        .send()
        .await
        .unwrap();
    assert_eq!(authorizer.authorizer_payload_format_version(), None);
    let jwt = apigateway
        .create_authorizer()
        .api_id(&api_id)
        .name("jwt")
        .authorizer_type(aws_sdk_apigatewayv2::types::AuthorizerType::Jwt)
        .identity_source("route.request.header.Authorization")
        .send()
        .await
        .unwrap_err();
    assert_eq!(jwt.code(), Some("BadRequestException"));
    for key in ["$connect", "$disconnect", "$default", "echo", "ask", "tell"] {
        let mut route = apigateway.create_route().api_id(&api_id).route_key(key).target(&target);
        if key == "$connect" {
            route = route
                .authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::Custom)
                .authorizer_id(authorizer.authorizer_id().unwrap());
        }
        let route = route.send().await.unwrap();
        if key == "ask" || key == "tell" {
            apigateway
                .create_route_response()
                .api_id(&api_id)
                .route_id(route.route_id().unwrap())
                .route_response_key("$default")
                .send()
                .await
                .unwrap();
        }
    }
    let reserved = apigateway.create_route().api_id(&api_id).route_key("$other").send().await.unwrap_err();
    assert_eq!(reserved.code(), Some("BadRequestException"));
    // The stage serves a deployment, with the variable naming the function.
    let deployment = apigateway.create_deployment().api_id(&api_id).send().await.unwrap();
    apigateway
        .create_stage()
        .api_id(&api_id)
        .stage_name("dev")
        .deployment_id(deployment.deployment_id().unwrap())
        .stage_variables("handler", "sockets")
        .send()
        .await
        .unwrap();
    // A stage with nothing deployed refuses the handshake.
    apigateway.create_stage().api_id(&api_id).stage_name("empty").send().await.unwrap();

    let ws_a = format!("{}/{api_id}/dev", gateway_a.replace("http://", "ws://"));
    let ws_b = format!("{}/{api_id}/dev", gateway_b.replace("http://", "ws://"));

    // The authorizer refuses a bad token (its policy denies: 403) and a
    // missing one (no identity source: 401, uncalled); `$connect`'s own
    // integration refuses with its non-2xx status.
    for (query, status) in [("token=bad", 403), ("other=1", 401), ("token=good&refuse=1", 400)] {
        match tokio_tungstenite::connect_async(format!("{ws_a}?{query}")).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), status, "{query}"),
            other => panic!("{query} was not refused: {:?}", other.map(|(_, response)| response.status())),
        }
    }
    // An unknown stage, or one with nothing deployed, is refused before
    // any route runs.
    for stage in ["nostage", "empty"] {
        let url = format!("{}/{api_id}/{stage}?token=good", gateway_a.replace("http://", "ws://"));
        match tokio_tungstenite::connect_async(url).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403, "{stage}"),
            other => panic!("stage {stage} was accepted: {:?}", other.map(|(_, response)| response.status())),
        }
    }

    // Connected: the function's reply through @connections comes back.
    let mut first = connect(&format!("{ws_a}?token=good")).await;
    let first_id = connection_id_of(&mut first).await;
    // A route response carries the function's own reply.
    send_json(&mut first, json!({ "action": "ask" })).await;
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut first).await).unwrap(),
        json!({ "answer": 42, "route": "ask" })
    );
    // Not JSON, or no such route: `$default`.
    first.send(Message::text("plain words")).await.unwrap();
    assert_eq!(next_text(&mut first).await, "default:plain words");
    send_json(&mut first, json!({ "action": "nosuchroute" })).await;
    assert_eq!(next_text(&mut first).await, r#"default:{"action":"nosuchroute"}"#);

    // A route added to the draft is not served until it is deployed.
    let late = apigateway.create_route().api_id(&api_id).route_key("late").target(&target).send().await.unwrap();
    apigateway
        .create_route_response()
        .api_id(&api_id)
        .route_id(late.route_id().unwrap())
        .route_response_key("$default")
        .send()
        .await
        .unwrap();
    send_json(&mut first, json!({ "action": "late" })).await;
    assert_eq!(next_text(&mut first).await, r#"default:{"action":"late"}"#);
    let redeployed = apigateway.create_deployment().api_id(&api_id).stage_name("dev").send().await.unwrap();
    let stage = apigateway.get_stage().api_id(&api_id).stage_name("dev").send().await.unwrap();
    assert_eq!(stage.deployment_id(), redeployed.deployment_id());
    let started = Instant::now();
    loop {
        send_json(&mut first, json!({ "action": "late" })).await;
        let reply = next_text(&mut first).await;
        if reply == "late" {
            break;
        }
        assert_eq!(reply, r#"default:{"action":"late"}"#);
        assert!(started.elapsed() < Duration::from_secs(10), "the new deployment was not served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The events, field by field against AWS's samples.
    let connect_event = recorded(&dynamodb, &first_id, "$connect").await;
    let context = &connect_event["requestContext"];
    assert_eq!(keys(context), sorted(CONTEXT_FIELDS), "{context}");
    assert_eq!(context["eventType"], "CONNECT");
    assert_eq!(context["routeKey"], "$connect");
    assert_eq!(context["connectionId"], first_id.as_str());
    assert_eq!(context["apiId"], api_id.as_str());
    assert_eq!(context["stage"], "dev");
    assert_eq!(context["domainName"], "127.0.0.1");
    assert_eq!(context["messageDirection"], "IN");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["authorizer"], json!({ "principalId": "alice", "user": "alice", "tier": 3 }));
    assert!(context["connectedAt"].as_i64().unwrap() <= context["requestTimeEpoch"].as_i64().unwrap());
    assert_eq!(connect_event["queryStringParameters"], json!({ "token": "good" }));
    assert_eq!(connect_event["stageVariables"], json!({ "handler": "sockets" }));
    assert_eq!(connect_event["isBase64Encoded"], false);
    assert_eq!(connect_event["headers"]["sec-websocket-version"], "13");
    let message_event = recorded(&dynamodb, &first_id, "ask").await;
    let context = &message_event["requestContext"];
    let mut message_fields = CONTEXT_FIELDS.to_vec();
    message_fields.push("messageId");
    assert_eq!(keys(context), sorted(&message_fields), "{context}");
    assert_eq!(context["eventType"], "MESSAGE");
    assert_eq!(context["connectedAt"], connect_event["requestContext"]["connectedAt"]);
    assert_eq!(message_event["body"], r#"{"action":"ask"}"#);
    assert_eq!(context["authorizer"]["principalId"], "alice");
    assert_eq!(keys(&message_event), sorted(&["body", "isBase64Encoded", "requestContext", "stageVariables"]));

    // The @connections API from outside: describe, post, and the stage in
    // the path; unsigned calls are refused.
    let connections_a = connections_client(&format!("{gateway_a}/{api_id}/dev"));
    let described = connections_a.get_connection().connection_id(&first_id).send().await.unwrap();
    assert_eq!(described.identity().unwrap().source_ip(), Some("127.0.0.1"));
    assert!(described.connected_at().is_some() && described.last_active_at().is_some());
    connections_a.post_to_connection().connection_id(&first_id).data(Blob::new("from the sdk")).send().await.unwrap();
    assert_eq!(next_text(&mut first).await, "from the sdk");
    let wrong_stage = connections_client(&format!("{gateway_a}/{api_id}/prod"));
    let gone = wrong_stage.post_to_connection().connection_id(&first_id).data(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("GoneException"));
    let unsigned = reqwest::Client::new()
        .post(format!("{gateway_a}/{api_id}/dev/@connections/{}", first_id.replace('=', "%3D")))
        .body("sneaky")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let too_large = connections_a
        .post_to_connection()
        .connection_id(&first_id)
        .data(Blob::new(vec![b'x'; 129 * 1024]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(too_large.code(), Some("PayloadTooLargeException"));

    // A client that does not read: its queue fills, PostToConnection to it
    // answers LimitExceededException after the send timeout, and another
    // client is served all the while.
    let (mut stuck, stuck_id) = {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let address = gateway_a.trim_start_matches("http://").parse().unwrap();
        let stream = socket.connect(address).await.unwrap();
        let (mut socket, _) = tokio_tungstenite::client_async(
            format!("{ws_a}?token=good"),
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
        )
        .await
        .unwrap();
        let id = connection_id_of(&mut socket).await;
        (socket, id)
    };
    let mut full = None;
    for sent in 0..600 {
        let posted = connections_a
            .post_to_connection()
            .connection_id(&stuck_id)
            .data(Blob::new(vec![b'y'; 120 * 1024]))
            .send()
            .await;
        if let Err(error) = posted {
            full = Some((sent, error));
            break;
        }
    }
    let (sent, error) = full.expect("a client that does not read is not sent to without end");
    assert_eq!(error.code(), Some("LimitExceededException"), "after {sent} messages: {error:?}");
    assert_eq!(error.raw_response().map(|response| response.status().as_u16()), Some(429));
    connections_a.post_to_connection().connection_id(&first_id).data(Blob::new("still served")).send().await.unwrap();
    assert_eq!(next_text(&mut first).await, "still served");
    assert!(connections_a.get_connection().connection_id(&stuck_id).send().await.is_ok());
    // Read again, the client gets what was queued, in order.
    let Message::Text(queued) = stuck.next().await.unwrap().unwrap() else { panic!("a text message") };
    assert_eq!(queued.len(), 120 * 1024);
    drop(stuck);

    // Two replicas: a socket held by the second gateway gets what the
    // function posts through the first (its AWS_ENDPOINT_URL) and what the test
    // posts through either.
    let mut second = connect(&format!("{ws_b}?token=good")).await;
    let second_id = connection_id_of(&mut second).await;
    connections_a.post_to_connection().connection_id(&second_id).data(Blob::new("a to b")).send().await.unwrap();
    assert_eq!(next_text(&mut second).await, "a to b");
    let connections_b = connections_client(&format!("{gateway_b}/{api_id}/dev"));
    connections_b.post_to_connection().connection_id(&first_id).data(Blob::new("b to a")).send().await.unwrap();
    assert_eq!(next_text(&mut first).await, "b to a");
    let described = connections_b.get_connection().connection_id(&second_id).send().await.unwrap();
    assert!(described.connected_at().is_some());
    // One client tells another, through the function and the other replica.
    send_json(&mut first, json!({ "action": "tell", "to": second_id, "text": "hello from the first" })).await;
    assert_eq!(next_text(&mut second).await, "hello from the first");
    assert_eq!(next_text(&mut first).await, "sent");

    // DeleteConnection through the replica that does not hold the socket:
    // the client sees the close, the connection is gone, `$disconnect` ran.
    connections_b.delete_connection().connection_id(&first_id).send().await.unwrap();
    assert_eq!(closed_with(&mut first, Duration::from_secs(10)).await, CloseCode::Normal);
    let gone =
        connections_a.post_to_connection().connection_id(&first_id).data(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("GoneException"));
    assert_eq!(gone.raw_response().map(|response| response.status().as_u16()), Some(410));
    let gone = connections_b.get_connection().connection_id(&first_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("GoneException"));
    let disconnect_event = recorded(&dynamodb, &first_id, "$disconnect").await;
    let context = &disconnect_event["requestContext"];
    let mut disconnect_fields = CONTEXT_FIELDS.to_vec();
    disconnect_fields.extend(["disconnectStatusCode", "disconnectReason"]);
    assert_eq!(keys(context), sorted(&disconnect_fields), "{context}");
    assert_eq!(context["eventType"], "DISCONNECT");
    assert_eq!(context["disconnectStatusCode"], 1000);
    // A function posting to a connection that is gone gets GoneException.
    send_json(&mut second, json!({ "action": "tell", "to": first_id, "text": "anyone?" })).await;
    assert_eq!(next_text(&mut second).await, "gone");

    // The Python `websockets` client, through the second replica, closed
    // by boto3's DeleteConnection through the first.
    let output = std::process::Command::new(python_tools().join("python"))
        .arg(fixture("gateway/websocket_client.py"))
        .arg(format!("{ws_b}?token=good"))
        .arg(format!("{ws_b}?token=bad"))
        .arg(format!("{gateway_a}/{api_id}/dev"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["echo"]["echo"], "from python");
    assert_eq!(seen["ask"], json!({ "answer": 42, "route": "ask" }));
    assert_eq!(seen["closed"], 1000);
    assert_eq!(seen["refused"], 403);
    let python_id = seen["echo"]["connectionId"].as_str().unwrap();
    let disconnected = recorded(&dynamodb, python_id, "$disconnect").await;
    assert_eq!(disconnected["requestContext"]["disconnectStatusCode"], 1000);

    // The second replica's limits: a socket that sends nothing is closed
    // after its idle timeout (3 s); one that keeps sending, at its maximum
    // duration (6 s); `$disconnect` runs for both.
    drop(second);
    let mut idle = connect(&format!("{ws_b}?token=good")).await;
    let idle_id = connection_id_of(&mut idle).await;
    let started = Instant::now();
    assert_eq!(closed_with(&mut idle, Duration::from_secs(10)).await, CloseCode::Away);
    let idled = started.elapsed();
    assert!(idled >= Duration::from_millis(2500) && idled < Duration::from_secs(6), "closed after {idled:?}");
    assert_eq!(recorded(&dynamodb, &idle_id, "$disconnect").await["requestContext"]["disconnectStatusCode"], 1001);
    let mut busy = connect(&format!("{ws_b}?token=good")).await;
    let opened = Instant::now();
    let code = loop {
        tokio::select! {
            frame = busy.next() => match frame {
                Some(Ok(Message::Close(Some(frame)))) => break frame.code,
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            },
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                busy.send(Message::Ping(Vec::new().into())).await.unwrap();
            }
        }
        assert!(opened.elapsed() < Duration::from_secs(12), "the connection outlived its maximum duration");
    };
    assert_eq!(code, CloseCode::Away);
    assert!(opened.elapsed() >= Duration::from_millis(5500), "closed after {:?}", opened.elapsed());

    // The second replica dies with a socket open: its connection is gone,
    // through the first replica, not an internal error.
    let mut orphan = connect(&format!("{ws_b}?token=good")).await;
    let orphan_id = connection_id_of(&mut orphan).await;
    gateway_b_process.crash();
    let gone =
        connections_a.post_to_connection().connection_id(&orphan_id).data(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("GoneException"), "{gone:?}");
    assert_eq!(gone.raw_response().map(|response| response.status().as_u16()), Some(410));
    // The first replica removed the dead one's record as it found it gone.
    let log = nubo.process.log();
    assert!(
        log.lines().any(|line| line.contains("removing the record of a connection") && line.contains(&orphan_id)),
        "no record removal for {orphan_id}"
    );
    let gone = connections_a.get_connection().connection_id(&orphan_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("GoneException"), "{gone:?}");
    let gone = connections_a.delete_connection().connection_id(&orphan_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("GoneException"), "{gone:?}");
}
