//! Hosted zones as the dns service keeps them: one data record per zone
//! (`dns.zones.v1/{zone id}`) holding the zone and every record set, so a
//! change batch is one compare-and-set and a replica never loads half of
//! one. Names are kept in their canonical text form ([`crate::names`]).

use serde::{Deserialize, Serialize};

/// Namespace of zone records, keyed by zone id (without `/hostedzone/`).
pub const ZONES: &str = "dns.zones.v1";
/// Namespace mapping a CreateHostedZone `CallerReference` to its zone id.
pub const CALLERS: &str = "dns.callers.v1";
/// Namespace of change records, keyed by change id (without `/change/`).
pub const CHANGES: &str = "dns.changes.v1";
/// Namespace of zone serials, keyed by zone id: the small record replicas
/// poll to learn which zones changed without reading whole zones.
pub const SERIALS: &str = "dns.serials.v1";
/// Namespace of replica heartbeats, keyed by replica id: which serial of
/// which zone each replica serves, so GetChange knows when all are in sync.
pub const REPLICAS: &str = "dns.replicas.v1";

/// A hosted zone and all its record sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// The id without its `/hostedzone/` prefix, e.g. `Z0F3N2XK1Q5PLN7B`.
    pub id: String,
    /// Canonical name, lower case with a trailing dot (`example.com.`).
    pub name: String,
    pub caller_reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<Vpc>,
    /// RFC 3339, when the zone was made.
    pub created: String,
    /// The SOA serial: starts at the zone's creation time in seconds and
    /// grows by one with every change batch, so secondaries and replicas
    /// see every change.
    pub serial: u32,
    /// The zone's name servers (its NS record set and delegation set).
    pub name_servers: Vec<String>,
    /// Every record set, SOA and NS included, in Route 53's order
    /// ([`crate::names::order_key`], then type, then set identifier).
    pub record_sets: Vec<RecordSet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// DNSSEC signing: its keys and whether answers are signed. Zones
    /// stored before nubo signed read as unsigned, without keys.
    #[serde(default, skip_serializing_if = "Dnssec::is_unused")]
    pub dnssec: Dnssec,
}

/// A zone's DNSSEC state. Route 53 keeps key-signing keys in KMS; nubo has
/// no KMS, so it makes and keeps the keys itself (ECDSA P-256, algorithm
/// 13, as Route 53 uses), their private halves as PKCS#8 in the zone
/// record, next to the KMS ARN the caller named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dnssec {
    /// EnableHostedZoneDNSSEC was called (and DisableHostedZoneDNSSEC not
    /// since): GetDNSSEC's `ServeSignature` is `SIGNING`.
    #[serde(default)]
    pub signing: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_signing_keys: Vec<KeySigningKey>,
    /// The zone-signing key, base64 PKCS#8: made by nubo with the first
    /// EnableHostedZoneDNSSEC, as Route 53 manages the ZSK itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_signing_key: Option<String>,
}

impl Dnssec {
    pub fn is_unused(&self) -> bool {
        *self == Dnssec::default()
    }
}

/// One key-signing key (CreateKeySigningKey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySigningKey {
    pub name: String,
    pub kms_arn: String,
    pub caller_reference: String,
    pub active: bool,
    /// The private key, base64 PKCS#8 (ECDSA P-256).
    pub private_key: String,
    /// RFC 3339.
    pub created: String,
    pub last_modified: String,
}

/// A private zone's VPC association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub region: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// One Route 53 resource record set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    /// Canonical name ([`crate::names::canonical`]): `\052` for a wildcard
    /// label, as Route 53 answers it.
    pub name: String,
    /// The record type's mnemonic (`A`, `TXT`, `SPF`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// The values in Route 53's text form (`10 mail.example.com.`,
    /// `"v=spf1 -all"`), as given; empty for an alias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_value_answer: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    /// Latency routing's region, kept and listed (answered as simple).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl RecordSet {
    /// A plain record set: values, no alias, no routing policy.
    pub fn simple(name: &str, kind: &str, ttl: u32, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        RecordSet {
            name: name.into(),
            kind: kind.into(),
            ttl: Some(ttl),
            values: values.into_iter().map(Into::into).collect(),
            alias: None,
            set_identifier: None,
            weight: None,
            failover: None,
            multi_value_answer: None,
            health_check_id: None,
            region: None,
        }
    }

    /// The identity Route 53 matches on: name, type and set identifier.
    pub fn same_set(&self, other: &RecordSet) -> bool {
        self.name == other.name && self.kind == other.kind && self.set_identifier == other.set_identifier
    }
}

/// Route 53's `AliasTarget`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasTarget {
    pub hosted_zone_id: String,
    /// Canonical name of the target.
    pub dns_name: String,
    pub evaluate_target_health: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Failover {
    Primary,
    Secondary,
}

impl Failover {
    pub fn as_str(self) -> &'static str {
        match self {
            Failover::Primary => "PRIMARY",
            Failover::Secondary => "SECONDARY",
        }
    }
}

/// A submitted change batch (or zone creation or deletion), for GetChange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// Without its `/change/` prefix.
    pub id: String,
    pub zone_id: String,
    /// The zone serial the change produced; it is in sync once every live
    /// replica serves this serial or a later one (or no longer the zone).
    pub serial: u32,
    /// RFC 3339.
    pub submitted_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Set once the change was seen in sync, so it never goes back.
    #[serde(default)]
    pub in_sync: bool,
}

/// What a replica serves, written every few seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Unix seconds of the last write; replicas silent for longer than
    /// [`HEARTBEAT_STALE_SECS`] are no longer waited for.
    pub at: u64,
    /// Zone id → the serial this replica serves.
    pub serials: std::collections::BTreeMap<String, u32>,
}

pub const HEARTBEAT_STALE_SECS: u64 = 15;
