//! Answers to one query from the snapshot, as NSD gives them: RFC 1034
//! §4.3.2's algorithm with RFC 2308's negative answers and RFC 4592's
//! wildcards, plus Route 53's alias records and routing policies.
//!
//! Deliberate choices, where NSD leaves room or Route 53 differs:
//! - Answers are minimal, as NSD's with `minimal-responses: yes` and as
//!   Route 53's: no NS RRset in the authority section of a positive
//!   answer, and no additional data but the addresses of in-zone name
//!   servers, for a referral (glue) or an NS answer; those of MX and SRV
//!   targets are left to the resolver (RFC 2181 §5.4.1 makes them
//!   optional).
//! - A CNAME chain is followed inside the zone of the query only (NSD also
//!   follows it into other zones it serves): Route 53 chases CNAMEs within
//!   a hosted zone, never across hosted zones.
//! - ANY (RFC 8482 §4.1) is answered, over UDP and TCP alike as NSD does,
//!   with one RRset of the name: the first present of SOA, A, PTR, MX,
//!   AAAA (in that order: NSD answers the apex with its SOA), else the one
//!   of lowest type code.
//! - AXFR over UDP is NOTIMP and IXFR over UDP REFUSED, as NSD answers
//!   (RFC 5936 §4.2 defines no AXFR over UDP; RFC 1995 §2 lets a server
//!   decline IXFR over UDP); over TCP they are the server's, which
//!   transfers to allowed addresses and refuses others.
//! - Classes other than IN and ANY are REFUSED with the question echoed
//!   (NSD answers CHAOS `id.server`/`version.bind`; nubo does not).
//! - A query with a TSIG record is NOTAUTH (no keys are configured),
//!   without the TSIG error record NSD would add.

use hickory_proto::rr::RecordType;
use rand::Rng;

use super::{
    AliasTargets, Health, Transport,
    snapshot::{Alias, CompiledZone, Content, Node, Policy, Routed, Rrset, RrsetData, Snapshot},
    wire::{
        self, EDNS_PAYLOAD, Edns, OPT_LEN, Owner, PLAIN_UDP, Parsed, Query, Section, WireRecord, Writer, class, flag,
        rcode, rtype,
    },
};
use crate::model::Failover;

/// CNAMEs followed for one query before answering with what was found.
const MAX_CHAIN: usize = 8;
/// Aliases of aliases followed before giving up (NODATA).
const MAX_ALIAS_DEPTH: u8 = 4;
/// Route 53 answers a multivalue query with up to eight healthy records.
const MULTIVALUE_MAX: usize = 8;
/// Distinct hosts whose addresses one answer adds to the additional section.
const MAX_TARGETS: usize = 16;

/// What an answer reads: all of it swapped whole, none of it locked.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub health: &'a Health,
    pub aliases: &'a dyn AliasTargets,
}

/// Appends the response to `message` to `out`; returns false when it gets
/// none.
pub fn respond(cx: &Context<'_>, message: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
    let query = match wire::parse(message) {
        Parsed::Drop => return false,
        Parsed::HeaderOnly { id, flags, rcode, edns } => {
            header_only(out, id, flags, rcode, edns);
            return true;
        }
        Parsed::Query(query) => query,
    };
    if query.tsig {
        header_only(out, query.id, query.flags, rcode::NOTAUTH, query.edns);
        return true;
    }
    let version_known = query.edns.is_none_or(|edns| edns.version == 0);
    if version_known && !matches!(query.qclass, class::IN | class::ANY) {
        let mut writer = Writer::new(out, PLAIN_UDP, if query.edns.is_some() { OPT_LEN } else { 0 });
        writer.question(query.question, query.qname.as_slice());
        writer.finish(query.id, flag::QR | (query.flags & flag::RD), rcode::REFUSED, query.edns);
        return true;
    }
    let reserve = if query.edns.is_some() { OPT_LEN } else { 0 };
    let mut writer = Writer::new(out, max_size(&query, transport), reserve);
    writer.question(query.question, query.qname.as_slice());
    let (rcode, authoritative) = if !version_known {
        // RFC 6891 §6.1.3: an unknown EDNS version is BADVERS, with the
        // question and an OPT of the version we speak.
        (rcode::BADVERS, false)
    } else {
        match (query.qtype, transport) {
            (rtype::AXFR, Transport::Udp) => (rcode::NOTIMP, false),
            (rtype::AXFR | rtype::IXFR, _) => (rcode::REFUSED, false),
            _ => lookup(cx, &query, &mut writer),
        }
    };
    let flags = flag::QR | (query.flags & flag::RD) | if authoritative { flag::AA } else { 0 };
    writer.finish(query.id, flags, rcode, query.edns);
    true
}

/// NSD's answer to a message it will not look up: the header alone, with
/// the opcode and RD kept.
fn header_only(out: &mut Vec<u8>, id: u16, flags: u16, rcode: u16, edns: Option<Edns>) {
    let writer = Writer::new(out, PLAIN_UDP, 0);
    writer.finish(id, flag::QR | (flags & (flag::OPCODE | flag::RD)), rcode, edns);
}

/// RFC 1035 §4.2.1 and RFC 6891 §6.2.5: a UDP response fits the client's
/// advertised buffer (at least 512), and never exceeds what nubo
/// advertises itself; TCP takes a whole message.
fn max_size(query: &Query<'_>, transport: Transport) -> usize {
    match (transport, query.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => PLAIN_UDP,
        (Transport::Udp, Some(edns)) => usize::from(edns.payload.min(EDNS_PAYLOAD)).max(PLAIN_UDP),
    }
}

/// Where a name leads inside a zone.
enum Found<'z> {
    /// The name, or the wildcard synthesizing it (RFC 4592 §3.3.1).
    Node(&'z Node),
    NxDomain,
    /// At or below a zone cut: the cut's name and node.
    Referral {
        cut: &'z [u8],
        node: &'z Node,
    },
}

/// RFC 1034 §4.3.2 step 3 inside one zone: the closest encloser of `name`
/// (empty non-terminals count, RFC 4592 §2.2.2), a referral if it is at or
/// below a cut (except DS at the cut itself, which the parent side
/// answers, RFC 4035 §3.1.4.1), else the exact node or the wildcard child
/// of the closest encloser.
fn locate<'z>(zone: &'z CompiledZone, name: &[u8], qtype: u16) -> Found<'z> {
    for (labels_up, suffix) in wire::suffixes(name).enumerate() {
        if suffix.len() < zone.apex().len() {
            break;
        }
        let Some((key, node)) = zone.entry(suffix) else { continue };
        let exact = labels_up == 0;
        if let Some(depth) = node.cut()
            && !(exact && depth == 0 && qtype == rtype::DS)
        {
            let cut = wire::strip_labels(key, usize::from(depth));
            if let Some(node) = zone.node(cut) {
                return Found::Referral { cut, node };
            }
        }
        if exact {
            return Found::Node(node);
        }
        return match wildcard_child(zone, key) {
            Some(wildcard) => Found::Node(wildcard),
            None => Found::NxDomain,
        };
    }
    Found::NxDomain
}

/// The node `*.<encloser>`, if the zone has it.
fn wildcard_child<'z>(zone: &'z CompiledZone, encloser: &[u8]) -> Option<&'z Node> {
    let mut name = [0u8; wire::MAX_NAME];
    let length = encloser.len() + 2;
    let slot = name.get_mut(..length)?;
    slot[0] = 1;
    slot[1] = b'*';
    slot[2..].copy_from_slice(encloser);
    zone.node(&name[..length])
}

/// The lookup proper: answer, authority and additional sections written;
/// returns the rcode and whether the answer is authoritative.
fn lookup<'n>(cx: &Context<'n>, query: &'n Query<'_>, writer: &mut Writer<'_, 'n>) -> (u16, bool) {
    let qname = query.qname.as_slice();
    let qtype = query.qtype;
    let Some(mut zone) = cx.snapshot.zone_for(qname) else {
        // Not ours: REFUSED, never a referral to the root (RFC 8906 §3.1.4).
        return (rcode::REFUSED, false);
    };
    // DS lives on the parent side of a cut: at the apex of a zone whose
    // parent is served too, the parent answers (RFC 4035 §3.1.4.1), and
    // says NODATA rather than NXDOMAIN if it lacks the name, as NSD does.
    let mut from_parent = false;
    if qtype == rtype::DS
        && qname == zone.apex()
        && let Some(parent) = cx.snapshot.parent_of(zone)
    {
        zone = parent;
        from_parent = true;
    }
    // NSD clears AA for class ANY: the answer may not be all the classes.
    let class_any = query.qclass == class::ANY;
    let authoritative = !class_any;

    let mut name: &'n [u8] = qname;
    let mut owner = Owner::Question;
    let mut visited: [&[u8]; MAX_CHAIN + 1] = [&[]; MAX_CHAIN + 1];
    visited[0] = qname;
    for step in 1..=MAX_CHAIN + 1 {
        let node = match locate(zone, name, qtype) {
            Found::NxDomain if from_parent => return nodata(zone, writer, class_any, authoritative),
            Found::NxDomain => {
                negative(zone, writer, class_any);
                return (rcode::NXDOMAIN, authoritative);
            }
            Found::Referral { cut, node } => {
                referral(cx, zone, cut, node, writer);
                // After a CNAME the answer holds authoritative data: AA
                // stays, as in NSD.
                return (rcode::NOERROR, step > 1 && authoritative);
            }
            Found::Node(node) => node,
        };
        if qtype == rtype::ANY {
            if !any(cx, zone, node, owner, writer) {
                return nodata(zone, writer, class_any, authoritative);
            }
            return (rcode::NOERROR, authoritative);
        }
        if let Some(records) = resolve(cx, zone, node, qtype, 0) {
            answer(cx, zone, writer, owner, qtype, &records);
            return (rcode::NOERROR, authoritative);
        }
        let cname = if qtype == rtype::CNAME { None } else { resolve(cx, zone, node, rtype::CNAME, 0) };
        let Some(cname) = cname else { return nodata(zone, writer, class_any, authoritative) };
        put(writer, Section::Answer, owner, &cname);
        // Only the first CNAME record counts (there should be one).
        let Some(target) = cname.first_target() else { break };
        if !zone.contains(target) || visited[..step].contains(&target) || step > MAX_CHAIN {
            break;
        }
        visited[step] = target;
        name = target;
        owner = Owner::Name(target);
    }
    (rcode::NOERROR, authoritative)
}

/// RFC 2308 §2.2: NOERROR, no answer, the SOA in the authority section.
fn nodata<'n>(
    zone: &'n CompiledZone,
    writer: &mut Writer<'_, 'n>,
    class_any: bool,
    authoritative: bool,
) -> (u16, bool) {
    negative(zone, writer, class_any);
    (rcode::NOERROR, authoritative)
}

/// The SOA of a negative answer (RFC 2308 §3), left out for class ANY as
/// NSD does.
fn negative<'n>(zone: &'n CompiledZone, writer: &mut Writer<'_, 'n>, class_any: bool) {
    if class_any {
        return;
    }
    if let Some(soa) = zone.negative_soa() {
        writer.rrset(Section::Authority, Owner::Name(zone.apex()), std::iter::once(soa));
    }
}

/// A referral (RFC 1034 §4.3.2 step 3b): the cut's NS RRset in the
/// authority section and the addresses of its hosts that the zone holds
/// (glue) in the additional section.
fn referral<'n>(cx: &Context<'n>, zone: &'n CompiledZone, cut: &'n [u8], node: &'n Node, writer: &mut Writer<'_, 'n>) {
    let Some(ns) = resolve(cx, zone, node, rtype::NS, 0) else { return };
    if put(writer, Section::Authority, Owner::Name(cut), &ns) {
        additional(cx, zone, writer, &ns, Some(cut));
    }
}

/// An RRset in the answer section and, for NS, the addresses of the name
/// servers the zone holds (minimal answers: see the top).
fn answer<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    writer: &mut Writer<'_, 'n>,
    owner: Owner<'n>,
    rtype: u16,
    records: &Picked<'n>,
) {
    if put(writer, Section::Answer, owner, records) && rtype == rtype::NS {
        additional(cx, zone, writer, records, None);
    }
}

/// RFC 8482 §4.1: one RRset of the name, chosen as described at the top.
fn any<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    node: &'n Node,
    owner: Owner<'n>,
    writer: &mut Writer<'_, 'n>,
) -> bool {
    const PREFERRED: [u16; 5] = [rtype::SOA, rtype::A, rtype::PTR, rtype::MX, rtype::AAAA];
    let preferred = PREFERRED.iter().filter_map(|kind| node.rrsets().iter().find(|rrset| rrset.rtype == *kind));
    let others = node.rrsets().iter().filter(|rrset| !PREFERRED.contains(&rrset.rtype));
    for rrset in preferred.chain(others) {
        if let Some(records) = resolve_rrset(cx, zone, rrset, 0) {
            answer(cx, zone, writer, owner, rrset.rtype, &records);
            return true;
        }
    }
    false
}

/// The A, then the AAAA RRsets of the hosts `records` name, for those the
/// zone holds. Under a referral (`cut`) these are glue, looked up even below
/// the cut; glue for hosts below the cut must fit or the answer is
/// truncated (RFC 9471 §3). Other additional data is left out silently
/// when it does not fit.
fn additional<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    writer: &mut Writer<'_, 'n>,
    records: &Picked<'n>,
    cut: Option<&'n [u8]>,
) {
    let mut targets: [&[u8]; MAX_TARGETS] = [&[]; MAX_TARGETS];
    let mut count = 0;
    for record in records.borrowed() {
        let Some(target) = record.target() else { continue };
        if count < MAX_TARGETS && zone.contains(target) && !targets[..count].contains(&target) {
            targets[count] = target;
            count += 1;
        }
    }
    for rtype in [rtype::A, rtype::AAAA] {
        for &target in &targets[..count] {
            let node = match (cut, locate(zone, target, rtype)) {
                (_, Found::Node(node)) => node,
                (Some(_), Found::Referral { .. }) => match zone.node(target) {
                    Some(node) => node,
                    None => continue,
                },
                _ => continue,
            };
            let Some(addresses) = resolve(cx, zone, node, rtype, 0) else { continue };
            let written = put(writer, Section::Additional, Owner::Name(target), &addresses);
            if !written && cut.is_some_and(|cut| wire::is_within(target, cut)) {
                writer.set_truncated();
            }
        }
    }
}

/// Records chosen to answer with: borrowed from the zone, picked from a
/// multivalue group, or made for this query (outside alias targets).
pub enum Picked<'z> {
    Slice(&'z [WireRecord]),
    Few([Option<&'z WireRecord>; MULTIVALUE_MAX]),
    Owned(Vec<WireRecord>),
}

impl<'z> Picked<'z> {
    /// The records that live as long as the zone (not [`Picked::Owned`]).
    fn borrowed(&self) -> impl Iterator<Item = &'z WireRecord> + '_ {
        let (slice, few): (&'z [WireRecord], &[Option<&'z WireRecord>]) = match self {
            Picked::Slice(records) => (records, &[]),
            Picked::Few(records) => (&[], records),
            Picked::Owned(_) => (&[], &[]),
        };
        slice.iter().chain(few.iter().flatten().copied())
    }

    fn first_target(&self) -> Option<&'z [u8]> {
        self.borrowed().next()?.target()
    }

    fn is_empty(&self) -> bool {
        match self {
            Picked::Owned(records) => records.is_empty(),
            _ => self.borrowed().next().is_none(),
        }
    }
}

fn put<'n>(writer: &mut Writer<'_, 'n>, section: Section, owner: Owner<'n>, records: &Picked<'n>) -> bool {
    match records {
        Picked::Owned(records) => writer.rrset_transient(section, owner, records),
        borrowed => writer.rrset(section, owner, borrowed.borrowed()),
    }
}

/// The records `node` answers `rtype` with now, if any.
fn resolve<'z>(cx: &Context<'z>, zone: &'z CompiledZone, node: &'z Node, rtype: u16, depth: u8) -> Option<Picked<'z>> {
    resolve_rrset(cx, zone, node.rrset(rtype)?, depth)
}

fn resolve_rrset<'z>(cx: &Context<'z>, zone: &'z CompiledZone, rrset: &'z Rrset, depth: u8) -> Option<Picked<'z>> {
    let picked = match &rrset.data {
        RrsetData::Simple(content) => content_records(cx, zone, content, rrset.rtype, depth),
        RrsetData::Routed(sets) => route(cx, zone, sets, rrset.rtype, depth),
    }?;
    (!picked.is_empty()).then_some(picked)
}

fn content_records<'z>(
    cx: &Context<'z>,
    zone: &'z CompiledZone,
    content: &'z Content,
    rtype: u16,
    depth: u8,
) -> Option<Picked<'z>> {
    match content {
        Content::Records(records) => Some(Picked::Slice(records)),
        Content::Alias(alias) => alias_records(cx, zone, alias, rtype, depth),
    }
}

/// Route 53 answers an alias with its target's records of the same type,
/// renamed to the alias (the caller writes them under the query's name)
/// and with the target's TTL.
fn alias_records<'z>(
    cx: &Context<'z>,
    zone: &'z CompiledZone,
    alias: &'z Alias,
    rtype: u16,
    depth: u8,
) -> Option<Picked<'z>> {
    if depth >= MAX_ALIAS_DEPTH {
        return None;
    }
    if alias.in_zone {
        return match locate(zone, &alias.target, rtype) {
            Found::Node(node) => resolve(cx, zone, node, rtype, depth + 1),
            _ => None,
        };
    }
    let records = cx.aliases.resolve(&alias.model, RecordType::from(rtype))?;
    let records: Vec<WireRecord> = records
        .iter()
        .filter(|record| u16::from(record.record_type()) == rtype)
        .filter_map(|record| WireRecord::from_record(record).ok())
        .collect();
    (!records.is_empty()).then_some(Picked::Owned(records))
}

/// A routing group's answer now, by Route 53's rules: one failover set,
/// one weighted set drawn at random, or the healthy multivalue records.
fn route<'z>(
    cx: &Context<'z>,
    zone: &'z CompiledZone,
    sets: &'z [Routed],
    rtype: u16,
    depth: u8,
) -> Option<Picked<'z>> {
    let healthy = |set: &Routed| healthy(cx, zone, set, rtype, depth);
    let uses = |wanted: fn(&Policy) -> bool| sets.iter().any(|set| wanted(&set.policy));
    let chosen = if uses(|policy| matches!(policy, Policy::Failover(_))) {
        failover(sets, &healthy)
    } else if uses(|policy| matches!(policy, Policy::Weighted(_))) {
        weighted(sets, &healthy)
    } else if uses(|policy| *policy == Policy::MultiValue) {
        return multivalue(sets, &healthy);
    } else {
        sets.iter().find(|set| healthy(set)).or_else(|| sets.first())
    }?;
    content_records(cx, zone, &chosen.content, rtype, depth)
}

/// A set is healthy while its health check passes (no check, or one not
/// known, passes) and, for an alias that evaluates its target's health,
/// while the target has records.
fn healthy(cx: &Context<'_>, zone: &CompiledZone, set: &Routed, rtype: u16, depth: u8) -> bool {
    let passing = set.health_check.as_deref().is_none_or(|id| cx.health.get(id).copied().unwrap_or(true));
    passing
        && (!set.evaluates_target()
            || content_records(cx, zone, &set.content, rtype, depth).is_some_and(|records| !records.is_empty()))
}

/// PRIMARY while it is healthy, else SECONDARY (the primary when there is
/// no secondary).
fn failover<'z>(sets: &'z [Routed], healthy: &dyn Fn(&Routed) -> bool) -> Option<&'z Routed> {
    let find = |role: Failover| sets.iter().find(|set| set.policy == Policy::Failover(role));
    match (find(Failover::Primary), find(Failover::Secondary)) {
        (Some(primary), _) if healthy(primary) => Some(primary),
        (_, Some(secondary)) => Some(secondary),
        (primary, None) => primary,
    }
}

/// One set drawn with probability proportional to its weight among the
/// healthy sets (all of them when none is healthy, as Route 53 does). Sets
/// of weight 0 are drawn, evenly, only when every candidate weighs 0.
fn weighted<'z>(sets: &'z [Routed], healthy: &dyn Fn(&Routed) -> bool) -> Option<&'z Routed> {
    let weight = |set: &Routed| match set.policy {
        Policy::Weighted(weight) => Some(u64::from(weight)),
        _ => None,
    };
    let any_healthy = sets.iter().any(|set| weight(set).is_some() && healthy(set));
    let candidates = || sets.iter().filter(move |set| weight(set).is_some() && (!any_healthy || healthy(set)));
    let total: u64 = candidates().filter_map(weight).sum();
    let mut rng = rand::rng();
    if total == 0 {
        let count = candidates().count();
        if count == 0 {
            return None;
        }
        return candidates().nth(rng.random_range(0..count));
    }
    let mut point = rng.random_range(0..total);
    for set in candidates() {
        let weight = weight(set).unwrap_or(0);
        if point < weight {
            return Some(set);
        }
        point -= weight;
    }
    None
}

/// The records of every healthy multivalue set, at most eight (starting at
/// a random set when there are more, so each resolver sees a different
/// eight); every set's when none is healthy, as Route 53 does.
fn multivalue<'z>(sets: &'z [Routed], healthy: &dyn Fn(&Routed) -> bool) -> Option<Picked<'z>> {
    let any_healthy = sets.iter().any(|set| set.policy == Policy::MultiValue && healthy(set));
    let chosen = |set: &Routed| set.policy == Policy::MultiValue && (!any_healthy || healthy(set));
    let records = |set: &'z Routed| match &set.content {
        Content::Records(records) => &records[..],
        Content::Alias(_) => &[],
    };
    let total: usize = sets.iter().filter(|set| chosen(set)).map(|set| records(set).len()).sum();
    let start = if total > MULTIVALUE_MAX { rand::rng().random_range(0..sets.len()) } else { 0 };
    let mut picked = [None; MULTIVALUE_MAX];
    let mut count = 0;
    for set in sets.iter().cycle().skip(start).take(sets.len()) {
        if !chosen(set) {
            continue;
        }
        for record in records(set) {
            if count == MULTIVALUE_MAX {
                break;
            }
            picked[count] = Some(record);
            count += 1;
        }
    }
    (count > 0).then_some(Picked::Few(picked))
}
