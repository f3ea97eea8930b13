//! The data service, nubo's DynamoDB. It is the only service that touches
//! the database: every other service keeps its durable state here, through
//! the `nubo.data.v1.Data` gRPC API, as versioned records grouped by
//! namespace ([`records`]). The DynamoDB JSON API is served on the HTTP port
//! ([`dynamodb`]); its tables live in a storage [`engine`].
//!
//! Records and tables share one storage [`engine`]: an embedded `redb`
//! database under the state directory for a single node (one ACID file whose
//! commits are fsynced before they are acknowledged), or a ScyllaDB cluster.

pub mod dynamodb;
pub mod engine;
pub mod grpc;
pub mod records;

use nubo_host::{Context, Listeners, ServeError, Shutdown, metrics::Metrics};
use serde::{Deserialize, Serialize};

/// The `[data]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The DynamoDB API, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
    /// Which engine keeps the tables.
    pub engine: EngineKind,
    /// The cluster of the `cql` engine.
    pub cql: engine::cql::CqlConfig,
    /// Seconds between sweeps for items whose Time to Live has passed.
    pub ttl_sweep_secs: u64,
    /// Stream and statistics timings of the DynamoDB API.
    pub dynamodb: dynamodb::settings::Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// `redb` under `{state_dir}/data`.
    Embedded,
    /// A ScyllaDB (or other CQL) cluster.
    Cql,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 8000,
            grpc_port: 50053,
            engine: EngineKind::Embedded,
            cql: Default::default(),
            ttl_sweep_secs: 10,
            dynamodb: Default::default(),
        }
    }
}

impl Config {
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports::new(self.http_port, self.grpc_port)
    }
}

nubo_host::service!(Data, "DynamoDB API", Config, Config::ports, run);

/// Runs the service until `shutdown`.
pub async fn run(context: Context, config: Config, listeners: Listeners, shutdown: Shutdown) -> Result<(), ServeError> {
    let directory = context.state_dir.join("data");
    std::fs::create_dir_all(&directory)
        .map_err(|error| ServeError::new("data", format!("cannot create {}: {error}", directory.display())))?;
    let engine: std::sync::Arc<dyn engine::Engine> = match config.engine {
        EngineKind::Embedded => {
            let database = redb::Database::create(directory.join("data.redb"))
                .map_err(|error| ServeError::new("data", format!("cannot open the embedded database: {error}")))?;
            std::sync::Arc::new(engine::embedded::EmbeddedEngine::new(std::sync::Arc::new(database)))
        }
        EngineKind::Cql => {
            std::sync::Arc::new(engine::cql::CqlEngine::connect(&config.cql).await.map_err(|error| {
                ServeError::new("data", format!("cannot reach the CQL cluster {:?}: {error}", config.cql.nodes))
            })?)
        }
    };
    let store = records::RecordStore::open(engine.clone()).await.map_err(|error| ServeError::new("data", error))?;
    let dynamo = dynamodb::Dynamo::new(store.clone(), engine, context.region.clone(), context.account_id.clone())
        .with_settings(config.dynamodb.clone());
    let metrics = Metrics::new("data");
    let sweeper = tokio::spawn(sweep_expired_items(dynamo.clone(), config.ttl_sweep_secs, shutdown.clone()));

    let router = nubo_host::grpc::router(&context.cluster).add_service(grpc::server(store, dynamo.clone()));
    let front = dynamodb::http::front(&context);
    let served = nubo_host::serve("data", listeners, router, 2, metrics, shutdown, move |routes| {
        dynamodb::http::routes(routes, dynamo.clone(), front.clone())
    })
    .await;
    sweeper.abort();
    served
}

/// Deletes expired items every `interval_secs` until shutdown.
async fn sweep_expired_items(dynamo: dynamodb::Dynamo, interval_secs: u64, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval_secs.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match dynamo.expire_items().await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "expired items deleted"),
            Err(error) => tracing::warn!(%error, "time to live sweep failed"),
        }
        if let Err(error) = dynamo.trim_streams().await {
            tracing::warn!(%error, "stream trim failed");
        }
        if let Err(error) = dynamo.refresh_statistics().await {
            tracing::warn!(%error, "table statistics could not be counted");
        }
    }
}
