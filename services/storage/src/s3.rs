//! The S3 REST API front. Requests are SigV4-checked (S3 signs the path
//! as sent); operations this service does not serve yet are answered with
//! S3's `NotImplemented` error document.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use nubo_host::sigv4::Credentials;

pub fn routes(routes: &mut web::ServiceConfig, credentials: Credentials) {
    routes.app_data(web::Data::new(credentials)).default_service(web::to(handle));
}

/// An error document in S3's XML shape.
pub fn error(status: StatusCode, code: &str, message: &str, resource: &str) -> HttpResponse {
    let request_id = nubo_host::http::request_id();
    HttpResponse::build(status).content_type("application/xml").insert_header(("x-amz-request-id", request_id.clone())).body(
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{request_id}</RequestId></Error>",
            xml_escape(message),
            xml_escape(resource)
        ),
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

async fn handle(request: HttpRequest, body: web::Bytes, credentials: web::Data<Credentials>) -> HttpResponse {
    let resource = request.uri().path().to_owned();
    if let Err(auth) = nubo_host::http::verify_sigv4(&credentials, &request, &body, false) {
        let code = match auth {
            nubo_host::sigv4::AuthError::UnknownKey => "InvalidAccessKeyId",
            nubo_host::sigv4::AuthError::Missing => "AccessDenied",
            _ => "SignatureDoesNotMatch",
        };
        return error(StatusCode::FORBIDDEN, code, &auth.to_string(), &resource);
    }
    error(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
        &resource,
    )
}
