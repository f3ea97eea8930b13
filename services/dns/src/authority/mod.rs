//! Authoritative DNS: every hosted zone this replica serves, compiled into
//! an in-memory snapshot that is swapped whole ([`arc_swap`]), so a query
//! never sees half a change batch and never waits on data.
//!
//! What the rest of the crate uses:
//! - `Authority::apply(&self, zones: &[Zone], removed: &[String])`: serve
//!   each zone as given (replacing the zone of the same id), stop serving
//!   the ids in `removed`; concurrent callers are serialized; a zone whose
//!   serial is lower than the one already served is ignored (replicas may
//!   hear of changes out of order);
//! - `Authority::serials`: zone id → serial served now;
//! - `Authority::set_health` (health check id → healthy, for failover,
//!   weighted and multivalue answers), `Authority::set_alias_targets` (the
//!   records of alias targets outside a zone);
//! - `Authority::answer_bytes` / `Authority::answer_into`: one query's
//!   bytes in, the response's bytes out;
//! - `Authority::resign_due`: signs again the zones signed more than a day
//!   ago; the sync loop calls it hourly;
//! - `serve(authority, udp, tcp, options, shutdown)`: answers on the bound
//!   sockets until `shutdown`, with the transfer allow-list and rate limit
//!   of [`server::Options`].
//!
//! - `snapshot`: zones compiled for lookup;
//! - `dnssec`: keys, NSEC chains and RRSIGs made when a zone compiles;
//! - `answer`: the answer to one query, as NSD gives it;
//! - `wire`: queries read and responses written;
//! - `server`: the UDP and TCP listeners, and zone transfers;
//! - `rate_limit`: UDP response-rate limiting.

pub mod answer;
pub mod dnssec;
pub mod rate_limit;
pub mod server;
pub mod snapshot;
pub mod wire;

#[cfg(test)]
mod dnssec_tests;
#[cfg(test)]
mod tests;

pub use server::serve;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use arc_swap::ArcSwap;
use hickory_proto::rr::{Record, RecordType};

use crate::model::{AliasTarget, Zone};
use snapshot::Snapshot;

/// Health check id → whether it passes. Ids not in the map are healthy.
pub type Health = HashMap<String, bool>;

/// How a query arrived: UDP responses are cut to the client's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The records of alias targets that are not names of the alias's zone:
/// CloudFront distributions, API gateways, S3 website endpoints, load
/// balancers. The service fills this in as those services come to exist;
/// until then such an alias answers NODATA.
pub trait AliasTargets: Send + Sync {
    /// The records of `record_type` `target` stands for now (their owner is
    /// ignored, their TTL kept), or `None` if the target is unknown.
    fn resolve(&self, target: &AliasTarget, record_type: RecordType) -> Option<Vec<Record>>;
}

/// Knows no target outside the zones.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAliasTargets;

impl AliasTargets for NoAliasTargets {
    fn resolve(&self, _target: &AliasTarget, _record_type: RecordType) -> Option<Vec<Record>> {
        None
    }
}

/// Every zone this replica serves, the health of their health checks, and
/// the resolver of outside alias targets; each swapped whole, read without
/// locks.
pub struct Authority {
    snapshot: ArcSwap<Snapshot>,
    health: ArcSwap<Health>,
    aliases: ArcSwap<Box<dyn AliasTargets>>,
    /// Serializes writers: each builds on the snapshot the previous one
    /// stored.
    writer: Mutex<()>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Authority").field("serials", &self.serials()).finish_non_exhaustive()
    }
}

impl Default for Authority {
    fn default() -> Self {
        Self::new()
    }
}

impl Authority {
    pub fn new() -> Self {
        Self {
            snapshot: ArcSwap::from_pointee(Snapshot::empty()),
            health: ArcSwap::from_pointee(Health::new()),
            aliases: ArcSwap::from_pointee(Box::new(NoAliasTargets)),
            writer: Mutex::new(()),
        }
    }

    /// Serves `zones` (each replacing the zone of the same id unless its
    /// serial is lower than the one served) and stops serving `removed`.
    pub fn apply(&self, zones: &[Zone], removed: &[String]) {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let next = self.snapshot.load().with_changes(zones, removed);
        self.snapshot.store(Arc::new(next));
    }

    /// Signs again every signed zone whose signatures were made more than
    /// [`dnssec::RESIGN_AFTER_SECS`] ago, so they never near their 14-day
    /// expiry while the zone does not change. Returns how many were signed.
    /// The service calls it periodically (hourly is plenty).
    pub fn resign_due(&self) -> usize {
        let now = chrono::Utc::now().timestamp();
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot.load();
        let due: Vec<Zone> = current
            .serials()
            .keys()
            .filter_map(|id| current.zone(id))
            .filter(|zone| zone.signed().is_some_and(|signed| now - signed.signed_at > dnssec::RESIGN_AFTER_SECS))
            .map(|zone| (**zone.source()).clone())
            .collect();
        if !due.is_empty() {
            self.snapshot.store(Arc::new(current.with_changes(&due, &[])));
        }
        due.len()
    }

    /// Zone id → the serial served now.
    pub fn serials(&self) -> BTreeMap<String, u32> {
        self.snapshot.load().serials()
    }

    /// Replaces the health of every health check (id → healthy).
    pub fn set_health(&self, healthy: BTreeMap<String, bool>) {
        self.health.store(Arc::new(healthy.into_iter().collect()));
    }

    /// Replaces the resolver of alias targets outside the zones.
    pub fn set_alias_targets(&self, targets: Box<dyn AliasTargets>) {
        self.aliases.store(Arc::new(targets));
    }

    /// The zones served now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The response to one received message, or `None` when it gets none
    /// (shorter than a header, or itself a response).
    pub fn answer_bytes(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        self.answer_into(query, transport, &mut out).then_some(out)
    }

    /// [`Authority::answer_bytes`] into a reused buffer: the response is
    /// appended to `out`; returns whether there is one.
    pub fn answer_into(&self, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
        let snapshot = self.snapshot.load();
        let health = self.health.load();
        let aliases = self.aliases.load();
        let context = answer::Context::new(&snapshot, &health, &***aliases);
        answer::respond(&context, query, transport, out)
    }
}
