//! The `$connect` route's authorization: a Lambda REQUEST authorizer
//! (`CUSTOM`) called with the WebSocket REQUEST event — the handshake's
//! headers and query, the stage variables, the CONNECT request context
//! and `methodArn` — whose IAM policy must allow
//! `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`; or
//! `AWS_IAM`, a SigV4-signed handshake. A missing identity source is 401
//! without a call, a denying policy 403. What the authorizer returned
//! (`principalId` and its `context`) is every later event's
//! `requestContext.authorizer`.

use std::time::Duration;

use actix_web::HttpRequest;
use serde_json::{Map, Value, json};

use crate::{
    authorizers::{Authorizers, Refusal, identity, lambda, policy},
    model::{Api, Route, Stage},
};

/// What the handshake offers the authorizer.
pub struct Handshake<'a> {
    pub request: &'a HttpRequest,
    pub headers: &'a [(String, String)],
    /// The CONNECT event the `$connect` integration will get.
    pub connect_event: &'a Value,
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`.
pub fn connect_arn(region: &str, account_id: &str, api_id: &str, stage: &str) -> String {
    format!("arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/$connect")
}

/// The REQUEST authorizer event of a WebSocket API: the CONNECT event
/// with the authorizer's `type` and `methodArn` and the stage variables.
pub fn request_event(connect_event: &Value, method_arn: &str, stage: &Stage) -> Value {
    let mut event = connect_event.clone();
    if let Some(object) = event.as_object_mut() {
        object.remove("isBase64Encoded");
        object.insert("type".into(), json!("REQUEST"));
        object.insert("methodArn".into(), json!(method_arn));
        object.insert("stageVariables".into(), json!(stage.stage_variables));
    }
    event
}

/// `requestContext.authorizer` of a Lambda authorizer's answer.
fn authorizer_context(principal_id: Option<&str>, context: &Map<String, Value>) -> Value {
    let mut authorizer = context.clone();
    if let Some(principal_id) = principal_id {
        authorizer.insert("principalId".into(), json!(principal_id));
    }
    Value::Object(authorizer)
}

/// Authorizes the handshake for `route` (`$connect`): `Ok(None)` for an
/// open route, `Ok(Some(context))` when an authorizer let it through.
pub async fn authorize(
    authorizers: &Authorizers,
    account_id: &str,
    api: &Api,
    stage: &Stage,
    route: &Route,
    handshake: &Handshake<'_>,
) -> Result<Option<Value>, Refusal> {
    match route.authorization_type.as_str() {
        "" | "NONE" => Ok(None),
        "AWS_IAM" => {
            let principal = authorizers.verify_iam(handshake.request, b"")?;
            Ok(Some(json!({ "principalId": principal.arn })))
        }
        "CUSTOM" => {
            let authorizer = api
                .authorizers
                .iter()
                .find(|authorizer| authorizer.authorizer_id == route.authorizer_id)
                .ok_or(Refusal::Error)?;
            let context = &handshake.connect_event["requestContext"];
            let view = identity::RequestView {
                headers: handshake.headers,
                raw_query: handshake.request.query_string(),
                stage_variables: &stage.stage_variables,
                context,
            };
            let Some(values) = identity::values(&authorizer.identity_source, &view) else {
                return Err(Refusal::Unauthorized);
            };
            let arn = connect_arn(&authorizers.region, account_id, &api.api_id, &stage.stage_name);
            let event = request_event(handshake.connect_event, &arn, stage);
            let ttl = authorizer.authorizer_result_ttl_in_seconds;
            let cache = (ttl > 0).then(|| {
                lambda::CacheKey::new(
                    &[&api.api_id, &authorizer.authorizer_id, &authorizer.authorizer_uri, &stage.stage_name],
                    &values,
                    Duration::from_secs(u64::from(ttl)),
                )
            });
            let function = crate::user_api::function_of(&authorizer.authorizer_uri);
            // WebSocket authorizers answer with IAM policies only.
            let answer = authorizers.lambda.answer(function, &event, false, cache.as_ref()).await?;
            match answer.as_ref() {
                lambda::Answer::Policy { principal_id, document, context, .. } if policy::allows(document, &arn) => {
                    Ok(Some(authorizer_context(principal_id.as_deref(), context)))
                }
                _ => Err(Refusal::Forbidden),
            }
        }
        other => {
            tracing::warn!(api = %api.api_id, kind = other, "unsupported authorization type on $connect");
            Err(Refusal::Error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_event_extends_the_connect_event() {
        let connect = json!({
            "headers": { "host": "h" },
            "queryStringParameters": { "token": "t" },
            "isBase64Encoded": false,
            "requestContext": { "routeKey": "$connect", "eventType": "CONNECT" },
        });
        let stage = Stage {
            stage_name: "dev".into(),
            auto_deploy: true,
            stage_variables: [("v".to_owned(), "1".to_owned())].into(),
            ..Stage::default()
        };
        let arn = connect_arn("us-east-1", "000000000000", "abc", "dev");
        assert_eq!(arn, "arn:aws:execute-api:us-east-1:000000000000:abc/dev/$connect");
        let event = request_event(&connect, &arn, &stage);
        assert_eq!(event["type"], "REQUEST");
        assert_eq!(event["methodArn"], arn.as_str());
        assert_eq!(event["stageVariables"], json!({ "v": "1" }));
        assert_eq!(event["queryStringParameters"], json!({ "token": "t" }));
        assert!(event.get("isBase64Encoded").is_none());
    }

    #[test]
    fn the_authorizer_context_carries_the_principal() {
        let context: Map<String, Value> = [("user".to_owned(), json!("u1"))].into_iter().collect();
        assert_eq!(authorizer_context(Some("p"), &context), json!({ "user": "u1", "principalId": "p" }));
    }
}
