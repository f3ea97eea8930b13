//! nubo's authoritative answers beside NSD's on the same zone.
//!
//! `e2e/fixtures/dns/differential.zone` goes into nubo through the Route 53
//! API and into NSD (Debian's `nsd`, started here on a loopback port) as a
//! zone file. The same few thousand queries — every name of the zone and
//! the names around it (wildcard matches, empty non-terminals, names below
//! delegations, names outside the zone), every type, over UDP with and
//! without EDNS and over TCP, with mixed-case names — and a set of
//! malformed packets go to both; rcode, flags and sections must agree.
//! The differences RFCs allow are listed in [`allowed`] with their text.

use std::collections::{BTreeMap, BTreeSet};

use hickory_resolver::proto::{
    op::{Message, MessageType, Query},
    rr::{DNSClass, Name, RecordType},
};
use nubo_e2e::{
    Nubo,
    dns::{ORIGIN, Transport, exchange, exchange_udp, load_into_nubo, query, start_nsd, start_nsd_secondary, upsert_a},
    fixture, free_port, route53_client,
};
use nubo_host::ServiceName;

/// What of an answer is compared: header bits, rcode, the question as
/// sent back, EDNS, and each section as a sorted list of records.
fn summary(bytes: Option<&[u8]>) -> BTreeMap<&'static str, String> {
    let mut summary = BTreeMap::new();
    let Some(bytes) = bytes else {
        summary.insert("response", "none".to_owned());
        return summary;
    };
    let message = match Message::from_vec(bytes) {
        Ok(message) => message,
        Err(error) => {
            summary.insert("response", format!("undecodable: {error}"));
            return summary;
        }
    };
    let header = &message.metadata;
    summary.insert("rcode", format!("{:?}", header.response_code));
    summary.insert(
        "flags",
        format!(
            "qr={} aa={} tc={} rd={} ra={} ad={} cd={} opcode={:?}",
            header.message_type == MessageType::Response,
            header.authoritative,
            header.truncation,
            header.recursion_desired,
            header.recursion_available,
            header.authentic_data,
            header.checking_disabled,
            header.op_code
        ),
    );
    summary.insert(
        "question",
        message
            .queries
            .iter()
            .map(|q| format!("{} {} {}", q.name(), q.query_class(), q.query_type()))
            .collect::<Vec<_>>()
            .join("; "),
    );
    summary.insert(
        "edns",
        message
            .edns
            .as_ref()
            .map_or("none".to_owned(), |edns| format!("version={} do={}", edns.version(), edns.flags().dnssec_ok)),
    );
    if header.truncation {
        // How much of a truncated answer is kept is the server's choice
        // (RFC 2181 §9); a resolver retries over TCP either way.
        return summary;
    }
    let section = |records: &[hickory_resolver::proto::rr::Record]| {
        let mut lines: Vec<String> = records
            .iter()
            .map(|record| {
                format!(
                    "{} {} {} {}",
                    record.name.to_ascii().to_lowercase(),
                    record.ttl,
                    record.record_type(),
                    record.data
                )
            })
            .collect();
        lines.sort();
        lines.join("\n")
    };
    summary.insert("answer", section(&message.answers));
    summary.insert("authority", section(&message.authorities));
    summary.insert("additional", section(&message.additionals));
    summary
}

/// Every name the queries ask for, relative to the origin (`@` is the apex)
/// or absolute when they end with a dot.
fn names() -> Vec<String> {
    let relative = [
        "@",
        "ns1",
        "ns2",
        "mail",
        "mail2",
        "www",
        "c1",
        "c2",
        "c3",
        "cout",
        "cmissing",
        "cwild",
        "_sip._tcp",
        "sip",
        "_xmpp._tcp",
        "10.2.0.192",
        "naptr",
        "ssh",
        "_443._tcp.www",
        "svc",
        "_dns.svc",
        "explicit.wild",
        "sub.explicit.wild",
        "a.b.ent",
        "x.y.z.deep",
        "sub",
        "ns1.sub",
        "ns2.sub",
        "out",
        "mixed",
        "ns.mixed",
        "big",
        "bigtxt",
        "host001",
        "host004",
        "host010",
        "host200",
        // empty non-terminals
        "b.ent",
        "ent",
        "y.z.deep",
        "z.deep",
        "deep",
        "_tcp",
        "_tcp.www",
        "wild",
        // wildcard matches and near misses
        "foo.wild",
        "a.b.wild",
        "\\*.wild",
        "foo.cn",
        "x.explicit.wild",
        "foo.sub.explicit.wild",
        // at and below delegations
        "www.sub",
        "a.b.sub",
        "x.out",
        "www.mixed",
        // names that do not exist
        "nothing",
        "host999",
        "zzz",
        "a.nothing",
    ];
    let mut names: Vec<String> =
        relative.iter().map(|name| if *name == "@" { ORIGIN.to_owned() } else { format!("{name}.{ORIGIN}") }).collect();
    names.extend(["example.org.", "diff.example.com.", "elsewhere.example.", "example.", "."].map(str::to_owned));
    names
}

/// `www.diff.example.` → `WwW.DiFf.ExAmPlE.`: resolvers' 0x20 mixing.
fn mixed_case(name: &str) -> String {
    name.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect()
}

/// Packets a server must survive and answer (or drop) as NSD does.
fn malformed_packets() -> Vec<(&'static str, Vec<u8>)> {
    let good = query("www.diff.example.", RecordType::A, Transport::UdpPlain).to_vec().unwrap();
    let mut packets: Vec<(&'static str, Vec<u8>)> = vec![
        ("header only", good[..12].to_vec()),
        ("short header", good[..7].to_vec()),
        ("question cut short", good[..good.len() - 3].to_vec()),
        ("trailing garbage", [good.as_slice(), &[1, 2, 3]].concat()),
    ];
    let mut two_questions = query("www.diff.example.", RecordType::A, Transport::UdpPlain);
    two_questions.add_query(Query::query(Name::from_ascii("mail.diff.example.").unwrap(), RecordType::A));
    packets.push(("two questions", two_questions.to_vec().unwrap()));
    let mut no_question = good[..12].to_vec();
    no_question[5] = 0;
    packets.push(("no question", no_question));
    for (label, opcode) in [("opcode STATUS", 2u8), ("opcode NOTIFY", 4), ("opcode UPDATE", 5), ("opcode 9", 9)] {
        let mut packet = good.clone();
        packet[2] = (packet[2] & 0x87) | (opcode << 3);
        packets.push((label, packet));
    }
    let mut response = good.clone();
    response[2] |= 0x80;
    packets.push(("a response, not a query", response));
    let mut chaos = query("version.bind.", RecordType::TXT, Transport::UdpPlain);
    chaos.queries[0].set_query_class(DNSClass::CH);
    packets.push(("class CH", chaos.to_vec().unwrap()));
    let mut edns1 = query("www.diff.example.", RecordType::A, Transport::UdpEdns);
    if let Some(edns) = edns1.edns.as_mut() {
        edns.set_version(1);
    }
    packets.push(("EDNS version 1", edns1.to_vec().unwrap()));
    packets.push(("AXFR over UDP", query(ORIGIN, RecordType::AXFR, Transport::UdpPlain).to_vec().unwrap()));
    packets.push(("IXFR over UDP", query(ORIGIN, RecordType::IXFR, Transport::UdpPlain).to_vec().unwrap()));
    let mut label_pointer_loop = good[..12].to_vec();
    label_pointer_loop.extend([0xc0, 0x0c, 0, 1, 0, 1]);
    packets.push(("compression pointer loop", label_pointer_loop));
    packets.push((
        "unknown type 65280",
        query("www.diff.example.", RecordType::Unknown(65280), Transport::UdpPlain).to_vec().unwrap(),
    ));
    packets
}

/// Differences the RFCs leave to the server: for a query (its label), a
/// field, what nubo says and what NSD says, the reason it is allowed.
fn allowed(label: &str, field: &str, nubo: &str, nsd: &str) -> Option<&'static str> {
    if label.starts_with("malformed: opcode NOTIFY") && field == "rcode" && nubo == "NotImp" {
        // NSD answers a NOTIFY for a zone it is primary for with NXDOMAIN.
        return Some(
            "RFC 1996 §3.1: NOTIFY is for a secondary, and nubo is never one; RFC 1035 §4.1.1 \
             NOTIMP, 'the name server does not support the requested kind of query', says so",
        );
    }
    let unreadable = ["malformed: header only (TCP)", "malformed: no question (TCP)"];
    // NSD closes the connection without a word (no response, every other
    // field absent); nubo says FORMERR.
    let nsd_silent = nsd == "-" || (field == "response" && nsd == "none" && nubo == "-");
    if unreadable.contains(&label) && nsd_silent && (field != "rcode" || nubo == "FormErr") {
        return Some(
            "RFC 1035 §4.1.1: FORMERR, 'the name server was unable to interpret the query'; \
             RFC 7766 §6.2.4 lets a server close the connection instead, as NSD does",
        );
    }
    None
}

#[tokio::test]
async fn nubo_answers_as_nsd_does() {
    let state = tempfile::tempdir().unwrap();
    let zone_text = std::fs::read_to_string(fixture("dns/differential.zone")).unwrap();
    let nubo = Nubo::up(&state.path().join("nubo")).await;
    let serial = load_into_nubo(&nubo, &zone_text).await;
    let nsd_dir = state.path().join("nsd");
    std::fs::create_dir_all(&nsd_dir).unwrap();
    let nsd = start_nsd(&nsd_dir, &zone_text, &serial, 1).await;

    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::MX,
        RecordType::TXT,
        RecordType::NS,
        RecordType::SOA,
        RecordType::CNAME,
        RecordType::SRV,
        RecordType::PTR,
        RecordType::NAPTR,
        RecordType::SSHFP,
        RecordType::TLSA,
        RecordType::HTTPS,
        RecordType::SVCB,
        RecordType::CAA,
        RecordType::DS,
        RecordType::Unknown(99),
        RecordType::ANY,
    ];
    let mut cases: Vec<(String, Vec<u8>, Transport)> = Vec::new();
    for (index, name) in names().iter().enumerate() {
        for kind in types {
            for transport in [Transport::UdpPlain, Transport::UdpEdns, Transport::UdpDnssecOk, Transport::Tcp] {
                let asked = if (index + cases.len()).is_multiple_of(3) { mixed_case(name) } else { name.clone() };
                let packet = query(&asked, kind, transport).to_vec().unwrap();
                cases.push((format!("{asked} {kind} {transport:?}"), packet, transport));
            }
        }
    }
    for (label, packet) in malformed_packets() {
        cases.push((format!("malformed: {label} (UDP)"), packet.clone(), Transport::UdpPlain));
        cases.push((format!("malformed: {label} (TCP)"), packet, Transport::Tcp));
    }

    let mut differences: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut explained: BTreeSet<&'static str> = BTreeSet::new();
    for (label, packet, transport) in &cases {
        let (ours, theirs) =
            (exchange(nubo.dns_address(), packet, *transport).await, exchange(nsd.address, packet, *transport).await);
        let (ours, theirs) = (summary(ours.as_deref()), summary(theirs.as_deref()));
        let fields: BTreeSet<&&str> = ours.keys().chain(theirs.keys()).collect();
        for field in fields {
            let (a, b) = (ours.get(*field).map_or("-", String::as_str), theirs.get(*field).map_or("-", String::as_str));
            if a == b {
                continue;
            }
            if let Some(reason) = allowed(label, field, a, b) {
                explained.insert(reason);
                continue;
            }
            differences.entry((*field).to_owned()).or_default().push(format!("{label}\n  nubo: {a}\n  nsd:  {b}"));
        }
    }
    eprintln!("{} queries compared; allowed differences seen: {explained:#?}", cases.len());
    if !differences.is_empty() {
        let mut report = String::new();
        for (field, cases) in &differences {
            report.push_str(&format!("\n== {field}: {} differences\n", cases.len()));
            for case in cases.iter().take(15) {
                report.push_str(case);
                report.push('\n');
            }
        }
        panic!("nubo and NSD answer differently:{report}");
    }
    // Both survived every packet.
    assert!(
        exchange_udp(nubo.dns_address(), &query(ORIGIN, RecordType::SOA, Transport::UdpPlain).to_vec().unwrap())
            .await
            .is_some()
    );
}

/// Whether NSD at `address` answers `name` A with `value`.
async fn serves(address: std::net::SocketAddr, name: &str, value: &str) -> bool {
    let packet = query(name, RecordType::A, Transport::UdpPlain).to_vec().unwrap();
    let Some(reply) = exchange_udp(address, &packet).await else { return false };
    Message::from_vec(&reply).is_ok_and(|message| message.answers.iter().any(|record| record.data.to_string() == value))
}

#[tokio::test]
async fn nsd_serves_nubo_zones_as_a_secondary() {
    let state = tempfile::tempdir().unwrap();
    let secondary_port = free_port();
    let notify = format!("[\"127.0.0.1:{secondary_port}\"]");
    let nubo = Nubo::up_with(
        &state.path().join("nubo"),
        &[("NUBO_DNS__TRANSFER_ALLOW", "[\"127.0.0.1\"]"), ("NUBO_DNS__NOTIFY", notify.as_str())],
    )
    .await;
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));
    let zone = route53.create_hosted_zone().name("secondary.example").caller_reference("xfr").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let upsert = |value: &str| upsert_a("www.secondary.example", 60, value);
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(upsert("192.0.2.1"))
        .send()
        .await
        .unwrap();

    // Transfers go only where they are allowed, and only over TCP.
    let axfr = query("secondary.example.", RecordType::AXFR, Transport::Tcp).to_vec().unwrap();
    let reply = Message::from_vec(&exchange(nubo.dns_address(), &axfr, Transport::Tcp).await.unwrap()).unwrap();
    assert_eq!(reply.answers.first().map(|record| record.record_type()), Some(RecordType::SOA), "{reply:?}");

    let directory = state.path().join("nsd");
    std::fs::create_dir_all(&directory).unwrap();
    let nsd = start_nsd_secondary(&directory, "secondary.example", nubo.dns_address(), secondary_port);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !serves(nsd.address, "www.secondary.example.", "192.0.2.1").await {
        assert!(std::time::Instant::now() < deadline, "NSD never transferred the zone: {}", nsd.log(&directory));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A change reaches the secondary by NOTIFY: its refresh timer (the
    // SOA's 7,200 s) would take two hours.
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(upsert("192.0.2.2"))
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !serves(nsd.address, "www.secondary.example.", "192.0.2.2").await {
        assert!(std::time::Instant::now() < deadline, "NSD never took the change: {}", nsd.log(&directory));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
