//! What every nubo service needs to be hosted, written once: configuration
//! loading ([`config`]), the shared deployment settings ([`Context`]), the
//! HTTP front with `/health` and `/metrics` ([`http`]), gRPC serving with the
//! standard health service ([`grpc`]), AWS SigV4 verification ([`sigv4`]),
//! logging set-up ([`telemetry`]) and cooperative shutdown ([`Shutdown`]).

pub mod config;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod sigv4;
pub mod telemetry;

mod context;

pub use context::{Context, Links, ServiceName};

/// Cancelled once when the process is asked to stop; every server of every
/// service drains and returns.
pub type Shutdown = tokio_util::sync::CancellationToken;

/// Cancels the returned token on SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> Shutdown {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    trigger.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    shutdown
}

/// The HTTP and gRPC listeners a service serves on, bound before it starts
/// so a caller learns their addresses (port 0 in tests) and can link the
/// services to each other.
#[derive(Debug)]
pub struct Listeners {
    pub http: std::net::TcpListener,
    pub grpc: std::net::TcpListener,
}

impl Listeners {
    pub fn bind(host: std::net::IpAddr, http_port: u16, grpc_port: u16) -> std::io::Result<Self> {
        Ok(Self {
            http: bind(std::net::SocketAddr::new(host, http_port))?,
            grpc: bind(std::net::SocketAddr::new(host, grpc_port))?,
        })
    }
}

/// Binds a TCP listener the way every nubo front needs it: non-blocking, so
/// tokio, tonic and actix can adopt it.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|error| std::io::Error::new(error.kind(), format!("cannot bind {addr}: {error}")))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Why a service stopped serving.
#[derive(Debug, thiserror::Error)]
#[error("{service}: {message}")]
pub struct ServeError {
    pub service: &'static str,
    pub message: String,
}

impl ServeError {
    pub fn new(service: &'static str, message: impl std::fmt::Display) -> Self {
        Self { service, message: message.to_string() }
    }
}

/// Runs a service's gRPC and HTTP fronts together; the first to fail ends
/// both, so the process exits instead of serving half a service.
pub async fn serve_fronts(
    service: &'static str,
    grpc: impl std::future::Future<Output = Result<(), String>>,
    http: impl std::future::Future<Output = std::io::Result<()>>,
) -> Result<(), ServeError> {
    tokio::try_join!(
        async { grpc.await.map_err(|error| ServeError::new(service, format!("grpc: {error}"))) },
        async { http.await.map_err(|error| ServeError::new(service, format!("http: {error}"))) },
    )?;
    Ok(())
}
