//! Lambda triggers: a pool's `LambdaConfig` names a function per event;
//! nubo invokes it through functions with Cognito's event shape and reads
//! the `response` member back, as Cognito does.

use nubo_proto::{
    clients::FunctionsClient,
    functions::{InvocationType, InvokeRequest},
};
use serde_json::{Map, Value, json};

use crate::{
    error::{CognitoError, Result},
    model::{User, UserPool},
};

/// Invokes trigger functions.
#[derive(Debug, Clone)]
pub struct Triggers {
    functions: Option<FunctionsClient>,
    region: String,
}

/// The common part of every trigger event.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub pool: &'a UserPool,
    /// The trigger's `LambdaConfig` member (`PreSignUp`, ...).
    pub trigger: &'a str,
    /// `triggerSource` (`PreSignUp_SignUp`, `TokenGeneration_Authentication`, ...).
    pub source: &'a str,
    pub client_id: Option<&'a str>,
    pub username: &'a str,
    pub request: Value,
    /// The `response` member before the function changes it.
    pub response: Value,
}

/// The user's attributes as triggers see them: a map of strings.
pub fn user_attributes(user: &User) -> Value {
    let mut attributes = Map::new();
    for (name, value) in &user.attributes {
        attributes.insert(name.clone(), json!(value));
    }
    if !attributes.contains_key("cognito:user_status") {
        attributes.insert("cognito:user_status".into(), json!(user.status.as_str()));
    }
    Value::Object(attributes)
}

impl Triggers {
    pub fn new(functions: Option<FunctionsClient>, region: &str) -> Self {
        Self { functions, region: region.to_owned() }
    }

    /// Runs the pool's function for `event`, if it has one, and returns the
    /// `response` it sent back (the default response otherwise). A failing
    /// function refuses the request with Cognito's error for that trigger.
    pub async fn run(&self, event: Event<'_>) -> Result<Value> {
        let Some(function) = event.pool.trigger(event.trigger) else { return Ok(event.response) };
        let Some(functions) = &self.functions else {
            return Err(CognitoError::unexpected_lambda(format!(
                "{} failed: functions are not reachable",
                event.trigger
            )));
        };
        let payload = json!({
            "version": if event.trigger == "PreTokenGeneration" { "2" } else { "1" },
            "triggerSource": event.source,
            "region": self.region,
            "userPoolId": event.pool.id,
            "userName": event.username,
            "callerContext": {
                "awsSdkVersion": "aws-sdk-unknown-unknown",
                "clientId": event.client_id.unwrap_or("CLIENT_ID_NOT_APPLICABLE"),
            },
            "request": event.request,
            "response": event.response,
        });
        let request = InvokeRequest {
            function: function.to_owned(),
            qualifier: String::new(),
            payload: payload.to_string().into_bytes(),
            invocation_type: InvocationType::RequestResponse as i32,
            tail_logs: false,
            client_context: String::new(),
        };
        let name = event.trigger;
        let invoked = functions.invoke(request).await.map_err(|error| {
            CognitoError::unexpected_lambda(format!("{name} invocation failed due to error {}.", error.message))
        })?;
        let returned: Value = serde_json::from_slice(&invoked.payload).unwrap_or(Value::Null);
        if !invoked.function_error.is_empty() {
            let message = returned.get("errorMessage").and_then(Value::as_str).unwrap_or("the function failed");
            return Err(CognitoError::lambda_validation(format!("{name} failed with error {message}.")));
        }
        match returned.get("response") {
            Some(response @ Value::Object(_)) => Ok(response.clone()),
            Some(Value::Null) | None => Ok(event.response),
            Some(_) => Err(CognitoError::invalid_lambda_response(format!("Unrecognizable lambda output for {name}"))),
        }
    }
}
