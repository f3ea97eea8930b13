//! The storage service, nubo's S3. It is the only service that holds object
//! bytes: other services store and read objects (function code, static
//! sites) through the `nubo.storage.v1.Storage` gRPC API ([`grpc`]), and the
//! S3 REST API is served on the HTTP port ([`s3`]). Bytes live behind
//! `object_store` ([`objects`]): local disk by default, any S3-compatible or
//! cloud store in a cluster.

pub mod grpc;
pub mod objects;
pub mod s3;

use nubo_host::{Context, ServeError, Shutdown, metrics::Metrics};
use serde::{Deserialize, Serialize};

/// The `[storage]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The S3 API, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self { http_port: 9000, grpc_port: 50055 }
    }
}

/// The service's listeners: HTTP (its AWS API, `/health`, `/metrics`) and gRPC.
pub type Listeners = nubo_host::Listeners;

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let root = context.state_dir.join("storage").join("objects");
    let objects = objects::Objects::local(&root).map_err(|error| ServeError::new("storage", error))?;
    let metrics = Metrics::new("storage");

    let router = nubo_host::grpc::router().add_service(grpc::server(objects));
    let grpc = nubo_host::grpc::serve("storage", listeners.grpc, router, shutdown.clone());
    let credentials = context.credentials.clone();
    let http = nubo_host::http::serve("storage", listeners.http, 2, metrics, shutdown, move |routes| {
        s3::routes(routes, credentials.clone())
    });
    nubo_host::serve_fronts("storage", grpc, http).await
}
