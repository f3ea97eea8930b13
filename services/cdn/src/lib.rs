//! The cdn service, nubo's CloudFront: distributions whose viewers are
//! served from a per-replica memory tier over a shared Redis tier, with
//! misses fetched from the origin as a viewer's proxy would.
//!
//! - `model`, `store`: distributions, policies, key groups and
//!   invalidations as data records; `api`: the CloudFront restXml front
//!   (`/2020-05-31/...`, signed as `cloudfront`), on the same port as the
//!   viewers.
//! - `compile` turns a distribution and what it names into a [`site::Site`];
//!   `sites` finds one by `Host`; `sync` keeps every replica's sites and
//!   invalidations within a second of data.
//! - `http_cache`: RFC 9111 (and 5861, 9211, 9213) as pure decisions;
//!   `viewer`: the request path that applies them; `origin`: the fetch.
//! - `tiers`: the L1 memory tier and the Redis L2; `coalesce`: one origin
//!   fetch for concurrent misses; `compress`: gzip and br for viewers.
//! - `signed`: signed URLs and cookies; `response_headers`: response
//!   headers policies; `tls`: the HTTPS listener.

pub mod access_log;
pub mod api;
pub mod coalesce;
pub mod compile;
pub mod compress;
pub mod http_cache;
pub mod model;
pub mod origin;
pub mod response_headers;
pub mod signed;
pub mod site;
pub mod sites;
pub mod stats;
pub mod store;
pub mod sync;
pub mod tiers;
pub mod tls;
pub mod viewer;

use actix_web::web;
use nubo_host::{Context, Listeners, ServeError, Shutdown, metrics::Metrics};
use nubo_proto::cdn::{
    InvalidateRequest, InvalidateResponse,
    cdn_server::{Cdn as CdnGrpc, CdnServer},
};
use tonic::{Request, Response, Status};

/// The name of the HTTPS viewer listener.
pub const HTTPS_LISTENER: &str = "https";

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Viewers over HTTP, the CloudFront API, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
    /// Viewers over HTTPS.
    pub https_port: u16,
    /// The HTTPS certificate chain and key (PEM); without them nubo makes
    /// a self-signed pair for `localhost` and `*.cloudfront.localhost`
    /// under the state directory.
    pub tls_certificate: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    /// The shared L2 tier (`redis://host:6379`); without it each replica
    /// caches in memory only.
    pub redis: Option<String>,
    /// The bytes the L1 memory tier holds.
    pub memory_bytes: u64,
    /// The largest body kept in the cache; larger ones are streamed to the
    /// viewer and not stored.
    pub max_object_bytes: u64,
    /// How often a replica looks for changed distributions and new
    /// invalidations, in milliseconds.
    pub sync_interval_ms: u64,
    /// Where origins that name nubo's own services are fetched from.
    pub endpoints: Endpoints,
}

/// nubo's viewer-facing endpoints, for origins that name them: an S3
/// origin (`{bucket}.s3.amazonaws.com`, `{bucket}.s3.localhost`), a
/// website endpoint (`{bucket}.s3-website-{region}.amazonaws.com`,
/// `{bucket}.s3-website.localhost`) and an API
/// (`{apiId}.execute-api.{region}.amazonaws.com`,
/// `{apiId}.execute-api.localhost`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoints {
    pub storage: String,
    pub website: String,
    pub gateway: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            storage: "http://127.0.0.1:9000".into(),
            website: "http://127.0.0.1:9080".into(),
            gateway: "http://127.0.0.1:8080".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 8081,
            grpc_port: 50056,
            https_port: 8443,
            tls_certificate: None,
            tls_key: None,
            redis: None,
            memory_bytes: 256 * 1024 * 1024,
            max_object_bytes: 64 * 1024 * 1024,
            sync_interval_ms: 200,
            endpoints: Endpoints::default(),
        }
    }
}

impl Config {
    /// HTTP, gRPC, and viewers over HTTPS.
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports { http: self.http_port, grpc: self.grpc_port, extra: vec![(HTTPS_LISTENER, self.https_port)] }
    }
}

nubo_host::service!(Cdn, "distributions", Config, Config::ports, run);

#[derive(Debug, Default)]
pub struct CdnApi;

#[tonic::async_trait]
impl CdnGrpc for CdnApi {
    /// With no cache yet, an invalidation has nothing to drop.
    async fn invalidate(&self, _request: Request<InvalidateRequest>) -> Result<Response<InvalidateResponse>, Status> {
        Ok(Response::new(InvalidateResponse { entries_dropped: 0 }))
    }
}

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    config: Config,
    mut listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let https_listener =
        listeners.take(HTTPS_LISTENER).ok_or_else(|| ServeError::new("cdn", "no HTTPS listener was bound"))?;
    let tls = tls::server_config(&config, &context.state_dir).map_err(|error| ServeError::new("cdn", error))?;
    let router = nubo_host::grpc::router(&context.cluster).add_service(CdnServer::new(CdnApi));
    let tiers = tiers::Tiers::connect(&config).map_err(|error| ServeError::new("cdn", error))?;
    let viewers = viewer::State::new(config, sites::Sites::default(), tiers, origin::Origins::default());
    // One set of routes on both listeners; the viewer path tells them
    // apart with `tls::viewer_scheme`.
    let routes = move |routes: &mut web::ServiceConfig| {
        let viewers = viewers.clone();
        routes.default_service(web::to(move |request: actix_web::HttpRequest, body: web::Payload| {
            let viewers = viewers.clone();
            async move { viewer::handle(&viewers, request, body).await }
        }));
    };
    let metrics = Metrics::new("cdn");
    let grpc = nubo_host::grpc::serve("cdn", listeners.grpc, router, shutdown.clone());
    let http = nubo_host::http::serve("cdn", listeners.http, 2, metrics.clone(), shutdown.clone(), routes.clone());
    let https = nubo_host::http::serve_with("cdn-https", https_listener, Some(tls), 2, metrics, shutdown, routes);
    nubo_host::serve_fronts("cdn", grpc, async { tokio::try_join!(http, https).map(drop) }).await
}
