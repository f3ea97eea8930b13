//! The dns service, nubo's Route 53: hosted zones answered authoritatively
//! over UDP and TCP, and the Route 53 API on the HTTP port (`:8053`).
//! Replicas hear of record changes through `nubo.dns.v1.Dns`.
//!
//! So far the service runs its HTTP and gRPC fronts; the Route 53 API
//! answers with its `InvalidAction` error, and zones come next.

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::{Context, ServeError, Shutdown, metrics::Metrics, sigv4::Credentials};
use nubo_proto::dns::{
    ZoneChangedRequest, ZoneChangedResponse,
    dns_server::{Dns, DnsServer},
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// The `[dns]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Route 53 API, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self { http_port: 8053, grpc_port: 50057 }
    }
}

/// The service's listeners: HTTP (its AWS API, `/health`, `/metrics`) and gRPC.
pub type Listeners = nubo_host::Listeners;

#[derive(Debug, Default)]
pub struct DnsApi;

#[tonic::async_trait]
impl Dns for DnsApi {
    /// With no zones served yet, there is nothing to reload.
    async fn zone_changed(
        &self,
        _request: Request<ZoneChangedRequest>,
    ) -> Result<Response<ZoneChangedResponse>, Status> {
        Ok(Response::new(ZoneChangedResponse {}))
    }
}

/// An error in Route 53's REST-XML shape.
fn route53_error(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    HttpResponse::build(status).content_type("text/xml").body(format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{escaped}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        nubo_host::http::request_id()
    ))
}

/// The Route 53 API: SigV4-checked, then answered with `InvalidAction`
/// until hosted zones are served.
async fn route53(request: HttpRequest, body: web::Bytes, credentials: web::Data<Credentials>) -> HttpResponse {
    if let Err(auth) = nubo_host::http::verify_sigv4(&credentials, &request, &body, true) {
        let status =
            actix_web::http::StatusCode::from_u16(auth.http_status()).unwrap_or(actix_web::http::StatusCode::FORBIDDEN);
        return route53_error(status, auth.aws_code(), &auth.to_string());
    }
    let message = format!("{} {} is not served by this endpoint", request.method(), request.path());
    route53_error(actix_web::http::StatusCode::BAD_REQUEST, "InvalidAction", &message)
}

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let router = nubo_host::grpc::router().add_service(DnsServer::new(DnsApi));
    let grpc = nubo_host::grpc::serve("dns", listeners.grpc, router, shutdown.clone());
    let credentials = context.credentials.clone();
    let http = nubo_host::http::serve("dns", listeners.http, 1, Metrics::new("dns"), shutdown, move |routes| {
        routes.app_data(web::Data::new(credentials.clone())).default_service(web::to(route53));
    });
    nubo_host::serve_fronts("dns", grpc, http).await
}
