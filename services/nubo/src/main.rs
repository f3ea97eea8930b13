//! The `nubo` command: `up` runs every service in one process with
//! development defaults, `serve` runs the services a container is for, and
//! `health` asks a local service's gRPC health endpoint (compose uses it).

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use nubo::{
    config::{Config, Mode},
    launch,
};
use nubo_host::ServiceName;

#[derive(Parser)]
#[command(name = "nubo", version, about = "The AWS serverless stack on your own hosts")]
struct Cli {
    /// A TOML configuration file; `NUBO_*` variables override it.
    #[arg(long, global = true, env = "NUBO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all seven services in this process, state under ./.nubo.
    Up {
        /// Where state is kept (overrides `state_dir`).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Run the given services, configured by file and environment.
    Serve {
        /// Comma-separated: gateway,functions,data,auth,storage,cdn,dns.
        #[arg(long, env = "NUBO_SERVICES", value_delimiter = ',', required = true)]
        services: Vec<ServiceName>,
    },
    /// Exit 0 if a service of this host answers its gRPC health check.
    Health {
        #[arg(long)]
        service: ServiceName,
    },
    /// Print a function's log (through the CloudWatch Logs API at
    /// AWS_ENDPOINT_URL, default the local edge).
    Logs {
        function: String,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// How far back to start: 30s, 10m, 2h, 1d.
        #[arg(long, default_value = "1h")]
        since: String,
    },
}

/// Variables that configure the command line, not the services.
const COMMAND_VARIABLES: &[&str] = &["NUBO_CONFIG", "NUBO_SERVICES", "NUBO_LOG"];

fn main() -> ExitCode {
    // A function's sandbox is built by this executable, started again.
    if let Some(code) = nubo_functions::sandbox::enter_if_asked() {
        return code;
    }
    let cli = Cli::parse();
    // RUST_LOG (or NUBO_LOG) asks for more; by default only nubo's own lines.
    let filter = std::env::var("RUST_LOG").or_else(|_| std::env::var("NUBO_LOG")).ok();
    nubo_host::telemetry::init(filter.as_deref().filter(|filter| !filter.trim().is_empty()));
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(name, _)| {
            name.starts_with(nubo_host::config::ENV_PREFIX) && !COMMAND_VARIABLES.contains(&name.as_str())
        })
        .collect();
    let mut config = match Config::load(cli.config.as_deref(), &env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("nubo: {error}");
            return ExitCode::from(2);
        }
    };
    // This executable builds functions' sandboxes (see above).
    config.functions.sandbox.entry_point = std::env::current_exe().ok();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("nubo: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Up { state_dir } => {
                if let Some(state_dir) = state_dir {
                    config.state_dir = state_dir;
                }
                // Resolved once, at start-up: every service and every child
                // process sees the same absolute directory.
                config.state_dir = std::path::absolute(&config.state_dir)?;
                let banner_config = config.clone();
                launch::run(config, Mode::Up, &ServiceName::ALL, nubo_host::shutdown_on_signals(), |endpoints| {
                    print_banner(&banner_config, endpoints)
                })
                .await
            }
            Command::Serve { services } => {
                launch::run(config, Mode::Serve, &services, nubo_host::shutdown_on_signals(), |endpoints| {
                    for endpoint in endpoints {
                        tracing::info!(service = %endpoint.service, url = %endpoint.url, "serving {}", endpoint.what);
                    }
                })
                .await
            }
            Command::Logs { function, follow, since } => {
                nubo::logs::print(nubo::logs::Target::from_environment(), &function, nubo::logs::since(&since)?, follow)
                    .await
            }
            Command::Health { service } => {
                let url = format!("http://127.0.0.1:{}", config.grpc_port(service));
                match nubo_host::grpc::check_health(&url).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(anyhow::anyhow!("{service} is not serving")),
                    Err(error) => Err(anyhow::anyhow!("{service}: {error}")),
                }
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nubo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_banner(config: &Config, endpoints: &[launch::Endpoint]) {
    println!("nubo is up; state in {}", config.state_dir.display());
    for endpoint in endpoints.iter().filter(|endpoint| !endpoint.internal) {
        println!("  {:<10} {:<26} {}", endpoint.service.as_str(), endpoint.what, endpoint.url);
    }
    if config.storage.tls_certificate.is_none() && endpoints.iter().any(|e| e.what == "S3 API over HTTPS") {
        let certificate = nubo_storage::tls::self_signed_path(&config.state_dir);
        println!("S3 over HTTPS presents a self-signed certificate; trust {}", certificate.display());
    }
    if config.cdn.tls_certificate.is_none() && endpoints.iter().any(|e| e.what == "distributions over HTTPS") {
        let certificate = nubo_cdn::tls::self_signed_path(&config.state_dir);
        println!("distributions over HTTPS present a self-signed certificate; trust {}", certificate.display());
    }
    let edge = endpoints.iter().find(|e| e.what.starts_with("AWS edge")).map(|e| e.url.as_str()).unwrap_or("");
    if config.dev_keys(Mode::Up) {
        println!();
        println!("Development credentials are accepted (never use them outside this machine):");
        println!(
            "  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION={0} AWS_DEFAULT_REGION={0}",
            config.region
        );
    }
    println!("  export AWS_ENDPOINT_URL={edge}");
    println!("Press Ctrl-C to stop.");
}
