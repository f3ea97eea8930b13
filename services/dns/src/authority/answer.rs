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

use std::cell::Cell;

use hickory_proto::rr::RecordType;
use rand::Rng;

use super::{
    AliasTargets, Health, Transport,
    dnssec::Signed,
    snapshot::{Alias, CompiledZone, Content, Node, Policy, Routed, Rrset, RrsetData, Snapshot},
    wire::{
        self, EDNS_PAYLOAD, Edns, OPT_LEN, Owner, PLAIN_UDP, Parsed, Part, Query, Section, WireRecord, Writer, class,
        flag, rcode, rtype,
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
/// Alias hops and set-health evaluations one query may take. Health of an
/// alias that evaluates its target resolves the target, which may be a
/// routed group of aliases itself: N sets over MAX_ALIAS_DEPTH levels is
/// N^4 evaluations, so a zone could make every query cost millions of
/// steps. Past the budget a set counts as unhealthy and an alias as
/// having no records; zones of sensible shape stay far below it.
const MAX_STEPS: u32 = 1000;
/// Routing groups up to this many sets keep their health verdicts on the
/// stack; larger ones (Route 53 allows 100 weighted sets) spill to the heap.
const INLINE_VERDICTS: usize = 32;

/// The steps a query has taken (see [`MAX_STEPS`]).
#[derive(Debug, Default)]
pub struct Steps {
    taken: Cell<u32>,
}

impl Steps {
    /// Takes a step; false once the budget is spent.
    fn take(&self) -> bool {
        let taken = self.taken.get().saturating_add(1);
        self.taken.set(taken);
        taken <= MAX_STEPS
    }

    pub fn taken(&self) -> u32 {
        self.taken.get()
    }
}

#[cfg(test)]
thread_local! {
    /// The steps the last query answered on this thread took, for tests.
    pub static LAST_STEPS: Cell<u32> = const { Cell::new(0) };
}

/// What an answer reads: all of it swapped whole, none of it locked.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub health: &'a Health,
    pub aliases: &'a dyn AliasTargets,
    /// The query set the DO bit (RFC 3225): signed zones answer with
    /// their RRSIGs and NSEC proofs. Set by [`respond`].
    pub dnssec_ok: bool,
    /// The query's name, lower case (what [`Owner::Question`] stands for).
    pub qname: &'a [u8],
    /// The query's step budget. Set by [`respond`]; without one (a
    /// context not answering a query) steps are not counted.
    pub steps: Option<&'a Steps>,
}

impl<'a> Context<'a> {
    /// Reads the zones, health and alias targets; the query is not known
    /// yet.
    pub fn new(snapshot: &'a Snapshot, health: &'a Health, aliases: &'a dyn AliasTargets) -> Self {
        Context { snapshot, health, aliases, dnssec_ok: false, qname: &[], steps: None }
    }

    /// Takes a step of the query's budget; false once it is spent.
    fn step(&self) -> bool {
        self.steps.is_none_or(Steps::take)
    }
}

/// Appends the response to `message` to `out`; returns false when it gets
/// none.
pub fn respond(cx: &Context<'_>, message: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
    let steps = Steps::default();
    let answered = respond_within(cx, &steps, message, transport, out);
    #[cfg(test)]
    LAST_STEPS.with(|last| last.set(steps.taken()));
    answered
}

fn respond_within(cx: &Context<'_>, steps: &Steps, message: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
    let query = match wire::parse(message) {
        Parsed::Drop => return false,
        Parsed::HeaderOnly { id, flags, rcode, edns } => {
            header_only(out, id, flags, rcode, edns);
            return true;
        }
        Parsed::Query(query) => query,
    };
    let cx = &Context {
        dnssec_ok: query.edns.is_some_and(|edns| edns.dnssec_ok),
        qname: query.qname.as_slice(),
        steps: Some(steps),
        ..*cx
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
    // Names a wildcard answered for: their NSEC proves no closer match
    // exists (RFC 4035 §3.1.3.3).
    let mut proofs = Proofs::default();
    let mut visited: [&[u8]; MAX_CHAIN + 1] = [&[]; MAX_CHAIN + 1];
    visited[0] = qname;
    for step in 1..=MAX_CHAIN + 1 {
        let node = match locate(zone, name, qtype) {
            Found::NxDomain if from_parent => {
                return nodata(cx, zone, writer, name, &proofs, class_any, authoritative);
            }
            Found::NxDomain => {
                negative(cx, zone, writer, class_any);
                deny_name(cx, zone, writer, name);
                proofs.write(cx, zone, writer);
                return (rcode::NXDOMAIN, authoritative);
            }
            Found::Referral { cut, node } => {
                referral(cx, zone, cut, node, &proofs, writer);
                // After a CNAME the answer holds authoritative data: AA
                // stays, as in NSD.
                return (rcode::NOERROR, step > 1 && authoritative);
            }
            Found::Node(node) => node,
        };
        if zone.node(name).is_none_or(|exact| !std::ptr::eq(exact, node)) {
            proofs.add(name);
        }
        if qtype == rtype::ANY {
            if !any(cx, zone, node, owner, &proofs, writer) {
                return nodata(cx, zone, writer, name, &proofs, class_any, authoritative);
            }
            return (rcode::NOERROR, authoritative);
        }
        if let Some(records) = resolve(cx, zone, node, qtype, 0) {
            answer(cx, zone, writer, owner, qtype, &records, &proofs);
            return (rcode::NOERROR, authoritative);
        }
        let cname = if qtype == rtype::CNAME { None } else { resolve(cx, zone, node, rtype::CNAME, 0) };
        let Some(cname) = cname else { return nodata(cx, zone, writer, name, &proofs, class_any, authoritative) };
        put(cx, zone, writer, Section::Answer, owner, &cname);
        // Only the first CNAME record counts (there should be one).
        let Some(target) = cname.first_target() else { break };
        if !zone.contains(target) || visited[..step].contains(&target) || step > MAX_CHAIN {
            break;
        }
        visited[step] = target;
        name = target;
        owner = Owner::Name(target);
    }
    proofs.write(cx, zone, writer);
    (rcode::NOERROR, authoritative)
}

/// RFC 2308 §2.2: NOERROR, no answer, the SOA in the authority section
/// (and, signed, the NSEC proving the type absent).
fn nodata<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    writer: &mut Writer<'_, 'n>,
    name: &'n [u8],
    proofs: &Proofs<'n>,
    class_any: bool,
    authoritative: bool,
) -> (u16, bool) {
    negative(cx, zone, writer, class_any);
    deny_type(cx, zone, writer, name);
    proofs.write(cx, zone, writer);
    (rcode::NOERROR, authoritative)
}

/// The SOA of a negative answer (RFC 2308 §3), left out for class ANY as
/// NSD does; signed, with its RRSIG.
fn negative<'n>(cx: &Context<'n>, zone: &'n CompiledZone, writer: &mut Writer<'_, 'n>, class_any: bool) {
    if class_any {
        return;
    }
    let Some(soa) = zone.negative_soa() else { return };
    let apex = Owner::Name(zone.apex());
    match signed(cx, zone) {
        None => {
            writer.rrset(Section::Authority, apex, std::iter::once(soa));
        }
        Some(signed) => {
            let sigs = signed.negative_soa_signatures().iter().map(Part::Zone);
            writer.rrset_parts(Section::Authority, apex, std::iter::once(Part::Zone(soa)).chain(sigs));
        }
    }
}

/// The zone's DNSSEC data, when it is signed and the query asked for it.
fn signed<'n>(cx: &Context<'n>, zone: &'n CompiledZone) -> Option<&'n Signed> {
    zone.signed().filter(|_| cx.dnssec_ok)
}

/// The NSEC RRset (and its RRSIG) of `owner`, a name of the chain, in the
/// authority section.
fn write_nsec<'n>(cx: &Context<'n>, zone: &'n CompiledZone, writer: &mut Writer<'_, 'n>, owner: &[u8]) {
    let Some((key, node)) = zone.entry(owner) else { return };
    if let Some(Rrset { data: RrsetData::Simple(Content::Records(records)), .. }) = node.rrset(super::dnssec::NSEC) {
        put(cx, zone, writer, Section::Authority, Owner::Name(key), &Picked::Slice(records));
    }
}

/// RFC 4035 §3.1.3.2: NXDOMAIN's proofs, the NSEC covering the name and
/// the one covering the wildcard at its closest encloser.
fn deny_name<'n>(cx: &Context<'n>, zone: &'n CompiledZone, writer: &mut Writer<'_, 'n>, name: &[u8]) {
    let Some(signed) = signed(cx, zone) else { return };
    let covering = signed.nsec_owner(name);
    if let Some(owner) = covering {
        write_nsec(cx, zone, writer, owner);
    }
    let encloser = wire::suffixes(name).skip(1).find(|suffix| zone.node(suffix).is_some()).unwrap_or(zone.apex());
    let Some(wildcard) = wildcard_name(encloser) else { return };
    let wildcard_cover = signed.nsec_owner(&wildcard);
    if wildcard_cover != covering
        && let Some(owner) = wildcard_cover
    {
        write_nsec(cx, zone, writer, owner);
    }
}

/// RFC 4035 §3.1.3.1 and §3.1.3.4: NODATA's proof, the name's own NSEC
/// (its bitmap lacks the type); for an empty non-terminal the NSEC
/// covering it; for a name a wildcard matches, the wildcard's NSEC (the
/// covering one is among the wildcard proofs).
fn deny_type<'n>(cx: &Context<'n>, zone: &'n CompiledZone, writer: &mut Writer<'_, 'n>, name: &[u8]) {
    let Some(signed) = signed(cx, zone) else { return };
    if zone.node(name).is_some() {
        if let Some(owner) = signed.nsec_owner(name) {
            write_nsec(cx, zone, writer, owner);
        }
        return;
    }
    let encloser = wire::suffixes(name).skip(1).find(|suffix| zone.node(suffix).is_some()).unwrap_or(zone.apex());
    match wildcard_name(encloser) {
        Some(wildcard) if signed.has_nsec(&wildcard) => write_nsec(cx, zone, writer, &wildcard),
        _ => {
            if let Some(owner) = signed.nsec_owner(name) {
                write_nsec(cx, zone, writer, owner);
            }
        }
    }
}

/// `*.<encloser>` in wire form.
fn wildcard_name(encloser: &[u8]) -> Option<Vec<u8>> {
    let mut name = Vec::with_capacity(encloser.len() + 2);
    name.extend([1, b'*']);
    name.extend(encloser);
    (name.len() <= wire::MAX_NAME).then_some(name)
}

/// The names of one answer that a wildcard synthesized.
#[derive(Default)]
struct Proofs<'n> {
    names: [&'n [u8]; MAX_CHAIN + 1],
    count: usize,
}

impl<'n> Proofs<'n> {
    fn add(&mut self, name: &'n [u8]) {
        if let Some(slot) = self.names.get_mut(self.count) {
            *slot = name;
            self.count += 1;
        }
    }

    /// RFC 4035 §3.1.3.3: for each, the NSEC covering it, once.
    fn write(&self, cx: &Context<'n>, zone: &'n CompiledZone, writer: &mut Writer<'_, 'n>) {
        let Some(signed) = signed(cx, zone) else { return };
        let mut written: [&[u8]; MAX_CHAIN + 1] = [&[]; MAX_CHAIN + 1];
        for (index, name) in self.names[..self.count].iter().enumerate() {
            let Some(owner) = signed.nsec_owner(name) else { continue };
            if written[..index].contains(&owner) {
                continue;
            }
            written[index] = owner;
            write_nsec(cx, zone, writer, owner);
        }
    }
}

/// A referral (RFC 1034 §4.3.2 step 3b): the cut's NS RRset in the
/// authority section and the addresses of its hosts that the zone holds
/// (glue) in the additional section.
/// Signed, the cut's DS RRset and its RRSIG follow the NS, or the cut's
/// NSEC proving it has none (RFC 4035 §3.1.4).
fn referral<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    cut: &'n [u8],
    node: &'n Node,
    proofs: &Proofs<'n>,
    writer: &mut Writer<'_, 'n>,
) {
    let Some(ns) = resolve(cx, zone, node, rtype::NS, 0) else { return };
    if put(cx, zone, writer, Section::Authority, Owner::Name(cut), &ns) {
        if signed(cx, zone).is_some() {
            match resolve(cx, zone, node, rtype::DS, 0) {
                Some(ds) => {
                    put(cx, zone, writer, Section::Authority, Owner::Name(cut), &ds);
                }
                None => write_nsec(cx, zone, writer, cut),
            }
            proofs.write(cx, zone, writer);
        }
        additional(cx, zone, writer, &ns, Some(cut));
    }
}

/// An RRset in the answer section and, for NS, the addresses of the name
/// servers the zone holds (minimal answers: see the top).
/// Signed, the wildcard proofs come between the two (the authority
/// section).
fn answer<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    writer: &mut Writer<'_, 'n>,
    owner: Owner<'n>,
    rtype: u16,
    records: &Picked<'n>,
    proofs: &Proofs<'n>,
) {
    let written = put(cx, zone, writer, Section::Answer, owner, records);
    proofs.write(cx, zone, writer);
    if written && rtype == rtype::NS {
        additional(cx, zone, writer, records, None);
    }
}

/// RFC 8482 §4.1: one RRset of the name, chosen as described at the top.
fn any<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    node: &'n Node,
    owner: Owner<'n>,
    proofs: &Proofs<'n>,
    writer: &mut Writer<'_, 'n>,
) -> bool {
    const PREFERRED: [u16; 5] = [rtype::SOA, rtype::A, rtype::PTR, rtype::MX, rtype::AAAA];
    let preferred = PREFERRED.iter().filter_map(|kind| node.rrsets().iter().find(|rrset| rrset.rtype == *kind));
    let others = node.rrsets().iter().filter(|rrset| !PREFERRED.contains(&rrset.rtype));
    for rrset in preferred.chain(others) {
        if let Some(records) = resolve_rrset(cx, zone, rrset, 0) {
            answer(cx, zone, writer, owner, rrset.rtype, &records, proofs);
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
            let written = put(cx, zone, writer, Section::Additional, Owner::Name(target), &addresses);
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

/// Writes an RRset whole; signed, with its RRSIGs in the same unit, so
/// truncation cuts both or neither. Precomputed signatures are used where
/// the set was signed under the name it is served at (or a wildcard
/// matching it); an answer made for this query is signed now. Outside the
/// answer section only precomputed signatures are served: the rest there
/// (referral NS, glue) is not the zone's to sign.
fn put<'n>(
    cx: &Context<'n>,
    zone: &'n CompiledZone,
    writer: &mut Writer<'_, 'n>,
    section: Section,
    owner: Owner<'n>,
    records: &Picked<'n>,
) -> bool {
    let Some(signed) = signed(cx, zone) else {
        return match records {
            Picked::Owned(records) => writer.rrset_transient(section, owner, records),
            borrowed => writer.rrset(section, owner, borrowed.borrowed()),
        };
    };
    let owner_name = match owner {
        Owner::Question => cx.qname,
        Owner::Name(name) => name,
    };
    let precomputed = match records {
        Picked::Slice(slice) => signed.signatures(slice, owner_name),
        _ => None,
    };
    let mut parts: Vec<Part<'_, 'n>> = match records {
        Picked::Owned(records) => records.iter().map(Part::Transient).collect(),
        borrowed => borrowed.borrowed().map(Part::Zone).collect(),
    };
    let made = match precomputed {
        Some(_) => None,
        None if section == Section::Answer => {
            let all: Vec<&WireRecord> = parts
                .iter()
                .map(|part| match part {
                    Part::Zone(record) | Part::Transient(record) => *record,
                })
                .collect();
            signed.sign_now(owner_name, &all)
        }
        None => None,
    };
    parts.extend(precomputed.unwrap_or_default().iter().map(Part::Zone));
    parts.extend(made.iter().map(Part::Transient));
    writer.rrset_parts(section, owner, parts)
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
    if depth >= MAX_ALIAS_DEPTH || !cx.step() {
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
/// Each set's health is judged at most once for the decision.
fn route<'z>(
    cx: &Context<'z>,
    zone: &'z CompiledZone,
    sets: &'z [Routed],
    rtype: u16,
    depth: u8,
) -> Option<Picked<'z>> {
    let verdicts = Verdicts::new(sets, |set: &Routed| healthy(cx, zone, set, rtype, depth));
    let healthy = |index: usize| verdicts.healthy(index);
    let uses = |wanted: fn(&Policy) -> bool| sets.iter().any(|set| wanted(&set.policy));
    let chosen = if uses(|policy| matches!(policy, Policy::Failover(_))) {
        failover(sets, &healthy)
    } else if uses(|policy| matches!(policy, Policy::Weighted(_))) {
        weighted(sets, &healthy)
    } else if uses(|policy| *policy == Policy::MultiValue) {
        return multivalue(sets, &healthy);
    } else {
        (0..sets.len()).find(|index| healthy(*index)).and_then(|index| sets.get(index)).or_else(|| sets.first())
    }?;
    content_records(cx, zone, &chosen.content, rtype, depth)
}

/// The health of a group's sets, judged when first asked and remembered
/// for the rest of the routing decision: the policies ask about a set
/// several times (is any healthy, which are candidates, which is drawn).
struct Verdicts<'s, F> {
    sets: &'s [Routed],
    judge: F,
    /// 0 not judged yet, 1 healthy, 2 unhealthy.
    inline: [Cell<u8>; INLINE_VERDICTS],
    spilled: Vec<Cell<u8>>,
}

impl<'s, F: Fn(&Routed) -> bool> Verdicts<'s, F> {
    fn new(sets: &'s [Routed], judge: F) -> Self {
        let spilled = (INLINE_VERDICTS..sets.len()).map(|_| Cell::new(0)).collect();
        Self { sets, judge, inline: std::array::from_fn(|_| Cell::new(0)), spilled }
    }

    fn healthy(&self, index: usize) -> bool {
        let slot = match index.checked_sub(INLINE_VERDICTS) {
            None => self.inline.get(index),
            Some(spilled) => self.spilled.get(spilled),
        };
        let (Some(slot), Some(set)) = (slot, self.sets.get(index)) else { return false };
        match slot.get() {
            1 => true,
            2 => false,
            _ => {
                let healthy = (self.judge)(set);
                slot.set(if healthy { 1 } else { 2 });
                healthy
            }
        }
    }
}

/// A set is healthy while its health check passes (no check, or one not
/// known, passes) and, for an alias that evaluates its target's health,
/// while the target has records. Judging takes a step of the query's
/// budget; past it the set is unhealthy.
fn healthy(cx: &Context<'_>, zone: &CompiledZone, set: &Routed, rtype: u16, depth: u8) -> bool {
    if !cx.step() {
        return false;
    }
    let passing = set.health_check.as_deref().is_none_or(|id| cx.health.get(id).copied().unwrap_or(true));
    passing
        && (!set.evaluates_target()
            || content_records(cx, zone, &set.content, rtype, depth).is_some_and(|records| !records.is_empty()))
}

/// PRIMARY while it is healthy, else SECONDARY while that is healthy, else
/// PRIMARY again: Route 53's ResourceRecordSet reference says "When the
/// secondary resource record set is unhealthy, Route 53 responds to DNS
/// queries with the applicable value from the primary resource record set
/// regardless of the health of the primary resource record set." Either
/// alone answers whatever its health.
fn failover<'z>(sets: &'z [Routed], healthy: &dyn Fn(usize) -> bool) -> Option<&'z Routed> {
    let find = |role: Failover| sets.iter().position(|set| set.policy == Policy::Failover(role));
    let chosen = match (find(Failover::Primary), find(Failover::Secondary)) {
        (Some(primary), _) if healthy(primary) => primary,
        (Some(_), Some(secondary)) if healthy(secondary) => secondary,
        (Some(primary), _) => primary,
        (None, Some(secondary)) => secondary,
        (None, None) => return None,
    };
    sets.get(chosen)
}

/// One set drawn with probability proportional to its weight among the
/// healthy sets (all of them when none is healthy, as Route 53 does). Sets
/// of weight 0 are drawn, evenly, only when every candidate weighs 0.
fn weighted<'z>(sets: &'z [Routed], healthy: &dyn Fn(usize) -> bool) -> Option<&'z Routed> {
    let weight = |set: &Routed| match set.policy {
        Policy::Weighted(weight) => Some(u64::from(weight)),
        _ => None,
    };
    let any_healthy = sets.iter().enumerate().any(|(index, set)| weight(set).is_some() && healthy(index));
    let candidates = || {
        sets.iter()
            .enumerate()
            .filter(move |(index, set)| weight(set).is_some() && (!any_healthy || healthy(*index)))
            .map(|(_, set)| set)
    };
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
fn multivalue<'z>(sets: &'z [Routed], healthy: &dyn Fn(usize) -> bool) -> Option<Picked<'z>> {
    let any_healthy = sets.iter().enumerate().any(|(index, set)| set.policy == Policy::MultiValue && healthy(index));
    let chosen = |index: usize, set: &Routed| set.policy == Policy::MultiValue && (!any_healthy || healthy(index));
    let records = |set: &'z Routed| match &set.content {
        Content::Records(records) => &records[..],
        Content::Alias(_) => &[],
    };
    let total: usize =
        sets.iter().enumerate().filter(|(index, set)| chosen(*index, set)).map(|(_, set)| records(set).len()).sum();
    let start = if total > MULTIVALUE_MAX { rand::rng().random_range(0..sets.len()) } else { 0 };
    let mut picked = [None; MULTIVALUE_MAX];
    let mut count = 0;
    for (index, set) in sets.iter().enumerate().cycle().skip(start).take(sets.len()) {
        if !chosen(index, set) {
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
