//! The cdn service, nubo's CloudFront: distributions that cache origin
//! responses in a per-replica memory tier over a shared Redis tier, served
//! on the HTTP port (`:8081`). Invalidations reach every replica through
//! `nubo.cdn.v1.Cdn`.
//!
//! So far the service runs its fronts; requests for distributions that do
//! not exist get CloudFront's error answer, and distributions come next.

use actix_web::{HttpResponse, web};
use nubo_host::{Context, Listeners, ServeError, Shutdown, metrics::Metrics};
use nubo_proto::cdn::{
    InvalidateRequest, InvalidateResponse,
    cdn_server::{Cdn as CdnGrpc, CdnServer},
};
use tonic::{Request, Response, Status};

nubo_host::service!(Cdn, "distributions", ports 8081, 50056, run);

#[derive(Debug, Default)]
pub struct CdnApi;

#[tonic::async_trait]
impl CdnGrpc for CdnApi {
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
    context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let router = nubo_host::grpc::router(&context.cluster).add_service(CdnServer::new(CdnApi));
    nubo_host::serve("cdn", listeners, router, 2, Metrics::new("cdn"), shutdown, |routes| {
        routes.default_service(web::to(no_distribution));
    })
    .await
}
