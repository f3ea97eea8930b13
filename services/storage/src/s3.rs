//! The S3 REST API front, written with the host's front kit: S3's signing
//! rules (payload markers, streaming bodies, presigned URLs, 15 minutes of
//! skew) and its XML error shape. Operations this service does not serve
//! yet are answered with S3's `NotImplemented` error document.

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::{
    front::{AwsError, Protocol, request_head},
    sigv4::{Credentials, Policy},
};

/// What the S3 front checks requests against.
#[derive(Debug, Clone)]
pub struct S3Front {
    pub policy: Policy,
    pub credentials: Credentials,
}

impl S3Front {
    pub fn new(context: &nubo_host::Context) -> Self {
        Self { policy: Policy::s3(&context.region), credentials: context.credentials.clone() }
    }
}

pub fn routes(routes: &mut web::ServiceConfig, front: S3Front) {
    routes.app_data(web::Data::new(front)).default_service(web::to(handle));
}

async fn handle(request: HttpRequest, front: web::Data<S3Front>) -> HttpResponse {
    let resource = request.uri().path().to_owned();
    // The head is checked before any byte of the body is read, as S3 does;
    // the body then streams through `sigv4::verified_stream`.
    let verified = request_head(&request)
        .and_then(|head| front.credentials.verify(&front.policy, &head, None, chrono::Utc::now()));
    if let Err(auth) = verified {
        return Protocol::S3.render(&Protocol::S3.auth_error(&auth).with("Resource", resource));
    }
    Protocol::S3.render(
        &AwsError::new(501, "NotImplemented", "A header you provided implies functionality that is not implemented")
            .with("Resource", resource),
    )
}
