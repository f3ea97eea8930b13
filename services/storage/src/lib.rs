//! The storage service, nubo's S3. It is the only service that holds object
//! bytes: other services store and read objects (function code, static
//! sites) through the `nubo.storage.v1.Storage` gRPC API ([`grpc`]), and the
//! S3 REST API is served on the HTTP port ([`s3`]). Bytes live behind
//! `object_store` ([`objects`]): local disk by default, any S3-compatible or
//! cloud store in a cluster.

pub mod blobs;
pub mod catalog;
pub mod grpc;
pub mod objects;
pub mod s3;

use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::clients::RecordsClient;

nubo_host::service!(Storage, "S3 API", ports 9000, 50055, run);

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let root = context.state_dir.join("storage").join("objects");
    let objects = objects::Objects::local(&root).map_err(|error| ServeError::new("storage", error))?;
    let blobs = blobs::Blobs::local(&context.state_dir.join("storage").join("blobs"))
        .map_err(|error| ServeError::new("storage", error))?;
    let records = RecordsClient::new(context.link(ServiceName::Data)?);
    let metrics = Metrics::new("storage");

    let router = nubo_host::grpc::router(&context.cluster).add_service(grpc::server(objects));
    let front = s3::S3::new(&context, catalog::Catalog::new(records), blobs);
    nubo_host::serve("storage", listeners, router, 2, metrics, shutdown, move |routes| {
        s3::routes(routes, front.clone())
    })
    .await
}
