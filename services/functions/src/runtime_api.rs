//! The Lambda Runtime API (`/2018-06-01/runtime/...`) served to one
//! execution environment on its own loopback port, which the environment
//! finds in `AWS_LAMBDA_RUNTIME_API`. Official runtime clients and nubo's
//! bootstraps long-poll `invocation/next`, then post the result.
//!
//! It answers as Lambda does, because AWS's clients act on the answers:
//! `202 {"status":"OK"}` for an accepted result, `400 InvalidRequestID`
//! for an invocation that is not (or no longer) in flight, `413
//! RequestEntityTooLarge` for a response past Lambda's limit (the
//! invocation then fails with `Function.ResponseSizeTooLarge`; the python
//! and Go clients exit on it), an error document built from
//! `Lambda-Runtime-Function-Error-Type` (or `Runtime.Unknown`) when an
//! error is posted without a body, and a failed invocation when a response
//! ends with the `Lambda-Runtime-Function-Error-Type` trailer, which the Go
//! client declares on every response and the Rust client on streamed ones.
//!
//! It is served with hyper on the service's runtime rather than actix: it
//! is not a public front, and one listener per environment must cost
//! nothing but a task.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, OnceLock},
    time::Instant,
};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::{
    HeaderMap, Method, Request, Response, StatusCode, body::Incoming, header::HeaderValue, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot, watch};

/// Lambda's limit on a synchronous response: 6 MiB and the 100 bytes its
/// runtime API allows beyond them, the number its errors name.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// The trailer with the error document (base64) of a response that failed
/// after it started.
const ERROR_BODY: &str = "lambda-runtime-function-error-body";
const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";

/// What the runtime is told of an invocation.
#[derive(Debug, Clone)]
pub struct InvocationInput {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_unix_ms: i64,
    pub function_arn: String,
    pub client_context: Option<String>,
    pub trace_id: String,
}

/// One invocation handed to the environment, with where to send its reply.
#[derive(Debug)]
pub struct Invocation {
    pub input: InvocationInput,
    pub reply: oneshot::Sender<Reply>,
}

/// What the runtime answered for an invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Response(Bytes),
    /// The function failed; `body` is the runtime's error document.
    Error {
        body: Bytes,
        error_type: Option<String>,
    },
}

/// State shared between an environment and its Runtime API server.
#[derive(Debug)]
pub struct Channel {
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// Set once if the runtime reports that it failed to initialise.
    pub init_error: watch::Sender<Option<Bytes>>,
    /// When the runtime first asked for work: the end of its init phase.
    pub ready_at: OnceLock<Instant>,
    /// Whether the runtime is waiting in `invocation/next` now. A runtime
    /// that replied but has not asked again may be on its way out: the
    /// python and Go clients exit when a post is refused (a 413), and
    /// Lambda then gives the next invocation a new environment rather
    /// than this one.
    pub polling: watch::Sender<bool>,
}

impl Channel {
    pub fn new() -> (Arc<Self>, mpsc::Sender<Invocation>) {
        let (sender, receiver) = mpsc::channel(1);
        let channel = Self {
            invocations: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            init_error: watch::channel(None).0,
            ready_at: OnceLock::new(),
            polling: watch::channel(false).0,
        };
        (Arc::new(channel), sender)
    }

    fn take_pending(&self, request_id: &str) -> Option<oneshot::Sender<Reply>> {
        self.pending.lock().ok()?.remove(request_id)
    }

    /// Completes an in-flight invocation: `202`, or Lambda's `400` when
    /// `request_id` names none.
    fn reply(&self, request_id: &str, reply: Reply) -> Response<Full<Bytes>> {
        self.reply_answering(request_id, reply, accepted())
    }

    /// Completes an in-flight invocation and answers the runtime with
    /// `answer`, or with Lambda's `400` when `request_id` names none.
    fn reply_answering(&self, request_id: &str, reply: Reply, answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
        match self.take_pending(request_id) {
            Some(sender) => {
                // The invoker may have given up (timeout); nothing is waiting then.
                let _ = sender.send(reply);
                answer
            }
            None => invalid_request_id(),
        }
    }
}

/// Serves the Runtime API on `listener` until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, channel: Arc<Channel>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "runtime api accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let channel = channel.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(channel.clone(), request));
            if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%error, "runtime api connection ended");
            }
        });
    }
}

/// The Runtime API's operations.
#[derive(Debug, PartialEq)]
enum Route {
    Next,
    Response(String),
    Error(String),
    InitError,
}

/// Why a request names no operation.
#[derive(Debug, PartialEq)]
enum Unrouted {
    NotFound,
    MethodNotAllowed,
}

fn route(method: &Method, path: &str) -> Result<Route, Unrouted> {
    let segments: Vec<&str> = path.strip_prefix("/2018-06-01/runtime/").ok_or(Unrouted::NotFound)?.split('/').collect();
    let (route, allowed) = match segments.as_slice() {
        ["invocation", "next"] => (Route::Next, Method::GET),
        ["invocation", id, "response"] if !id.is_empty() => (Route::Response((*id).to_owned()), Method::POST),
        ["invocation", id, "error"] if !id.is_empty() => (Route::Error((*id).to_owned()), Method::POST),
        ["init", "error"] => (Route::InitError, Method::POST),
        _ => return Err(Unrouted::NotFound),
    };
    if *method == allowed { Ok(route) } else { Err(Unrouted::MethodNotAllowed) }
}

async fn handle(channel: Arc<Channel>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match route(request.method(), request.uri().path()) {
        Ok(Route::Next) => next(&channel).await,
        Ok(Route::Response(request_id)) => invocation_response(&channel, &request_id, request).await,
        Ok(Route::Error(request_id)) => {
            let (body, error_type) = posted_error(request).await;
            channel.reply(&request_id, Reply::Error { body, error_type })
        }
        Ok(Route::InitError) => {
            let (body, _) = posted_error(request).await;
            channel.init_error.send_replace(Some(body));
            accepted()
        }
        Err(Unrouted::NotFound) => error(StatusCode::NOT_FOUND, "InvalidRequest", "unknown runtime api path"),
        Err(Unrouted::MethodNotAllowed) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "InvalidRequest", "method not allowed on this path")
        }
    };
    Ok(response)
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({ "errorType": error_type, "errorMessage": message }))
}

fn accepted() -> Response<Full<Bytes>> {
    json(StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" }))
}

fn invalid_request_id() -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID")
}

fn error_document(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).filter(|value| !value.is_empty()).map(str::to_owned)
}

/// A request body as read, up to [`MAX_RESPONSE_BYTES`].
#[derive(Debug)]
enum Body {
    Complete {
        bytes: Bytes,
        trailers: Option<HeaderMap>,
    },
    /// Past the limit; `size` is the whole body's, read to its end and
    /// dropped, since Lambda's error names it.
    TooLarge {
        size: u64,
    },
    /// The connection failed before the body ended.
    Truncated,
}

async fn read_body(mut body: Incoming) -> Body {
    let mut bytes = BytesMut::new();
    let mut size = 0u64;
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Body::Truncated;
        };
        match frame.into_data() {
            Ok(data) => {
                size += data.len() as u64;
                if size <= MAX_RESPONSE_BYTES as u64 {
                    bytes.extend_from_slice(&data);
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    if size > MAX_RESPONSE_BYTES as u64 {
        return Body::TooLarge { size };
    }
    Body::Complete { bytes: bytes.freeze(), trailers }
}

/// An error a runtime posts, and its error type header: the document as
/// sent, or, when it sent none (or one that could not be read), one built
/// from that header, as Lambda does.
async fn posted_error(request: Request<Incoming>) -> (Bytes, Option<String>) {
    let error_type = header(request.headers(), ERROR_TYPE);
    let body = match read_body(request.into_body()).await {
        Body::Complete { bytes, .. } if !bytes.is_empty() => bytes,
        _ => error_document(error_type.as_deref().unwrap_or("Runtime.Unknown"), ""),
    };
    (body, error_type)
}

async fn invocation_response(channel: &Channel, request_id: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    // Lambda knows two modes: buffered (no header) and streaming; either
    // way this synchronous invocation returns the whole body.
    if let Some(mode) = header(request.headers(), RESPONSE_MODE).filter(|mode| mode != "streaming") {
        tracing::debug!(%mode, request_id, "runtime posted an unknown response mode");
        let reply = Reply::Error {
            body: error_document("Runtime.InvalidResponseModeHeader", ""),
            error_type: Some("Runtime.InvalidResponseModeHeader".into()),
        };
        let answer = error(StatusCode::BAD_REQUEST, "InvalidFunctionResponseMode", "Invalid function response mode");
        return channel.reply_answering(request_id, reply, answer);
    }
    match read_body(request.into_body()).await {
        Body::Complete { bytes, trailers } => {
            let failure = trailers.as_ref().and_then(|trailers| {
                let error_type = header(trailers, ERROR_TYPE)?;
                let body = header(trailers, ERROR_BODY)
                    .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded).ok())
                    .filter(|body| !body.is_empty())
                    .map_or_else(|| error_document(&error_type, ""), Bytes::from);
                Some(Reply::Error { body, error_type: Some(error_type) })
            });
            channel.reply(request_id, failure.unwrap_or(Reply::Response(bytes)))
        }
        Body::TooLarge { size } => {
            let message = format!(
                "Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            );
            let reply = Reply::Error {
                body: error_document("Function.ResponseSizeTooLarge", &message),
                error_type: Some("Function.ResponseSizeTooLarge".into()),
            };
            let answer = error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            );
            channel.reply_answering(request_id, reply, answer)
        }
        // The invocation stays in flight: the runtime may post again, or
        // exit, which fails the invocation.
        Body::Truncated => error(StatusCode::BAD_REQUEST, "TruncatedHTTPRequest", "HTTP request detected as truncated"),
    }
}

/// Clears [`Channel::polling`] however `invocation/next` ends, the
/// runtime's connection dropping included.
struct Polling<'a>(&'a watch::Sender<bool>);

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

async fn next(channel: &Channel) -> Response<Full<Bytes>> {
    let _ = channel.ready_at.set(Instant::now());
    let invocation = {
        let mut invocations = channel.invocations.lock().await;
        channel.polling.send_replace(true);
        let _polling = Polling(&channel.polling);
        invocations.recv().await
    };
    let Some(invocation) = invocation else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "EnvironmentStopping", "the environment is shutting down");
    };
    let Invocation { input: invocation, reply } = invocation;
    if let Ok(mut pending) = channel.pending.lock() {
        pending.insert(invocation.request_id.clone(), reply);
    }
    let mut response = Response::new(Full::new(invocation.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set("lambda-runtime-deadline-ms", &invocation.deadline_unix_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &invocation.function_arn);
    set("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(client_context) = &invocation.client_context {
        set("lambda-runtime-client-context", client_context);
    }
    response
}

#[cfg(test)]
mod tests {
    //! The server on a loopback port, spoken to in raw HTTP/1.1, so a test
    //! can send what a client library would not (chunked bodies with
    //! trailers, unknown modes, oversized bodies).
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    struct Server {
        address: std::net::SocketAddr,
        channel: Arc<Channel>,
        invocations: mpsc::Sender<Invocation>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn server() -> Server {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (channel, invocations) = Channel::new();
        let task = tokio::spawn(serve(listener, channel.clone()));
        Server { address, channel, invocations, task }
    }

    /// Sends one request (`Connection: close`) and returns the status line's
    /// code, the head and the body.
    async fn exchange(address: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }

    fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut request = format!("POST /2018-06-01/runtime/{path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        request
    }

    /// Hands the runtime an invocation through `invocation/next`.
    async fn start_invocation(server: &Server, request_id: &str) -> (oneshot::Receiver<Reply>, String) {
        let (reply, replied) = oneshot::channel();
        let input = InvocationInput {
            request_id: request_id.into(),
            payload: Bytes::from_static(b"{\"n\":1}"),
            deadline_unix_ms: 1_800_000_000_000,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            client_context: Some("{\"custom\":{}}".into()),
            trace_id: "Root=1-00000000-000000000000000000000000".into(),
        };
        server.invocations.send(Invocation { input, reply }).await.unwrap();
        let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let (status, head, body) = exchange(server.address, next).await;
        assert_eq!((status, body.as_str()), (200, "{\"n\":1}"), "{head}");
        (replied, head.to_lowercase())
    }

    fn error_of(reply: Reply) -> (serde_json::Value, Option<String>) {
        match reply {
            Reply::Error { body, error_type } => (serde_json::from_slice(&body).unwrap(), error_type),
            Reply::Response(body) => panic!("a response, not an error: {body:?}"),
        }
    }

    #[tokio::test]
    async fn next_carries_the_invocation_and_a_response_completes_it() {
        let server = server().await;
        let (replied, head) = start_invocation(&server, "id-1").await;
        for header in [
            "lambda-runtime-aws-request-id: id-1",
            "lambda-runtime-deadline-ms: 1800000000000",
            "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:f",
            "lambda-runtime-trace-id: root=1-",
            "lambda-runtime-client-context: {\"custom\":{}}",
            "content-type: application/json",
        ] {
            assert!(head.contains(header), "{header} missing from\n{head}");
        }
        let (status, _, body) = exchange(server.address, &post("invocation/id-1/response", &[], b"\"done\"")).await;
        assert_eq!((status, body.as_str()), (202, "{\"status\":\"OK\"}"));
        assert_eq!(replied.await.unwrap(), Reply::Response(Bytes::from_static(b"\"done\"")));
        // Answered once: a second answer names no invocation in flight.
        let (status, _, body) = exchange(server.address, &post("invocation/id-1/response", &[], b"again")).await;
        assert_eq!(status, 400);
        assert_eq!(body, r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#);
    }

    #[tokio::test]
    async fn an_error_without_a_body_is_built_from_its_type() {
        let server = server().await;
        let (replied, _) = start_invocation(&server, "id-2").await;
        let request = post("invocation/id-2/error", &[("Lambda-Runtime-Function-Error-Type", "Runtime.Crashed")], b"");
        assert_eq!(exchange(server.address, &request).await.0, 202);
        let (document, error_type) = error_of(replied.await.unwrap());
        assert_eq!(document, serde_json::json!({ "errorType": "Runtime.Crashed", "errorMessage": "" }));
        assert_eq!(error_type.as_deref(), Some("Runtime.Crashed"));

        let (replied, _) = start_invocation(&server, "id-3").await;
        assert_eq!(exchange(server.address, &post("invocation/id-3/error", &[], b"")).await.0, 202);
        assert_eq!(error_of(replied.await.unwrap()).0["errorType"], "Runtime.Unknown");

        let sent = br#"{"errorType":"ValueError","errorMessage":"no","stackTrace":[]}"#;
        let (replied, _) = start_invocation(&server, "id-4").await;
        let request = post("invocation/id-4/error", &[("Lambda-Runtime-Function-Error-Type", "ValueError")], sent);
        assert_eq!(exchange(server.address, &request).await.0, 202);
        assert_eq!(
            replied.await.unwrap(),
            Reply::Error { body: Bytes::from_static(sent), error_type: Some("ValueError".into()) }
        );
    }

    #[tokio::test]
    async fn a_response_past_the_limit_is_refused_and_fails_the_invocation() {
        let server = server().await;
        let (replied, _) = start_invocation(&server, "id-5").await;
        let size = MAX_RESPONSE_BYTES + 1;
        let (status, _, body) =
            exchange(server.address, &post("invocation/id-5/response", &[], &vec![b'x'; size])).await;
        assert_eq!(status, 413);
        assert_eq!(
            body,
            r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
        );
        let (document, _) = error_of(replied.await.unwrap());
        assert_eq!(document["errorType"], "Function.ResponseSizeTooLarge");
        assert_eq!(
            document["errorMessage"],
            "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes)."
        );
        // Exactly the limit is fine.
        let (replied, _) = start_invocation(&server, "id-6").await;
        let request = post("invocation/id-6/response", &[], &vec![b'x'; MAX_RESPONSE_BYTES]);
        assert_eq!(exchange(server.address, &request).await.0, 202);
        assert!(matches!(replied.await.unwrap(), Reply::Response(body) if body.len() == MAX_RESPONSE_BYTES));
    }

    #[tokio::test]
    async fn an_error_trailer_fails_a_response_that_had_started() {
        let server = server().await;
        let (replied, _) = start_invocation(&server, "id-7").await;
        let error =
            base64::engine::general_purpose::STANDARD.encode(r#"{"errorType":"ReadError","errorMessage":"broken"}"#);
        let request = format!(
            "POST /2018-06-01/runtime/invocation/id-7/response HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             transfer-encoding: chunked\r\ntrailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n\
             5\r\npart-\r\n0\r\nLambda-Runtime-Function-Error-Type: ReadError\r\nLambda-Runtime-Function-Error-Body: {error}\r\n\r\n"
        );
        assert_eq!(exchange(server.address, request.as_bytes()).await.0, 202);
        let (document, error_type) = error_of(replied.await.unwrap());
        assert_eq!(document, serde_json::json!({ "errorType": "ReadError", "errorMessage": "broken" }));
        assert_eq!(error_type.as_deref(), Some("ReadError"));

        // Declared but empty trailers, as the Go client sends with every
        // response, leave it a success.
        let (replied, _) = start_invocation(&server, "id-8").await;
        let request = "POST /2018-06-01/runtime/invocation/id-8/response HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             transfer-encoding: chunked\r\ntrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        assert_eq!(exchange(server.address, request.as_bytes()).await.0, 202);
        assert_eq!(replied.await.unwrap(), Reply::Response(Bytes::from_static(b"ok")));
    }

    #[tokio::test]
    async fn response_modes_other_than_streaming_are_refused() {
        let server = server().await;
        let (replied, _) = start_invocation(&server, "id-9").await;
        let request = post("invocation/id-9/response", &[("Lambda-Runtime-Function-Response-Mode", "chunks")], b"x");
        let (status, _, body) = exchange(server.address, &request).await;
        assert_eq!(status, 400);
        assert!(body.contains("InvalidFunctionResponseMode"), "{body}");
        assert_eq!(error_of(replied.await.unwrap()).0["errorType"], "Runtime.InvalidResponseModeHeader");

        let (replied, _) = start_invocation(&server, "id-10").await;
        let request =
            post("invocation/id-10/response", &[("Lambda-Runtime-Function-Response-Mode", "streaming")], b"s");
        assert_eq!(exchange(server.address, &request).await.0, 202);
        assert_eq!(replied.await.unwrap(), Reply::Response(Bytes::from_static(b"s")));
    }

    #[tokio::test]
    async fn init_errors_are_kept_for_the_first_invocation() {
        let server = server().await;
        let request = post("init/error", &[("Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError")], b"");
        assert_eq!(exchange(server.address, &request).await.0, 202);
        let kept = server.channel.init_error.borrow().clone().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&kept).unwrap(),
            serde_json::json!({ "errorType": "Runtime.ImportModuleError", "errorMessage": "" })
        );
    }

    #[tokio::test]
    async fn polling_is_seen_while_the_runtime_waits_in_next() {
        let server = server().await;
        let mut polling = server.channel.polling.subscribe();
        let address = server.address;
        let waiting = tokio::spawn(async move {
            exchange(address, b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n").await
        });
        tokio::time::timeout(Duration::from_secs(5), polling.wait_for(|polling| *polling)).await.unwrap().unwrap();
        let (reply, _replied) = oneshot::channel();
        let input = InvocationInput {
            request_id: "id-11".into(),
            payload: Bytes::new(),
            deadline_unix_ms: 0,
            function_arn: String::new(),
            client_context: None,
            trace_id: String::new(),
        };
        server.invocations.send(Invocation { input, reply }).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), polling.wait_for(|polling| !*polling)).await.unwrap().unwrap();
        waiting.abort();
    }

    #[test]
    fn routes_are_parsed_once() {
        assert_eq!(route(&Method::GET, "/2018-06-01/runtime/invocation/next"), Ok(Route::Next));
        assert_eq!(route(&Method::POST, "/2018-06-01/runtime/invocation/a/response"), Ok(Route::Response("a".into())));
        assert_eq!(route(&Method::POST, "/2018-06-01/runtime/invocation/a/error"), Ok(Route::Error("a".into())));
        assert_eq!(route(&Method::POST, "/2018-06-01/runtime/init/error"), Ok(Route::InitError));
        assert_eq!(route(&Method::POST, "/2018-06-01/runtime/invocation/next"), Err(Unrouted::MethodNotAllowed));
        assert_eq!(route(&Method::GET, "/2018-06-01/runtime/init/error"), Err(Unrouted::MethodNotAllowed));
        assert_eq!(route(&Method::POST, "/2018-06-01/runtime/invocation//response"), Err(Unrouted::NotFound));
        assert_eq!(route(&Method::GET, "/2020-01-01/extension/event/next"), Err(Unrouted::NotFound));
    }
}
