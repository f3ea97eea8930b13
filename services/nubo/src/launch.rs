//! Binds and runs a set of services in one process. Every listener is bound
//! before any service starts, so under `nubo up` the services can be linked
//! to each other's real addresses (port 0 included) over the same gRPC
//! clients a cluster uses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context as _;
use nubo_host::{ServiceName, Shutdown};
use tokio::task::JoinSet;

use crate::config::{Config, Mode};

/// The listeners of one service.
enum Bound {
    Data(nubo_host::Listeners),
    Storage(nubo_host::Listeners),
    Functions(nubo_host::Listeners),
    Gateway(nubo_gateway::Listeners),
    Auth(nubo_host::Listeners),
    Cdn(nubo_host::Listeners),
    Dns(nubo_host::Listeners),
}

/// An address other local services can dial: a wildcard bind becomes loopback.
fn dialable(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
    } else {
        address
    }
}

fn address(listener: &std::net::TcpListener) -> anyhow::Result<SocketAddr> {
    Ok(dialable(listener.local_addr()?))
}

impl Bound {
    fn bind(service: ServiceName, config: &Config) -> std::io::Result<Self> {
        let host = config.bind_host;
        Ok(match service {
            ServiceName::Data => {
                Bound::Data(nubo_host::Listeners::bind(host, config.data.http_port, config.data.grpc_port)?)
            }
            ServiceName::Storage => {
                Bound::Storage(nubo_host::Listeners::bind(host, config.storage.http_port, config.storage.grpc_port)?)
            }
            ServiceName::Functions => Bound::Functions(nubo_host::Listeners::bind(
                host,
                config.functions.http_port,
                config.functions.grpc_port,
            )?),
            ServiceName::Gateway => Bound::Gateway(nubo_gateway::Listeners::bind(host, &config.gateway)?),
            ServiceName::Auth => {
                Bound::Auth(nubo_host::Listeners::bind(host, config.auth.http_port, config.auth.grpc_port)?)
            }
            ServiceName::Cdn => {
                Bound::Cdn(nubo_host::Listeners::bind(host, config.cdn.http_port, config.cdn.grpc_port)?)
            }
            ServiceName::Dns => {
                Bound::Dns(nubo_host::Listeners::bind(host, config.dns.http_port, config.dns.grpc_port)?)
            }
        })
    }

    fn http(&self) -> &std::net::TcpListener {
        match self {
            Bound::Data(l) => &l.http,
            Bound::Storage(l) => &l.http,
            Bound::Functions(l) => &l.http,
            Bound::Gateway(l) => &l.http,
            Bound::Auth(l) => &l.http,
            Bound::Cdn(l) => &l.http,
            Bound::Dns(l) => &l.http,
        }
    }

    fn grpc(&self) -> &std::net::TcpListener {
        match self {
            Bound::Data(l) => &l.grpc,
            Bound::Storage(l) => &l.grpc,
            Bound::Functions(l) => &l.grpc,
            Bound::Gateway(l) => &l.grpc,
            Bound::Auth(l) => &l.grpc,
            Bound::Cdn(l) => &l.grpc,
            Bound::Dns(l) => &l.grpc,
        }
    }
}

/// What a started process serves, for the start-up banner.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub service: ServiceName,
    pub what: &'static str,
    pub url: String,
}

fn describe(service: ServiceName) -> &'static str {
    match service {
        ServiceName::Data => "DynamoDB API",
        ServiceName::Storage => "S3 API",
        ServiceName::Functions => "Lambda API",
        ServiceName::Gateway => "user APIs",
        ServiceName::Auth => "Cognito API",
        ServiceName::Cdn => "distributions",
        ServiceName::Dns => "Route 53 API",
    }
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
    let mut bound = Vec::new();
    for &service in services {
        let listeners = Bound::bind(service, &config).with_context(|| format!("cannot start {service}"))?;
        bound.push((service, listeners));
    }

    let mut endpoints = Vec::new();
    for (service, listeners) in &bound {
        let http = address(listeners.http())?;
        endpoints.push(Endpoint { service: *service, what: describe(*service), url: format!("http://{http}") });
        if let Bound::Gateway(gateway) = listeners {
            let edge = address(&gateway.edge)?;
            endpoints.push(Endpoint {
                service: *service,
                what: "AWS edge (every AWS API)",
                url: format!("http://{edge}"),
            });
        }
        if mode == Mode::Up {
            // In one process every service is on this host: link them by
            // the addresses just bound, whatever the configured ports were.
            let grpc = format!("http://{}", address(listeners.grpc())?);
            let http = format!("http://{http}");
            let links = &mut config.links;
            let edge = &mut config.gateway.edge;
            match service {
                ServiceName::Data => (links.data = Some(grpc), edge.data = http),
                ServiceName::Storage => (links.storage = Some(grpc), edge.storage = http),
                ServiceName::Functions => (links.functions = Some(grpc), edge.functions = http),
                ServiceName::Gateway => (links.gateway = Some(grpc), ()),
                ServiceName::Auth => (links.auth = Some(grpc), edge.auth = http),
                ServiceName::Cdn => (links.cdn = Some(grpc), edge.cdn = http),
                ServiceName::Dns => (links.dns = Some(grpc), edge.dns = http),
            };
        }
    }
    let context = config.context(mode)?;
    std::fs::create_dir_all(&context.state_dir)
        .with_context(|| format!("cannot create the state directory {}", context.state_dir.display()))?;
    started(&endpoints);

    let mut running = JoinSet::new();
    for (service, listeners) in bound {
        let (context, shutdown) = (context.clone(), shutdown.clone());
        let config = config.clone();
        running.spawn(async move {
            match listeners {
                Bound::Data(l) => nubo_data::run(context, config.data, l, shutdown).await,
                Bound::Storage(l) => nubo_storage::run(context, config.storage, l, shutdown).await,
                Bound::Functions(l) => nubo_functions::run(context, config.functions, l, shutdown).await,
                Bound::Gateway(l) => nubo_gateway::run(context, config.gateway, l, shutdown).await,
                Bound::Auth(l) => nubo_auth::run(context, config.auth, l, shutdown).await,
                Bound::Cdn(l) => nubo_cdn::run(context, config.cdn, l, shutdown).await,
                Bound::Dns(l) => nubo_dns::run(context, config.dns, l, shutdown).await,
            }
            .map_err(|error| anyhow::anyhow!(error))
            .with_context(|| format!("{service} stopped"))
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
