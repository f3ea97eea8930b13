//! The internal plane is closed: under `nubo up` (run in-process, every
//! listener on port 0) each service's gRPC API answers only callers that
//! present the cluster credential; the standard health check stays open
//! for orchestrators. The seven-process cluster checks the same in
//! `cluster.rs`.

use nubo::{
    config::{Config, Mode},
    launch,
};
use nubo_e2e::{ServiceName, internal_call};
use nubo_host::Shutdown;

const TOKEN: &str = "in-process-cluster-token";

#[tokio::test(flavor = "multi_thread")]
async fn every_internal_api_refuses_callers_without_the_cluster_credential() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_test(&dir.path().join("state"));
    config.cluster.token = Some(TOKEN.into());
    let shutdown = Shutdown::new();
    let (started, endpoints) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(launch::run(config, Mode::Up, &ServiceName::ALL, shutdown.clone(), move |endpoints| {
        let _ = started.send(endpoints.to_vec());
    }));
    let endpoints = endpoints.await.expect("the services start");
    let internal: Vec<_> = endpoints.iter().filter(|endpoint| endpoint.internal).collect();
    assert_eq!(internal.len(), 7, "{endpoints:?}");
    for endpoint in internal {
        let service = endpoint.service;
        assert_eq!(internal_call(service, &endpoint.url, None).await, tonic::Code::Unauthenticated, "{service}");
        assert_eq!(
            // As long as the real one, so more than the length is compared.
            internal_call(service, &endpoint.url, Some("in-process-cluster-tokeN")).await,
            tonic::Code::Unauthenticated,
            "{service}"
        );
        let answered = internal_call(service, &endpoint.url, Some(TOKEN)).await;
        assert_ne!(answered, tonic::Code::Unauthenticated, "{service} refused its own cluster's credential");
        assert_eq!(
            nubo_host::grpc::check_health(&endpoint.url).await,
            Ok(true),
            "{service}'s health check must not need the credential"
        );
    }
    shutdown.cancel();
    running.await.unwrap().expect("every service stops cleanly");
}
