//! The HTTP front every service shares: an actix-web server on a pre-bound
//! listener, with `GET /health`, `GET /metrics`, request metrics and access
//! logs around the service's own routes, stopped by the shared shutdown.

use std::time::Instant;

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    dev::{Service as _, ServiceRequest},
    http::StatusCode,
    web,
};

use crate::{
    Shutdown,
    metrics::{Metrics, RequestLabels},
    sigv4::{AuthError, Credentials, Identity, SignedRequest},
};

/// Serves `routes` plus `/health` and `/metrics` until `shutdown`.
///
/// `workers` is the number of actix worker threads; the public fronts use
/// one per core, small internal fronts use one.
pub async fn serve<F>(
    service: &'static str,
    listener: std::net::TcpListener,
    workers: usize,
    metrics: Metrics,
    shutdown: Shutdown,
    routes: F,
) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new()
            .app_data(web::Data::new(metrics.clone()))
            .wrap_fn(move |request: ServiceRequest, next| {
                let started = Instant::now();
                let method = request.method().to_string();
                let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                let metrics = metrics.clone();
                let response = next.call(request);
                async move {
                    let response = response.await?;
                    let status = response.status().as_u16();
                    metrics.observe_request(RequestLabels { method, route, status }, started.elapsed().as_secs_f64());
                    Ok(response)
                }
            })
            .route("/health", web::get().to(health))
            .route("/metrics", web::get().to(render_metrics))
            .configure(routes.clone())
    })
    .workers(workers.max(1))
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    tracing::info!(service, %address, "http listening");
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn render_metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(metrics.render())
}

/// Checks the SigV4 signature of an actix request whose body was read.
pub fn verify_sigv4(
    credentials: &Credentials,
    request: &HttpRequest,
    body: &[u8],
    encode_path_twice: bool,
) -> Result<Identity, AuthError> {
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?)))
        .collect();
    let signed = SignedRequest {
        method: request.method().as_str(),
        raw_path: request.uri().path(),
        raw_query: request.uri().query().unwrap_or(""),
        headers,
        body,
        encode_path_twice,
    };
    credentials.verify(&signed, chrono::Utc::now())
}

/// An error in the shape of AWS REST-JSON services (Lambda, API Gateway):
/// the error name in `x-amzn-ErrorType`, the message in the JSON body.
pub fn rest_json_error(status: u16, code: &str, message: &str, extra: serde_json::Value) -> HttpResponse {
    let mut body = serde_json::json!({ "message": message });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .insert_header(("x-amzn-ErrorType", code))
        .insert_header(("x-amzn-RequestId", request_id()))
        .json(body)
}

/// A fresh request id in the UUID form AWS uses.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
