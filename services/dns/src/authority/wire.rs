//! DNS messages on the wire: a query read without allocating, records kept
//! in wire form, and a response written with name compression and whole-RRset
//! truncation.
//!
//! nubo reads queries itself rather than through hickory's `Message`: a query
//! is answered from a few slices of the received bytes, so the answer path
//! allocates nothing, and the question is echoed exactly as received (its
//! case included, for resolvers that check 0x20 randomisation).

use hickory_proto::{
    ProtoError,
    rr::{Name, RData, Record},
    serialize::binary::{BinEncodable, BinEncoder, NameEncoding},
};

pub const HEADER_LEN: usize = 12;
/// The longest name in wire form (RFC 1035 §2.3.4).
pub const MAX_NAME: usize = 255;
/// An OPT record without options: root owner, type, class, TTL, RDLENGTH.
pub const OPT_LEN: usize = 11;
/// The largest UDP response nubo sends and the payload size it advertises:
/// NSD's default `ipv4-edns-size` (1232, from DNS flag day 2020), which
/// avoids IP fragmentation.
pub const EDNS_PAYLOAD: u16 = 1232;
/// RFC 1035 §4.2.1: without EDNS a UDP message holds at most 512 octets.
pub const PLAIN_UDP: usize = 512;

pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
}

pub mod class {
    pub const IN: u16 = 1;
    pub const ANY: u16 = 255;
}

pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const NOTAUTH: u16 = 9;
    /// Extended (RFC 6891 §9): carried half in the header, half in the OPT.
    pub const BADVERS: u16 = 16;
}

pub mod flag {
    pub const QR: u16 = 0x8000;
    pub const OPCODE: u16 = 0x7800;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RCODE: u16 = 0x000f;
}

/// A lower-cased name in uncompressed wire form, on the stack.
#[derive(Clone)]
pub struct WireName {
    bytes: [u8; MAX_NAME],
    len: usize,
}

impl WireName {
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// What a query's OPT record asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A query that passed the header and section checks.
pub struct Query<'q> {
    pub id: u16,
    pub flags: u16,
    /// The question as received: name (in the client's case), type, class.
    pub question: &'q [u8],
    pub qname: WireName,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// A TSIG record was present: nubo holds no keys (RFC 8945 §5.2).
    pub tsig: bool,
}

/// What to do with a received message. (A query is large, but lives on
/// the stack for one answer: boxing it would allocate per query.)
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'q> {
    /// No answer: shorter than a header, or a response (never answer those,
    /// or two servers could echo each other forever).
    Drop,
    /// An answer of a header only, as NSD sends for a message it cannot
    /// read: no question, rcode given, an OPT only if one was read.
    HeaderOnly {
        id: u16,
        flags: u16,
        rcode: u16,
        edns: Option<Edns>,
    },
    Query(Query<'q>),
}

fn u16_at(message: &[u8], at: usize) -> Option<u16> {
    let bytes = message.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

fn u32_at(message: &[u8], at: usize) -> Option<u32> {
    let bytes = message.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Reads a received message the way NSD's `query_process` checks it: the
/// opcode first (anything but QUERY is NOTIMP), then a zero rcode, exactly
/// one question, empty answer and authority sections (IXFR excepted), and an
/// additional section of at most one OPT and one final TSIG.
pub fn parse(message: &[u8]) -> Parsed<'_> {
    let (Some(id), Some(flags)) = (u16_at(message, 0), u16_at(message, 2)) else { return Parsed::Drop };
    if message.len() < HEADER_LEN || flags & flag::QR != 0 {
        return Parsed::Drop;
    }
    let error = |rcode, edns| Parsed::HeaderOnly { id, flags, rcode, edns };
    if flags & flag::OPCODE != 0 {
        return error(rcode::NOTIMP, None);
    }
    let count = |index: usize| u16_at(message, 4 + 2 * index).unwrap_or_default();
    let (questions, answers, authorities, additionals) = (count(0), count(1), count(2), count(3));
    if flags & flag::RCODE != 0 {
        return error(rcode::FORMERR, None);
    }
    if questions != 1 {
        // A message of only an OPT probes for EDNS: NSD answers FORMERR
        // with an OPT, so the prober learns that EDNS is understood.
        if questions == 0
            && answers == 0
            && authorities == 0
            && additionals == 1
            && let Some((Some(edns), false)) = read_additional(message, HEADER_LEN, 1)
        {
            return error(rcode::FORMERR, Some(edns));
        }
        return error(rcode::FORMERR, None);
    }
    let Some((qname, after_name)) = read_qname(message, HEADER_LEN) else { return error(rcode::FORMERR, None) };
    let (Some(qtype), Some(qclass)) = (u16_at(message, after_name), u16_at(message, after_name + 2)) else {
        return error(rcode::FORMERR, None);
    };
    let end = after_name + 4;
    if answers != 0 || (authorities != 0 && qtype != rtype::IXFR) {
        return error(rcode::FORMERR, None);
    }
    let mut at = end;
    for _ in 0..authorities {
        match read_record(message, at) {
            Some(record) => at = record.end,
            None => return error(rcode::FORMERR, None),
        }
    }
    let Some((edns, tsig)) = read_additional(message, at, additionals) else { return error(rcode::FORMERR, None) };
    // Bytes after the last record are ignored, as NSD does unless built
    // with STRICT_MESSAGE_PARSE.
    let question = message.get(HEADER_LEN..end).unwrap_or_default();
    Parsed::Query(Query { id, flags, question, qname, qtype, qclass, edns, tsig })
}

/// A question's name, lower-cased. Compression pointers are refused: the
/// first name of a message has nothing before it to point at.
fn read_qname(message: &[u8], mut at: usize) -> Option<(WireName, usize)> {
    let mut name = WireName { bytes: [0; MAX_NAME], len: 0 };
    loop {
        let length = usize::from(*message.get(at)?);
        if length & 0xc0 != 0 || name.len + 1 + length > MAX_NAME {
            return None;
        }
        name.bytes[name.len] = length as u8;
        at += 1;
        if length == 0 {
            name.len += 1;
            return Some((name, at));
        }
        let label = message.get(at..at + length)?;
        for (slot, byte) in name.bytes[name.len + 1..name.len + 1 + length].iter_mut().zip(label) {
            *slot = byte.to_ascii_lowercase();
        }
        name.len += 1 + length;
        at += length;
    }
}

/// The end of a possibly compressed name.
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let length = *message.get(at)?;
        match length & 0xc0 {
            0 if length == 0 => return Some(at + 1),
            0 => at += 1 + usize::from(length),
            0xc0 => {
                message.get(at + 1)?;
                return Some(at + 2);
            }
            _ => return None,
        }
    }
}

struct RawRecord {
    root_owner: bool,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: std::ops::Range<usize>,
    end: usize,
}

fn read_record(message: &[u8], at: usize) -> Option<RawRecord> {
    let after_name = skip_name(message, at)?;
    let rtype = u16_at(message, after_name)?;
    let class = u16_at(message, after_name + 2)?;
    let ttl = u32_at(message, after_name + 4)?;
    let length = usize::from(u16_at(message, after_name + 8)?);
    let start = after_name + 10;
    let end = start + length;
    message.get(start..end)?;
    Some(RawRecord { root_owner: after_name == at + 1, rtype, class, ttl, rdata: start..end, end })
}

/// The additional section: at most one OPT (owned by the root, with
/// well-formed options, RFC 6891 §6.1.1) and a TSIG only as the last record
/// (RFC 8945 §5.1); anything else is FORMERR, as in NSD.
fn read_additional(message: &[u8], mut at: usize, count: u16) -> Option<(Option<Edns>, bool)> {
    let (mut edns, mut tsig) = (None, false);
    for index in 0..count {
        let record = read_record(message, at)?;
        match record.rtype {
            rtype::OPT if edns.is_none() && !tsig && record.root_owner => {
                options_well_formed(message.get(record.rdata.clone())?)?;
                edns = Some(Edns {
                    payload: record.class,
                    version: (record.ttl >> 16) as u8,
                    dnssec_ok: record.ttl & 0x8000 != 0,
                });
            }
            rtype::TSIG if !tsig && index + 1 == count => tsig = true,
            _ => return None,
        }
        at = record.end;
    }
    Some((edns, tsig))
}

/// Options tile the OPT's RDATA exactly; their contents are ignored
/// (RFC 6891 §6.1.2: unknown options are ignored).
fn options_well_formed(mut rdata: &[u8]) -> Option<()> {
    while !rdata.is_empty() {
        let length = usize::from(u16_at(rdata, 2)?);
        rdata = rdata.get(4 + length..)?;
    }
    Some(())
}

/// The offsets at which each suffix of a wire name starts, from the whole
/// name down to the root.
pub fn suffixes(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = Some(0usize);
    std::iter::from_fn(move || {
        let start = at?;
        let length = usize::from(*name.get(start)?);
        at = if length == 0 { None } else { Some(start + 1 + length) };
        name.get(start..)
    })
}

/// `name` without its first `count` labels.
pub fn strip_labels(name: &[u8], count: usize) -> &[u8] {
    suffixes(name).nth(count).unwrap_or(&[0])
}

/// Whether `name` is `zone` or below it (both wire, lower case).
pub fn is_within(name: &[u8], zone: &[u8]) -> bool {
    name.len() >= zone.len() && suffixes(name).any(|suffix| suffix.len() == zone.len() && suffix == zone)
}

/// The number of labels of a wire name (the root has none).
pub fn label_count(name: &[u8]) -> usize {
    suffixes(name).count().saturating_sub(1)
}

/// A name's uncompressed, lower-cased wire form.
pub fn name_bytes(name: &Name, out: &mut Vec<u8>) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
}

/// A byte range inside a record's RDATA, as `u16` to keep records small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    start: u16,
    end: u16,
}

impl Span {
    fn of(range: std::ops::Range<usize>) -> Option<Span> {
        Some(Span { start: u16::try_from(range.start).ok()?, end: u16::try_from(range.end).ok()? })
    }

    fn range(self) -> std::ops::Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }
}

/// A record ready to copy into a response: type, TTL and RDATA bytes, with
/// the spans of the RDATA names that may be compressed (RFC 3597 §4: only
/// those of RFC 1035's types) and of the name additional-section processing
/// or CNAME chasing follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    pub rtype: u16,
    pub ttl: u32,
    rdata: Box<[u8]>,
    compressible: [Option<Span>; 2],
    target: Option<Span>,
}

impl WireRecord {
    /// The wire form of a hickory record (owner and class are the caller's).
    pub fn from_record(record: &Record) -> Result<WireRecord, ProtoError> {
        let mut rdata = Vec::new();
        let mut compressible = [None, None];
        let mut target = None;
        let name = |rdata: &mut Vec<u8>, name: &Name| {
            let start = rdata.len();
            name_bytes(name, rdata);
            Span::of(start..rdata.len())
        };
        match &record.data {
            RData::CNAME(cname) => {
                compressible[0] = name(&mut rdata, &cname.0);
                target = compressible[0];
            }
            RData::NS(ns) => {
                compressible[0] = name(&mut rdata, &ns.0);
                target = compressible[0];
            }
            RData::PTR(ptr) => compressible[0] = name(&mut rdata, &ptr.0),
            RData::MX(mx) => {
                rdata.extend(mx.preference.to_be_bytes());
                compressible[0] = name(&mut rdata, &mx.exchange);
                target = compressible[0];
            }
            RData::SOA(soa) => {
                compressible[0] = name(&mut rdata, &soa.mname);
                compressible[1] = name(&mut rdata, &soa.rname);
                rdata.extend(soa.serial.to_be_bytes());
                rdata.extend(soa.refresh.to_be_bytes());
                rdata.extend(soa.retry.to_be_bytes());
                rdata.extend(soa.expire.to_be_bytes());
                rdata.extend(soa.minimum.to_be_bytes());
            }
            RData::SRV(srv) => {
                // RFC 2782: the target is never compressed.
                rdata.extend(srv.priority.to_be_bytes());
                rdata.extend(srv.weight.to_be_bytes());
                rdata.extend(srv.port.to_be_bytes());
                target = name(&mut rdata, &srv.target);
            }
            other => {
                let mut encoder = BinEncoder::new(&mut rdata);
                encoder.set_name_encoding(NameEncoding::Uncompressed);
                other.emit(&mut encoder)?;
            }
        }
        if rdata.len() > usize::from(u16::MAX) {
            return Err(ProtoError::Message("record data longer than 65535 octets"));
        }
        Ok(WireRecord {
            rtype: record.record_type().into(),
            ttl: record.ttl,
            rdata: rdata.into(),
            compressible,
            target,
        })
    }

    /// A record of `rtype` whose RDATA holds no name to compress or follow
    /// (DNSKEY, RRSIG, NSEC: RFC 4034 forbids compressing their names).
    pub fn raw(rtype: u16, ttl: u32, rdata: Box<[u8]>) -> WireRecord {
        WireRecord { rtype, ttl, rdata, compressible: [None, None], target: None }
    }

    /// The same record with another TTL.
    pub fn with_ttl(&self, ttl: u32) -> WireRecord {
        WireRecord { ttl, ..self.clone() }
    }

    /// The name a CNAME points at, or the host an NS, MX or SRV names.
    pub fn target(&self) -> Option<&[u8]> {
        self.rdata.get(self.target?.range())
    }

    pub fn rdata(&self) -> &[u8] {
        &self.rdata
    }
}

/// Whose name a written record carries.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'n> {
    /// The question's name: a pointer to it, so the owner comes back in
    /// the case the client asked in (as NSD answers).
    Question,
    /// A name in wire form, lower case.
    Name(&'n [u8]),
}

/// One record of a unit [`Writer::rrset_parts`] writes.
#[derive(Debug, Clone, Copy)]
pub enum Part<'x, 'n> {
    /// Lives as long as the response's names: its names may be pointed at.
    Zone(&'n WireRecord),
    /// Made for this query.
    Transient(&'x WireRecord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// Names already written that later names may point at (RFC 1035 §4.1.4).
const POINTERS: usize = 48;
/// Compression pointers hold 14 bits.
const POINTER_LIMIT: usize = 0x3fff;

/// A response being written into a caller's buffer (after whatever it
/// already holds, such as TCP's length prefix).
pub struct Writer<'b, 'n> {
    buf: &'b mut Vec<u8>,
    base: usize,
    /// Where records must end, so the OPT still fits after them.
    limit: usize,
    pointers: [(u16, &'n [u8]); POINTERS],
    pointer_count: usize,
    questions: u16,
    counts: [u16; 3],
    truncated: bool,
}

impl<'b, 'n> Writer<'b, 'n> {
    /// Starts a response of at most `max_size` octets, `reserve` of which
    /// are kept for the OPT record.
    pub fn new(buf: &'b mut Vec<u8>, max_size: usize, reserve: usize) -> Self {
        let base = buf.len();
        buf.extend_from_slice(&[0; HEADER_LEN]);
        Writer {
            buf,
            base,
            limit: base + max_size.saturating_sub(reserve),
            pointers: [(0, &[]); POINTERS],
            pointer_count: 0,
            questions: 0,
            counts: [0; 3],
            truncated: false,
        }
    }

    /// Copies the question as received; `qname` (its lower-cased name) is
    /// remembered for compression.
    pub fn question(&mut self, question: &[u8], qname: &'n [u8]) {
        let at = self.buf.len() - self.base;
        self.buf.extend_from_slice(question);
        self.questions = 1;
        let mut offset = at;
        for suffix in suffixes(qname) {
            if suffix.len() <= 1 {
                break;
            }
            self.remember(offset, suffix);
            offset += usize::from(suffix[0]) + 1;
        }
    }

    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Sets TC: something the answer needs was left out.
    pub fn set_truncated(&mut self) {
        self.truncated = true;
    }

    /// Writes one RRset whole, or nothing of it (RFC 2181 §9). A set that
    /// does not fit in the answer or authority section sets TC, after
    /// which nothing more is written, as NSD does; one that does not fit in
    /// the additional section is left out silently. Returns whether it was
    /// written.
    pub fn rrset<I>(&mut self, section: Section, owner: Owner<'n>, records: I) -> bool
    where
        I: IntoIterator<Item = &'n WireRecord>,
    {
        self.rrset_with(section, records, |writer, record| writer.record(owner, record))
    }

    /// [`Writer::rrset`] for records that live shorter than the response's
    /// names (computed for this query): their RDATA names are written
    /// without being remembered for compression.
    pub fn rrset_transient(&mut self, section: Section, owner: Owner<'n>, records: &[WireRecord]) -> bool {
        self.rrset_with(section, records, |writer, record| writer.record_transient(owner, record))
    }

    /// Writes records of the zone and records made for this query as one
    /// unit: an RRset and its RRSIGs are kept or cut together.
    pub fn rrset_parts<'x, I>(&mut self, section: Section, owner: Owner<'n>, parts: I) -> bool
    where
        I: IntoIterator<Item = Part<'x, 'n>>,
    {
        self.rrset_with(section, parts, |writer, part| match part {
            Part::Zone(record) => writer.record(owner, record),
            Part::Transient(record) => writer.record_transient(owner, record),
        })
    }

    fn rrset_with<T, I>(&mut self, section: Section, records: I, mut put: impl FnMut(&mut Self, T)) -> bool
    where
        I: IntoIterator<Item = T>,
    {
        if self.truncated {
            return false;
        }
        let (mark, pointers) = (self.buf.len(), self.pointer_count);
        let mut count = 0u16;
        for record in records {
            put(self, record);
            count = count.saturating_add(1);
        }
        let index = section as usize;
        if self.buf.len() <= self.limit && self.counts[index].checked_add(count).is_some() {
            self.counts[index] += count;
            return true;
        }
        self.buf.truncate(mark);
        self.pointer_count = pointers;
        if section != Section::Additional {
            self.truncated = true;
        }
        false
    }

    fn record(&mut self, owner: Owner<'n>, record: &'n WireRecord) {
        self.owner(owner);
        self.fixed(record);
        let length_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        let mut copied = 0;
        for span in record.compressible.iter().flatten() {
            let range = span.range();
            self.buf.extend_from_slice(record.rdata.get(copied..range.start).unwrap_or_default());
            let name = record.rdata.get(range.clone()).unwrap_or(&[0]);
            self.name(name);
            copied = range.end;
        }
        self.buf.extend_from_slice(record.rdata.get(copied..).unwrap_or_default());
        self.patch_length(length_at);
    }

    fn record_transient(&mut self, owner: Owner<'n>, record: &WireRecord) {
        self.owner(owner);
        self.fixed(record);
        let length_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        // Uncompressed: RDATA names are the same bytes either way.
        self.buf.extend_from_slice(&record.rdata);
        self.patch_length(length_at);
    }

    fn owner(&mut self, owner: Owner<'n>) {
        match owner {
            Owner::Question => self.buf.extend_from_slice(&[0xc0, HEADER_LEN as u8]),
            Owner::Name(name) => self.name(name),
        }
    }

    fn fixed(&mut self, record: &WireRecord) {
        self.buf.extend_from_slice(&record.rtype.to_be_bytes());
        self.buf.extend_from_slice(&class::IN.to_be_bytes());
        self.buf.extend_from_slice(&record.ttl.to_be_bytes());
    }

    fn patch_length(&mut self, length_at: usize) {
        let length = (self.buf.len() - length_at - 2).min(usize::from(u16::MAX)) as u16;
        if let Some(slot) = self.buf.get_mut(length_at..length_at + 2) {
            slot.copy_from_slice(&length.to_be_bytes());
        }
    }

    /// Writes a name, pointing at the longest suffix already written.
    fn name(&mut self, name: &'n [u8]) {
        for suffix in suffixes(name) {
            if suffix.len() <= 1 {
                self.buf.push(0);
                return;
            }
            if let Some(offset) = self.find(suffix) {
                self.buf.extend_from_slice(&(0xc000 | offset).to_be_bytes());
                return;
            }
            self.remember(self.buf.len() - self.base, suffix);
            let label = suffix.get(..usize::from(suffix[0]) + 1).unwrap_or(suffix);
            self.buf.extend_from_slice(label);
        }
        // Only reached for an empty slice: end the name anyway.
        self.buf.push(0);
    }

    fn find(&self, suffix: &[u8]) -> Option<u16> {
        self.pointers[..self.pointer_count].iter().find(|(_, name)| *name == suffix).map(|&(offset, _)| offset)
    }

    fn remember(&mut self, offset: usize, suffix: &'n [u8]) {
        if offset < POINTER_LIMIT && self.pointer_count < POINTERS {
            self.pointers[self.pointer_count] = (offset as u16, suffix);
            self.pointer_count += 1;
        }
    }

    /// Ends the response: the OPT if the query had one, then the header.
    /// `flags` holds QR, opcode, AA and RD; TC and the rcode are added here.
    pub fn finish(self, id: u16, flags: u16, rcode: u16, edns: Option<Edns>) {
        let mut additional = self.counts[2];
        if let Some(edns) = edns {
            // RFC 6891 §6.1.3: extended rcode, version 0, DO echoed
            // (RFC 3225 §3), no options.
            let ttl = u32::from(rcode >> 4) << 24 | if edns.dnssec_ok { 0x8000 } else { 0 };
            self.buf.push(0);
            self.buf.extend_from_slice(&rtype::OPT.to_be_bytes());
            self.buf.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
            self.buf.extend_from_slice(&ttl.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
            additional = additional.saturating_add(1);
        }
        let flags = flags | if self.truncated { flag::TC } else { 0 } | (rcode & flag::RCODE);
        let mut header = [0u8; HEADER_LEN];
        header[0..2].copy_from_slice(&id.to_be_bytes());
        header[2..4].copy_from_slice(&flags.to_be_bytes());
        header[4..6].copy_from_slice(&self.questions.to_be_bytes());
        header[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        header[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        header[10..12].copy_from_slice(&additional.to_be_bytes());
        if let Some(slot) = self.buf.get_mut(self.base..self.base + HEADER_LEN) {
            slot.copy_from_slice(&header);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        name_bytes(&crate::names::to_name(text).unwrap(), &mut out);
        out
    }

    #[test]
    fn suffixes_walk_labels_to_the_root() {
        let name = wire("a.example.com.");
        let all: Vec<_> = suffixes(&name).map(<[u8]>::len).collect();
        assert_eq!(all, [15, 13, 5, 1]);
        assert_eq!(label_count(&name), 3);
        assert_eq!(strip_labels(&name, 1), wire("example.com.").as_slice());
        assert!(is_within(&name, &wire("example.com.")));
        assert!(is_within(&name, &[0]));
        assert!(!is_within(&wire("example.com."), &name));
        // A byte tail that is not on a label boundary is not a suffix.
        assert!(!is_within(&[3, b'b', 1, b'a', 0], &[1, b'a', 0]));
    }

    #[test]
    fn question_names_are_checked() {
        let mut message = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        message.extend([0xc0, 0x0c, 0, 1, 0, 1]);
        assert!(matches!(parse(&message), Parsed::HeaderOnly { rcode: rcode::FORMERR, .. }));
        assert!(matches!(parse(&message[..5]), Parsed::Drop));
    }
}
