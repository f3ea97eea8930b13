//! The cdn service, nubo's CloudFront: distributions that cache origin
//! responses in a per-replica memory tier over a shared Redis tier, served
//! on the HTTP port (`:8081`). Invalidations reach every replica through
//! `nubo.cdn.v1.Cdn`.
//!
//! So far the service runs its fronts; requests for distributions that do
//! not exist get CloudFront's error answer, and distributions come next.

use actix_web::{HttpResponse, web};
use nubo_host::{Context, ServeError, Shutdown, metrics::Metrics};
use nubo_proto::cdn::{
    InvalidateRequest, InvalidateResponse,
    cdn_server::{Cdn, CdnServer},
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// The `[cdn]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Distributions, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self { http_port: 8081, grpc_port: 50056 }
    }
}

/// The service's listeners: HTTP (its AWS API, `/health`, `/metrics`) and gRPC.
pub type Listeners = nubo_host::Listeners;

#[derive(Debug, Default)]
pub struct CdnApi;

#[tonic::async_trait]
impl Cdn for CdnApi {
    /// With no cache yet, an invalidation has nothing to drop.
    async fn invalidate(&self, _request: Request<InvalidateRequest>) -> Result<Response<InvalidateResponse>, Status> {
        Ok(Response::new(InvalidateResponse { entries_dropped: 0 }))
    }
}

/// What CloudFront answers for a host it has no distribution for.
async fn no_distribution() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/html")
        .insert_header(("x-cache", "Error from cloudfront"))
        .body("<html><body><h1>403 ERROR</h1><p>The request could not be satisfied: no distribution serves this host.</p></body></html>")
}

/// Runs the service until `shutdown`.
pub async fn run(
    _context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let router = nubo_host::grpc::router().add_service(CdnServer::new(CdnApi));
    let grpc = nubo_host::grpc::serve("cdn", listeners.grpc, router, shutdown.clone());
    let http = nubo_host::http::serve("cdn", listeners.http, 2, Metrics::new("cdn"), shutdown, |routes| {
        routes.default_service(web::to(no_distribution));
    });
    nubo_host::serve_fronts("cdn", grpc, http).await
}
