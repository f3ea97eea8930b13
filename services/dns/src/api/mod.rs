//! The Route 53 API (restXml, `2013-04-01`).
//!
//! CONTRACT: `Route53::new(context: &nubo_host::Context, zones: crate::store::Zones)`
//! (Clone) and `routes(routes: &mut actix_web::web::ServiceConfig, api: Route53)`,
//! which `lib.rs` calls.

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::front::{AwsError, AwsFront, Protocol};

use crate::store::Zones;

/// The Route 53 front.
#[derive(Clone)]
pub struct Route53 {
    #[allow(dead_code)]
    zones: Zones,
    #[allow(dead_code)]
    health_checks: crate::health::HealthChecks,
    front: AwsFront,
}

impl Route53 {
    pub fn new(context: &nubo_host::Context, zones: Zones, health_checks: crate::health::HealthChecks) -> Self {
        let policy = nubo_host::sigv4::Policy::hashed("route53", "us-east-1", 5);
        let protocol = Protocol::RestXml { namespace: "https://route53.amazonaws.com/doc/2013-04-01/" };
        Self { zones, health_checks, front: AwsFront::new(protocol, policy, context.credentials.clone(), 1024 * 1024) }
    }
}

pub fn routes(routes: &mut web::ServiceConfig, api: Route53) {
    routes.app_data(web::Data::new(api)).default_service(web::to(unserved));
}

/// SigV4-checked, then answered with `InvalidAction`.
async fn unserved(request: HttpRequest, payload: web::Payload, api: web::Data<Route53>) -> HttpResponse {
    if let Err(refused) = api.front.authenticate(&request, payload).await {
        return api.front.error(&refused);
    }
    let message = format!("{} {} is not served by this endpoint", request.method(), request.path());
    api.front.error(&AwsError::new(400, "InvalidAction", message))
}
