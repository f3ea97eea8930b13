//! The HTTP front every service shares: an actix-web server on a pre-bound
//! listener, with `GET /health`, `GET /metrics` and request metrics around
//! the service's own routes, stopped by the shared shutdown. Requests are
//! counted by the AWS operation their front named
//! ([`crate::front::name_operation`]), else by the matched route.

use std::time::Instant;

use actix_web::{
    App, HttpMessage as _, HttpResponse, HttpServer,
    dev::{Service as _, ServiceRequest},
    web,
};

use crate::{
    Shutdown,
    front::OperationName,
    metrics::{Metrics, RequestLabels},
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
    serve_with(service, listener, None, workers, metrics, shutdown, routes).await
}

/// [`serve`] over TLS with `tls` when it is given.
pub async fn serve_with<F>(
    service: &'static str,
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
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
                let metrics = metrics.clone();
                let response = next.call(request);
                async move {
                    let response = response.await?;
                    let operation = response
                        .request()
                        .extensions()
                        .get::<OperationName>()
                        .map(|name| name.0.to_owned())
                        .or_else(|| response.request().match_pattern())
                        .unwrap_or_else(|| "unmatched".to_owned());
                    let labels = RequestLabels { service, operation, status: response.status().as_u16() };
                    metrics.observe_request(labels, started.elapsed().as_secs_f64());
                    Ok(response)
                }
            })
            .route("/health", web::get().to(health))
            .route("/metrics", web::get().to(render_metrics))
            .configure(routes.clone())
    })
    .workers(workers.max(1))
    // No Nagle stall between a response's head and body writes.
    .tcp_nodelay(true)
    .disable_signals()
    .shutdown_timeout(5);
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    }
    .run();
    tracing::debug!(service, %address, "http listening");
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
