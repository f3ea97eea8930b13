//! gRPC serving and linking. Every service's gRPC server carries the
//! standard `grpc.health.v1.Health` service; clients of other services are
//! lazy channels, so start-up order never matters and a restarted peer is
//! reconnected on the next call.

use std::time::Duration;

use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint, Server, server::Router};

use crate::Shutdown;

/// A router with the health service mounted, to which the service adds its
/// own gRPC service.
pub fn router() -> Router {
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder().add_service(health)
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
    tracing::info!(service, address = ?address, "grpc listening");
    router
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await
        .map_err(|error| error.to_string())
}

/// A channel to another service, connected on first use.
pub fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy())
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
