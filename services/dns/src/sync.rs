//! Replicas in step with data.
//!
//! Every replica looks at the small serial records (`model::SERIALS`) a few
//! times a second and reloads only the zones whose serial passed the one
//! it serves, so a change reaches every replica within a second without
//! anyone reading whole zones that often. A zone whose record is gone
//! stops being served. The serial record is written after the zone
//! record, so a writer that fails or dies in between leaves a change
//! unpublished: every replica also reads all zone records at start (and
//! answers nothing before that) and every [`RECONCILE_EVERY`], which bounds
//! how long such a change goes unseen.
//!
//! Each replica writes a heartbeat (`model::REPLICAS`) saying which serials
//! it serves; GetChange reports INSYNC once every live heartbeat has
//! reached the change's serial. Heartbeats of replicas gone for
//! [`FORGET_REPLICAS_AFTER`] are removed.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use nubo_proto::{RemoteError, clients::RecordsClient};

use crate::{
    authority::Authority,
    model::{self, Heartbeat, Zone},
};

/// How often a replica says what it serves when nothing changes.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);
/// How often signed zones are looked at for signatures to renew (they are
/// renewed a day after signing and last two weeks).
const RESIGN_EVERY: Duration = Duration::from_secs(3600);
/// How often every zone record is read, to catch changes whose serial was
/// never published.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// A heartbeat this old belongs to a replica that is gone (killed, say);
/// it is removed so the namespace does not grow with every restart.
const FORGET_REPLICAS_AFTER: u64 = 600;

#[derive(Clone)]
pub struct Sync {
    records: RecordsClient,
    authority: Arc<Authority>,
    /// This replica's heartbeat key, fresh at every start.
    replica: Arc<str>,
    /// Secondaries to NOTIFY when a zone's serial moves.
    notify: Arc<[std::net::SocketAddr]>,
    /// Zones found deleted, with the serial published at their deletion,
    /// so a deleted zone is read again only if it is published anew.
    absent: Arc<std::sync::Mutex<BTreeMap<String, u32>>>,
}

impl std::fmt::Debug for Sync {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Sync").field("replica", &self.replica).finish_non_exhaustive()
    }
}

impl Sync {
    pub fn new(records: RecordsClient, authority: Arc<Authority>, notify: Vec<std::net::SocketAddr>) -> Self {
        let replica = uuid::Uuid::new_v4().simple().to_string().into();
        Self { records, authority, replica, notify: notify.into(), absent: Arc::default() }
    }

    /// This replica's id, the key of its heartbeat.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Loads one zone as data has it now, or stops serving it if it is gone.
    pub async fn reload(&self, zone_id: &str) -> Result<(), RemoteError> {
        match self.records.get(model::ZONES, zone_id).await? {
            Some(record) => match serde_json::from_slice::<Zone>(&record.value) {
                Ok(zone) => self.authority.apply(&[zone], &[]),
                Err(error) => {
                    tracing::error!(zone = zone_id, %error, "a zone record cannot be read; its last good version is still served")
                }
            },
            None => self.authority.apply(&[], &[zone_id.to_owned()]),
        }
        Ok(())
    }

    /// Loads every zone until it succeeds (or `shutdown`), then looks for
    /// changes every `interval`; says what it serves after every change
    /// and every few seconds regardless. `ready` is told once the first
    /// full load is served.
    pub async fn run(
        &self,
        interval: Duration,
        ready: tokio::sync::oneshot::Sender<()>,
        shutdown: nubo_host::Shutdown,
    ) {
        for attempt in 1u32.. {
            match self.reconcile().await {
                Ok(()) => break,
                // Data starting beside this service fails the first tries;
                // only a lasting failure is worth a line.
                Err(error) if attempt == 20 => {
                    tracing::info!(%error, "zones cannot be loaded yet; DNS answers once they are")
                }
                Err(error) => tracing::debug!(%error, "zones cannot be loaded yet"),
            }
            tokio::select! {
                () = tokio::time::sleep(interval.max(Duration::from_millis(500))) => {}
                () = shutdown.cancelled() => return,
            }
        }
        let _ = ready.send(());
        let mut last_reconcile = Instant::now();
        let mut last_heartbeat: Option<Instant> = None;
        let mut last_resign = Instant::now();
        let mut reported = BTreeMap::new();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => break,
            }
            if let Err(error) = self.catch_up().await {
                tracing::debug!(%error, "zones could not be checked for changes; trying again");
                continue;
            }
            if last_reconcile.elapsed() >= RECONCILE_EVERY {
                last_reconcile = Instant::now();
                if let Err(error) = self.reconcile().await {
                    tracing::debug!(%error, "zones could not be read in full; trying again later");
                }
            }
            if last_resign.elapsed() >= RESIGN_EVERY {
                last_resign = Instant::now();
                let authority = self.authority.clone();
                // Signing is CPU work: off the async workers.
                let _ = tokio::task::spawn_blocking(move || authority.resign_due()).await;
            }
            let serving = self.authority.serials();
            self.notify_changes(&reported, &serving);
            let due = last_heartbeat.is_none_or(|at| at.elapsed() >= HEARTBEAT_EVERY);
            if (serving != reported || due) && self.heartbeat(&serving).await.is_ok() {
                reported = serving;
                if last_heartbeat.is_none_or(|at| at.elapsed() >= RECONCILE_EVERY) {
                    self.forget_gone_replicas().await;
                }
                last_heartbeat = Some(Instant::now());
            }
        }
        // A stopped replica is not waited for: its heartbeat goes now
        // rather than going stale.
        let _ = self.records.delete(model::REPLICAS, &self.replica, None).await;
    }

    /// NOTIFYs the secondaries of every zone whose serial moved since the
    /// last heartbeat (the first one included: a restarted replica tells
    /// them to check).
    fn notify_changes(&self, reported: &BTreeMap<String, u32>, serving: &BTreeMap<String, u32>) {
        if self.notify.is_empty() {
            return;
        }
        for (zone_id, serial) in serving {
            if reported.get(zone_id) == Some(serial) {
                continue;
            }
            let (records, targets, zone_id, serial) =
                (self.records.clone(), self.notify.clone(), zone_id.clone(), *serial);
            tokio::spawn(async move {
                let Ok(Some(record)) = records.get(model::ZONES, &zone_id).await else { return };
                let Ok(zone) = serde_json::from_slice::<Zone>(&record.value) else { return };
                crate::transfer::notify_all(&zone.name, serial, &targets).await;
            });
        }
    }

    /// Reloads every zone whose published serial is past the one served,
    /// and drops zones no longer published.
    async fn catch_up(&self) -> Result<(), RemoteError> {
        let published = self.published().await?;
        let serving = self.authority.serials();
        for (zone_id, serial) in &published {
            let behind = serving.get(zone_id).is_none_or(|served| served < serial);
            let known_absent = self.absent().get(zone_id).is_some_and(|absent| absent >= serial);
            if behind && !known_absent {
                self.reload(zone_id).await?;
                if !self.authority.serials().contains_key(zone_id) {
                    self.absent().insert(zone_id.clone(), *serial);
                }
            }
        }
        self.absent().retain(|zone_id, _| published.contains_key(zone_id));
        let gone: Vec<String> = serving.keys().filter(|id| !published.contains_key(*id)).cloned().collect();
        for zone_id in gone {
            // The serial record goes after the zone record; check the zone
            // itself so a zone published a moment ago is not dropped.
            self.reload(&zone_id).await?;
        }
        Ok(())
    }

    /// Reads every zone record and serves each at least at its serial;
    /// drops served zones that no longer have one.
    async fn reconcile(&self) -> Result<(), RemoteError> {
        let records = self.records.list_all(model::ZONES, "").await?;
        let mut stored = Vec::with_capacity(records.len());
        for record in records {
            match serde_json::from_slice::<Zone>(&record.value) {
                Ok(zone) => stored.push(zone),
                Err(error) => tracing::error!(zone = %record.key, %error, "a zone record cannot be read"),
            }
        }
        let serving = self.authority.serials();
        let removed: Vec<String> =
            serving.keys().filter(|id| !stored.iter().any(|zone| &zone.id == *id)).cloned().collect();
        let newer: Vec<Zone> = stored
            .into_iter()
            .filter(|zone| serving.get(&zone.id).is_none_or(|served| *served < zone.serial))
            .collect();
        if !newer.is_empty() || !removed.is_empty() {
            self.authority.apply(&newer, &removed);
        }
        Ok(())
    }

    /// Removes heartbeats not written for [`FORGET_REPLICAS_AFTER`].
    async fn forget_gone_replicas(&self) {
        let Ok(heartbeats) = self.records.list_all(model::REPLICAS, "").await else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        for record in heartbeats {
            let stale = serde_json::from_slice::<Heartbeat>(&record.value)
                .map_or(true, |heartbeat| now.saturating_sub(heartbeat.at) > FORGET_REPLICAS_AFTER);
            if stale && record.key != *self.replica {
                let _ = self.records.delete(model::REPLICAS, &record.key, Some(record.version)).await;
            }
        }
    }

    fn absent(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u32>> {
        self.absent.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Zone id → published serial, over every page.
    async fn published(&self) -> Result<BTreeMap<String, u32>, RemoteError> {
        let mut published = BTreeMap::new();
        for record in self.records.list_all(model::SERIALS, "").await? {
            match std::str::from_utf8(&record.value).ok().and_then(|text| text.trim().parse::<u32>().ok()) {
                Some(serial) => {
                    published.insert(record.key, serial);
                }
                None => tracing::warn!(zone = %record.key, "a zone serial record is not a number; ignored"),
            }
        }
        Ok(published)
    }

    async fn heartbeat(&self, serving: &BTreeMap<String, u32>) -> Result<(), RemoteError> {
        let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        let heartbeat = Heartbeat { at, serials: serving.clone() };
        let value = serde_json::to_vec(&heartbeat).map_err(|error| RemoteError::internal("dns", error.to_string()))?;
        self.records.put(model::REPLICAS, &self.replica, value, None).await.map(drop)
    }
}
