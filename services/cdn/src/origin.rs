//! Fetching from an origin as a viewer's proxy would, over HTTP/1.1 with
//! reqwest.
//!
//! - One client per kind of origin (S3 REST, S3 website, custom) and pair
//!   of timeouts (reqwest sets them per client), each with its own pool; redirects are
//!   never followed, bodies never decoded, proxies from the environment
//!   never used: the origin's bytes are what the viewer gets.
//! - CloudFront's timeouts: the connection timeout bounds each connection
//!   attempt, the response timeout the wait for the head and each wait
//!   between body bytes (an expired wait is a 504 to the viewer); `GET`
//!   and `HEAD` are attempted again up to the origin's connection attempts.
//! - A response whose head is malformed (conflicting `Content-Length` and
//!   `Transfer-Encoding`, a head too large, what hyper itself refuses:
//!   bad framing, a split response's conflicting lengths) is an error, a
//!   502; so is a body that ends before its `Content-Length` or breaks its
//!   chunking. The caller stores nothing from a failed fetch. Bytes an
//!   origin sends past a response's end never become a response: hyper
//!   drops a connection that carries them.
//! - S3 origins with origin access control get their requests signed with
//!   SigV4 (service `s3`, unsigned payload) by the key pair the cdn was
//!   given: storage verifies SigV4 against its configured access keys and
//!   lets the bucket's owner (and what its policy grants) read, so a
//!   private bucket serves the distribution and nobody else. Without
//!   origin access control, S3 and website origins are read anonymously,
//!   as CloudFront reads them.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, HeaderValue, Method};
use tokio::time::Sleep;

use crate::site::{Origin, OriginKind};

/// The most header bytes an origin's response may carry.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// No connection could be made (refused, reset, no route).
    #[error("the origin cannot be reached: {0}")]
    Unreachable(String),
    /// The origin did not answer, or stopped sending, in time.
    #[error("the origin did not answer in time")]
    Timeout,
    /// What the origin sent is not a well-formed HTTP response.
    #[error("the origin's response is malformed: {0}")]
    Malformed(String),
}

impl OriginError {
    /// The status CloudFront answers the viewer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Timeout => 504,
            Self::Unreachable(_) | Self::Malformed(_) => 502,
        }
    }

    /// A `Cache-Status` detail naming the failure.
    pub fn detail(&self) -> &'static str {
        match self {
            Self::Timeout => "origin-timeout",
            Self::Unreachable(_) => "origin-unreachable",
            Self::Malformed(_) => "origin-malformed",
        }
    }
}

/// The key pair S3 requests with origin access control are signed with.
#[derive(Clone)]
pub struct Signer {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("access_key_id", &self.access_key_id).field("region", &self.region).finish()
    }
}

/// A request body on its way to the origin.
pub enum RequestBody {
    Empty,
    Bytes(Bytes),
    /// The viewer's body, relayed as it arrives.
    Stream(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>),
}

/// What to ask the origin.
pub struct Fetch {
    pub method: Method,
    /// The viewer's path (with its leading `/`) and `?query` if any; the
    /// origin path is put before it here.
    pub path_and_query: String,
    /// The header to send, as the policies selected it; `Host` and the
    /// origin's custom headers are set here.
    pub headers: HeaderMap,
    pub body: RequestBody,
}

/// A response whose head has arrived.
pub struct Fetched {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: OriginBody,
    /// When the request was sent and the head received (RFC 9111 §4.2.3).
    pub request_time: SystemTime,
    pub response_time: SystemTime,
}

/// The origins' clients; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    clients: Mutex<HashMap<(Kind, Duration, Duration), reqwest::Client>>,
    signer: Option<Signer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    S3,
    Website,
    Custom,
}

impl Origins {
    /// Clients for every origin; S3 origins with origin access control are
    /// signed by `signer` (without one they are read anonymously).
    pub fn new(signer: Option<Signer>) -> Self {
        Self { inner: Arc::new(Inner { clients: Mutex::default(), signer }) }
    }

    fn client(&self, origin: &Origin) -> Result<reqwest::Client, OriginError> {
        let kind = match origin.kind {
            OriginKind::S3 { .. } => Kind::S3,
            OriginKind::S3Website { .. } => Kind::Website,
            OriginKind::Custom => Kind::Custom,
        };
        let connect = origin.connection_timeout.max(Duration::from_millis(1));
        let read = origin.read_timeout.max(Duration::from_millis(1));
        let mut clients = self.inner.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&(kind, connect, read)) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .default_headers(HeaderMap::new())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(5))
            .http1_only()
            .build()
            .map_err(|error| OriginError::Unreachable(error.to_string()))?;
        clients.insert((kind, connect, read), client.clone());
        Ok(client)
    }

    /// Sends `request` to `origin` and waits for the head of its response.
    pub async fn fetch(&self, origin: &Origin, request: Fetch) -> Result<Fetched, OriginError> {
        let client = self.client(origin)?;
        let url = format!("{}{}{}", origin.base_url, origin.origin_path, request.path_and_query);
        let mut headers = request.headers;
        for (name, value) in &origin.custom_headers {
            if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
            {
                headers.insert(name, value);
            }
        }
        if !headers.contains_key(http::header::HOST)
            && let Ok(host) = HeaderValue::from_str(&origin.host)
        {
            headers.insert(http::header::HOST, host);
        }
        // Origin access control reads the bucket as the distribution; a
        // viewer's write is passed on unsigned, so the bucket's own policy
        // decides it, as with a bucket policy that grants CloudFront only
        // s3:GetObject.
        let reads = matches!(request.method, http::Method::GET | http::Method::HEAD | http::Method::OPTIONS);
        if let OriginKind::S3 { origin_access_control: true, .. } = origin.kind
            && reads
            && let Some(signer) = &self.inner.signer
        {
            sign_s3(signer, &request.method, &url, &mut headers);
        }
        // A body can be sent once; only bodiless requests are tried again.
        let (mut body, attempts) = match request.body {
            RequestBody::Empty => (None, origin.connection_attempts.clamp(1, 3)),
            RequestBody::Bytes(bytes) => (Some(reqwest::Body::from(bytes)), 1),
            RequestBody::Stream(receiver) => {
                (Some(reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(receiver))), 1)
            }
        };
        let retryable = request.method == Method::GET || request.method == Method::HEAD;
        let mut last = OriginError::Timeout;
        for attempt in 1..=attempts {
            let mut builder = client.request(request.method.clone(), &url).headers(headers.clone());
            if let Some(body) = body.take() {
                builder = builder.body(body);
            }
            let request_time = SystemTime::now();
            let sent = tokio::time::timeout(origin.connection_timeout + origin.read_timeout, builder.send()).await;
            let error = match sent {
                Ok(Ok(response)) => {
                    return accept(response, request_time, origin.read_timeout, request.method == Method::HEAD);
                }
                Ok(Err(error)) if error.is_connect() && error.is_timeout() => OriginError::Timeout,
                Ok(Err(error)) if error.is_connect() => OriginError::Unreachable(source_text(&error)),
                Ok(Err(error)) if error.is_timeout() => OriginError::Timeout,
                Ok(Err(error)) => {
                    // The origin answered with something that is not HTTP,
                    // or closed the connection before a head.
                    let text = source_text(&error);
                    if text.contains("connection closed") || text.contains("reset") {
                        OriginError::Unreachable(text)
                    } else {
                        return Err(OriginError::Malformed(text));
                    }
                }
                Err(_) => OriginError::Timeout,
            };
            tracing::debug!(url = %url, attempt, error = %error, "origin fetch failed");
            last = error;
            if !retryable {
                break;
            }
        }
        Err(last)
    }
}

/// The innermost cause's text, which names what hyper refused.
fn source_text(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Checks a response head and wraps its body.
fn accept(
    response: reqwest::Response,
    request_time: SystemTime,
    read_timeout: Duration,
    head: bool,
) -> Result<Fetched, OriginError> {
    let response_time = SystemTime::now();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    check_head(&headers)?;
    let announced = content_length(&headers)?;
    // A HEAD's, a 204's and a 304's length describes a body not sent.
    let bodiless = head || status == 204 || status == 304 || status < 200;
    let mut body =
        OriginBody::new(Box::pin(response.bytes_stream()), read_timeout, if bodiless { None } else { announced });
    body.announced = announced;
    Ok(Fetched { status, headers, body, request_time, response_time })
}

/// RFC 9112 §6.3: a response with both `Transfer-Encoding` and
/// `Content-Length` may be an attempt at request smuggling or response
/// splitting, and an intermediary ought to treat it as an error.
pub fn check_head(headers: &HeaderMap) -> Result<(), OriginError> {
    if headers.contains_key(http::header::TRANSFER_ENCODING) && headers.contains_key(http::header::CONTENT_LENGTH) {
        return Err(OriginError::Malformed("both Transfer-Encoding and Content-Length".into()));
    }
    let size: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if size > MAX_RESPONSE_HEAD_BYTES {
        return Err(OriginError::Malformed(format!("a head of {size} bytes")));
    }
    Ok(())
}

/// The one `Content-Length` of a response; differing values are refused.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, OriginError> {
    let mut length = None;
    for value in headers.get_all(http::header::CONTENT_LENGTH) {
        for member in value.to_str().unwrap_or("").split(',') {
            let parsed: u64 =
                member.trim().parse().map_err(|_| OriginError::Malformed("an invalid Content-Length".into()))?;
            if length.is_some_and(|known| known != parsed) {
                return Err(OriginError::Malformed("conflicting Content-Length values".into()));
            }
            length = Some(parsed);
        }
    }
    Ok(length)
}

/// Signs an S3 request as origin access control does.
fn sign_s3(signer: &Signer, method: &Method, url: &str, headers: &mut HeaderMap) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    // The viewer's own credentials and signed fields do not reach S3: the
    // request is the distribution's.
    headers.remove(http::header::AUTHORIZATION);
    let viewer_amz: Vec<http::HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with("x-amz-")).cloned().collect();
    for name in viewer_amz {
        headers.remove(name);
    }
    let host = headers.get(http::header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let credentials = aws_credential_types::Credentials::new(
        &signer.access_key_id,
        &signer.secret_access_key,
        None,
        None,
        "cloudfront-origin-access-control",
    );
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let Ok(params) = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&signer.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
    else {
        return;
    };
    let Ok(request) = SignableRequest::new(
        method.as_str(),
        url,
        [("host", host.as_str())].into_iter(),
        SignableBody::UnsignedPayload,
    ) else {
        return;
    };
    let Ok(output) = sign(request, &params.into()) else { return };
    let (instructions, _) = output.into_parts();
    let (signed, _) = instructions.into_parts();
    for header in signed {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(header.name().as_bytes()), HeaderValue::from_str(header.value()))
        {
            headers.insert(name, value);
        }
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An origin's body: each wait for bytes bounded by the response timeout,
/// and its length checked against its `Content-Length`.
pub struct OriginBody {
    stream: Option<ByteStream>,
    read_timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    expected: Option<u64>,
    received: u64,
    announced: Option<u64>,
}

impl OriginBody {
    fn new(stream: ByteStream, read_timeout: Duration, expected: Option<u64>) -> Self {
        Self {
            stream: Some(stream),
            read_timeout,
            sleep: Box::pin(tokio::time::sleep(read_timeout)),
            expected,
            received: 0,
            announced: expected,
        }
    }

    /// A body with nothing in it (a `HEAD`'s, a `304`'s).
    pub fn empty() -> Self {
        Self {
            stream: None,
            read_timeout: Duration::ZERO,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            expected: None,
            received: 0,
            announced: None,
        }
    }

    /// The length of the body that follows, when announced.
    pub fn expected_len(&self) -> Option<u64> {
        self.expected
    }

    /// The `Content-Length` the origin announced (for a `HEAD`, the length
    /// a `GET` would get).
    pub fn announced_len(&self) -> Option<u64> {
        self.announced
    }
}

impl Stream for OriginBody {
    type Item = Result<Bytes, OriginError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(stream) = this.stream.as_mut() else { return Poll::Ready(None) };
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.received += bytes.len() as u64;
                let deadline = tokio::time::Instant::now() + this.read_timeout;
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.stream = None;
                let error =
                    if error.is_timeout() { OriginError::Timeout } else { OriginError::Malformed(source_text(&error)) };
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                this.stream = None;
                match this.expected {
                    Some(expected) if expected != this.received => Poll::Ready(Some(Err(OriginError::Malformed(
                        format!("a body of {} bytes where Content-Length says {expected}", this.received),
                    )))),
                    _ => Poll::Ready(None),
                }
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.stream = None;
                    Poll::Ready(Some(Err(OriginError::Timeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

use std::future::Future as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn conflicting_framing_is_malformed() {
        assert!(check_head(&map(&[("content-length", "5"), ("transfer-encoding", "chunked")])).is_err());
        assert!(check_head(&map(&[("content-length", "5")])).is_ok());
        assert_eq!(content_length(&map(&[("content-length", "5"), ("content-length", "5")])), Ok(Some(5)));
        assert!(content_length(&map(&[("content-length", "5"), ("content-length", "6")])).is_err());
        assert!(content_length(&map(&[("content-length", "5, 6")])).is_err());
        assert!(content_length(&map(&[("content-length", "-1")])).is_err());
        assert_eq!(content_length(&map(&[])), Ok(None));
    }

    #[test]
    fn huge_heads_are_malformed() {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&"x".repeat(8 * 1024)).unwrap_or(HeaderValue::from_static(""));
        for index in 0..10 {
            headers.insert(
                http::HeaderName::from_bytes(format!("x-big-{index}").as_bytes()).unwrap_or(http::header::VIA),
                value.clone(),
            );
        }
        assert!(matches!(check_head(&headers), Err(OriginError::Malformed(_))));
    }

    #[test]
    fn failures_map_to_cloudfront_statuses() {
        assert_eq!(OriginError::Timeout.status(), 504);
        assert_eq!(OriginError::Unreachable("refused".into()).status(), 502);
        assert_eq!(OriginError::Malformed("bad".into()).status(), 502);
    }

    #[test]
    fn origin_access_control_signs_as_the_distribution() {
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            region: "us-east-1".into(),
        };
        let mut headers =
            map(&[("host", "site.s3.localhost"), ("authorization", "Basic dmlld2Vy"), ("x-amz-meta-x", "1")]);
        sign_s3(&signer, &Method::GET, "http://127.0.0.1:9000/index.html", &mut headers);
        let authorization = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or_default();
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{authorization}");
        assert!(authorization.contains("/us-east-1/s3/aws4_request"));
        assert_eq!(headers.get("x-amz-content-sha256").map(|value| value.as_bytes()), Some(&b"UNSIGNED-PAYLOAD"[..]));
        assert!(!headers.contains_key("x-amz-meta-x"));
    }
}
