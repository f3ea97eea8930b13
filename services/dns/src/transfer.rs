//! Zone transfers to standard secondaries (NSD, Knot, BIND): what an AXFR
//! carries, who may ask for one, and the NOTIFY a change sends.
//!
//! - AXFR (RFC 5936) over TCP only, to addresses in `transfer_allow`:
//!   the SOA, every record of the zone, the SOA again, in as many
//!   messages as it takes.
//! - IXFR (RFC 1995) is answered with the whole zone in AXFR form, which
//!   §4 allows a server without the history of changes; a secondary whose
//!   serial is current gets the SOA alone, as §2 says.
//! - NOTIFY (RFC 1996) goes to every address in `notify` when a zone's
//!   serial moves, from every replica that sees it (secondaries ignore a
//!   NOTIFY for a serial they have), retried until acknowledged.
//!
//! Route 53 has no zone transfers, so its record sets are written out as
//! a secondary can serve them: an alias becomes the target's records
//! when the target is in the zone (and is left out otherwise), and a
//! routing policy's sets are merged into one set per name and type, as a
//! plain DNS server cannot choose between them — but a CNAME, which can
//! only be one, is the primary's (failover) or the heaviest's (weighted).

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use hickory_proto::{
    op::{Message, MessageType, OpCode, Query},
    rr::{Name, RData, Record, RecordType},
    serialize::binary::BinEncodable as _,
};
use ipnet::IpNet;

use crate::{model::Zone, names, rdata};

/// The most octets of records put in one transfer message, counted
/// uncompressed: a message must fit the 65,535 octets a TCP length prefix
/// can say, with room for its header and question.
const MESSAGE_RECORD_OCTETS: usize = 60_000;
/// NOTIFY is retried this many times, this far apart (RFC 1996 §3.6).
const NOTIFY_ATTEMPTS: usize = 5;
const NOTIFY_WAIT: Duration = Duration::from_secs(2);

/// Who may transfer zones.
#[derive(Debug, Clone, Default)]
pub struct TransferPolicy {
    allow: Vec<IpNet>,
}

impl TransferPolicy {
    /// From the configuration's `transfer_allow`: addresses or networks
    /// (`127.0.0.1`, `10.0.0.0/8`, `::1`).
    pub fn new(allow: &[String]) -> Result<Self, String> {
        Ok(Self { allow: crate::networks::parse("transfer_allow", allow)? })
    }

    pub fn allows(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.allow.iter().any(|network| network.contains(&peer))
    }
}

/// The records of a zone as a transfer carries them, SOA first and not
/// repeated (the caller closes the transfer with it).
pub fn zone_records(zone: &Zone) -> Result<(Record, Vec<Record>), String> {
    let mut soa = None;
    let mut records: Vec<Record> = Vec::new();
    for set in &zone.record_sets {
        if set.alias.is_some() || !transferred(zone, set) {
            continue;
        }
        let mut parsed = rdata::records(set)?;
        if set.kind == "SOA" && set.name == zone.name {
            let Some(mut record) = parsed.pop() else { continue };
            if let RData::SOA(value) = &mut record.data {
                value.serial = zone.serial;
            }
            soa = Some(record);
            continue;
        }
        records.append(&mut parsed);
    }
    // Aliases to names of the zone take the target's records, renamed.
    for set in zone.record_sets.iter().filter(|set| set.alias.is_some()) {
        let Some(alias) = &set.alias else { continue };
        let owner = names::to_name(&set.name).map_err(|error| error.to_string())?;
        for target in zone
            .record_sets
            .iter()
            .filter(|target| target.name == alias.dns_name && target.kind == set.kind && target.alias.is_none())
        {
            for mut record in rdata::records(target)? {
                record.name = owner.clone();
                records.push(record);
            }
        }
    }
    // A routing policy's sets merged: the same record twice is once.
    records.sort_by(|a, b| {
        (a.name.to_lowercase(), u16::from(a.record_type()), a.data.to_string()).cmp(&(
            b.name.to_lowercase(),
            u16::from(b.record_type()),
            b.data.to_string(),
        ))
    });
    records.dedup_by(|a, b| a.name == b.name && a.record_type() == b.record_type() && a.data == b.data);
    let soa = soa.ok_or_else(|| format!("zone {} has no SOA", zone.name))?;
    Ok((soa, records))
}

/// Whether a set goes into a transfer: all do but the routed CNAMEs that
/// lose to another set of their name (a name has one CNAME).
fn transferred(zone: &Zone, set: &crate::model::RecordSet) -> bool {
    if set.kind != "CNAME" || set.set_identifier.is_none() {
        return true;
    }
    let rank = |candidate: &crate::model::RecordSet| {
        let primary = candidate.failover == Some(crate::model::Failover::Primary);
        (primary, candidate.weight.unwrap_or(0))
    };
    let best = zone
        .record_sets
        .iter()
        .filter(|other| other.name == set.name && other.kind == "CNAME" && other.alias.is_none())
        .max_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| b.set_identifier.cmp(&a.set_identifier)));
    best.is_some_and(|best| best.set_identifier == set.set_identifier)
}

/// The messages of an AXFR (or an IXFR answered as one) for `request`:
/// each a response to its id with the question, AA set.
pub fn transfer_messages(zone: &Zone, request: &Message) -> Result<Vec<Message>, String> {
    let (soa, records) = zone_records(zone)?;
    let asked_ixfr = request.queries.first().is_some_and(|query| query.query_type() == RecordType::IXFR);
    if asked_ixfr && secondary_serial(request).is_some_and(|serial| !serial_older(serial, zone.serial)) {
        // RFC 1995 §2: a secondary as new as the zone gets the SOA alone.
        let mut message = response_to(request);
        message.add_answer(soa);
        return Ok(vec![message]);
    }
    let mut stream = Vec::with_capacity(records.len() + 2);
    stream.push(soa.clone());
    stream.extend(records);
    stream.push(soa);
    let mut messages = Vec::new();
    let mut message = response_to(request);
    let mut octets = 0;
    for record in stream {
        let size = record.to_bytes().map_err(|error| error.to_string())?.len();
        if octets + size > MESSAGE_RECORD_OCTETS && !message.answers.is_empty() {
            messages.push(std::mem::replace(&mut message, response_to(request)));
            octets = 0;
        }
        octets += size;
        message.add_answer(record);
    }
    messages.push(message);
    Ok(messages)
}

fn response_to(request: &Message) -> Message {
    let mut message = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    message.metadata.authoritative = true;
    message.add_queries(request.queries.iter().cloned());
    message
}

/// The serial an IXFR request says the secondary has (its authority SOA).
fn secondary_serial(request: &Message) -> Option<u32> {
    request.authorities.iter().find_map(|record| match &record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// RFC 1982 serial arithmetic: whether `a` comes before `b`.
fn serial_older(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

/// Sends NOTIFY for `zone` at `serial` to every target until each
/// answers, giving up after a few tries (the secondary's refresh timer
/// still brings it up to date).
pub async fn notify_all(zone: &str, serial: u32, targets: &[SocketAddr]) {
    let Ok(name) = names::to_name(zone) else { return };
    let tasks = targets.iter().map(|target| notify(name.clone(), serial, *target));
    futures::future::join_all(tasks).await;
}

async fn notify(zone: Name, serial: u32, target: SocketAddr) {
    let local: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let Ok(socket) = tokio::net::UdpSocket::bind(local).await else { return };
    let id: u16 = rand::random();
    let mut message = Message::new(id, MessageType::Query, OpCode::Notify);
    message.metadata.authoritative = true;
    message.add_query(Query::query(zone.clone(), RecordType::SOA));
    let Ok(packet) = message.to_vec() else { return };
    let mut buffer = [0u8; 512];
    for _ in 0..NOTIFY_ATTEMPTS {
        if socket.send_to(&packet, target).await.is_err() {
            return;
        }
        let answered = tokio::time::timeout(NOTIFY_WAIT, async {
            loop {
                let Ok((length, from)) = socket.recv_from(&mut buffer).await else { return false };
                let acknowledged = from == target
                    && Message::from_vec(&buffer[..length]).is_ok_and(|reply| {
                        reply.metadata.id == id && reply.metadata.message_type == MessageType::Response
                    });
                if acknowledged {
                    return true;
                }
            }
        })
        .await;
        if answered == Ok(true) {
            tracing::debug!(zone = %zone, serial, %target, "NOTIFY acknowledged");
            return;
        }
    }
    tracing::info!(zone = %zone, serial, %target, "a secondary did not acknowledge NOTIFY");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecordSet;

    fn set(name: &str, kind: &str, values: &[&str]) -> RecordSet {
        RecordSet::simple(name, kind, 300, values.iter().copied())
    }

    fn zone() -> Zone {
        Zone {
            id: "ZTEST".into(),
            name: "example.com.".into(),
            caller_reference: "r".into(),
            comment: None,
            private: false,
            vpcs: Vec::new(),
            created: "2026-01-01T00:00:00Z".into(),
            serial: 7,
            name_servers: vec!["ns1.example.com.".into()],
            record_sets: vec![
                set("example.com.", "NS", &["ns1.example.com."]),
                set("example.com.", "SOA", &["ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400"]),
                set("www.example.com.", "A", &["192.0.2.1", "192.0.2.2"]),
            ],
            tags: Vec::new(),
            dnssec: Default::default(),
        }
    }

    fn request(kind: RecordType) -> Message {
        let mut message = Message::new(99, MessageType::Query, OpCode::Query);
        message.add_query(Query::query(Name::from_ascii("example.com.").unwrap(), kind));
        message
    }

    #[test]
    fn an_axfr_is_the_soa_every_record_and_the_soa_again() {
        let messages = transfer_messages(&zone(), &request(RecordType::AXFR)).unwrap();
        let records: Vec<&Record> = messages.iter().flat_map(|message| message.answers.iter()).collect();
        assert_eq!(records.len(), 5);
        assert_eq!(records.first().unwrap().record_type(), RecordType::SOA);
        assert_eq!(records.last().unwrap().record_type(), RecordType::SOA);
        let RData::SOA(soa) = &records[0].data else { panic!() };
        assert_eq!(soa.serial, 7, "the zone's serial, not the stored value");
        assert!(messages.iter().all(|message| message.metadata.authoritative && message.metadata.id == 99));
    }

    #[test]
    fn an_ixfr_from_a_current_secondary_gets_the_soa_alone() {
        let mut ixfr = request(RecordType::IXFR);
        let (soa, _) = zone_records(&zone()).unwrap();
        ixfr.add_authority(soa.clone());
        let messages = transfer_messages(&zone(), &ixfr).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].answers.len(), 1);
        let mut behind = request(RecordType::IXFR);
        let mut old = soa;
        if let RData::SOA(value) = &mut old.data {
            value.serial = 3;
        }
        behind.add_authority(old);
        let records: usize = transfer_messages(&zone(), &behind).unwrap().iter().map(|m| m.answers.len()).sum();
        assert_eq!(records, 5, "a secondary behind gets the whole zone");
    }

    #[test]
    fn a_large_zone_goes_in_messages_that_each_fit_a_tcp_frame() {
        let mut zone = zone();
        for n in 0..30 {
            let values: Vec<String> = (0..16).map(|i| format!("\"{i:02} {}\"", "t".repeat(247))).collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            zone.record_sets.push(set(&format!("t{n}.example.com."), "TXT", &values));
        }
        let messages = transfer_messages(&zone, &request(RecordType::AXFR)).unwrap();
        assert!(messages.len() > 1, "about 120 KiB of TXT takes several messages");
        for message in &messages {
            assert!(message.to_vec().unwrap().len() <= usize::from(u16::MAX));
        }
        let records: usize = messages.iter().map(|message| message.answers.len()).sum();
        assert_eq!(records, 2 + 2 + 1 + 30 * 16, "SOA, NS, A twice, every TXT value, SOA");
    }

    #[test]
    fn a_routed_cname_is_transferred_once() {
        let mut zone = zone();
        for (identifier, weight, target) in [("a", 10, "one.example.net."), ("b", 90, "two.example.net.")] {
            let mut cname = set("api.example.com.", "CNAME", &[target]);
            cname.set_identifier = Some(identifier.into());
            cname.weight = Some(weight);
            zone.record_sets.push(cname);
        }
        let (_, records) = zone_records(&zone).unwrap();
        let cnames: Vec<String> = records
            .iter()
            .filter(|record| record.record_type() == RecordType::CNAME)
            .map(|r| r.data.to_string())
            .collect();
        assert_eq!(cnames, ["two.example.net."], "the heaviest");
    }

    #[test]
    fn serials_compare_as_rfc_1982_says() {
        assert!(serial_older(1, 2));
        assert!(!serial_older(2, 1));
        assert!(serial_older(u32::MAX, 0), "serials wrap");
        assert!(!serial_older(5, 5));
    }

    #[test]
    fn the_allow_list_takes_addresses_and_networks() {
        let policy = TransferPolicy::new(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert!(policy.allows("127.0.0.1".parse().unwrap()));
        assert!(policy.allows("10.1.2.3".parse().unwrap()));
        assert!(policy.allows("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!policy.allows("192.0.2.1".parse().unwrap()));
        assert!(TransferPolicy::new(&["nonsense".into()]).is_err());
        assert!(!TransferPolicy::default().allows("127.0.0.1".parse().unwrap()), "nobody by default");
    }
}
