//! End to end: zones applied, queries encoded with hickory, answered by
//! `Authority::answer_bytes`, responses decoded with hickory. Expectations
//! come from the RFCs (and NSD's behaviour where they leave a choice).

use std::{collections::BTreeMap, net::Ipv4Addr, sync::Arc};

use hickory_proto::{
    op::{Edns, Message, Query, ResponseCode},
    rr::{DNSClass, Name, RData, Record, RecordType, rdata::A},
};

use super::{AliasTargets, Authority, Transport};
use crate::model::{AliasTarget, Failover, RecordSet, Zone};

const SOA: &str = "ns-1.nubo.localhost. hostmaster.nubo.localhost. 1 7200 900 1209600 300";

fn set(name: &str, kind: &str, ttl: u32, values: &[&str]) -> RecordSet {
    RecordSet::simple(name, kind, ttl, values.iter().copied())
}

fn alias(name: &str, kind: &str, target: &str, evaluate: bool) -> RecordSet {
    RecordSet {
        ttl: None,
        alias: Some(AliasTarget {
            hosted_zone_id: "Z1".into(),
            dns_name: target.into(),
            evaluate_target_health: evaluate,
        }),
        ..set(name, kind, 0, &[])
    }
}

fn routed(name: &str, id: &str, value: &str, change: impl FnOnce(&mut RecordSet)) -> RecordSet {
    let mut set = set(name, "A", 60, &[value]);
    set.set_identifier = Some(id.into());
    change(&mut set);
    set
}

/// A zone with its apex SOA (TTL 900, MINIMUM 300) and NS.
fn zone(id: &str, name: &str, serial: u32, mut sets: Vec<RecordSet>) -> Zone {
    let mut all =
        vec![set(name, "SOA", 900, &[SOA]), set(name, "NS", 172800, &["ns-1.nubo.localhost.", "ns-2.nubo.localhost."])];
    all.append(&mut sets);
    Zone {
        id: id.into(),
        name: name.into(),
        caller_reference: id.into(),
        comment: None,
        private: false,
        vpcs: Vec::new(),
        created: "2024-01-01T00:00:00Z".into(),
        serial,
        name_servers: vec!["ns-1.nubo.localhost.".into(), "ns-2.nubo.localhost.".into()],
        record_sets: all,
        tags: Vec::new(),
        dnssec: Default::default(),
    }
}

fn example(serial: u32) -> Zone {
    let long_a = "a".repeat(200);
    let long_b = "b".repeat(200);
    let two_strings = format!("\"{long_a}\" \"{long_b}\"");
    let big: Vec<String> =
        (0..40).map(|index| format!("\"value number {index} padded to take some room in the answer\"")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    let mut sets = vec![
        set("example.com.", "A", 300, &["192.0.2.1"]),
        set("example.com.", "MX", 300, &["10 mail.example.com.", "20 mail.example.com.", "30 mx.example.org."]),
        set("example.com.", "TXT", 300, &[&two_strings]),
        set("www.example.com.", "A", 60, &["192.0.2.10"]),
        set("www.example.com.", "AAAA", 60, &["2001:db8::10"]),
        set("mail.example.com.", "A", 60, &["192.0.2.25"]),
        set("mail.example.com.", "AAAA", 60, &["2001:db8::25"]),
        set("cname.example.com.", "CNAME", 120, &["www.example.com."]),
        set("chain1.example.com.", "CNAME", 120, &["chain2.example.com."]),
        set("chain2.example.com.", "CNAME", 120, &["www.example.com."]),
        set("dangling.example.com.", "CNAME", 120, &["nowhere.example.com."]),
        set("outside.example.com.", "CNAME", 120, &["www.example.org."]),
        set("loop1.example.com.", "CNAME", 120, &["loop2.example.com."]),
        set("loop2.example.com.", "CNAME", 120, &["loop1.example.com."]),
        set("\\052.wild.example.com.", "A", 30, &["192.0.2.50"]),
        set("\\052.wild.example.com.", "MX", 30, &["10 mail.example.com."]),
        set("exists.wild.example.com.", "TXT", 30, &["\"here\""]),
        set("a.b.ent.example.com.", "A", 60, &["192.0.2.70"]),
        set("sub.example.com.", "NS", 3600, &["ns1.sub.example.com.", "ns.elsewhere.net."]),
        set("sub.example.com.", "DS", 3600, &["60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"]),
        set("ns1.sub.example.com.", "A", 3600, &["192.0.2.53"]),
        set("\\052.sub.example.com.", "A", 60, &["192.0.2.99"]),
        set("child.example.com.", "NS", 3600, &["ns-1.nubo.localhost."]),
        set(
            "child.example.com.",
            "DS",
            3600,
            &["12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"],
        ),
        set("_sip._tcp.example.com.", "SRV", 60, &["10 5 5060 sip.example.com."]),
        set("sip.example.com.", "A", 60, &["192.0.2.60"]),
        set("big.example.com.", "TXT", 60, &big),
        alias("alias.example.com.", "A", "www.example.com.", false),
        alias("alias.example.com.", "AAAA", "www.example.com.", false),
        alias("cdn.example.com.", "A", "d111111abcdef8.cloudfront.net.", false),
        routed("w.example.com.", "one", "192.0.2.101", |set| set.weight = Some(1)),
        routed("w.example.com.", "three", "192.0.2.103", |set| set.weight = Some(3)),
        routed("w.example.com.", "zero", "192.0.2.100", |set| set.weight = Some(0)),
        routed("w0.example.com.", "a", "192.0.2.110", |set| set.weight = Some(0)),
        routed("w0.example.com.", "b", "192.0.2.111", |set| set.weight = Some(0)),
        routed("fo.example.com.", "primary", "192.0.2.201", |set| {
            set.failover = Some(Failover::Primary);
            set.health_check_id = Some("hc-primary".into());
        }),
        routed("fo.example.com.", "secondary", "192.0.2.202", |set| set.failover = Some(Failover::Secondary)),
        set("tosub.example.com.", "CNAME", 120, &["host.sub.example.com."]),
        {
            let mut set = alias("fa.example.com.", "A", "gone.example.com.", true);
            set.set_identifier = Some("primary".into());
            set.failover = Some(Failover::Primary);
            set
        },
        routed("fa.example.com.", "secondary", "192.0.2.212", |set| set.failover = Some(Failover::Secondary)),
    ];
    let deep: Vec<String> = (0..12).map(|index| format!("ns{index:02}.deep.example.com.")).collect();
    sets.push(set("deep.example.com.", "NS", 3600, &deep.iter().map(String::as_str).collect::<Vec<_>>()));
    for (index, host) in deep.iter().enumerate() {
        sets.push(set(host, "A", 3600, &[&format!("192.0.2.{}", 10 + index)]));
        sets.push(set(host, "AAAA", 3600, &[&format!("2001:db8::{}", 10 + index)]));
    }
    for index in 0..10 {
        sets.push(routed("mv.example.com.", &format!("m{index}"), &format!("192.0.2.{}", 150 + index), |set| {
            set.multi_value_answer = Some(true);
            set.health_check_id = Some(format!("hc-m{index}"));
        }));
    }
    zone("Z1", "example.com.", serial, sets)
}

fn authority() -> Authority {
    let authority = Authority::new();
    let child = zone("Z2", "child.example.com.", 7, vec![set("www.child.example.com.", "A", 60, &["192.0.2.77"])]);
    let lonely = zone("Z3", "example.net.", 3, Vec::new());
    authority.apply(&[example(5), child, lonely], &[]);
    authority
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn query(text: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.add_query(Query::query(name(text), rtype));
    message.metadata.recursion_desired = true;
    message
}

fn with_edns(mut message: Message, payload: u16) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    message.set_edns(edns);
    message
}

fn ask_raw(authority: &Authority, message: &Message, transport: Transport) -> Message {
    let bytes = message.to_vec().unwrap();
    let response = authority.answer_bytes(&bytes, transport).expect("an answer");
    if transport == Transport::Udp {
        let limit = message.edns.as_ref().map_or(512, |edns| usize::from(edns.max_payload().clamp(512, 1232)));
        assert!(response.len() <= limit, "{} octets over UDP, limit {limit}", response.len());
    }
    let decoded = Message::from_vec(&response).expect("a well-formed response");
    assert_eq!(decoded.metadata.id, message.metadata.id);
    assert!(!decoded.metadata.recursion_available, "never recursion");
    decoded
}

fn ask(authority: &Authority, text: &str, rtype: RecordType) -> Message {
    ask_raw(authority, &query(text, rtype), Transport::Udp)
}

fn a(address: &str) -> RData {
    RData::A(A(address.parse::<Ipv4Addr>().unwrap()))
}

fn names(records: &[Record]) -> Vec<String> {
    records.iter().map(|record| format!("{} {}", record.name.to_ascii(), record.record_type())).collect()
}

fn assert_negative(response: &Message, rcode: ResponseCode) {
    assert_eq!(response.metadata.response_code, rcode);
    assert!(response.metadata.authoritative);
    assert!(response.answers.is_empty());
    assert_eq!(names(&response.authorities), ["example.com. SOA"]);
    // RFC 2308 §5: min(SOA TTL 900, MINIMUM 300).
    assert_eq!(response.authorities[0].ttl, 300);
}

#[test]
fn names_outside_every_zone_are_refused() {
    let authority = authority();
    let response = ask(&authority, "www.example.org.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
    assert!(!response.metadata.authoritative);
    assert!(response.answers.is_empty() && response.authorities.is_empty());
    assert_eq!(response.queries.len(), 1);
}

#[test]
fn exact_match_is_answered_authoritatively() {
    let authority = authority();
    let response = ask(&authority, "www.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.metadata.authoritative);
    assert!(!response.metadata.truncation);
    assert!(response.metadata.recursion_desired, "RD is copied");
    assert_eq!(response.answers.len(), 1);
    assert_eq!(response.answers[0].data, a("192.0.2.10"));
    assert_eq!(response.answers[0].ttl, 60);
    assert_eq!(response.answers[0].dns_class, DNSClass::IN);
    assert!(response.authorities.is_empty(), "minimal responses");
}

#[test]
fn the_soa_serial_is_the_zones() {
    let authority = authority();
    let response = ask(&authority, "example.com.", RecordType::SOA);
    let RData::SOA(soa) = &response.answers[0].data else { panic!("{response:?}") };
    assert_eq!(soa.serial, 5);
    assert_eq!(soa.minimum, 300);
    assert_eq!(response.answers[0].ttl, 900, "the SOA answered keeps its own TTL");
}

#[test]
fn txt_with_two_long_strings() {
    let authority = authority();
    let response = ask(&authority, "example.com.", RecordType::TXT);
    let RData::TXT(txt) = &response.answers[0].data else { panic!("{response:?}") };
    assert_eq!(txt.txt_data.len(), 2);
    assert_eq!(&*txt.txt_data[0], "a".repeat(200).as_bytes());
    assert_eq!(&*txt.txt_data[1], "b".repeat(200).as_bytes());
}

#[test]
fn nodata_has_the_soa_with_the_negative_ttl() {
    let authority = authority();
    assert_negative(&ask(&authority, "www.example.com.", RecordType::MX), ResponseCode::NoError);
}

#[test]
fn nxdomain_has_the_soa_with_the_negative_ttl() {
    let authority = authority();
    assert_negative(&ask(&authority, "nothing.example.com.", RecordType::A), ResponseCode::NXDomain);
}

#[test]
fn empty_non_terminals_are_nodata() {
    let authority = authority();
    assert_negative(&ask(&authority, "b.ent.example.com.", RecordType::A), ResponseCode::NoError);
    assert_negative(&ask(&authority, "ent.example.com.", RecordType::A), ResponseCode::NoError);
    assert_negative(&ask(&authority, "c.ent.example.com.", RecordType::A), ResponseCode::NXDomain);
    let response = ask(&authority, "a.b.ent.example.com.", RecordType::A);
    assert_eq!(response.answers[0].data, a("192.0.2.70"));
}

#[test]
fn cname_is_followed_inside_the_zone() {
    let authority = authority();
    let response = ask(&authority, "cname.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.metadata.authoritative);
    assert_eq!(names(&response.answers), ["cname.example.com. CNAME", "www.example.com. A"]);

    let response = ask(&authority, "chain1.example.com.", RecordType::AAAA);
    assert_eq!(
        names(&response.answers),
        ["chain1.example.com. CNAME", "chain2.example.com. CNAME", "www.example.com. AAAA"]
    );

    // A CNAME query gets the CNAME only.
    let response = ask(&authority, "cname.example.com.", RecordType::CNAME);
    assert_eq!(names(&response.answers), ["cname.example.com. CNAME"]);
}

#[test]
fn cname_chain_rcode_is_the_last_lookups() {
    let authority = authority();
    let response = ask(&authority, "dangling.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(names(&response.answers), ["dangling.example.com. CNAME"]);
    assert_eq!(names(&response.authorities), ["example.com. SOA"]);

    // The chain ends at the zone's edge: what was found, NOERROR, no SOA.
    let response = ask(&authority, "outside.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(names(&response.answers), ["outside.example.com. CNAME"]);
    assert!(response.authorities.is_empty());

    // The target has no record of the type: NODATA after the CNAME.
    let response = ask(&authority, "cname.example.com.", RecordType::MX);
    assert_eq!(names(&response.answers), ["cname.example.com. CNAME"]);
    assert_eq!(names(&response.authorities), ["example.com. SOA"]);
}

#[test]
fn cname_loops_stop() {
    let authority = authority();
    let response = ask(&authority, "loop1.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(names(&response.answers), ["loop1.example.com. CNAME", "loop2.example.com. CNAME"]);
}

#[test]
fn wildcards_synthesize_the_query_name() {
    let authority = authority();
    let response = ask(&authority, "anything.wild.example.com.", RecordType::A);
    assert!(response.metadata.authoritative);
    assert_eq!(names(&response.answers), ["anything.wild.example.com. A"]);
    assert_eq!(response.answers[0].data, a("192.0.2.50"));
    assert_eq!(response.answers[0].ttl, 30);

    // Also several labels below the closest encloser (RFC 4592 §2.2.1).
    let response = ask(&authority, "x.y.wild.example.com.", RecordType::A);
    assert_eq!(names(&response.answers), ["x.y.wild.example.com. A"]);

    // Wildcard NODATA: the type is not at the wildcard.
    assert_negative(&ask(&authority, "anything.wild.example.com.", RecordType::AAAA), ResponseCode::NoError);

    // A synthesized MX, minimal like every answer.
    let response = ask(&authority, "mx.wild.example.com.", RecordType::MX);
    assert_eq!(names(&response.answers), ["mx.wild.example.com. MX"]);
    assert!(response.additionals.is_empty());
}

#[test]
fn wildcards_do_not_match_across_existing_names() {
    let authority = authority();
    // exists.wild is the closest encloser, and has no wildcard child.
    assert_negative(&ask(&authority, "x.exists.wild.example.com.", RecordType::A), ResponseCode::NXDomain);
    // The existing name itself is not synthesized either.
    assert_negative(&ask(&authority, "exists.wild.example.com.", RecordType::A), ResponseCode::NoError);
    // A query for the wildcard's own name matches it (RFC 4592 §2.2.1).
    let response = ask(&authority, "*.wild.example.com.", RecordType::A);
    assert_eq!(response.answers[0].data, a("192.0.2.50"));
}

#[test]
fn delegations_get_referrals_with_glue() {
    let authority = authority();
    for qname in ["sub.example.com.", "host.sub.example.com.", "ns1.sub.example.com.", "a.b.sub.example.com."] {
        let response = ask(&authority, qname, RecordType::A);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError, "{qname}");
        assert!(!response.metadata.authoritative, "{qname}: a referral is not authoritative");
        assert!(response.answers.is_empty(), "{qname}: no wildcard below a cut");
        assert_eq!(names(&response.authorities), ["sub.example.com. NS", "sub.example.com. NS"], "{qname}");
        assert_eq!(names(&response.additionals), ["ns1.sub.example.com. A"], "{qname}: glue of the in-zone host only");
        assert_eq!(response.additionals[0].data, a("192.0.2.53"));
    }
    // NS at the cut is a referral too.
    let response = ask(&authority, "sub.example.com.", RecordType::NS);
    assert!(!response.metadata.authoritative);
    assert!(response.answers.is_empty());
}

#[test]
fn a_cname_into_a_delegation_ends_in_its_referral() {
    let authority = authority();
    let response = ask(&authority, "tosub.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.metadata.authoritative, "the CNAME is authoritative data");
    assert_eq!(names(&response.answers), ["tosub.example.com. CNAME"]);
    assert_eq!(names(&response.authorities), ["sub.example.com. NS", "sub.example.com. NS"]);
    assert_eq!(names(&response.additionals), ["ns1.sub.example.com. A"]);
}

#[test]
fn glue_that_does_not_fit_truncates_the_referral() {
    let authority = authority();
    // RFC 9471 §3: in-domain glue is not optional.
    let response = ask(&authority, "host.deep.example.com.", RecordType::A);
    assert!(response.metadata.truncation);
    assert!(!response.metadata.authoritative);
    assert_eq!(response.authorities.len(), 12);
    let response = ask_raw(&authority, &query("host.deep.example.com.", RecordType::A), Transport::Tcp);
    assert!(!response.metadata.truncation);
    assert_eq!(response.additionals.len(), 24);
}

#[test]
fn names_are_compressed_against_the_question() {
    let authority = authority();
    let message = query("www.example.com.", RecordType::A).to_vec().unwrap();
    let response = authority.answer_bytes(&message, Transport::Udp).unwrap();
    // Header 12, question 21, answer: a pointer to the question (2), type,
    // class, TTL, length (10), the address (4).
    assert_eq!(response.len(), 12 + 21 + 16);
    assert_eq!(response[33..35], [0xc0, 0x0c]);
}

#[test]
fn ds_at_a_cut_is_answered_by_the_parent() {
    let authority = authority();
    let response = ask(&authority, "sub.example.com.", RecordType::DS);
    assert!(response.metadata.authoritative);
    assert_eq!(names(&response.answers), ["sub.example.com. DS"]);
    // DS below the cut is still a referral.
    let response = ask(&authority, "x.sub.example.com.", RecordType::DS);
    assert!(!response.metadata.authoritative);
    assert_eq!(names(&response.authorities), ["sub.example.com. NS", "sub.example.com. NS"]);

    // The child is a hosted zone of its own: its apex DS comes from the
    // parent, everything else from the child.
    let response = ask(&authority, "child.example.com.", RecordType::DS);
    assert!(response.metadata.authoritative);
    assert_eq!(names(&response.answers), ["child.example.com. DS"]);
    let response = ask(&authority, "child.example.com.", RecordType::SOA);
    let RData::SOA(soa) = &response.answers[0].data else { panic!("{response:?}") };
    assert_eq!(soa.serial, 7);
    let response = ask(&authority, "www.child.example.com.", RecordType::A);
    assert!(response.metadata.authoritative);
    assert_eq!(response.answers[0].data, a("192.0.2.77"));

    // A served child the parent does not delegate: the parent says NODATA
    // (the name exists, as the child's apex), as NSD does.
    authority.apply(&[zone("Z4", "orphan.example.com.", 1, Vec::new())], &[]);
    let response = ask(&authority, "orphan.example.com.", RecordType::DS);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty());
    assert_eq!(names(&response.authorities), ["example.com. SOA"]);

    // No parent served: NODATA from the zone itself.
    let response = ask(&authority, "example.net.", RecordType::DS);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty());
    assert_eq!(names(&response.authorities), ["example.net. SOA"]);
}

#[test]
fn answers_are_minimal() {
    // NSD's `minimal-responses: yes`, Route 53's answers: the addresses of
    // MX, SRV and NS targets are the resolver's to ask for.
    let authority = authority();
    let response = ask(&authority, "example.com.", RecordType::MX);
    assert_eq!(response.answers.len(), 3);
    assert!(response.additionals.is_empty());
    assert!(response.authorities.is_empty());

    let response = ask(&authority, "_sip._tcp.example.com.", RecordType::SRV);
    assert_eq!(names(&response.answers), ["_sip._tcp.example.com. SRV"]);
    assert!(response.additionals.is_empty());

    // NS answers at the apex: the hosts are outside, nothing to add.
    let response = ask(&authority, "example.com.", RecordType::NS);
    assert!(response.metadata.authoritative);
    assert_eq!(response.answers.len(), 2);
    assert!(response.additionals.is_empty());
}

#[test]
fn any_is_answered_with_one_rrset() {
    let authority = authority();
    for transport in [Transport::Udp, Transport::Tcp] {
        let response = ask_raw(&authority, &query("example.com.", RecordType::ANY), transport);
        assert!(response.metadata.authoritative);
        assert_eq!(names(&response.answers), ["example.com. SOA"], "the apex answers with its SOA, as NSD's does");
        let response = ask_raw(&authority, &query("www.example.com.", RecordType::ANY), transport);
        assert_eq!(names(&response.answers), ["www.example.com. A"]);
        let response = ask_raw(&authority, &query("big.example.com.", RecordType::ANY), transport);
        assert!(response.answers.iter().all(|record| record.record_type() == RecordType::TXT));
    }
    assert_negative(&ask(&authority, "b.ent.example.com.", RecordType::ANY), ResponseCode::NoError);
    let response = ask(&authority, "cname.example.com.", RecordType::ANY);
    assert_eq!(names(&response.answers), ["cname.example.com. CNAME"], "ANY does not chase");
}

#[test]
fn aliases_answer_with_their_targets_records() {
    let authority = authority();
    let response = ask(&authority, "alias.example.com.", RecordType::A);
    assert!(response.metadata.authoritative);
    assert_eq!(names(&response.answers), ["alias.example.com. A"]);
    assert_eq!(response.answers[0].data, a("192.0.2.10"));
    assert_eq!(response.answers[0].ttl, 60, "the target's TTL");
    let response = ask(&authority, "alias.example.com.", RecordType::AAAA);
    assert_eq!(names(&response.answers), ["alias.example.com. AAAA"]);
    // An alias has no MX: NODATA.
    assert_negative(&ask(&authority, "alias.example.com.", RecordType::MX), ResponseCode::NoError);
    // A target outside the zone is unknown for now: NODATA.
    assert_negative(&ask(&authority, "cdn.example.com.", RecordType::A), ResponseCode::NoError);
}

struct Cdn;

impl AliasTargets for Cdn {
    fn resolve(&self, target: &AliasTarget, record_type: RecordType) -> Option<Vec<Record>> {
        (target.dns_name == "d111111abcdef8.cloudfront.net." && record_type == RecordType::A)
            .then(|| vec![Record::from_rdata(Name::root(), 20, a("198.51.100.7"))])
    }
}

#[test]
fn outside_alias_targets_come_from_the_seam() {
    let authority = authority();
    authority.set_alias_targets(Box::new(Cdn));
    let response = ask(&authority, "cdn.example.com.", RecordType::A);
    assert_eq!(names(&response.answers), ["cdn.example.com. A"]);
    assert_eq!(response.answers[0].data, a("198.51.100.7"));
    assert_eq!(response.answers[0].ttl, 20);
}

fn answered_addresses(authority: &Authority, qname: &str, times: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..times {
        let response = ask(authority, qname, RecordType::A);
        assert_eq!(response.answers.len(), 1, "{response:?}");
        *seen.entry(response.answers[0].data.to_string()).or_insert(0) += 1;
    }
    seen
}

#[test]
fn weighted_sets_are_drawn_by_weight() {
    let authority = authority();
    let seen = answered_addresses(&authority, "w.example.com.", 800);
    assert!(!seen.contains_key("192.0.2.100"), "weight 0 beside non-zero weights is never drawn: {seen:?}");
    let (one, three) = (seen["192.0.2.101"], seen["192.0.2.103"]);
    // Expected 200 and 600; far outside chance if the draw ignored weights.
    assert!((120..=280).contains(&one) && one + three == 800, "{seen:?}");

    let seen = answered_addresses(&authority, "w0.example.com.", 200);
    assert_eq!(seen.len(), 2, "all weights 0: every set, evenly: {seen:?}");
}

#[test]
fn failover_follows_the_primarys_health() {
    let authority = authority();
    let primary = || ask(&authority, "fo.example.com.", RecordType::A).answers[0].data.clone();
    assert_eq!(primary(), a("192.0.2.201"), "unknown health checks are healthy");
    authority.set_health(BTreeMap::from([("hc-primary".to_string(), false)]));
    assert_eq!(primary(), a("192.0.2.202"));
    authority.set_health(BTreeMap::from([("hc-primary".to_string(), true)]));
    assert_eq!(primary(), a("192.0.2.201"));
}

/// Route 53's ResourceRecordSet reference, on `Failover`: "When the
/// secondary resource record set is unhealthy, Route 53 responds to DNS
/// queries with the applicable value from the primary resource record set
/// regardless of the health of the primary resource record set."
#[test]
fn failover_answers_the_primary_when_both_are_unhealthy() {
    let authority = Authority::new();
    let sets = vec![
        routed("both.example.com.", "primary", "192.0.2.221", |set| {
            set.failover = Some(Failover::Primary);
            set.health_check_id = Some("hc-p".into());
        }),
        routed("both.example.com.", "secondary", "192.0.2.222", |set| {
            set.failover = Some(Failover::Secondary);
            set.health_check_id = Some("hc-s".into());
        }),
    ];
    authority.apply(&[zone("Z1", "example.com.", 1, sets)], &[]);
    let answer = || ask(&authority, "both.example.com.", RecordType::A).answers[0].data.clone();
    let health = |primary: bool, secondary: bool| {
        authority.set_health(BTreeMap::from([("hc-p".to_string(), primary), ("hc-s".to_string(), secondary)]));
    };
    health(false, true);
    assert_eq!(answer(), a("192.0.2.222"));
    health(false, false);
    assert_eq!(answer(), a("192.0.2.221"), "both unhealthy: the primary");
    health(true, false);
    assert_eq!(answer(), a("192.0.2.221"));
}

fn steps_of_last_query() -> u32 {
    super::answer::LAST_STEPS.with(std::cell::Cell::get)
}

#[test]
fn each_sets_health_is_judged_once_per_routing_decision() {
    let authority = authority();
    let response = ask(&authority, "mv.example.com.", RecordType::A);
    assert_eq!(response.answers.len(), 8);
    assert_eq!(steps_of_last_query(), 10, "ten multivalue sets, each judged once");
}

/// `levels` names, each a weighted group of `width` aliases (evaluating
/// target health) to the next; the last holds an A record.
fn alias_tower(levels: usize, width: usize) -> Zone {
    let mut sets = Vec::new();
    for level in 0..levels {
        for index in 0..width {
            let target = format!("l{}.example.com.", level + 1);
            let mut set = alias(&format!("l{level}.example.com."), "A", &target, true);
            set.set_identifier = Some(format!("s{index}"));
            set.weight = Some(1);
            sets.push(set);
        }
    }
    sets.push(set(&format!("l{levels}.example.com."), "A", 60, &["192.0.2.99"]));
    zone("Z1", "example.com.", 1, sets)
}

#[test]
fn shallow_alias_towers_answer_through_every_level() {
    let authority = Authority::new();
    authority.apply(&[alias_tower(3, 3)], &[]);
    let response = ask(&authority, "l0.example.com.", RecordType::A);
    assert_eq!(response.answers.len(), 1);
    assert_eq!(response.answers[0].data, a("192.0.2.99"));
}

#[test]
fn deep_alias_towers_stop_at_the_step_budget() {
    // Four levels of twenty: unbounded, some 20^4 health evaluations.
    let authority = Authority::new();
    authority.apply(&[alias_tower(4, 20)], &[]);
    let response = ask(&authority, "l0.example.com.", RecordType::A);
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    let steps = steps_of_last_query();
    // Past the budget every call returns at once; the loops above it
    // (twenty sets a level) only finish.
    assert!(steps <= 1000 + 4 * 20 * 3, "{steps} steps");
    assert!(steps > 1000, "the budget was reached: {steps}");
}

#[test]
fn an_alias_evaluating_target_health_fails_over_when_its_target_is_gone() {
    let authority = authority();
    let response = ask(&authority, "fa.example.com.", RecordType::A);
    assert_eq!(response.answers[0].data, a("192.0.2.212"));
}

#[test]
fn multivalue_answers_up_to_eight_healthy_records() {
    let authority = authority();
    let response = ask(&authority, "mv.example.com.", RecordType::A);
    assert_eq!(response.answers.len(), 8);
    let unhealthy: BTreeMap<String, bool> = (0..7).map(|index| (format!("hc-m{index}"), false)).collect();
    authority.set_health(unhealthy);
    let response = ask(&authority, "mv.example.com.", RecordType::A);
    let mut addresses: Vec<String> = response.answers.iter().map(|record| record.data.to_string()).collect();
    addresses.sort();
    assert_eq!(addresses, ["192.0.2.157", "192.0.2.158", "192.0.2.159"]);
}

#[test]
fn the_question_is_echoed_byte_for_byte() {
    let authority = authority();
    let message = query("wWw.ExAmPlE.cOm.", RecordType::A).to_vec().unwrap();
    let response = authority.answer_bytes(&message, Transport::Udp).unwrap();
    let question_end = 12 + "wWw.ExAmPlE.cOm.".len() + 1 + 4;
    assert_eq!(response[12..question_end], message[12..question_end]);
    let decoded = Message::from_vec(&response).unwrap();
    assert_eq!(decoded.answers[0].data, a("192.0.2.10"));
}

#[test]
fn edns_is_echoed_with_our_payload_and_the_do_bit() {
    let authority = authority();
    let mut message = with_edns(query("www.example.com.", RecordType::A), 4096);
    message.edns.as_mut().unwrap().set_dnssec_ok(true);
    let response = ask_raw(&authority, &message, Transport::Udp);
    let edns = response.edns.expect("an OPT");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
    assert!(edns.flags().dnssec_ok);
    // No OPT asked, none given.
    assert!(ask(&authority, "www.example.com.", RecordType::A).edns.is_none());
}

#[test]
fn unknown_edns_versions_are_badvers() {
    let authority = authority();
    let mut message = with_edns(query("www.example.com.", RecordType::A), 1232);
    message.edns.as_mut().unwrap().set_version(1);
    let response = ask_raw(&authority, &message, Transport::Udp);
    // 16 is both BADVERS and BADSIG (RFC 6895 §2.3); hickory names it BADSIG.
    assert_eq!(u16::from(response.metadata.response_code), 16);
    assert_eq!(response.edns.expect("an OPT").version(), 0);
    assert!(response.answers.is_empty());
    assert_eq!(response.queries.len(), 1);
}

#[test]
fn udp_answers_that_do_not_fit_are_truncated_whole() {
    let authority = authority();
    // Without EDNS: 512 octets, the 40 TXT records do not fit; nothing of
    // the RRset is sent (RFC 2181 §9).
    let response = ask(&authority, "big.example.com.", RecordType::TXT);
    assert!(response.metadata.truncation);
    assert!(response.answers.is_empty());
    // The payload size asked for still does not hold them; the OPT stays.
    let response = ask_raw(&authority, &with_edns(query("big.example.com.", RecordType::TXT), 1232), Transport::Udp);
    assert!(response.metadata.truncation);
    assert!(response.answers.is_empty());
    assert!(response.edns.is_some(), "the OPT is kept when truncating");
    // TCP takes it all.
    let response = ask_raw(&authority, &query("big.example.com.", RecordType::TXT), Transport::Tcp);
    assert!(!response.metadata.truncation);
    assert_eq!(response.answers.len(), 40);
    // Small payloads are read as 512.
    let response = ask_raw(&authority, &with_edns(query("www.example.com.", RecordType::A), 100), Transport::Udp);
    assert_eq!(response.answers.len(), 1);
}

fn raw_query(flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut message = vec![0x12, 0x34];
    message.extend(flags.to_be_bytes());
    for count in counts {
        message.extend(count.to_be_bytes());
    }
    message.extend(body);
    message
}

const WWW_A: &[u8] = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01";

fn header_of(response: &[u8]) -> (u16, [u16; 4]) {
    let word = |at: usize| u16::from_be_bytes([response[at], response[at + 1]]);
    (word(2), [word(4), word(6), word(8), word(10)])
}

#[test]
fn malformed_and_unsupported_messages() {
    let authority = authority();
    // Too short for a header, or a response: no answer at all.
    assert!(authority.answer_bytes(&[0; 11], Transport::Udp).is_none());
    assert!(authority.answer_bytes(&raw_query(0x8000, [1, 0, 0, 0], WWW_A), Transport::Udp).is_none());

    // Opcodes other than QUERY: NOTIMP, header only, opcode kept.
    let response = authority.answer_bytes(&raw_query(0x2800 | 0x0100, [1, 0, 0, 0], WWW_A), Transport::Udp).unwrap();
    let (flags, counts) = header_of(&response);
    assert_eq!(flags, 0x8000 | 0x2800 | 0x0100 | 4);
    assert_eq!(counts, [0; 4]);

    // Two questions, none, a truncated one, records in the answer section:
    // FORMERR.
    let two: Vec<u8> = [WWW_A, WWW_A].concat();
    for message in [
        raw_query(0, [2, 0, 0, 0], &two),
        raw_query(0, [0, 0, 0, 0], &[]),
        raw_query(0, [1, 0, 0, 0], &WWW_A[..8]),
        raw_query(0, [1, 1, 0, 0], WWW_A),
        raw_query(0, [1, 0, 0, 1], WWW_A),
    ] {
        let response = authority.answer_bytes(&message, Transport::Udp).unwrap();
        let (flags, counts) = header_of(&response);
        assert_eq!(flags & 0x000f, 1, "{message:?}");
        assert_eq!(counts, [0; 4]);
    }

    // Only an OPT: FORMERR, with an OPT so EDNS support shows.
    let opt = [0u8, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0];
    let response =
        Message::from_vec(&authority.answer_bytes(&raw_query(0, [0, 0, 0, 1], &opt), Transport::Udp).unwrap()).unwrap();
    assert_eq!(response.metadata.response_code, ResponseCode::FormErr);
    assert!(response.edns.is_some());

    // Two OPTs: FORMERR.
    let response =
        authority.answer_bytes(&raw_query(0, [1, 0, 0, 2], &[WWW_A, &opt, &opt].concat()), Transport::Udp).unwrap();
    assert_eq!(header_of(&response).0 & 0x000f, 1);

    // A TSIG record: no keys here, NOTAUTH.
    let tsig = [0u8, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0];
    let response =
        authority.answer_bytes(&raw_query(0, [1, 0, 0, 1], &[WWW_A, &tsig].concat()), Transport::Udp).unwrap();
    assert_eq!(header_of(&response).0 & 0x000f, 9);

    // Another class: REFUSED; CHAOS included.
    let mut chaos = WWW_A.to_vec();
    *chaos.last_mut().unwrap() = 3;
    let response = authority.answer_bytes(&raw_query(0, [1, 0, 0, 0], &chaos), Transport::Udp).unwrap();
    assert_eq!(header_of(&response).0 & 0x000f, 5);

    // Class ANY: answered, not authoritative.
    let mut any = WWW_A.to_vec();
    *any.last_mut().unwrap() = 255;
    let response =
        Message::from_vec(&authority.answer_bytes(&raw_query(0, [1, 0, 0, 0], &any), Transport::Udp).unwrap()).unwrap();
    assert_eq!(response.answers.len(), 1);
    assert!(!response.metadata.authoritative);
}

#[test]
fn zone_transfers_are_not_answered_by_the_query_path() {
    // Over UDP they are not implemented (NSD's answer); over TCP the
    // server transfers to allowed peers before a query reaches this path.
    let authority = authority();
    let response = ask_raw(&authority, &query("example.com.", RecordType::AXFR), Transport::Udp);
    assert_eq!(response.metadata.response_code, ResponseCode::NotImp);
    let response = ask_raw(&authority, &query("example.com.", RecordType::IXFR), Transport::Udp);
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
    let response = ask_raw(&authority, &query("example.com.", RecordType::AXFR), Transport::Tcp);
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
    let response = ask_raw(&authority, &query("example.com.", RecordType::IXFR), Transport::Tcp);
    assert_eq!(response.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn applying_zones() {
    let authority = authority();
    let before = authority.snapshot();
    assert_eq!(authority.serials(), BTreeMap::from([("Z1".into(), 5), ("Z2".into(), 7), ("Z3".into(), 3)]));

    // A lower serial is ignored; a higher one replaces, sharing the rest.
    let mut older = example(4);
    older.record_sets.retain(|set| set.name != "www.example.com.");
    authority.apply(&[older], &[]);
    assert_eq!(authority.serials()["Z1"], 5);
    assert_eq!(ask(&authority, "www.example.com.", RecordType::A).answers.len(), 1);
    let mut newer = example(6);
    newer.record_sets.retain(|set| set.name != "www.example.com.");
    authority.apply(&[newer], &[]);
    assert_eq!(authority.serials()["Z1"], 6);
    assert_eq!(ask(&authority, "www.example.com.", RecordType::A).metadata.response_code, ResponseCode::NXDomain);
    let after = authority.snapshot();
    assert!(Arc::ptr_eq(before.zone("Z2").unwrap(), after.zone("Z2").unwrap()), "unchanged zones are shared");

    // Removed: no longer ours.
    authority.apply(&[], &["Z1".into()]);
    assert!(!authority.serials().contains_key("Z1"));
    // child.example.com is still served; the rest of example.com is not.
    assert_eq!(ask(&authority, "www.example.com.", RecordType::A).metadata.response_code, ResponseCode::Refused);
    assert_eq!(ask(&authority, "www.child.example.com.", RecordType::A).answers.len(), 1);
}

#[test]
fn a_private_zone_of_the_same_name_gives_way_to_the_public_one() {
    let authority = Authority::new();
    let mut private = zone("Z0PRIVATE", "example.com.", 1, vec![set("www.example.com.", "A", 60, &["10.0.0.1"])]);
    private.private = true;
    let public = zone("Z9PUBLIC", "example.com.", 1, vec![set("www.example.com.", "A", 60, &["192.0.2.1"])]);
    authority.apply(&[private, public], &[]);
    assert_eq!(ask(&authority, "www.example.com.", RecordType::A).answers[0].data, a("192.0.2.1"));
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    fn shared() -> &'static Authority {
        static AUTHORITY: std::sync::OnceLock<Authority> = std::sync::OnceLock::new();
        AUTHORITY.get_or_init(authority)
    }

    fn check(bytes: &[u8]) {
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Some(response) = shared().answer_bytes(bytes, transport) {
                assert!(response.len() >= 12);
                if transport == Transport::Udp {
                    assert!(response.len() <= 1232);
                }
                Message::from_vec(&response).expect("every response decodes");
            }
        }
    }

    const NAMES: &[&str] = &[
        "example.com.",
        "www.example.com.",
        "cname.example.com.",
        "loop1.example.com.",
        "a.wild.example.com.",
        "x.sub.example.com.",
        "child.example.com.",
        "mv.example.com.",
        "w.example.com.",
        "big.example.com.",
        "b.ent.example.com.",
        "nowhere.example.org.",
        "alias.example.com.",
        "_sip._tcp.example.com.",
    ];

    proptest! {
        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            check(&bytes);
        }

        #[test]
        fn random_queries(
            flags in any::<u16>(),
            index in 0..NAMES.len(),
            qtype in prop_oneof![Just(255u16), Just(1), Just(28), Just(15), Just(43), Just(252), Just(251), Just(16), any::<u16>()],
            qclass in prop_oneof![Just(1u16), Just(255), any::<u16>()],
            edns in proptest::option::of((any::<u16>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..12))),
            tail in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let flags = flags & !0x8000;
            let mut body = Vec::new();
            for label in NAMES[index].trim_end_matches('.').split('.') {
                body.push(label.len() as u8);
                body.extend(label.bytes());
            }
            body.push(0);
            body.extend(qtype.to_be_bytes());
            body.extend(qclass.to_be_bytes());
            let additional = u16::from(edns.is_some());
            if let Some((payload, ttl, options)) = edns {
                body.push(0);
                body.extend(41u16.to_be_bytes());
                body.extend(payload.to_be_bytes());
                body.extend(ttl.to_be_bytes());
                body.extend((options.len() as u16).to_be_bytes());
                body.extend(options);
            }
            body.extend(tail);
            check(&raw_query(flags, [1, 0, 0, additional], &body));
        }
    }
}

mod server {
    use std::time::Duration;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream, UdpSocket},
        time::timeout,
    };

    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    async fn read_tcp(stream: &mut TcpStream) -> Message {
        let mut prefix = [0u8; 2];
        timeout(WAIT, stream.read_exact(&mut prefix)).await.unwrap().unwrap();
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        timeout(WAIT, stream.read_exact(&mut message)).await.unwrap().unwrap();
        Message::from_vec(&message).unwrap()
    }

    #[tokio::test]
    async fn serves_udp_and_tcp_until_shutdown() {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (udp_address, tcp_address) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        let shutdown = nubo_host::Shutdown::new();
        let server =
            tokio::spawn(super::super::serve(Arc::new(authority()), udp, tcp, Default::default(), shutdown.clone()));

        // UDP: garbage gets nothing and does not stop the server.
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(&[1, 2, 3], udp_address).await.unwrap();
        let question = query("www.example.com.", RecordType::A);
        client.send_to(&question.to_vec().unwrap(), udp_address).await.unwrap();
        let mut buffer = vec![0u8; 2048];
        let (length, _) = timeout(WAIT, client.recv_from(&mut buffer)).await.unwrap().unwrap();
        let response = Message::from_vec(&buffer[..length]).unwrap();
        assert_eq!(response.metadata.id, question.metadata.id);
        assert_eq!(response.answers[0].data, a("192.0.2.10"));

        // TCP: two queries pipelined on one connection, answered in order;
        // the big answer that UDP truncates arrives whole.
        let mut stream = TcpStream::connect(tcp_address).await.unwrap();
        let (first, second) = (query("www.example.com.", RecordType::AAAA), query("big.example.com.", RecordType::TXT));
        let mut bytes = Vec::new();
        for message in [&first, &second] {
            let encoded = message.to_vec().unwrap();
            bytes.extend((encoded.len() as u16).to_be_bytes());
            bytes.extend(encoded);
        }
        stream.write_all(&bytes).await.unwrap();
        let response = read_tcp(&mut stream).await;
        assert_eq!(response.metadata.id, first.metadata.id);
        assert_eq!(names(&response.answers), ["www.example.com. AAAA"]);
        let response = read_tcp(&mut stream).await;
        assert_eq!(response.metadata.id, second.metadata.id);
        assert!(!response.metadata.truncation);
        assert_eq!(response.answers.len(), 40);

        shutdown.cancel();
        timeout(WAIT, server).await.expect("serve ends on shutdown").unwrap().unwrap();
        // The open connection was closed with it.
        let mut rest = Vec::new();
        let read = timeout(WAIT, stream.read_to_end(&mut rest)).await.unwrap();
        assert!(read.is_err() || rest.is_empty());
    }
}
