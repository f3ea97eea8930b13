//! Method authorization of REST APIs, as API Gateway applies it before the
//! integration: `AWS_IAM` (SigV4 as `execute-api`), `CUSTOM` with a TOKEN
//! or REQUEST Lambda authorizer, and `COGNITO_USER_POOLS`. The pieces are
//! the shared ones of [`crate::authorizers`] — the SigV4 check, the Lambda
//! answer cache, the JWT verifier, identity sources and IAM policy
//! evaluation; what is REST's own is here: the events, the method ARN,
//! `identityValidationExpression`, and the gateway responses.
//!
//! A TOKEN authorizer's answer is cached under its token, a REQUEST
//! authorizer's under its identity source values, for the authorizer's
//! `authorizerResultTtlInSeconds` (0: no cache). A cached policy is
//! evaluated again for each request's method ARN, as AWS does.

use std::time::Duration;

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::{
    model::Authorizer,
    serve::{Context, gateway_response, rest_event},
};
use crate::{
    authorizers::{
        Identity, Refusal, identity,
        lambda::{Answer, CacheKey},
        policy::{self, Decision},
    },
    user_api::UserApis,
};

/// The method ARN a policy is evaluated against:
/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`,
/// the path as requested under the stage.
pub fn method_arn(region: &str, account: &str, api_id: &str, stage: &str, method: &str, path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path}")
}

fn unauthorized(request_id: &str) -> HttpResponse {
    gateway_response(401, "UnauthorizedException", "Unauthorized", request_id)
}

/// 403 of a policy that does not allow the method; AWS writes `Message`
/// with a capital here.
fn access_denied(decision: Decision, request_id: &str) -> HttpResponse {
    let message = match decision {
        Decision::ExplicitDeny => "User is not authorized to access this resource with an explicit deny",
        _ => "User is not authorized to access this resource",
    };
    HttpResponse::Forbidden()
        .insert_header(("x-amzn-requestid", request_id.to_owned()))
        .insert_header(("x-amzn-errortype", "AccessDeniedException"))
        .content_type("application/json")
        .body(json!({ "Message": message }).to_string())
}

/// 500 of an authorizer that failed or answered nonsense: `{"message": null}`.
fn authorizer_error(request_id: &str) -> HttpResponse {
    HttpResponse::InternalServerError()
        .insert_header(("x-amzn-requestid", request_id.to_owned()))
        .insert_header(("x-amzn-errortype", "AuthorizerConfigurationException"))
        .content_type("application/json")
        .body(json!({ "message": null }).to_string())
}

fn refused(refusal: Refusal, request_id: &str) -> HttpResponse {
    match refusal {
        Refusal::Unauthorized => unauthorized(request_id),
        Refusal::Forbidden => access_denied(Decision::NotAllowed, request_id),
        Refusal::Signature(message) => gateway_response(403, "InvalidSignatureException", &message, request_id),
        Refusal::Error => authorizer_error(request_id),
    }
}

/// Whether a token passes the authorizer's `identityValidationExpression`
/// (the whole token must match); no expression passes everything. A
/// pattern that does not compile refuses, so a broken definition never
/// lets tokens through.
pub fn token_is_valid(expression: Option<&str>, token: &str) -> bool {
    match expression.map(str::trim).filter(|pattern| !pattern.is_empty()) {
        None => true,
        Some(pattern) => regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|regex| regex.is_match(token)),
    }
}

/// The identity sources of a REST authorizer: comma-separated.
fn sources(authorizer: &Authorizer) -> Vec<String> {
    authorizer
        .identity_source
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|source| !source.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Who a method let through.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorized {
    pub identity: Identity,
    /// The API key a Lambda authorizer named (`usageIdentifierKey`), what
    /// an API with `apiKeySource: AUTHORIZER` meters.
    pub usage_key: Option<String>,
}

impl From<Identity> for Authorized {
    fn from(identity: Identity) -> Self {
        Self { identity, usage_key: None }
    }
}

/// Who may call the matched method, or the response refusing the request.
pub(super) async fn authorize(context: &Context<'_>, state: &UserApis) -> Result<Authorized, HttpResponse> {
    let method = context.matched.method;
    let request_id = context.request_id;
    match method.authorization_type.as_str() {
        "" | "NONE" => Ok(Identity::Anonymous.into()),
        "AWS_IAM" => match state.authorizers.verify_iam(context.request, context.body) {
            Ok(principal) => Ok(Identity::Iam(principal).into()),
            // An unsigned request is answered as a path without a method.
            Err(Refusal::Forbidden) => Err(gateway_response(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                request_id,
            )),
            Err(refusal) => Err(refused(refusal, request_id)),
        },
        kind @ ("CUSTOM" | "COGNITO_USER_POOLS") => {
            let authorizer = method.authorizer_id.as_deref().and_then(|id| context.api.authorizer(id));
            let Some(authorizer) = authorizer else {
                tracing::warn!(api = %context.api.id, "method names no such authorizer");
                return Err(authorizer_error(request_id));
            };
            match (kind, authorizer.kind.as_str()) {
                ("CUSTOM", "TOKEN" | "REQUEST") => lambda(context, state, authorizer).await,
                ("COGNITO_USER_POOLS", "COGNITO_USER_POOLS") => {
                    cognito(context, state, authorizer).await.map(Into::into)
                }
                _ => Err(authorizer_error(request_id)),
            }
        }
        other => {
            tracing::warn!(api = %context.api.id, authorization = other, "unknown authorization type");
            Err(authorizer_error(request_id))
        }
    }
}

/// The identity source values of a request, `None` when one is missing.
fn values_of(context: &Context<'_>, sources: &[String], request_context: &Value) -> Option<Vec<String>> {
    let view = identity::RequestView {
        headers: context.headers,
        raw_query: context.request.query_string(),
        stage_variables: &context.stage.variables,
        context: request_context,
    };
    identity::values(sources, &view)
}

async fn lambda(context: &Context<'_>, state: &UserApis, authorizer: &Authorizer) -> Result<Authorized, HttpResponse> {
    let request_id = context.request_id;
    let arn = method_arn(
        &state.authorizers.region,
        context.account_id,
        &context.api.id,
        &context.stage.stage_name,
        context.request.method().as_str(),
        context.resource_path,
    );
    let sources = sources(authorizer);
    let (event, values) = if authorizer.kind == "TOKEN" {
        let source = sources.first().cloned().unwrap_or_else(|| "method.request.header.Authorization".into());
        let token = values_of(context, std::slice::from_ref(&source), &Value::Null)
            .and_then(|values| values.into_iter().next())
            .ok_or_else(|| unauthorized(request_id))?;
        if !token_is_valid(authorizer.identity_validation_expression.as_deref(), &token) {
            return Err(unauthorized(request_id));
        }
        (json!({ "type": "TOKEN", "authorizationToken": token, "methodArn": arn }), vec![token])
    } else {
        let mut event = rest_event(context, &Identity::Anonymous);
        let values = values_of(context, &sources, &event["requestContext"]).ok_or_else(|| unauthorized(request_id))?;
        if let Some(object) = event.as_object_mut() {
            object.remove("body");
            object.remove("isBase64Encoded");
        }
        event["type"] = json!("REQUEST");
        event["methodArn"] = json!(arn);
        (event, values)
    };
    let uri = authorizer.authorizer_uri.as_deref().unwrap_or_default();
    let uri = crate::stages::substitute_stage_variables(uri, &context.stage.variables);
    let ttl = authorizer.authorizer_result_ttl_in_seconds.unwrap_or(300).max(0) as u64;
    // Keyed by stage and the function the stage's variables chose: one
    // stage's answer must never stand in for another stage's authorizer.
    let cache = (ttl > 0 && !values.is_empty()).then(|| {
        CacheKey::new(
            &["rest", &context.api.id, &context.stage.stage_name, &authorizer.id, &uri],
            &values,
            Duration::from_secs(ttl),
        )
    });
    let function = super::serve::function_of(&uri);
    let answer = state
        .authorizers
        .lambda
        .answer(function, &event, false, cache.as_ref())
        .await
        .map_err(|refusal| refused(refusal, request_id))?;
    match answer.as_ref() {
        Answer::Policy { principal_id, document, context: values, usage_identifier_key } => {
            // Context values must be strings, numbers or booleans.
            if values.values().any(|value| value.is_object() || value.is_array()) {
                tracing::info!(authorizer = %authorizer.id, "authorizer context holds an object or array");
                return Err(authorizer_error(request_id));
            }
            match policy::decide(document, &arn) {
                Decision::Allow => Ok(Authorized {
                    identity: Identity::Lambda { principal_id: principal_id.clone(), context: values.clone() },
                    usage_key: usage_identifier_key.clone(),
                }),
                decision => Err(access_denied(decision, request_id)),
            }
        }
        Answer::Simple { .. } => Err(authorizer_error(request_id)),
    }
}

async fn cognito(context: &Context<'_>, state: &UserApis, authorizer: &Authorizer) -> Result<Identity, HttpResponse> {
    let request_id = context.request_id;
    let sources = sources(authorizer);
    let source = sources.first().cloned().unwrap_or_else(|| "method.request.header.Authorization".into());
    let token = values_of(context, std::slice::from_ref(&source), &Value::Null)
        .and_then(|values| values.into_iter().next())
        .ok_or_else(|| unauthorized(request_id))?;
    if !token_is_valid(authorizer.identity_validation_expression.as_deref(), &token) {
        return Err(unauthorized(request_id));
    }
    let claimed = super::cognito::claimed_issuer(&token).ok_or_else(|| unauthorized(request_id))?;
    let mut issuer = None;
    for pool_id in authorizer.provider_arns.iter().filter_map(|arn| super::cognito::pool_id_of(arn)) {
        match state.rest.cognito.issuer(pool_id).await {
            Ok(pool_issuer) if pool_issuer == claimed => {
                issuer = Some(pool_issuer);
                break;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(pool = pool_id, %error, "cannot learn the user pool's issuer"),
        }
    }
    let issuer = issuer.ok_or_else(|| unauthorized(request_id))?;
    let verified = state.authorizers.jwt.verify(&token, &issuer, &[]).await.map_err(|error| {
        tracing::debug!(authorizer = %authorizer.id, %error, "token refused");
        unauthorized(request_id)
    })?;
    // Without scopes on the method the ID token is what API Gateway takes;
    // with scopes, an access token granting one of them.
    let token_use = verified.claims.get("token_use").and_then(Value::as_str);
    let scopes = &context.matched.method.authorization_scopes;
    let accepted = if scopes.is_empty() {
        token_use == Some("id")
    } else {
        token_use == Some("access") && scopes.iter().any(|scope| verified.scopes.contains(scope))
    };
    if !accepted {
        return Err(unauthorized(request_id));
    }
    Ok(Identity::Jwt(verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/items/1";

    #[test]
    fn method_arns_name_the_requested_path() {
        assert_eq!(method_arn("us-east-1", "000000000000", "abc", "prod", "GET", "/items/1"), ARN);
        assert_eq!(
            method_arn("us-east-1", "000000000000", "abc", "prod", "POST", "/"),
            "arn:aws:execute-api:us-east-1:000000000000:abc/prod/POST/"
        );
    }

    fn policy(effect: &str, resource: &str) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [
            { "Action": "execute-api:Invoke", "Effect": effect, "Resource": resource }] })
    }

    #[test]
    fn policies_match_method_arns_with_wildcards() {
        let decide = |document: &Value| policy::decide(document, ARN);
        assert_eq!(decide(&policy("Allow", ARN)), Decision::Allow);
        assert_eq!(decide(&policy("Allow", "arn:aws:execute-api:us-east-1:000000000000:abc/*")), Decision::Allow);
        assert_eq!(decide(&policy("Allow", "arn:aws:execute-api:*:*:abc/prod/GET/items/*")), Decision::Allow);
        assert_eq!(decide(&policy("Allow", "arn:aws:execute-api:*:*:abc/*/*/items/?")), Decision::Allow);
        assert_eq!(decide(&policy("Allow", "arn:aws:execute-api:*:*:abc/dev/*")), Decision::NotAllowed);
        assert_eq!(decide(&policy("Allow", "arn:aws:execute-api:*:*:abc/prod/POST/*")), Decision::NotAllowed);
        assert_eq!(decide(&policy("Deny", "arn:aws:execute-api:*:*:abc/*")), Decision::ExplicitDeny);
        let mut both = policy("Allow", "*");
        both["Statement"].as_array_mut().unwrap().push(json!({
            "Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": ["arn:aws:execute-api:*:*:abc/*/GET/items/*"] }));
        assert_eq!(decide(&both), Decision::ExplicitDeny);
        assert_eq!(decide(&json!({ "Statement": [] })), Decision::NotAllowed);
    }

    #[test]
    fn tokens_must_match_the_whole_expression() {
        assert!(token_is_valid(None, "anything"));
        assert!(token_is_valid(Some(""), "anything"));
        assert!(token_is_valid(Some("^allow-[a-z]+$"), "allow-me"));
        assert!(token_is_valid(Some("allow-[a-z]+"), "allow-me"));
        assert!(!token_is_valid(Some("allow-[a-z]+"), "allow-me-2"));
        assert!(!token_is_valid(Some("allow-[a-z]+"), "xallow-me"));
        assert!(!token_is_valid(Some("(unclosed"), "(unclosed"));
    }

    #[test]
    fn identity_sources_are_comma_separated() {
        let authorizer = Authorizer {
            identity_source: Some("method.request.header.X-Token, method.request.querystring.q".into()),
            ..Default::default()
        };
        assert_eq!(sources(&authorizer), ["method.request.header.X-Token", "method.request.querystring.q"]);
        assert!(sources(&Authorizer::default()).is_empty());
    }

    #[test]
    fn refusals_get_aws_bodies() {
        let body = |response: HttpResponse| {
            let status = response.status().as_u16();
            let bytes = actix_web::body::to_bytes(response.into_body());
            let bytes = futures_lite_block(bytes);
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        };
        assert_eq!(body(unauthorized("r")), (401, json!({ "message": "Unauthorized" })));
        assert_eq!(
            body(access_denied(Decision::ExplicitDeny, "r")),
            (403, json!({ "Message": "User is not authorized to access this resource with an explicit deny" }))
        );
        assert_eq!(body(authorizer_error("r")), (500, json!({ "message": null })));
    }

    fn futures_lite_block<F: std::future::Future<Output = Result<bytes::Bytes, E>>, E: std::fmt::Debug>(
        future: F,
    ) -> bytes::Bytes {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future).unwrap()
    }
}
