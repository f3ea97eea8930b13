//! CreateAuthorizer's and UpdateAuthorizer's rules for WebSocket APIs,
//! which are not an HTTP API's: a WebSocket API takes only Lambda
//! `REQUEST` authorizers (on `$connect`), whose identity sources are
//! `route.request.header.{name}`, `route.request.querystring.{name}`,
//! `stageVariables.{name}` or `context.{name}`. The members API Gateway
//! documents as "supported only for HTTP APIs" are not required (a
//! payload format version) or not taken (simple responses, a JWT
//! configuration): a WebSocket authorizer's event is the REQUEST event
//! and its answer an IAM policy.

use crate::{
    authorizers::{Authorizer, definition::AuthorizerInput, identity::IdentitySource},
    error::{GatewayError, Result},
};

/// API Gateway's ceiling on an authorizer's cached result.
const MAX_RESULT_TTL: u32 = 3600;

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(message.into())
}

/// A new WebSocket authorizer from CreateAuthorizer's input, checked.
pub fn create(authorizer_id: String, input: AuthorizerInput) -> Result<Authorizer> {
    let authorizer = Authorizer::unchecked(authorizer_id, input)?;
    check(&authorizer)?;
    Ok(authorizer)
}

/// UpdateAuthorizer on a WebSocket API: the members laid over, then checked.
pub fn apply(authorizer: &mut Authorizer, input: AuthorizerInput) -> Result<()> {
    let mut changed = authorizer.clone();
    changed.assign(input);
    check(&changed)?;
    *authorizer = changed;
    Ok(())
}

fn check(authorizer: &Authorizer) -> Result<()> {
    if authorizer.authorizer_type != "REQUEST" {
        return Err(bad(format!(
            "Invalid authorizer type {}: WebSocket APIs take REQUEST authorizers",
            authorizer.authorizer_type
        )));
    }
    if authorizer.authorizer_uri.is_empty() {
        return Err(bad("AuthorizerUri is required for REQUEST authorizers"));
    }
    for source in &authorizer.identity_source {
        let websocket_form = source.starts_with("route.request.")
            || source.starts_with("stageVariables.")
            || source.starts_with("context.");
        if !websocket_form || IdentitySource::parse(source).is_none() {
            return Err(bad(format!("Invalid identity source specified: {source}")));
        }
    }
    if authorizer.jwt_configuration.is_some() {
        return Err(bad("JwtConfiguration is supported only for HTTP APIs"));
    }
    if authorizer.enable_simple_responses {
        return Err(bad("EnableSimpleResponses is supported only for HTTP APIs"));
    }
    // Not required; one given is kept (and has no effect) when valid.
    if !matches!(authorizer.authorizer_payload_format_version.as_str(), "" | "1.0" | "2.0") {
        return Err(bad(format!(
            "Invalid authorizer payload format version {}",
            authorizer.authorizer_payload_format_version
        )));
    }
    if authorizer.authorizer_result_ttl_in_seconds > MAX_RESULT_TTL {
        return Err(bad(format!("AuthorizerResultTtlInSeconds must be at most {MAX_RESULT_TTL}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn input(value: Value) -> AuthorizerInput {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> Value {
        json!({
            "name": "gatekeeper",
            "authorizerType": "REQUEST",
            "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:g/invocations",
            "identitySource": ["route.request.querystring.token", "route.request.header.Auth"],
        })
    }

    #[test]
    fn a_request_authorizer_needs_no_payload_format_version() {
        let created = create("a1".into(), input(base())).unwrap();
        assert_eq!(created.authorizer_payload_format_version, "");
        assert!(created.to_json().get("authorizerPayloadFormatVersion").is_none());
    }

    #[test]
    fn http_only_members_and_other_kinds_are_refused() {
        let with = |member: &str, value: Value| {
            let mut body = base();
            body[member] = value;
            create("a1".into(), input(body))
        };
        assert!(with("authorizerType", json!("JWT")).is_err());
        assert!(with("enableSimpleResponses", json!(true)).is_err());
        assert!(with("authorizerPayloadFormatVersion", json!("3.0")).is_err());
        assert!(with("authorizerPayloadFormatVersion", json!("1.0")).is_ok());
        assert!(with("identitySource", json!(["$request.header.Auth"])).is_err());
        assert!(with("authorizerResultTtlInSeconds", json!(3601)).is_err());
        assert!(with("authorizerUri", json!("")).is_err());
        assert!(with("identitySource", json!(["route.request.header.Auth", "stageVariables.key"])).is_ok());
    }

    #[test]
    fn updates_are_checked_and_leave_a_refused_change_out() {
        let mut authorizer = create("a1".into(), input(base())).unwrap();
        assert!(apply(&mut authorizer, input(json!({ "authorizerType": "JWT" }))).is_err());
        assert_eq!(authorizer.authorizer_type, "REQUEST");
        apply(&mut authorizer, input(json!({ "identitySource": ["route.request.header.X"] }))).unwrap();
        assert_eq!(authorizer.identity_source, ["route.request.header.X"]);
    }
}
