//! The gateway service, nubo's API Gateway. It serves user HTTP APIs on its
//! HTTP port ([`user_api`]), turning requests into Lambda proxy events
//! ([`proxy`]) routed by route key ([`routing`]), and the AWS edge on the
//! edge port ([`edge`]), which answers the API Gateway management API
//! ([`management`]) and relays every other AWS call to its owner.
//!
//! It owns no durable state: API definitions are records in the data
//! service ([`apis`]), and functions are invoked over gRPC.

pub mod access_log;
pub mod apis;
pub mod authorizers;
pub mod cors;
pub mod domains;
pub mod edge;
pub mod error;
pub mod function_urls;
pub mod grpc;
pub mod http_proxy;
pub mod management;
pub mod model;
pub mod openapi;
pub mod parameter_mapping;
pub mod proxy;
pub mod request_context;
pub mod rest;
pub mod revalidating;
pub mod route_metrics;
pub mod routing;
pub mod stages;
pub mod sts;
pub mod tags;
pub mod throttle;
pub mod updates;
pub mod user_api;
pub mod websocket;

use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::clients::{FunctionsClient, RecordsClient};
use serde::{Deserialize, Serialize};

/// The `[gateway]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// User APIs, `/health` and `/metrics`.
    pub http_port: u16,
    /// The AWS edge: every AWS API, API Gateway management included.
    pub edge_port: u16,
    pub grpc_port: u16,
    /// The base URL clients reach user APIs at; API endpoints are
    /// `{public_url}/{apiId}`. Defaults to loopback on `http_port`.
    pub public_url: Option<String>,
    /// Where the edge relays each service's calls.
    pub edge: edge::EdgeTargets,
    /// WebSocket APIs' connection limits and this replica's address.
    #[serde(default)]
    pub websocket: websocket::Config,
    /// Account-level throttling and the replicas sharing it ([`throttle`]).
    pub throttling: ThrottlingConfig,
}

/// The account's throttling limits across every API, and how many gateway
/// replicas share them (each enforces its share).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottlingConfig {
    /// Requests per second (API Gateway's default quota: 10,000).
    pub account_rate_limit: f64,
    /// The bucket's size (API Gateway's default: 5,000).
    pub account_burst_limit: u64,
    /// Gateway processes behind one load balancer.
    pub replicas: u32,
}

impl Default for ThrottlingConfig {
    fn default() -> Self {
        Self { account_rate_limit: 10_000.0, account_burst_limit: 5_000, replicas: 1 }
    }
}

impl Config {
    /// User APIs and the AWS edge over HTTP, and gRPC.
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports { http: self.http_port, grpc: self.grpc_port, extra: vec![(EDGE_LISTENER, self.edge_port)] }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 8080,
            edge_port: 4566,
            grpc_port: 50051,
            public_url: None,
            edge: edge::EdgeTargets::default(),
            websocket: websocket::Config::default(),
            throttling: ThrottlingConfig::default(),
        }
    }
}

/// The name of the gateway's AWS edge listener among its [`Listeners`].
pub const EDGE_LISTENER: &str = "edge";

nubo_host::service!(Gateway, "user APIs", Config, Config::ports, run);

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    config: Config,
    mut listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let fail = |message: String| ServeError::new("gateway", message);
    let edge_listener = listeners.take(EDGE_LISTENER).ok_or_else(|| fail("no edge listener was bound".into()))?;
    let apis = apis::Apis::new(RecordsClient::new(context.link(ServiceName::Data)?), context.account_id.clone());
    let functions = FunctionsClient::new(context.link(ServiceName::Functions)?);
    let websockets = websocket::WebSockets::new(
        &config.websocket,
        websocket::Parts {
            apis: apis.clone(),
            functions: functions.clone(),
            records: RecordsClient::new(context.link(ServiceName::Data)?),
            cluster: context.cluster.clone(),
            grpc_address: listeners.grpc.local_addr().map_err(|error| fail(error.to_string()))?,
            front: websocket::WebSockets::front(&context),
            authorizers: authorizers::Authorizers::new(functions.clone(), &context),
            account_id: context.account_id.clone(),
        },
    );
    let http_address = listeners.http.local_addr().map_err(|error| fail(error.to_string()))?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{http_address}"));

    let rest = rest::Rest::new(
        RecordsClient::new(context.link(ServiceName::Data)?),
        context.account_id.clone(),
        config.edge.auth.clone(),
    )
    .map_err(|error| fail(format!("cannot build the http integration client: {error}")))?;
    let domains = domains::Domains::new(RecordsClient::new(context.link(ServiceName::Data)?));
    let management = management::Management {
        apis: apis.clone(),
        domains: domains.clone(),
        rest: rest.clone(),
        endpoints: management::Endpoints { public_url },
        front: management::front(&context),
        region: context.region.clone(),
    };
    let edge = edge::Edge {
        targets: config.edge.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Owners are near; a synchronous Invoke may take its 15 minutes
            // to answer, so only the connection is bounded in time.
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|error| fail(format!("cannot build the edge client: {error}")))?,
        sts: sts::front(&context),
    };
    let metrics = Metrics::new("gateway");
    let throttling = &config.throttling;
    let user_apis = user_api::UserApis {
        apis: apis.clone(),
        functions: functions.clone(),
        account_id: context.account_id.clone(),
        authorizers: authorizers::Authorizers::new(functions, &context),
        domains,
        http: http_proxy::client(),
        throttle: throttle::Throttle::new(
            throttle::Limits { rate: throttling.account_rate_limit, burst: throttling.account_burst_limit },
            throttling.replicas,
        ),
        access_log: access_log::AccessLog::start(&context.state_dir),
        metrics: route_metrics::RouteMetrics::register(&metrics),
        rest,
    };

    let edge_websockets = websockets.clone();
    let router = nubo_host::grpc::router(&context.cluster).add_service(grpc::server(apis, websockets.clone()));
    let grpc = nubo_host::grpc::serve("gateway", listeners.grpc, router, shutdown.clone());
    let user = nubo_host::http::serve("gateway", listeners.http, 2, metrics.clone(), shutdown.clone(), move |routes| {
        websocket::routes(routes, websockets.clone());
        user_api::routes(routes, user_apis.clone())
    });
    let aws = nubo_host::http::serve("gateway-edge", edge_listener, 1, metrics, shutdown, move |routes| {
        websocket::connection_routes(routes, edge_websockets.clone());
        edge::routes(routes, edge.clone(), management.clone())
    });
    let http = async {
        let (user, aws) = tokio::join!(user, aws);
        user.and(aws)
    };
    nubo_host::serve_fronts("gateway", grpc, http).await
}
