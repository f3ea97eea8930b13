//! Binds and runs a set of services in one process. Every listener is bound
//! before any service starts, so under `nubo up` the services can be linked
//! to each other's real addresses (port 0 included) over the same gRPC
//! clients a cluster uses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context as _;
use futures::future::BoxFuture;
use nubo_host::{Listeners, ServeError, Service, ServiceName, Shutdown};
use tokio::task::JoinSet;

use crate::config::{Config, Mode};

/// One service, bound to its listeners and ready to run.
trait Launch: Send {
    fn listeners(&self) -> &Listeners;
    fn description(&self) -> &'static str;
    /// Runs the service with its section of `config`, the configuration as
    /// it stands once every service is bound and linked.
    fn run(
        self: Box<Self>,
        config: &Config,
        context: nubo_host::Context,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ServeError>>;
}

struct Bound<S: Service> {
    section: fn(&Config) -> S::Config,
    listeners: Listeners,
}

impl<S: Service> Launch for Bound<S> {
    fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    fn description(&self) -> &'static str {
        S::DESCRIPTION
    }

    fn run(
        self: Box<Self>,
        config: &Config,
        context: nubo_host::Context,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(S::run(context, (self.section)(config), self.listeners, shutdown))
    }
}

fn bind<S: Service>(config: &Config, section: fn(&Config) -> S::Config) -> std::io::Result<Box<dyn Launch>> {
    let listeners = Listeners::bind(config.bind_host, &S::ports(&section(config)))?;
    Ok(Box::new(Bound::<S> { section, listeners }))
}

/// Binds one service's listeners as its section of `config` asks.
fn bind_service(service: ServiceName, config: &Config) -> std::io::Result<Box<dyn Launch>> {
    match service {
        ServiceName::Data => bind::<nubo_data::Data>(config, |config| config.data.clone()),
        ServiceName::Storage => bind::<nubo_storage::Storage>(config, |config| config.storage.clone()),
        ServiceName::Functions => bind::<nubo_functions::Functions>(config, |config| config.functions.clone()),
        ServiceName::Gateway => bind::<nubo_gateway::Gateway>(config, |config| config.gateway.clone()),
        ServiceName::Auth => bind::<nubo_auth::Auth>(config, |config| config.auth.clone()),
        ServiceName::Cdn => bind::<nubo_cdn::Cdn>(config, |config| config.cdn.clone()),
        ServiceName::Dns => bind::<nubo_dns::Dns>(config, |config| config.dns.clone()),
    }
}

/// An address other local services can dial: a wildcard bind becomes loopback.
fn dialable(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
    } else {
        address
    }
}

fn url(listener: &std::net::TcpListener) -> anyhow::Result<String> {
    Ok(format!("http://{}", dialable(listener.local_addr()?)))
}

/// What a started process serves, for the start-up banner.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub service: ServiceName,
    pub what: &'static str,
    pub url: String,
    /// The internal gRPC plane, reachable only with the cluster credential.
    pub internal: bool,
}

/// Binds `services`, then runs them until `shutdown` or until one fails.
/// `started` is told what is being served once every listener is bound.
pub async fn run(
    mut config: Config,
    mode: Mode,
    services: &[ServiceName],
    shutdown: Shutdown,
    started: impl FnOnce(&[Endpoint]),
) -> anyhow::Result<()> {
    // The credential check comes first: a cluster process without its
    // secret must not bind anything. `nubo up` makes its secret once here,
    // so every service of the process shares it.
    let cluster = config.cluster_token(mode)?;
    config.cluster.token = Some(cluster.secret().to_owned());
    config.context(mode)?;
    let mut bound = Vec::new();
    for &service in services {
        let launch = bind_service(service, &config).with_context(|| format!("cannot start {service}"))?;
        bound.push((service, launch));
    }

    let mut endpoints = Vec::new();
    for (service, launch) in &bound {
        let listeners = launch.listeners();
        let http = url(&listeners.http)?;
        endpoints.push(Endpoint { service: *service, what: launch.description(), url: http.clone(), internal: false });
        for (name, listener) in &listeners.extra {
            if *service == ServiceName::Storage && *name == nubo_storage::WEBSITE_LISTENER {
                if mode == Mode::Up {
                    config.cdn.endpoints.website = url(listener)?;
                }
                endpoints.push(Endpoint {
                    service: *service,
                    what: "S3 website endpoint",
                    url: url(listener)?,
                    internal: false,
                });
            }
            if *service == ServiceName::Storage && *name == nubo_storage::HTTPS_LISTENER {
                endpoints.push(Endpoint {
                    service: *service,
                    what: "S3 API over HTTPS",
                    url: url(listener)?.replacen("http://", "https://", 1),
                    internal: false,
                });
            }
            if *service == ServiceName::Cdn && *name == nubo_cdn::HTTPS_LISTENER {
                endpoints.push(Endpoint {
                    service: *service,
                    what: "distributions over HTTPS",
                    url: url(listener)?.replacen("http://", "https://", 1),
                    internal: false,
                });
            }
            if *service == ServiceName::Dns && *name == nubo_dns::DNS_LISTENER {
                endpoints.push(Endpoint {
                    service: *service,
                    what: "DNS (UDP and TCP)",
                    url: format!("dns://{}", dialable(listener.local_addr()?)),
                    internal: false,
                });
            }
            if *name == nubo_gateway::EDGE_LISTENER {
                let edge = url(listener)?;
                if mode == Mode::Up && config.functions.function_endpoint_url.is_none() {
                    // SDK calls from a handler reach this nubo, as the
                    // banner tells users to point their own at it.
                    config.functions.function_endpoint_url = Some(edge.clone());
                }
                endpoints.push(Endpoint {
                    service: *service,
                    what: "AWS edge (every AWS API)",
                    url: edge,
                    internal: false,
                });
            }
        }
        let grpc = url(&listeners.grpc)?;
        endpoints.push(Endpoint { service: *service, what: "internal gRPC", url: grpc, internal: true });
        if mode == Mode::Up {
            // In one process every service is on this host: link them by
            // the addresses just bound, whatever the configured ports were.
            config.set_link(*service, url(&listeners.grpc)?);
            if *service == ServiceName::Gateway && config.functions.function_url_base.is_none() {
                // Function URLs are answered on the gateway's user-API port.
                config.functions.function_url_base = Some(http.clone());
            }
            // Distributions reach nubo's own origins where they were bound.
            match service {
                ServiceName::Storage => config.cdn.endpoints.storage = http.clone(),
                ServiceName::Gateway => config.cdn.endpoints.gateway = http.clone(),
                _ => {}
            }
            config.gateway.edge.set(*service, http);
        }
    }
    let context = config.context(mode)?;
    std::fs::create_dir_all(&context.state_dir)
        .with_context(|| format!("cannot create the state directory {}", context.state_dir.display()))?;
    started(&endpoints);

    let mut running = JoinSet::new();
    for (service, launch) in bound {
        let serving = launch.run(&config, context.clone(), shutdown.clone());
        running.spawn(async move {
            serving.await.map_err(|error| anyhow::anyhow!(error)).with_context(|| format!("{service} stopped"))
        });
    }
    let mut failure = None;
    while let Some(finished) = running.join_next().await {
        let outcome = finished.map_err(anyhow::Error::from).and_then(|result| result);
        if let Err(error) = outcome {
            tracing::error!(error = %format!("{error:#}"), "service failed, stopping the others");
            shutdown.cancel();
            failure.get_or_insert(error);
        }
    }
    failure.map_or(Ok(()), Err)
}
