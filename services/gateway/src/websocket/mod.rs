//! WebSocket APIs. A client's handshake to `{endpoint}/{apiId}/{stage}`
//! (or `{apiId}.execute-api.../{stage}`) runs the `$connect` route and is
//! refused when it answers non-2xx ([`session`]); each message is routed
//! by the API's route selection expression ([`selection`]) to its route's
//! Lambda proxy integration with a WebSocket event ([`events`]), whose
//! reply goes back on the socket when the route has a route response
//! ([`route_responses`]); the close runs `$disconnect`. The `@connections`
//! API ([`callbacks`]) posts to, describes and closes a connection held
//! by whichever replica owns it ([`connections`]), over gRPC.

mod authorize;
pub mod authorizer_rules;
pub mod callbacks;
pub mod connections;
pub mod events;
pub mod route_responses;
pub mod selection;
mod session;

use std::{sync::Arc, time::Duration};

use actix_web::{guard, web};
use nubo_proto::{
    ErrorCode,
    clients::FunctionsClient,
    gateway::{DeleteConnectionRequest, GetConnectionRequest, GetConnectionResponse, PostToConnectionRequest},
};
use serde::{Deserialize, Serialize};

use crate::{
    apis::Apis,
    error::{GatewayError, Result},
    model::Api,
};
use connections::{Ownership, Peers, Registry};

/// The `[gateway.websocket]` settings: AWS's connection limits, and the
/// address other replicas reach this one's sockets at.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A connection no client frame arrived on for this long is closed
    /// (API Gateway: 10 minutes).
    pub idle_timeout_seconds: u64,
    /// A connection is closed this long after it opened (API Gateway: 2 hours).
    pub max_duration_seconds: u64,
    /// This replica's gRPC address as the other replicas reach it
    /// (`http://host:port`); by default its gRPC listener's address, with
    /// loopback for an unspecified bind address.
    pub advertise_url: Option<String>,
    /// How long a message may wait for room in a connection's outbound
    /// queue (a client that does not read fills it); past it
    /// `PostToConnection` answers `LimitExceededException`, as API Gateway
    /// does when a client's buffer is full, and nobody else waits.
    pub send_timeout_millis: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self { idle_timeout_seconds: 600, max_duration_seconds: 7200, advertise_url: None, send_timeout_millis: 2000 }
    }
}

/// API Gateway's limit on one WebSocket message (128 KB), in either
/// direction; frames are at most 32 KB.
pub const MAX_MESSAGE: usize = 128 * 1024;
pub const MAX_FRAME: usize = 32 * 1024;

/// Why a connection the caller named cannot be reached.
#[derive(Debug)]
pub enum Unreachable {
    /// Not connected (any more), or not of this API and stage: 410.
    Gone,
    /// The message is larger than a connection takes: 413.
    TooLarge,
    /// The connection's outbound queue stayed full (the client does not
    /// read): 429 `LimitExceededException`.
    Full,
    /// A dependency failed: 500.
    Failed(String),
}

impl From<GatewayError> for Unreachable {
    fn from(error: GatewayError) -> Self {
        Unreachable::Failed(error.to_string())
    }
}

/// The WebSocket side of one gateway replica.
#[derive(Debug, Clone)]
pub struct WebSockets {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    apis: Apis,
    functions: FunctionsClient,
    registry: Registry,
    ownership: Ownership,
    peers: Peers,
    /// This replica's gRPC address, as stored in ownership records.
    address: String,
    front: nubo_host::front::AwsFront,
    authorizers: crate::authorizers::Authorizers,
    account_id: String,
    idle_timeout: Duration,
    max_duration: Duration,
    send_timeout: Duration,
}

/// What [`WebSockets::new`] is built from.
#[derive(Debug)]
pub struct Parts {
    pub apis: Apis,
    pub functions: FunctionsClient,
    pub records: nubo_proto::clients::RecordsClient,
    pub cluster: nubo_proto::ClusterToken,
    pub grpc_address: std::net::SocketAddr,
    pub front: nubo_host::front::AwsFront,
    pub authorizers: crate::authorizers::Authorizers,
    pub account_id: String,
}

impl WebSockets {
    pub fn new(config: &Config, parts: Parts) -> Self {
        let address = config.advertise_url.clone().unwrap_or_else(|| {
            let mut address = parts.grpc_address;
            if address.ip().is_unspecified() {
                address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{address}")
        });
        Self {
            inner: Arc::new(Inner {
                apis: parts.apis,
                functions: parts.functions,
                registry: Registry::default(),
                ownership: Ownership::new(parts.records),
                peers: Peers::new(parts.cluster),
                address,
                front: parts.front,
                authorizers: parts.authorizers,
                account_id: parts.account_id,
                idle_timeout: Duration::from_secs(config.idle_timeout_seconds.max(1)),
                max_duration: Duration::from_secs(config.max_duration_seconds.max(1)),
                send_timeout: Duration::from_millis(config.send_timeout_millis.max(1)),
            }),
        }
    }

    /// The `@connections` front: REST-JSON, signed as `execute-api`.
    pub fn front(context: &nubo_host::Context) -> nubo_host::front::AwsFront {
        nubo_host::front::AwsFront::new(
            nubo_host::front::Protocol::RestJson,
            context.policy("execute-api", 5),
            context.credentials.clone(),
            MAX_MESSAGE + 1024,
        )
    }

    /// Sockets this replica holds now.
    pub fn open_connections(&self) -> usize {
        self.inner.registry.len()
    }

    /// Finds who holds `connection_id` of `api_id` at `stage` (any stage
    /// when `None`): this replica (`Ok(None)`), or another (its address).
    async fn owner(
        &self,
        api_id: &str,
        stage: Option<&str>,
        connection_id: &str,
    ) -> std::result::Result<Owner, Unreachable> {
        if let Some(local) = self.inner.registry.get(api_id, connection_id) {
            if stage.is_some_and(|stage| stage != local.record.stage) {
                return Err(Unreachable::Gone);
            }
            return Ok(Owner::Here(local));
        }
        let record = self.inner.ownership.get(connection_id).await?.ok_or(Unreachable::Gone)?;
        if record.api_id != api_id || stage.is_some_and(|stage| stage != record.stage) {
            return Err(Unreachable::Gone);
        }
        if record.owner == self.inner.address {
            // Ours once, and not held any more: a session that ended
            // without removing its record (a crash). Nobody will.
            let _ = self.inner.ownership.delete(connection_id).await;
            return Err(Unreachable::Gone);
        }
        Ok(Owner::There(record.owner))
    }

    /// Sends `data` to a connection, wherever it is held.
    pub async fn post(
        &self,
        api_id: &str,
        stage: Option<&str>,
        connection_id: &str,
        data: Vec<u8>,
    ) -> std::result::Result<(), Unreachable> {
        if data.len() > MAX_MESSAGE {
            return Err(Unreachable::TooLarge);
        }
        match self.owner(api_id, stage, connection_id).await? {
            Owner::Here(local) => self.send(&local.session, data).await,
            Owner::There(address) => {
                let request =
                    PostToConnectionRequest { api_id: api_id.into(), connection_id: connection_id.into(), data };
                let mut client = self.inner.peers.client(&address)?;
                let answer = self.ask_peer(client.post_to_connection(request)).await;
                self.forget_if_gone(connection_id, answer.map(drop)).await
            }
        }
    }

    /// Describes a connection, wherever it is held.
    pub async fn describe(
        &self,
        api_id: &str,
        stage: Option<&str>,
        connection_id: &str,
    ) -> std::result::Result<GetConnectionResponse, Unreachable> {
        match self.owner(api_id, stage, connection_id).await? {
            Owner::Here(local) => Ok(describe_local(&local)),
            Owner::There(address) => {
                let request = GetConnectionRequest { api_id: api_id.into(), connection_id: connection_id.into() };
                let mut client = self.inner.peers.client(&address)?;
                let answer = self.ask_peer(client.get_connection(request)).await;
                self.forget_if_gone(connection_id, answer.map(tonic::Response::into_inner)).await
            }
        }
    }

    /// Closes a connection, wherever it is held; its `$disconnect` runs.
    pub async fn close(
        &self,
        api_id: &str,
        stage: Option<&str>,
        connection_id: &str,
    ) -> std::result::Result<(), Unreachable> {
        match self.owner(api_id, stage, connection_id).await? {
            Owner::Here(local) => {
                local.close.notify_one();
                Ok(())
            }
            Owner::There(address) => {
                let request = DeleteConnectionRequest { api_id: api_id.into(), connection_id: connection_id.into() };
                let mut client = self.inner.peers.client(&address)?;
                let answer = self.ask_peer(client.delete_connection(request)).await;
                self.forget_if_gone(connection_id, answer.map(drop)).await
            }
        }
    }

    /// The gRPC side: only sockets this replica holds.
    pub fn local(&self, api_id: &str, connection_id: &str) -> Option<Arc<connections::Local>> {
        self.inner.registry.get(api_id, connection_id)
    }
}

enum Owner {
    Here(Arc<connections::Local>),
    There(String),
}

/// What a peer's gRPC answer means for the connection it was asked about.
pub fn peer_failure(status: &tonic::Status) -> Unreachable {
    match ErrorCode::from_grpc(status.code()) {
        // The peer is up and does not hold the connection (any more).
        ErrorCode::NotFound => Unreachable::Gone,
        ErrorCode::Throttled => Unreachable::Full,
        // Nothing answers at the owner's address: the replica is dead
        // (killed, or gone with its host), and its sockets with it.
        ErrorCode::Unavailable => Unreachable::Gone,
        _ => Unreachable::Failed(format!("the gateway replica holding the connection failed: {}", status.message())),
    }
}

impl WebSockets {
    /// Awaits a call to a peer, for no longer than a send may wait plus a
    /// margin: a replica that hangs (stopped, partitioned) is as gone as a
    /// dead one, and must not hold the caller.
    async fn ask_peer<T>(
        &self,
        call: impl std::future::Future<Output = std::result::Result<T, tonic::Status>>,
    ) -> std::result::Result<T, Unreachable> {
        match tokio::time::timeout(self.inner.send_timeout + PEER_MARGIN, call).await {
            Ok(answer) => answer.map_err(|status| peer_failure(&status)),
            Err(_elapsed) => Err(Unreachable::Gone),
        }
    }

    /// Removes the ownership record of a connection its owner no longer
    /// holds (or of an owner that is gone): nobody else would, and every
    /// later call would ask the dead owner again.
    async fn forget_if_gone<T>(
        &self,
        connection_id: &str,
        answer: std::result::Result<T, Unreachable>,
    ) -> std::result::Result<T, Unreachable> {
        if let Err(Unreachable::Gone) = &answer {
            tracing::info!(connection = connection_id, "removing the record of a connection its owner no longer holds");
            if let Err(error) = self.inner.ownership.delete(connection_id).await {
                tracing::warn!(connection = connection_id, %error, "cannot remove a stale connection record");
            }
        }
        answer
    }

    /// Writes one message on a socket this replica holds, waiting at most
    /// the send timeout for room in its outbound queue.
    pub async fn send(&self, session: &actix_ws::Session, data: Vec<u8>) -> std::result::Result<(), Unreachable> {
        send_within(self.inner.send_timeout, session, data).await
    }
}

/// Added to the send timeout for a peer's answer: the gRPC hop itself.
const PEER_MARGIN: Duration = Duration::from_secs(3);

/// Writes one message on a socket: text when it is UTF-8, as API Gateway
/// sends `PostToConnection` data, binary otherwise. actix-ws queues at
/// most 32 frames per socket; a client that does not read keeps that
/// queue full, and a send finding no room within `timeout` gives up.
pub async fn send_within(
    timeout: Duration,
    session: &actix_ws::Session,
    data: Vec<u8>,
) -> std::result::Result<(), Unreachable> {
    let mut session = session.clone();
    let sent = tokio::time::timeout(timeout, async move {
        match String::from_utf8(data) {
            Ok(text) => session.text(text).await,
            Err(bytes) => session.binary(bytes.into_bytes()).await,
        }
    });
    match sent.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_closed)) => Err(Unreachable::Gone),
        Err(_elapsed) => Err(Unreachable::Full),
    }
}

pub fn describe_local(local: &connections::Local) -> GetConnectionResponse {
    GetConnectionResponse {
        connected_at_ms: local.record.connected_at,
        last_active_at_ms: local.last_active(),
        source_ip: local.record.source_ip.clone(),
        user_agent: local.record.user_agent.clone().unwrap_or_default(),
    }
}

/// Mounts the handshake and `@connections` paths on the user API front;
/// every other request falls through to the HTTP API routes.
pub fn routes(routes: &mut web::ServiceConfig, websockets: WebSockets) {
    // Prefix scopes with guards, not `/{tail:.*}` resources: every user
    // API request passes these, and a static empty prefix costs no regex.
    routes.service(
        web::scope("")
            .guard(guard::fn_guard(|context| {
                context.head().method == actix_web::http::Method::GET && is_handshake(context.head())
            }))
            .default_service(web::to(session::handshake)),
    );
    connection_routes(routes, websockets);
}

/// Mounts the `@connections` paths alone: on the AWS edge too, which is
/// the endpoint functions reach nubo at (`AWS_ENDPOINT_URL`), so a handler
/// calls `{AWS_ENDPOINT_URL}/{apiId}/{stage}/@connections/{id}`.
pub fn connection_routes(routes: &mut web::ServiceConfig, websockets: WebSockets) {
    routes.app_data(web::Data::new(websockets)).service(
        web::scope("")
            .guard(guard::fn_guard(|context| context.head().uri.path().contains("/@connections/")))
            .default_service(web::to(callbacks::handle)),
    );
}

/// A WebSocket opening handshake: `Connection: upgrade` with `Upgrade: websocket`.
fn is_handshake(head: &actix_web::dev::RequestHead) -> bool {
    head.upgrade()
        && head
            .headers()
            .get(actix_web::http::header::UPGRADE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// The endpoint the management API shows: `ws://` for WebSocket APIs.
pub fn endpoint_of(api: &Api, endpoint: &str) -> String {
    if api.protocol_type != "WEBSOCKET" {
        return endpoint.to_owned();
    }
    if let Some(rest) = endpoint.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = endpoint.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        endpoint.to_owned()
    }
}

/// A route key valid for `api`: any non-empty key up to 128 characters
/// for WebSocket APIs (`$`-keys only the three API Gateway defines), the
/// `METHOD /path` grammar for HTTP APIs.
pub fn check_route_key(api: &Api, key: &str) -> Result<()> {
    if api.protocol_type != "WEBSOCKET" {
        return crate::routing::RouteKey::parse(key).map(drop);
    }
    let reserved = key.starts_with('$') && !matches!(key, "$connect" | "$disconnect" | "$default");
    if key.is_empty() || key.len() > 128 || reserved {
        return Err(GatewayError::BadRequest(format!(
            "Unable to create route {key}: the given route key is not valid"
        )));
    }
    Ok(())
}

/// What CreateApi needs of a WebSocket API: a route selection expression,
/// and no quick create.
pub fn check_new_api(route_selection_expression: &Option<String>, target: &Option<String>) -> Result<()> {
    if target.is_some() {
        return Err(GatewayError::BadRequest("Target is not supported for WEBSOCKET APIs".into()));
    }
    match route_selection_expression.as_deref() {
        Some(expression) if expression.starts_with("$request.body.") || expression.contains("${request.body.") => {
            Ok(())
        }
        Some(expression) => Err(GatewayError::BadRequest(format!(
            "The selection expression '{expression}' is not valid. A WebSocket route selection expression selects from the request body: $request.body.{{path}}"
        ))),
        None => Err(GatewayError::BadRequest("RouteSelectionExpression is required for a WEBSOCKET API".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(protocol_type: &str) -> Api {
        Api {
            api_id: "a".into(),
            name: "n".into(),
            protocol_type: protocol_type.into(),
            description: String::new(),
            version: String::new(),
            route_selection_expression: "$request.body.action".into(),
            api_key_selection_expression: String::new(),
            disable_execute_api_endpoint: false,
            created_date: String::new(),
            tags: Default::default(),
            routes: Vec::new(),
            integrations: Vec::new(),
            stages: Vec::new(),
            authorizers: Vec::new(),
            route_responses: Vec::new(),
            cors_configuration: None,
            deployments: Vec::new(),
        }
    }

    #[test]
    fn a_peer_that_does_not_answer_or_hold_the_socket_means_gone() {
        let gone = |code| matches!(peer_failure(&tonic::Status::new(code, "x")), Unreachable::Gone);
        assert!(gone(tonic::Code::NotFound));
        assert!(gone(tonic::Code::Unavailable), "a dead replica's sockets are gone");
        assert!(matches!(peer_failure(&tonic::Status::resource_exhausted("full")), Unreachable::Full));
        assert!(matches!(peer_failure(&tonic::Status::internal("bug")), Unreachable::Failed(_)));
    }

    #[test]
    fn websocket_route_keys() {
        let ws = api("WEBSOCKET");
        for key in ["$connect", "$disconnect", "$default", "sendmessage", "chat/join"] {
            assert!(check_route_key(&ws, key).is_ok(), "{key}");
        }
        for key in ["", "$other", &"x".repeat(129)] {
            assert!(check_route_key(&ws, key).is_err(), "{key}");
        }
        assert!(check_route_key(&api("HTTP"), "$connect").is_err());
        assert!(check_route_key(&api("HTTP"), "GET /x").is_ok());
    }

    #[test]
    fn websocket_endpoints_are_ws() {
        assert_eq!(endpoint_of(&api("WEBSOCKET"), "http://127.0.0.1:1/a"), "ws://127.0.0.1:1/a");
        assert_eq!(endpoint_of(&api("WEBSOCKET"), "https://h/a"), "wss://h/a");
        assert_eq!(endpoint_of(&api("HTTP"), "http://127.0.0.1:1/a"), "http://127.0.0.1:1/a");
    }

    #[test]
    fn new_websocket_apis_need_a_body_selection() {
        assert!(check_new_api(&Some("$request.body.action".into()), &None).is_ok());
        assert!(check_new_api(&None, &None).is_err());
        assert!(check_new_api(&Some("${request.method}".into()), &None).is_err());
        assert!(check_new_api(&Some("$request.body.action".into()), &Some("arn".into())).is_err());
    }
}
