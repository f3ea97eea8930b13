//! Zones, changes, caller references and tags as data records.
//!
//! After every successful write of a zone record the store hands the zone
//! to this replica's authority, so it is served here at once, then
//! publishes the zone's serial to `model::SERIALS` (key: zone id, value:
//! the serial as decimal text; only ever raised, by compare-and-set) so
//! other replicas reload it (`crate::sync`).
//!
//! Every write of a zone is a compare-and-set on the version it was read
//! at, retried when another writer got there first, so concurrent change
//! batches serialize and none is lost. A zone's creation reserves its
//! `CallerReference` first (must-not-exist), so two concurrent creations
//! with one reference cannot make two zones.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use nubo_proto::{ErrorCode, RemoteError, clients::RecordsClient};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    authority::Authority,
    batch::{self, BatchError, Change},
    model::{self, ChangeRecord, Heartbeat, RecordSet, Tag, Vpc, Zone},
};

/// The domain the name servers of every zone are named under.
pub const NAME_SERVER_DOMAIN: &str = "nubo.localhost.";
/// Route 53's TTLs for the records it makes with a zone.
const SOA_TTL: u32 = 900;
const NS_TTL: u32 = 172_800;
/// Compare-and-set attempts before a write gives up as contended.
const MAX_ATTEMPTS: u32 = 32;
/// Route 53's limit of tags on one resource.
pub const MAX_TAGS: usize = 50;
const LIST_PAGE: u32 = 1000;

/// Why a store operation failed; the API turns each into its AWS error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("No hosted zone found with ID: {0}")]
    NoSuchHostedZone(String),
    #[error("Could not find resource with ID: {0}")]
    NoSuchChange(String),
    #[error("A health check with id {0} does not exist.")]
    NoSuchHealthCheck(String),
    #[error("A hosted zone has already been created with the specified caller reference.")]
    HostedZoneAlreadyExists,
    #[error("The specified hosted zone contains non-required resource record sets and so cannot be deleted.")]
    HostedZoneNotEmpty,
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("{0}")]
    InvalidInput(String),
    /// A DNSSEC operation refused, under Route 53's error code.
    #[error("{message}")]
    Dnssec { status: u16, code: &'static str, message: String },
    /// Other writers kept winning every compare-and-set.
    #[error("The request was rejected because Route 53 was still processing a prior request.")]
    Contended,
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A stored record that does not decode: a bug or a foreign writer.
    #[error("a stored record does not decode: {0}")]
    Corrupt(String),
}

/// What CreateHostedZone asks for, once the API has checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewZone {
    /// Canonical ([`crate::names::canonical`]).
    pub name: String,
    pub caller_reference: String,
    pub comment: Option<String>,
    /// A private zone's VPC.
    pub vpc: Option<Vpc>,
}

/// The resources tags are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    HostedZone,
    HealthCheck,
}

impl ResourceType {
    /// The `{ResourceType}` of a tags path.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hostedzone" => Some(ResourceType::HostedZone),
            "healthcheck" => Some(ResourceType::HealthCheck),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::HostedZone => "hostedzone",
            ResourceType::HealthCheck => "healthcheck",
        }
    }
}

/// The `CallerReference` record: the zone the reference made (or is
/// making), and whether that zone was deleted since. Route 53 never lets a
/// reference be used twice, even once its zone is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CallerRecord {
    zone_id: String,
    #[serde(default)]
    deleted: bool,
}

#[derive(Clone)]
pub struct Zones {
    records: RecordsClient,
    authority: Arc<Authority>,
    /// This replica's heartbeat key: its own heartbeat may lag what it
    /// serves by a sync interval, so GetChange asks the authority instead.
    replica: Option<Arc<str>>,
}

impl std::fmt::Debug for Zones {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Zones")
    }
}

impl Zones {
    pub fn new(records: RecordsClient, authority: Arc<Authority>) -> Self {
        Self { records, authority, replica: None }
    }

    /// Names this replica's heartbeat, which [`Zones::change`] then reads
    /// from the authority itself.
    pub fn with_replica(mut self, replica: &str) -> Self {
        self.replica = Some(replica.into());
        self
    }

    /// Creates a zone with its SOA and NS record sets, and the change that
    /// made it.
    pub async fn create_zone(&self, new: NewZone) -> Result<(Zone, ChangeRecord), StoreError> {
        let reserved = CallerRecord { zone_id: new_id('Z'), deleted: false };
        let zone_id = match self.records.put(model::CALLERS, &new.caller_reference, encode(&reserved)?, Some(0)).await {
            Ok(_) => reserved.zone_id,
            Err(error) if error.code == ErrorCode::ConditionFailed => {
                self.unfinished_creation(&new.caller_reference).await?
            }
            Err(error) => return Err(error.into()),
        };
        let zone = initial_zone(&zone_id, &new, now_iso8601());
        match self.records.put(model::ZONES, &zone.id, encode(&zone)?, Some(0)).await {
            Ok(_) => {}
            // A concurrent retry with the same reference finished it first.
            Err(error) if error.code == ErrorCode::ConditionFailed => return Err(StoreError::HostedZoneAlreadyExists),
            Err(error) => return Err(error.into()),
        }
        self.published(&zone).await;
        let change = self.record_change(&zone.id, zone.serial, None).await?;
        Ok((zone, change))
    }

    /// The zone id a used `CallerReference` reserved, if its creation never
    /// wrote the zone (it stopped between its two writes); otherwise the
    /// reference is spent.
    async fn unfinished_creation(&self, reference: &str) -> Result<String, StoreError> {
        let record = self.records.get(model::CALLERS, reference).await?.ok_or(StoreError::HostedZoneAlreadyExists)?;
        let caller: CallerRecord = decode(&record.value)?;
        if caller.deleted || self.records.get(model::ZONES, &caller.zone_id).await?.is_some() {
            return Err(StoreError::HostedZoneAlreadyExists);
        }
        Ok(caller.zone_id)
    }

    pub async fn zone(&self, id: &str) -> Result<Zone, StoreError> {
        Ok(self.read_zone(id).await?.0)
    }

    /// Every zone, in the order of their ids.
    pub async fn zones(&self) -> Result<Vec<Zone>, StoreError> {
        let mut zones = Vec::new();
        let mut after = String::new();
        loop {
            let (page, next) = self.records.list(model::ZONES, "", &after, LIST_PAGE).await?;
            for record in &page {
                match decode::<Zone>(&record.value) {
                    Ok(zone) => zones.push(zone),
                    // One bad record must not hide every other zone.
                    Err(error) => tracing::warn!(key = %record.key, %error, "skipping a zone record"),
                }
            }
            match next {
                Some(next) if !page.is_empty() => after = next,
                _ => return Ok(zones),
            }
        }
    }

    /// Sets (or, with `None`, clears) the zone's comment.
    pub async fn update_comment(&self, id: &str, comment: Option<String>) -> Result<Zone, StoreError> {
        self.modify(id, |zone| Ok(Zone { comment: comment.clone(), ..zone.clone() })).await
    }

    /// Deletes a zone that holds nothing but its apex SOA and NS.
    pub async fn delete_zone(&self, id: &str) -> Result<ChangeRecord, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (zone, version) = self.read_zone(id).await?;
            if holds_records(&zone) {
                return Err(StoreError::HostedZoneNotEmpty);
            }
            // Retired first: a crash after it leaves a zone that a retried
            // delete removes, never a reference a retried create reuses.
            self.retire_caller_reference(&zone).await?;
            match self.records.delete(model::ZONES, id, Some(version)).await {
                Ok(_) => {
                    self.authority.apply(&[], &[id.to_owned()]);
                    let serial = zone.serial.saturating_add(1);
                    self.publish_serial(id, serial).await;
                    return self.record_change(id, serial, None).await;
                }
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    async fn retire_caller_reference(&self, zone: &Zone) -> Result<(), StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some(record) = self.records.get(model::CALLERS, &zone.caller_reference).await? else {
                return Ok(());
            };
            let mut caller: CallerRecord = decode(&record.value)?;
            if caller.zone_id != zone.id || caller.deleted {
                return Ok(());
            }
            caller.deleted = true;
            match self.records.put(model::CALLERS, &zone.caller_reference, encode(&caller)?, Some(record.version)).await
            {
                Ok(_) => return Ok(()),
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    /// Applies a change batch ([`batch::apply`]): the zone's serial grows
    /// by one, and the change is recorded for GetChange.
    pub async fn change_record_sets(
        &self,
        id: &str,
        changes: Vec<Change>,
        comment: Option<String>,
    ) -> Result<ChangeRecord, StoreError> {
        let zone = self
            .modify(id, |zone| {
                let mut next = batch::apply(zone, changes.clone())?;
                next.serial = zone.serial.saturating_add(1);
                Ok(next)
            })
            .await?;
        self.record_change(id, zone.serial, comment).await
    }

    /// Changes a zone's DNSSEC state with `edit` (which refuses with
    /// [`StoreError::Dnssec`]); the serial grows by one, so every replica
    /// signs the zone anew, and the change is recorded for GetChange.
    pub async fn change_dnssec(
        &self,
        id: &str,
        edit: impl Fn(&model::Dnssec) -> Result<model::Dnssec, StoreError>,
    ) -> Result<(Zone, ChangeRecord), StoreError> {
        let zone = self
            .modify(id, |zone| {
                let dnssec = edit(&zone.dnssec)?;
                Ok(Zone { dnssec, serial: zone.serial.saturating_add(1), ..zone.clone() })
            })
            .await?;
        let change = self.record_change(id, zone.serial, None).await?;
        Ok((zone, change))
    }

    /// A change and whether it is in sync: served by every live replica.
    pub async fn change(&self, id: &str) -> Result<ChangeRecord, StoreError> {
        let record = self.records.get(model::CHANGES, id).await?.ok_or_else(|| StoreError::NoSuchChange(id.into()))?;
        let mut change: ChangeRecord = decode(&record.value)?;
        if change.in_sync {
            return Ok(change);
        }
        let mut served: Vec<BTreeMap<String, u32>> = self
            .live_heartbeats(now_secs())
            .await?
            .into_iter()
            .filter(|(key, _)| self.replica.as_deref() != Some(key.as_str()))
            .map(|(_, heartbeat)| heartbeat.serials)
            .collect();
        served.push(self.authority.serials());
        // Only a replica without the zone needs to know whether it still
        // exists, so the zone is read only then.
        let zone_exists = if served.iter().all(|serials| serials.contains_key(&change.zone_id)) {
            true
        } else {
            self.records.get(model::ZONES, &change.zone_id).await?.is_some()
        };
        if in_sync(&change, &served, zone_exists) {
            change.in_sync = true;
            // Kept, so a replica that later falls behind or stops writing
            // heartbeats never turns the change back to PENDING.
            match self.records.put(model::CHANGES, id, encode(&change)?, Some(record.version)).await {
                Ok(_) => {}
                Err(error) if error.code == ErrorCode::ConditionFailed => {}
                Err(error) => tracing::warn!(change = id, %error, "could not keep a change in sync"),
            }
        }
        Ok(change)
    }

    /// Heartbeats written within [`model::HEARTBEAT_STALE_SECS`] of `now`.
    async fn live_heartbeats(&self, now: u64) -> Result<Vec<(String, Heartbeat)>, StoreError> {
        let mut live = Vec::new();
        let mut after = String::new();
        loop {
            let (page, next) = self.records.list(model::REPLICAS, "", &after, LIST_PAGE).await?;
            for record in &page {
                match decode::<Heartbeat>(&record.value) {
                    Ok(heartbeat) if now.saturating_sub(heartbeat.at) <= model::HEARTBEAT_STALE_SECS => {
                        live.push((record.key.clone(), heartbeat));
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(key = %record.key, %error, "skipping a replica heartbeat"),
                }
            }
            match next {
                Some(next) if !page.is_empty() => after = next,
                _ => return Ok(live),
            }
        }
    }

    /// Adds (replacing the value of a key already there) and removes tags.
    pub async fn change_tags(
        &self,
        kind: ResourceType,
        id: &str,
        add: Vec<Tag>,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        match kind {
            ResourceType::HealthCheck => self.retag_health_check(id, &add, &remove).await,
            ResourceType::HostedZone => {
                self.modify(id, |zone| {
                    let tags = retagged(&zone.tags, &add, &remove)?;
                    Ok(Zone { tags, ..zone.clone() })
                })
                .await?;
                Ok(())
            }
        }
    }

    pub async fn tags(&self, kind: ResourceType, id: &str) -> Result<Vec<Tag>, StoreError> {
        match kind {
            ResourceType::HealthCheck => Ok(self.health_check(id).await?.0.tags),
            ResourceType::HostedZone => Ok(self.zone(id).await?.tags),
        }
    }

    async fn health_check(&self, id: &str) -> Result<(crate::health::HealthCheck, u64), StoreError> {
        let record = self
            .records
            .get(crate::health::HEALTH_CHECKS, id)
            .await?
            .ok_or_else(|| StoreError::NoSuchHealthCheck(id.into()))?;
        Ok((decode(&record.value)?, record.version))
    }

    /// A health check's tags, changed by compare-and-set.
    async fn retag_health_check(&self, id: &str, add: &[Tag], remove: &[String]) -> Result<(), StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (mut check, version) = self.health_check(id).await?;
            check.tags = retagged(&check.tags, add, remove)?;
            match self.records.put(crate::health::HEALTH_CHECKS, id, encode(&check)?, Some(version)).await {
                Ok(_) => return Ok(()),
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    async fn read_zone(&self, id: &str) -> Result<(Zone, u64), StoreError> {
        let record =
            self.records.get(model::ZONES, id).await?.ok_or_else(|| StoreError::NoSuchHostedZone(id.into()))?;
        Ok((decode(&record.value)?, record.version))
    }

    /// Reads the zone, edits it and writes it back if no other writer came
    /// in between; otherwise reads it again, up to [`MAX_ATTEMPTS`] times.
    async fn modify(&self, id: &str, edit: impl Fn(&Zone) -> Result<Zone, StoreError>) -> Result<Zone, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (zone, version) = self.read_zone(id).await?;
            let next = edit(&zone)?;
            match self.records.put(model::ZONES, id, encode(&next)?, Some(version)).await {
                Ok(_) => {
                    self.published(&next).await;
                    return Ok(next);
                }
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    /// After a zone was written: served here at once, and its serial
    /// published for the other replicas.
    async fn published(&self, zone: &Zone) {
        self.authority.apply(std::slice::from_ref(zone), &[]);
        self.publish_serial(&zone.id, zone.serial).await;
    }

    /// Raises the zone's published serial to `serial`. The zone is written
    /// already, so a failure here is logged rather than failing the request
    /// (whose retry would find its own change done).
    /// Tells the other replicas (through `model::SERIALS`) that the zone
    /// changed. The change is written already, so a failure here does not
    /// fail the request: it is logged, and every replica's periodic full
    /// read (`sync::RECONCILE_EVERY`) finds the change anyway.
    async fn publish_serial(&self, id: &str, serial: u32) {
        if let Err(error) = self.try_publish_serial(id, serial).await {
            tracing::warn!(zone = id, serial, %error, "could not publish a zone serial; replicas find it at their next full read");
        }
    }

    async fn try_publish_serial(&self, id: &str, serial: u32) -> Result<(), RemoteError> {
        for attempt in 0..MAX_ATTEMPTS {
            let current = self.records.get(model::SERIALS, id).await?;
            let (published, version) = match &current {
                Some(record) => {
                    (std::str::from_utf8(&record.value).ok().and_then(|text| text.parse().ok()), record.version)
                }
                None => (None, 0),
            };
            if published.is_some_and(|published: u32| published >= serial) {
                return Ok(());
            }
            match self.records.put(model::SERIALS, id, serial.to_string().into_bytes(), Some(version)).await {
                Ok(_) => return Ok(()),
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error),
            }
        }
        Err(RemoteError::internal("dns", "the zone serial record stayed contended"))
    }

    async fn record_change(
        &self,
        zone_id: &str,
        serial: u32,
        comment: Option<String>,
    ) -> Result<ChangeRecord, StoreError> {
        let change = ChangeRecord {
            id: new_id('C'),
            zone_id: zone_id.to_owned(),
            serial,
            submitted_at: now_iso8601(),
            comment,
            in_sync: false,
        };
        self.records.put(model::CHANGES, &change.id, encode(&change)?, Some(0)).await?;
        Ok(change)
    }
}

/// A new zone as Route 53 makes it: an SOA naming the first of its four
/// name servers, and the NS record set listing them.
pub fn initial_zone(id: &str, new: &NewZone, created: String) -> Zone {
    let name_servers = name_servers(id);
    let soa = format!("{} hostmaster.{NAME_SERVER_DOMAIN} 1 7200 900 1209600 86400", name_servers[0]);
    let apex = |kind: &str, ttl: u32, values: Vec<String>| RecordSet::simple(&new.name, kind, ttl, values);
    let mut record_sets = vec![apex("SOA", SOA_TTL, vec![soa]), apex("NS", NS_TTL, name_servers.clone())];
    batch::sort(&mut record_sets);
    Zone {
        id: id.to_owned(),
        name: new.name.clone(),
        caller_reference: new.caller_reference.clone(),
        comment: new.comment.clone(),
        private: new.vpc.is_some(),
        vpcs: new.vpc.iter().cloned().collect(),
        created,
        // Seconds since the epoch, not 1: a zone deleted and made again
        // under the same name must not look older to a secondary that
        // holds the first one's serial (RFC 1982 comparison).
        serial: u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(1).max(1),
        name_servers,
        record_sets,
        tags: Vec::new(),
        dnssec: model::Dnssec::default(),
    }
}

/// Four name servers, numbered the way Route 53's are (`ns-<n>`), chosen
/// by the zone id so a zone keeps its delegation set.
fn name_servers(zone_id: &str) -> Vec<String> {
    let first = zone_id.bytes().fold(0u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte))) % 512;
    (0..4).map(|index| format!("ns-{}.{NAME_SERVER_DOMAIN}", first + 512 * index)).collect()
}

/// Whether the zone holds record sets beyond the SOA and NS at its apex,
/// which DeleteHostedZone refuses.
pub fn holds_records(zone: &Zone) -> bool {
    zone.record_sets.iter().any(|set| !(set.name == zone.name && matches!(set.kind.as_str(), "SOA" | "NS")))
}

/// Whether every replica in `served` (zone id → serial, one map per
/// replica) serves the change: its zone at the change's serial or later,
/// or, once the zone is deleted, no longer at all.
pub fn in_sync(change: &ChangeRecord, served: &[BTreeMap<String, u32>], zone_exists: bool) -> bool {
    served.iter().all(|serials| match serials.get(&change.zone_id) {
        Some(serial) => *serial >= change.serial,
        None => !zone_exists,
    })
}

/// `tags` with `remove` taken out and `add` put in.
fn retagged(tags: &[Tag], add: &[Tag], remove: &[String]) -> Result<Vec<Tag>, StoreError> {
    let mut tags: Vec<Tag> = tags.iter().filter(|tag| !remove.contains(&tag.key)).cloned().collect();
    for tag in add {
        match tags.iter_mut().find(|existing| existing.key == tag.key) {
            Some(existing) => existing.value.clone_from(&tag.value),
            None => tags.push(tag.clone()),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(StoreError::InvalidInput(format!(
            "The number of tags for the resource would exceed the limit of {MAX_TAGS}"
        )));
    }
    Ok(tags)
}

/// An id in Route 53's form: a letter and 20 upper-case letters and digits.
pub fn new_id(prefix: char) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bits = uuid::Uuid::new_v4().as_u128();
    let mut id = String::with_capacity(21);
    id.push(prefix);
    for _ in 0..20 {
        id.push(char::from(ALPHABET[(bits % 36) as usize]));
        bits /= 36;
    }
    id
}

/// Now, as Route 53 writes times: ISO 8601 in UTC with milliseconds.
pub fn now_iso8601() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

async fn back_off(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10) + 1) * 5)).await;
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_zone(vpc: Option<Vpc>) -> NewZone {
        NewZone { name: "example.com.".into(), caller_reference: "ref-1".into(), comment: Some("c".into()), vpc }
    }

    #[test]
    fn ids_look_like_route53_ids() {
        let id = new_id('Z');
        assert_eq!(id.len(), 21);
        assert!(id.starts_with('Z'));
        assert!(id.bytes().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit()), "{id}");
        assert_ne!(new_id('C'), new_id('C'));
    }

    #[test]
    fn a_new_zone_has_its_soa_and_ns() {
        let zone = initial_zone("Z0000000000000000001", &new_zone(None), "2024-01-01T00:00:00.000Z".into());
        // A serial from the clock, so a zone made again later is newer.
        assert!(zone.serial > 1_700_000_000, "{}", zone.serial);
        assert!(!zone.private);
        let kinds: Vec<&str> = zone.record_sets.iter().map(|set| set.kind.as_str()).collect();
        assert_eq!(kinds, ["NS", "SOA"]);
        let ns = &zone.record_sets[0];
        assert_eq!(ns.ttl, Some(172_800));
        assert_eq!(ns.values, zone.name_servers);
        assert_eq!(ns.values.len(), 4);
        assert!(ns.values.iter().all(|server| server.starts_with("ns-") && server.ends_with(".nubo.localhost.")));
        let soa = &zone.record_sets[1];
        assert_eq!(soa.ttl, Some(900));
        assert_eq!(soa.values, [format!("{} hostmaster.nubo.localhost. 1 7200 900 1209600 86400", ns.values[0])]);
        assert!(crate::rdata::records(soa).is_ok() && crate::rdata::records(ns).is_ok());
        assert!(!holds_records(&zone));
        // The delegation set depends on the zone alone.
        assert_eq!(name_servers("Z0000000000000000001"), zone.name_servers);
    }

    #[test]
    fn a_zone_with_a_vpc_is_private() {
        let vpc = Vpc { region: "us-east-1".into(), id: "vpc-1".into() };
        let zone = initial_zone("Z1", &new_zone(Some(vpc.clone())), String::new());
        assert!(zone.private);
        assert_eq!(zone.vpcs, [vpc]);
    }

    #[test]
    fn only_the_apex_soa_and_ns_leave_a_zone_empty() {
        let mut zone = initial_zone("Z1", &new_zone(None), String::new());
        let mut delegation = zone.record_sets[0].clone();
        delegation.name = "sub.example.com.".into();
        zone.record_sets.push(delegation);
        assert!(holds_records(&zone));
    }

    fn change(serial: u32) -> ChangeRecord {
        ChangeRecord {
            id: "C1".into(),
            zone_id: "Z1".into(),
            serial,
            submitted_at: String::new(),
            comment: None,
            in_sync: false,
        }
    }

    fn serving(serial: Option<u32>) -> BTreeMap<String, u32> {
        serial.into_iter().map(|serial| ("Z1".to_owned(), serial)).collect()
    }

    #[test]
    fn a_change_is_in_sync_once_every_replica_serves_its_serial() {
        assert!(in_sync(&change(3), &[serving(Some(3)), serving(Some(4))], true));
        assert!(!in_sync(&change(3), &[serving(Some(3)), serving(Some(2))], true));
        // A replica that has not loaded a new zone yet is behind...
        assert!(!in_sync(&change(1), &[serving(Some(1)), serving(None)], true));
        // ...but once the zone is deleted, not serving it is the change.
        assert!(in_sync(&change(5), &[serving(None), serving(Some(5))], false));
        assert!(!in_sync(&change(5), &[serving(Some(4))], false));
    }

    #[test]
    fn tags_are_replaced_by_key_and_limited() {
        let tag = |key: &str, value: &str| Tag { key: key.into(), value: value.into() };
        let tags = retagged(&[tag("a", "1"), tag("b", "2")], &[tag("a", "3"), tag("c", "4")], &["b".into()]).unwrap();
        assert_eq!(tags, [tag("a", "3"), tag("c", "4")]);
        let many: Vec<Tag> = (0..=MAX_TAGS).map(|n| tag(&n.to_string(), "")).collect();
        assert!(matches!(retagged(&[], &many, &[]), Err(StoreError::InvalidInput(_))));
    }

    #[test]
    fn caller_records_round_trip_and_default_to_live() {
        let record: CallerRecord = decode(br#"{"zone_id":"Z1"}"#).unwrap();
        assert_eq!(record, CallerRecord { zone_id: "Z1".into(), deleted: false });
        assert!(now_iso8601().ends_with('Z'));
    }
}
