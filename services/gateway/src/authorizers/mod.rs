//! Authorizers: who may call a route, and what the integration is told of
//! them. Every front that authorizes uses this module — HTTP APIs (JWT,
//! Lambda REQUEST and `AWS_IAM` routes), REST APIs (TOKEN, REQUEST and
//! COGNITO_USER_POOLS authorizers) and WebSocket `$connect`.
//!
//! # Interface
//!
//! - [`Authorizers`] is the shared, cloneable state (JWKS cache, Lambda
//!   answer cache, SigV4 keys). Make one per gateway with
//!   [`Authorizers::new`] and keep it in the front's state.
//! - HTTP APIs call [`Authorizers::authorize_route`] once the route is
//!   matched and before the integration; `Ok(Identity)` goes on with
//!   [`Identity::annotate`] applied to the integration's event, `Err(Refusal)`
//!   is answered with [`Refusal::response`].
//! - Other fronts use the parts:
//!   - [`jwt::JwtVerifier::verify`]`(token, issuer, audiences)` — a JWT
//!     checked against the issuer's discovery document and JWKS (cached,
//!     refetched on an unknown `kid`, rate-limited); for COGNITO_USER_POOLS
//!     the issuer is the pool's (`{auth url}/{poolId}`) and audiences may
//!     be empty (any app client). [`bearer_token`] strips `Bearer `.
//!   - [`lambda::LambdaAuthorizers::answer`]`(function, event, simple,
//!     cache)` — invokes an authorizer function with the event the front
//!     built (a TOKEN event, a REQUEST event, ...) and parses its answer,
//!     caching it under a [`lambda::CacheKey`] for the TTL.
//!   - [`policy::allows`]`(document, arn)` — evaluates the IAM policy a
//!     Lambda authorizer returned against a method or route ARN.
//!   - [`identity::values`]`(sources, view)` — identity source values
//!     (`$request.header.x`, `method.request.header.x`,
//!     `route.request.querystring.x`, `$context.x`, `$stageVariables.x`);
//!     `None` means one is missing, which refuses with 401 uncalled.
//!   - [`Authorizers::verify_iam`] — a SigV4-signed request's principal
//!     (signing name `execute-api`).
//! - Refusals carry AWS's bodies: 401 `{"message":"Unauthorized"}`, 403
//!   `{"message":"Forbidden"}`, 500 `{"message":"Internal Server Error"}`.

pub mod definition;
pub mod identity;
pub mod jwt;
pub mod lambda;
pub mod management;
pub mod policy;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};
use nubo_host::sigv4::{AuthError, Credentials, Policy, Principal};
use nubo_proto::clients::FunctionsClient;
use serde_json::{Map, Value, json};

pub use definition::Authorizer;

use crate::{
    model::{Api, Route},
    proxy::{self, RequestFacts},
};

/// Why a request does not reach its integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401 `Unauthorized`: no token, a bad token, a missing identity source.
    Unauthorized,
    /// 403 `Forbidden`: the authorizer said no, or a scope is missing.
    Forbidden,
    /// 403 with a SigV4 refusal's own message.
    Signature(String),
    /// 500: the authorizer failed or answered nonsense.
    Error,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unauthorized => 401,
            Refusal::Forbidden | Refusal::Signature(_) => 403,
            Refusal::Error => 500,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Refusal::Unauthorized => "Unauthorized",
            Refusal::Forbidden => "Forbidden",
            Refusal::Signature(message) => message,
            Refusal::Error => "Internal Server Error",
        }
    }

    /// The response API Gateway sends for this refusal.
    pub fn response(&self) -> HttpResponse {
        crate::error::user_api_error(self.status(), self.message())
    }
}

/// Who the authorizer let through.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// A route with `authorizationType: NONE`.
    Anonymous,
    Jwt(jwt::VerifiedToken),
    Lambda {
        principal_id: Option<String>,
        context: Map<String, Value>,
    },
    Iam(Principal),
}

/// The shared state of every authorizer.
#[derive(Debug, Clone)]
pub struct Authorizers {
    pub jwt: jwt::JwtVerifier,
    pub lambda: lambda::LambdaAuthorizers,
    pub credentials: Credentials,
    /// SigV4 as `execute-api` in the gateway's region.
    pub iam_policy: Policy,
    pub region: String,
}

/// The token of an identity source: the value itself, or what follows
/// `Bearer ` (API Gateway accepts both).
pub fn bearer_token(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// A JWT claim as API Gateway passes it on: every value a string, arrays
/// written `[a b]`, objects as their JSON.
pub fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

impl Authorizers {
    pub fn new(functions: FunctionsClient, context: &nubo_host::Context) -> Self {
        Self {
            jwt: jwt::JwtVerifier::new(),
            lambda: lambda::LambdaAuthorizers::new(functions),
            credentials: context.credentials.clone(),
            iam_policy: context.policy("execute-api", 5),
            region: context.region.clone(),
        }
    }

    /// The principal that signed `request` (SigV4, `execute-api`), its
    /// body as received.
    pub fn verify_iam(&self, request: &HttpRequest, body: &[u8]) -> Result<Principal, Refusal> {
        let refuse = |error: AuthError| match error {
            AuthError::Missing => Refusal::Forbidden,
            other => Refusal::Signature(other.to_string()),
        };
        let head = nubo_host::front::request_head(request).map_err(refuse)?;
        let verified =
            self.credentials.verify(&self.iam_policy, &head, Some(body), chrono::Utc::now()).map_err(refuse)?;
        Ok(verified.principal)
    }

    /// Authorizes a matched HTTP API route: `facts` is the request as the
    /// integration's event will carry it.
    pub async fn authorize_route(
        &self,
        api: &Api,
        route: &Route,
        request: &HttpRequest,
        facts: &RequestFacts<'_>,
    ) -> Result<Identity, Refusal> {
        match route.authorization_type.as_str() {
            "" | "NONE" => Ok(Identity::Anonymous),
            "AWS_IAM" => self.verify_iam(request, facts.body).map(Identity::Iam),
            "JWT" => {
                let authorizer = authorizer_of(api, route, "JWT")?;
                self.authorize_jwt(authorizer, route, facts).await
            }
            "CUSTOM" => {
                let authorizer = authorizer_of(api, route, "REQUEST")?;
                self.authorize_lambda(api, authorizer, facts).await
            }
            other => {
                tracing::warn!(api = %api.api_id, route = %route.route_key, kind = other, "unknown authorization type");
                Err(Refusal::Error)
            }
        }
    }

    async fn authorize_jwt(
        &self,
        authorizer: &Authorizer,
        route: &Route,
        facts: &RequestFacts<'_>,
    ) -> Result<Identity, Refusal> {
        let context = context_variables(facts);
        let view = view_of(facts, &context);
        let Some(values) = identity::values(&authorizer.identity_source, &view) else {
            return Err(Refusal::Unauthorized);
        };
        let token = values.first().map(|value| bearer_token(value)).unwrap_or_default();
        let jwt = authorizer.jwt_configuration.clone().unwrap_or_default();
        let verified = self.jwt.verify(token, &jwt.issuer, &jwt.audience).await.map_err(|error| {
            tracing::debug!(authorizer = %authorizer.authorizer_id, %error, "token refused");
            Refusal::Unauthorized
        })?;
        if !route.authorization_scopes.is_empty()
            && !route.authorization_scopes.iter().any(|scope| verified.scopes.contains(scope))
        {
            return Err(Refusal::Forbidden);
        }
        Ok(Identity::Jwt(verified))
    }

    async fn authorize_lambda(
        &self,
        api: &Api,
        authorizer: &Authorizer,
        facts: &RequestFacts<'_>,
    ) -> Result<Identity, Refusal> {
        let context = context_variables(facts);
        let view = view_of(facts, &context);
        let Some(values) = identity::values(&authorizer.identity_source, &view) else {
            return Err(Refusal::Unauthorized);
        };
        let arn = route_arn(&self.region, facts);
        let event = request_event(authorizer, facts, &arn, &values);
        let ttl = authorizer.authorizer_result_ttl_in_seconds;
        let cache = (ttl > 0).then(|| {
            lambda::CacheKey::new(
                &[&api.api_id, &authorizer.authorizer_id, &authorizer.authorizer_uri],
                &values,
                Duration::from_secs(u64::from(ttl)),
            )
        });
        let simple = authorizer.enable_simple_responses;
        let function = crate::user_api::function_of(&authorizer.authorizer_uri);
        let answer = self.lambda.answer(function, &event, simple, cache.as_ref()).await?;
        match answer.as_ref() {
            lambda::Answer::Simple { authorized: true, context } => {
                Ok(Identity::Lambda { principal_id: None, context: context.clone() })
            }
            lambda::Answer::Simple { authorized: false, .. } => Err(Refusal::Forbidden),
            lambda::Answer::Policy { principal_id, document, context, .. } => {
                if policy::allows(document, &arn) {
                    Ok(Identity::Lambda { principal_id: principal_id.clone(), context: context.clone() })
                } else {
                    Err(Refusal::Forbidden)
                }
            }
        }
    }
}

fn authorizer_of<'a>(api: &'a Api, route: &Route, kind: &str) -> Result<&'a Authorizer, Refusal> {
    api.authorizers
        .iter()
        .find(|authorizer| authorizer.authorizer_id == route.authorizer_id && authorizer.authorizer_type == kind)
        .ok_or_else(|| {
            tracing::warn!(api = %api.api_id, route = %route.route_key, "route names no such authorizer");
            Refusal::Error
        })
}

/// `$context` variables of an HTTP API request, for identity sources.
fn context_variables(facts: &RequestFacts<'_>) -> Value {
    let user_agent = facts.headers.iter().find(|(name, _)| name == "user-agent").map(|(_, v)| v.as_str());
    json!({
        "accountId": facts.account_id,
        "apiId": facts.api_id,
        "domainName": facts.domain_name,
        "domainPrefix": facts.domain_name.split('.').next().unwrap_or(facts.api_id),
        "httpMethod": facts.method,
        "path": facts.raw_path,
        "protocol": facts.protocol,
        "requestId": facts.request_id,
        "routeKey": facts.route_key,
        "stage": facts.stage,
        "identity": { "sourceIp": facts.source_ip, "userAgent": user_agent },
    })
}

fn view_of<'a>(facts: &'a RequestFacts<'_>, context: &'a Value) -> identity::RequestView<'a> {
    identity::RequestView {
        headers: &facts.headers,
        raw_query: facts.raw_query,
        stage_variables: facts.stage_variables,
        context,
    }
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{method}{path}`,
/// the path as routes see it (without a named stage's prefix).
pub fn route_arn<'a>(region: &str, facts: &RequestFacts<'a>) -> String {
    // Off a path-style request's `/{apiId}`, then a named stage's prefix.
    let strip = |path: &'a str, prefix: &str| match path.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    let path = strip(facts.raw_path, &format!("/{}", facts.api_id));
    let path = if facts.stage == "$default" { path } else { strip(path, &format!("/{}", facts.stage)) };
    let path = if path.is_empty() { "/" } else { path };
    format!("arn:aws:execute-api:{region}:{}:{}/{}/{}{path}", facts.account_id, facts.api_id, facts.stage, facts.method)
}

/// The REQUEST event of an HTTP API Lambda authorizer in its payload
/// format: the integration's event without a body, with the authorizer's
/// `type`, ARN and identity source values.
pub fn request_event(authorizer: &Authorizer, facts: &RequestFacts<'_>, arn: &str, values: &[String]) -> Value {
    let mut event = if authorizer.authorizer_payload_format_version == "1.0" {
        let mut event = proxy::event_v1(facts);
        let joined = values.join(",");
        event["methodArn"] = json!(arn);
        event["identitySource"] = json!(joined);
        event["authorizationToken"] = json!(joined);
        if let Some(context) = event["requestContext"].as_object_mut() {
            context.remove("authorizer");
        }
        event
    } else {
        let mut event = proxy::event_v2(facts);
        event["routeArn"] = json!(arn);
        event["identitySource"] = json!(values);
        event
    };
    event["type"] = json!("REQUEST");
    if let Some(object) = event.as_object_mut() {
        object.remove("body");
        object.remove("isBase64Encoded");
    }
    event
}

impl Identity {
    /// Writes what the integration is told of the caller into its event
    /// (payload 1.0 or 2.0, told apart by the event's `version`).
    pub fn annotate(&self, event: &mut Value) {
        let version_one = event["version"] == "1.0";
        let Some(context) = event.get_mut("requestContext").and_then(Value::as_object_mut) else { return };
        match self {
            Identity::Anonymous => {}
            Identity::Jwt(token) => {
                let claims: Map<String, Value> =
                    token.claims.iter().map(|(name, value)| (name.clone(), json!(claim_text(value)))).collect();
                let scopes = if token.scopes.is_empty() { Value::Null } else { json!(token.scopes) };
                let jwt = json!({ "claims": claims, "scopes": scopes });
                context.insert("authorizer".into(), if version_one { jwt } else { json!({ "jwt": jwt }) });
            }
            Identity::Lambda { principal_id, context: values } => {
                let authorizer = if version_one {
                    let mut authorizer = values.clone();
                    if let Some(principal_id) = principal_id {
                        authorizer.insert("principalId".into(), json!(principal_id));
                    }
                    authorizer.insert("integrationLatency".into(), json!(0));
                    Value::Object(authorizer)
                } else {
                    json!({ "lambda": values })
                };
                context.insert("authorizer".into(), authorizer);
            }
            Identity::Iam(principal) => {
                if version_one {
                    if let Some(identity) = context.get_mut("identity").and_then(Value::as_object_mut) {
                        identity.insert("accessKey".into(), json!(principal.access_key_id));
                        identity.insert("accountId".into(), json!(principal.account_id));
                        identity.insert("caller".into(), json!(principal.user_id));
                        identity.insert("user".into(), json!(principal.user_id));
                        identity.insert("userArn".into(), json!(principal.arn));
                    }
                } else {
                    context.insert(
                        "authorizer".into(),
                        json!({ "iam": {
                            "accessKey": principal.access_key_id,
                            "accountId": principal.account_id,
                            "callerId": principal.user_id,
                            "cognitoIdentity": null,
                            "principalOrgId": null,
                            "userArn": principal.arn,
                            "userId": principal.user_id,
                        } }),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn facts<'a>(empty: &'a BTreeMap<String, String>) -> RequestFacts<'a> {
        RequestFacts {
            method: "GET",
            raw_path: "/prod/items/1",
            raw_query: "a=1",
            headers: vec![("authorization".into(), "Bearer t".into())],
            body: b"",
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1",
            api_id: "abc",
            account_id: "000000000000",
            domain_name: "localhost",
            stage: "prod",
            route_key: "GET /items/{id}",
            resource: "/items/{id}",
            path_parameters: empty,
            stage_variables: empty,
            request_id: "r",
            now: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn tokens_may_carry_bearer() {
        assert_eq!(bearer_token("Bearer abc"), "abc");
        assert_eq!(bearer_token("bearer  abc"), "abc");
        assert_eq!(bearer_token("abc"), "abc");
    }

    #[test]
    fn claims_become_strings() {
        assert_eq!(claim_text(&json!(["admin", "users"])), "[admin users]");
        assert_eq!(claim_text(&json!(1700000000)), "1700000000");
        assert_eq!(claim_text(&json!(true)), "true");
        assert_eq!(claim_text(&json!("x")), "x");
    }

    #[test]
    fn route_arns_drop_the_stage_prefix() {
        let empty = BTreeMap::new();
        let facts = facts(&empty);
        assert_eq!(route_arn("us-east-1", &facts), "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/items/1");
        let path_style = RequestFacts { raw_path: "/abc/items/1", stage: "$default", ..facts };
        assert_eq!(
            route_arn("us-east-1", &path_style),
            "arn:aws:execute-api:us-east-1:000000000000:abc/$default/GET/items/1"
        );
    }

    #[test]
    fn request_events_follow_the_authorizer_payload_format() {
        let empty = BTreeMap::new();
        let facts = facts(&empty);
        let mut authorizer = Authorizer::create(
            "a".into(),
            serde_json::from_value(json!({ "name": "l", "authorizerType": "REQUEST", "authorizerUri": "f",
                "authorizerPayloadFormatVersion": "2.0", "identitySource": ["$request.header.Authorization"] }))
            .unwrap(),
        )
        .unwrap();
        let v2 = request_event(&authorizer, &facts, "arn", &["Bearer t".into()]);
        assert_eq!(
            (v2["version"].as_str(), v2["type"].as_str(), v2["routeArn"].as_str()),
            (Some("2.0"), Some("REQUEST"), Some("arn"))
        );
        assert_eq!(v2["identitySource"], json!(["Bearer t"]));
        assert!(v2.get("body").is_none() && v2.get("isBase64Encoded").is_none());
        authorizer.authorizer_payload_format_version = "1.0".into();
        let v1 = request_event(&authorizer, &facts, "arn", &["a".into(), "b".into()]);
        assert_eq!((v1["methodArn"].as_str(), v1["identitySource"].as_str()), (Some("arn"), Some("a,b")));
        assert_eq!(v1["authorizationToken"], "a,b");
    }

    #[test]
    fn identities_land_where_each_payload_format_keeps_them() {
        let empty = BTreeMap::new();
        let facts = facts(&empty);
        let token = jwt::VerifiedToken {
            claims: json!({ "sub": "u", "exp": 5 }).as_object().unwrap().clone(),
            scopes: vec!["read".into()],
        };
        let mut v2 = proxy::event_v2(&facts);
        Identity::Jwt(token.clone()).annotate(&mut v2);
        assert_eq!(v2["requestContext"]["authorizer"]["jwt"]["claims"], json!({ "sub": "u", "exp": "5" }));
        assert_eq!(v2["requestContext"]["authorizer"]["jwt"]["scopes"], json!(["read"]));
        let mut v1 = proxy::event_v1(&facts);
        Identity::Jwt(token).annotate(&mut v1);
        assert_eq!(v1["requestContext"]["authorizer"]["claims"]["sub"], "u");
        let lambda = Identity::Lambda {
            principal_id: Some("p".into()),
            context: json!({ "k": 1 }).as_object().unwrap().clone(),
        };
        let mut v2 = proxy::event_v2(&facts);
        lambda.annotate(&mut v2);
        assert_eq!(v2["requestContext"]["authorizer"], json!({ "lambda": { "k": 1 } }));
        let mut v1 = proxy::event_v1(&facts);
        lambda.annotate(&mut v1);
        assert_eq!(v1["requestContext"]["authorizer"]["principalId"], "p");
        assert_eq!(v1["requestContext"]["authorizer"]["k"], 1);
        let iam = Identity::Iam(Principal::root("000000000000", "AKID"));
        let mut v2 = proxy::event_v2(&facts);
        iam.annotate(&mut v2);
        assert_eq!(v2["requestContext"]["authorizer"]["iam"]["accessKey"], "AKID");
        let mut v1 = proxy::event_v1(&facts);
        iam.annotate(&mut v1);
        assert_eq!(v1["requestContext"]["identity"]["userArn"], "arn:aws:iam::000000000000:root");
    }
}
