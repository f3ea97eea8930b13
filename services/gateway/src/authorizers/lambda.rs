//! Lambda authorizers: the function is invoked with a REQUEST event (made
//! by the front that needs it) and answers either a simple
//! `{"isAuthorized": bool, "context": {...}}` or an IAM policy with a
//! `principalId` and `context`. Answers are cached by the authorizer's
//! identity source values for its TTL, so a warm cache calls no function.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use nubo_proto::{clients::FunctionsClient, functions::InvokeRequest};
use serde_json::{Map, Value};

use super::Refusal;

/// How long an authorizer function may take before the request gets 500
/// (API Gateway's limit for authorizers).
pub const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);
/// Cached answers kept at most, across every authorizer.
const MAX_CACHED: u64 = 10_000;

/// What an authorizer function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Simple {
        authorized: bool,
        context: Map<String, Value>,
    },
    Policy {
        principal_id: Option<String>,
        document: Value,
        context: Map<String, Value>,
        /// The API key a REST API whose `apiKeySource` is `AUTHORIZER` meters.
        usage_identifier_key: Option<String>,
    },
}

impl Answer {
    /// Reads a function's result: `simple` when the authorizer has simple
    /// responses enabled, otherwise an IAM policy. Anything else is a
    /// malformed answer, which API Gateway turns into 500.
    pub fn parse(payload: &[u8], simple: bool) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(payload).map_err(|_| "the answer is not JSON".to_owned())?;
        let object = value.as_object().ok_or("the answer is not an object")?;
        let context = match object.get("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(context)) => context.clone(),
            Some(_) => return Err("context is not an object".into()),
        };
        if simple {
            let authorized = object
                .get("isAuthorized")
                .and_then(Value::as_bool)
                .ok_or("isAuthorized is missing or not a boolean")?;
            return Ok(Answer::Simple { authorized, context });
        }
        let document = object.get("policyDocument").filter(|d| d.is_object()).ok_or("policyDocument is missing")?;
        let principal_id = match object.get("principalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(other) => Some(other.to_string()),
        };
        let usage_identifier_key = object.get("usageIdentifierKey").and_then(Value::as_str).map(str::to_owned);
        Ok(Answer::Policy { principal_id, document: document.clone(), context, usage_identifier_key })
    }
}

/// Invokes authorizer functions, with the result cache.
#[derive(Clone)]
pub struct LambdaAuthorizers {
    functions: FunctionsClient,
    /// Key → when the answer expires, and the answer.
    cache: moka::sync::Cache<String, (Instant, Arc<Answer>)>,
}

impl std::fmt::Debug for LambdaAuthorizers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaAuthorizers").field("cached", &self.cache.entry_count()).finish()
    }
}

/// A cache key and how long an answer under it lives.
#[derive(Debug, Clone)]
pub struct CacheKey {
    pub key: String,
    pub ttl: Duration,
}

impl CacheKey {
    /// The key of one authorizer's answer for these identity values: the
    /// authorizer (by API, id and function) and every value, NUL-separated
    /// so no two lists of values share a key.
    pub fn new(scope: &[&str], values: &[String], ttl: Duration) -> Self {
        let mut key = scope.join("\u{0}");
        for value in values {
            key.push('\u{1}');
            key.push_str(value);
        }
        Self { key, ttl }
    }
}

impl LambdaAuthorizers {
    pub fn new(functions: FunctionsClient) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(MAX_CACHED)
            .time_to_live(Duration::from_secs(u64::from(super::definition::MAX_RESULT_TTL)))
            .build();
        Self { functions, cache }
    }

    /// The function's answer to `event`, from the cache when `cache` names a
    /// live entry; errors are never cached.
    pub async fn answer(
        &self,
        function: &str,
        event: &Value,
        simple: bool,
        cache: Option<&CacheKey>,
    ) -> Result<Arc<Answer>, Refusal> {
        if let Some(cache) = cache
            && let Some((expires, answer)) = self.cache.get(&cache.key)
        {
            if Instant::now() < expires {
                return Ok(answer);
            }
            self.cache.invalidate(&cache.key);
        }
        let invoke = self.functions.invoke(InvokeRequest {
            function: function.to_owned(),
            payload: event.to_string().into_bytes(),
            ..Default::default()
        });
        let invoked = match tokio::time::timeout(AUTHORIZER_TIMEOUT, invoke).await {
            Err(_) => {
                tracing::info!(function, "authorizer timed out");
                return Err(Refusal::Error);
            }
            Ok(Err(error)) => {
                tracing::warn!(function, %error, "authorizer could not be invoked");
                return Err(Refusal::Error);
            }
            Ok(Ok(invoked)) => invoked,
        };
        if !invoked.function_error.is_empty() {
            // A function failing with exactly `Unauthorized` asks for 401,
            // as AWS's authorizer blueprints do (`raise Exception('Unauthorized')`).
            let message = serde_json::from_slice::<Value>(&invoked.payload)
                .ok()
                .and_then(|error| error.get("errorMessage").and_then(Value::as_str).map(str::to_owned));
            if message.as_deref() == Some("Unauthorized") {
                return Err(Refusal::Unauthorized);
            }
            tracing::info!(function, request_id = %invoked.request_id, "authorizer function failed");
            return Err(Refusal::Error);
        }
        let answer = Answer::parse(&invoked.payload, simple).map_err(|reason| {
            tracing::info!(function, %reason, "malformed authorizer answer");
            Refusal::Error
        })?;
        let answer = Arc::new(answer);
        if let Some(cache) = cache {
            self.cache.insert(cache.key.clone(), (Instant::now() + cache.ttl, answer.clone()));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn simple_and_policy_answers_parse() {
        let simple = Answer::parse(br#"{"isAuthorized":true,"context":{"user":"u","n":1}}"#, true).unwrap();
        assert_eq!(
            simple,
            Answer::Simple { authorized: true, context: json!({"user":"u","n":1}).as_object().unwrap().clone() }
        );
        assert!(Answer::parse(br#"{"isAuthorized":"yes"}"#, true).is_err());
        assert!(Answer::parse(br#"{"isAuthorized":true,"context":[1]}"#, true).is_err());
        let policy =
            Answer::parse(br#"{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[]}}"#, false)
                .unwrap();
        assert!(matches!(policy, Answer::Policy { principal_id: Some(ref p), .. } if p == "p"));
        assert!(Answer::parse(br#"{"isAuthorized":true}"#, false).is_err());
        assert!(Answer::parse(b"nope", false).is_err());
    }

    #[test]
    fn cache_keys_separate_values() {
        let ttl = Duration::from_secs(1);
        let a = CacheKey::new(&["api", "auth"], &["a,b".into()], ttl);
        let b = CacheKey::new(&["api", "auth"], &["a".into(), "b".into()], ttl);
        assert_ne!(a.key, b.key);
    }
}
