//! The functions service, nubo's Lambda. It serves the Lambda API on its
//! HTTP port ([`api`]) and `nubo.functions.v1.Functions` over gRPC
//! ([`grpc`]), both on top of [`lambda::Lambda`]. Invocations run in
//! execution environments ([`environment`]) that speak the Lambda Runtime
//! API ([`runtime_api`]) and are pooled while warm ([`invoker`]).
//!
//! It owns no durable state: function definitions are records in the data
//! service and packages are objects in the storage service ([`registry`]);
//! unpacked code under the state directory is a cache ([`code`]).

pub mod api;
pub mod code;
pub mod code_url;
pub mod concurrency;
pub mod environment;
pub mod error;
pub mod events;
pub mod filter;
pub mod grpc;
pub mod invoker;
pub mod lambda;
pub mod layers;
pub mod logs;
pub mod logs_api;
pub mod mappings;
pub mod model;
pub mod policy;
pub mod registry;
pub mod runtime_api;
pub mod sandbox;
pub mod tags;
pub mod urls;
pub mod versions;

use std::{path::Path, time::Duration};

use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::clients::{ItemsClient, ObjectsClient, RecordsClient};
use serde::{Deserialize, Serialize};

/// The `[functions]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Lambda API, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
    /// Execution environments alive at once on this host.
    pub max_environments: usize,
    /// Execution environments of one function alive at once.
    pub max_environments_per_function: usize,
    /// Seconds an idle environment stays warm.
    pub idle_timeout_secs: u64,
    /// The interpreters of the python and nodejs runtimes.
    pub python: String,
    pub node: String,
    /// `PATH` inside execution environments.
    pub environment_path: String,
    /// `AWS_ENDPOINT_URL` given to functions, so SDK calls reach nubo.
    pub function_endpoint_url: Option<String>,
    /// How execution environments are confined.
    pub sandbox: sandbox::Settings,
    /// Where function URLs are answered: the gateway's user-API address.
    pub function_url_base: Option<String>,
    /// The delay before an asynchronous invocation's first retry; the
    /// second waits twice as long (Lambda: about one and two minutes).
    pub event_retry_delay_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 9001,
            grpc_port: 50052,
            max_environments: 64,
            max_environments_per_function: 32,
            idle_timeout_secs: 600,
            python: "python3".into(),
            node: "node".into(),
            environment_path: "/usr/local/bin:/usr/bin:/bin".into(),
            function_endpoint_url: None,
            sandbox: sandbox::Settings::default(),
            event_retry_delay_ms: 60_000,
            function_url_base: None,
        }
    }
}

impl Config {
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports::new(self.http_port, self.grpc_port)
    }
}

nubo_host::service!(Functions, "Lambda API", Config, Config::ports, run);

/// nubo's bootstraps for the interpreted runtimes, written out at start.
const BOOTSTRAPS: &[(&str, &str)] = &[
    ("python/bootstrap.py", include_str!("runtimes/python/bootstrap.py")),
    ("python/nubo_runtime.py", include_str!("runtimes/python/nubo_runtime.py")),
    ("node/bootstrap.mjs", include_str!("runtimes/node/bootstrap.mjs")),
];

fn write_bootstraps(directory: &Path) -> std::io::Result<()> {
    for (relative, content) in BOOTSTRAPS {
        let path = directory.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    Ok(())
}

/// Compiles the python runtime's module with the interpreter environments
/// run, so that a cold start loads its bytecode instead of compiling it
/// (a few milliseconds, a fifth of the interpreter's own start). Where it
/// fails, python compiles it at each start as before.
fn compile_python_runtime(launcher: &environment::Launcher) {
    let python = environment::which(&launcher.python, &launcher.path);
    let module = launcher.bootstrap_dir.join("python/nubo_runtime.py");
    let compiled = std::process::Command::new(&python)
        .args(["-I", "-m", "py_compile"])
        .arg(&module)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output();
    match compiled {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            tracing::debug!(stderr = %String::from_utf8_lossy(&output.stderr), "the python runtime was not compiled")
        }
        Err(error) => tracing::debug!(python = %python.display(), %error, "the python runtime was not compiled"),
    }
}

/// The socket address of an `http://host:port` endpoint, resolved once.
fn endpoint_address(url: &str) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let authority = url.strip_prefix("http://")?.split('/').next()?;
    let with_port = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    with_port.to_socket_addrs().ok()?.next()
}

/// Runs the service until `shutdown`.
pub async fn run(context: Context, config: Config, listeners: Listeners, shutdown: Shutdown) -> Result<(), ServeError> {
    let fail = |message: String| ServeError::new("functions", message);
    let scratch = context.state_dir.join("functions");
    let bootstrap_dir = scratch.join("runtimes");
    write_bootstraps(&bootstrap_dir).map_err(|error| fail(format!("cannot write runtime bootstraps: {error}")))?;
    // Environments of a previous run are gone; so is their scratch space.
    let environments_dir = scratch.join("environments");
    let _ = std::fs::remove_dir_all(&environments_dir);

    let endpoint = config.function_endpoint_url.as_deref().and_then(endpoint_address);
    let relays = endpoint.iter().map(|endpoint| (endpoint.port(), *endpoint)).collect();
    let sandbox = sandbox::Sandbox::detect(&config.sandbox, &environments_dir, relays);

    let objects = ObjectsClient::new(context.link(ServiceName::Storage)?);
    let records = RecordsClient::new(context.link(ServiceName::Data)?);
    let (shipper, shipping) = logs::LogShipper::new(registry::Registry::new(records.clone(), objects.clone()));
    let shipping = tokio::spawn(shipping);
    let launcher = environment::Launcher {
        region: context.region.clone(),
        account_id: context.account_id.clone(),
        bootstrap_dir,
        scratch_dir: environments_dir,
        python: config.python.clone(),
        node: config.node.clone(),
        path: config.environment_path.clone(),
        function_credentials: context.function_credentials.clone(),
        endpoint_url: config.function_endpoint_url.clone(),
        sandbox: sandbox.clone(),
        endpoint,
        logs: Some(shipper),
    };
    {
        let launcher = launcher.clone();
        tokio::task::spawn_blocking(move || compile_python_runtime(&launcher));
    }
    let invoker = invoker::Invoker::new(
        launcher,
        invoker::Limits {
            max_environments: config.max_environments,
            max_per_function: config.max_environments_per_function,
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        },
    );
    let lambda = lambda::Lambda::new(
        context.region.clone(),
        context.account_id.clone(),
        registry::Registry::new(records, objects.clone()),
        code::CodeCache::new(scratch.join("code"), objects),
        invoker.clone(),
        events::Queue::new(Duration::from_millis(config.event_retry_delay_ms)),
        ItemsClient::new(context.link(ServiceName::Data)?),
    )
    .with_url_base(config.function_url_base.clone().unwrap_or_else(|| "http://127.0.0.1:8080".into()))
    .with_code_urls(context.cluster.secret());
    let queue = tokio::spawn(lambda.clone().run_queue());
    let mappings = tokio::spawn(lambda.clone().run_mappings());

    let reaper = {
        let (invoker, shutdown) = (invoker.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = tick.tick() => invoker.reap_idle(),
                    _ = shutdown.cancelled() => break,
                }
            }
        })
    };

    let router = nubo_host::grpc::router(&context.cluster).add_service(grpc::server(lambda.clone()));
    let front = api::front(&context);
    let logs_front = logs_api::front(&context);
    let served =
        nubo_host::serve("functions", listeners, router, 2, Metrics::new("functions"), shutdown, move |routes| {
            api::routes(routes, lambda.clone(), front.clone(), logs_front.clone())
        })
        .await;
    reaper.abort();
    queue.abort();
    mappings.abort();
    shipping.abort();
    invoker.stop_all();
    if let Some(sandbox) = &sandbox {
        sandbox.stop().await;
    }
    served
}
