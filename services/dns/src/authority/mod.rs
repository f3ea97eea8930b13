//! Authoritative DNS: every hosted zone this replica serves, compiled into
//! an in-memory snapshot that is swapped whole ([`arc_swap`]), so a query
//! never sees half a change batch and never waits on data.
//!
//! CONTRACT (the rest of the crate relies on exactly this surface):
//! - `Authority::new()`;
//! - `Authority::apply(&self, zones: &[Zone], removed: &[String])`: serve
//!   each zone as given (replacing the zone of the same id), stop serving
//!   the ids in `removed`; concurrent callers are serialized; a zone whose
//!   serial is lower than the one already served is ignored (replicas may
//!   hear of changes out of order);
//! - `Authority::serials(&self) -> BTreeMap<String, u32>`: zone id → serial
//!   served now;
//! - `serve(authority: Arc<Authority>, udp: tokio::net::UdpSocket,
//!   tcp: tokio::net::TcpListener, shutdown: nubo_host::Shutdown) ->
//!   std::io::Result<()>`: answers on the bound sockets until `shutdown`.

pub mod answer;
pub mod server;
pub mod snapshot;

pub use server::serve;

use std::{collections::BTreeMap, sync::Arc};

use crate::model::Zone;

/// Every zone this replica serves. (Placeholder body: replaced by the
/// snapshot implementation.)
#[derive(Debug, Default)]
pub struct Authority {
    serials: std::sync::Mutex<BTreeMap<String, u32>>,
}

impl Authority {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&self, zones: &[Zone], removed: &[String]) {
        let mut serials = self.serials.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for zone in zones {
            serials.insert(zone.id.clone(), zone.serial);
        }
        for id in removed {
            serials.remove(id);
        }
    }

    pub fn set_health(&self, _healthy: BTreeMap<String, bool>) {}

    pub fn serials(&self) -> BTreeMap<String, u32> {
        self.serials.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

#[allow(dead_code)]
fn _contract(_: Arc<Authority>) {}
