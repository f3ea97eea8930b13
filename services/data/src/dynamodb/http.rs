//! The DynamoDB JSON protocol front (`X-Amz-Target: DynamoDB_20120810.<Action>`,
//! `application/x-amz-json-1.0`), written with the host's front kit: parsed
//! into an [`Action`], SigV4-checked once (signed as `dynamodb`, 15 minutes
//! of skew; a gzip body is checked as sent and inflated by the kit),
//! executed, and answered in the awsJson 1.0 shape. Like DynamoDB's, a
//! large answer is gzipped for a client that accepts it, with its CRC-32
//! over the bytes sent, and browsers may call it (CORS).

use std::io::Write as _;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{Method, StatusCode, header},
    web,
};
use nubo_host::front::{AwsFront, Operation as _, Protocol};

use super::{
    Action, Dynamo,
    error::{DynamoError, ErrorKind},
};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";
/// The largest request body read (a 25-item batch of 400 KB items, and more).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Answers at least this long are gzipped when the client accepts gzip;
/// DynamoDB leaves small ones as they are.
const GZIP_FROM_BYTES: usize = 1024;
/// The response headers a browser's script may read.
const EXPOSED_HEADERS: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-crc32,Date";
/// How long a browser may keep a preflight's answer (two days).
const PREFLIGHT_MAX_AGE: &str = "172800";

/// The DynamoDB front of a deployment.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::AwsJson10, context.policy("dynamodb", 15), context.credentials.clone(), MAX_BODY)
}

pub fn routes(routes: &mut web::ServiceConfig, dynamo: Dynamo, front: AwsFront) {
    routes.app_data(web::Data::new(dynamo)).app_data(web::Data::new(front)).default_service(web::to(handle));
}

/// Whether the request's `Accept-Encoding` takes gzip (not refused by `q=0`).
fn accepts_gzip(request: &HttpRequest) -> bool {
    request.headers().get_all(header::ACCEPT_ENCODING).filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()).is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

fn respond(request: &HttpRequest, body: &serde_json::Value) -> HttpResponse {
    let body = body.to_string().into_bytes();
    let mut response = HttpResponse::build(StatusCode::OK);
    response
        .content_type("application/x-amz-json-1.0")
        .insert_header(("x-amzn-RequestId", nubo_host::front::request_id()));
    let body = match (body.len() >= GZIP_FROM_BYTES && accepts_gzip(request)).then(|| gzip(&body)).flatten() {
        Some(compressed) => {
            response.insert_header((header::CONTENT_ENCODING, "gzip"));
            compressed
        }
        None => body,
    };
    // Some SDKs check the CRC-32 of the bytes DynamoDB sends (gzipped
    // ones too) beside them.
    response.insert_header(("x-amz-crc32", crc32fast::hash(&body).to_string())).body(body)
}

/// The answer to a browser's preflight (`OPTIONS` with an `Origin`).
fn preflight(request: &HttpRequest) -> HttpResponse {
    let requested = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("");
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE));
    let headers = requested("access-control-request-headers");
    if !headers.is_empty() {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, headers));
    }
    let mut response = response.finish();
    allow_origin(request, &mut response);
    response
}

/// The CORS headers of every answer to a request from a page: the origin
/// (answered as `*`: the credentials are in the signature, not cookies)
/// and the headers the SDKs read.
fn allow_origin(request: &HttpRequest, response: &mut HttpResponse) {
    if request.headers().contains_key(header::ORIGIN) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header::HeaderValue::from_static("*"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, header::HeaderValue::from_static(EXPOSED_HEADERS));
    }
}

fn error(error: &DynamoError) -> HttpResponse {
    Protocol::AwsJson10.render(&error.to_aws())
}

async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    dynamo: web::Data<Dynamo>,
    front: web::Data<AwsFront>,
) -> HttpResponse {
    if request.method() == Method::OPTIONS && request.headers().contains_key(header::ORIGIN) {
        return preflight(&request);
    }
    let mut response = answer(&request, payload, &dynamo, &front).await;
    allow_origin(&request, &mut response);
    response
}

async fn answer(request: &HttpRequest, payload: web::Payload, dynamo: &Dynamo, front: &AwsFront) -> HttpResponse {
    let request = request.clone();
    let target = request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or("");
    let action = match (target.strip_prefix(TARGET_PREFIX), target.strip_prefix(STREAMS_TARGET_PREFIX)) {
        (Some(name), _) => Action::parse(name),
        (_, Some(name)) => Action::parse_streams(name),
        _ => None,
    };
    if let Some(action) = action {
        nubo_host::front::name_operation(&request, action.name());
    }
    let body = match front.authenticate(&request, payload).await {
        Ok(signed) => {
            tracing::debug!(principal = %signed.principal.arn, path = request.path(), "request authenticated");
            signed.body
        }
        Err(refused) => return front.error(&refused),
    };
    let Some(action) = action else {
        return error(&DynamoError::new(ErrorKind::UnknownOperation, ""));
    };
    let parsed = if body.is_empty() { Ok(serde_json::json!({})) } else { serde_json::from_slice(&body) };
    let body = match parsed {
        Ok(body @ serde_json::Value::Object(_)) => body,
        Ok(_) | Err(_) => {
            return error(&DynamoError::new(
                ErrorKind::Serialization,
                "Start of structure or map found where not expected",
            ));
        }
    };
    match dynamo.execute(action, body).await {
        Ok(mut response) => {
            if action == Action::DescribeEndpoints
                && let Some(host) = request.headers().get(header::HOST).and_then(|value| value.to_str().ok())
            {
                // The address the client reached, not AWS's.
                response["Endpoints"][0]["Address"] = host.into();
            }
            respond(&request, &response)
        }
        Err(failure) => {
            tracing::debug!(?action, error = %failure, "dynamodb request refused");
            error(&failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let accepts = |value: &str| {
            accepts_gzip(&TestRequest::default().insert_header(("accept-encoding", value)).to_http_request())
        };
        assert!(accepts("gzip"));
        assert!(accepts("deflate, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[actix_web::test]
    async fn a_large_answer_is_gzipped_with_the_crc_of_the_bytes_sent() {
        let request = TestRequest::default().insert_header(("accept-encoding", "gzip")).to_http_request();
        let big = serde_json::json!({ "Items": vec!["x".repeat(100); 50] });
        let response = respond(&request, &big);
        assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
        let crc: u32 = response.headers().get("x-amz-crc32").unwrap().to_str().unwrap().parse().unwrap();
        let body = actix_web::body::to_bytes(response.into_body()).await.unwrap();
        assert_eq!(crc, crc32fast::hash(&body));
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut inflated).unwrap();
        assert_eq!(inflated, big.to_string());

        let small = respond(&request, &serde_json::json!({}));
        assert!(small.headers().get("content-encoding").is_none(), "small answers stay as they are");
    }
}
