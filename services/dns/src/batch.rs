//! A change batch checked and applied to a zone all or nothing.
//!
//! Route 53 checks a `ChangeResourceRecordSets` request in two stages, and
//! so does [`apply`]:
//!
//! 1. the request itself ([`BatchError::Input`], answered `InvalidInput`):
//!    names, types, TTLs, which members each record set carries. The first
//!    failure ends the check, as Route 53's schema validation does.
//! 2. the changes against the zone ([`BatchError::Invalid`], answered
//!    `InvalidChangeBatch`): the request's limits, each record set's values,
//!    then each change applied in order to a working copy of the zone. Every
//!    refusal is collected, so the caller sees them all in one answer; the
//!    zone itself is only replaced when there are none.
//!
//! Changes apply in order because Route 53 treats a batch as one
//! transaction of ordered steps: a `DELETE` of a CNAME followed by a
//! `CREATE` of an A record of the same name succeeds, the reverse does not.

use hickory_proto::rr::RData;

use crate::{
    model::{AliasTarget, RecordSet, Zone},
    names, rdata,
};

/// The most `ResourceRecord` elements one request may carry (an UPSERT's
/// count twice: it deletes and creates).
pub const MAX_RECORDS: usize = 1000;
/// The most characters of `Value` elements one request may carry, counted
/// the same way.
pub const MAX_VALUE_CHARS: usize = 32_000;
/// Route 53's TTL is a signed 32-bit count of seconds.
pub const MAX_TTL: u32 = 2_147_483_647;
pub const MAX_WEIGHT: u32 = 255;
const MAX_SET_IDENTIFIER: usize = 128;
const MAX_VALUE: usize = 4000;
const MAX_HEALTH_CHECK_ID: usize = 64;

/// Record types an alias may have (every supported type but NS and SOA).
const ALIAS_TYPES: &[&str] =
    &["A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "PTR", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Delete,
    Upsert,
}

impl Action {
    /// The action of a `<Action>` element, which is case-sensitive.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CREATE" => Some(Action::Create),
            "DELETE" => Some(Action::Delete),
            "UPSERT" => Some(Action::Upsert),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Delete => "DELETE",
            Action::Upsert => "UPSERT",
        }
    }
}

/// One `<Change>`: the record set as the request gave it (names and alias
/// targets not yet canonical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    pub set: RecordSet,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// `InvalidInput`: the request is malformed.
    #[error("{0}")]
    Input(String),
    /// `InvalidChangeBatch`: every reason the changes cannot apply, in order.
    #[error("[{}]", .0.join(", "))]
    Invalid(Vec<String>),
}

/// The zone with `changes` applied, or why none of them can be.
pub fn apply(zone: &Zone, changes: Vec<Change>) -> Result<Zone, BatchError> {
    if changes.is_empty() {
        return Err(BatchError::Input(
            "Invalid XML ; cvc-complex-type.2.4.b: The content of element 'Changes' is not complete. One of \
             '{\"https://route53.amazonaws.com/doc/2013-04-01/\":Change}' is expected."
                .into(),
        ));
    }
    let changes = changes.into_iter().map(normalize).collect::<Result<Vec<_>, _>>().map_err(BatchError::Input)?;
    let over_limits = limits(&changes);
    if !over_limits.is_empty() {
        return Err(BatchError::Invalid(over_limits));
    }
    let mut messages = Vec::new();
    let mut sets = zone.record_sets.clone();
    for change in &changes {
        let refused = content_errors(zone, change);
        if !refused.is_empty() {
            messages.extend(refused);
            continue;
        }
        if let Err(message) = apply_one(zone, &mut sets, change) {
            messages.push(message);
        }
    }
    if messages.is_empty() {
        messages.extend(final_state_errors(zone, &sets, &changes));
    }
    if !messages.is_empty() {
        return Err(BatchError::Invalid(messages));
    }
    sort(&mut sets);
    Ok(Zone { record_sets: sets, ..zone.clone() })
}

/// Sorts record sets the way Route 53 lists them: by name with its labels
/// reversed ([`names::order_key`]), then type, then set identifier.
pub fn sort(sets: &mut [RecordSet]) {
    sets.sort_by_cached_key(|set| (names::order_key(&set.name), set.kind.clone(), set.set_identifier.clone()));
}

/// How Route 53 names a record set in its messages.
pub fn describe(set: &RecordSet) -> String {
    match &set.set_identifier {
        Some(id) => format!("[name='{}', type='{}', set-identifier='{id}']", set.name, set.kind),
        None => format!("[name='{}', type='{}']", set.name, set.kind),
    }
}

// ---------------------------------------------------------------- stage 1

/// How Route 53's `InvalidInput` messages name the change they refuse.
fn context(action: Action, set: &RecordSet) -> String {
    let id = set.set_identifier.as_deref().unwrap_or("null");
    format!("Change with [Action={}, Name={}, Type={}, SetIdentifier={id}]", action.as_str(), set.name, set.kind)
}

/// The change with its names canonical, or the `InvalidInput` message.
fn normalize(change: Change) -> Result<Change, String> {
    let Change { action, mut set } = change;
    set.name = names::canonical(&set.name)
        .map_err(|error| format!("Invalid request: the DNS name '{}' is not valid ({error})", set.name))?;
    if rdata::record_type(&set.kind).is_none() {
        return Err(format!(
            "Invalid XML ; cvc-enumeration-valid: Value '{}' is not facet-valid with respect to enumeration '[{}]'. \
             It must be a value from the enumeration.",
            set.kind,
            rdata::SUPPORTED.join(", ")
        ));
    }
    if let Some(ttl) = set.ttl.filter(|ttl| *ttl > MAX_TTL) {
        return Err(max_inclusive(&ttl.to_string(), MAX_TTL, "TTL"));
    }
    if let Some(weight) = set.weight.filter(|weight| *weight > MAX_WEIGHT) {
        return Err(max_inclusive(&weight.to_string(), MAX_WEIGHT, "ResourceRecordSetWeight"));
    }
    check_lengths(&set)?;
    check_answer_members(action, &set)?;
    check_routing_members(action, &set)?;
    if let Some(alias) = set.alias.take() {
        let dns_name = names::canonical(&alias.dns_name).map_err(|error| {
            format!("Invalid request: the alias target DNS name '{}' is not valid ({error})", alias.dns_name)
        })?;
        let hosted_zone_id = trim_zone_id(&alias.hosted_zone_id).to_owned();
        if hosted_zone_id.is_empty() {
            return Err(format!(
                "Invalid request: Missing field 'HostedZoneId' in AliasTarget in {}",
                context(action, &set)
            ));
        }
        set.alias =
            Some(AliasTarget { hosted_zone_id, dns_name, evaluate_target_health: alias.evaluate_target_health });
    }
    Ok(Change { action, set })
}

fn max_inclusive(value: &str, limit: u32, kind: &str) -> String {
    format!(
        "Invalid XML ; cvc-maxInclusive-valid: Value '{value}' is not facet-valid with respect to maxInclusive \
         '{limit}' for type '{kind}'."
    )
}

fn max_length(value: &str, limit: usize, kind: &str) -> String {
    format!(
        "Invalid XML ; cvc-maxLength-valid: Value '{value}' with length = '{}' is not facet-valid with respect to \
         maxLength '{limit}' for type '{kind}'.",
        value.chars().count()
    )
}

fn check_lengths(set: &RecordSet) -> Result<(), String> {
    if let Some(id) = &set.set_identifier {
        if id.is_empty() {
            return Err(
                "Invalid XML ; cvc-minLength-valid: Value '' with length = '0' is not facet-valid with respect to \
                 minLength '1' for type 'ResourceRecordSetIdentifier'."
                    .into(),
            );
        }
        if id.chars().count() > MAX_SET_IDENTIFIER {
            return Err(max_length(id, MAX_SET_IDENTIFIER, "ResourceRecordSetIdentifier"));
        }
    }
    if let Some(value) = set.values.iter().find(|value| value.chars().count() > MAX_VALUE) {
        return Err(max_length(value, MAX_VALUE, "RData"));
    }
    if let Some(id) = set.health_check_id.as_deref().filter(|id| id.chars().count() > MAX_HEALTH_CHECK_ID) {
        return Err(max_length(id, MAX_HEALTH_CHECK_ID, "HealthCheckId"));
    }
    Ok(())
}

/// A record set answers with either an alias or a TTL and its values.
fn check_answer_members(action: Action, set: &RecordSet) -> Result<(), String> {
    let records = set.ttl.is_some() && !set.values.is_empty();
    let some_of_records = set.ttl.is_some() || !set.values.is_empty();
    let found = match (set.alias.is_some(), records, some_of_records) {
        (true, _, true) => "more than one",
        (false, false, _) => "none",
        _ => return Ok(()),
    };
    Err(format!(
        "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or \
         TrafficPolicyInstanceId], but found {found} in {}",
        context(action, set)
    ))
}

/// A set identifier goes with exactly one routing policy, and a routing
/// policy needs a set identifier. `MultiValueAnswer` false, which some
/// clients send with every set, chooses no policy.
fn check_routing_members(action: Action, set: &RecordSet) -> Result<(), String> {
    let policies =
        [set.weight.is_some(), set.failover.is_some(), set.region.is_some(), set.multi_value_answer == Some(true)]
            .into_iter()
            .filter(|given| *given)
            .count();
    let found = match (set.set_identifier.is_some(), policies) {
        (false, 0) | (true, 1) => None,
        (false, _) => {
            return Err(format!("Invalid request: Missing field 'SetIdentifier' in {}", context(action, set)));
        }
        (true, 0) => Some("none"),
        (true, _) => Some("more than one"),
    };
    if let Some(found) = found {
        return Err(format!(
            "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, \
             GeoProximityLocation, or CidrRoutingConfig], but found {found} in {}",
            context(action, set)
        ));
    }
    if set.multi_value_answer == Some(true) && set.alias.is_some() {
        return Err(format!(
            "Invalid request: a multivalue answer record set cannot be an alias in {}",
            context(action, set)
        ));
    }
    Ok(())
}

/// A zone id without its `/hostedzone/` prefix.
pub fn trim_zone_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix("/hostedzone/").or_else(|| id.strip_prefix("hostedzone/")).unwrap_or(id)
}

// ---------------------------------------------------------------- stage 2

/// The request's size limits; an UPSERT counts twice, as Route 53 counts it.
fn limits(changes: &[Change]) -> Vec<String> {
    let times = |change: &Change| if change.action == Action::Upsert { 2 } else { 1 };
    let records: usize = changes.iter().map(|change| change.set.values.len() * times(change)).sum();
    let characters: usize = changes
        .iter()
        .map(|change| change.set.values.iter().map(|value| value.chars().count()).sum::<usize>() * times(change))
        .sum();
    let mut messages = Vec::new();
    if records > MAX_RECORDS {
        messages.push(format!("Number of records limit of {MAX_RECORDS} exceeded."));
    }
    if characters > MAX_VALUE_CHARS {
        messages.push(format!("Number of characters in Value elements limit of {MAX_VALUE_CHARS} exceeded."));
    }
    messages
}

/// What is wrong with one change's record set in this zone, whatever the
/// zone holds: its name, its type at that name, its values.
fn content_errors(zone: &Zone, change: &Change) -> Vec<String> {
    let set = &change.set;
    if !names::is_within(&set.name, &zone.name) {
        return vec![format!("RRSet with DNS name {} is not permitted in zone {}", set.name, zone.name)];
    }
    let apex = set.name == zone.name;
    let mut messages = Vec::new();
    if set.kind == "NS" && names::is_wildcard(&set.name) {
        messages.push(format!(
            "RRSet of type NS with DNS name {} is not permitted: a wildcard cannot be delegated",
            set.name
        ));
    }
    if set.kind == "SOA" && !apex {
        messages.push(format!(
            "RRSet of type SOA with DNS name {} is not permitted: an SOA record is only permitted at the apex of zone {}",
            set.name, zone.name
        ));
    }
    if set.kind == "CNAME" && apex && change.action != Action::Delete {
        messages.push(format!(
            "RRSet of type CNAME with DNS name {} is not permitted at apex in zone {}",
            set.name, zone.name
        ));
    }
    if set.alias.is_some() && !ALIAS_TYPES.contains(&set.kind.as_str()) {
        messages.push(format!("RRSet of type {} with DNS name {} cannot be an alias", set.kind, set.name));
    }
    if set.alias.is_none() {
        messages.extend(value_errors(set));
    }
    messages
}

/// Each value read as its record type; no two alike; one value for the
/// types that hold exactly one.
fn value_errors(set: &RecordSet) -> Vec<String> {
    let records = match rdata::records(set) {
        Ok(records) => records,
        Err(message) => return vec![message],
    };
    let mut messages = Vec::new();
    for (index, record) in records.iter().enumerate() {
        if records[..index].iter().any(|earlier| earlier.data == record.data) {
            messages.push(format!("Duplicate Resource Record: '{}'", set.values[index]));
        }
    }
    if matches!(set.kind.as_str(), "CNAME" | "SOA") && set.values.len() > 1 {
        messages.push(format!(
            "RRSet of type {} with DNS name {} is not permitted because it has more than one value",
            set.kind, set.name
        ));
    }
    messages
}

/// Applies one change to the working copy, or says why it cannot.
fn apply_one(zone: &Zone, sets: &mut Vec<RecordSet>, change: &Change) -> Result<(), String> {
    let set = &change.set;
    let position = sets.iter().position(|existing| existing.same_set(set));
    match change.action {
        Action::Create => {
            if position.is_some() {
                return Err(format!("Tried to create resource record set {} but it already exists", describe(set)));
            }
            conflicts(zone, sets, set, None)?;
            sets.push(set.clone());
        }
        Action::Upsert => {
            conflicts(zone, sets, set, position)?;
            match position {
                Some(index) => sets[index] = set.clone(),
                None => sets.push(set.clone()),
            }
        }
        Action::Delete => {
            if set.name == zone.name && set.kind == "NS" {
                return Err("A HostedZone must contain at least one NS record for the zone itself.".into());
            }
            if set.name == zone.name && set.kind == "SOA" {
                return Err("A HostedZone must contain exactly one SOA record.".into());
            }
            let Some(index) = position else {
                return Err(format!("Tried to delete resource record set {} but it was not found", describe(set)));
            };
            if !matches_for_delete(&sets[index], set) {
                return Err(format!(
                    "Tried to delete resource record set {} but the values provided do not match the current values",
                    describe(set)
                ));
            }
            sets.remove(index);
        }
    }
    Ok(())
}

/// How a record set chooses among the sets of its name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Routing {
    Simple,
    Weighted,
    Failover,
    Latency,
    MultiValue,
}

fn routing(set: &RecordSet) -> Routing {
    if set.weight.is_some() {
        Routing::Weighted
    } else if set.failover.is_some() {
        Routing::Failover
    } else if set.region.is_some() {
        Routing::Latency
    } else if set.multi_value_answer == Some(true) {
        Routing::MultiValue
    } else {
        Routing::Simple
    }
}

/// Whether `set` may stand beside the other sets of its name (`replacing`
/// is its own place, for an UPSERT of an existing set): a CNAME stands
/// alone, and the sets of one name and type share one routing policy.
fn conflicts(zone: &Zone, sets: &[RecordSet], set: &RecordSet, replacing: Option<usize>) -> Result<(), String> {
    let others = sets.iter().enumerate().filter(|(index, other)| Some(*index) != replacing && other.name == set.name);
    for (_, other) in others {
        if set.kind == "CNAME" && other.kind != "CNAME" {
            return Err(format!(
                "RRSet of type CNAME with DNS name {} is not permitted as it conflicts with other records with the \
                 same DNS name in zone {}",
                set.name, zone.name
            ));
        }
        if set.kind != "CNAME" && other.kind == "CNAME" {
            // Route 53's message has the two spaces before CNAME.
            return Err(format!(
                "RRSet of type {} with DNS name {} is not permitted because a conflicting RRSet of type  CNAME with \
                 the same DNS name already exists in zone {}",
                set.kind, set.name, zone.name
            ));
        }
        if other.kind == set.kind {
            same_name_and_type(set, other)?;
        }
    }
    Ok(())
}

/// `set` beside `other`, a different set of the same name and type.
fn same_name_and_type(set: &RecordSet, other: &RecordSet) -> Result<(), String> {
    let Some(id) = &set.set_identifier else {
        return Err(format!(
            "RRSet with DNS name {}, type {} cannot be created as other RRSets exist with the same name and type.",
            set.name, set.kind
        ));
    };
    if other.set_identifier.is_none() {
        return Err(format!(
            "RRSet with DNS name {}, type {}, SetIdentifier {id} cannot be created as a non-weighted set exists with \
             the same name and type.",
            set.name, set.kind
        ));
    }
    if routing(set) != routing(other) {
        return Err(format!(
            "RRSet with DNS name {}, type {}, SetIdentifier {id} cannot be created as a set with a different routing \
             policy exists with the same name and type.",
            set.name, set.kind
        ));
    }
    if let (Some(mine), Some(theirs)) = (set.failover, other.failover)
        && mine == theirs
    {
        return Err(format!(
            "RRSet with DNS name {}, type {}, SetIdentifier {id} cannot be created as a {} failover set exists with \
             the same name and type.",
            set.name,
            set.kind,
            mine.as_str()
        ));
    }
    Ok(())
}

/// A DELETE names the set's current values: its TTL, values (in any
/// order) and alias exactly, and whichever routing members it gives.
fn matches_for_delete(existing: &RecordSet, requested: &RecordSet) -> bool {
    fn given_matches<T: PartialEq>(requested: &Option<T>, existing: &Option<T>) -> bool {
        requested.is_none() || requested == existing
    }
    existing.ttl == requested.ttl
        && existing.alias == requested.alias
        && same_values(existing, requested)
        && given_matches(&requested.weight, &existing.weight)
        && given_matches(&requested.failover, &existing.failover)
        && given_matches(&requested.region, &existing.region)
        && given_matches(&requested.multi_value_answer, &existing.multi_value_answer)
        && given_matches(&requested.health_check_id, &existing.health_check_id)
}

/// Whether two sets hold the same values, compared as records (so
/// `10 Mail.example.com` is `10 mail.example.com.`), in any order.
fn same_values(one: &RecordSet, other: &RecordSet) -> bool {
    if one.values.len() != other.values.len() {
        return false;
    }
    let parsed = |set: &RecordSet| -> Option<Vec<RData>> {
        rdata::records(set).ok().map(|records| records.into_iter().map(|record| record.data).collect())
    };
    match (parsed(one), parsed(other)) {
        (Some(one), Some(mut other)) => {
            one.iter().all(|data| match other.iter().position(|candidate| candidate == data) {
                Some(index) => {
                    other.swap_remove(index);
                    true
                }
                None => false,
            })
        }
        _ => {
            let (mut one, mut other) = (one.values.clone(), other.values.clone());
            one.sort();
            other.sort();
            one == other
        }
    }
}

/// Rules that hold of the zone the batch leaves: weighted sets of one
/// name and type share a TTL (a batch may change them all at once), and an
/// alias to a record of this zone finds its target.
fn final_state_errors(zone: &Zone, sets: &[RecordSet], changes: &[Change]) -> Vec<String> {
    let mut messages = Vec::new();
    for change in changes.iter().filter(|change| change.action != Action::Delete) {
        let set = &change.set;
        if let (Some(ttl), Some(id)) = (set.ttl, &set.set_identifier)
            && set.weight.is_some()
            && sets.iter().any(|other| {
                other.name == set.name
                    && other.kind == set.kind
                    && other.weight.is_some()
                    && other.ttl.is_some_and(|t| t != ttl)
            })
        {
            messages.push(format!(
                "RRSet with DNS name {} and type {}, SetIdentifier {id} cannot be created as weighted sets must \
                 contain the same TTL.",
                set.name, set.kind
            ));
        }
        if let Some(alias) = set.alias.as_ref().filter(|alias| alias.hosted_zone_id == zone.id)
            && !sets.iter().any(|target| target.name == alias.dns_name && target.kind == set.kind)
        {
            messages.push(format!(
                "Tried to create an alias that targets {}, type {} in zone {}, but that target was not found",
                alias.dns_name, set.kind, zone.id
            ));
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    //! Each test states one of Route 53's documented rules for
    //! ChangeResourceRecordSets and the message Route 53 answers with.

    use super::*;

    fn zone() -> Zone {
        let ns = |n: u32| format!("ns-{n}.nubo.localhost.");
        let mut zone = Zone {
            id: "Z0000000000000000001".into(),
            name: "example.com.".into(),
            caller_reference: "ref".into(),
            comment: None,
            private: false,
            vpcs: Vec::new(),
            created: "2024-01-01T00:00:00Z".into(),
            serial: 1,
            name_servers: (1..=4).map(ns).collect(),
            record_sets: Vec::new(),
            tags: Vec::new(),
            dnssec: Default::default(),
        };
        zone.record_sets.push(set("example.com.", "NS", 172_800, &[&ns(1), &ns(2), &ns(3), &ns(4)]));
        zone.record_sets.push(set(
            "example.com.",
            "SOA",
            900,
            &["ns-1.nubo.localhost. hostmaster.nubo.localhost. 1 7200 900 1209600 86400"],
        ));
        zone
    }

    fn set(name: &str, kind: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet::simple(name, kind, ttl, values.iter().copied())
    }

    fn weighted(name: &str, id: &str, weight: u32, ttl: u32, value: &str) -> RecordSet {
        RecordSet { set_identifier: Some(id.into()), weight: Some(weight), ..set(name, "A", ttl, &[value]) }
    }

    fn alias(name: &str, kind: &str, zone_id: &str, target: &str) -> RecordSet {
        RecordSet {
            ttl: None,
            values: Vec::new(),
            alias: Some(AliasTarget {
                hosted_zone_id: zone_id.into(),
                dns_name: target.into(),
                evaluate_target_health: false,
            }),
            ..set(name, kind, 0, &[])
        }
    }

    fn create(set: RecordSet) -> Change {
        Change { action: Action::Create, set }
    }
    fn delete(set: RecordSet) -> Change {
        Change { action: Action::Delete, set }
    }
    fn upsert(set: RecordSet) -> Change {
        Change { action: Action::Upsert, set }
    }

    fn messages(result: Result<Zone, BatchError>) -> Vec<String> {
        match result {
            Err(BatchError::Invalid(messages)) => messages,
            other => panic!("expected InvalidChangeBatch, got {other:?}"),
        }
    }

    fn input(result: Result<Zone, BatchError>) -> String {
        match result {
            Err(BatchError::Input(message)) => message,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn find<'z>(zone: &'z Zone, name: &str, kind: &str) -> Option<&'z RecordSet> {
        zone.record_sets.iter().find(|set| set.name == name && set.kind == kind)
    }

    #[test]
    fn create_adds_a_set_with_its_name_canonical() {
        let zone = apply(&zone(), vec![create(set("WWW.Example.com", "A", 300, &["192.0.2.1"]))]).unwrap();
        let www = find(&zone, "www.example.com.", "A").unwrap();
        assert_eq!(www.values, ["192.0.2.1"]);
        assert_eq!(zone.record_sets.len(), 3);
    }

    #[test]
    fn create_of_an_existing_set_is_refused() {
        let zone = apply(&zone(), vec![create(set("www.example.com", "A", 300, &["192.0.2.1"]))]).unwrap();
        let refused = apply(&zone, vec![create(set("www.example.com.", "A", 60, &["192.0.2.2"]))]);
        assert_eq!(
            messages(refused),
            ["Tried to create resource record set [name='www.example.com.', type='A'] but it already exists"]
        );
    }

    #[test]
    fn a_set_identifier_is_named_in_the_message() {
        let zone = apply(&zone(), vec![create(weighted("w.example.com", "one", 10, 60, "192.0.2.1"))]).unwrap();
        let refused = apply(&zone, vec![create(weighted("w.example.com", "one", 20, 60, "192.0.2.2"))]);
        assert_eq!(
            messages(refused),
            ["Tried to create resource record set [name='w.example.com.', type='A', set-identifier='one'] but it \
                 already exists"]
        );
    }

    #[test]
    fn delete_of_a_missing_set_is_refused() {
        let refused = apply(&zone(), vec![delete(set("x.example.com", "A", 300, &["192.0.2.1"]))]);
        assert_eq!(
            messages(refused),
            ["Tried to delete resource record set [name='x.example.com.', type='A'] but it was not found"]
        );
    }

    #[test]
    fn delete_must_name_the_current_ttl_and_values() {
        let zone = apply(&zone(), vec![create(set("x.example.com", "A", 300, &["192.0.2.1", "192.0.2.2"]))]).unwrap();
        let mismatch = "Tried to delete resource record set [name='x.example.com.', type='A'] but the values \
                        provided do not match the current values";
        let wrong_ttl = apply(&zone, vec![delete(set("x.example.com", "A", 60, &["192.0.2.1", "192.0.2.2"]))]);
        assert_eq!(messages(wrong_ttl), [mismatch]);
        let too_few = apply(&zone, vec![delete(set("x.example.com", "A", 300, &["192.0.2.1"]))]);
        assert_eq!(messages(too_few), [mismatch]);
        // The order of the values is not part of the set.
        let deleted = apply(&zone, vec![delete(set("x.example.com", "A", 300, &["192.0.2.2", "192.0.2.1"]))]).unwrap();
        assert!(find(&deleted, "x.example.com.", "A").is_none());
    }

    #[test]
    fn upsert_creates_or_replaces() {
        let zone = apply(&zone(), vec![upsert(set("u.example.com", "TXT", 60, &["\"one\""]))]).unwrap();
        let zone = apply(&zone, vec![upsert(set("u.example.com", "TXT", 120, &["\"two\""]))]).unwrap();
        let txt = find(&zone, "u.example.com.", "TXT").unwrap();
        assert_eq!((txt.ttl, txt.values.as_slice()), (Some(120), ["\"two\"".to_owned()].as_slice()));
        assert_eq!(zone.record_sets.len(), 3);
    }

    #[test]
    fn a_cname_cannot_share_its_name() {
        let zone = apply(&zone(), vec![create(set("www.example.com", "A", 300, &["192.0.2.1"]))]).unwrap();
        let refused = apply(&zone, vec![create(set("www.example.com", "CNAME", 300, &["target.example.org"]))]);
        assert_eq!(
            messages(refused),
            ["RRSet of type CNAME with DNS name www.example.com. is not permitted as it conflicts with other \
                 records with the same DNS name in zone example.com."]
        );
        let zone = apply(&zone, vec![create(set("c.example.com", "CNAME", 300, &["target.example.org"]))]).unwrap();
        let refused = apply(&zone, vec![create(set("c.example.com", "TXT", 300, &["\"x\""]))]);
        assert_eq!(
            messages(refused),
            ["RRSet of type TXT with DNS name c.example.com. is not permitted because a conflicting RRSet of type  \
                 CNAME with the same DNS name already exists in zone example.com."]
        );
    }

    #[test]
    fn a_cname_is_not_permitted_at_the_apex() {
        let refused = apply(&zone(), vec![create(set("example.com", "CNAME", 300, &["target.example.org"]))]);
        assert_eq!(
            messages(refused),
            ["RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com."]
        );
    }

    #[test]
    fn changes_apply_in_order_as_one_transaction() {
        let zone = apply(&zone(), vec![create(set("www.example.com", "CNAME", 300, &["old.example.org."]))]).unwrap();
        // Replacing a CNAME by an A record: the DELETE first, then the CREATE.
        let replaced = apply(
            &zone,
            vec![
                delete(set("www.example.com", "CNAME", 300, &["old.example.org."])),
                create(set("www.example.com", "A", 300, &["192.0.2.1"])),
            ],
        )
        .unwrap();
        assert!(find(&replaced, "www.example.com.", "CNAME").is_none());
        assert!(find(&replaced, "www.example.com.", "A").is_some());
        // The same set cannot be deleted twice in one batch.
        let twice = apply(
            &zone,
            vec![
                delete(set("www.example.com", "CNAME", 300, &["old.example.org."])),
                delete(set("www.example.com", "CNAME", 300, &["old.example.org."])),
            ],
        );
        assert_eq!(
            messages(twice),
            ["Tried to delete resource record set [name='www.example.com.', type='CNAME'] but it was not found"]
        );
    }

    #[test]
    fn every_error_of_a_batch_is_reported_and_nothing_applies() {
        let zone = zone();
        let refused = apply(
            &zone,
            vec![
                create(set("ok.example.com", "A", 300, &["192.0.2.1"])),
                create(set("foo.other", "A", 300, &["192.0.2.1"])),
                delete(set("gone.example.com", "A", 300, &["192.0.2.1"])),
            ],
        );
        let error = refused.clone().unwrap_err();
        assert_eq!(
            messages(refused),
            [
                "RRSet with DNS name foo.other. is not permitted in zone example.com.",
                "Tried to delete resource record set [name='gone.example.com.', type='A'] but it was not found",
            ]
        );
        assert_eq!(
            error.to_string(),
            "[RRSet with DNS name foo.other. is not permitted in zone example.com., Tried to delete resource record \
             set [name='gone.example.com.', type='A'] but it was not found]"
        );
    }

    #[test]
    fn the_apex_soa_and_ns_are_upserted_never_deleted() {
        let zone = zone();
        let ns = find(&zone, "example.com.", "NS").unwrap().clone();
        let soa = find(&zone, "example.com.", "SOA").unwrap().clone();
        assert_eq!(
            messages(apply(&zone, vec![delete(ns.clone())])),
            ["A HostedZone must contain at least one NS record for the zone itself."]
        );
        assert_eq!(messages(apply(&zone, vec![delete(soa)])), ["A HostedZone must contain exactly one SOA record."]);
        let upserted = apply(&zone, vec![upsert(RecordSet { ttl: Some(3600), ..ns })]).unwrap();
        assert_eq!(find(&upserted, "example.com.", "NS").unwrap().ttl, Some(3600));
        // NS records below the apex are delegations, and may come and go.
        let delegated = apply(&zone, vec![create(set("sub.example.com", "NS", 300, &["ns1.elsewhere.net."]))]).unwrap();
        assert!(apply(&delegated, vec![delete(set("sub.example.com", "NS", 300, &["ns1.elsewhere.net."]))]).is_ok());
    }

    #[test]
    fn wildcards_are_stored_escaped_and_cannot_be_delegated() {
        let zone = apply(&zone(), vec![create(set("*.example.com", "A", 300, &["192.0.2.1"]))]).unwrap();
        assert!(find(&zone, "\\052.example.com.", "A").is_some());
        let refused = messages(apply(&zone, vec![create(set("*.example.com", "NS", 300, &["ns1.elsewhere.net."]))]));
        assert_eq!(refused.len(), 1);
        assert!(refused[0].contains("NS") && refused[0].contains("\\052.example.com."), "{refused:?}");
    }

    #[test]
    fn record_sets_are_kept_in_route53_order() {
        let zone = apply(
            &zone(),
            vec![
                create(set("b.example.com", "A", 300, &["192.0.2.1"])),
                create(set("a.b.example.com", "A", 300, &["192.0.2.1"])),
                create(set("a.example.com", "TXT", 300, &["\"t\""])),
                create(set("a.example.com", "A", 300, &["192.0.2.1"])),
                create(set("*.example.com", "A", 300, &["192.0.2.1"])),
                create(weighted("w.example.com", "b", 1, 60, "192.0.2.2")),
                create(weighted("w.example.com", "a", 1, 60, "192.0.2.1")),
            ],
        )
        .unwrap();
        let order: Vec<(String, String, Option<String>)> = zone
            .record_sets
            .iter()
            .map(|set| (set.name.clone(), set.kind.clone(), set.set_identifier.clone()))
            .collect();
        let expected = [
            ("example.com.", "NS", None),
            ("example.com.", "SOA", None),
            ("\\052.example.com.", "A", None),
            ("a.example.com.", "A", None),
            ("a.example.com.", "TXT", None),
            ("b.example.com.", "A", None),
            ("a.b.example.com.", "A", None),
            ("w.example.com.", "A", Some("a")),
            ("w.example.com.", "A", Some("b")),
        ];
        let expected: Vec<(String, String, Option<String>)> = expected
            .iter()
            .map(|(name, kind, id)| ((*name).to_owned(), (*kind).to_owned(), id.map(str::to_owned)))
            .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn a_request_carries_at_most_1000_records_and_32000_characters_an_upsert_counting_twice() {
        let values: Vec<String> = (0..501).map(|n| format!("10.0.{}.{}", n / 256, n % 256)).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        assert!(apply(&zone(), vec![create(set("many.example.com", "A", 60, &values))]).is_ok());
        assert_eq!(
            messages(apply(&zone(), vec![upsert(set("many.example.com", "A", 60, &values))])),
            ["Number of records limit of 1000 exceeded."]
        );
        let long = format!("\"{}\"", "x".repeat(250));
        let strings: Vec<String> = (0..70).map(|n| format!("{long} \"{n}\"")).collect();
        let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
        assert!(apply(&zone(), vec![create(set("long.example.com", "TXT", 60, &strings))]).is_ok());
        assert_eq!(
            messages(apply(&zone(), vec![upsert(set("long.example.com", "TXT", 60, &strings))])),
            ["Number of characters in Value elements limit of 32000 exceeded."]
        );
    }

    #[test]
    fn malformed_record_sets_are_invalid_input() {
        assert!(
            input(apply(&zone(), vec![create(set("a..example.com", "A", 300, &["192.0.2.1"]))]))
                .contains("a..example.com")
        );
        let unknown = input(apply(&zone(), vec![create(set("a.example.com", "ANY", 300, &["192.0.2.1"]))]));
        assert!(unknown.starts_with("Invalid XML ; cvc-enumeration-valid: Value 'ANY'"), "{unknown}");
        let ttl = input(apply(&zone(), vec![create(set("a.example.com", "A", 2_147_483_648, &["192.0.2.1"]))]));
        assert!(ttl.contains("maxInclusive '2147483647'"), "{ttl}");
        assert!(apply(&zone(), vec![create(set("a.example.com", "A", 2_147_483_647, &["192.0.2.1"]))]).is_ok());
        let both = RecordSet {
            ttl: Some(300),
            values: vec!["192.0.2.1".into()],
            ..alias("a.example.com", "A", "Z2FDTNDATAQYW2", "d111111abcdef8.cloudfront.net")
        };
        assert_eq!(
            input(apply(&zone(), vec![create(both)])),
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or \
             TrafficPolicyInstanceId], but found more than one in Change with [Action=CREATE, Name=a.example.com., \
             Type=A, SetIdentifier=null]"
        );
        let neither = RecordSet { ttl: None, ..set("a.example.com", "A", 0, &[]) };
        assert!(input(apply(&zone(), vec![delete(neither)])).contains("but found none in Change with [Action=DELETE"));
        let no_ttl = RecordSet { ttl: None, ..set("a.example.com", "A", 0, &["192.0.2.1"]) };
        assert!(input(apply(&zone(), vec![create(no_ttl)])).contains("but found none"));
        assert!(input(apply(&zone(), Vec::new())).contains("'Changes' is not complete"));
    }

    #[test]
    fn values_are_checked_as_their_type() {
        let refused = messages(apply(&zone(), vec![create(set("a.example.com", "A", 300, &["192.0.2.300"]))]));
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].starts_with("Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address"),
            "{refused:?}"
        );
        let duplicate =
            messages(apply(&zone(), vec![create(set("a.example.com", "A", 300, &["192.0.2.1", "192.0.2.1"]))]));
        assert_eq!(duplicate, ["Duplicate Resource Record: '192.0.2.1'"]);
        let two_cnames =
            apply(&zone(), vec![create(set("c.example.com", "CNAME", 300, &["a.example.org", "b.example.org"]))]);
        assert_eq!(messages(two_cnames).len(), 1);
    }

    #[test]
    fn routing_policies_need_a_set_identifier_and_do_not_mix_with_simple_sets() {
        let no_id = RecordSet { weight: Some(10), ..set("w.example.com", "A", 60, &["192.0.2.1"]) };
        assert!(
            input(apply(&zone(), vec![create(no_id)])).starts_with("Invalid request: Missing field 'SetIdentifier'")
        );
        let no_policy = RecordSet { set_identifier: Some("x".into()), ..set("w.example.com", "A", 60, &["192.0.2.1"]) };
        assert!(input(apply(&zone(), vec![create(no_policy)])).contains("but found none"));
        let over = weighted("w.example.com", "x", 256, 60, "192.0.2.1");
        assert!(input(apply(&zone(), vec![create(over)])).contains("maxInclusive '255'"));

        let simple = apply(&zone(), vec![create(set("w.example.com", "A", 60, &["192.0.2.1"]))]).unwrap();
        assert_eq!(
            messages(apply(&simple, vec![create(weighted("w.example.com", "one", 10, 60, "192.0.2.2"))])),
            ["RRSet with DNS name w.example.com., type A, SetIdentifier one cannot be created as a non-weighted \
                 set exists with the same name and type."]
        );
        let weighted_zone =
            apply(&zone(), vec![create(weighted("w.example.com", "one", 10, 60, "192.0.2.2"))]).unwrap();
        assert_eq!(
            messages(apply(&weighted_zone, vec![create(set("w.example.com", "A", 60, &["192.0.2.1"]))])),
            [
                "RRSet with DNS name w.example.com., type A cannot be created as other RRSets exist with the same name and type."
            ]
        );
        // Converting from simple to weighted: the DELETE comes first.
        let converted = apply(
            &simple,
            vec![
                delete(set("w.example.com", "A", 60, &["192.0.2.1"])),
                create(weighted("w.example.com", "one", 10, 60, "192.0.2.1")),
                create(weighted("w.example.com", "two", 20, 60, "192.0.2.2")),
            ],
        )
        .unwrap();
        assert_eq!(converted.record_sets.iter().filter(|set| set.name == "w.example.com.").count(), 2);
        // Weighted sets share their TTL, which one batch may change for all.
        let uneven = apply(&weighted_zone, vec![create(weighted("w.example.com", "two", 20, 120, "192.0.2.3"))]);
        assert_eq!(messages(uneven).len(), 1);
        let retimed = apply(
            &converted,
            vec![
                upsert(weighted("w.example.com", "one", 10, 300, "192.0.2.1")),
                upsert(weighted("w.example.com", "two", 20, 300, "192.0.2.2")),
            ],
        );
        assert!(retimed.is_ok(), "{retimed:?}");
    }

    #[test]
    fn an_alias_to_this_zone_needs_its_target() {
        let zone = zone();
        let refused = apply(&zone, vec![create(alias("a.example.com", "A", &zone.id, "www.example.com"))]);
        assert_eq!(
            messages(refused),
            ["Tried to create an alias that targets www.example.com., type A in zone Z0000000000000000001, but \
                 that target was not found"]
        );
        let created = apply(
            &zone,
            vec![
                create(set("www.example.com", "A", 300, &["192.0.2.1"])),
                create(alias("example.com", "A", "/hostedzone/Z0000000000000000001", "WWW.example.com")),
            ],
        )
        .unwrap();
        let apex = find(&created, "example.com.", "A").unwrap();
        let target = apex.alias.as_ref().unwrap();
        assert_eq!(
            (target.hosted_zone_id.as_str(), target.dns_name.as_str()),
            ("Z0000000000000000001", "www.example.com.")
        );
        // Another zone's alias targets (a CloudFront distribution) are not looked up.
        assert!(
            apply(&zone, vec![create(alias("cdn.example.com", "A", "Z2FDTNDATAQYW2", "d1.cloudfront.net"))]).is_ok()
        );
    }
}
