//! gRPC serving and linking. Every service's gRPC server carries the
//! standard `grpc.health.v1.Health` service and refuses every other call
//! that lacks the cluster credential ([`ClusterGuard`]); clients of other
//! services are lazy channels that present it ([`link`]), so start-up order
//! never matters and a restarted peer is reconnected on the next call.

use std::{
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use futures::future::{Either, Ready, ready};
use nubo_proto::{ClusterToken, Link};
use tonic::{
    codegen::http,
    transport::{Channel, Endpoint, Server, server::TcpIncoming},
};
use tower_layer::{Identity, Layer, Stack};
use tower_service::Service;

use crate::Shutdown;

/// The health service's methods, the only calls open to callers without
/// the credential (orchestrators' health checks).
const HEALTH_METHODS: [&str; 2] = ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"];

/// A service's gRPC router: health plus its own services, behind the guard.
pub type Router = tonic::transport::server::Router<Stack<ClusterGuardLayer, Identity>>;

/// A router with the health service mounted and every call checked for
/// `token`; the service adds its own gRPC services to it.
pub fn router(token: &ClusterToken) -> Router {
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder().layer(ClusterGuardLayer { token: token.clone() }).add_service(health)
}

/// Puts [`ClusterGuard`] in front of a server's routes.
#[derive(Debug, Clone)]
pub struct ClusterGuardLayer {
    token: ClusterToken,
}

impl<S> Layer<S> for ClusterGuardLayer {
    type Service = ClusterGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClusterGuard { inner, token: self.token.clone() }
    }
}

/// Answers `UNAUTHENTICATED` to any call but a health check that does not
/// carry the cluster credential; passes the rest through untouched.
#[derive(Debug, Clone)]
pub struct ClusterGuard<S> {
    inner: S,
    token: ClusterToken,
}

impl<S, B> Service<http::Request<B>> for ClusterGuard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<S::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let open = HEALTH_METHODS.contains(&request.uri().path());
        let presented = request.headers().get(nubo_proto::cluster::METADATA_KEY).map(|value| value.as_bytes());
        if open || self.token.admits(presented) {
            return Either::Right(self.inner.call(request));
        }
        tracing::warn!(path = request.uri().path(), "internal call without the cluster credential refused");
        let status =
            tonic::Status::unauthenticated("this is nubo's internal plane: the cluster credential is required");
        Either::Left(ready(Ok(status.into_http())))
    }
}

/// Serves `router` on a pre-bound listener until `shutdown`.
pub async fn serve(
    service: &'static str,
    listener: std::net::TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> Result<(), String> {
    let address = listener.local_addr().ok();
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|error| format!("cannot adopt the listener: {error}"))?;
    tracing::debug!(service, address = ?address, "grpc listening");
    // An HTTP/2 answer is several small frames written one after another:
    // with Nagle's algorithm on, each call waits out the peer's delayed ACK
    // (40 ms on Linux). Accepted sockets get TCP_NODELAY, as links do.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router.serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()).await.map_err(|error| error.to_string())
}

/// A channel to another service, connected on first use.
pub fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy())
}

/// A link to another service: a lazy channel whose calls carry `token`.
pub fn link(url: &str, token: &ClusterToken) -> Result<Link, tonic::transport::Error> {
    Ok(nubo_proto::cluster::link(channel(url)?, token.clone()))
}

/// Asks a service's gRPC health endpoint whether it is serving.
pub async fn check_health(url: &str) -> Result<bool, String> {
    let channel = Endpoint::from_shared(url.to_owned())
        .map_err(|error| error.to_string())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|error| format!("cannot reach {url}: {error}"))?;
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let response = client
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .map_err(|status| status.message().to_owned())?;
    Ok(response.into_inner().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
}
