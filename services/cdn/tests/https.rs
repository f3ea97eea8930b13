//! The cdn's HTTPS viewer listener, through `run` on 127.0.0.1 port 0: it
//! answers with the self-signed certificate it keeps under the state
//! directory, or with the configured PEM pair when there is one.

use std::{path::Path, time::Duration};

use nubo_host::{Context, Links, Listeners, Shutdown};

/// A deployment whose other services are nowhere: the listener answers
/// without them.
fn context(state_dir: &Path) -> Context {
    let nowhere = "http://127.0.0.1:9".to_owned();
    Context {
        state_dir: state_dir.to_owned(),
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        credentials: nubo_host::sigv4::Credentials::new("000000000000").with_root_key("test", "test"),
        cluster: nubo_proto::ClusterToken::new("a-cluster-secret-of-length").expect("a valid token"),
        function_credentials: None,
        links: Links {
            data: nowhere.clone(),
            storage: nowhere.clone(),
            functions: nowhere.clone(),
            gateway: nowhere.clone(),
            auth: nowhere.clone(),
            cdn: nowhere.clone(),
            dns: nowhere,
        },
    }
}

/// The cdn running on ports of its own until its shutdown is cancelled.
struct Cdn {
    https: u16,
    shutdown: Shutdown,
    served: tokio::task::JoinHandle<Result<(), nubo_host::ServeError>>,
}

impl Cdn {
    fn start(state_dir: &Path, config: nubo_cdn::Config) -> Self {
        let config = nubo_cdn::Config { http_port: 0, grpc_port: 0, https_port: 0, ..config };
        let loopback = std::net::Ipv4Addr::LOCALHOST.into();
        let listeners = Listeners::bind(loopback, &config.ports()).expect("ports on 127.0.0.1");
        let https = listeners.extra.iter().find(|(name, _)| *name == nubo_cdn::HTTPS_LISTENER);
        let https = https.expect("the cdn asks for an HTTPS listener").1.local_addr().expect("a bound port").port();
        let shutdown = Shutdown::new();
        let served = tokio::spawn(nubo_cdn::run(context(state_dir), config, listeners, shutdown.clone()));
        Self { https, shutdown, served }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the cdn stops")
            .expect("the cdn task ends")
            .expect("the cdn served without error");
    }
}

/// A client trusting only `pem`.
fn client(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("a PEM certificate"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// Sends until the listener answers: `run` starts its servers as it goes.
async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    for _ in 0..50 {
        match client.get(url).send().await {
            Err(error) if error.is_connect() && !format!("{error:?}").contains("certificate") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            outcome => return outcome,
        }
    }
    client.get(url).send().await
}

#[actix_web::test]
async fn the_https_listener_presents_the_self_signed_certificate_it_keeps() {
    let state = tempfile::tempdir().unwrap();
    let cdn = Cdn::start(state.path(), nubo_cdn::Config::default());
    let path = nubo_cdn::tls::self_signed_path(state.path());
    let https = cdn.https;
    for _ in 0..50 {
        if path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pem = std::fs::read(&path).expect("the self-signed certificate is kept under the state directory");
    let client = client(&pem);

    let health = get(&client, &format!("https://127.0.0.1:{https}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let viewer = get(&client, &format!("https://127.0.0.1:{https}/index.html")).await.unwrap();
    assert_eq!(viewer.status(), 403, "the viewer routes answer over HTTPS too");
    assert_eq!(viewer.headers()["x-cache"], "Error from cloudfront");
    cdn.stop().await;

    // A restart presents the same certificate, so a viewer trusts it once.
    let cdn = Cdn::start(state.path(), nubo_cdn::Config::default());
    let https = cdn.https;
    let health = get(&client, &format!("https://127.0.0.1:{https}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(std::fs::read(&path).unwrap(), pem);
    cdn.stop().await;
}

#[actix_web::test]
async fn a_configured_pem_pair_is_the_certificate_viewers_get() {
    let state = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["cdn.example.test".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let (certificate, key) = (state.path().join("configured.pem"), state.path().join("configured-key.pem"));
    std::fs::write(&certificate, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let config =
        nubo_cdn::Config { tls_certificate: Some(certificate), tls_key: Some(key), ..nubo_cdn::Config::default() };
    let cdn = Cdn::start(state.path(), config);
    let https = cdn.https;

    let trusting_it = client(made.cert.pem().as_bytes());
    let health = get(&trusting_it, &format!("https://127.0.0.1:{https}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(!nubo_cdn::tls::self_signed_path(state.path()).exists(), "nothing self-signed is made");

    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let trusting_another = client(other.cert.pem().as_bytes());
    let refused = trusting_another.get(format!("https://127.0.0.1:{https}/health")).send().await;
    assert!(refused.is_err(), "the listener presents the configured certificate, no other");
    cdn.stop().await;
}

#[actix_web::test]
async fn a_half_configured_pair_stops_the_service_with_a_clear_error() {
    let state = tempfile::tempdir().unwrap();
    let config = nubo_cdn::Config { tls_certificate: Some(state.path().join("c.pem")), ..nubo_cdn::Config::default() };
    let config = nubo_cdn::Config { http_port: 0, grpc_port: 0, https_port: 0, ..config };
    let listeners = Listeners::bind("127.0.0.1".parse().unwrap(), &config.ports()).unwrap();
    let error = nubo_cdn::run(context(state.path()), config, listeners, Shutdown::new()).await.unwrap_err();
    assert!(error.to_string().contains("cdn.tls_certificate and cdn.tls_key"), "{error}");
}
