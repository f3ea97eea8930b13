//! CloudFront's resources, invalidations, caller references, aliases and
//! tags as data records.
//!
//! Every write of a resource is a compare-and-set on the version it was
//! read at, so two updates with one `If-Match` cannot both win. After
//! every write the store raises the generation record
//! (`model::GENERATION`), which every replica polls (`crate::sync`), and
//! keeps on the written record the generation that published it: once
//! every live replica's heartbeat has reached that generation, the change
//! is served everywhere (a distribution is `Deployed`, an invalidation
//! `Completed`).
//!
//! A creation with a `CallerReference` reserves it first (must-not-exist),
//! so two concurrent creations with one reference make one resource. A
//! distribution's aliases, and the names of policies, key groups and
//! origin access controls, are reserved the same way ([`Store::claim`]),
//! one record per name, so two resources can never hold one.
//!
//! An invalidation is written twice: once for good (GetInvalidation,
//! ListInvalidations) and once under `model::PENDING_INVALIDATIONS`, which
//! is all replicas read when the generation moves; pending records are
//! dropped once they are old enough to have reached every replica.

use std::time::Duration;

use nubo_proto::{ErrorCode, RemoteError, clients::RecordsClient};
use serde::{Serialize, de::DeserializeOwned};

use crate::model::{self, Heartbeat, Invalidation, Kind, Node, Resource, Tag};

/// Compare-and-set attempts before a write gives up as contended.
const MAX_ATTEMPTS: u32 = 32;
/// A heartbeat older than this belongs to a replica that is gone.
pub const LIVE_FOR: u64 = 10;
/// A name or alias reserved by a resource whose record is not there yet
/// stays reserved this long (seconds): the creation that reserved it is
/// still writing it. Past that, the creation is taken to have failed.
const CLAIM_GRACE: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("The specified {} does not exist.", describe(*.0))]
    NotFound(Kind, String),
    #[error("The specified invalidation does not exist.")]
    NoSuchInvalidation(String),
    #[error("The precondition given in one or more of the request fields evaluated to false.")]
    PreconditionFailed,
    /// A `CallerReference` already used for a different configuration.
    #[error("The caller reference that you are using to create a {kind} is associated with another {kind}.", kind = describe(*.0))]
    CallerReferenceUsed(Kind, String),
    #[error(
        "Your request contains a caller reference that was used for a previous invalidation batch for the same distribution."
    )]
    InvalidationBatchAlreadyExists,
    #[error("One or more of the CNAMEs you provided are already associated with a different resource.")]
    CnameAlreadyExists(String),
    /// The `Name` is held by another resource of the kind.
    #[error("A {} with this name already exists. You must provide a unique name.", describe(*.0))]
    NameTaken(Kind, String),
    /// What it would delete is still in use (a distribution: still
    /// enabled).
    #[error("the {} is in use", describe(*.0))]
    InUse(Kind),
    /// Other writers kept winning every compare-and-set.
    #[error("the request was contended; try again")]
    Contended,
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("a stored record does not decode: {0}")]
    Corrupt(String),
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Distribution => "distribution",
        Kind::CachePolicy => "cache policy",
        Kind::OriginRequestPolicy => "origin request policy",
        Kind::ResponseHeadersPolicy => "response headers policy",
        Kind::PublicKey => "public key",
        Kind::KeyGroup => "key group",
        Kind::OriginAccessControl => "origin access control",
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What a creation did.
#[derive(Debug, Clone)]
pub struct Created {
    pub resource: Resource,
    /// The `CallerReference` had already made this very resource: nothing
    /// new was made.
    pub existed: bool,
}

/// The records of every CloudFront resource; cheap to clone.
#[derive(Clone)]
pub struct Store {
    records: RecordsClient,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Store")
    }
}

impl Store {
    pub fn new(records: RecordsClient) -> Self {
        Self { records }
    }

    pub fn records(&self) -> &RecordsClient {
        &self.records
    }

    /// The generation now.
    pub async fn generation(&self) -> Result<u64> {
        Ok(self.generation_record().await?.0)
    }

    async fn generation_record(&self) -> Result<(u64, u64)> {
        Ok(match self.records.get(model::GENERATION, model::GENERATION_KEY).await? {
            Some(record) => (parse_generation(&record.value)?, record.version),
            None => (0, 0),
        })
    }

    /// Raises the generation by one and returns the new value.
    async fn bump(&self) -> Result<u64> {
        for attempt in 0..MAX_ATTEMPTS {
            let (generation, version) = self.generation_record().await?;
            let next = generation + 1;
            match self
                .records
                .put(model::GENERATION, model::GENERATION_KEY, next.to_string().into_bytes(), Some(version))
                .await
            {
                Ok(_) => return Ok(next),
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    /// Publishes a write that stamped `guessed` on its record: raises the
    /// generation and, when another writer took `guessed` first, stamps
    /// the record with the one that really published it.
    async fn publish<T: Serialize>(
        &self,
        namespace: &str,
        key: &str,
        version: u64,
        guessed: u64,
        restamp: impl FnOnce(u64) -> T,
    ) -> Result<u64> {
        let generation = self.bump().await?;
        if generation != guessed {
            // A newer write of the record restamps it itself.
            let _ = self.records.put(namespace, key, encode(&restamp(generation))?, Some(version)).await;
        }
        Ok(generation)
    }

    pub async fn get(&self, kind: Kind, id: &str) -> Result<Resource> {
        Ok(self.read(kind, id).await?.0)
    }

    async fn read(&self, kind: Kind, id: &str) -> Result<(Resource, u64)> {
        let record =
            self.records.get(kind.namespace(), id).await?.ok_or_else(|| StoreError::NotFound(kind, id.to_owned()))?;
        Ok((decode(&record.value)?, record.version))
    }

    /// Every resource of `kind`, in id order; undecodable records are
    /// skipped, so one cannot hide the rest.
    pub async fn list(&self, kind: Kind) -> Result<Vec<Resource>> {
        let records = self.records.list_all(kind.namespace(), "").await?;
        Ok(records
            .iter()
            .filter_map(|record| match decode::<Resource>(&record.value) {
                Ok(resource) => Some(resource),
                Err(error) => {
                    tracing::warn!(key = %record.key, %error, "skipping a cdn record");
                    None
                }
            })
            .collect())
    }

    /// Makes a resource of `kind` from `config`. With a caller reference,
    /// a repeat with the same config answers the resource it made, and a
    /// repeat with another config is refused.
    pub async fn create(&self, kind: Kind, config: Node, caller_reference: Option<&str>) -> Result<Created> {
        self.create_as(kind, kind.new_id(), config, caller_reference).await
    }

    /// The id of the resource of `kind` that `reference` made (or is
    /// making), if any.
    pub async fn caller_reference(&self, kind: Kind, reference: &str) -> Result<Option<String>> {
        let key = format!("{}/{reference}", kind.caller_scope());
        Ok(self
            .records
            .get(model::CALLERS, &key)
            .await?
            .map(|record| String::from_utf8_lossy(&record.value).into_owned()))
    }

    /// [`Store::create`] under an id the caller chose (and reserved names
    /// for); a repeated caller reference answers the earlier resource,
    /// whose id differs.
    pub async fn create_as(
        &self,
        kind: Kind,
        id: String,
        config: Node,
        caller_reference: Option<&str>,
    ) -> Result<Created> {
        let mut id = id;
        if let Some(reference) = caller_reference {
            let key = format!("{}/{reference}", kind.caller_scope());
            match self.records.put(model::CALLERS, &key, id.clone().into_bytes(), Some(0)).await {
                Ok(_) => {}
                Err(error) if error.code == ErrorCode::ConditionFailed => {
                    let Some(record) = self.records.get(model::CALLERS, &key).await? else {
                        return Err(StoreError::Contended);
                    };
                    id = String::from_utf8(record.value).map_err(|error| StoreError::Corrupt(error.to_string()))?;
                    match self.read(kind, &id).await {
                        Ok((existing, _)) if existing.config == config => {
                            return Ok(Created { resource: existing, existed: true });
                        }
                        Ok((existing, _)) => return Err(StoreError::CallerReferenceUsed(kind, existing.id)),
                        // The creation that reserved it stopped before
                        // writing the resource: this one finishes it.
                        Err(StoreError::NotFound(..)) => {}
                        Err(error) => return Err(error),
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        let now = model::now();
        let guessed = self.generation().await? + 1;
        let mut resource = Resource {
            id: id.clone(),
            config,
            etag: model::new_etag(),
            created: now.clone(),
            last_modified: now,
            generation: guessed,
        };
        let version = match self.records.put(kind.namespace(), &id, encode(&resource)?, Some(0)).await {
            Ok(version) => version,
            Err(error) if error.code == ErrorCode::ConditionFailed => {
                // A concurrent repeat of the same creation finished first.
                return Ok(Created { resource: self.get(kind, &id).await?, existed: true });
            }
            Err(error) => return Err(error.into()),
        };
        let published = {
            let mut stamped = resource.clone();
            self.publish(kind.namespace(), &id, version, guessed, move |generation| {
                stamped.generation = generation;
                stamped
            })
            .await?
        };
        resource.generation = published;
        Ok(Created { resource, existed: false })
    }

    /// Replaces the config of a resource whose ETag is `if_match`;
    /// `change` may refuse the new config given the old one.
    pub async fn update(&self, kind: Kind, id: &str, if_match: &str, config: Node) -> Result<(Resource, Resource)> {
        let (old, version) = self.read(kind, id).await?;
        if old.etag != if_match {
            return Err(StoreError::PreconditionFailed);
        }
        let guessed = self.generation().await? + 1;
        let mut resource = Resource {
            config,
            etag: model::new_etag(),
            last_modified: model::now(),
            generation: guessed,
            ..old.clone()
        };
        let version = match self.records.put(kind.namespace(), id, encode(&resource)?, Some(version)).await {
            Ok(version) => version,
            // Another update won: this one's If-Match is stale now.
            Err(error) if error.code == ErrorCode::ConditionFailed => return Err(StoreError::PreconditionFailed),
            Err(error) => return Err(error.into()),
        };
        let mut stamped = resource.clone();
        resource.generation = self
            .publish(kind.namespace(), id, version, guessed, move |generation| {
                stamped.generation = generation;
                stamped
            })
            .await?;
        Ok((old, resource))
    }

    /// Deletes a resource whose ETag is `if_match`, once `allowed` says
    /// it may go; returns what it was.
    pub async fn delete(
        &self,
        kind: Kind,
        id: &str,
        if_match: &str,
        allowed: impl FnOnce(&Resource) -> std::result::Result<(), StoreError>,
    ) -> Result<Resource> {
        let (old, version) = self.read(kind, id).await?;
        if old.etag != if_match {
            return Err(StoreError::PreconditionFailed);
        }
        allowed(&old)?;
        match self.records.delete(kind.namespace(), id, Some(version)).await {
            Ok(_) => {}
            Err(error) if error.code == ErrorCode::ConditionFailed => return Err(StoreError::PreconditionFailed),
            Err(error) => return Err(error.into()),
        }
        self.bump().await?;
        Ok(old)
    }

    /// Reserves every alias of `aliases` for `distribution`; an alias held
    /// by another live distribution is refused (and nothing is kept).
    /// Answers the aliases newly reserved (not those it held already).
    pub async fn claim_aliases(&self, distribution: &str, aliases: &[String]) -> Result<Vec<String>> {
        let mut claimed = Vec::new();
        for alias in aliases {
            match self.claim(model::ALIASES, alias, Kind::Distribution, distribution).await {
                Ok(Claimed::New) => claimed.push(alias.clone()),
                Ok(Claimed::Already) => {}
                Ok(Claimed::Taken) => {
                    self.release_aliases(distribution, &claimed).await;
                    return Err(StoreError::CnameAlreadyExists(alias.clone()));
                }
                Err(error) => {
                    self.release_aliases(distribution, &claimed).await;
                    return Err(error);
                }
            }
        }
        Ok(claimed)
    }

    /// Gives up `aliases` where `distribution` holds them; best effort, as
    /// a leftover reservation of a gone distribution is taken over anyway.
    pub async fn release_aliases(&self, distribution: &str, aliases: &[String]) {
        for alias in aliases {
            self.release(model::ALIASES, alias, distribution).await;
        }
    }

    /// Reserves `name` among the resources of `kind` for `id`; refused
    /// with [`StoreError::NameTaken`] when another live one holds it.
    pub async fn claim_name(&self, kind: Kind, name: &str, id: &str) -> Result<()> {
        match self.claim(model::NAMES, &name_key(kind, name), kind, id).await? {
            Claimed::New | Claimed::Already => Ok(()),
            Claimed::Taken => Err(StoreError::NameTaken(kind, name.to_owned())),
        }
    }

    pub async fn release_name(&self, kind: Kind, name: &str, id: &str) {
        self.release(model::NAMES, &name_key(kind, name), id).await;
    }

    /// Reserves `key` of `namespace` for `holder`, a resource of `kind`.
    /// A reservation whose holder is gone (its record deleted, or never
    /// written within [`CLAIM_GRACE`]) is taken over.
    async fn claim(&self, namespace: &str, key: &str, kind: Kind, holder: &str) -> Result<Claimed> {
        for attempt in 0..MAX_ATTEMPTS {
            let (expected, current) = match self.records.get(namespace, key).await? {
                Some(record) => (record.version, serde_json::from_slice::<Claim>(&record.value).ok()),
                None => (0, None),
            };
            if let Some(current) = &current {
                if current.holder == holder {
                    return Ok(Claimed::Already);
                }
                let fresh = current.at + CLAIM_GRACE > now_secs();
                if fresh || self.records.get(kind.namespace(), &current.holder).await?.is_some() {
                    return Ok(Claimed::Taken);
                }
            }
            let claim = Claim { holder: holder.to_owned(), at: now_secs() };
            match self.records.put(namespace, key, encode(&claim)?, Some(expected)).await {
                Ok(_) => return Ok(Claimed::New),
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    /// Drops the reservation of `key` if `holder` has it.
    async fn release(&self, namespace: &str, key: &str, holder: &str) {
        if let Ok(Some(record)) = self.records.get(namespace, key).await
            && serde_json::from_slice::<Claim>(&record.value).is_ok_and(|claim| claim.holder == holder)
        {
            let _ = self.records.delete(namespace, key, Some(record.version)).await;
        }
    }

    /// Records an invalidation batch; a repeat of a caller reference with
    /// the same paths answers the batch it made.
    pub async fn create_invalidation(
        &self,
        distribution: &str,
        caller_reference: &str,
        paths: Vec<String>,
    ) -> Result<(Invalidation, bool)> {
        self.get(Kind::Distribution, distribution).await?;
        let id = model::short_id('I');
        let reservation = format!("invalidation/{distribution}/{caller_reference}");
        match self.records.put(model::CALLERS, &reservation, id.clone().into_bytes(), Some(0)).await {
            Ok(_) => {}
            Err(error) if error.code == ErrorCode::ConditionFailed => {
                let record = self.records.get(model::CALLERS, &reservation).await?.ok_or(StoreError::Contended)?;
                let earlier = String::from_utf8_lossy(&record.value).into_owned();
                return match self.invalidation(distribution, &earlier).await {
                    Ok(existing) if existing.paths == paths => Ok((existing, true)),
                    Ok(_) => Err(StoreError::InvalidationBatchAlreadyExists),
                    Err(StoreError::NoSuchInvalidation(_)) => Err(StoreError::Contended),
                    Err(error) => Err(error),
                };
            }
            Err(error) => return Err(error.into()),
        }
        let guessed = self.generation().await? + 1;
        let mut invalidation = Invalidation {
            id: id.clone(),
            distribution_id: distribution.to_owned(),
            caller_reference: caller_reference.to_owned(),
            paths,
            created: model::now(),
            generation: guessed,
        };
        let key = format!("{distribution}/{id}");
        let version = self.records.put(model::INVALIDATIONS, &key, encode(&invalidation)?, Some(0)).await?;
        // Before the generation moves, so a replica that sees the new
        // generation finds it.
        self.records.put(model::PENDING_INVALIDATIONS, &key, encode(&invalidation)?, None).await?;
        let mut stamped = invalidation.clone();
        invalidation.generation = self
            .publish(model::INVALIDATIONS, &key, version, guessed, move |generation| {
                stamped.generation = generation;
                stamped
            })
            .await?;
        if invalidation.generation != guessed {
            let _ = self.records.put(model::PENDING_INVALIDATIONS, &key, encode(&invalidation)?, None).await;
        }
        Ok((invalidation, false))
    }

    pub async fn invalidation(&self, distribution: &str, id: &str) -> Result<Invalidation> {
        let record = self
            .records
            .get(model::INVALIDATIONS, &format!("{distribution}/{id}"))
            .await?
            .ok_or_else(|| StoreError::NoSuchInvalidation(id.to_owned()))?;
        decode(&record.value)
    }

    /// Every invalidation of `distribution` (every one, with `None`).
    pub async fn invalidations(&self, distribution: Option<&str>) -> Result<Vec<Invalidation>> {
        let prefix = distribution.map(|id| format!("{id}/")).unwrap_or_default();
        let records = self.records.list_all(model::INVALIDATIONS, &prefix).await?;
        Ok(records.iter().filter_map(|record| decode(&record.value).ok()).collect())
    }

    /// The invalidations replicas may not all have applied yet (every one,
    /// or those of `distribution`).
    pub async fn pending_invalidations(&self, distribution: Option<&str>) -> Result<Vec<Invalidation>> {
        let prefix = distribution.map(|id| format!("{id}/")).unwrap_or_default();
        let records = self.records.list_all(model::PENDING_INVALIDATIONS, &prefix).await?;
        Ok(records.iter().filter_map(|record| decode(&record.value).ok()).collect())
    }

    /// Drops the pending record of `invalidation`: it has reached every
    /// replica, or is too old to matter to any.
    pub async fn forget_pending(&self, invalidation: &Invalidation) {
        let key = format!("{}/{}", invalidation.distribution_id, invalidation.id);
        let _ = self.records.delete(model::PENDING_INVALIDATIONS, &key, None).await;
    }

    pub async fn tags(&self, arn: &str) -> Result<Vec<Tag>> {
        Ok(match self.records.get(model::TAGS, arn).await? {
            Some(record) => decode(&record.value)?,
            None => Vec::new(),
        })
    }

    /// Sets `add` (replacing values of keys already there) and removes
    /// `remove`, as one compare-and-set.
    pub async fn change_tags(&self, arn: &str, add: &[Tag], remove: &[String]) -> Result<()> {
        for attempt in 0..MAX_ATTEMPTS {
            let (mut tags, version) = match self.records.get(model::TAGS, arn).await? {
                Some(record) => (decode::<Vec<Tag>>(&record.value)?, record.version),
                None => (Vec::new(), 0),
            };
            tags.retain(|tag| !remove.contains(&tag.key) && !add.iter().any(|new| new.key == tag.key));
            tags.extend(add.iter().cloned());
            match self.records.put(model::TAGS, arn, encode(&tags)?, Some(version)).await {
                Ok(_) => return Ok(()),
                Err(error) if error.code == ErrorCode::ConditionFailed => back_off(attempt).await,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Contended)
    }

    pub async fn drop_tags(&self, arn: &str) {
        let _ = self.records.delete(model::TAGS, arn, None).await;
    }

    /// Says that `replica` has applied `generation`.
    pub async fn heartbeat(&self, replica: &str, generation: u64) -> Result<()> {
        let beat = Heartbeat { generation, at: now_secs() };
        self.records.put(model::REPLICAS, replica, encode(&beat)?, None).await?;
        Ok(())
    }

    pub async fn forget_replica(&self, replica: &str) {
        let _ = self.records.delete(model::REPLICAS, replica, None).await;
    }

    /// The lowest generation the live replicas other than `except` have
    /// applied, or `None` when there is no other live replica.
    pub async fn deployed_generation(&self, except: &str) -> Result<Option<u64>> {
        let now = now_secs();
        let records = self.records.list_all(model::REPLICAS, "").await?;
        Ok(records
            .iter()
            .filter(|record| record.key != except)
            .filter_map(|record| decode::<Heartbeat>(&record.value).ok())
            .filter(|beat| beat.at + LIVE_FOR >= now)
            .map(|beat| beat.generation)
            .min())
    }

    /// Removes the heartbeats of replicas gone for `after` seconds, so the
    /// namespace does not grow with every restart.
    pub async fn forget_gone_replicas(&self, after: u64) {
        let Ok(records) = self.records.list_all(model::REPLICAS, "").await else { return };
        let now = now_secs();
        for record in records {
            let gone = decode::<Heartbeat>(&record.value).map_or(true, |beat| beat.at + after < now);
            if gone {
                let _ = self.records.delete(model::REPLICAS, &record.key, Some(record.version)).await;
            }
        }
    }
}

/// What a reservation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claimed {
    New,
    /// The holder had it already.
    Already,
    /// Another live holder has it.
    Taken,
}

/// A reserved name: who holds it, since when (Unix seconds).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Claim {
    holder: String,
    at: u64,
}

fn name_key(kind: Kind, name: &str) -> String {
    format!("{}/{name}", kind.namespace())
}

fn parse_generation(bytes: &[u8]) -> Result<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| StoreError::Corrupt("the generation record is not a number".into()))
}

pub fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

async fn back_off(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10) + 1) * 5)).await;
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}
