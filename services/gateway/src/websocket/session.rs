//! One WebSocket connection from handshake to close: the `$connect`
//! route decides whether the handshake is accepted; then every message
//! is routed and handed to its integration, until the client closes, the
//! connection idles or outlives API Gateway's limits, or `DeleteConnection`
//! closes it; `$disconnect` runs last.

use std::{sync::Arc, time::Duration};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use base64::Engine as _;
use futures::StreamExt as _;
use nubo_proto::functions::InvokeRequest;
use serde_json::{Value, json};

use super::{
    MAX_FRAME, MAX_MESSAGE, WebSockets, authorize,
    connections::{ConnectionRecord, Local},
    events::{self, ConnectionFacts, EventKind},
    route_responses, selection,
};
use crate::{
    error::user_api_error,
    model::{Api, Stage},
    stages,
};

/// Messages of one connection handed to integrations at once; past it the
/// socket is read no further until one finishes.
const IN_FLIGHT: usize = 32;

/// API Gateway's ids for connections, messages and requests: 16
/// characters of base64 text.
fn new_id() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut id: String = (0..15).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    id.push('=');
    id
}

/// The API id and stage a handshake names: `/{apiId}/{stage}` or, on an
/// `{apiId}.execute-api.` host, `/{stage}`.
fn api_and_stage<'a>(host: &'a str, path: &'a str) -> Option<(&'a str, &'a str)> {
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    match (host.split_once(".execute-api."), segments.as_slice()) {
        (Some((api_id, _)), [stage]) => Some((api_id, stage)),
        (None, [api_id, stage]) => Some((api_id, stage)),
        _ => None,
    }
}

/// The stage a connection names and the definition it serves: the
/// deployment the stage points at, or the API as it is now when the stage
/// auto-deploys ([`stages::served`], as HTTP APIs are served).
fn staged<'a>(api: &'a Api, stage: &str) -> Option<(&'a Stage, &'a Api)> {
    let stage = api.stage(stage)?;
    Some((stage, stages::served(api, stage)?))
}

/// The integration a route targets.
fn integration_of<'a>(
    api: &'a Api,
    route_key: &str,
) -> Option<(&'a crate::model::Route, &'a crate::model::Integration)> {
    let route = api.routes.iter().find(|route| route.route_key == route_key)?;
    let integration = route.target.strip_prefix("integrations/").and_then(|id| api.integration(id))?;
    Some((route, integration))
}

/// How an integration answered.
enum Reply {
    Payload(Vec<u8>),
    /// The function failed, timed out or could not be invoked.
    Failed,
}

impl WebSockets {
    /// Invokes a route's integration: its function named with the stage's
    /// variables (`${stageVariables.name}`), the event carrying them.
    async fn invoke(&self, integration: &crate::model::Integration, stage: &Stage, event: &mut Value) -> Reply {
        events::add_stage_variables(event, &stage.stage_variables);
        let function = crate::user_api::function_of(&integration.integration_uri);
        let request = InvokeRequest {
            function: stages::substitute_stage_variables(function, &stage.stage_variables),
            payload: event.to_string().into_bytes(),
            ..Default::default()
        };
        let timeout = Duration::from_millis(integration.timeout_in_millis);
        match tokio::time::timeout(timeout, self.inner.functions.invoke(request)).await {
            Ok(Ok(invoked)) if invoked.function_error.is_empty() => Reply::Payload(invoked.payload),
            Ok(Ok(invoked)) => {
                tracing::info!(request_id = %invoked.request_id, "websocket integration function failed");
                Reply::Failed
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "websocket integration failed");
                Reply::Failed
            }
            Err(_) => Reply::Failed,
        }
    }
}

/// The status a proxy reply carries (200 when it names none).
fn status_of(payload: &[u8]) -> u16 {
    serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|reply| reply.get("statusCode").and_then(Value::as_u64))
        .and_then(|status| u16::try_from(status).ok())
        .unwrap_or(200)
}

/// What a route response sends back of a proxy reply: its `body` (decoded
/// when `isBase64Encoded`), or the whole reply when it is no such object.
fn reply_body(payload: &[u8]) -> Option<Vec<u8>> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(reply)) => match reply.get("body") {
            Some(Value::String(body)) if reply.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
                base64::engine::general_purpose::STANDARD.decode(body).ok()
            }
            Some(Value::String(body)) => Some(body.clone().into_bytes()),
            Some(other) => Some(other.to_string().into_bytes()),
            None => None,
        },
        _ if payload.is_empty() => None,
        _ => Some(payload.to_vec()),
    }
}

pub async fn handshake(request: HttpRequest, payload: web::Payload, websockets: web::Data<WebSockets>) -> HttpResponse {
    let forbidden = || user_api_error(403, "Forbidden");
    let host =
        request.headers().get(actix_web::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
    let Some((api_id, stage)) = api_and_stage(&host, request.path()) else { return forbidden() };
    let api = match websockets.inner.apis.for_request(api_id).await {
        Ok(Some(api)) if api.protocol_type == "WEBSOCKET" => api,
        Ok(_) => return user_api_error(404, "Not Found"),
        Err(error) => {
            tracing::error!(api = api_id, %error, "cannot load api");
            return user_api_error(500, "Internal server error");
        }
    };
    // A stage that does not exist, or has nothing deployed, is refused.
    let Some((stage_record, served)) = staged(&api, stage) else { return forbidden() };
    let headers: Vec<(String, String)> = {
        let mut headers = crate::proxy::request_headers(&request);
        let peer = request.peer_addr();
        let has = |headers: &[(String, String)], name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if let Some(peer) = peer
            && !has(&headers, "x-forwarded-for")
        {
            headers.push(("x-forwarded-for".into(), peer.ip().to_string()));
        }
        if !has(&headers, "x-forwarded-proto") {
            headers.push(("x-forwarded-proto".into(), request.connection_info().scheme().to_owned()));
        }
        headers
    };
    let query: Vec<(String, String)> = url_pairs(request.query_string());
    let now = chrono::Utc::now();
    let mut facts = ConnectionFacts {
        connection_id: new_id(),
        api_id: api_id.to_owned(),
        stage: stage.to_owned(),
        domain_name: host.split(':').next().unwrap_or(&host).to_owned(),
        connected_at: now.timestamp_millis(),
        source_ip: request.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default(),
        user_agent: request.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned),
        authorizer: None,
    };

    // `$connect`: its authorizer, then its integration's answer, decide
    // whether the socket opens.
    let mut subprotocol = None;
    let connect = EventKind::Connect { headers: &headers, query: &query };
    let request_id = new_id();
    if let Some(route) = served.routes.iter().find(|route| route.route_key == "$connect") {
        let event = events::event(&facts, "$connect", &connect, &request_id, now);
        let handshake = authorize::Handshake { request: &request, headers: &headers, connect_event: &event };
        let inner = &websockets.inner;
        match authorize::authorize(&inner.authorizers, &inner.account_id, served, stage_record, route, &handshake).await
        {
            Ok(context) => facts.authorizer = context,
            Err(refusal) => {
                tracing::info!(api = api_id, status = refusal.status(), "$connect authorizer refused the connection");
                return refusal.response();
            }
        }
    }
    if let Some((_route, integration)) = integration_of(served, "$connect") {
        let mut event = events::event(&facts, "$connect", &connect, &request_id, now);
        match websockets.invoke(integration, stage_record, &mut event).await {
            Reply::Failed => return user_api_error(500, "Internal server error"),
            Reply::Payload(payload) => {
                let status = status_of(&payload);
                if !(200..300).contains(&status) {
                    tracing::info!(api = api_id, status, "$connect refused the connection");
                    let status = if (400..600).contains(&status) { status } else { 500 };
                    return HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::FORBIDDEN),
                    )
                    .finish();
                }
                // A subprotocol the client offered is agreed by `$connect`'s
                // reply naming it, as API Gateway needs.
                subprotocol = serde_json::from_slice::<Value>(&payload).ok().and_then(|reply| {
                    let headers = reply.get("headers")?.as_object()?;
                    headers
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol"))
                        .and_then(|(_, value)| value.as_str().map(str::to_owned))
                });
            }
        }
    }

    let (mut response, session, stream) = match actix_ws::handle(&request, payload) {
        Ok(handled) => handled,
        Err(error) => return error.error_response(),
    };
    if let Some(subprotocol) = subprotocol
        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&subprotocol)
    {
        response.headers_mut().insert(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let record = ConnectionRecord {
        api_id: facts.api_id.clone(),
        stage: facts.stage.clone(),
        owner: websockets.inner.address.clone(),
        connected_at: facts.connected_at,
        source_ip: facts.source_ip.clone(),
        user_agent: facts.user_agent.clone(),
    };
    // Held here before it is recorded as held here: a peer asked about it
    // in between must not hear "not held" and remove the new record.
    let local = Arc::new(Local {
        session,
        record: record.clone(),
        last_active: facts.connected_at.into(),
        close: tokio::sync::Notify::new(),
    });
    websockets.inner.registry.insert(&facts.connection_id, local.clone());
    if let Err(error) = websockets.inner.ownership.put(&facts.connection_id, &record).await {
        websockets.inner.registry.remove(&facts.connection_id);
        tracing::error!(%error, "cannot record the connection");
        return user_api_error(500, "Internal server error");
    }
    tracing::debug!(api = api_id, connection = %facts.connection_id, "websocket connected");
    let websockets = websockets.get_ref().clone();
    actix_web::rt::spawn(run(websockets, facts, local, stream));
    response
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| nubo_host::sigv4::percent_decode(&text.replace('+', " "));
            (decode(name), decode(value))
        })
        .collect()
}

/// Why a connection ended: the close code and reason `$disconnect` sees,
/// and the close frame the client gets, if the gateway sends one.
struct Ending {
    status_code: u16,
    reason: String,
    close: Option<CloseReason>,
}

impl Ending {
    fn by_gateway(code: CloseCode, status_code: u16, reason: &str) -> Self {
        Self {
            status_code,
            reason: reason.to_owned(),
            close: Some(CloseReason { code, description: Some(reason.to_owned()) }),
        }
    }
}

async fn run(websockets: WebSockets, facts: ConnectionFacts, local: Arc<Local>, stream: actix_ws::MessageStream) {
    let mut stream = stream.max_frame_size(MAX_FRAME).aggregate_continuations().max_continuation_size(MAX_MESSAGE);
    let idle = websockets.inner.idle_timeout;
    let deadline = tokio::time::Instant::now() + websockets.inner.max_duration;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let facts = Arc::new(facts);
    let mut last_seen = tokio::time::Instant::now();
    let ending = loop {
        tokio::select! {
            message = stream.next() => {
                last_seen = tokio::time::Instant::now();
                local.touch();
                let (body, is_base64) = match message {
                    Some(Ok(AggregatedMessage::Text(text))) => (text.to_string(), false),
                    Some(Ok(AggregatedMessage::Binary(bytes))) => {
                        (base64::engine::general_purpose::STANDARD.encode(&bytes), true)
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        // A client that pings but never reads gets no pong
                        // rather than stalling its own session.
                        let pong = local.session.clone();
                        let _ = tokio::time::timeout(websockets.inner.send_timeout, async move {
                            let mut pong = pong;
                            pong.pong(&bytes).await
                        })
                        .await;
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(reason))) => {
                        let (status_code, reason) = match reason {
                            Some(reason) => (u16::from(reason.code), reason.description.unwrap_or_default()),
                            None => (1005, "Client-side close frame status not set".to_owned()),
                        };
                        // The close handshake: the client's code echoed.
                        let echo = CloseReason { code: CloseCode::from(status_code), description: None };
                        break Ending { status_code, reason, close: Some(echo) };
                    }
                    Some(Err(error)) => {
                        tracing::debug!(connection = %facts.connection_id, %error, "websocket protocol error");
                        let too_big = matches!(error, actix_ws::ProtocolError::Overflow);
                        break if too_big {
                            Ending::by_gateway(CloseCode::Size, 1009, "Message too big")
                        } else {
                            Ending::by_gateway(CloseCode::Protocol, 1002, "Protocol error")
                        };
                    }
                    None => break Ending { status_code: 1006, reason: "Connection closed abnormally".into(), close: None },
                };
                let Ok(permit) = in_flight.clone().acquire_owned().await else { continue };
                let (websockets, facts) = (websockets.clone(), facts.clone());
                let session = local.session.clone();
                actix_web::rt::spawn(async move {
                    dispatch(&websockets, &facts, &session, &body, is_base64).await;
                    drop(permit);
                });
            }
            () = tokio::time::sleep_until(last_seen + idle) => {
                break Ending::by_gateway(CloseCode::Away, 1001, "Going away");
            }
            () = tokio::time::sleep_until(deadline) => {
                break Ending::by_gateway(CloseCode::Away, 1001, "Going away");
            }
            () = local.close.notified() => {
                break Ending::by_gateway(CloseCode::Normal, 1000, "Connection Closed Normally");
            }
        }
    };
    websockets.inner.registry.remove(&facts.connection_id);
    if let Some(close) = ending.close {
        // The close frame waits behind what is queued; a client that does
        // not read does not get it, and its socket is dropped instead.
        let closing = local.session.clone().close(Some(close));
        let _ = tokio::time::timeout(websockets.inner.send_timeout, closing).await;
    }
    if let Err(error) = websockets.inner.ownership.delete(&facts.connection_id).await {
        tracing::warn!(connection = %facts.connection_id, %error, "cannot remove the connection record");
    }
    tracing::debug!(connection = %facts.connection_id, code = ending.status_code, "websocket disconnected");
    disconnect(&websockets, &facts, ending.status_code, &ending.reason).await;
}

/// Runs `$disconnect`, best effort: the socket is gone, nobody hears.
async fn disconnect(websockets: &WebSockets, facts: &ConnectionFacts, status_code: u16, reason: &str) {
    let Ok(Some(api)) = websockets.inner.apis.for_request(&facts.api_id).await else { return };
    let Some((stage, served)) = staged(&api, &facts.stage) else { return };
    let Some((_route, integration)) = integration_of(served, "$disconnect") else { return };
    let kind = EventKind::Disconnect { status_code, reason };
    let mut event = events::event(facts, "$disconnect", &kind, &new_id(), chrono::Utc::now());
    let _ = websockets.invoke(integration, stage, &mut event).await;
}

/// Routes one message, hands it to its integration, and sends the reply
/// back when the route has a route response.
async fn dispatch(
    websockets: &WebSockets,
    facts: &ConnectionFacts,
    session: &actix_ws::Session,
    body: &str,
    is_base64: bool,
) {
    let request_id = new_id();
    let error = |message: &str| {
        json!({ "message": message, "connectionId": facts.connection_id, "requestId": request_id }).to_string()
    };
    let api = match websockets.inner.apis.for_request(&facts.api_id).await {
        Ok(Some(api)) => api,
        _ => {
            let _ = websockets.send(session, error("Internal server error").into_bytes()).await;
            return;
        }
    };
    // The stage's deployment may have changed since the handshake: each
    // message is served by what the stage serves now.
    let Some((stage, served)) = staged(&api, &facts.stage) else {
        let _ = websockets.send(session, error("Forbidden").into_bytes()).await;
        return;
    };
    let text = if is_base64 { "" } else { body };
    let route_key = selection::route_key(
        &served.route_selection_expression,
        text,
        served.routes.iter().map(|route| route.route_key.as_str()).filter(|key| !key.starts_with('$')),
    );
    let Some((route, integration)) = integration_of(served, &route_key) else {
        let _ = websockets.send(session, error("Forbidden").into_bytes()).await;
        return;
    };
    let message_id = new_id();
    let kind = EventKind::Message { message_id: &message_id, body, is_base64 };
    let mut event = events::event(facts, &route_key, &kind, &request_id, chrono::Utc::now());
    match websockets.invoke(integration, stage, &mut event).await {
        Reply::Failed => {
            let _ = websockets.send(session, error("Internal server error").into_bytes()).await;
        }
        Reply::Payload(payload) => {
            if route_responses::replies(served, &route.route_id)
                && let Some(reply) = reply_body(&payload)
            {
                let _ = websockets.send(session, reply).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes_name_api_and_stage() {
        assert_eq!(api_and_stage("127.0.0.1:1", "/abc/prod"), Some(("abc", "prod")));
        assert_eq!(api_and_stage("127.0.0.1:1", "/abc/prod/"), Some(("abc", "prod")));
        assert_eq!(api_and_stage("abc.execute-api.localhost", "/prod"), Some(("abc", "prod")));
        assert_eq!(api_and_stage("127.0.0.1:1", "/abc"), None);
    }

    #[test]
    fn ids_look_like_api_gateways() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert_ne!(id, new_id());
    }

    #[test]
    fn replies_send_their_body() {
        assert_eq!(reply_body(br#"{"statusCode":200,"body":"hi"}"#), Some(b"hi".to_vec()));
        assert_eq!(reply_body(br#"{"body":"aGk=","isBase64Encoded":true}"#), Some(b"hi".to_vec()));
        assert_eq!(reply_body(br#"{"statusCode":200}"#), None);
        assert_eq!(reply_body(b"\"plain\""), Some(b"\"plain\"".to_vec()));
        assert_eq!(reply_body(b""), None);
    }

    #[test]
    fn connect_replies_carry_a_status() {
        assert_eq!(status_of(br#"{"statusCode":401}"#), 401);
        assert_eq!(status_of(b"null"), 200);
        assert_eq!(status_of(b"not json"), 200);
    }
}
