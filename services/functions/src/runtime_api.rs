//! The Lambda Runtime API (`/2018-06-01/runtime/...`) served to one
//! execution environment on its own loopback port, which the environment
//! finds in `AWS_LAMBDA_RUNTIME_API`. Official runtime clients and nubo's
//! bootstraps long-poll `invocation/next`, then post the result.
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

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot, watch};

/// Lambda's limit on a synchronous response (6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

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
}

impl Channel {
    pub fn new() -> (Arc<Self>, mpsc::Sender<Invocation>) {
        let (sender, receiver) = mpsc::channel(1);
        let channel = Self {
            invocations: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            init_error: watch::channel(None).0,
            ready_at: OnceLock::new(),
        };
        (Arc::new(channel), sender)
    }

    fn take_pending(&self, request_id: &str) -> Option<oneshot::Sender<Reply>> {
        self.pending.lock().ok()?.remove(request_id)
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

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({ "errorType": error_type, "errorMessage": message }))
}

fn accepted() -> Response<Full<Bytes>> {
    json(StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" }))
}

async fn handle(channel: Arc<Channel>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let Some(route) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(error(StatusCode::NOT_FOUND, "InvalidRequest", "unknown runtime api path"));
    };
    let segments: Vec<&str> = route.split('/').collect();
    let response = match (request.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(&channel).await,
        (&Method::POST, ["invocation", request_id, "response"]) => {
            let request_id = (*request_id).to_owned();
            match read_body(request).await {
                Ok(body) => respond(&channel, &request_id, Reply::Response(body)),
                Err(()) => {
                    let body = serde_json::json!({
                        "errorType": "Function.ResponseSizeTooLarge",
                        "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
                    });
                    respond(
                        &channel,
                        &request_id,
                        Reply::Error { body: Bytes::from(body.to_string()), error_type: None },
                    );
                    error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "response payload too large")
                }
            }
        }
        (&Method::POST, ["invocation", request_id, "error"]) => {
            let request_id = (*request_id).to_owned();
            let error_type = error_type(&request);
            let body = read_body(request).await.unwrap_or_default();
            respond(&channel, &request_id, Reply::Error { body, error_type })
        }
        (&Method::POST, ["init", "error"]) => {
            let error_type = error_type(&request);
            let mut body = read_body(request).await.unwrap_or_default();
            if body.is_empty() {
                let kind = error_type.unwrap_or_else(|| "Runtime.Unknown".into());
                body = Bytes::from(serde_json::json!({ "errorType": kind, "errorMessage": "" }).to_string());
            }
            channel.init_error.send_replace(Some(body));
            accepted()
        }
        _ => error(StatusCode::NOT_FOUND, "InvalidRequest", "unknown runtime api path"),
    };
    Ok(response)
}

fn error_type(request: &Request<Incoming>) -> Option<String> {
    request.headers().get("lambda-runtime-function-error-type").and_then(|value| value.to_str().ok()).map(str::to_owned)
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, ()> {
    Limited::new(request.into_body(), MAX_RESPONSE_BYTES).collect().await.map(|body| body.to_bytes()).map_err(|_| ())
}

fn respond(channel: &Channel, request_id: &str, reply: Reply) -> Response<Full<Bytes>> {
    match channel.take_pending(request_id) {
        Some(sender) => {
            // The invoker may have given up (timeout); nothing is waiting then.
            let _ = sender.send(reply);
            accepted()
        }
        None => error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID"),
    }
}

async fn next(channel: &Channel) -> Response<Full<Bytes>> {
    let _ = channel.ready_at.set(Instant::now());
    let invocation = {
        let mut invocations = channel.invocations.lock().await;
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
        if let Ok(value) = hyper::header::HeaderValue::from_str(value) {
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
