//! What every nubo service needs to be hosted, written once: configuration
//! loading ([`config`]), the shared deployment settings ([`Context`]), the
//! AWS front kit every public side is written with ([`front`]), AWS SigV4
//! verification ([`sigv4`]), the HTTP server with `/health` and `/metrics`
//! ([`http`]) and its HTTPS certificates ([`tls`]), gRPC serving behind the
//! cluster credential with the standard health service ([`grpc`]), logging
//! set-up ([`telemetry`]), cooperative shutdown ([`Shutdown`]), and the
//! [`Service`] trait the binary runs services through.

pub mod config;
pub mod front;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod sigv4;
pub mod telemetry;
pub mod tls;

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

/// The ports a service listens on: HTTP (its AWS API, `/health`,
/// `/metrics`), gRPC, and any further named TCP listener (the gateway's
/// AWS edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    pub http: u16,
    pub grpc: u16,
    pub extra: Vec<(&'static str, u16)>,
}

impl Ports {
    /// An HTTP and a gRPC port, nothing more.
    pub fn new(http: u16, grpc: u16) -> Self {
        Self { http, grpc, extra: Vec::new() }
    }
}

/// The listeners a service serves on, bound before it starts so a caller
/// learns their addresses (port 0 in tests) and can link the services to
/// each other.
#[derive(Debug)]
pub struct Listeners {
    pub http: std::net::TcpListener,
    pub grpc: std::net::TcpListener,
    pub extra: Vec<(&'static str, std::net::TcpListener)>,
}

impl Listeners {
    pub fn bind(host: std::net::IpAddr, ports: &Ports) -> std::io::Result<Self> {
        let at = |port| std::net::SocketAddr::new(host, port);
        Ok(Self {
            http: bind(at(ports.http))?,
            grpc: bind(at(ports.grpc))?,
            extra: ports
                .extra
                .iter()
                .map(|(name, port)| Ok((*name, bind(at(*port))?)))
                .collect::<std::io::Result<_>>()?,
        })
    }

    /// Takes the named extra listener out, for the service that asked for it.
    pub fn take(&mut self, name: &str) -> Option<std::net::TcpListener> {
        let index = self.extra.iter().position(|(extra, _)| *extra == name)?;
        Some(self.extra.remove(index).1)
    }
}

/// Declares the `[<service>]` configuration section of a service that has
/// nothing to configure but its two ports, with their defaults:
/// `nubo_host::ports_config!(Config, http: 9229, grpc: 50054);`
#[macro_export]
macro_rules! ports_config {
    ($name:ident, http: $http:expr, grpc: $grpc:expr) => {
        /// The service's configuration section: its ports.
        #[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// The service's AWS API, `/health` and `/metrics`.
            pub http_port: u16,
            pub grpc_port: u16,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { http_port: $http, grpc_port: $grpc }
            }
        }

        impl $name {
            pub fn ports(&self) -> $crate::Ports {
                $crate::Ports::new(self.http_port, self.grpc_port)
            }
        }
    };
}

/// Declares the unit type a service is run through and its [`Service`]
/// implementation: the service's name, its banner description, its
/// configuration section, the function giving its ports and its `run`.
///
/// `nubo_host::service!(Data, "DynamoDB API", Config, Config::ports, run);`
///
/// A service with nothing to configure but its two ports gives their
/// defaults instead, and gets a `Config` of [`ports_config!`]:
/// `nubo_host::service!(Auth, "Cognito API", ports 9229, 50054, run);`
#[macro_export]
macro_rules! service {
    ($service:ident, $description:literal, ports $http:expr, $grpc:expr, $run:path) => {
        $crate::ports_config!(Config, http: $http, grpc: $grpc);
        $crate::service!($service, $description, Config, Config::ports, $run);
    };
    ($service:ident, $description:literal, $config:ty, $ports:path, $run:path) => {
        #[doc = concat!("The ", stringify!($service), " service, as the binary runs it.")]
        #[derive(Debug)]
        pub struct $service;

        impl $crate::Service for $service {
            const NAME: $crate::ServiceName = $crate::ServiceName::$service;
            const DESCRIPTION: &'static str = $description;
            type Config = $config;

            fn ports(config: &$config) -> $crate::Ports {
                $ports(config)
            }

            fn run(
                context: $crate::Context,
                config: $config,
                listeners: $crate::Listeners,
                shutdown: $crate::Shutdown,
            ) -> impl ::std::future::Future<Output = Result<(), $crate::ServeError>> + Send {
                $run(context, config, listeners, shutdown)
            }
        }
    };
}

/// A nubo service as the binary runs it: its name, its configuration
/// section, the ports it needs, and its `run`. `nubo up` and `nubo serve`
/// bind every service's [`Ports`] first, then call `run` with the bound
/// listeners.
pub trait Service: Send + 'static {
    const NAME: ServiceName;
    /// What its HTTP port serves, for the start-up banner.
    const DESCRIPTION: &'static str;
    type Config: Clone + Send + 'static;

    fn ports(config: &Self::Config) -> Ports;

    fn run(
        context: Context,
        config: Self::Config,
        listeners: Listeners,
        shutdown: Shutdown,
    ) -> impl std::future::Future<Output = Result<(), ServeError>> + Send;
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

/// Serves a service's gRPC router and its HTTP routes (behind `/health`,
/// `/metrics` and request metrics) on its listeners until `shutdown`: the
/// whole `run` of a service that has nothing else to start.
pub async fn serve<F>(
    service: &'static str,
    listeners: Listeners,
    router: grpc::Router,
    http_workers: usize,
    metrics: metrics::Metrics,
    shutdown: Shutdown,
    routes: F,
) -> Result<(), ServeError>
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
{
    let grpc = grpc::serve(service, listeners.grpc, router, shutdown.clone());
    let http = http::serve(service, listeners.http, http_workers, metrics, shutdown, routes);
    serve_fronts(service, grpc, http).await
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
