//! Route 53's errors: each store failure under the name and status Route
//! 53 gives it, and `InvalidChangeBatch`, whose answer lists every message.

use actix_web::{HttpResponse, http::StatusCode};
use nubo_host::front::{AwsError, Protocol, request_id};
use nubo_proto::ErrorCode;

use crate::{batch::BatchError, store::StoreError};

/// A failed operation, before it is rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Aws(AwsError),
    /// `InvalidChangeBatch` and each of its messages, in order.
    ChangeBatch(Vec<String>),
}

pub type Result<T> = std::result::Result<T, Failure>;

impl From<AwsError> for Failure {
    fn from(error: AwsError) -> Self {
        Failure::Aws(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        let aws = |status: u16, code: &'static str| Failure::Aws(AwsError::new(status, code, message.clone()));
        match error {
            StoreError::NoSuchHostedZone(_) => aws(404, "NoSuchHostedZone"),
            StoreError::NoSuchChange(_) => aws(404, "NoSuchChange"),
            StoreError::NoSuchHealthCheck(_) => aws(404, "NoSuchHealthCheck"),
            StoreError::HostedZoneAlreadyExists => aws(409, "HostedZoneAlreadyExists"),
            StoreError::HostedZoneNotEmpty => aws(400, "HostedZoneNotEmpty"),
            StoreError::Batch(BatchError::Input(_)) | StoreError::InvalidInput(_) => aws(400, "InvalidInput"),
            StoreError::Batch(BatchError::Invalid(messages)) => Failure::ChangeBatch(messages),
            StoreError::Dnssec { status, code, .. } => aws(status, code),
            StoreError::Contended => aws(400, "PriorRequestNotComplete"),
            StoreError::Remote(remote) => {
                tracing::warn!(error = %remote, "the data service failed a Route 53 request");
                match remote.code {
                    ErrorCode::Throttled => Failure::Aws(AwsError::new(400, "Throttling", "Rate exceeded")),
                    ErrorCode::Unavailable => Failure::Aws(AwsError::new(
                        503,
                        "ServiceUnavailable",
                        "The service is unavailable. Please try again later.",
                    )),
                    _ => internal(),
                }
            }
            StoreError::Corrupt(_) => {
                tracing::error!(%error, "a Route 53 record could not be read");
                internal()
            }
        }
    }
}

fn internal() -> Failure {
    Failure::Aws(AwsError::new(
        500,
        "InternalFailure",
        "The request processing has failed because of an unknown error.",
    ))
}

/// The answer for `failure`.
pub fn render(protocol: Protocol, failure: &Failure) -> HttpResponse {
    match failure {
        Failure::Aws(error) => protocol.render(error),
        Failure::ChangeBatch(messages) => change_batch(messages),
    }
}

/// `InvalidChangeBatch` as Route 53 answers it today: the usual
/// `ErrorResponse` (the older `<InvalidChangeBatch>` root gives botocore no
/// error code at all), its `Message` every message in brackets joined by
/// `, `, which is what botocore, the AWS CLI and every SDK report. The
/// messages also come one by one as the model's `messages` member, which
/// the Rust and Java SDKs read into the error's list.
fn change_batch(messages: &[String]) -> HttpResponse {
    let request_id = request_id();
    let mut xml = super::xml::Xml::document("ErrorResponse");
    xml.open("Error")
        .element("Type", "Sender")
        .element("Code", "InvalidChangeBatch")
        .element("Message", &format!("[{}]", messages.join(", ")))
        .open("messages");
    for message in messages {
        xml.element("Message", message);
    }
    xml.close().close().element("RequestId", &request_id);
    HttpResponse::build(StatusCode::BAD_REQUEST)
        .content_type("text/xml")
        .insert_header(("x-amzn-RequestId", request_id))
        .body(xml.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(response.into_body()).await.unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn store_failures_are_named_as_route53_names_them() {
        let code = |error: StoreError| match Failure::from(error) {
            Failure::Aws(error) => (error.status, error.code.to_string(), error.message),
            Failure::ChangeBatch(messages) => (400, "InvalidChangeBatch".into(), messages.join("|")),
        };
        assert_eq!(
            code(StoreError::NoSuchHostedZone("Z1".into())),
            (404, "NoSuchHostedZone".into(), "No hosted zone found with ID: Z1".into())
        );
        assert_eq!(
            code(StoreError::NoSuchChange("C1".into())),
            (404, "NoSuchChange".into(), "Could not find resource with ID: C1".into())
        );
        assert_eq!(code(StoreError::HostedZoneAlreadyExists).0, 409);
        assert_eq!(code(StoreError::HostedZoneNotEmpty).1, "HostedZoneNotEmpty");
        assert_eq!(
            code(StoreError::Batch(BatchError::Input("bad".into()))),
            (400, "InvalidInput".into(), "bad".into())
        );
        assert_eq!(code(StoreError::Batch(BatchError::Invalid(vec!["a".into(), "b".into()]))).2, "a|b");
        assert_eq!(code(StoreError::Contended).1, "PriorRequestNotComplete");
        let unavailable = nubo_proto::RemoteError {
            service: "data",
            code: ErrorCode::Unavailable,
            aws_name: None,
            message: "down".into(),
        };
        assert_eq!(code(StoreError::Remote(unavailable)).0, 503);
    }

    #[actix_web::test]
    async fn invalid_change_batch_lists_every_message() {
        let response = change_batch(&["first <a>".into(), "second".into()]);
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers().get("content-type").map(|value| value.as_bytes()), Some(&b"text/xml"[..]));
        let body = body(response).await;
        assert!(
            body.contains(
                "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type>\
                 <Code>InvalidChangeBatch</Code><Message>[first &lt;a&gt;, second]</Message><messages>\
                 <Message>first &lt;a&gt;</Message><Message>second</Message></messages></Error><RequestId>"
            ),
            "{body}"
        );
    }
}
