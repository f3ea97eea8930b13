//! Authorizers as an API's record stores them and as the management API
//! shows them (`Authorizer` of API Gateway v2), and the rules CreateAuthorizer
//! and UpdateAuthorizer enforce on them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{GatewayError, Result};

/// API Gateway's quota of authorizers per API.
pub const MAX_AUTHORIZERS: usize = 10;
/// The longest time a Lambda authorizer's result may be cached.
pub const MAX_RESULT_TTL: u32 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorizer {
    pub authorizer_id: String,
    pub name: String,
    /// `JWT` or `REQUEST` (a Lambda authorizer).
    pub authorizer_type: String,
    /// Selection expressions: `$request.header.Authorization`, ...
    #[serde(default)]
    pub identity_source: Vec<String>,
    #[serde(default)]
    pub jwt_configuration: Option<JwtConfiguration>,
    /// The Lambda function, as a function ARN or API Gateway's
    /// `arn:aws:apigateway:{region}:lambda:path/.../functions/{arn}/invocations`.
    #[serde(default)]
    pub authorizer_uri: String,
    /// `1.0` or `2.0`, for Lambda authorizers.
    #[serde(default)]
    pub authorizer_payload_format_version: String,
    #[serde(default)]
    pub authorizer_result_ttl_in_seconds: u32,
    #[serde(default)]
    pub enable_simple_responses: bool,
    #[serde(default)]
    pub authorizer_credentials_arn: String,
    #[serde(default)]
    pub identity_validation_expression: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtConfiguration {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub audience: Vec<String>,
}

/// The members CreateAuthorizer and UpdateAuthorizer take; every one is
/// optional so one shape serves both (UpdateAuthorizer patches).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerInput {
    pub name: Option<String>,
    pub authorizer_type: Option<String>,
    pub identity_source: Option<Vec<String>>,
    pub jwt_configuration: Option<JwtConfigurationInput>,
    pub authorizer_uri: Option<String>,
    pub authorizer_payload_format_version: Option<String>,
    pub authorizer_result_ttl_in_seconds: Option<u32>,
    pub enable_simple_responses: Option<bool>,
    pub authorizer_credentials_arn: Option<String>,
    pub identity_validation_expression: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtConfigurationInput {
    pub issuer: Option<String>,
    pub audience: Option<Vec<String>>,
}

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(message.into())
}

impl Authorizer {
    /// A new authorizer from CreateAuthorizer's input, checked.
    pub fn create(authorizer_id: String, input: AuthorizerInput) -> Result<Self> {
        let mut authorizer = Self::named(authorizer_id, &input)?;
        authorizer.apply(input)?;
        Ok(authorizer)
    }

    /// A new authorizer from CreateAuthorizer's input with only its name
    /// and type required: for APIs whose rules are not an HTTP API's
    /// (WebSocket APIs check theirs in `websocket::authorizer_rules`).
    pub fn unchecked(authorizer_id: String, input: AuthorizerInput) -> Result<Self> {
        let mut authorizer = Self::named(authorizer_id, &input)?;
        authorizer.assign(input);
        Ok(authorizer)
    }

    /// An empty authorizer, once the input names it and gives its type.
    fn named(authorizer_id: String, input: &AuthorizerInput) -> Result<Self> {
        if input.name.as_deref().is_none_or(|name| name.trim().is_empty()) {
            return Err(bad("Invalid input: name is required"));
        }
        if input.authorizer_type.is_none() {
            return Err(bad("Invalid input: authorizerType is required"));
        }
        Ok(Authorizer {
            authorizer_id,
            name: String::new(),
            authorizer_type: String::new(),
            identity_source: Vec::new(),
            jwt_configuration: None,
            authorizer_uri: String::new(),
            authorizer_payload_format_version: String::new(),
            authorizer_result_ttl_in_seconds: 0,
            enable_simple_responses: false,
            authorizer_credentials_arn: String::new(),
            identity_validation_expression: String::new(),
        })
    }

    /// Applies UpdateAuthorizer's (or CreateAuthorizer's) members, then
    /// checks the whole.
    pub fn apply(&mut self, input: AuthorizerInput) -> Result<()> {
        self.assign(input);
        self.check()
    }

    /// Lays UpdateAuthorizer's (or CreateAuthorizer's) members over this one.
    pub fn assign(&mut self, input: AuthorizerInput) {
        if let Some(name) = input.name {
            self.name = name;
        }
        if let Some(kind) = input.authorizer_type {
            self.authorizer_type = kind;
        }
        if let Some(sources) = input.identity_source {
            self.identity_source = sources;
        }
        if let Some(jwt) = input.jwt_configuration {
            let current = self.jwt_configuration.get_or_insert_with(JwtConfiguration::default);
            if let Some(issuer) = jwt.issuer {
                current.issuer = issuer;
            }
            if let Some(audience) = jwt.audience {
                current.audience = audience;
            }
        }
        if let Some(uri) = input.authorizer_uri {
            self.authorizer_uri = uri;
        }
        if let Some(version) = input.authorizer_payload_format_version {
            self.authorizer_payload_format_version = version;
        }
        if let Some(ttl) = input.authorizer_result_ttl_in_seconds {
            self.authorizer_result_ttl_in_seconds = ttl;
        }
        if let Some(simple) = input.enable_simple_responses {
            self.enable_simple_responses = simple;
        }
        if let Some(arn) = input.authorizer_credentials_arn {
            self.authorizer_credentials_arn = arn;
        }
        if let Some(expression) = input.identity_validation_expression {
            self.identity_validation_expression = expression;
        }
    }

    fn check(&self) -> Result<()> {
        for source in &self.identity_source {
            super::identity::IdentitySource::parse(source)
                .ok_or_else(|| bad(format!("Invalid identity source specified: {source}")))?;
        }
        match self.authorizer_type.as_str() {
            "JWT" => {
                let jwt = self
                    .jwt_configuration
                    .as_ref()
                    .filter(|jwt| !jwt.issuer.is_empty())
                    .ok_or_else(|| bad("JwtConfiguration with an Issuer is required for JWT authorizers"))?;
                if !jwt.issuer.starts_with("https://") && !jwt.issuer.starts_with("http://") {
                    return Err(bad(format!("Invalid issuer {}: an issuer must be an http(s) URL", jwt.issuer)));
                }
                if self.identity_source.len() != 1 {
                    return Err(bad("A JWT authorizer takes exactly one identity source"));
                }
                if self.authorizer_result_ttl_in_seconds != 0 || self.enable_simple_responses {
                    return Err(bad(
                        "AuthorizerResultTtlInSeconds and EnableSimpleResponses are supported only for REQUEST authorizers",
                    ));
                }
            }
            "REQUEST" => {
                if self.authorizer_uri.is_empty() {
                    return Err(bad("AuthorizerUri is required for REQUEST authorizers"));
                }
                match self.authorizer_payload_format_version.as_str() {
                    "1.0" | "2.0" => {}
                    "" => return Err(bad("AuthorizerPayloadFormatVersion is required for REQUEST authorizers")),
                    other => return Err(bad(format!("Invalid authorizer payload format version {other}"))),
                }
                if self.enable_simple_responses && self.authorizer_payload_format_version != "2.0" {
                    return Err(bad("EnableSimpleResponses is supported only for payload format version 2.0"));
                }
                if self.authorizer_result_ttl_in_seconds > MAX_RESULT_TTL {
                    return Err(bad(format!("AuthorizerResultTtlInSeconds must be at most {MAX_RESULT_TTL}")));
                }
                if self.authorizer_result_ttl_in_seconds > 0 && self.identity_source.is_empty() {
                    return Err(bad("Identity source is required when authorizer caching is enabled"));
                }
                if self.jwt_configuration.is_some() {
                    return Err(bad("JwtConfiguration is supported only for JWT authorizers"));
                }
            }
            other => {
                return Err(bad(format!("Invalid authorizer type {other}: HTTP APIs take JWT or REQUEST")));
            }
        }
        Ok(())
    }

    /// The `Authorizer` shape of the management API.
    pub fn to_json(&self) -> Value {
        let mut shown = json!({
            "authorizerId": self.authorizer_id,
            "name": self.name,
            "authorizerType": self.authorizer_type,
            "identitySource": self.identity_source,
        });
        if let Some(jwt) = &self.jwt_configuration {
            shown["jwtConfiguration"] = json!({ "issuer": jwt.issuer, "audience": jwt.audience });
        }
        if self.authorizer_type == "REQUEST" {
            shown["authorizerUri"] = json!(self.authorizer_uri);
            // WebSocket APIs' authorizers have none.
            if !self.authorizer_payload_format_version.is_empty() {
                shown["authorizerPayloadFormatVersion"] = json!(self.authorizer_payload_format_version);
            }
            shown["authorizerResultTtlInSeconds"] = json!(self.authorizer_result_ttl_in_seconds);
            shown["enableSimpleResponses"] = json!(self.enable_simple_responses);
        }
        if !self.authorizer_credentials_arn.is_empty() {
            shown["authorizerCredentialsArn"] = json!(self.authorizer_credentials_arn);
        }
        if !self.identity_validation_expression.is_empty() {
            shown["identityValidationExpression"] = json!(self.identity_validation_expression);
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(value: Value) -> AuthorizerInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn jwt_authorizers_need_an_issuer_and_one_source() {
        let created = Authorizer::create(
            "a1".into(),
            input(json!({ "name": "j", "authorizerType": "JWT", "identitySource": ["$request.header.Authorization"],
                "jwtConfiguration": { "issuer": "http://127.0.0.1:1/pool", "audience": ["app"] } })),
        )
        .unwrap();
        assert_eq!(created.to_json()["jwtConfiguration"]["audience"], json!(["app"]));
        assert!(created.to_json().get("authorizerUri").is_none());
        for bad in [
            json!({ "name": "j", "authorizerType": "JWT", "identitySource": ["$request.header.Authorization"] }),
            json!({ "name": "j", "authorizerType": "JWT", "identitySource": [],
                "jwtConfiguration": { "issuer": "http://x" } }),
            json!({ "name": "j", "authorizerType": "JWT", "identitySource": ["$request.header.A"],
                "jwtConfiguration": { "issuer": "ftp://x" } }),
            json!({ "authorizerType": "JWT" }),
            json!({ "name": "j", "authorizerType": "TOKEN" }),
        ] {
            assert!(Authorizer::create("a".into(), input(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn lambda_authorizers_follow_the_payload_rules() {
        let base = json!({ "name": "l", "authorizerType": "REQUEST", "authorizerUri": "arn:aws:lambda:us-east-1:0:function:f",
            "authorizerPayloadFormatVersion": "2.0", "enableSimpleResponses": true,
            "identitySource": ["$request.header.x-token"], "authorizerResultTtlInSeconds": 60 });
        let mut authorizer = Authorizer::create("a".into(), input(base.clone())).unwrap();
        assert_eq!(authorizer.to_json()["authorizerResultTtlInSeconds"], 60);
        assert!(authorizer.apply(input(json!({ "authorizerPayloadFormatVersion": "1.0" }))).is_err());
        let mut no_sources = base.clone();
        no_sources["identitySource"] = json!([]);
        assert!(Authorizer::create("a".into(), input(no_sources)).is_err());
        let mut too_long = base.clone();
        too_long["authorizerResultTtlInSeconds"] = json!(3601);
        assert!(Authorizer::create("a".into(), input(too_long)).is_err());
        let mut bad_source = base;
        bad_source["identitySource"] = json!(["header.x"]);
        assert!(Authorizer::create("a".into(), input(bad_source)).is_err());
    }
}
