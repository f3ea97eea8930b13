//! The Route 53 API (restXml, `2013-04-01`), written with the host's front
//! kit: each request is named as its [`Operation`] (for metrics),
//! SigV4-checked once (a global service signed in `us-east-1`), dispatched
//! by one `match` to its family ([`zones`], [`records`], [`tags`], [`dnssec`]), and a
//! failure is rendered once, in Route 53's error shape ([`errors`]).

mod dnssec;
pub mod errors;
mod health;
pub mod input;
pub mod operation;
mod records;
pub mod render;
mod tags;
pub mod xml;
mod zones;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use nubo_host::front::{AwsError, AwsFront, Operation as _, Protocol, name_operation, request_id};

use crate::{health::HealthChecks, store::Zones};
use errors::Result;
pub use operation::Operation;

/// The largest request body read: a change batch at Route 53's limits
/// (1,000 records, 32,000 characters of values) is well below it.
const MAX_BODY: usize = 1024 * 1024;

/// The Route 53 front; cheap to clone.
#[derive(Clone)]
pub struct Route53 {
    front: AwsFront,
    zones: Zones,
    health_checks: HealthChecks,
}

impl Route53 {
    pub fn new(context: &nubo_host::Context, zones: Zones, health_checks: HealthChecks) -> Self {
        // Route 53 is global and signed in us-east-1; SDKs pointed at an
        // endpoint sign with their own region, so nubo's is taken too.
        let mut policy = nubo_host::sigv4::Policy::hashed("route53", "us-east-1", 5);
        if context.region != "us-east-1" {
            policy.regions.push(context.region.clone());
        }
        let protocol = Protocol::RestXml { namespace: xml::NAMESPACE };
        Self { front: AwsFront::new(protocol, policy, context.credentials.clone(), MAX_BODY), zones, health_checks }
    }
}

pub fn routes(routes: &mut web::ServiceConfig, api: Route53) {
    routes.app_data(web::Data::new(api)).default_service(web::to(handle));
}

/// What an operation reads of its request.
pub struct Call<'r> {
    pub request: &'r HttpRequest,
    pub query: Vec<(String, String)>,
    /// The body, signature checked and content encoding undone.
    pub body: &'r [u8],
}

impl Call<'_> {
    pub fn parameter(&self, name: &str) -> Option<&str> {
        operation::parameter(&self.query, name)
    }
}

async fn handle(request: HttpRequest, payload: web::Payload, api: web::Data<Route53>) -> HttpResponse {
    let operation = Operation::parse(request.method().as_str(), request.uri().path());
    if let Some(operation) = &operation {
        name_operation(&request, operation.name());
    }
    let signed = match api.front.authenticate(&request, payload).await {
        Ok(signed) => signed,
        Err(refused) => return api.front.error(&refused),
    };
    let Some(operation) = operation else {
        let message = format!("{} {} is not a Route 53 operation", request.method(), request.uri().path());
        return api.front.error(&AwsError::new(400, "InvalidAction", message));
    };
    let call = Call { request: &request, query: operation::query(request.query_string()), body: &signed.body };
    match dispatch(&api, operation, &call).await {
        Ok(response) => response,
        Err(failure) => errors::render(api.front.protocol, &failure),
    }
}

async fn dispatch(api: &Route53, operation: Operation, call: &Call<'_>) -> Result<HttpResponse> {
    let (zones, checks) = (&api.zones, &api.health_checks);
    match operation {
        Operation::CreateHostedZone => self::zones::create(zones, call).await,
        Operation::ListHostedZones => self::zones::list(zones, call).await,
        Operation::ListHostedZonesByName => self::zones::list_by_name(zones, call).await,
        Operation::GetHostedZoneCount => self::zones::count(zones).await,
        Operation::GetHostedZone(id) => self::zones::get(zones, &id).await,
        Operation::UpdateHostedZoneComment(id) => self::zones::update_comment(zones, &id, call).await,
        Operation::DeleteHostedZone(id) => self::zones::delete(zones, &id).await,
        Operation::GetChange(id) => self::zones::get_change(zones, &id).await,
        Operation::ChangeResourceRecordSets(id) => records::change(zones, &id, call).await,
        Operation::ListResourceRecordSets(id) => records::list(zones, &id, call).await,
        Operation::ChangeTagsForResource(kind, id) => tags::change(zones, &kind, &id, call).await,
        Operation::ListTagsForResource(kind, id) => tags::list(zones, &kind, &id).await,
        Operation::ListTagsForResources(kind) => tags::list_many(zones, &kind, call).await,
        Operation::CreateHealthCheck => health::create(checks, call).await,
        Operation::ListHealthChecks => health::list(checks, call).await,
        Operation::GetHealthCheckCount => health::count(checks).await,
        Operation::GetHealthCheck(id) => health::get(checks, &id).await,
        Operation::GetHealthCheckStatus(id) => health::status(checks, &id).await,
        Operation::DeleteHealthCheck(id) => health::delete(checks, &id).await,
        Operation::GetDNSSEC(id) => self::dnssec::get(zones, &id).await,
        Operation::EnableHostedZoneDNSSEC(id) => self::dnssec::enable(zones, &id).await,
        Operation::DisableHostedZoneDNSSEC(id) => self::dnssec::disable(zones, &id).await,
        Operation::CreateKeySigningKey => self::dnssec::create_key(zones, call).await,
        Operation::ActivateKeySigningKey(zone, name) => self::dnssec::set_status(zones, &zone, &name, true).await,
        Operation::DeactivateKeySigningKey(zone, name) => self::dnssec::set_status(zones, &zone, &name, false).await,
        Operation::DeleteKeySigningKey(zone, name) => self::dnssec::delete_key(zones, &zone, &name).await,
    }
}

/// A successful answer.
fn reply(status: StatusCode, xml: xml::Xml) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/xml")
        .insert_header(("x-amzn-RequestId", request_id()))
        .body(xml.finish())
}

fn ok(xml: xml::Xml) -> Result<HttpResponse> {
    Ok(reply(StatusCode::OK, xml))
}

/// `InvalidInput` with `message`.
fn invalid(message: impl Into<String>) -> errors::Failure {
    errors::Failure::Aws(AwsError::new(400, "InvalidInput", message))
}

/// A `maxitems` parameter: the text to echo in `MaxItems`, and how many
/// items the page holds (at most `cap`, Route 53's page size).
fn max_items(call: &Call<'_>, cap: u32) -> Result<(String, usize)> {
    let Some(given) = call.parameter("maxitems") else {
        return Ok((cap.to_string(), cap as usize));
    };
    let count: u32 = given
        .trim()
        .parse()
        .ok()
        .filter(|count| *count > 0)
        .ok_or_else(|| invalid(format!("Invalid value for maxitems: '{given}'; it must be a positive integer")))?;
    Ok((given.to_owned(), count.min(cap) as usize))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::{App, test};
    use nubo_proto::clients::RecordsClient;

    use super::*;

    /// A front whose data link leads nowhere: these requests are answered
    /// before any record is read.
    fn api() -> Route53 {
        let unreachable = "http://127.0.0.1:9".to_owned();
        let links = nubo_host::Links {
            data: unreachable.clone(),
            storage: unreachable.clone(),
            functions: unreachable.clone(),
            gateway: unreachable.clone(),
            auth: unreachable.clone(),
            cdn: unreachable.clone(),
            dns: unreachable,
        };
        let context = nubo_host::Context {
            state_dir: std::env::temp_dir(),
            region: "eu-west-1".into(),
            account_id: "000000000000".into(),
            credentials: nubo_host::sigv4::Credentials::new("000000000000").with_root_key("test", "test"),
            cluster: nubo_proto::ClusterToken::new("a-cluster-secret-of-length").expect("a valid token"),
            function_credentials: None,
            links,
        };
        let link = context.link(nubo_host::ServiceName::Data).expect("a lazy link");
        let authority = Arc::new(crate::authority::Authority::new());
        let records = RecordsClient::new(link);
        let checks =
            HealthChecks::new(records.clone(), crate::health::Checker::new(records.clone(), authority.clone()));
        Route53::new(&context, Zones::new(records, authority), checks)
    }

    #[actix_web::test]
    async fn an_unsigned_request_is_refused_in_route53s_error_shape() {
        let api = api();
        let app = test::init_service(App::new().configure(move |routes| super::routes(routes, api.clone()))).await;
        let request = test::TestRequest::get().uri("/2013-04-01/hostedzone").to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 403);
        let body = String::from_utf8_lossy(&test::read_body(response).await).into_owned();
        assert!(
            body.contains(
                "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type>\
                 <Code>MissingAuthenticationToken</Code>"
            ),
            "{body}"
        );
    }
}
