//! Zones compiled for lookup.
//!
//! A [`Snapshot`] is immutable: every change builds a new one that shares
//! the unchanged zones ([`Arc`]) and is swapped in whole. Inside a zone,
//! names are keys in lower-cased wire form, so a query's name and each of
//! its suffixes are looked up as byte slices, without building names.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use hickory_proto::rr::RData;

use super::{
    dnssec::{self, Signed, ZoneKeys},
    wire::{self, WireRecord, rtype},
};
use crate::{
    model::{AliasTarget, Failover, RecordSet, Zone},
    names, rdata,
};

/// Every zone served, by id and by apex.
#[derive(Debug, Default)]
pub struct Snapshot {
    by_id: BTreeMap<String, Arc<CompiledZone>>,
    by_apex: HashMap<Box<[u8]>, Arc<CompiledZone>>,
    /// Bit `n` is set when some apex has `n` labels: suffixes of a query
    /// name with other label counts are not looked up.
    apex_labels: u128,
}

impl Snapshot {
    pub fn empty() -> Self {
        Self::default()
    }

    /// A new snapshot: `zones` compiled and served in place of the zones
    /// of the same id (unless older than the one served), `removed` gone,
    /// every other zone shared with `self`.
    pub fn with_changes(&self, zones: &[Zone], removed: &[String]) -> Snapshot {
        let mut by_id = self.by_id.clone();
        for zone in zones {
            if by_id.get(&zone.id).is_some_and(|served| zone.serial < served.serial) {
                tracing::debug!(zone = %zone.id, serial = zone.serial, "older than the zone served: ignored");
                continue;
            }
            match CompiledZone::compile(zone) {
                Ok(compiled) => {
                    by_id.insert(zone.id.clone(), Arc::new(compiled));
                }
                Err(error) => tracing::warn!(zone = %zone.id, %error, "zone not served"),
            }
        }
        for id in removed {
            by_id.remove(id);
        }
        Snapshot::from_zones(by_id)
    }

    fn from_zones(by_id: BTreeMap<String, Arc<CompiledZone>>) -> Snapshot {
        let mut by_apex: HashMap<Box<[u8]>, Arc<CompiledZone>> = HashMap::new();
        let mut apex_labels = 0u128;
        for zone in by_id.values() {
            apex_labels |= 1u128 << wire::label_count(&zone.apex).min(127);
            match by_apex.get(&zone.apex) {
                Some(other) if !zone.preferred_to(other) => {}
                _ => {
                    by_apex.insert(zone.apex.clone(), zone.clone());
                }
            }
        }
        Snapshot { by_id, by_apex, apex_labels }
    }

    pub fn serials(&self) -> BTreeMap<String, u32> {
        self.by_id.iter().map(|(id, zone)| (id.clone(), zone.serial)).collect()
    }

    /// The zone served under `id`.
    pub fn zone(&self, id: &str) -> Option<&Arc<CompiledZone>> {
        self.by_id.get(id)
    }

    /// The zone whose apex is the longest suffix of `name` (wire, lower
    /// case): the closest enclosing zone.
    pub fn zone_for(&self, name: &[u8]) -> Option<&CompiledZone> {
        let mut labels = wire::label_count(name);
        for suffix in wire::suffixes(name) {
            if labels < 128
                && self.apex_labels & (1u128 << labels) != 0
                && let Some(zone) = self.by_apex.get(suffix)
            {
                return Some(zone);
            }
            labels = labels.saturating_sub(1);
        }
        None
    }

    /// The zone whose apex is `name` (wire, lower case), as stored.
    pub fn zone_at(&self, name: &[u8]) -> Option<&Arc<Zone>> {
        self.by_apex.get(name).map(|zone| &zone.source)
    }

    /// The zone enclosing `zone`'s apex from above, if one is served.
    pub fn parent_of(&self, zone: &CompiledZone) -> Option<&CompiledZone> {
        if zone.apex.len() <= 1 {
            return None;
        }
        self.zone_for(wire::strip_labels(&zone.apex, 1))
    }
}

/// One hosted zone, compiled.
#[derive(Debug)]
pub struct CompiledZone {
    pub id: String,
    pub serial: u32,
    private: bool,
    created: String,
    apex: Box<[u8]>,
    nodes: HashMap<Box<[u8]>, Node>,
    /// The SOA for negative answers: TTL lowered to the SOA MINIMUM field
    /// when that is smaller (RFC 2308 §5).
    negative_soa: Option<WireRecord>,
    /// The zone as stored, for zone transfers.
    source: Arc<Zone>,
    /// Its keys, signatures and NSEC chain, when it is signed.
    signed: Option<Signed>,
}

/// The records of one name. A name with no records but names below it (an
/// empty non-terminal) is a node with no RRsets.
#[derive(Debug, Default)]
pub struct Node {
    rrsets: Vec<Rrset>,
    /// Set when this name is at or below a delegation: how many labels up
    /// the topmost zone cut is (0: this name is the cut).
    cut: Option<u8>,
}

impl Node {
    pub fn rrset(&self, rtype: u16) -> Option<&Rrset> {
        self.rrsets.iter().find(|rrset| rrset.rtype == rtype)
    }

    /// Sorted by type.
    pub fn rrsets(&self) -> &[Rrset] {
        &self.rrsets
    }

    pub fn cut(&self) -> Option<u8> {
        self.cut
    }

    /// Adds an RRset, keeping them sorted by type.
    pub fn add(&mut self, rrset: Rrset) {
        let at = self.rrsets.partition_point(|existing| existing.rtype < rrset.rtype);
        self.rrsets.insert(at, rrset);
    }
}

/// The records of one name and type: one record set, or the Route 53
/// routing group of the sets with a set identifier.
#[derive(Debug)]
pub struct Rrset {
    pub rtype: u16,
    pub data: RrsetData,
}

#[derive(Debug)]
pub enum RrsetData {
    Simple(Content),
    Routed(Box<[Routed]>),
}

/// What one record set answers with.
#[derive(Debug)]
pub enum Content {
    Records(Box<[WireRecord]>),
    Alias(Alias),
}

/// An alias record set: answered with its target's records.
#[derive(Debug)]
pub struct Alias {
    /// The target's name in wire form, lower case.
    pub target: Box<[u8]>,
    /// Whether the target is a name of this zone (answered from the zone)
    /// or outside it (answered by [`super::AliasTargets`]).
    pub in_zone: bool,
    pub model: AliasTarget,
}

/// One record set of a routing group.
#[derive(Debug)]
pub struct Routed {
    pub set_identifier: String,
    pub policy: Policy,
    pub health_check: Option<String>,
    pub content: Content,
}

impl Routed {
    /// An alias that answers only while its target has records.
    pub fn evaluates_target(&self) -> bool {
        matches!(&self.content, Content::Alias(alias) if alias.model.evaluate_target_health)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Weighted(u32),
    Failover(Failover),
    MultiValue,
    /// Latency, geolocation and the like: kept and answered as simple.
    Other,
}

impl CompiledZone {
    /// Compiles a zone. A record set whose values do not parse is left out
    /// (and logged) rather than failing the zone: the API refuses such
    /// values, so this only guards against stored data from elsewhere.
    pub fn compile(zone: &Zone) -> Result<CompiledZone, String> {
        let apex = wire_name(&zone.name).ok_or_else(|| format!("invalid zone name {:?}", zone.name))?;
        let mut groups: BTreeMap<(Box<[u8]>, u16), Vec<&RecordSet>> = BTreeMap::new();
        for set in &zone.record_sets {
            let (Some(owner), Some(rtype)) = (wire_name(&set.name), rdata::record_type(&set.kind)) else {
                tracing::warn!(zone = %zone.id, name = %set.name, kind = %set.kind, "record set not served");
                continue;
            };
            if !wire::is_within(&owner, &apex) {
                tracing::warn!(zone = %zone.id, name = %set.name, "record set outside its zone not served");
                continue;
            }
            groups.entry((owner, u16::from(rtype))).or_default().push(set);
        }

        let mut nodes: HashMap<Box<[u8]>, Node> = HashMap::new();
        nodes.entry(apex.clone()).or_default();
        let mut negative_soa = None;
        for ((owner, rtype), sets) in groups {
            let Some(data) = compile_rrset(zone, &apex, &sets) else { continue };
            if rtype == rtype::SOA && *owner == *apex {
                negative_soa = negative(&data);
            }
            add_empty_non_terminals(&mut nodes, &owner, &apex);
            nodes.entry(owner).or_default().rrsets.push(Rrset { rtype, data });
        }
        for node in nodes.values_mut() {
            node.rrsets.sort_by_key(|rrset| rrset.rtype);
        }
        mark_cuts(&mut nodes, &apex);
        let signed = ZoneKeys::of(zone)
            .map(|keys| dnssec::sign(keys, &apex, &mut nodes, negative_soa.as_ref(), chrono::Utc::now().timestamp()));
        Ok(CompiledZone {
            id: zone.id.clone(),
            serial: zone.serial,
            private: zone.private,
            created: zone.created.clone(),
            apex,
            nodes,
            negative_soa,
            source: Arc::new(zone.clone()),
            signed,
        })
    }

    /// The zone's DNSSEC data, when it is signed.
    pub fn signed(&self) -> Option<&Signed> {
        self.signed.as_ref()
    }

    /// The zone as stored.
    pub fn source(&self) -> &Arc<Zone> {
        &self.source
    }

    pub fn apex(&self) -> &[u8] {
        &self.apex
    }

    pub fn node(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The node and its key as stored (borrowed from the zone).
    pub fn entry(&self, name: &[u8]) -> Option<(&[u8], &Node)> {
        self.nodes.get_key_value(name).map(|(key, node)| (&**key, node))
    }

    /// Whether `name` is this zone's apex or below it.
    pub fn contains(&self, name: &[u8]) -> bool {
        wire::is_within(name, &self.apex)
    }

    pub fn negative_soa(&self) -> Option<&WireRecord> {
        self.negative_soa.as_ref()
    }

    /// Route 53 lets several hosted zones share a name; the one answered is
    /// the public one, then the oldest, then the lowest id, so every replica
    /// picks the same.
    fn preferred_to(&self, other: &CompiledZone) -> bool {
        (self.private, &self.created, &self.id) < (other.private, &other.created, &other.id)
    }
}

/// A canonical name's lower-cased wire form.
pub fn wire_name(name: &str) -> Option<Box<[u8]>> {
    let labels = names::labels(name).ok()?;
    let mut bytes = Vec::with_capacity(labels.iter().map(|label| label.len() + 1).sum::<usize>() + 1);
    for label in labels {
        bytes.push(u8::try_from(label.len()).ok()?);
        bytes.extend(label);
    }
    bytes.push(0);
    Some(bytes.into())
}

fn compile_rrset(zone: &Zone, apex: &[u8], sets: &[&RecordSet]) -> Option<RrsetData> {
    if let [set] = sets
        && set.set_identifier.is_none()
    {
        return content(zone, apex, set).map(RrsetData::Simple);
    }
    let routed: Box<[Routed]> = sets
        .iter()
        .filter_map(|set| {
            Some(Routed {
                set_identifier: set.set_identifier.clone().unwrap_or_default(),
                policy: policy(set),
                health_check: set.health_check_id.clone(),
                content: content(zone, apex, set)?,
            })
        })
        .collect();
    (!routed.is_empty()).then_some(RrsetData::Routed(routed))
}

fn policy(set: &RecordSet) -> Policy {
    if let Some(failover) = set.failover {
        Policy::Failover(failover)
    } else if let Some(weight) = set.weight {
        Policy::Weighted(weight)
    } else if set.multi_value_answer == Some(true) {
        Policy::MultiValue
    } else {
        Policy::Other
    }
}

fn content(zone: &Zone, apex: &[u8], set: &RecordSet) -> Option<Content> {
    if let Some(alias) = &set.alias {
        let target = wire_name(&alias.dns_name)?;
        let in_zone = wire::is_within(&target, apex);
        return Some(Content::Alias(Alias { target, in_zone, model: alias.clone() }));
    }
    let records = match rdata::records(set) {
        Ok(records) => records,
        Err(error) => {
            tracing::warn!(zone = %zone.id, name = %set.name, kind = %set.kind, %error, "record set not served");
            return None;
        }
    };
    let records = records
        .into_iter()
        .map(|mut record| {
            // The stored SOA keeps the serial it was created with; the
            // zone's own serial is the one served.
            if let RData::SOA(soa) = &mut record.data {
                soa.serial = zone.serial;
            }
            WireRecord::from_record(&record)
        })
        .collect::<Result<Box<[WireRecord]>, _>>();
    match records {
        Ok(records) if !records.is_empty() => Some(Content::Records(records)),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(zone = %zone.id, name = %set.name, %error, "record set not served");
            None
        }
    }
}

/// RFC 2308 §5: the SOA of a negative answer has the smaller of its own
/// TTL and its MINIMUM field.
fn negative(data: &RrsetData) -> Option<WireRecord> {
    let RrsetData::Simple(Content::Records(records)) = data else { return None };
    let soa = records.first()?;
    let minimum = soa.rdata().get(soa.rdata().len().checked_sub(4)?..)?;
    let minimum = u32::from_be_bytes(minimum.try_into().ok()?);
    Some(soa.with_ttl(soa.ttl.min(minimum)))
}

/// Every name between `owner` and the apex exists, records or not, so a
/// query for one is NODATA rather than NXDOMAIN (RFC 8020, RFC 4592 §2.2.2).
fn add_empty_non_terminals(nodes: &mut HashMap<Box<[u8]>, Node>, owner: &[u8], apex: &[u8]) {
    for suffix in wire::suffixes(owner).skip(1) {
        if suffix.len() <= apex.len() {
            break;
        }
        if !nodes.contains_key(suffix) {
            nodes.insert(suffix.into(), Node::default());
        }
    }
}

/// NS record sets below the apex are zone cuts: every name at or below one
/// is answered by referral (RFC 1034 §4.3.2 step 3b). With cuts below cuts
/// the topmost one counts, since the data below it is not the zone's.
fn mark_cuts(nodes: &mut HashMap<Box<[u8]>, Node>, apex: &[u8]) {
    let cuts: HashSet<Box<[u8]>> = nodes
        .iter()
        .filter(|(name, node)| ***name != *apex && node.rrset(rtype::NS).is_some())
        .map(|(name, _)| name.clone())
        .collect();
    if cuts.is_empty() {
        return;
    }
    for (name, node) in nodes.iter_mut() {
        let mut topmost = None;
        for (depth, suffix) in wire::suffixes(name).enumerate() {
            if suffix.len() <= apex.len() {
                break;
            }
            if cuts.contains(suffix) {
                topmost = u8::try_from(depth).ok();
            }
        }
        node.cut = topmost;
    }
}
