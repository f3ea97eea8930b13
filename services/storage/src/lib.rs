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
pub mod tls;

use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::clients::RecordsClient;

/// The `[storage]` section of the configuration.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The S3 API (and website endpoints), `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
    /// The S3 API over HTTPS.
    pub https_port: u16,
    /// The static website endpoint: buckets by `Host`
    /// (`{bucket}.s3-website.localhost`) or by the path's first segment.
    pub website_port: u16,
    /// The HTTPS certificate chain and key (PEM); without them nubo makes
    /// a self-signed pair under the state directory and says where.
    pub tls_certificate: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    /// How often lifecycle rules are applied.
    pub lifecycle_interval_secs: u64,
    /// The length of a lifecycle rule's day, in seconds (a test may
    /// shorten it; S3's is 86,400).
    pub lifecycle_day_secs: u64,
    /// Where object bytes live: the state directory unless an
    /// S3-compatible store (another nubo included) is named here.
    pub backend: Option<Backend>,
}

/// An S3-compatible store for object bytes (`[storage.backend]`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// The store's endpoint (`https://s3.us-east-1.amazonaws.com`, `http://10.0.0.5:9000`).
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Backend {
    /// The store, its bytes under `objects/` (the internal API) and
    /// `blobs/` (S3 objects).
    fn stores(&self) -> Result<(objects::Objects, blobs::Blobs), object_store::Error> {
        let store: std::sync::Arc<dyn object_store::ObjectStore> = std::sync::Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(self.endpoint.starts_with("http://"))
                .with_bucket_name(&self.bucket)
                .with_region(&self.region)
                .with_access_key_id(&self.access_key_id)
                .with_secret_access_key(&self.secret_access_key)
                .with_virtual_hosted_style_request(false)
                .build()?,
        );
        let prefixed = |prefix: &str| -> std::sync::Arc<dyn object_store::ObjectStore> {
            std::sync::Arc::new(object_store::prefix::PrefixStore::new(store.clone(), prefix))
        };
        Ok((objects::Objects::in_store(prefixed("objects")), blobs::Blobs::remote(prefixed("blobs"))))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 9000,
            grpc_port: 50055,
            https_port: 9443,
            website_port: 9080,
            tls_certificate: None,
            tls_key: None,
            lifecycle_interval_secs: 3600,
            lifecycle_day_secs: 86_400,
            backend: None,
        }
    }
}

/// The name of the HTTPS listener among the service's [`Listeners`].
pub const HTTPS_LISTENER: &str = "https";
/// The name of the website endpoint's listener.
pub const WEBSITE_LISTENER: &str = "website";

impl Config {
    /// HTTP, gRPC, and the S3 API over HTTPS.
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports {
            http: self.http_port,
            grpc: self.grpc_port,
            extra: vec![(HTTPS_LISTENER, self.https_port), (WEBSITE_LISTENER, self.website_port)],
        }
    }
}

nubo_host::service!(Storage, "S3 API", Config, Config::ports, run);

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    config: Config,
    mut listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let failed = |error: &dyn std::fmt::Display| ServeError::new("storage", error);
    let (objects, blobs) = match &config.backend {
        Some(backend) => {
            tracing::info!(endpoint = %backend.endpoint, bucket = %backend.bucket, "object bytes are kept in an S3-compatible store");
            backend.stores().map_err(|error| failed(&error))?
        }
        None => {
            let root = context.state_dir.join("storage");
            let objects = objects::Objects::local(&root.join("objects")).map_err(|error| failed(&error))?;
            let blobs = blobs::Blobs::local(&root.join("blobs")).map_err(|error| failed(&error))?;
            (objects, blobs)
        }
    };
    let records = RecordsClient::new(context.link(ServiceName::Data)?);
    let metrics = Metrics::new("storage");

    let functions = nubo_proto::clients::FunctionsClient::new(context.link(ServiceName::Functions)?);

    let router = nubo_host::grpc::router(&context.cluster).add_service(grpc::server(objects));
    let front = s3::S3::new(&context, catalog::Catalog::new(records), blobs, Some(functions));
    let schedule = s3::lifecycle::Schedule {
        interval: std::time::Duration::from_secs(config.lifecycle_interval_secs.max(1)),
        day: std::time::Duration::from_secs(config.lifecycle_day_secs.max(1)),
    };
    let lifecycle = {
        let (front, shutdown) = (front.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = s3::lifecycle::run(front, schedule) => {}
                () = shutdown.cancelled() => {}
            }
        })
    };
    let https_listener =
        listeners.take(HTTPS_LISTENER).ok_or_else(|| ServeError::new("storage", "no HTTPS listener was bound"))?;
    let website_listener =
        listeners.take(WEBSITE_LISTENER).ok_or_else(|| ServeError::new("storage", "no website listener was bound"))?;
    let (tls, self_signed) =
        tls::server_config(config.tls_certificate.as_deref(), config.tls_key.as_deref(), &context.state_dir)
            .map_err(|error| failed(&error))?;
    if let Some(path) = &self_signed {
        tracing::info!(certificate = %path.display(), "S3 over HTTPS uses a self-signed certificate; trust it to use HTTPS");
    }
    let website_front = front.clone();
    let website_routes =
        move |routes: &mut actix_web::web::ServiceConfig| s3::website::routes(routes, website_front.clone());
    let routes = move |routes: &mut actix_web::web::ServiceConfig| s3::routes(routes, front.clone());
    let grpc = nubo_host::grpc::serve("storage", listeners.grpc, router, shutdown.clone());
    let http = nubo_host::http::serve("storage", listeners.http, 2, metrics.clone(), shutdown.clone(), routes.clone());
    let https = nubo_host::http::serve_with(
        "storage-https",
        https_listener,
        Some(tls),
        1,
        metrics.clone(),
        shutdown.clone(),
        routes,
    );
    let website = nubo_host::http::serve("storage-website", website_listener, 1, metrics, shutdown, website_routes);
    let served =
        nubo_host::serve_fronts("storage", grpc, async { tokio::try_join!(http, https, website).map(drop) }).await;
    lifecycle.abort();
    served
}
