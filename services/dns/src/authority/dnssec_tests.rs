//! Signed answers checked with hickory's own DNSSEC verifier: every RRSIG
//! verifies against the zone's DNSKEY RRset, NSEC records prove what they
//! must, and answers to queries without the DO bit are byte for byte
//! those of the zone unsigned.

use hickory_proto::{
    dnssec::{
        Verifier,
        rdata::{DNSSECRData, RRSIG},
    },
    op::{Edns, Message, Query, ResponseCode},
    rr::{DNSClass, Name, RData, Record, RecordType},
};

use super::{Authority, Transport, dnssec::generate_key};
use crate::model::{Dnssec, KeySigningKey, RecordSet, Zone};

fn set(name: &str, kind: &str, values: &[&str]) -> RecordSet {
    RecordSet::simple(name, kind, 300, values.iter().copied())
}

fn zone(signed: bool) -> Zone {
    let ksk = KeySigningKey {
        name: "ksk_1".into(),
        kms_arn: "arn:aws:kms:us-east-1:123456789012:key/k".into(),
        caller_reference: "r".into(),
        active: true,
        private_key: generate_key().unwrap(),
        created: String::new(),
        last_modified: String::new(),
    };
    let dnssec = if signed {
        Dnssec { signing: true, key_signing_keys: vec![ksk], zone_signing_key: Some(generate_key().unwrap()) }
    } else {
        Dnssec::default()
    };
    Zone {
        id: "Z1".into(),
        name: "example.com.".into(),
        caller_reference: "c".into(),
        comment: None,
        private: false,
        vpcs: Vec::new(),
        created: String::new(),
        serial: 3,
        name_servers: vec!["ns-1.nubo.localhost.".into()],
        record_sets: vec![
            set("example.com.", "SOA", &["ns-1.nubo.localhost. hostmaster.nubo.localhost. 1 7200 900 1209600 300"]),
            set("example.com.", "NS", &["ns-1.nubo.localhost."]),
            set("www.example.com.", "A", &["192.0.2.1", "192.0.2.2"]),
            set("\\052.wild.example.com.", "TXT", &["\"w\""]),
            set("deep.ent.example.com.", "A", &["192.0.2.3"]),
            set("sub.example.com.", "NS", &["ns.sub.example.com."]),
            set("ns.sub.example.com.", "A", &["192.0.2.53"]),
        ],
        tags: Vec::new(),
        dnssec,
    }
}

fn ask(authority: &Authority, name: &str, rtype: RecordType, dnssec_ok: bool) -> (Vec<u8>, Message) {
    let mut message = Message::query();
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232).set_dnssec_ok(dnssec_ok);
    message.set_edns(edns);
    let bytes = authority.answer_bytes(&message.to_vec().unwrap(), Transport::Tcp).expect("an answer");
    let decoded = Message::from_vec(&bytes).expect("well formed");
    (bytes, decoded)
}

fn rrsig(record: &Record) -> Option<&RRSIG> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(rrsig)) => Some(rrsig),
        _ => None,
    }
}

/// Every RRset of `records` has an RRSIG that one of `keys` verifies.
fn assert_signed(records: &[Record], keys: &[hickory_proto::dnssec::rdata::DNSKEY]) {
    let sets: std::collections::BTreeSet<(Name, RecordType)> = records
        .iter()
        .filter(|record| rrsig(record).is_none())
        .map(|record| (record.name.clone(), record.record_type()))
        .collect();
    assert!(!sets.is_empty());
    for (name, kind) in sets {
        let members: Vec<Record> =
            records.iter().filter(|record| record.name == name && record.record_type() == kind).cloned().collect();
        let sigs: Vec<&RRSIG> = records
            .iter()
            .filter(|record| record.name == name)
            .filter_map(rrsig)
            .filter(|sig| sig.input().type_covered == kind)
            .collect();
        assert!(!sigs.is_empty(), "{name} {kind} has no RRSIG");
        for sig in sigs {
            let verified = keys.iter().any(|key| key.verify_rrsig(&name, DNSClass::IN, sig, members.iter()).is_ok());
            assert!(verified, "{name} {kind}: the RRSIG does not verify");
        }
    }
}

fn nsec_types(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => {
                Some((record.name.to_ascii(), nsec.next_domain_name().to_ascii()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn signed_answers_verify_against_the_dnskey_rrset() {
    let authority = Authority::new();
    authority.apply(&[zone(true)], &[]);
    let keys = {
        let (_, response) = ask(&authority, "example.com.", RecordType::DNSKEY, true);
        let keys: Vec<_> = response
            .answers
            .iter()
            .filter_map(|record| match &record.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(keys.len(), 2, "the ZSK and the KSK");
        assert_signed(&response.answers, &keys);
        // The DNSKEY RRset is signed by the KSK alone.
        let signers: Vec<u16> = response.answers.iter().filter_map(rrsig).map(|sig| sig.input().key_tag).collect();
        let ksk = keys.iter().find(|key| key.is_key_signing_key()).unwrap();
        assert_eq!(signers, [ksk.calculate_key_tag().unwrap()]);
        keys
    };

    let (_, positive) = ask(&authority, "www.example.com.", RecordType::A, true);
    assert_eq!(positive.answers.len(), 3);
    assert_signed(&positive.answers, &keys);

    // A wildcard answer: the wildcard's RRSIG (labels 3) and the NSEC
    // proving no closer name.
    let (_, wild) = ask(&authority, "x.wild.example.com.", RecordType::TXT, true);
    assert_eq!(wild.answers.iter().filter_map(rrsig).map(|sig| sig.input().num_labels).collect::<Vec<_>>(), [3]);
    assert_signed(&wild.authorities, &keys);
    assert_eq!(nsec_types(&wild.authorities), [("*.wild.example.com.".into(), "www.example.com.".into())]);

    let (_, nxdomain) = ask(&authority, "nope.example.com.", RecordType::A, true);
    assert_eq!(nxdomain.metadata.response_code, ResponseCode::NXDomain);
    assert_signed(&nxdomain.authorities, &keys);
    // The NSEC covering nope., then the one covering *.example.com.
    assert_eq!(
        nsec_types(&nxdomain.authorities),
        [
            ("deep.ent.example.com.".into(), "sub.example.com.".into()),
            ("example.com.".into(), "deep.ent.example.com.".into())
        ]
    );

    let (_, nodata) = ask(&authority, "www.example.com.", RecordType::TXT, true);
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert_signed(&nodata.authorities, &keys);
    assert_eq!(nsec_types(&nodata.authorities), [("www.example.com.".into(), "example.com.".into())]);

    // A referral without DS carries the cut's NSEC (NS, RRSIG, NSEC only).
    let (_, referral) = ask(&authority, "host.sub.example.com.", RecordType::A, true);
    let nsec = referral.authorities.iter().find_map(|record| match &record.data {
        RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some(nsec.type_bit_maps().collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(nsec, Some(vec![RecordType::NS, RecordType::RRSIG, RecordType::NSEC]));
    assert!(referral.additionals.iter().all(|record| rrsig(record).is_none()), "glue is not signed");
}

#[test]
fn answers_without_the_do_bit_are_those_of_the_zone_unsigned() {
    let (signed, unsigned) = (Authority::new(), Authority::new());
    signed.apply(&[zone(true)], &[]);
    unsigned.apply(&[zone(false)], &[]);
    for (name, kind) in [
        ("www.example.com.", RecordType::A),
        ("x.wild.example.com.", RecordType::TXT),
        ("nope.example.com.", RecordType::A),
        ("www.example.com.", RecordType::TXT),
        ("ent.example.com.", RecordType::A),
        ("host.sub.example.com.", RecordType::A),
        ("example.com.", RecordType::NS),
    ] {
        let (one, _) = ask(&signed, name, kind, false);
        let (other, _) = ask(&unsigned, name, kind, false);
        assert_eq!(one[2..], other[2..], "{name} {kind}");
    }
}
