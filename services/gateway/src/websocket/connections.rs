//! Where each WebSocket connection lives. The socket itself is held by
//! one gateway replica ([`Registry`], in memory); which replica that is,
//! with the connection's API, stage, time and caller, is a record in the
//! data service ([`Ownership`], namespace [`NAMESPACE`]), so the
//! `@connections` API answered by any replica finds the owner and reaches
//! it over gRPC ([`Peers`]).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use nubo_proto::{ClusterToken, Link, clients::RecordsClient, gateway::gateway_client::GatewayClient};
use serde::{Deserialize, Serialize};

use crate::error::{GatewayError, Result};

pub const NAMESPACE: &str = "gateway.connections.v1";

/// The stored facts of one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub api_id: String,
    pub stage: String,
    /// The gRPC address of the replica holding the socket.
    pub owner: String,
    /// Milliseconds since the Unix epoch.
    pub connected_at: i64,
    pub source_ip: String,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// A socket this replica holds.
pub struct Local {
    pub session: actix_ws::Session,
    pub record: ConnectionRecord,
    /// When the client last sent a frame (ms since the epoch).
    pub last_active: AtomicI64,
    /// Woken by `DeleteConnection`: the session closes the socket.
    pub close: tokio::sync::Notify,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local").field("record", &self.record).finish_non_exhaustive()
    }
}

impl Local {
    pub fn touch(&self) {
        self.last_active.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn last_active(&self) -> i64 {
        self.last_active.load(Ordering::Relaxed)
    }
}

/// The sockets this replica holds, by connection id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    sockets: Arc<Mutex<HashMap<String, Arc<Local>>>>,
}

impl Registry {
    pub fn insert(&self, connection_id: &str, local: Arc<Local>) {
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.insert(connection_id.to_owned(), local);
        }
    }

    pub fn remove(&self, connection_id: &str) {
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.remove(connection_id);
        }
    }

    /// The socket, if this replica holds it for `api_id`.
    pub fn get(&self, api_id: &str, connection_id: &str) -> Option<Arc<Local>> {
        let sockets = self.sockets.lock().ok()?;
        sockets.get(connection_id).filter(|local| local.record.api_id == api_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.sockets.lock().map(|sockets| sockets.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The ownership records in the data service.
#[derive(Debug, Clone)]
pub struct Ownership {
    records: RecordsClient,
}

impl Ownership {
    pub fn new(records: RecordsClient) -> Self {
        Self { records }
    }

    pub async fn put(&self, connection_id: &str, record: &ConnectionRecord) -> Result<()> {
        let value = serde_json::to_vec(record).map_err(|error| GatewayError::Service(error.to_string()))?;
        self.records.put(NAMESPACE, connection_id, value, None).await?;
        Ok(())
    }

    pub async fn get(&self, connection_id: &str) -> Result<Option<ConnectionRecord>> {
        let Some(record) = self.records.get(NAMESPACE, connection_id).await? else { return Ok(None) };
        match serde_json::from_slice(&record.value) {
            Ok(connection) => Ok(Some(connection)),
            Err(error) => {
                tracing::error!(connection = connection_id, %error, "unreadable connection record");
                Ok(None)
            }
        }
    }

    pub async fn delete(&self, connection_id: &str) -> Result<()> {
        self.records.delete(NAMESPACE, connection_id, None).await?;
        Ok(())
    }
}

/// gRPC clients of the other gateway replicas, by address, made on first
/// use (links are lazy: a replica that restarts is reached again).
#[derive(Debug, Clone)]
pub struct Peers {
    cluster: ClusterToken,
    clients: Arc<Mutex<HashMap<String, GatewayClient<Link>>>>,
}

/// Replicas one process keeps clients for at most; past it the map is
/// started afresh (replicas come and go in a cluster that lives long).
const MAX_PEERS: usize = 1024;

impl Peers {
    pub fn new(cluster: ClusterToken) -> Self {
        Self { cluster, clients: Arc::default() }
    }

    pub fn client(&self, address: &str) -> Result<GatewayClient<Link>> {
        let mut clients = self.clients.lock().map_err(|_| GatewayError::Service("peer clients poisoned".into()))?;
        if let Some(client) = clients.get(address) {
            return Ok(client.clone());
        }
        let link = nubo_host::grpc::link(address, &self.cluster)
            .map_err(|error| GatewayError::Service(format!("bad gateway replica address {address}: {error}")))?;
        let client = GatewayClient::new(link);
        if clients.len() >= MAX_PEERS {
            clients.clear();
        }
        clients.insert(address.to_owned(), client.clone());
        Ok(client)
    }
}
