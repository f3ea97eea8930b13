//! The AWS front kit: the one way a service's public side is written.
//!
//! A front parses each request into its service's typed operation (one
//! enum, one variant per AWS action, with a [`Operation::name`]),
//! authenticates it once with [`AwsFront::authenticate`], runs it, and
//! renders any failure through its [`Protocol`] — the only place an error
//! becomes bytes on the wire. Each protocol family nubo speaks has one
//! renderer and one table that turns an [`AuthError`] into that family's
//! AWS error:
//!
//! - awsJson 1.0 / 1.1 (DynamoDB, Cognito): `__type` and `message`;
//! - restJson1 (Lambda, API Gateway): `x-amzn-ErrorType` and `message`;
//! - restXml (Route 53, CloudFront) and awsQuery (STS):
//!   `<ErrorResponse><Error><Type/><Code/><Message/></Error>`;
//! - S3's restXml: `<Error><Code/><Message/>…</Error>`.
//!
//! The operation's name is recorded on the request ([`name_operation`]) so
//! the HTTP front counts requests per AWS operation.

use std::{
    borrow::Cow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, http::StatusCode, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use serde_json::{Map, Value};

use crate::sigv4::{AuthError, BodyError, ChunkedDecoder, Credentials, Payload, Policy, Principal, RequestHead};

/// One AWS action of a front's typed operations.
pub trait Operation {
    /// The AWS action name (`PutItem`, `CreateFunction`), as metrics and
    /// logs report it.
    fn name(&self) -> &'static str;
}

/// The operation a request was parsed into, kept in its extensions.
#[derive(Debug, Clone, Copy)]
pub struct OperationName(pub &'static str);

/// Records which AWS operation `request` is, for metrics and access logs.
pub fn name_operation(request: &HttpRequest, name: &'static str) {
    request.extensions_mut().insert(OperationName(name));
}

/// An AWS error, ready to render in any protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    pub status: u16,
    /// The error name (`ResourceNotFoundException`, `NoSuchKey`); awsJson
    /// 1.0 names may carry their namespace (`com.amazonaws...#Name`).
    pub code: Cow<'static, str>,
    pub message: String,
    /// Further members: JSON members of the body, or XML elements of
    /// `<Error>` (scalars only).
    pub extra: Map<String, Value>,
    /// The `Type` of a restXml / awsQuery error: `Sender` unless the fault
    /// is the server's.
    pub sender_fault: bool,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), extra: Map::new(), sender_fault: status < 500 }
    }

    /// Adds a member to the error body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// The name without an awsJson namespace.
    pub fn short_code(&self) -> &str {
        self.code.rsplit('#').next().unwrap_or(&self.code)
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.short_code(), self.message)
    }
}

/// The AWS protocol families nubo's fronts speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `application/x-amz-json-1.0` (DynamoDB).
    AwsJson10,
    /// `application/x-amz-json-1.1` (Cognito).
    AwsJson11,
    /// restJson1 (Lambda, API Gateway).
    RestJson,
    /// restXml of Route 53 and CloudFront, and awsQuery (STS): the error
    /// wrapped in `<ErrorResponse xmlns=namespace>`.
    RestXml { namespace: &'static str },
    /// S3's restXml: `<Error>` at the root.
    S3,
}

impl Protocol {
    /// The response for `error` in this protocol's one error shape.
    pub fn render(self, error: &AwsError) -> HttpResponse {
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let request_id = request_id();
        let mut response = HttpResponse::build(status);
        match self {
            Protocol::AwsJson10 | Protocol::AwsJson11 => {
                let mut body = Map::new();
                body.insert("__type".into(), Value::String(error.code.to_string()));
                body.insert("message".into(), Value::String(error.message.clone()));
                body.extend(error.extra.clone());
                let body = Value::Object(body).to_string();
                let content_type = if self == Protocol::AwsJson10 {
                    "application/x-amz-json-1.0"
                } else {
                    "application/x-amz-json-1.1"
                };
                response
                    .content_type(content_type)
                    .insert_header(("x-amzn-RequestId", request_id))
                    .insert_header(("x-amz-crc32", crc32fast::hash(body.as_bytes()).to_string()))
                    .body(body)
            }
            Protocol::RestJson => {
                let mut body = Map::new();
                body.insert("message".into(), Value::String(error.message.clone()));
                body.extend(error.extra.clone());
                response
                    .insert_header(("x-amzn-ErrorType", error.short_code().to_owned()))
                    .insert_header(("x-amzn-RequestId", request_id))
                    .json(Value::Object(body))
            }
            Protocol::RestXml { namespace } => {
                let mut xml = String::with_capacity(256);
                xml.push_str("<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"");
                xml.push_str(namespace);
                xml.push_str("\"><Error>");
                element(&mut xml, "Type", if error.sender_fault { "Sender" } else { "Receiver" });
                element(&mut xml, "Code", error.short_code());
                element(&mut xml, "Message", &error.message);
                extra_elements(&mut xml, &error.extra);
                xml.push_str("</Error>");
                element(&mut xml, "RequestId", &request_id);
                xml.push_str("</ErrorResponse>");
                response.content_type("text/xml").insert_header(("x-amzn-RequestId", request_id)).body(xml)
            }
            Protocol::S3 => {
                let mut xml = String::with_capacity(256);
                xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
                element(&mut xml, "Code", error.short_code());
                element(&mut xml, "Message", &error.message);
                extra_elements(&mut xml, &error.extra);
                element(&mut xml, "RequestId", &request_id);
                xml.push_str("</Error>");
                response.content_type("application/xml").insert_header(("x-amz-request-id", request_id)).body(xml)
            }
        }
    }

    /// This protocol family's AWS error for a refused signature or body.
    pub fn auth_error(self, auth: &AuthError) -> AwsError {
        match self {
            Protocol::AwsJson10 | Protocol::AwsJson11 => json_auth_error(auth, self == Protocol::AwsJson10),
            Protocol::RestJson => rest_json_auth_error(auth),
            Protocol::RestXml { .. } => rest_xml_auth_error(auth),
            Protocol::S3 => s3_auth_error(auth),
        }
    }

    /// The error for a body larger than the front reads.
    pub fn too_large(self, limit: usize) -> AwsError {
        let message = format!("Request must be smaller than {limit} bytes");
        match self {
            Protocol::S3 => AwsError::new(400, "EntityTooLarge", message),
            Protocol::RestXml { .. } => AwsError::new(413, "RequestEntityTooLarge", message),
            _ => AwsError::new(413, "RequestTooLargeException", message),
        }
    }
}

fn element(xml: &mut String, name: &str, text: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    xml.push_str(&quick_xml::escape::escape(text));
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

fn extra_elements(xml: &mut String, extra: &Map<String, Value>) {
    for (name, value) in extra {
        match value {
            Value::String(text) => element(xml, name, text),
            Value::Number(number) => element(xml, name, &number.to_string()),
            Value::Bool(flag) => element(xml, name, if *flag { "true" } else { "false" }),
            _ => {}
        }
    }
}

/// awsJson: DynamoDB answers every authentication failure with 400 and a
/// `com.amazon.coral` namespace in `__type`; Cognito with 400 or 403.
fn json_auth_error(auth: &AuthError, dynamodb: bool) -> AwsError {
    let (status, namespace, code) = match auth {
        AuthError::Missing if dynamodb => {
            return AwsError::new(
                400,
                "com.amazon.coral.service#MissingAuthenticationTokenException",
                "Request is missing Authentication Token",
            );
        }
        AuthError::Missing => (403, "com.amazon.coral.service#", "MissingAuthenticationTokenException"),
        AuthError::Malformed(_)
        | AuthError::MalformedQuery(_)
        | AuthError::AmbiguousAuth
        | AuthError::Unsupported(_) => (400, "com.amazon.coral.service#", "IncompleteSignatureException"),
        AuthError::UnknownKey | AuthError::InvalidToken => {
            (400, "com.amazon.coral.service#", "UnrecognizedClientException")
        }
        AuthError::ExpiredToken => (400, "com.amazon.coral.service#", "ExpiredTokenException"),
        AuthError::Body(_) => (400, "com.amazon.coral.service#", "SerializationException"),
        _ => (400, "com.amazon.coral.service#", "InvalidSignatureException"),
    };
    if dynamodb {
        AwsError::new(400, format!("{namespace}{code}"), auth.to_string())
    } else {
        AwsError::new(status, code, auth.to_string())
    }
}

/// restJson1 (Lambda, API Gateway): 403 for a refused signature.
fn rest_json_auth_error(auth: &AuthError) -> AwsError {
    let (status, code) = match auth {
        AuthError::Missing => (403, "MissingAuthenticationTokenException"),
        AuthError::Malformed(_)
        | AuthError::MalformedQuery(_)
        | AuthError::AmbiguousAuth
        | AuthError::Unsupported(_) => (400, "IncompleteSignatureException"),
        AuthError::UnknownKey | AuthError::InvalidToken => (403, "UnrecognizedClientException"),
        AuthError::ExpiredToken => (403, "ExpiredTokenException"),
        AuthError::Body(_) => (400, "SerializationException"),
        _ => (403, "InvalidSignatureException"),
    };
    AwsError::new(status, code, auth.to_string())
}

/// restXml and awsQuery (Route 53, CloudFront, STS).
fn rest_xml_auth_error(auth: &AuthError) -> AwsError {
    let (status, code) = match auth {
        AuthError::Missing => (403, "MissingAuthenticationToken"),
        AuthError::Malformed(_)
        | AuthError::MalformedQuery(_)
        | AuthError::AmbiguousAuth
        | AuthError::Unsupported(_) => (400, "IncompleteSignature"),
        AuthError::UnknownKey | AuthError::InvalidToken => (403, "InvalidClientTokenId"),
        AuthError::ExpiredToken => (403, "ExpiredToken"),
        AuthError::Body(_) => (400, "InvalidInput"),
        _ => (403, "SignatureDoesNotMatch"),
    };
    AwsError::new(status, code, auth.to_string())
}

/// S3's own names, with the extra elements S3 adds to each.
fn s3_auth_error(auth: &AuthError) -> AwsError {
    match auth {
        AuthError::Missing => AwsError::new(403, "AccessDenied", "Access Denied"),
        AuthError::MalformedQuery(message) => AwsError::new(400, "AuthorizationQueryParametersError", message.clone()),
        AuthError::Malformed(message) => AwsError::new(400, "AuthorizationHeaderMalformed", message.clone()),
        AuthError::AmbiguousAuth => AwsError::new(400, "InvalidArgument", auth.to_string()),
        AuthError::UnsignedHeader(name) => {
            AwsError::new(403, "AccessDenied", "There were headers present in the request which were not signed")
                .with("HeadersNotSigned", name.clone())
        }
        AuthError::UnknownKey => AwsError::new(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        AuthError::Mismatch | AuthError::Body(BodyError::ChunkSignatureMismatch) => AwsError::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
        AuthError::WrongService { expected, got } => AwsError::new(
            400,
            "AuthorizationHeaderMalformed",
            format!(
                "The authorization header is malformed; incorrect service \"{got}\". This endpoint belongs to \"{expected}\"."
            ),
        ),
        AuthError::WrongRegion { expected, got } => AwsError::new(
            400,
            "AuthorizationHeaderMalformed",
            format!("The authorization header is malformed; the region '{got}' is wrong; expecting '{expected}'"),
        )
        .with("Region", expected.clone()),
        AuthError::HostNotSigned => AwsError::new(403, "AccessDenied", auth.to_string()),
        AuthError::Skewed { signed_at, now, max_minutes } => AwsError::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .with("RequestTime", signed_at.clone())
        .with("ServerTime", iso8601(now))
        .with("MaxAllowedSkewMilliseconds", max_minutes * 60_000),
        AuthError::PresignedExpired { expires_secs, expired_at, now } => {
            AwsError::new(403, "AccessDenied", "Request has expired")
                .with("X-Amz-Expires", expires_secs.to_string())
                .with("Expires", expired_at.clone())
                .with("ServerTime", now.clone())
        }
        AuthError::PresignedNotYetValid => AwsError::new(403, "AccessDenied", "Request is not valid yet"),
        AuthError::PresignedExpiryTooLong => AwsError::new(400, "AuthorizationQueryParametersError", auth.to_string()),
        AuthError::InvalidToken => {
            AwsError::new(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        }
        AuthError::ExpiredToken => AwsError::new(400, "ExpiredToken", "The provided token has expired."),
        AuthError::MissingContentSha256 => AwsError::new(400, "InvalidRequest", auth.to_string()),
        AuthError::BadContentSha256(value) => AwsError::new(400, "InvalidArgument", auth.to_string())
            .with("ArgumentName", "x-amz-content-sha256")
            .with("ArgumentValue", value.clone()),
        AuthError::ContentSha256Mismatch { claimed, computed }
        | AuthError::Body(BodyError::ContentSha256Mismatch { claimed, computed }) => {
            AwsError::new(400, "XAmzContentSHA256Mismatch", auth.to_string())
                .with("ClientComputedContentSHA256", claimed.clone())
                .with("S3ComputedContentSHA256", computed.clone())
        }
        AuthError::Unsupported(_) => AwsError::new(
            400,
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ),
        AuthError::Body(BodyError::ChecksumMismatch { .. }) => AwsError::new(400, "BadDigest", auth.to_string()),
        AuthError::Body(BodyError::MissingTrailer(_)) => AwsError::new(
            400,
            "MalformedTrailerError",
            "The request contained trailing data that was not well-formed or did not conform to our published schema.",
        ),
        AuthError::Body(BodyError::DecodedLength { .. } | BodyError::Read(_)) => {
            AwsError::new(400, "IncompleteBody", auth.to_string())
        }
        AuthError::Body(BodyError::Malformed(_) | BodyError::ChunkTooLarge(_)) => {
            AwsError::new(400, "InvalidRequest", auth.to_string())
        }
    }
}

/// `20150830T123600Z` as `2015-08-30T12:36:00Z`.
fn iso8601(stamp: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| stamp.to_owned())
}

/// A fresh request id in the UUID form AWS uses.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The head of an actix request, as SigV4 sees it. An `x-amz-*` header
/// whose value is not visible ASCII is refused rather than left out, so no
/// header escapes the signature check by its bytes.
pub fn request_head(request: &HttpRequest) -> Result<RequestHead<'_>, AuthError> {
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        match value.to_str() {
            Ok(value) => headers.push((name.as_str().to_owned(), value)),
            Err(_) if name.as_str().starts_with("x-amz-") || name.as_str() == "authorization" => {
                return Err(AuthError::Malformed(format!("The value of the {name} header is not ASCII")));
            }
            // Other headers are never signed by an SDK with such bytes.
            Err(_) => {}
        }
    }
    Ok(RequestHead {
        method: request.method().as_str(),
        raw_path: request.uri().path(),
        raw_query: request.uri().query().unwrap_or(""),
        headers,
    })
}

/// A verified request's caller and its body, decoded.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who signed it, for the operation to act as.
    pub principal: Principal,
    /// The body with any `Content-Encoding` (and `aws-chunked`) undone.
    pub body: Bytes,
}

/// One AWS front: the protocol it speaks, the signing rules it enforces
/// and the keys it accepts.
#[derive(Debug, Clone)]
pub struct AwsFront {
    pub protocol: Protocol,
    pub policy: Policy,
    pub credentials: Credentials,
    /// The largest body read, before decoding.
    pub max_body: usize,
}

impl AwsFront {
    pub fn new(protocol: Protocol, policy: Policy, credentials: Credentials, max_body: usize) -> Self {
        Self { protocol, policy, credentials, max_body }
    }

    /// Reads the whole body as it arrived, verifies the signature over
    /// those bytes, then undoes `Content-Encoding` (gzip, deflate).
    pub async fn authenticate(&self, request: &HttpRequest, payload: web::Payload) -> Result<Signed, AwsError> {
        let raw = self.read_raw(payload).await?;
        self.verify_body(request, raw)
    }

    /// Reads a body as it arrived, up to the front's limit.
    pub async fn read_raw(&self, payload: web::Payload) -> Result<Bytes, AwsError> {
        read_limited(payload, self.max_body).await.map_err(|error| match error {
            ReadError::TooLarge => self.protocol.too_large(self.max_body),
            ReadError::Broken(message) => self.protocol.auth_error(&AuthError::Body(BodyError::Read(message))),
        })
    }

    /// [`AwsFront::authenticate`] for a body already read as it arrived
    /// (the edge reads it before it knows which front answers).
    pub fn verify_body(&self, request: &HttpRequest, raw: Bytes) -> Result<Signed, AwsError> {
        if raw.len() > self.max_body {
            return Err(self.protocol.too_large(self.max_body));
        }
        let refuse = |auth: AuthError| self.protocol.auth_error(&auth);
        let head = request_head(request).map_err(refuse)?;
        let verified = self.credentials.verify(&self.policy, &head, Some(&raw), chrono::Utc::now()).map_err(refuse)?;
        // A whole body in hand: whatever the signature promised of it is
        // checked here, before anything else reads it.
        let chunked = matches!(verified.payload, Payload::SignedChunks(_) | Payload::UnsignedChunks);
        let raw = match &verified.payload {
            // With the whole body in hand, `verify` checked any digest.
            Payload::Verified | Payload::Unsigned | Payload::Sha256(_) => raw,
            Payload::SignedChunks(_) | Payload::UnsignedChunks => {
                let decoder = ChunkedDecoder::new(&verified.payload, &head).map_err(|error| refuse(error.into()))?;
                let Some(mut decoder) = decoder else {
                    return Err(refuse(AuthError::Body(BodyError::Malformed(
                        "the chunked body has no decoder".into(),
                    ))));
                };
                let mut decoded = BytesMut::with_capacity(raw.len());
                for bytes in decoder.push(&raw).map_err(|error| refuse(error.into()))? {
                    decoded.extend_from_slice(&bytes);
                }
                decoder.finish().map_err(|error| refuse(error.into()))?;
                decoded.freeze()
            }
        };
        let body = decode_content(request, raw, chunked, self.max_body).map_err(|message| {
            AwsError::new(400, if self.is_xml() { "InvalidRequest" } else { "SerializationException" }, message)
        })?;
        Ok(Signed { principal: verified.principal, body })
    }

    fn is_xml(&self) -> bool {
        matches!(self.protocol, Protocol::S3 | Protocol::RestXml { .. })
    }

    /// Renders `error` in this front's protocol.
    pub fn error(&self, error: &AwsError) -> HttpResponse {
        self.protocol.render(error)
    }
}

/// Chunks buffered between a payload and its [`sendable_body`].
const SENDABLE_CHUNKS: usize = 8;

/// A request body as a `Send` stream (for a relay, or a store that wants
/// one), pumped from actix's thread-bound payload through a small channel:
/// bytes flow on as they arrive, and a slow reader slows the client down.
/// `broke` is set if the client's body ended in an error, so a relay can
/// tell a broken upload from an unreachable owner.
pub fn sendable_body(
    mut payload: web::Payload,
    broke: Arc<AtomicBool>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let (sender, receiver) = tokio::sync::mpsc::channel(SENDABLE_CHUNKS);
    actix_web::rt::spawn(async move {
        loop {
            let chunk = tokio::select! {
                chunk = futures::StreamExt::next(&mut payload) => chunk,
                // The owner stopped reading: stop pumping.
                () = sender.closed() => break,
            };
            let Some(chunk) = chunk else { break };
            let chunk = chunk.map_err(|error| std::io::Error::other(error.to_string()));
            let failed = chunk.is_err();
            if failed {
                broke.store(true, Ordering::Release);
            }
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
    )
}

enum ReadError {
    TooLarge,
    Broken(String),
}

async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Bytes, ReadError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ReadError::Broken(error.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Undoes the body's `Content-Encoding` (after its signature was checked
/// over the bytes as received), never past `limit` decoded bytes.
/// `aws-chunked` framing, when the payload was chunked, was undone with
/// the signature checks; claimed of a body that was not, it is refused.
pub fn decode_content(request: &HttpRequest, raw: Bytes, chunked: bool, limit: usize) -> Result<Bytes, String> {
    use std::io::Read as _;
    let mut encodings = Vec::new();
    for value in request.headers().get_all("content-encoding") {
        let value = value.to_str().map_err(|_| "the Content-Encoding header is not ASCII".to_owned())?;
        encodings.extend(value.split(',').map(|encoding| encoding.trim().to_ascii_lowercase()));
    }
    encodings.retain(|encoding| !encoding.is_empty() && encoding != "identity");
    match encodings.iter().position(|encoding| encoding == "aws-chunked") {
        Some(index) if chunked => {
            encodings.remove(index);
        }
        Some(_) => return Err("Content-Encoding aws-chunked was sent with a payload that is not chunked".into()),
        None => {}
    }
    let encoding = match encodings.as_slice() {
        [] => return Ok(raw),
        [one] => one.clone(),
        _ => return Err(format!("Content-Encoding {} is not supported", encodings.join(", "))),
    };
    let mut decoded = Vec::new();
    let read = match encoding.as_str() {
        "gzip" | "x-gzip" => {
            flate2::read::MultiGzDecoder::new(&raw[..]).take(limit as u64 + 1).read_to_end(&mut decoded)
        }
        "deflate" => flate2::read::ZlibDecoder::new(&raw[..]).take(limit as u64 + 1).read_to_end(&mut decoded),
        other => return Err(format!("Content-Encoding {other} is not supported")),
    };
    read.map_err(|error| format!("the {encoding} body cannot be decoded: {error}"))?;
    if decoded.len() > limit {
        return Err(format!("the decoded body is larger than {limit} bytes"));
    }
    Ok(Bytes::from(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(response.into_body()).await.unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[actix_web::test]
    async fn every_protocol_renders_its_own_shape_and_escapes() {
        let error = AwsError::new(404, "NoSuchKey", "key <a&b> is missing").with("Key", "a&b");
        let s3 = Protocol::S3.render(&error);
        assert_eq!(s3.status(), 404);
        let s3 = body_of(s3).await;
        assert!(s3.contains("<Error><Code>NoSuchKey</Code><Message>key &lt;a&amp;b&gt; is missing</Message><Key>a&amp;b</Key><RequestId>"), "{s3}");
        let route53 =
            body_of(Protocol::RestXml { namespace: "https://route53.amazonaws.com/doc/2013-04-01/" }.render(&error))
                .await;
        assert!(route53.contains("<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>NoSuchKey</Code>"), "{route53}");
        let json = Protocol::AwsJson10.render(&AwsError::new(
            400,
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
            "gone",
        ));
        assert!(json.headers().contains_key("x-amz-crc32"));
        let json: Value = serde_json::from_str(&body_of(json).await).unwrap();
        assert_eq!(json["__type"], "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
        let rest = Protocol::RestJson.render(&AwsError::new(404, "ResourceNotFoundException", "gone"));
        assert_eq!(rest.headers().get("x-amzn-ErrorType").unwrap(), "ResourceNotFoundException");
    }

    #[test]
    fn content_encodings_are_undone_once_and_aws_chunked_only_when_chunked() {
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(b"{\"a\":1}").unwrap();
        let gzipped = Bytes::from(gzip.finish().unwrap());
        let request = |encodings: &[&str]| {
            let mut request = actix_web::test::TestRequest::default();
            for encoding in encodings {
                request = request.append_header(("content-encoding", *encoding));
            }
            request.to_http_request()
        };
        assert_eq!(decode_content(&request(&["gzip"]), gzipped.clone(), false, 1024).unwrap(), &b"{\"a\":1}"[..]);
        assert_eq!(
            decode_content(&request(&["aws-chunked,gzip"]), gzipped.clone(), true, 1024).unwrap(),
            &b"{\"a\":1}"[..]
        );
        assert!(decode_content(&request(&["aws-chunked"]), gzipped.clone(), false, 1024).is_err());
        // A second Content-Encoding line is not ignored.
        assert!(decode_content(&request(&["gzip", "gzip"]), gzipped.clone(), false, 1024).is_err());
        assert!(decode_content(&request(&["gzip"]), gzipped, false, 4).is_err(), "decoded past the limit");
        assert!(decode_content(&request(&["br"]), Bytes::from_static(b"x"), false, 1024).is_err());
    }

    #[test]
    fn each_family_names_a_refused_signature_its_own_way() {
        let skewed =
            AuthError::Skewed { signed_at: "20150830T123600Z".into(), now: "20150830T130000Z".into(), max_minutes: 15 };
        assert_eq!(Protocol::S3.auth_error(&skewed).code, "RequestTimeTooSkewed");
        assert_eq!(Protocol::S3.auth_error(&skewed).extra["ServerTime"], "2015-08-30T13:00:00Z");
        assert_eq!(Protocol::AwsJson10.auth_error(&skewed).code, "com.amazon.coral.service#InvalidSignatureException");
        assert_eq!(Protocol::RestJson.auth_error(&skewed).status, 403);
        assert_eq!(Protocol::RestXml { namespace: "" }.auth_error(&AuthError::UnknownKey).code, "InvalidClientTokenId");
        assert_eq!(Protocol::S3.auth_error(&AuthError::UnknownKey).code, "InvalidAccessKeyId");
    }
}
