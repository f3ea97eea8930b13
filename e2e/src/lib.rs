//! Shared fixtures of the end-to-end suite: starting nubo as a user does
//! (`nubo up`, or one `nubo serve` process per service), AWS SDK clients
//! pointed at it, deployment packages built from `fixtures/`, and SigV4
//! signing for requests an SDK would never send.

pub mod auth;
pub mod cdn;
pub mod cloudfront;
pub mod compose;
pub mod dns;
pub mod load;

use std::{
    collections::BTreeMap,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime},
};

pub use nubo_host::ServiceName;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

/// The `nubo` binary under test: `$NUBO_BIN`, or the workspace's debug build.
pub fn nubo_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NUBO_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug/nubo");
    assert!(binary.exists(), "{} is missing: run `cargo build --bin nubo` first (make test does)", binary.display());
    binary
}

/// A port free right now on loopback, for a server told its port rather
/// than binding port 0. It is taken from below the kernel's ephemeral
/// range, so a listener another test binds on port 0 (or a client's local
/// end) cannot take it before the server binds it, and it is never handed
/// out twice in one test process.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    const LOW: u16 = 10_000;
    if ephemeral_low > LOW + 1_000 {
        let span = u32::from(ephemeral_low - LOW);
        let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
            ^ std::process::id().wrapping_mul(2_654_435_761);
        let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for step in 0..span {
            let port = LOW + ((seed.wrapping_add(step)) % span) as u16;
            if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                given.insert(port);
                return port;
            }
        }
    }
    std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The ports one service listens on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub grpc: u16,
    /// The gateway's AWS edge.
    pub edge: Option<u16>,
    /// The storage service's S3 API, or the cdn's viewers, over HTTPS.
    pub https: Option<u16>,
    /// The storage service's website endpoint.
    pub website: Option<u16>,
    /// The dns service's authoritative DNS (UDP and TCP).
    pub dns: Option<u16>,
}

impl Ports {
    /// A [`free_port`] for every listener of `service`.
    pub fn free(service: ServiceName) -> Self {
        Self {
            http: free_port(),
            grpc: free_port(),
            edge: (service == ServiceName::Gateway).then(free_port),
            https: matches!(service, ServiceName::Storage | ServiceName::Cdn).then(free_port),
            website: (service == ServiceName::Storage).then(free_port),
            dns: (service == ServiceName::Dns).then(free_port),
        }
    }

    /// The `NUBO_*` variables that put a service on these ports.
    pub fn env(&self, service: ServiceName) -> Vec<(String, String)> {
        let section = service.as_str().to_uppercase();
        let mut env = vec![
            (format!("NUBO_{section}__HTTP_PORT"), self.http.to_string()),
            (format!("NUBO_{section}__GRPC_PORT"), self.grpc.to_string()),
        ];
        if let Some(edge) = self.edge {
            env.push((format!("NUBO_{section}__EDGE_PORT"), edge.to_string()));
        }
        if let Some(https) = self.https {
            env.push((format!("NUBO_{section}__HTTPS_PORT"), https.to_string()));
        }
        if let Some(website) = self.website {
            env.push((format!("NUBO_{section}__WEBSITE_PORT"), website.to_string()));
        }
        if let Some(dns) = self.dns {
            env.push((format!("NUBO_{section}__DNS_PORT"), dns.to_string()));
        }
        env
    }
}

/// A running nubo process, stopped (SIGKILL) when dropped.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    pub fn spawn(args: &[&str], env: &[(String, String)], log: PathBuf) -> Self {
        Self::spawn_in(Path::new("."), args, env, log)
    }

    /// Starts nubo with `directory` as its working directory.
    pub fn spawn_in(directory: &Path, args: &[&str], env: &[(String, String)], log: PathBuf) -> Self {
        let log_file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(nubo_binary())
            .current_dir(directory)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("a log file"))
            .stderr(log_file)
            .spawn()
            .expect("nubo starts");
        Self { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id (for benchmarks that read its `/proc` entries).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Asks the process to stop (SIGTERM) and waits for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.wait_for_exit()
    }

    fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("nubo did not stop within 15 s of the signal\n{}", self.log());
            }
            // A synchronous wait on a child process, outside any hot path.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Interrupts the process (SIGINT, as Ctrl-C does) and waits for it.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        self.wait_for_exit()
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `nubo up` to print its banner (every listener bound).
async fn wait_for_banner(process: &mut Process) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = process.log();
        if log.contains("Press Ctrl-C to stop.") {
            return log;
        }
        if !process.is_running() || Instant::now() > deadline {
            panic!("nubo up never printed its endpoints\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Which of a service's banner lines to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BannerLine {
    Http,
    Edge,
    Https,
    Website,
    Dns,
}

/// The port of a banner line `  <service>  <what>  http://127.0.0.1:<port>`.
fn banner_port(banner: &str, service: ServiceName, which: BannerLine) -> Option<u16> {
    banner.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let kind = if line.contains("AWS edge") {
            BannerLine::Edge
        } else if line.contains("website endpoint") {
            BannerLine::Website
        } else if line.contains("dns://") {
            BannerLine::Dns
        } else if line.contains("https://") {
            BannerLine::Https
        } else {
            BannerLine::Http
        };
        if words.next() != Some(service.as_str()) || kind != which {
            return None;
        }
        line.rsplit(':').next()?.trim().parse().ok()
    })
}

/// Waits until `GET {url}/health` answers 200, or panics with the log.
pub async fn wait_healthy(process: &mut Process, url: &str) {
    if let Err(log) = try_wait_healthy(process, url).await {
        panic!("{url} never became healthy\n{log}");
    }
}

/// Waits until `GET {url}/health` answers 200; `Err` carries the log of a
/// process that exited or never became healthy.
pub async fn try_wait_healthy(process: &mut Process, url: &str) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(format!("{url}/health")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if !process.is_running() || Instant::now() > deadline {
            return Err(process.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `nubo up` on free ports with its state in a given directory.
pub struct Nubo {
    pub process: Process,
    pub ports: BTreeMap<ServiceName, Ports>,
    state_dir: PathBuf,
    settings: Vec<(String, String)>,
}

impl Nubo {
    /// Starts `nubo up` on free ports (see [`free_port`]: outside the
    /// range the OS picks from for port 0, so a restart on the same ports
    /// cannot find one taken by a listener nubo itself bound on port 0)
    /// and waits for all seven services.
    pub async fn up(state_dir: &Path) -> Self {
        let ports = ServiceName::ALL.into_iter().map(|service| (service, Ports::free(service))).collect();
        Self::up_on(state_dir, ports).await
    }

    /// Starts `nubo up` with extra `NUBO_*` settings, on the data engine
    /// the suite runs against (see [`data_engine_settings`]).
    pub async fn up_with(state_dir: &Path, settings: &[(&str, &str)]) -> Self {
        let ports = ServiceName::ALL.into_iter().map(|service| (service, Ports::free(service))).collect();
        let mut settings: Vec<(String, String)> =
            settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        settings.extend(data_engine_settings());
        Self::start(state_dir, ports, settings).await
    }

    /// Starts `nubo up` on the given public ports (0: any), reads the ports
    /// it bound from its start-up banner, and waits until all are healthy.
    pub async fn up_on(state_dir: &Path, requested: BTreeMap<ServiceName, Ports>) -> Self {
        Self::start(state_dir, requested, Vec::new()).await
    }

    async fn start(state_dir: &Path, requested: BTreeMap<ServiceName, Ports>, settings: Vec<(String, String)>) -> Self {
        let mut env: Vec<(String, String)> =
            requested.iter().flat_map(|(service, ports)| ports.env(*service)).collect();
        env.extend(settings.iter().cloned());
        let log = state_dir.with_extension(format!(
            "log.{}",
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        ));
        let state = state_dir.to_str().expect("a utf-8 path");
        let mut process = Process::spawn(&["up", "--state-dir", state], &env, log);
        let banner = wait_for_banner(&mut process).await;
        let ports: BTreeMap<ServiceName, Ports> = ServiceName::ALL
            .into_iter()
            .map(|service| {
                let http = banner_port(&banner, service, BannerLine::Http)
                    .unwrap_or_else(|| panic!("no {service} in\n{banner}"));
                let edge = (service == ServiceName::Gateway)
                    .then(|| banner_port(&banner, service, BannerLine::Edge).expect("an edge"));
                let https = matches!(service, ServiceName::Storage | ServiceName::Cdn)
                    .then(|| banner_port(&banner, service, BannerLine::Https).expect("an HTTPS port"));
                let website = (service == ServiceName::Storage)
                    .then(|| banner_port(&banner, service, BannerLine::Website).expect("a website port"));
                let dns = (service == ServiceName::Dns)
                    .then(|| banner_port(&banner, service, BannerLine::Dns).expect("a DNS port"));
                // gRPC ports stay unpinned: `nubo up` links by bound address.
                (service, Ports { http, grpc: 0, edge, https, website, dns })
            })
            .collect();
        for service_ports in ports.values() {
            wait_healthy(&mut process, &format!("http://127.0.0.1:{}", service_ports.http)).await;
        }
        Self { process, ports, state_dir: state_dir.to_owned(), settings }
    }

    /// Stops with SIGTERM and starts again on the same public ports and state.
    pub async fn restart(mut self) -> Self {
        let status = self.process.stop();
        assert!(status.success(), "nubo exited with {status} on SIGTERM\n{}", self.process.log());
        Self::start(&self.state_dir.clone(), self.ports.clone(), self.settings.clone()).await
    }

    /// Kills the process with SIGKILL and starts it again on the same
    /// public ports and state.
    pub async fn crash_and_restart(mut self) -> Self {
        self.process.crash();
        Self::start(&self.state_dir.clone(), self.ports.clone(), self.settings.clone()).await
    }

    /// The S3 API over HTTPS, and the certificate to trust for it.
    pub fn s3_https(&self) -> (String, PathBuf) {
        let port = self.ports[&ServiceName::Storage].https.expect("storage serves HTTPS");
        (format!("https://127.0.0.1:{port}"), self.state_dir.join("storage/tls/certificate.pem"))
    }

    /// The viewers' HTTPS listener of a service that has one.
    pub fn https_url(&self, service: ServiceName) -> String {
        format!("https://127.0.0.1:{}", self.ports[&service].https.expect("the service serves HTTPS"))
    }

    /// The S3 website endpoint.
    pub fn website_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[&ServiceName::Storage].website.expect("storage serves websites"))
    }

    pub fn http_url(&self, service: ServiceName) -> String {
        format!("http://127.0.0.1:{}", self.ports[&service].http)
    }

    /// The authoritative DNS server's address (UDP and TCP).
    pub fn dns_address(&self) -> std::net::SocketAddr {
        let port = self.ports[&ServiceName::Dns].dns.expect("the dns service serves DNS");
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The AWS edge, which takes every AWS API.
    pub fn edge_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[&ServiceName::Gateway].edge.expect("the gateway has an edge"))
    }
}

/// Settings that put the data service on a CQL cluster when the suite is
/// run against one: `NUBO_TEST_SCYLLA=host:port` (a real ScyllaDB) or
/// `NUBO_TEST_CQL=host:port` (the Cassandra node `make test-cql` starts).
/// Empty otherwise: the embedded engine.
pub fn data_engine_settings() -> Vec<(String, String)> {
    let node = std::env::var("NUBO_TEST_SCYLLA").or_else(|_| std::env::var("NUBO_TEST_CQL"));
    match node {
        Ok(node) if !node.is_empty() => {
            vec![
                ("NUBO_DATA__ENGINE".into(), "cql".into()),
                ("NUBO_DATA__CQL__NODES".into(), format!("[\"{node}\"]")),
                // A keyspace of its own: tests sharing the node see nothing of each other.
                ("NUBO_DATA__CQL__KEYSPACE".into(), unique_keyspace()),
            ]
        }
        _ => Vec::new(),
    }
}

/// A fresh CQL keyspace name.
pub fn unique_keyspace() -> String {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("test_{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// An HTTP client for the AWS SDKs (plain HTTP here, TLS-capable).
pub fn sdk_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

pub fn credentials(key: &str, secret: &str) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(key, secret, None, None, "nubo-e2e")
}

pub fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    lambda_client_with(endpoint, credentials("test", "test"))
}

pub fn lambda_client_with(endpoint: &str, credentials: aws_credential_types::Credentials) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    dynamodb_client_with(endpoint, credentials("test", "test"))
}

pub fn dynamodb_client_with(
    endpoint: &str,
    credentials: aws_credential_types::Credentials,
) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

pub fn dynamodb_streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new(REGION))
        .credentials_provider(credentials("test", "test"))
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

pub fn apigateway_client(endpoint: &str) -> aws_sdk_apigatewayv2::Client {
    apigateway_client_with(endpoint, credentials("test", "test"))
}

pub fn apigateway_client_with(
    endpoint: &str,
    credentials: aws_credential_types::Credentials,
) -> aws_sdk_apigatewayv2::Client {
    let config = aws_sdk_apigatewayv2::Config::builder()
        .behavior_version(aws_sdk_apigatewayv2::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewayv2::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_apigatewayv2::Client::from_conf(config)
}

/// The API Gateway v1 (REST APIs) client, with the development keys.
pub fn rest_apigateway_client(endpoint: &str) -> aws_sdk_apigateway::Client {
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(aws_sdk_apigateway::config::BehaviorVersion::latest())
        .region(aws_sdk_apigateway::config::Region::new(REGION))
        .credentials_provider(credentials("test", "test"))
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_apigateway::Client::from_conf(config)
}

pub fn cognito_client(endpoint: &str) -> aws_sdk_cognitoidentityprovider::Client {
    cognito_client_with(endpoint, credentials("test", "test"))
}

pub fn cognito_client_with(
    endpoint: &str,
    credentials: aws_credential_types::Credentials,
) -> aws_sdk_cognitoidentityprovider::Client {
    let config = aws_sdk_cognitoidentityprovider::Config::builder()
        .behavior_version(aws_sdk_cognitoidentityprovider::config::BehaviorVersion::latest())
        .region(aws_sdk_cognitoidentityprovider::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_cognitoidentityprovider::Client::from_conf(config)
}

pub fn cognito_identity_client(endpoint: &str) -> aws_sdk_cognitoidentity::Client {
    let config = aws_sdk_cognitoidentity::Config::builder()
        .behavior_version(aws_sdk_cognitoidentity::config::BehaviorVersion::latest())
        .region(aws_sdk_cognitoidentity::config::Region::new(REGION))
        .credentials_provider(credentials("test", "test"))
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_cognitoidentity::Client::from_conf(config)
}

pub fn route53_client(endpoint: &str) -> aws_sdk_route53::Client {
    route53_client_with(endpoint, credentials("test", "test"))
}

pub fn route53_client_with(endpoint: &str, credentials: aws_credential_types::Credentials) -> aws_sdk_route53::Client {
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

/// A CloudFront client: the API is global and signed in `us-east-1`.
pub fn cloudfront_client(endpoint_url: &str) -> aws_sdk_cloudfront::Client {
    cloudfront_client_with(endpoint_url, credentials("test", "test"))
}

pub fn cloudfront_client_with(
    endpoint_url: &str,
    credentials: aws_credential_types::Credentials,
) -> aws_sdk_cloudfront::Client {
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint_url)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

/// An S3 client at its default settings (checksums, chunked uploads),
/// path-style, as an SDK addresses a loopback endpoint.
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    s3_client_with(endpoint, credentials("test", "test"))
}

pub fn s3_client_with(endpoint: &str, credentials: aws_credential_types::Credentials) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn sts_client(endpoint: &str, credentials: aws_credential_types::Credentials) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(sdk_http_client())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// The role ARN functions are created with (nubo does not check roles).
pub const ROLE: &str = "arn:aws:iam::000000000000:role/lambda";

/// A CreateFunction request for the python `echo` fixture, ready to send
/// or to extend.
pub fn create_echo(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    use aws_sdk_lambda::{
        primitives::Blob,
        types::{FunctionCode, Runtime},
    };
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(package("functions/echo"))).build())
}

/// Invokes `name` with a JSON payload and returns the `FunctionError`, if
/// any, and the answer as JSON (`null` when it is not JSON).
pub async fn invoke_json(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    payload: &serde_json::Value,
) -> (Option<String>, serde_json::Value) {
    let output = lambda
        .invoke()
        .function_name(name)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap_or_else(|error| panic!("Invoke {name}: {error:?}"));
    let body = output.payload().map(|payload| payload.as_ref().to_vec()).unwrap_or_default();
    (output.function_error().map(str::to_owned), serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

/// The directory of a fixture under `e2e/fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(relative)
}

/// A zip of every file under a fixture directory, with Unix modes kept.
pub fn package(relative: &str) -> Vec<u8> {
    package_directory(&fixture(relative))
}

/// A zip of every file under `root` (a package built for a test), with
/// Unix modes kept, so executables such as `bootstrap` stay executable.
pub fn package_directory(root: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    collect_files(root, root, &mut files);
    files.sort();
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    for (name, path) in files {
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o644)
        };
        #[cfg(not(unix))]
        let mode = 0o644;
        writer.start_file(name, zip::write::SimpleFileOptions::default().unix_permissions(mode)).expect("a zip entry");
        writer.write_all(&std::fs::read(&path).expect("a fixture file")).expect("zip write");
    }
    writer.finish().expect("a finished zip");
    buffer.into_inner()
}

/// A zip of the given files, for packages written inline in a test.
pub fn package_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    for (name, content) in files {
        writer.start_file(*name, zip::write::SimpleFileOptions::default()).expect("a zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    writer.finish().expect("a finished zip");
    buffer.into_inner()
}

fn collect_files(root: &Path, directory: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(directory).expect("a fixture directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            files.push((relative.to_string_lossy().replace('\\', "/"), path));
        }
    }
}

/// Signs a request the way an SDK would, for requests no SDK would send
/// (malformed bodies). Returns the headers to add.
pub fn sigv4_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    service: &str,
) -> Vec<(String, String)> {
    sign_request(method, url, headers, body, &Signing { service, ..Signing::default() })
}

/// How [`sign_request`] signs: scope, time, and where the signature goes.
#[derive(Debug, Clone)]
pub struct Signing<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub time: SystemTime,
    /// `Some(expiry)`: a presigned URL (the query parameters come back as
    /// `(name, value)` pairs) instead of headers.
    pub presigned_for: Option<Duration>,
    /// Signs with `x-amz-content-sha256` as `UNSIGNED-PAYLOAD` (S3).
    pub unsigned_payload: bool,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Self { service: "", region: REGION, time: SystemTime::now(), presigned_for: None, unsigned_payload: false }
    }
}

/// Signs a request with `aws-sigv4` as `test`/`test`; returns the headers
/// (or, presigned, the query parameters) to add.
pub fn sign_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    signing: &Signing<'_>,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    let identity = credentials("test", "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expiry) = signing.presigned_for {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expiry);
    }
    if signing.unsigned_payload {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(signing.region)
        .name(signing.service)
        .time(signing.time)
        .settings(settings)
        .build()
        .expect("signing parameters")
        .into();
    let body = if signing.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) };
    let request = SignableRequest::new(method, url, headers.iter().copied(), body).expect("a signable request");
    let (instructions, _) = sign(request, &params).expect("a signature").into_parts();
    let (signed_headers, query) = instructions.into_parts();
    if signing.presigned_for.is_some() {
        return query.into_iter().map(|(name, value)| (name.to_owned(), value.into_owned())).collect();
    }
    signed_headers.into_iter().map(|header| (header.name().to_owned(), header.value().to_owned())).collect()
}

/// Makes one call of `service`'s internal gRPC API at `url`, presenting
/// `token` as the cluster credential (or none), and returns the status
/// code it answered with (`Ok` if it answered at all).
pub async fn internal_call(service: ServiceName, url: &str, token: Option<&str>) -> tonic::Code {
    use nubo_proto::{auth, cdn, data, dns, functions, gateway, storage};
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .expect("a gRPC url")
        .connect()
        .await
        .unwrap_or_else(|error| panic!("cannot reach {service} at {url}: {error}"));
    let header: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> =
        token.map(|token| format!("Bearer {token}").parse().expect("an ASCII token"));
    let present = move |mut request: tonic::Request<()>| {
        if let Some(header) = &header {
            request.metadata_mut().insert("authorization", header.clone());
        }
        Ok(request)
    };
    let code = |result: Result<(), tonic::Status>| result.err().map_or(tonic::Code::Ok, |status| status.code());
    match service {
        ServiceName::Data => code(
            data::data_client::DataClient::with_interceptor(channel, present)
                .get_record(data::GetRecordRequest { namespace: "probe".into(), key: "probe".into() })
                .await
                .map(drop),
        ),
        ServiceName::Storage => code(
            storage::storage_client::StorageClient::with_interceptor(channel, present)
                .head_object(storage::HeadObjectRequest { bucket: "probe".into(), key: "probe".into() })
                .await
                .map(drop),
        ),
        ServiceName::Functions => code(
            functions::functions_client::FunctionsClient::with_interceptor(channel, present)
                .get_function(functions::GetFunctionRequest::default())
                .await
                .map(drop),
        ),
        ServiceName::Gateway => code(
            gateway::gateway_client::GatewayClient::with_interceptor(channel, present)
                .invalidate_api(gateway::InvalidateApiRequest::default())
                .await
                .map(drop),
        ),
        ServiceName::Auth => code(
            auth::auth_client::AuthClient::with_interceptor(channel, present)
                .validate_token(auth::ValidateTokenRequest::default())
                .await
                .map(drop),
        ),
        ServiceName::Cdn => code(
            cdn::cdn_client::CdnClient::with_interceptor(channel, present)
                .invalidate(cdn::InvalidateRequest::default())
                .await
                .map(drop),
        ),
        ServiceName::Dns => code(
            dns::dns_client::DnsClient::with_interceptor(channel, present)
                .zone_changed(dns::ZoneChangedRequest::default())
                .await
                .map(drop),
        ),
    }
}

/// The directory of the AWS CLI and of the python with boto3 that
/// `e2e/install-test-deps.sh` (run by `make test`) installs.
pub fn python_tools() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/venv/bin");
    assert!(
        bin.join("aws").exists(),
        "{} has no AWS CLI: run e2e/install-test-deps.sh (make test does)",
        bin.display()
    );
    bin
}

/// The `node_modules` of the JavaScript Cognito clients (Amplify JS,
/// amazon-cognito-identity-js, otplib) that `e2e/install-test-deps.sh`
/// (run by `make test`) installs from `fixtures/auth/clients/package.json`.
pub fn auth_clients() -> PathBuf {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/auth-clients/node_modules");
    for package in ["aws-amplify", "amazon-cognito-identity-js", "otplib"] {
        assert!(
            modules.join(package).join("package.json").exists(),
            "{} has no {package}: run e2e/install-test-deps.sh (make test does)",
            modules.display()
        );
    }
    modules
}

/// The suite's AWS CLI as a user runs it: a clean environment with the
/// development keys, `us-east-1`, and `HOME` in `home`; `endpoint` becomes
/// `AWS_ENDPOINT_URL` when given.
pub fn aws_cli(home: &Path, endpoint: Option<&str>) -> std::process::Command {
    let mut command = std::process::Command::new("aws");
    command
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    command
}

/// A `PATH` with the AWS CLI and boto3's python first.
pub fn path_with_python_tools() -> String {
    let system = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    format!("{}:{system}", python_tools().display())
}
