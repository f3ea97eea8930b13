//! Replicas in step with data.
//!
//! Every write of the API raises one small generation record
//! (`model::GENERATION`). Each replica reads it every `sync_interval_ms`
//! (and at once when its own API changed something, [`Sync::poke`]);
//! when it has moved, the replica reads every distribution, policy, key
//! group, public key and origin access control, compiles the sites anew
//! and swaps them into [`Sites`], then applies every pending invalidation
//! it has not applied yet to its [`Tiers`] (its own memory, and Redis).
//! Records are written before the generation moves, so a replica that
//! has read generation G has seen every change published at G or before.
//!
//! Each replica then writes a heartbeat (`model::REPLICAS`) with the
//! generation it has applied; a change is `Deployed` (an invalidation
//! `Completed`) once every live heartbeat has reached its generation.
//! Every [`RECONCILE_EVERY`] a replica reads everything regardless, which
//! bounds how long a change whose writer died before raising the
//! generation goes unseen.
//!
//! Invalidations reach every replica within a sync interval, through
//! data (not Redis pub/sub): the same path as configs, so a replica that
//! missed a message cannot miss an invalidation.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Notify;

use crate::{
    Endpoints,
    compile::{self, Catalog},
    model::{Kind, Node},
    sites::Sites,
    store::{Store, StoreError},
    tiers::Tiers,
};

/// How often a replica says what it has applied when nothing changes.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);
/// How often everything is read even if the generation did not move.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// How long a pending invalidation is kept for replicas to apply (every
/// live one has within a second; a replica away longer starts over with
/// an empty memory tier).
const PENDING_KEPT: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// A heartbeat this old (seconds) belongs to a replica that is gone.
const FORGET_REPLICAS_AFTER: u64 = 600;

/// This replica's view of data; cheap to clone.
#[derive(Clone)]
pub struct Sync {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    sites: Sites,
    tiers: Tiers,
    endpoints: Endpoints,
    /// This replica's heartbeat key, fresh at every start.
    replica: String,
    /// The generation whose records and invalidations are applied here.
    applied: AtomicU64,
    /// Every distribution has been read once.
    loaded: std::sync::atomic::AtomicBool,
    poke: Notify,
    /// The pending invalidations (`{distribution}/{id}`) applied here.
    invalidated: std::sync::Mutex<HashSet<String>>,
    /// One load at a time.
    loading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Sync {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Sync").field("replica", &self.inner.replica).finish_non_exhaustive()
    }
}

impl Sync {
    pub fn new(store: Store, sites: Sites, tiers: Tiers, endpoints: Endpoints) -> Self {
        let inner = Inner {
            store,
            sites,
            tiers,
            endpoints,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            applied: AtomicU64::new(0),
            loaded: std::sync::atomic::AtomicBool::new(false),
            poke: Notify::new(),
            invalidated: std::sync::Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
        };
        Self { inner: Arc::new(inner) }
    }

    /// This replica's id, the key of its heartbeat.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// The generation applied here.
    pub fn applied(&self) -> u64 {
        self.inner.applied.load(Ordering::Acquire)
    }

    /// Whether every distribution has been read once: until then this
    /// replica serves no viewer.
    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.load(Ordering::Acquire)
    }

    /// Asks the sync loop to look for changes now.
    pub fn poke(&self) {
        self.inner.poke.notify_one();
    }

    /// Reads everything and serves it; returns the generation applied.
    pub async fn load(&self) -> Result<u64, StoreError> {
        let inner = &self.inner;
        let _one_at_a_time = inner.loading.lock().await;
        let generation = inner.store.generation().await?;
        let catalog = self.catalog().await?;
        let distributions = inner.store.list(Kind::Distribution).await?;
        let mut sites = Vec::with_capacity(distributions.len());
        for distribution in &distributions {
            match compile::compile(distribution, &catalog, &inner.endpoints) {
                Ok(site) => sites.push(Arc::new(site)),
                Err(error) => {
                    // A policy deleted under it, say: the version served
                    // before (if any) goes on being served.
                    tracing::warn!(distribution = %distribution.id, %error, "a distribution cannot be compiled");
                    sites.extend(inner.sites.by_id(&distribution.id));
                }
            }
        }
        inner.sites.replace(sites);
        self.invalidate().await?;
        inner.applied.store(generation, Ordering::Release);
        inner.loaded.store(true, Ordering::Release);
        Ok(generation)
    }

    /// Applies the pending invalidations not applied here yet (every
    /// one when this replica starts: its memory is empty, and Redis drops
    /// the same keys twice at no harm).
    async fn invalidate(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let pending = inner.store.pending_invalidations(None).await?;
        let keys: HashSet<String> = pending
            .iter()
            .map(|invalidation| format!("{}/{}", invalidation.distribution_id, invalidation.id))
            .collect();
        let new: Vec<_> = {
            let applied = self.invalidated();
            pending
                .into_iter()
                .filter(|invalidation| {
                    !applied.contains(&format!("{}/{}", invalidation.distribution_id, invalidation.id))
                })
                .collect()
        };
        for invalidation in new {
            let dropped = inner.tiers.invalidate(&invalidation.distribution_id, &invalidation.paths).await;
            tracing::debug!(distribution = %invalidation.distribution_id, invalidation = %invalidation.id, dropped, "invalidated");
            self.invalidated().insert(format!("{}/{}", invalidation.distribution_id, invalidation.id));
        }
        self.invalidated().retain(|key| keys.contains(key));
        Ok(())
    }

    fn invalidated(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner.invalidated.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every resource a distribution may name, by id.
    async fn catalog(&self) -> Result<Catalog, StoreError> {
        let store = &self.inner.store;
        let by_id = |resources: Vec<crate::model::Resource>| -> HashMap<String, Node> {
            resources.into_iter().map(|resource| (resource.id, resource.config)).collect()
        };
        Ok(Catalog {
            cache_policies: by_id(store.list(Kind::CachePolicy).await?),
            origin_request_policies: by_id(store.list(Kind::OriginRequestPolicy).await?),
            response_headers_policies: by_id(store.list(Kind::ResponseHeadersPolicy).await?),
            public_keys: by_id(store.list(Kind::PublicKey).await?),
            key_groups: by_id(store.list(Kind::KeyGroup).await?),
            origin_access_controls: by_id(store.list(Kind::OriginAccessControl).await?),
        })
    }

    /// Loads everything until it succeeds; `false` if `shutdown` came
    /// first. Viewers are answered only after this ([`Sync::is_loaded`]),
    /// so a replica never answers 403 for a distribution it simply has not
    /// read yet.
    pub async fn load_until_loaded(&self, shutdown: &nubo_host::Shutdown) -> bool {
        for attempt in 1u32.. {
            match self.load().await {
                Ok(_) => return true,
                // Data starting beside this service fails the first tries;
                // only a lasting failure is worth a line.
                Err(error) if attempt == 20 => {
                    tracing::info!(%error, "distributions cannot be loaded yet; viewers are answered once they are")
                }
                Err(error) => tracing::debug!(%error, "distributions cannot be loaded yet"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                () = shutdown.cancelled() => return false,
            }
        }
        false
    }

    /// Loads everything, then looks for changes every `interval` (or
    /// when poked) until `shutdown`, reloading when the generation moved,
    /// and says what it has applied; removes its heartbeat as it stops.
    pub async fn run(&self, interval: Duration, shutdown: nubo_host::Shutdown) {
        if !self.load_until_loaded(&shutdown).await {
            return;
        }
        let inner = &self.inner;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_reconcile = Instant::now();
        let mut beaten: Option<(u64, Instant)> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = inner.poke.notified() => {}
                () = shutdown.cancelled() => break,
            }
            let published = match inner.store.generation().await {
                Ok(published) => published,
                Err(error) => {
                    tracing::debug!(%error, "the generation cannot be read; trying again");
                    continue;
                }
            };
            let reconcile = last_reconcile.elapsed() >= RECONCILE_EVERY;
            if published != self.applied() || reconcile {
                if let Err(error) = self.load().await {
                    tracing::debug!(%error, "distributions cannot be reloaded; trying again");
                    continue;
                }
                if reconcile {
                    last_reconcile = Instant::now();
                    self.prune().await;
                }
            }
            let applied = self.applied();
            let due = beaten.is_none_or(|(generation, at)| generation != applied || at.elapsed() >= HEARTBEAT_EVERY);
            if due && inner.store.heartbeat(&inner.replica, applied).await.is_ok() {
                beaten = Some((applied, Instant::now()));
            }
        }
        // A stopped replica is not waited for: its heartbeat goes now
        // rather than going stale.
        inner.store.forget_replica(&inner.replica).await;
    }

    /// Drops pending invalidations old enough to have reached every
    /// replica, and the heartbeats of replicas long gone.
    async fn prune(&self) {
        let store = &self.inner.store;
        if let Ok(pending) = store.pending_invalidations(None).await {
            let now = chrono::Utc::now();
            for invalidation in pending {
                let created = chrono::DateTime::parse_from_rfc3339(&invalidation.created).map(|at| at.to_utc());
                if created.map_or(true, |created| now - created > PENDING_KEPT) {
                    store.forget_pending(&invalidation).await;
                }
            }
        }
        store.forget_gone_replicas(FORGET_REPLICAS_AFTER).await;
    }
}
