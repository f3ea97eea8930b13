//! `nubo up` in-process, every listener on port 0: all seven services come
//! up linked to each other's real addresses, answer their health checks,
//! and stop cleanly on shutdown.

use nubo::{
    config::{Config, Mode},
    launch,
};
use nubo_host::{ServiceName, Shutdown};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn http_status(url: &str, path: &str) -> String {
    let address = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("the service listens");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .expect("the request is sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("a response");
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_runs_in_one_process_on_port_zero() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_test(&dir.path().join("state"));
    let shutdown = Shutdown::new();
    let (started, endpoints) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(launch::run(config, Mode::Up, &ServiceName::ALL, shutdown.clone(), move |endpoints| {
        let _ = started.send(endpoints.to_vec());
    }));
    let endpoints = endpoints.await.expect("the services start");
    let public: Vec<_> = endpoints.iter().filter(|endpoint| !endpoint.internal).collect();
    assert_eq!(
        public.len(),
        12,
        "seven services, the edge, S3 and distributions over HTTPS, S3 websites and DNS: {endpoints:?}"
    );
    let dns = public.iter().find(|endpoint| endpoint.url.starts_with("dns://")).expect("DNS is served");
    assert!(!dns.url.ends_with(":0"), "DNS bound a real port");
    // HTTPS answers the same routes; this probe speaks plain HTTP.
    for endpoint in public.into_iter().filter(|endpoint| endpoint.url.starts_with("http://")) {
        assert!(!endpoint.url.ends_with(":0"), "{} bound a real port", endpoint.service);
        assert_eq!(http_status(&endpoint.url, "/health").await, "HTTP/1.0 200 OK", "{}", endpoint.url);
        let metrics = http_status(&endpoint.url, "/metrics").await;
        assert_eq!(metrics, "HTTP/1.0 200 OK", "{}", endpoint.url);
    }
    shutdown.cancel();
    running.await.unwrap().expect("every service stops cleanly");
}
