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
//! - `stats`: per-distribution series on `/metrics`; `access_log`:
//!   CloudFront's standard log lines, written off the request path.

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

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::{
    cdn::{
        InvalidateRequest, InvalidateResponse,
        cdn_server::{Cdn as CdnGrpc, CdnServer},
    },
    clients::RecordsClient,
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

/// The internal API: an invalidation applied to this replica's tiers at
/// once (CreateInvalidation reaches every replica through data anyway).
#[derive(Debug, Clone)]
pub struct CdnApi {
    tiers: tiers::Tiers,
}

#[tonic::async_trait]
impl CdnGrpc for CdnApi {
    async fn invalidate(&self, request: Request<InvalidateRequest>) -> Result<Response<InvalidateResponse>, Status> {
        let request = request.into_inner();
        let entries_dropped = self.tiers.invalidate(&request.distribution_id, &request.paths).await;
        Ok(Response::new(InvalidateResponse { entries_dropped }))
    }
}

/// Sends each request to the CloudFront API or to [`viewer`]; viewers
/// wait until this replica has read every distribution.
async fn route(
    request: HttpRequest,
    body: web::Payload,
    state: web::Data<viewer::State>,
    cloudfront: web::Data<api::CloudFront>,
    sync: web::Data<sync::Sync>,
) -> HttpResponse {
    if api::is_api_call(&request) {
        cloudfront.handle(&request, body).await
    } else if !sync.is_loaded() {
        starting()
    } else {
        viewer::handle(&state, request, body).await
    }
}

/// A viewer's answer while the distributions are still being read.
fn starting() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/html")
        .insert_header(("x-cache", "Error from cloudfront"))
        .insert_header(("retry-after", "1"))
        .body("<html><body><h1>503 ERROR</h1><p>The request could not be satisfied: the distributions are still being loaded.</p></body></html>")
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
    let tiers = tiers::Tiers::connect(&config).map_err(|error| ServeError::new("cdn", error))?;
    let sites = sites::Sites::default();
    let store = store::Store::new(RecordsClient::new(context.link(ServiceName::Data)?));
    let sync = sync::Sync::new(store.clone(), sites.clone(), tiers.clone(), config.endpoints.clone());
    let syncing = {
        let (sync, shutdown) = (sync.clone(), shutdown.clone());
        let interval = std::time::Duration::from_millis(config.sync_interval_ms.max(10));
        tokio::spawn(async move { sync.run(interval, shutdown).await })
    };
    let cloudfront = api::CloudFront::new(&context, store, sync.clone());
    let metrics = Metrics::new("cdn");
    let stats = stats::Stats::new();
    stats.register(&metrics);
    stats::register_tiers(&metrics, &tiers);
    let access_log = access_log::AccessLog::start(&context.state_dir, "nubo");
    stats::register_access_log(&metrics, &access_log);
    // Origin access control signs as nubo's own key pair, the one storage
    // accepts from functions; without one, S3 origins are read anonymously.
    let signer = context.function_credentials.clone().map(|(access_key_id, secret_access_key)| origin::Signer {
        access_key_id,
        secret_access_key,
        region: context.region.clone(),
    });
    let mut state = viewer::State::new(config, sites, tiers.clone(), origin::Origins::new(signer));
    state.stats = stats;
    state.access_log = access_log.clone();
    let router = nubo_host::grpc::router(&context.cluster).add_service(CdnServer::new(CdnApi { tiers }));
    // One set of routes on both listeners; a handler tells them apart with
    // `tls::viewer_scheme`.
    let routes = move |routes: &mut web::ServiceConfig| {
        routes
            .app_data(web::Data::new(state.clone()))
            .app_data(web::Data::new(cloudfront.clone()))
            .app_data(web::Data::new(sync.clone()))
            .default_service(web::to(route));
    };
    let grpc = nubo_host::grpc::serve("cdn", listeners.grpc, router, shutdown.clone());
    let http = nubo_host::http::serve("cdn", listeners.http, 2, metrics.clone(), shutdown.clone(), routes.clone());
    let https = nubo_host::http::serve_with("cdn-https", https_listener, Some(tls), 2, metrics, shutdown, routes);
    let served = nubo_host::serve_fronts("cdn", grpc, async { tokio::try_join!(http, https).map(drop) }).await;
    // The sync loop removes this replica's heartbeat as it stops, so no
    // change waits for it; it gets a moment for that.
    if tokio::time::timeout(std::time::Duration::from_secs(2), syncing).await.is_err() {
        tracing::debug!("the sync loop did not stop in time");
    }
    access_log.flush().await;
    served
}
