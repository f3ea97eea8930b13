//! The `@connections` API (`apigatewaymanagementapi`): PostToConnection,
//! GetConnection and DeleteConnection at
//! `{endpoint}/{apiId}/{stage}/@connections/{connectionId}`, or
//! `/{stage}/@connections/{connectionId}` on an `{apiId}.execute-api.`
//! host. Signed with SigV4 as `execute-api`; a connection that is not
//! (or no longer) connected, or whose replica is dead, is `GoneException`
//! (410); one whose client does not read what it is sent is
//! `LimitExceededException` (429).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use nubo_host::front::AwsError;
use serde_json::json;

use super::{Unreachable, WebSockets};

/// The API, stage and connection a `@connections` path names.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub api_id: String,
    pub stage: String,
    pub connection_id: String,
}

/// Reads the target off the Host header and path.
pub fn target_of(host: &str, path: &str) -> Option<Target> {
    let (before, connection) = path.split_once("/@connections/")?;
    let connection_id = nubo_host::sigv4::percent_decode(connection);
    if connection_id.is_empty() || connection_id.contains('/') {
        return None;
    }
    let segments: Vec<&str> = before.split('/').filter(|segment| !segment.is_empty()).collect();
    let (api_id, stage) = match (host.split_once(".execute-api."), segments.as_slice()) {
        (Some((api_id, _)), [stage]) => (api_id.to_owned(), *stage),
        (None, [api_id, stage]) => ((*api_id).to_owned(), *stage),
        _ => return None,
    };
    Some(Target { api_id, stage: nubo_host::sigv4::percent_decode(stage), connection_id })
}

fn operation_name(method: &str) -> Option<&'static str> {
    match method {
        "POST" => Some("PostToConnection"),
        "GET" => Some("GetConnection"),
        "DELETE" => Some("DeleteConnection"),
        _ => None,
    }
}

/// API Gateway's timestamps here: ISO 8601 with milliseconds.
fn iso8601(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub async fn handle(request: HttpRequest, raw: Bytes, websockets: web::Data<WebSockets>) -> HttpResponse {
    let front = &websockets.inner.front;
    let host =
        request.headers().get(actix_web::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
    let (Some(target), Some(name)) = (target_of(&host, request.path()), operation_name(request.method().as_str()))
    else {
        return crate::error::user_api_error(404, "Not Found");
    };
    nubo_host::front::name_operation(&request, name);
    let body = match front.verify_body(&request, raw) {
        Ok(signed) => signed.body,
        Err(refused) => return front.error(&refused),
    };
    let stage = Some(target.stage.as_str());
    let (api, connection) = (target.api_id.as_str(), target.connection_id.as_str());
    let answer = match name {
        "PostToConnection" => {
            websockets.post(api, stage, connection, body.to_vec()).await.map(|()| HttpResponse::Ok().finish())
        }
        "GetConnection" => websockets.describe(api, stage, connection).await.map(|described| {
            let mut identity = json!({ "sourceIp": described.source_ip });
            if !described.user_agent.is_empty() {
                identity["userAgent"] = json!(described.user_agent);
            }
            HttpResponse::Ok().json(json!({
                "connectedAt": iso8601(described.connected_at_ms),
                "identity": identity,
                "lastActiveAt": iso8601(described.last_active_at_ms),
            }))
        }),
        _ => websockets.close(api, stage, connection).await.map(|()| HttpResponse::NoContent().finish()),
    };
    answer.unwrap_or_else(|unreachable| {
        let error = match unreachable {
            Unreachable::Gone => AwsError::new(410, "GoneException", ""),
            Unreachable::TooLarge => AwsError::new(413, "PayloadTooLargeException", "Message too long"),
            // The model's words for it: the WebSocket client side buffer is full.
            Unreachable::Full => AwsError::new(429, "LimitExceededException", "Limit Exceeded"),
            Unreachable::Failed(reason) => {
                tracing::warn!(connection, %reason, "@connections call failed");
                AwsError::new(500, "InternalServerErrorException", "Internal server error")
            }
        };
        front.error(&error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_by_path_and_by_host() {
        let want = |api: &str, stage: &str, id: &str| {
            Some(Target { api_id: api.into(), stage: stage.into(), connection_id: id.into() })
        };
        assert_eq!(target_of("127.0.0.1:8080", "/abc/prod/@connections/Wy%3D"), want("abc", "prod", "Wy="));
        assert_eq!(target_of("abc.execute-api.localhost:8080", "/prod/@connections/Wy="), want("abc", "prod", "Wy="));
        assert_eq!(target_of("127.0.0.1:8080", "/abc/@connections/Wy="), None);
        assert_eq!(target_of("127.0.0.1:8080", "/abc/prod/@connections/"), None);
        assert_eq!(target_of("127.0.0.1:8080", "/abc/prod/x/@connections/a"), None);
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(iso8601(1_607_854_667_185), "2020-12-13T10:17:47.185Z");
    }
}
