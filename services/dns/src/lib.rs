//! The dns service, nubo's Route 53: hosted zones answered authoritatively
//! over UDP and TCP, and the Route 53 API on the HTTP port (`:8053`).
//! Replicas hear of record changes through `nubo.dns.v1.Dns`.
//!
//! So far the service runs its HTTP and gRPC fronts; the Route 53 API
//! answers with its `InvalidAction` error, and zones come next.

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::{
    Context, Listeners, ServeError, Shutdown,
    front::{AwsError, AwsFront, Protocol},
    metrics::Metrics,
};
use nubo_proto::dns::{
    ZoneChangedRequest, ZoneChangedResponse,
    dns_server::{Dns as DnsGrpc, DnsServer},
};
use tonic::{Request, Response, Status};

nubo_host::service!(Dns, "Route 53 API", ports 8053, 50057, run);

#[derive(Debug, Default)]
pub struct DnsApi;

#[tonic::async_trait]
impl DnsGrpc for DnsApi {
    /// With no zones served yet, there is nothing to reload.
    async fn zone_changed(
        &self,
        _request: Request<ZoneChangedRequest>,
    ) -> Result<Response<ZoneChangedResponse>, Status> {
        Ok(Response::new(ZoneChangedResponse {}))
    }
}

/// The Route 53 front: restXml, a global service signed in `us-east-1`,
/// five minutes of clock skew.
fn front(context: &Context) -> AwsFront {
    let policy = nubo_host::sigv4::Policy::hashed("route53", "us-east-1", 5);
    let protocol = Protocol::RestXml { namespace: "https://route53.amazonaws.com/doc/2013-04-01/" };
    AwsFront::new(protocol, policy, context.credentials.clone(), 1024 * 1024)
}

/// The Route 53 API: SigV4-checked, then answered with `InvalidAction`
/// until hosted zones are served.
async fn route53(request: HttpRequest, payload: web::Payload, front: web::Data<AwsFront>) -> HttpResponse {
    if let Err(refused) = front.authenticate(&request, payload).await {
        return front.error(&refused);
    }
    let message = format!("{} {} is not served by this endpoint", request.method(), request.path());
    front.error(&AwsError::new(400, "InvalidAction", message))
}

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let router = nubo_host::grpc::router(&context.cluster).add_service(DnsServer::new(DnsApi));
    let front = front(&context);
    nubo_host::serve("dns", listeners, router, 1, Metrics::new("dns"), shutdown, move |routes| {
        routes.app_data(web::Data::new(front.clone())).default_service(web::to(route53));
    })
    .await
}
