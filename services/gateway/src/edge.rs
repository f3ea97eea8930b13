//! The AWS edge (`:4566`): one endpoint for every AWS API, as LocalStack
//! users expect. Each call is sent to the service that owns it, decided by
//! the SigV4 credential scope, then `X-Amz-Target`, then the path; API
//! Gateway management and STS calls are answered here. Bodies are relayed
//! as they arrive, streamed and never decompressed, so the owner checks
//! the signature over the bytes the client signed and an upload of any
//! size passes through in bounded memory.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use futures::TryStreamExt as _;
use nubo_host::front::{AwsError, AwsFront, Protocol};
use serde::{Deserialize, Serialize};

use crate::management::{self, Management};

/// The public HTTP address of each service the edge relays to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeTargets {
    pub functions: String,
    pub data: String,
    pub storage: String,
    pub auth: String,
    pub cdn: String,
    pub dns: String,
}

impl Default for EdgeTargets {
    fn default() -> Self {
        Self {
            functions: "http://127.0.0.1:9001".into(),
            data: "http://127.0.0.1:8000".into(),
            storage: "http://127.0.0.1:9000".into(),
            auth: "http://127.0.0.1:9229".into(),
            cdn: "http://127.0.0.1:8081".into(),
            dns: "http://127.0.0.1:8053".into(),
        }
    }
}

impl EdgeTargets {
    /// Points the edge at `service`'s public HTTP address; the gateway
    /// answers its own calls and has no target.
    pub fn set(&mut self, service: nubo_host::ServiceName, url: String) {
        use nubo_host::ServiceName;
        let target = match service {
            ServiceName::Functions => &mut self.functions,
            ServiceName::Data => &mut self.data,
            ServiceName::Storage => &mut self.storage,
            ServiceName::Auth => &mut self.auth,
            ServiceName::Cdn => &mut self.cdn,
            ServiceName::Dns => &mut self.dns,
            ServiceName::Gateway => return,
        };
        *target = url;
    }
}

/// Where an AWS call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// API Gateway management, answered by this service.
    Gateway,
    /// STS, answered by this service.
    Sts,
    Functions,
    Data,
    Storage,
    Auth,
    Cdn,
    Dns,
}

/// The service named in a SigV4 credential scope (`AK/date/region/service/aws4_request`).
fn scope_service(credential: &str) -> Option<&str> {
    credential.split('/').nth(3)
}

/// Decides which service owns a call.
pub fn owner(authorization: Option<&str>, query_credential: Option<&str>, target: Option<&str>, path: &str) -> Owner {
    let credential = authorization
        .and_then(|header| header.split("Credential=").nth(1))
        .map(|rest| rest.split(',').next().unwrap_or(rest).trim())
        .or(query_credential);
    if let Some(service) = credential.and_then(scope_service) {
        match service {
            // Lambda, and CloudWatch Logs for functions' log groups.
            "lambda" | "logs" => return Owner::Functions,
            "dynamodb" => return Owner::Data,
            "s3" => return Owner::Storage,
            "cognito-idp" | "cognito-identity" => return Owner::Auth,
            "cloudfront" => return Owner::Cdn,
            "route53" => return Owner::Dns,
            "apigateway" => return Owner::Gateway,
            "sts" => return Owner::Sts,
            _ => {}
        }
    }
    if let Some(target) = target {
        if target.starts_with("DynamoDB") {
            return Owner::Data;
        }
        if target.starts_with("AWSCognitoIdentityProviderService") || target.starts_with("AWSCognitoIdentityService") {
            return Owner::Auth;
        }
        if target.starts_with("Logs_20140328") {
            return Owner::Functions;
        }
    }
    match path {
        p if p.starts_with("/2015-03-31/") => Owner::Functions,
        p if p.starts_with("/v2/apis") => Owner::Gateway,
        p if ["/restapis", "/apikeys", "/usageplans"].iter().any(|prefix| p.starts_with(prefix)) => Owner::Gateway,
        p if p.starts_with("/2013-04-01/") => Owner::Dns,
        p if p.starts_with("/2020-05-31/") => Owner::Cdn,
        _ => Owner::Storage,
    }
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub targets: EdgeTargets,
    pub client: reqwest::Client,
    /// STS, answered here.
    pub sts: AwsFront,
}

pub fn routes(routes: &mut web::ServiceConfig, edge: Edge, management: Management) {
    routes.app_data(web::Data::new(edge)).app_data(web::Data::new(management)).default_service(web::to(handle));
}

/// Headers that belong to one connection and are never relayed.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    // Answered by the edge's own server (100 Continue) already.
    "expect",
];

async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    edge: web::Data<Edge>,
    management: web::Data<Management>,
) -> HttpResponse {
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    let query_credential = request
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
        .map(nubo_host::sigv4::percent_decode);
    let owner = owner(header("authorization"), query_credential.as_deref(), header("x-amz-target"), request.path());
    let base = match owner {
        // Answered here: read with the answering front's own limit.
        Owner::Gateway => {
            let body = match management.front.read_raw(payload).await {
                Ok(body) => body,
                Err(error) => return management.front.error(&error),
            };
            return match management::handle(request, body, management).await {
                Ok(response) => response,
                Err(error) => actix_web::ResponseError::error_response(&error),
            };
        }
        Owner::Sts => {
            let body = match edge.sts.read_raw(payload).await {
                Ok(body) => body,
                Err(error) => return edge.sts.error(&error),
            };
            return crate::sts::handle(&request, body, &edge.sts).await;
        }
        Owner::Functions => &edge.targets.functions,
        Owner::Data => &edge.targets.data,
        Owner::Storage => &edge.targets.storage,
        Owner::Auth => &edge.targets.auth,
        Owner::Cdn => &edge.targets.cdn,
        Owner::Dns => &edge.targets.dns,
    };
    let url =
        format!("{}{}", base.trim_end_matches('/'), request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut relayed = edge.client.request(method, &url);
    // Headers the client's `Connection` names belong to its connection too.
    let named_by_connection: Vec<String> = request
        .headers()
        .get_all("connection")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in request.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) && !named_by_connection.iter().any(|named| named == name.as_str()) {
            // Host stays as the client sent it: SigV4 signed it.
            relayed = relayed.header(name.as_str(), value.as_bytes());
        }
    }
    // A request without a body is relayed without one: a streamed empty
    // body would go out as `transfer-encoding: chunked`.
    let headers = request.headers();
    let declared_length = headers.get("content-length").and_then(|value| value.to_str().ok());
    let chunked = headers.contains_key("transfer-encoding");
    let body_broke = Arc::new(AtomicBool::new(false));
    if chunked || declared_length.is_some_and(|length| length.trim() != "0") {
        if chunked && declared_length.is_none() {
            // Said outright, so a GET or DELETE with a body keeps it.
            relayed = relayed.header("transfer-encoding", "chunked");
        }
        relayed =
            relayed.body(reqwest::Body::wrap_stream(nubo_host::front::sendable_body(payload, body_broke.clone())));
    }
    let answer = match relayed.send().await {
        Ok(answer) => answer,
        Err(error) if body_broke.load(Ordering::Acquire) => {
            tracing::debug!(?owner, %error, "the client's body broke off");
            return relay_error(owner, 400, "IncompleteBody", "The request body could not be read");
        }
        Err(error) => {
            tracing::warn!(?owner, %error, "edge relay failed");
            return relay_error(owner, 503, "ServiceUnavailable", "The owning service is unavailable");
        }
    };
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) && name.as_str() != "content-length" {
            response.append_header((name.as_str(), value.as_bytes()));
        }
    }
    // The owner's length stays (a HEAD answer's too); the body streams.
    // From the header itself: for a HEAD, reqwest's content_length() is
    // the (empty) body's.
    let length = answer
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let body = answer.bytes_stream().map_err(std::io::Error::other);
    match length {
        Some(length) => response.body(actix_web::body::SizedStream::new(length, body)),
        None => response.streaming(body),
    }
}

/// The protocol each owner's clients parse errors in.
fn protocol(owner: Owner) -> Protocol {
    match owner {
        Owner::Data => Protocol::AwsJson10,
        Owner::Auth => Protocol::AwsJson11,
        Owner::Gateway | Owner::Functions => Protocol::RestJson,
        Owner::Storage => Protocol::S3,
        Owner::Dns => Protocol::RestXml { namespace: "https://route53.amazonaws.com/doc/2013-04-01/" },
        Owner::Cdn => Protocol::RestXml { namespace: "http://cloudfront.amazonaws.com/doc/2020-05-31/" },
        Owner::Sts => Protocol::RestXml { namespace: "https://sts.amazonaws.com/doc/2011-06-15/" },
    }
}

/// An error of the edge itself, in the owner's protocol.
fn relay_error(owner: Owner, status: u16, code: &'static str, message: &str) -> HttpResponse {
    protocol(owner).render(&AwsError::new(status, code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_go_to_their_owner() {
        let signed = |service: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
            )
        };
        assert_eq!(owner(Some(&signed("lambda")), None, None, "/2015-03-31/functions"), Owner::Functions);
        assert_eq!(owner(Some(&signed("dynamodb")), None, Some("DynamoDB_20120810.GetItem"), "/"), Owner::Data);
        assert_eq!(owner(Some(&signed("apigateway")), None, None, "/v2/apis"), Owner::Gateway);
        assert_eq!(owner(Some(&signed("sts")), None, None, "/"), Owner::Sts);
        assert_eq!(owner(Some(&signed("s3")), None, None, "/bucket/key"), Owner::Storage);
        assert_eq!(owner(None, Some("test/20260101/us-east-1/s3/aws4_request"), None, "/b/k"), Owner::Storage);
        assert_eq!(owner(None, None, Some("AWSCognitoIdentityProviderService.InitiateAuth"), "/"), Owner::Auth);
        assert_eq!(owner(None, None, None, "/2013-04-01/hostedzone"), Owner::Dns);
        assert_eq!(owner(None, None, None, "/some-bucket"), Owner::Storage);
    }

    #[test]
    fn identity_pool_calls_go_to_auth_signed_or_not() {
        let signed = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/cognito-identity/aws4_request, SignedHeaders=host, Signature=00";
        let target = Some("AWSCognitoIdentityService.CreateIdentityPool");
        assert_eq!(owner(Some(signed), None, target, "/"), Owner::Auth);
        // GetId and GetCredentialsForIdentity are public: no signature, the target alone.
        assert_eq!(owner(None, None, Some("AWSCognitoIdentityService.GetId"), "/"), Owner::Auth);
        assert_eq!(owner(None, None, Some("AWSCognitoIdentityService.GetCredentialsForIdentity"), "/"), Owner::Auth);
        // Without either, a POST to `/` is an S3 call.
        assert_eq!(owner(None, None, None, "/"), Owner::Storage);
    }
}
