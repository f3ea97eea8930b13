//! The dns service, nubo's Route 53: hosted zones kept in data, answered
//! authoritatively over UDP and TCP (`:5353`), and the Route 53 API on the
//! HTTP port (`:8053`).
//!
//! - `model`, `names`, `rdata`: zones and record sets as stored, names in
//!   Route 53's canonical form, values checked and turned into records.
//! - `store`: zones, changes and tags as data records; `batch`: a change
//!   batch checked and applied all or nothing, as Route 53 does.
//! - `api`: the restXml front.
//! - `authority`: the in-memory snapshot and the DNS server.
//! - `sync`: every replica reloads the zones that changed within a second
//!   and says which serials it serves, which is what GetChange reports.

pub mod aliases;
pub mod api;
pub mod authority;
pub mod batch;
pub mod health;
pub mod model;
pub mod names;
pub mod networks;
pub mod rdata;
pub mod store;
pub mod sync;
pub mod transfer;

use std::sync::Arc;

use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::{
    clients::RecordsClient,
    dns::{
        ZoneChangedRequest, ZoneChangedResponse,
        dns_server::{Dns as DnsGrpc, DnsServer},
    },
};
use tonic::{Request, Response, Status};

/// The name of the DNS listener (TCP; UDP is bound on the same address).
pub const DNS_LISTENER: &str = "dns";

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Route 53 API, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
    /// Authoritative DNS, UDP and TCP.
    pub dns_port: u16,
    /// How often a replica looks for changed zones, in milliseconds.
    pub sync_interval_ms: u64,
    /// Who may transfer zones (AXFR, IXFR over TCP): addresses or
    /// networks. Nobody by default.
    pub transfer_allow: Vec<String>,
    /// What health checks may probe besides public addresses: addresses
    /// or networks. Loopback by default (`nubo up` runs on one host, and
    /// targets there are tested against); loopback reaches nubo's own ports
    /// too. Private, link-local (the metadata address), shared and other
    /// non-public addresses are refused unless listed.
    pub health_check_allow: Vec<String>,
    /// Secondaries told of every change with NOTIFY (`address:port`).
    pub notify: Vec<String>,
    /// Where nubo's own endpoints are reached, for alias records to them.
    pub endpoints: Endpoints,
    /// UDP answers a second per client network (IPv4 /24, IPv6 /56); 0,
    /// the default, is no limit.
    pub rate_limit: u32,
    /// Past the limit, every this-many-th answer goes out truncated (so
    /// a real client retries over TCP) and the others are dropped; 0
    /// drops them all.
    pub rate_limit_slip: u32,
}

/// The addresses (IPv4 and IPv6) alias records to nubo's endpoints answer
/// with: CloudFront distributions, API Gateway APIs, S3 website endpoints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoints {
    pub cdn: Vec<std::net::IpAddr>,
    pub gateway: Vec<std::net::IpAddr>,
    pub storage: Vec<std::net::IpAddr>,
}

impl Default for Endpoints {
    /// Loopback: `nubo up` serves every endpoint on this host.
    fn default() -> Self {
        let loopback = vec![std::net::Ipv4Addr::LOCALHOST.into(), std::net::Ipv6Addr::LOCALHOST.into()];
        Self { cdn: loopback.clone(), gateway: loopback.clone(), storage: loopback }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 8053,
            grpc_port: 50057,
            dns_port: 5353,
            sync_interval_ms: 200,
            transfer_allow: Vec::new(),
            health_check_allow: health::DEFAULT_PROBE_ALLOW.map(str::to_owned).to_vec(),
            notify: Vec::new(),
            endpoints: Endpoints::default(),
            rate_limit: 0,
            rate_limit_slip: 2,
        }
    }
}

impl Config {
    /// HTTP, gRPC, and DNS over TCP (UDP follows it).
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports { http: self.http_port, grpc: self.grpc_port, extra: vec![(DNS_LISTENER, self.dns_port)] }
    }
}

nubo_host::service!(Dns, "Route 53 API", Config, Config::ports, run);

/// The internal API: a replica told that a zone changed reloads it now
/// rather than at its next look.
#[derive(Debug, Clone)]
pub struct DnsApi {
    sync: sync::Sync,
}

#[tonic::async_trait]
impl DnsGrpc for DnsApi {
    async fn zone_changed(
        &self,
        request: Request<ZoneChangedRequest>,
    ) -> Result<Response<ZoneChangedResponse>, Status> {
        let request = request.into_inner();
        self.sync.reload(&request.hosted_zone_id).await.map_err(|error| Status::unavailable(error.to_string()))?;
        Ok(Response::new(ZoneChangedResponse {}))
    }
}

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    config: Config,
    mut listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let failed = |error: &dyn std::fmt::Display| ServeError::new("dns", error);
    let tcp = listeners.take(DNS_LISTENER).ok_or_else(|| failed(&"no DNS listener was bound"))?;
    let address = tcp.local_addr().map_err(|error| failed(&error))?;
    let udp =
        std::net::UdpSocket::bind(address).map_err(|error| failed(&format!("cannot bind UDP {address}: {error}")))?;
    udp.set_nonblocking(true).map_err(|error| failed(&error))?;
    enlarge_receive_buffer(&udp);
    let udp = tokio::net::UdpSocket::from_std(udp).map_err(|error| failed(&error))?;
    let tcp = tokio::net::TcpListener::from_std(tcp).map_err(|error| failed(&error))?;

    let transfers = transfer::TransferPolicy::new(&config.transfer_allow).map_err(|error| failed(&error))?;
    let notify = config
        .notify
        .iter()
        .map(|target| {
            target.parse::<std::net::SocketAddr>().map_err(|_| failed(&format!("notify: {target} is not address:port")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let records = RecordsClient::new(context.link(ServiceName::Data)?);
    let authority = Arc::new(authority::Authority::new());
    authority.set_alias_targets(Box::new(aliases::EndpointAliases {
        cdn: config.endpoints.cdn.clone(),
        gateway: config.endpoints.gateway.clone(),
        storage: config.endpoints.storage.clone(),
    }));
    let sync = sync::Sync::new(records.clone(), authority.clone(), notify);
    let probe_targets = health::ProbeTargets::new(&config.health_check_allow).map_err(|error| failed(&error))?;
    let checker = health::Checker::new(records.clone(), authority.clone()).with_targets(probe_targets);
    let health_checks = health::HealthChecks::new(records.clone(), checker.clone());
    let zones = store::Zones::new(records, authority.clone()).with_replica(sync.replica());
    let front = api::Route53::new(&context, zones, health_checks);

    // DNS answers only once every zone is loaded: before that it would
    // answer REFUSED for zones it serves.
    let (ready, loaded) = tokio::sync::oneshot::channel();
    let syncing = {
        let (sync, shutdown) = (sync.clone(), shutdown.clone());
        let interval = std::time::Duration::from_millis(config.sync_interval_ms.max(10));
        tokio::spawn(async move { sync.run(interval, ready, shutdown).await })
    };
    let checking = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { checker.run(shutdown).await })
    };
    let rate_limit = (config.rate_limit > 0)
        .then(|| authority::rate_limit::RateLimit::new(config.rate_limit, config.rate_limit_slip));
    if rate_limit.is_some() {
        tracing::info!(per_second = config.rate_limit, slip = config.rate_limit_slip, "DNS responses are rate-limited");
    }
    let options = authority::server::Options { transfers, rate_limit };
    let dns = {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                loaded = loaded => match loaded {
                    Ok(()) => authority::serve(authority, udp, tcp, options, shutdown).await,
                    Err(_) => Ok(()),
                },
                () = shutdown.cancelled() => Ok(()),
            }
        }
    };
    let router = nubo_host::grpc::router(&context.cluster).add_service(DnsServer::new(DnsApi { sync }));
    let grpc = nubo_host::grpc::serve("dns", listeners.grpc, router, shutdown.clone());
    let routes = move |routes: &mut actix_web::web::ServiceConfig| api::routes(routes, front.clone());
    let http = nubo_host::http::serve("dns", listeners.http, 1, Metrics::new("dns"), shutdown, routes);
    let served = nubo_host::serve_fronts("dns", grpc, async { tokio::try_join!(http, dns).map(drop) }).await;
    // The sync loop removes this replica's heartbeat as it stops, so
    // GetChange stops waiting for it at once; it gets a moment for that.
    if tokio::time::timeout(std::time::Duration::from_secs(2), syncing).await.is_err() {
        tracing::debug!("the sync loop did not stop in time");
    }
    checking.abort();
    served
}

/// A burst of queries waits in the socket's receive buffer while the
/// workers answer; the kernel's default (about 200 KiB) drops some under
/// full load, as NSD avoids by asking for more. As root the size is
/// forced past `net.core.rmem_max`; otherwise the kernel caps it there.
fn enlarge_receive_buffer(socket: &std::net::UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    const WANTED: usize = 4 * 1024 * 1024;
    if setsockopt(socket, sockopt::RcvBufForce, &WANTED).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &WANTED);
    }
}
