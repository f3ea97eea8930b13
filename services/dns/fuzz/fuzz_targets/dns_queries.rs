//! Any bytes, as a UDP or TCP query, answered from a zone with every kind
//! of node (wildcards, delegations, CNAME chains, an empty non-terminal,
//! weighted sets): the request path must never panic, and an answer that
//! comes back must decode as a DNS message.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nubo_dns::{
    authority::{Authority, Transport},
    model::{RecordSet, Zone},
};

fn set(name: &str, kind: &str, values: &[&str]) -> RecordSet {
    RecordSet::simple(name, kind, 300, values.iter().copied())
}

fn authority() -> &'static Authority {
    static AUTHORITY: OnceLock<Authority> = OnceLock::new();
    AUTHORITY.get_or_init(|| {
        let mut weighted = (set("w.fuzz.example.", "A", &["192.0.2.7"]), set("w.fuzz.example.", "A", &["192.0.2.8"]));
        weighted.0.set_identifier = Some("one".into());
        weighted.0.weight = Some(1);
        weighted.1.set_identifier = Some("two".into());
        weighted.1.weight = Some(3);
        let zone = Zone {
            id: "ZFUZZ".into(),
            name: "fuzz.example.".into(),
            caller_reference: "fuzz".into(),
            comment: None,
            private: false,
            vpcs: Vec::new(),
            created: "2026-01-01T00:00:00Z".into(),
            serial: 3,
            name_servers: vec!["ns1.fuzz.example.".into()],
            record_sets: vec![
                set("fuzz.example.", "SOA", &["ns1.fuzz.example. hostmaster.fuzz.example. 1 7200 900 1209600 60"]),
                set("fuzz.example.", "NS", &["ns1.fuzz.example."]),
                set("fuzz.example.", "MX", &["10 mail.fuzz.example."]),
                set("fuzz.example.", "TXT", &["\"a\" \"b\""]),
                set("ns1.fuzz.example.", "A", &["192.0.2.1"]),
                set("mail.fuzz.example.", "A", &["192.0.2.2"]),
                set("www.fuzz.example.", "A", &["192.0.2.3", "192.0.2.4"]),
                set("c.fuzz.example.", "CNAME", &["www.fuzz.example."]),
                set("loop.fuzz.example.", "CNAME", &["loop.fuzz.example."]),
                set("\\052.wild.fuzz.example.", "A", &["192.0.2.5"]),
                set("x.ent.fuzz.example.", "A", &["192.0.2.6"]),
                set("sub.fuzz.example.", "NS", &["ns.sub.fuzz.example."]),
                set("ns.sub.fuzz.example.", "A", &["192.0.2.9"]),
                weighted.0,
                weighted.1,
            ],
            tags: Vec::new(),
            dnssec: Default::default(),
        };
        let authority = Authority::new();
        authority.apply(&[zone], &[]);
        authority
    })
}

fuzz_target!(|data: &[u8]| {
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Some(answer) = authority().answer_bytes(data, transport) {
            assert!(answer.len() >= 12, "an answer has at least a header");
        }
    }
});
