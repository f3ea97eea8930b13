//! REST API (v1) method authorization, stages and export through
//! `aws-sdk-apigateway`: TOKEN and REQUEST Lambda authorizers (identity
//! validation before any call, IAM policies with wildcards, explicit deny,
//! failures, cached answers re-evaluated per method), COGNITO_USER_POOLS
//! against nubo's own Cognito, `AWS_IAM` methods checked by SigV4, stage
//! variables in integration URIs, stage method throttling, and GetExport.

use aws_sdk_apigateway::{
    Client,
    types::{IntegrationType, Op, PatchOperation},
};
use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use nubo_e2e::{
    Nubo, ROLE, ServiceName, cognito_client, lambda_client, package_of, rest_apigateway_client, sigv4_headers,
};
use serde_json::{Value, json};

/// Answers with the event it was given and its own name, so a test sees
/// what the gateway told the integration and which function it called.
const ECHO: &str = r#"
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "function": context.function_name})}
"#;

/// A TOKEN or REQUEST authorizer. Tokens: `allow-*` allows the method
/// ARN, `items-*` allows `GET /items/*` of any stage only, `deny-*` denies
/// everything, `unauth-*` fails with `Unauthorized`, anything else gets
/// a malformed answer (500) — so a token refused with 401 before any call
/// shows that no call was made. The invocation's request id goes in the
/// context, telling a cached answer from a fresh one.
const AUTHORIZER: &str = r#"
def handler(event, context):
    if event["type"] == "TOKEN":
        assert set(event) == {"type", "authorizationToken", "methodArn"}, event
        token = event["authorizationToken"]
        extra = {}
    else:
        assert event["type"] == "REQUEST" and "body" not in event, event
        # The members of AWS's sample REQUEST authorizer input.
        assert {"type", "methodArn", "resource", "path", "httpMethod", "headers", "queryStringParameters",
                "pathParameters", "stageVariables", "requestContext"} <= set(event), event
        assert {"path", "accountId", "resourceId", "stage", "requestId", "identity", "resourcePath",
                "httpMethod", "apiId"} <= set(event["requestContext"]), event
        assert "authorizer" not in event["requestContext"], event
        token = event["headers"]["x-user"]
        extra = {"key": event["queryStringParameters"]["key"], "path": event["path"],
                 "resource": event["resource"], "color": (event["stageVariables"] or {}).get("color"),
                 "multi": ",".join(event["multiValueHeaders"]["x-user"]), "stage": event["requestContext"]["stage"]}
    arn = event["methodArn"]
    api_part = arn.split(":")[5].split("/")[0]
    if token.startswith("unauth"):
        raise Exception("Unauthorized")
    if token.startswith("allow"):
        statements = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}]
    elif token.startswith("items"):
        statements = [{"Action": "execute-api:Invoke", "Effect": "Allow",
                       "Resource": "arn:aws:execute-api:*:*:" + api_part + "/*/GET/items/*"}]
    elif token.startswith("deny"):
        statements = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
                      {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "arn:aws:execute-api:*:*:" + api_part + "/*"}]
    else:
        return {"not": "a policy"}
    ctx = {"invocation": context.aws_request_id, "arn": arn, "number": 7, "yes": True}
    ctx.update({k: v for k, v in extra.items() if v is not None})
    return {"principalId": "user-" + token, "context": ctx, "usageIdentifierKey": "metered-by-the-authorizer-01",
            "policyDocument": {"Version": "2012-10-17", "Statement": statements}}
"#;

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

fn lambda_uri(function: &str) -> String {
    format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations")
}

/// A REST API under construction: its id and root resource.
struct Api {
    client: Client,
    id: String,
    root: String,
}

impl Api {
    async fn create(client: &Client, name: &str) -> Self {
        let api = client.create_rest_api().name(name).send().await.unwrap();
        let id = api.id().unwrap().to_owned();
        let root = api.root_resource_id().unwrap().to_owned();
        Self { client: client.clone(), id, root }
    }

    async fn resource(&self, parent: &str, part: &str) -> String {
        let resource =
            self.client.create_resource().rest_api_id(&self.id).parent_id(parent).path_part(part).send().await.unwrap();
        resource.id().unwrap().to_owned()
    }

    /// `method` on `resource` with the authorization given, integrated
    /// with `uri` as a Lambda proxy (or a MOCK when `uri` is `None`).
    async fn method(
        &self,
        resource: &str,
        method: &str,
        authorization: &str,
        authorizer: Option<&str>,
        scopes: &[&str],
        uri: Option<&str>,
    ) {
        let mut put = self
            .client
            .put_method()
            .rest_api_id(&self.id)
            .resource_id(resource)
            .http_method(method)
            .authorization_type(authorization)
            .set_authorizer_id(authorizer.map(str::to_owned));
        for scope in scopes {
            put = put.authorization_scopes(*scope);
        }
        put.send().await.unwrap();
        let integration = self.client.put_integration().rest_api_id(&self.id).resource_id(resource).http_method(method);
        match uri {
            Some(uri) => {
                integration.r#type(IntegrationType::AwsProxy).integration_http_method("POST").uri(uri).send().await
            }
            None => {
                integration
                    .r#type(IntegrationType::Mock)
                    .request_templates("application/json", r#"{"statusCode": 200}"#)
                    .send()
                    .await
            }
        }
        .unwrap();
        if uri.is_none() {
            let put = |status: &str| {
                self.client
                    .put_method_response()
                    .rest_api_id(&self.id)
                    .resource_id(resource)
                    .http_method(method)
                    .status_code(status)
                    .send()
            };
            put("200").await.unwrap();
            self.client
                .put_integration_response()
                .rest_api_id(&self.id)
                .resource_id(resource)
                .http_method(method)
                .status_code("200")
                .response_templates("application/json", r#"{"mocked": true}"#)
                .send()
                .await
                .unwrap();
        }
    }

    async fn deploy(&self, stage: &str) -> String {
        let deployment = self.client.create_deployment().rest_api_id(&self.id).stage_name(stage).send().await.unwrap();
        deployment.id().unwrap().to_owned()
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread")]
async fn token_and_request_authorizers_guard_methods_with_cached_policies() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let echo = function(&nubo, "echo", ECHO).await;
    let authorizer_fn = function(&nubo, "authorizer", AUTHORIZER).await;
    let client = rest_apigateway_client(&nubo.edge_url());
    let api = Api::create(&client, "guarded").await;

    let token = client
        .create_authorizer()
        .rest_api_id(&api.id)
        .name("token")
        .r#type(aws_sdk_apigateway::types::AuthorizerType::Token)
        .authorizer_uri(lambda_uri(&authorizer_fn))
        .identity_source("method.request.header.X-Token")
        .identity_validation_expression("(allow|items|deny|unauth|garbage)-[a-z0-9]+")
        .authorizer_result_ttl_in_seconds(300)
        .send()
        .await
        .unwrap();
    let token_id = token.id().unwrap().to_owned();
    let fetched = client.get_authorizer().rest_api_id(&api.id).authorizer_id(&token_id).send().await.unwrap();
    assert_eq!(fetched.identity_validation_expression(), Some("(allow|items|deny|unauth|garbage)-[a-z0-9]+"));
    assert_eq!(fetched.authorizer_result_ttl_in_seconds(), Some(300));
    let uncached = client
        .create_authorizer()
        .rest_api_id(&api.id)
        .name("uncached")
        .r#type(aws_sdk_apigateway::types::AuthorizerType::Token)
        .authorizer_uri(lambda_uri(&authorizer_fn))
        .identity_source("method.request.header.X-Token")
        .authorizer_result_ttl_in_seconds(0)
        .send()
        .await
        .unwrap();
    let request = client
        .create_authorizer()
        .rest_api_id(&api.id)
        .name("request")
        .r#type(aws_sdk_apigateway::types::AuthorizerType::Request)
        .authorizer_uri(lambda_uri(&authorizer_fn))
        .identity_source("method.request.header.X-User,method.request.querystring.key")
        .authorizer_result_ttl_in_seconds(300)
        .send()
        .await
        .unwrap();
    let listed = client.get_authorizers().rest_api_id(&api.id).send().await.unwrap();
    assert_eq!(listed.items().len(), 3);

    let items = api.resource(&api.root, "items").await;
    let item = api.resource(&items, "{id}").await;
    let other = api.resource(&api.root, "other").await;
    let fresh = api.resource(&api.root, "fresh").await;
    let by_request = api.resource(&api.root, "by-request").await;
    api.method(&item, "GET", "CUSTOM", Some(&token_id), &[], Some(&echo)).await;
    api.method(&other, "GET", "CUSTOM", Some(&token_id), &[], Some(&echo)).await;
    api.method(&fresh, "GET", "CUSTOM", uncached.id(), &[], Some(&echo)).await;
    api.method(&by_request, "GET", "CUSTOM", request.id(), &[], Some(&echo)).await;
    // A MOCK answered from what the authorizer said.
    let mocked = api.resource(&api.root, "mocked").await;
    api.method(&mocked, "GET", "CUSTOM", Some(&token_id), &[], None).await;
    client
        .put_integration_response()
        .rest_api_id(&api.id)
        .resource_id(&mocked)
        .http_method("GET")
        .status_code("200")
        .response_templates(
            "application/json",
            r#"{"principal": "$context.authorizer.principalId", "number": "$context.authorizer.number"}"#,
        )
        .send()
        .await
        .unwrap();
    api.deploy("prod").await;
    client
        .update_stage()
        .rest_api_id(&api.id)
        .stage_name("prod")
        .patch_operations(PatchOperation::builder().op(Op::Replace).path("/variables/color").value("blue").build())
        .send()
        .await
        .unwrap();
    let base = format!("{}/{}/prod", nubo.http_url(ServiceName::Gateway), api.id);

    // A good token: the event carries the principal and the context.
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "allow-a")]).await;
    assert_eq!(status, 200, "{body}");
    let authorizer = &body["event"]["requestContext"]["authorizer"];
    assert_eq!(authorizer["principalId"], "user-allow-a");
    // Context values reach the integration as strings.
    assert_eq!(authorizer["number"], "7");
    assert_eq!(authorizer["yes"], "true");
    assert_eq!(authorizer["arn"], format!("arn:aws:execute-api:us-east-1:000000000000:{}/prod/GET/items/1", api.id));
    let first = authorizer["invocation"].clone();

    // (`allow-a`'s cached policy names GET /items/1 alone: another token.)
    let (status, body) = get(&format!("{base}/mocked"), &[("x-token", "allow-mock")]).await;
    assert_eq!((status, body), (200, json!({ "principal": "user-allow-mock", "number": "7" })));
    let (status, _) = get(&format!("{base}/mocked"), &[("x-token", "allow-a")]).await;
    assert_eq!(status, 403);

    // Within the TTL the same token is answered from the cache.
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "allow-a")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["event"]["requestContext"]["authorizer"]["invocation"], first);
    let (_, body) = get(&format!("{base}/items/1"), &[("x-token", "allow-b")]).await;
    assert_ne!(body["event"]["requestContext"]["authorizer"]["invocation"], first);
    // With a TTL of 0 every request calls the function.
    let (_, one) = get(&format!("{base}/fresh"), &[("x-token", "allow-z")]).await;
    let (_, two) = get(&format!("{base}/fresh"), &[("x-token", "allow-z")]).await;
    assert_ne!(one["event"]["requestContext"]["authorizer"]["invocation"], Value::Null);
    assert_ne!(
        one["event"]["requestContext"]["authorizer"]["invocation"],
        two["event"]["requestContext"]["authorizer"]["invocation"]
    );

    // A cached policy is evaluated again for each method: `items-*`
    // allows GET /items/* only.
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "items-a")]).await;
    assert_eq!(status, 200, "{body}");
    let cached = body["event"]["requestContext"]["authorizer"]["invocation"].clone();
    let (status, body) = get(&format!("{base}/items/2"), &[("x-token", "items-a")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["event"]["requestContext"]["authorizer"]["invocation"], cached);
    let (status, body) = get(&format!("{base}/other"), &[("x-token", "items-a")]).await;
    assert_eq!((status, body), (403, json!({ "Message": "User is not authorized to access this resource" })));

    // An explicit deny, a function failing with `Unauthorized`, a
    // malformed answer.
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "deny-a")]).await;
    assert_eq!(
        (status, body),
        (403, json!({ "Message": "User is not authorized to access this resource with an explicit deny" }))
    );
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "unauth-a")]).await;
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "garbage-a")]).await;
    assert_eq!((status, body), (500, json!({ "message": null })));
    // A token failing identityValidationExpression never reaches the
    // function (which would answer it with a malformed policy, 500), and
    // neither does a request without the header.
    let (status, body) = get(&format!("{base}/items/1"), &[("x-token", "nope-a")]).await;
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));
    let (status, body) = get(&format!("{base}/items/1"), &[]).await;
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));

    // REQUEST: every identity source must be there; the function sees the
    // request's headers, query, path and stage variables.
    let (status, body) = get(&format!("{base}/by-request?key=k1"), &[("x-user", "allow-r")]).await;
    assert_eq!(status, 200, "{body}");
    let authorizer = &body["event"]["requestContext"]["authorizer"];
    assert_eq!(
        (&authorizer["key"], &authorizer["path"], &authorizer["resource"]),
        (&json!("k1"), &json!("/by-request"), &json!("/by-request"))
    );
    assert_eq!((&authorizer["color"], &authorizer["stage"]), (&json!("blue"), &json!("prod")));
    assert_eq!(authorizer["principalId"], "user-allow-r");
    let request_first = authorizer["invocation"].clone();
    let (_, body) = get(&format!("{base}/by-request?key=k1"), &[("x-user", "allow-r")]).await;
    assert_eq!(body["event"]["requestContext"]["authorizer"]["invocation"], request_first);
    let (_, body) = get(&format!("{base}/by-request?key=k2"), &[("x-user", "allow-r")]).await;
    assert_ne!(body["event"]["requestContext"]["authorizer"]["invocation"], request_first);
    let (status, _) = get(&format!("{base}/by-request"), &[("x-user", "allow-r")]).await;
    assert_eq!(status, 401);
    let (status, _) = get(&format!("{base}/by-request?key=k1"), &[("x-user", "deny-r")]).await;
    assert_eq!(status, 403);

    // `apiKeySource: AUTHORIZER`: the key the authorizer names is metered.
    let metered = client
        .create_rest_api()
        .name("metered")
        .api_key_source(aws_sdk_apigateway::types::ApiKeySourceType::Authorizer)
        .send()
        .await
        .unwrap();
    let metered = Api {
        client: client.clone(),
        id: metered.id().unwrap().to_owned(),
        root: metered.root_resource_id().unwrap().to_owned(),
    };
    let authorizer = client
        .create_authorizer()
        .rest_api_id(&metered.id)
        .name("token")
        .r#type(aws_sdk_apigateway::types::AuthorizerType::Token)
        .authorizer_uri(lambda_uri(&authorizer_fn))
        .identity_source("method.request.header.X-Token")
        .send()
        .await
        .unwrap();
    let paid = metered.resource(&metered.root, "paid").await;
    metered.method(&paid, "GET", "CUSTOM", authorizer.id(), &[], Some(&echo)).await;
    client
        .update_method()
        .rest_api_id(&metered.id)
        .resource_id(&paid)
        .http_method("GET")
        .patch_operations(PatchOperation::builder().op(Op::Replace).path("/apiKeyRequired").value("true").build())
        .send()
        .await
        .unwrap();
    metered.deploy("prod").await;
    let paid_url = format!("{}/{}/prod/paid", nubo.http_url(ServiceName::Gateway), metered.id);
    // The key is not in any plan yet.
    let (status, _) = get(&paid_url, &[("x-token", "allow-m")]).await;
    assert_eq!(status, 403);
    let key = client
        .create_api_key()
        .name("metered")
        .value("metered-by-the-authorizer-01")
        .enabled(true)
        .send()
        .await
        .unwrap();
    let plan = client
        .create_usage_plan()
        .name("plan")
        .api_stages(aws_sdk_apigateway::types::ApiStage::builder().api_id(&metered.id).stage("prod").build())
        .send()
        .await
        .unwrap();
    client
        .create_usage_plan_key()
        .usage_plan_id(plan.id().unwrap())
        .key_id(key.id().unwrap())
        .key_type("API_KEY")
        .send()
        .await
        .unwrap();
    let (status, body) = get(&paid_url, &[("x-token", "allow-m")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["requestContext"]["identity"]["apiKeyId"], key.id().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn cognito_user_pool_authorizers_take_nubos_own_tokens() {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType, MessageActionType};
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let cognito = cognito_client(&nubo.edge_url());
    let pool = cognito.create_user_pool().pool_name("rest-users").send().await.unwrap().user_pool.unwrap();
    let (pool_id, pool_arn) = (pool.id.unwrap(), pool.arn.unwrap());
    let app = cognito
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
    let password = "Correct-Horse-9";
    cognito
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("grace")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("grace")
        .password(password)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let tokens = cognito
        .initiate_auth()
        .client_id(app.client_id.unwrap())
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "grace")
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();
    let (id_token, access_token) = (tokens.id_token().unwrap(), tokens.access_token().unwrap());

    // A second pool: its tokens are not the authorizer's.
    let stranger_pool = cognito.create_user_pool().pool_name("others").send().await.unwrap().user_pool.unwrap();
    let stranger_pool_id = stranger_pool.id.unwrap();
    let stranger_app = cognito
        .create_user_pool_client()
        .user_pool_id(&stranger_pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(&stranger_pool_id)
        .username("eve")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&stranger_pool_id)
        .username("eve")
        .password(password)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let stranger = cognito
        .initiate_auth()
        .client_id(stranger_app.client_id.unwrap())
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "eve")
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();

    let echo = function(&nubo, "echo", ECHO).await;
    let client = rest_apigateway_client(&nubo.edge_url());
    let api = Api::create(&client, "cognito").await;
    let authorizer = client
        .create_authorizer()
        .rest_api_id(&api.id)
        .name("pool")
        .r#type(aws_sdk_apigateway::types::AuthorizerType::CognitoUserPools)
        .provider_arns(&pool_arn)
        .identity_source("method.request.header.Authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(authorizer.provider_arns(), [pool_arn.as_str()]);
    let me = api.resource(&api.root, "me").await;
    let admin = api.resource(&api.root, "admin").await;
    api.method(&me, "GET", "COGNITO_USER_POOLS", authorizer.id(), &[], Some(&echo)).await;
    api.method(&admin, "GET", "COGNITO_USER_POOLS", authorizer.id(), &["aws.cognito.signin.user.admin"], Some(&echo))
        .await;
    api.deploy("prod").await;
    let base = format!("{}/{}/prod", nubo.http_url(ServiceName::Gateway), api.id);

    // Without scopes on the method the ID token is taken, its claims in
    // `requestContext.authorizer.claims`.
    let (status, body) = get(&format!("{base}/me"), &[("authorization", id_token)]).await;
    assert_eq!(status, 200, "{body}");
    let claims = &body["event"]["requestContext"]["authorizer"]["claims"];
    assert_eq!(claims["cognito:username"], "grace");
    assert_eq!(claims["token_use"], "id");
    assert!(claims["iss"].as_str().unwrap().ends_with(&format!("/{pool_id}")));
    let (status, body) = get(&format!("{base}/me"), &[("authorization", access_token)]).await;
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));
    // With scopes, the access token that grants one.
    let (status, body) = get(&format!("{base}/admin"), &[("authorization", access_token)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["requestContext"]["authorizer"]["claims"]["token_use"], "access");
    let (status, _) = get(&format!("{base}/admin"), &[("authorization", id_token)]).await;
    assert_eq!(status, 401);
    // Another pool's token, a forged one, none at all.
    let (status, _) = get(&format!("{base}/me"), &[("authorization", stranger.id_token().unwrap())]).await;
    assert_eq!(status, 401);
    let mut forged: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    forged[2] = "AAAA".into();
    let (status, _) = get(&format!("{base}/me"), &[("authorization", &forged.join("."))]).await;
    assert_eq!(status, 401);
    let (status, _) = get(&format!("{base}/me"), &[("authorization", "eyJhbGciOiJub25lIn0.e30.")]).await;
    assert_eq!(status, 401);
    let (status, body) = get(&format!("{base}/me"), &[]).await;
    assert_eq!((status, body), (401, json!({ "message": "Unauthorized" })));
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_iam_methods_take_sigv4_signed_requests() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let echo = function(&nubo, "echo", ECHO).await;
    let client = rest_apigateway_client(&nubo.edge_url());
    let api = Api::create(&client, "iam").await;
    let private = api.resource(&api.root, "private").await;
    api.method(&private, "POST", "AWS_IAM", None, &[], Some(&echo)).await;
    api.deploy("prod").await;
    let url = format!("{}/{}/prod/private", nubo.http_url(ServiceName::Gateway), api.id);
    let host = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let http = reqwest::Client::new();
    let signed = |body: &'static str, signed_body: &'static str| {
        let headers = [("host", host.as_str()), ("content-type", "application/json")];
        let mut request = http.post(&url).header("content-type", "application/json").body(body);
        for (name, value) in sigv4_headers("POST", &url, &headers, signed_body.as_bytes(), "execute-api") {
            request = request.header(name, value);
        }
        request
    };

    let response = signed(r#"{"a":1}"#, r#"{"a":1}"#).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let identity = &body["event"]["requestContext"]["identity"];
    assert_eq!(identity["accessKey"], "test");
    assert_eq!(identity["accountId"], "000000000000");
    assert!(identity["userArn"].as_str().unwrap().starts_with("arn:aws:iam::000000000000:"));
    assert_eq!(body["event"]["body"], r#"{"a":1}"#);

    let unsigned = http.post(&url).body("{}").send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(unsigned.headers()["x-amzn-errortype"], "MissingAuthenticationTokenException");
    assert_eq!(unsigned.json::<Value>().await.unwrap(), json!({ "message": "Missing Authentication Token" }));
    // A body other than the one signed.
    let tampered = signed(r#"{"a":2}"#, r#"{"a":1}"#).send().await.unwrap();
    assert_eq!(tampered.status(), 403);
    let message = tampered.json::<Value>().await.unwrap()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("signature"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_substitute_variables_throttle_methods_and_export() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let echo_blue = function(&nubo, "echo-blue", ECHO).await;
    function(&nubo, "echo-green", ECHO).await;
    let staged_uri = lambda_uri(&echo_blue.replace("echo-blue", "${stageVariables.fn}"));
    let client = rest_apigateway_client(&nubo.edge_url());
    let api = Api::create(&client, "staged").await;
    let call = api.resource(&api.root, "call").await;
    let mock = api.resource(&api.root, "mock").await;
    let other = api.resource(&api.root, "other").await;
    api.method(&call, "GET", "NONE", None, &[], Some(&staged_uri)).await;
    api.method(&mock, "GET", "NONE", None, &[], None).await;
    api.method(&other, "GET", "NONE", None, &[], None).await;
    let deployment = api.deploy("blue").await;
    for (stage, color) in [("green", "echo-green"), ("limited", "echo-blue")] {
        client
            .create_stage()
            .rest_api_id(&api.id)
            .stage_name(stage)
            .deployment_id(&deployment)
            .variables("fn", color)
            .send()
            .await
            .unwrap();
    }
    client
        .update_stage()
        .rest_api_id(&api.id)
        .stage_name("blue")
        .patch_operations(PatchOperation::builder().op(Op::Replace).path("/variables/fn").value("echo-blue").build())
        .send()
        .await
        .unwrap();
    let gateway = nubo.http_url(ServiceName::Gateway);

    // `${stageVariables.fn}` picks each stage's function.
    for (stage, expected) in [("blue", "echo-blue"), ("green", "echo-green")] {
        let (status, body) = get(&format!("{gateway}/{}/{stage}/call", api.id), &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["function"], expected);
        assert_eq!(body["event"]["stageVariables"], json!({ "fn": expected }));
        // No authorizer spoke for a NONE method.
        assert!(body["event"]["requestContext"].get("authorizer").is_none(), "{body}");
    }

    // Stage throttling: `*/*` for every method, GET /mock more tightly.
    let replace = |path: &str, value: &str| PatchOperation::builder().op(Op::Replace).path(path).value(value).build();
    let stage = client
        .update_stage()
        .rest_api_id(&api.id)
        .stage_name("limited")
        .patch_operations(replace("/*/*/throttling/rateLimit", "1"))
        .patch_operations(replace("/*/*/throttling/burstLimit", "5"))
        .patch_operations(replace("/~1mock/GET/throttling/burstLimit", "2"))
        .send()
        .await
        .unwrap();
    let settings = stage.method_settings().unwrap();
    assert_eq!(settings["*/*"].throttling_rate_limit(), 1.0);
    assert_eq!(settings["*/*"].throttling_burst_limit(), 5);
    assert_eq!(settings["~1mock/GET"].throttling_burst_limit(), 2);
    let fetched = client.get_stage().rest_api_id(&api.id).stage_name("limited").send().await.unwrap();
    assert_eq!(fetched.method_settings().unwrap()["*/*"].throttling_rate_limit(), 1.0);
    let flood = |path: &'static str| {
        let url = format!("{gateway}/{}/limited/{path}", api.id);
        async move {
            let mut statuses = Vec::new();
            for _ in 0..10 {
                let (status, body) = get(&url, &[]).await;
                if status == 429 {
                    assert_eq!(body, json!({ "message": "Too Many Requests" }));
                }
                statuses.push(status);
            }
            statuses
        }
    };
    let mock_statuses = flood("mock").await;
    let admitted = mock_statuses.iter().filter(|s| **s == 200).count();
    assert!((2..=3).contains(&admitted), "{mock_statuses:?}");
    assert!(mock_statuses.iter().all(|s| *s == 200 || *s == 429), "{mock_statuses:?}");
    let other_statuses = flood("other").await;
    let admitted = other_statuses.iter().filter(|s| **s == 200).count();
    assert!((5..=6).contains(&admitted), "{other_statuses:?}");
    // Another stage has no limits of its own.
    let blue: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(get(&format!("{gateway}/{}/blue/mock", api.id), &[]).await.0);
        }
        statuses
    };
    assert!(blue.iter().all(|s| *s == 200), "{blue:?}");

    // The stage's access log, in its format.
    let format = r#"{"requestId":"$context.requestId","status":"$context.status","route":"$context.routeKey"}"#;
    let bad_format = client
        .update_stage()
        .rest_api_id(&api.id)
        .stage_name("green")
        .patch_operations(replace("/accessLogSettings/format", "$context.status"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(aws_sdk_apigateway::error::ProvideErrorMetadata::code(&bad_format), Some("BadRequestException"));
    let logged_stage = client
        .update_stage()
        .rest_api_id(&api.id)
        .stage_name("green")
        .patch_operations(replace(
            "/accessLogSettings/destinationArn",
            "arn:aws:logs:us-east-1:000000000000:log-group:rest-access",
        ))
        .patch_operations(replace("/accessLogSettings/format", format))
        .send()
        .await
        .unwrap();
    assert_eq!(logged_stage.access_log_settings().unwrap().format(), Some(format));
    let response = reqwest::get(format!("{gateway}/{}/green/call", api.id)).await.unwrap();
    let request_id = response.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(response.status(), 200);
    let directory = state.path().join("state/gateway/logs/rest-access");
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
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let line: Value = serde_json::from_str(logged.lines().find(|line| line.contains(&request_id)).unwrap()).unwrap();
    assert_eq!(line, json!({ "requestId": request_id, "status": "200", "route": "GET /call" }));

    // Per-method metrics, 429s among them.
    let metrics = reqwest::get(format!("{gateway}/metrics")).await.unwrap().text().await.unwrap();
    let series = |route: &str, status: &str| {
        metrics.lines().any(|line| {
            line.starts_with("nubo_gateway_api_requests_total")
                && line.contains(&format!("api=\"{}\"", api.id))
                && line.contains("stage=\"limited\"")
                && line.contains(&format!("route=\"{route}\""))
                && line.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(series("GET /mock", "200") && series("GET /mock", "429"), "{metrics}");
    assert!(
        metrics.lines().any(|line| line.starts_with("nubo_gateway_api_throttled_total")
            && line.contains(&format!("api=\"{}\"", api.id))),
        "{metrics}"
    );

    // GetExport: the stage's deployment in both specifications.
    let export = |kind: &str| {
        client
            .get_export()
            .rest_api_id(&api.id)
            .stage_name("blue")
            .export_type(kind)
            .parameters("extensions", "integrations")
            .accepts("application/json")
            .send()
    };
    let oas = export("oas30").await.unwrap();
    assert_eq!(oas.content_type(), Some("application/json"));
    let document: Value = serde_json::from_slice(oas.body().unwrap().as_ref()).unwrap();
    assert_eq!(document["openapi"], "3.0.1");
    assert_eq!(document["info"]["title"], "staged");
    assert_eq!(document["servers"][0]["variables"]["basePath"]["default"], "blue");
    let integration = &document["paths"]["/call"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(integration["type"], "aws_proxy");
    assert_eq!(integration["uri"], staged_uri.as_str());
    assert_eq!(document["paths"]["/mock"]["get"]["x-amazon-apigateway-integration"]["type"], "mock");
    let swagger = export("swagger").await.unwrap();
    let document: Value = serde_json::from_slice(swagger.body().unwrap().as_ref()).unwrap();
    assert_eq!(document["swagger"], "2.0");
    assert!(document["basePath"].as_str().unwrap().ends_with("/blue"));
    assert!(document["paths"]["/mock"]["get"]["responses"]["200"].is_object());
    let unknown = export("raml").await.unwrap_err();
    assert_eq!(aws_sdk_apigateway::error::ProvideErrorMetadata::code(&unknown), Some("BadRequestException"));
}
