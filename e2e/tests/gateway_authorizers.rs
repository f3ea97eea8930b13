//! HTTP API authorizers through `aws-sdk-apigatewayv2`: a JWT authorizer
//! fed by a test issuer (an in-test HTTP server publishing a discovery
//! document and a JWKS, tokens signed here) accepting a good token and
//! refusing every bad-token class with 401, scopes with 403, keys refetched
//! on an unknown `kid` at a bounded rate; the same authorizer against
//! nubo's own Cognito; Lambda REQUEST authorizers in both payload formats
//! with cached answers; and `AWS_IAM` routes checked by SigV4.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    encoding::AsDer as _,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use aws_sdk_apigatewayv2::{
    Client,
    error::ProvideErrorMetadata,
    types::{AuthorizationType, AuthorizerType, IntegrationType, JwtConfiguration, ProtocolType},
};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use nubo_e2e::{Nubo, ROLE, ServiceName, apigateway_client, cognito_client, lambda_client, package_of, sigv4_headers};
use serde_json::{Value, json};

/// Answers with the event it was given, so a test sees what the gateway
/// told the integration.
const ECHO: &str = r#"
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"#;

/// One RSA signing key of the test issuer.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
    /// The public key in PEM, what an HS256 confusion attack signs with.
    public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in STANDARD.encode(der).as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

impl SigningKey {
    fn new(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let private = pair.as_der().unwrap();
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let public_der = public.as_der().unwrap();
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_pem(pem("PRIVATE KEY", private.as_ref()).as_bytes()).unwrap(),
            jwk: json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e }),
            public_pem: pem("PUBLIC KEY", public_der.as_ref()),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// The test issuer: `/.well-known/openid-configuration` names `/jwks`,
/// which publishes the keys in `keys` and counts its fetches.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Issuer {
    async fn start(keys: Vec<Value>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/issuer", listener.local_addr().unwrap().port());
        let keys = Arc::new(Mutex::new(keys));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let (served_url, served_keys, fetches) = (url.clone(), keys.clone(), jwks_fetches.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (url, keys, fetches) = (served_url.clone(), served_keys.clone(), fetches.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let body = match request.uri().path() {
                            "/issuer/.well-known/openid-configuration" => {
                                Some(json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") }))
                            }
                            "/issuer/jwks" => {
                                fetches.fetch_add(1, Ordering::SeqCst);
                                Some(json!({ "keys": *keys.lock().unwrap() }))
                            }
                            _ => None,
                        };
                        let response = match body {
                            Some(body) => Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body.to_string()))),
                            None => Response::builder().status(404).body(Full::new(Bytes::new())),
                        };
                        async move { response }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, keys, jwks_fetches, task }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn function(nubo: &Nubo, name: &str, code: &str) -> String {
    lambda_client(&nubo.edge_url())
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", code)]))).build())
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap()
}

/// An HTTP API with an auto-deployed `$default` stage and one Lambda
/// proxy integration in each payload format; returns (api id, endpoint,
/// v2 integration target, v1 integration target).
async fn api(apigateway: &Client, function_arn: &str) -> (String, String, String, String) {
    let api = apigateway.create_api().name("authorized").protocol_type(ProtocolType::Http).send().await.unwrap();
    let api_id = api.api_id().unwrap().to_owned();
    let mut targets = Vec::new();
    for version in ["2.0", "1.0"] {
        let integration = apigateway
            .create_integration()
            .api_id(&api_id)
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(function_arn)
            .payload_format_version(version)
            .send()
            .await
            .unwrap();
        targets.push(format!("integrations/{}", integration.integration_id().unwrap()));
    }
    apigateway.create_stage().api_id(&api_id).stage_name("$default").auto_deploy(true).send().await.unwrap();
    (api_id, api.api_endpoint().unwrap().to_owned(), targets[0].clone(), targets[1].clone())
}

async fn get(url: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_authorizers_check_tokens_from_the_issuers_keys() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let good = SigningKey::new("key-1");
    // Same kid, another key: what a forger without the private key has.
    let forged = SigningKey::new("key-1");
    let issuer = Issuer::start(vec![good.jwk.clone()]).await;
    let echo = function(&nubo, "echo", ECHO).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let (api_id, endpoint, v2, v1) = api(&apigateway, &echo).await;

    let authorizer = apigateway
        .create_authorizer()
        .api_id(&api_id)
        .name("issuer")
        .authorizer_type(AuthorizerType::Jwt)
        .identity_source("$request.header.Authorization")
        .jwt_configuration(JwtConfiguration::builder().issuer(&issuer.url).audience("app").build())
        .send()
        .await
        .unwrap();
    let authorizer_id = authorizer.authorizer_id().unwrap().to_owned();
    assert_eq!(authorizer.jwt_configuration().unwrap().issuer(), Some(issuer.url.as_str()));
    let listed = apigateway.get_authorizers().api_id(&api_id).send().await.unwrap();
    assert_eq!(listed.items().len(), 1);
    let fetched = apigateway.get_authorizer().api_id(&api_id).authorizer_id(&authorizer_id).send().await.unwrap();
    assert_eq!(fetched.name(), Some("issuer"));
    let no_issuer = apigateway
        .create_authorizer()
        .api_id(&api_id)
        .name("broken")
        .authorizer_type(AuthorizerType::Jwt)
        .identity_source("$request.header.Authorization")
        .send()
        .await
        .unwrap_err();
    assert_eq!(no_issuer.code(), Some("BadRequestException"));

    for (key, target, scopes) in
        [("GET /v2", &v2, None), ("GET /v1", &v1, None), ("GET /scoped", &v2, Some(vec!["items/read".to_string()]))]
    {
        apigateway
            .create_route()
            .api_id(&api_id)
            .route_key(key)
            .target(target)
            .authorization_type(AuthorizationType::Jwt)
            .authorizer_id(&authorizer_id)
            .set_authorization_scopes(scopes)
            .send()
            .await
            .unwrap();
    }
    let unnamed = apigateway
        .create_route()
        .api_id(&api_id)
        .route_key("GET /unnamed")
        .target(&v2)
        .authorization_type(AuthorizationType::Jwt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(unnamed.code(), Some("BadRequestException"));
    let in_use = apigateway.delete_authorizer().api_id(&api_id).authorizer_id(&authorizer_id).send().await.unwrap_err();
    assert_eq!(in_use.code(), Some("ConflictException"));

    let claims = |overrides: Value| {
        let mut claims = json!({ "iss": issuer.url, "aud": "app", "sub": "user-1", "iat": now(), "exp": now() + 300,
            "cognito:groups": ["admin", "users"] });
        for (name, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };
    let token = good.sign(&claims(json!({})));
    let (status, event) = get(&format!("{endpoint}/v2"), Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "{event}");
    let jwt = &event["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt["claims"]["sub"], "user-1");
    // API Gateway passes every claim on as a string.
    let exp: i64 = jwt["claims"]["exp"].as_str().expect("exp as a string").parse().unwrap();
    assert!(exp > now());
    assert_eq!(jwt["claims"]["cognito:groups"], "[admin users]");
    assert_eq!(jwt["scopes"], Value::Null);
    // Without the prefix too, and into a payload 1.0 event.
    let (status, event) = get(&format!("{endpoint}/v1"), Some(&token)).await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["requestContext"]["authorizer"]["claims"]["sub"], "user-1");
    // A Cognito access token: no `aud`, the app client in `client_id`.
    let access = good.sign(&claims(json!({ "aud": null, "client_id": "app", "token_use": "access" })));
    assert_eq!(get(&format!("{endpoint}/v2"), Some(&access)).await.0, 200);

    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("key-1".into());
    let hs256 =
        jsonwebtoken::encode(&header, &claims(json!({})), &EncodingKey::from_secret(good.public_pem.as_bytes()))
            .unwrap();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"key-1"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let bad_tokens = [
        ("no token", None),
        ("not a JWT", Some("Bearer nonsense".to_string())),
        ("alg none", Some(unsigned)),
        ("HS256 with the public key", Some(hs256)),
        ("wrong key", Some(forged.sign(&claims(json!({}))))),
        ("expired", Some(good.sign(&claims(json!({ "exp": now() - 10 }))))),
        ("not yet valid", Some(good.sign(&claims(json!({ "nbf": now() + 300 }))))),
        ("wrong issuer", Some(good.sign(&claims(json!({ "iss": "http://127.0.0.1:1/elsewhere" }))))),
        ("wrong audience", Some(good.sign(&claims(json!({ "aud": "other-app" }))))),
        ("wrong client_id", Some(good.sign(&claims(json!({ "aud": null, "client_id": "other-app" }))))),
        ("no exp", Some(good.sign(&claims(json!({ "exp": null }))))),
    ];
    for (case, token) in &bad_tokens {
        let (status, body) = get(&format!("{endpoint}/v2"), token.as_deref()).await;
        assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })), "{case}");
    }

    // Scopes: a token needs one of the route's.
    let (status, body) = get(&format!("{endpoint}/scoped"), Some(&token)).await;
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })));
    let scoped = good.sign(&claims(json!({ "scope": "openid items/read" })));
    let (status, event) = get(&format!("{endpoint}/scoped"), Some(&scoped)).await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["requestContext"]["authorizer"]["jwt"]["scopes"], json!(["openid", "items/read"]));

    // The issuer rotates to a new key: its first token makes the gateway
    // fetch the JWKS again; a stream of made-up kids does not hammer it.
    let fetches_before = issuer.jwks_fetches.load(Ordering::SeqCst);
    assert!(fetches_before >= 1);
    let rotated = SigningKey::new("key-2");
    issuer.keys.lock().unwrap().push(rotated.jwk.clone());
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, _) = get(&format!("{endpoint}/v2"), Some(&rotated.sign(&claims(json!({}))))).await;
    assert_eq!(status, 200);
    let after_rotation = issuer.jwks_fetches.load(Ordering::SeqCst);
    assert_eq!(after_rotation, fetches_before + 1);
    // One key, thirty kids: generating a key per request would make the
    // flood outlast the refetch window on a busy machine.
    let mut stranger = SigningKey::new("x");
    let flood_started = std::time::Instant::now();
    for n in 0..30 {
        stranger.kid = format!("made-up-{n}");
        let (status, _) = get(&format!("{endpoint}/v2"), Some(&stranger.sign(&claims(json!({}))))).await;
        assert_eq!(status, 401);
    }
    // At most one refetch per 2 s window the flood spans.
    let windows = 1 + flood_started.elapsed().as_secs() as usize / 2;
    let flood_fetches = issuer.jwks_fetches.load(Ordering::SeqCst) - after_rotation;
    assert!(flood_fetches <= windows + 1, "{flood_fetches} JWKS fetches for 30 unknown kids in {windows} windows");

    // UpdateAuthorizer: another audience, and the old tokens stop passing.
    apigateway
        .update_authorizer()
        .api_id(&api_id)
        .authorizer_id(&authorizer_id)
        .jwt_configuration(JwtConfiguration::builder().issuer(&issuer.url).audience("app-2").build())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(get(&format!("{endpoint}/v2"), Some(&token)).await.0, 401);
    assert_eq!(get(&format!("{endpoint}/v2"), Some(&good.sign(&claims(json!({ "aud": "app-2" }))))).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_authorizers_accept_nubos_own_cognito_tokens() {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType, MessageActionType};
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let cognito = cognito_client(&nubo.edge_url());
    let pool = cognito.create_user_pool().pool_name("api-users").send().await.unwrap().user_pool.unwrap();
    let pool_id = pool.id.unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let client_id = client.client_id.unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("ada")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let password = "Correct-Horse-9";
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("ada")
        .password(password)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let tokens = cognito
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ada")
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();

    let echo = function(&nubo, "echo", ECHO).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let (api_id, endpoint, v2, _) = api(&apigateway, &echo).await;
    let issuer = format!("http://localhost:{}/{pool_id}", nubo.ports[&ServiceName::Auth].http);
    let authorizer = apigateway
        .create_authorizer()
        .api_id(&api_id)
        .name("cognito")
        .authorizer_type(AuthorizerType::Jwt)
        .identity_source("$request.header.Authorization")
        .jwt_configuration(JwtConfiguration::builder().issuer(&issuer).audience(&client_id).build())
        .send()
        .await
        .unwrap();
    apigateway
        .create_route()
        .api_id(&api_id)
        .route_key("GET /me")
        .target(&v2)
        .authorization_type(AuthorizationType::Jwt)
        .authorizer_id(authorizer.authorizer_id().unwrap())
        .send()
        .await
        .unwrap();

    // The ID token has `aud`; the access token only `client_id`.
    for (kind, token) in [("id", tokens.id_token().unwrap()), ("access", tokens.access_token().unwrap())] {
        let (status, event) = get(&format!("{endpoint}/me"), Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, 200, "{kind}: {event}");
        let claims = &event["requestContext"]["authorizer"]["jwt"]["claims"];
        assert_eq!(claims["token_use"], kind);
        assert_eq!(claims["iss"], issuer.as_str());
    }
    let (status, _) = get(&format!("{endpoint}/me"), Some("Bearer eyJhbGciOiJub25lIn0.e30.")).await;
    assert_eq!(status, 401);
}

/// A Lambda authorizer: allows the token `allow` (simple response, or a
/// policy on the route ARN), fails on `fail`, and puts its own request id
/// in the context, so a test can tell a cached answer from a fresh one.
const AUTHORIZER: &str = r#"
def handler(event, context):
    if event["version"] == "2.0":
        token = event["headers"].get("x-token")
        arn = event["routeArn"]
        assert event["identitySource"] == [token]
    else:
        token = event["headers"].get("x-token")
        arn = event["methodArn"]
        assert event["identitySource"] == token and event["authorizationToken"] == token
    if token == "fail":
        raise Exception("authorizer failed")
    if token == "garbage":
        return {"unexpected": True}
    allowed = token.startswith("allow")
    ctx = {"invocation": context.aws_request_id, "type": event["type"], "arn": arn}
    if event["version"] == "2.0" and "simple" in event["rawPath"]:
        return {"isAuthorized": allowed, "context": ctx}
    effect = "Allow" if allowed else "Deny"
    return {"principalId": "user-" + token, "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]}, "context": ctx}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn lambda_authorizers_answer_in_both_formats_and_are_cached() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let echo = function(&nubo, "echo", ECHO).await;
    let authorizer_arn = function(&nubo, "authorizer", AUTHORIZER).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let (api_id, endpoint, v2, v1) = api(&apigateway, &echo).await;
    let uri = format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{authorizer_arn}/invocations");

    let create = |name: &str, version: &str, simple: bool, ttl: i32| {
        apigateway
            .create_authorizer()
            .api_id(&api_id)
            .name(name)
            .authorizer_type(AuthorizerType::Request)
            .authorizer_uri(&uri)
            .identity_source("$request.header.X-Token")
            .authorizer_payload_format_version(version)
            .enable_simple_responses(simple)
            .authorizer_result_ttl_in_seconds(ttl)
            .send()
    };
    let simple = create("simple", "2.0", true, 2).await.unwrap();
    let policy = create("policy", "1.0", false, 0).await.unwrap();
    assert_eq!(simple.authorizer_result_ttl_in_seconds(), Some(2));
    let refused = create("bad", "1.0", true, 0).await.unwrap_err();
    assert_eq!(refused.code(), Some("BadRequestException"));
    for (key, target, authorizer) in [
        ("GET /simple", &v2, &simple),
        ("GET /simple-v1", &v1, &simple),
        ("GET /policy", &v2, &policy),
        ("GET /policy-v1", &v1, &policy),
    ] {
        apigateway
            .create_route()
            .api_id(&api_id)
            .route_key(key)
            .target(target)
            .authorization_type(AuthorizationType::Custom)
            .authorizer_id(authorizer.authorizer_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    let call = |path: &str, token: Option<&str>| {
        let mut request = reqwest::Client::new().get(format!("{endpoint}{path}"));
        if let Some(token) = token {
            request = request.header("x-token", token);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Simple responses, payload 2.0, context under `authorizer.lambda`.
    let (status, event) = call("/simple", Some("allow-1")).await;
    assert_eq!(status, 200, "{event}");
    let first = event["requestContext"]["authorizer"]["lambda"].clone();
    assert_eq!(first["type"], "REQUEST");
    assert_eq!(first["arn"], format!("arn:aws:execute-api:us-east-1:000000000000:{api_id}/$default/GET/simple"));
    // The same identity within the TTL: the cached answer, no new call
    // (the context still names the first invocation).
    let (status, event) = call("/simple", Some("allow-1")).await;
    assert_eq!(status, 200);
    assert_eq!(event["requestContext"]["authorizer"]["lambda"]["invocation"], first["invocation"]);
    // The cache is per authorizer, not per route: a payload 1.0 route
    // behind the same authorizer gets the same answer, as context keys.
    let (status, event) = call("/simple-v1", Some("allow-1")).await;
    assert_eq!(status, 200);
    assert_eq!(event["requestContext"]["authorizer"]["invocation"], first["invocation"]);
    // Another identity is another call.
    let (_, event) = call("/simple", Some("allow-2")).await;
    assert_ne!(event["requestContext"]["authorizer"]["lambda"]["invocation"], first["invocation"]);
    // Past the TTL the function is called again.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let (_, event) = call("/simple", Some("allow-1")).await;
    assert_ne!(event["requestContext"]["authorizer"]["lambda"]["invocation"], first["invocation"]);

    assert_eq!(call("/simple", Some("deny")).await, (403, json!({ "message": "Forbidden" })));
    assert_eq!(call("/simple", None).await, (401, json!({ "message": "Unauthorized" })));
    assert_eq!(call("/simple", Some("fail")).await, (500, json!({ "message": "Internal Server Error" })));
    assert_eq!(call("/simple", Some("garbage")).await, (500, json!({ "message": "Internal Server Error" })));

    // IAM policy answers to a payload 1.0 authorizer, uncached.
    let (status, event) = call("/policy-v1", Some("allow-3")).await;
    assert_eq!(status, 200, "{event}");
    let authorizer = &event["requestContext"]["authorizer"];
    assert_eq!(authorizer["principalId"], "user-allow-3");
    assert_eq!(
        authorizer["arn"],
        format!("arn:aws:execute-api:us-east-1:000000000000:{api_id}/$default/GET/policy-v1")
    );
    let (_, again) = call("/policy-v1", Some("allow-3")).await;
    assert_ne!(again["requestContext"]["authorizer"]["invocation"], authorizer["invocation"]);
    let (status, event) = call("/policy", Some("allow-4")).await;
    assert_eq!(status, 200);
    assert_eq!(event["requestContext"]["authorizer"]["lambda"]["type"], "REQUEST");
    assert_eq!(call("/policy", Some("deny")).await, (403, json!({ "message": "Forbidden" })));
    assert_eq!(call("/policy", None).await, (401, json!({ "message": "Unauthorized" })));
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_routes_take_sigv4_signed_requests() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let echo = function(&nubo, "echo", ECHO).await;
    let apigateway = apigateway_client(&nubo.edge_url());
    let (api_id, endpoint, v2, v1) = api(&apigateway, &echo).await;
    for (key, target) in [("POST /v2", &v2), ("POST /v1", &v1)] {
        apigateway
            .create_route()
            .api_id(&api_id)
            .route_key(key)
            .target(target)
            .authorization_type(AuthorizationType::AwsIam)
            .send()
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    let signed = |path: &str, body: &'static str, service: &str| {
        let url = format!("{endpoint}{path}");
        let host = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
        let headers = [("host", host.as_str()), ("content-type", "application/json")];
        let mut request = http.post(&url).header("content-type", "application/json").body(body);
        for (name, value) in sigv4_headers("POST", &url, &headers, body.as_bytes(), service) {
            request = request.header(name, value);
        }
        request
    };

    let response = signed("/v2", r#"{"a":1}"#, "execute-api").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let event: Value = response.json().await.unwrap();
    let iam = &event["requestContext"]["authorizer"]["iam"];
    assert_eq!(iam["accessKey"], "test");
    assert_eq!(iam["accountId"], "000000000000");
    assert!(iam["userArn"].as_str().unwrap().starts_with("arn:aws:iam::000000000000:"));
    assert_eq!(event["body"], r#"{"a":1}"#);

    let response = signed("/v1", "{}", "execute-api").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let event: Value = response.json().await.unwrap();
    assert_eq!(event["requestContext"]["identity"]["accessKey"], "test");

    let unsigned = http.post(format!("{endpoint}/v2")).body("{}").send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(unsigned.json::<Value>().await.unwrap(), json!({ "message": "Forbidden" }));
    // Signed for another service, or with a body changed after signing.
    let wrong_service = signed("/v2", "{}", "lambda").send().await.unwrap();
    assert_eq!(wrong_service.status(), 403);
    let url = format!("{endpoint}/v2");
    let host = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let mut tampered = http.post(&url).header("content-type", "application/json").body("{\"a\":2}");
    for (name, value) in sigv4_headers(
        "POST",
        &url,
        &[("host", host.as_str()), ("content-type", "application/json")],
        b"{\"a\":1}",
        "execute-api",
    ) {
        tampered = tampered.header(name, value);
    }
    let tampered = tampered.send().await.unwrap();
    assert_eq!(tampered.status(), 403);
    let message = tampered.json::<Value>().await.unwrap()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("signature"), "{message}");
}
