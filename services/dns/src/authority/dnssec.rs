//! DNSSEC online signing (RFC 4033–4035), done when a zone is compiled:
//! the apex gets its DNSKEY RRset (the active key-signing keys and the
//! zone-signing key), every authoritative name an NSEC record chaining the
//! zone's names in canonical order, and every authoritative RRset its RRSIG,
//! so a query with the DO bit is answered from precomputed signatures.
//!
//! Route 53 keeps key-signing keys in KMS; nubo has no KMS, so every key is
//! made and kept by nubo: ECDSA P-256 with SHA-256 (algorithm 13, the one
//! Route 53 signs with), the private key as PKCS#8 in the zone record.
//!
//! Only answers made for one query (a multivalue pick of several sets, an
//! alias renamed to the query's name) are signed when answered, with the
//! zone-signing key: their RRset exists nowhere in the zone to sign ahead.

use std::{cmp::Ordering, collections::HashMap};

use base64::Engine as _;
use hickory_proto::dnssec::{
    Algorithm, DigestType, PublicKey as _, PublicKeyBuf, SigningKey, TBS, crypto::EcdsaSigningKey, rdata::DNSKEY,
};
use rustls::pki_types::PrivatePkcs8KeyDer;

use super::{
    snapshot::{Content, Node, Rrset, RrsetData},
    wire::{self, WireRecord, class, rtype},
};
use crate::model::Zone;

/// ECDSAP256SHA256 (RFC 6605).
pub const ALGORITHM: u8 = 13;
/// A key-signing key: zone key and secure entry point (RFC 4034 §2.1.1).
pub const KSK_FLAGS: u16 = 257;
/// A zone-signing key: zone key only.
pub const ZSK_FLAGS: u16 = 256;
pub const DNSKEY: u16 = 48;
pub const RRSIG: u16 = 46;
pub const NSEC: u16 = 47;
/// Route 53's TTL of the DNSKEY RRset.
const DNSKEY_TTL: u32 = 3600;
/// Signatures start an hour back, for resolvers whose clocks run late...
const INCEPTION_BACK_SECS: i64 = 3600;
/// ...and hold for 14 days.
const VALIDITY_SECS: i64 = 14 * 86_400;
/// A zone signed longer ago than this is signed again by
/// [`super::Authority::resign_due`], leaving 13 days of validity.
pub const RESIGN_AFTER_SECS: i64 = 86_400;

/// A key's private half in the zone record cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("DNSSEC key: {0}")]
pub struct KeyError(String);

/// A new ECDSA P-256 private key, base64 PKCS#8, as the zone record keeps it.
pub fn generate_key() -> Result<String, KeyError> {
    let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(|e| KeyError(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(pkcs8.secret_pkcs8_der()))
}

/// A key ready to sign with, and its DNSKEY.
pub struct Key {
    signer: EcdsaSigningKey,
    dnskey: DNSKEY,
    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    rdata: Vec<u8>,
    tag: u16,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Key").field("tag", &self.tag).finish_non_exhaustive()
    }
}

impl Key {
    /// Loads a stored key (base64 PKCS#8) as a DNSKEY with `flags`.
    pub fn load(private_key: &str, flags: u16) -> Result<Key, KeyError> {
        let der = base64::engine::general_purpose::STANDARD
            .decode(private_key.trim())
            .map_err(|error| KeyError(format!("not base64: {error}")))?;
        let signer = EcdsaSigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(der), Algorithm::ECDSAP256SHA256)
            .map_err(|error| KeyError(error.to_string()))?;
        let public: PublicKeyBuf = signer.to_public_key().map_err(|error| KeyError(error.to_string()))?;
        let dnskey = DNSKEY::with_flags(flags, public);
        let mut rdata = Vec::with_capacity(68);
        rdata.extend(flags.to_be_bytes());
        rdata.extend([3, ALGORITHM]);
        rdata.extend(dnskey.public_key().public_bytes());
        let tag = key_tag(&rdata);
        Ok(Key { signer, dnskey, rdata, tag })
    }

    pub fn tag(&self) -> u16 {
        self.tag
    }

    pub fn dnskey(&self) -> &DNSKEY {
        &self.dnskey
    }

    /// The public key, base64, as a DNSKEY's presentation form has it.
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.rdata.get(4..).unwrap_or_default())
    }

    /// The SHA-256 digest a DS record of this key at `zone` carries.
    pub fn ds_digest(&self, zone: &str) -> Result<Vec<u8>, KeyError> {
        let name = crate::names::to_name(zone).map_err(|error| KeyError(error.to_string()))?;
        let digest = self.dnskey.to_digest(&name, DigestType::SHA256).map_err(|error| KeyError(error.to_string()))?;
        Ok(digest.as_ref().to_vec())
    }
}

/// RFC 4034 Appendix B.
fn key_tag(rdata: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (index, byte) in rdata.iter().enumerate() {
        sum += if index % 2 == 0 { u32::from(*byte) << 8 } else { u32::from(*byte) };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

/// The keys a zone is signed with: only while signing is enabled with an
/// active key-signing key and a zone-signing key.
pub struct ZoneKeys {
    pub ksks: Vec<Key>,
    pub zsk: Key,
}

impl ZoneKeys {
    /// The zone's keys, or `None` when it is served unsigned. A stored key
    /// that does not load is logged and leaves the zone unsigned rather
    /// than signed by half its keys.
    pub fn of(zone: &Zone) -> Option<ZoneKeys> {
        let dnssec = &zone.dnssec;
        if !dnssec.signing {
            return None;
        }
        let loaded = || -> Result<ZoneKeys, KeyError> {
            let zsk = Key::load(dnssec.zone_signing_key.as_deref().unwrap_or_default(), ZSK_FLAGS)?;
            let ksks = dnssec
                .key_signing_keys
                .iter()
                .filter(|ksk| ksk.active)
                .map(|ksk| Key::load(&ksk.private_key, KSK_FLAGS))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ZoneKeys { ksks, zsk })
        };
        match loaded() {
            Ok(keys) if !keys.ksks.is_empty() => Some(keys),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(zone = %zone.id, %error, "zone served unsigned");
                None
            }
        }
    }
}

/// A compiled zone's DNSSEC data: its keys, its signatures and its NSEC
/// chain.
pub struct Signed {
    keys: ZoneKeys,
    apex: Box<[u8]>,
    inception: u32,
    expiration: u32,
    /// Unix seconds of the signing, for [`super::Authority::resign_due`].
    pub signed_at: i64,
    /// The RRSIGs of each signed RRset, by the address of its records in
    /// the compiled zone (which never move once compiled), with the owner
    /// they were signed under.
    signatures: HashMap<usize, SignedSet>,
    /// The SOA's RRSIG with the TTL of the negative SOA (RFC 4035 §3.1.3).
    negative_soa: Box<[WireRecord]>,
    /// The names that have an NSEC, in canonical order (RFC 4034 §6.1).
    chain: Vec<Box<[u8]>>,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Signed").field("signed_at", &self.signed_at).finish_non_exhaustive()
    }
}

/// The owner an RRset was signed under and its RRSIGs.
type SignedSet = (Box<[u8]>, Box<[WireRecord]>);

/// RFC 4034 §6.1: names compared label by label from the root, each label
/// as a string of (lower-case) octets.
pub fn canonical_cmp(one: &[u8], other: &[u8]) -> Ordering {
    let labels = |name: &[u8]| -> Vec<Vec<u8>> {
        let mut labels: Vec<Vec<u8>> = wire::suffixes(name)
            .filter(|suffix| suffix.len() > 1)
            .map(|suffix| {
                let length = usize::from(suffix[0]);
                suffix.get(1..=length).unwrap_or_default().to_ascii_lowercase()
            })
            .collect();
        labels.reverse();
        labels
    };
    labels(one).cmp(&labels(other))
}

/// RFC 4034 §4.1.2: the types present, as window blocks of bits.
fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut types = types.to_vec();
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut index = 0;
    while let Some(first) = types.get(index) {
        let window = (first >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut length = 0;
        while let Some(kind) = types.get(index).filter(|kind| (**kind >> 8) as u8 == window) {
            let low = usize::from(*kind as u8);
            bits[low / 8] |= 0x80 >> (low % 8);
            length = low / 8 + 1;
            index += 1;
        }
        out.push(window);
        out.push(length as u8);
        out.extend_from_slice(&bits[..length]);
    }
    out
}

/// The labels an RRSIG counts (RFC 4034 §3.1.3): a wildcard's `*` not.
fn rrsig_labels(owner: &[u8]) -> u8 {
    let labels = wire::label_count(owner);
    let wildcard = owner.get(..2) == Some(&[1, b'*'][..]);
    u8::try_from(labels - usize::from(wildcard)).unwrap_or(u8::MAX)
}

/// Signs one RRset: the RRSIG record (RFC 4034 §3.1.8.1), its TTL the
/// set's.
fn rrsig(
    key: &Key,
    apex: &[u8],
    window: (u32, u32),
    owner: &[u8],
    ttl: u32,
    records: &[&WireRecord],
) -> Option<WireRecord> {
    let first = records.first()?;
    let (inception, expiration) = window;
    let mut rdata = Vec::with_capacity(18 + apex.len() + 64);
    rdata.extend(first.rtype.to_be_bytes());
    rdata.extend([ALGORITHM, rrsig_labels(owner)]);
    rdata.extend(ttl.to_be_bytes());
    rdata.extend(expiration.to_be_bytes());
    rdata.extend(inception.to_be_bytes());
    rdata.extend(key.tag.to_be_bytes());
    rdata.extend(apex);
    let mut signed = rdata.clone();
    // RFC 4034 §6.3: the RRs in the canonical order of their RDATA, each
    // once. RDATA names are kept lower-cased and uncompressed, which is
    // their canonical form.
    let mut sorted: Vec<&[u8]> = records.iter().map(|record| record.rdata()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    for data in sorted {
        signed.extend(owner.iter().map(u8::to_ascii_lowercase));
        signed.extend(first.rtype.to_be_bytes());
        signed.extend(class::IN.to_be_bytes());
        signed.extend(ttl.to_be_bytes());
        signed.extend(u16::try_from(data.len()).ok()?.to_be_bytes());
        signed.extend(data);
    }
    match key.signer.sign(&TBS::from(&signed[..])) {
        Ok(signature) => {
            rdata.extend(signature);
            Some(WireRecord::raw(RRSIG, ttl, rdata.into()))
        }
        Err(error) => {
            tracing::warn!(%error, "an RRset could not be signed");
            None
        }
    }
}

fn records_of(rrset: &Rrset) -> Vec<&[WireRecord]> {
    match &rrset.data {
        RrsetData::Simple(Content::Records(records)) => vec![&records[..]],
        RrsetData::Simple(Content::Alias(_)) => Vec::new(),
        RrsetData::Routed(sets) => sets
            .iter()
            .filter_map(|set| match &set.content {
                Content::Records(records) => Some(&records[..]),
                Content::Alias(_) => None,
            })
            .collect(),
    }
}

/// Whether a node's RRset of `kind` is the zone's to sign: not below a
/// cut, and at a cut only DS and NSEC (RFC 4035 §2.2).
fn authoritative(node: &Node, kind: u16) -> bool {
    match node.cut() {
        None => true,
        Some(0) => matches!(kind, rtype::DS | NSEC),
        Some(_) => false,
    }
}

/// Signs a compiled zone: adds the DNSKEY RRset at the apex and an NSEC at
/// every authoritative name, then signs every authoritative RRset.
/// `negative_soa` is the SOA negative answers carry.
pub fn sign(
    keys: ZoneKeys,
    apex: &[u8],
    nodes: &mut HashMap<Box<[u8]>, Node>,
    negative_soa: Option<&WireRecord>,
    now: i64,
) -> Signed {
    let dnskeys: Box<[WireRecord]> = std::iter::once(&keys.zsk)
        .chain(&keys.ksks)
        .map(|key| WireRecord::raw(DNSKEY, DNSKEY_TTL, key.rdata.clone().into()))
        .collect();
    if let Some(node) = nodes.get_mut(apex) {
        node.add(Rrset { rtype: DNSKEY, data: RrsetData::Simple(Content::Records(dnskeys)) });
    }

    // RFC 4035 §2.3: the chain holds every authoritative name with data
    // and every delegation point; neither glue nor empty non-terminals.
    let mut chain: Vec<Box<[u8]>> = nodes
        .iter()
        .filter(|(_, node)| !node.rrsets().is_empty() && matches!(node.cut(), None | Some(0)))
        .map(|(name, _)| name.clone())
        .collect();
    chain.sort_by(|one, other| canonical_cmp(one, other));
    let nsec_ttl = negative_soa.map_or(900, |soa| soa.ttl);
    for (index, name) in chain.iter().enumerate() {
        let next = chain.get(index + 1).unwrap_or(&chain[0]);
        let Some(node) = nodes.get_mut(name) else { continue };
        let mut types: Vec<u16> = node
            .rrsets()
            .iter()
            .map(|rrset| rrset.rtype)
            .filter(|kind| node.cut().is_none() || matches!(*kind, rtype::NS | rtype::DS))
            .collect();
        types.extend([NSEC, RRSIG]);
        let mut rdata = next.to_vec();
        rdata.extend(type_bitmap(&types));
        let nsec = WireRecord::raw(NSEC, nsec_ttl, rdata.into());
        node.add(Rrset { rtype: NSEC, data: RrsetData::Simple(Content::Records(Box::new([nsec]))) });
    }

    let inception = u32::try_from(now - INCEPTION_BACK_SECS).unwrap_or(0);
    let expiration = u32::try_from(now + VALIDITY_SECS).unwrap_or(u32::MAX);
    let window = (inception, expiration);
    let mut signatures = HashMap::new();
    for (name, node) in nodes.iter() {
        for rrset in node.rrsets() {
            if !authoritative(node, rrset.rtype) {
                continue;
            }
            // RFC 4035 §2.2: the DNSKEY RRset by the key-signing keys, all
            // else by the zone-signing key.
            let signers: Vec<&Key> = if rrset.rtype == DNSKEY { keys.ksks.iter().collect() } else { vec![&keys.zsk] };
            for records in records_of(rrset) {
                let borrowed: Vec<&WireRecord> = records.iter().collect();
                let ttl = records.first().map_or(0, |record| record.ttl);
                let sigs: Box<[WireRecord]> =
                    signers.iter().filter_map(|key| rrsig(key, apex, window, name, ttl, &borrowed)).collect();
                signatures.insert(records.as_ptr() as usize, (name.clone(), sigs));
            }
        }
    }
    let soa_sigs = nodes
        .get(apex)
        .and_then(|node| node.rrset(rtype::SOA))
        .and_then(|rrset| records_of(rrset).first().and_then(|records| signatures.get(&(records.as_ptr() as usize))));
    let negative_soa_sigs = match (soa_sigs, negative_soa) {
        (Some((_, sigs)), Some(soa)) => sigs.iter().map(|sig| sig.with_ttl(soa.ttl)).collect(),
        _ => Box::default(),
    };
    Signed {
        keys,
        apex: apex.into(),
        inception,
        expiration,
        signed_at: now,
        signatures,
        negative_soa: negative_soa_sigs,
        chain,
    }
}

impl Signed {
    /// The precomputed RRSIGs of `records` served under `owner` (wire,
    /// lower case): the set's own, when it was signed under that name or
    /// under a wildcard that synthesizes it (RFC 4035 §5.3.4: the RRSIG's
    /// label count tells the resolver so).
    pub fn signatures(&self, records: &[WireRecord], owner: &[u8]) -> Option<&[WireRecord]> {
        let (signed_owner, sigs) = self.signatures.get(&(records.as_ptr() as usize))?;
        let matches = **signed_owner == *owner
            || (signed_owner.get(..2) == Some(&[1, b'*'][..])
                && wire::is_within(owner, &signed_owner[2..])
                && owner.len() > signed_owner.len() - 2);
        matches.then_some(&sigs[..])
    }

    /// Signs an RRset made for one query (RFC 4035 §3.1.1 lets an
    /// authoritative server sign online) with the zone-signing key.
    pub fn sign_now(&self, owner: &[u8], records: &[&WireRecord]) -> Option<WireRecord> {
        let ttl = records.first()?.ttl;
        rrsig(&self.keys.zsk, &self.apex, (self.inception, self.expiration), owner, ttl, records)
    }

    pub fn negative_soa_signatures(&self) -> &[WireRecord] {
        &self.negative_soa
    }

    /// The name whose NSEC matches `name` (it has one) or covers it (the
    /// last name of the chain before it in canonical order).
    pub fn nsec_owner(&self, name: &[u8]) -> Option<&[u8]> {
        let after = self.chain.partition_point(|probe| canonical_cmp(probe, name) != Ordering::Greater);
        let index = after.checked_sub(1).unwrap_or(self.chain.len().checked_sub(1)?);
        self.chain.get(index).map(|owner| &**owner)
    }

    /// Whether `name` has an NSEC of its own.
    pub fn has_nsec(&self, name: &[u8]) -> bool {
        self.nsec_owner(name).is_some_and(|owner| owner == name)
    }

    /// The zone's keys (for tests and GetDNSSEC-like views).
    pub fn keys(&self) -> &ZoneKeys {
        &self.keys
    }

    pub fn expiration(&self) -> u32 {
        self.expiration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str) -> Vec<u8> {
        super::super::snapshot::wire_name(text).map(Vec::from).unwrap_or_default()
    }

    #[test]
    fn names_sort_in_canonical_order() {
        // RFC 4034 §6.1's own example.
        let ordered = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "z.a.example.",
            "zabc.a.example.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let mut names: Vec<Vec<u8>> = ordered.iter().map(|name| wire(name)).collect();
        names.reverse();
        names.sort_by(|one, other| canonical_cmp(one, other));
        let expected: Vec<Vec<u8>> = ordered.iter().map(|name| wire(name)).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn type_bitmaps_are_windowed() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        expected.extend([0; 26]);
        expected.push(0x20);
        assert_eq!(type_bitmap(&[1, 15, 46, 47, 1234]), expected);
    }

    #[test]
    fn key_tags_match_hickorys() {
        let key = Key::load(&generate_key().unwrap(), KSK_FLAGS).unwrap();
        assert_eq!(key.tag(), key.dnskey().calculate_key_tag().unwrap());
        assert_eq!(rrsig_labels(&wire("*.a.example.")), 2);
        assert_eq!(rrsig_labels(&wire("b.a.example.")), 3);
    }
}
