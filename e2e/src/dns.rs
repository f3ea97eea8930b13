//! DNS helpers the differential test and the DNS benchmark share: the
//! fixture zone loaded into nubo through the Route 53 API, NSD serving the
//! same zone on a loopback port, and raw queries over UDP and TCP.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use hickory_resolver::proto::{
    op::{Edns, Message, MessageType, OpCode, Query},
    rr::{DNSClass, Name, RecordType},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpStream, UdpSocket},
};

use crate::{Nubo, ServiceName, free_port, route53_client};

pub const ORIGIN: &str = "diff.example.";

/// A record set with values, as a change batch gives it.
pub fn record_set(name: &str, kind: RrType, ttl: i64, values: &[&str]) -> ResourceRecordSet {
    let mut set = ResourceRecordSet::builder().name(name).r#type(kind).ttl(ttl);
    for value in values {
        set = set.resource_records(ResourceRecord::builder().value(*value).build().unwrap());
    }
    set.build().unwrap()
}

pub fn change(action: ChangeAction, set: ResourceRecordSet) -> Change {
    Change::builder().action(action).resource_record_set(set).build().unwrap()
}

pub fn batch(changes: Vec<Change>) -> ChangeBatch {
    ChangeBatch::builder().set_changes(Some(changes)).build().unwrap()
}

/// A batch that UPSERTs one A record.
pub fn upsert_a(name: &str, ttl: i64, value: &str) -> ChangeBatch {
    batch(vec![change(ChangeAction::Upsert, record_set(name, RrType::A, ttl, &[value]))])
}

/// A record set of the fixture: owner, type, TTL, values as written.
type FixtureSet = ((String, String), (u32, Vec<String>));

/// The fixture's record sets, read from its simple tab-separated form.
pub fn fixture_sets(text: &str) -> BTreeMap<(String, String), (u32, Vec<String>)> {
    let mut sets: BTreeMap<(String, String), (u32, Vec<String>)> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with(';') || line.starts_with('$') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (owner, ttl, rest) = match fields.as_slice() {
            [owner, ttl, "IN", rest @ ..] => (*owner, ttl.parse().unwrap(), rest),
            [owner, "IN", rest @ ..] => (*owner, 300, rest),
            _ => panic!("unexpected fixture line {line}"),
        };
        let [kind, value] = rest else { panic!("unexpected fixture line {line}") };
        let name = if owner == "@" { ORIGIN.to_owned() } else { format!("{owner}.{ORIGIN}") };
        let entry = sets.entry((name, (*kind).to_owned())).or_insert((ttl, Vec::new()));
        assert_eq!(entry.0, ttl, "one TTL per record set: {line}");
        entry.1.push((*value).to_owned());
    }
    sets
}

/// Loads the fixture through the Route 53 API and returns the serial nubo
/// serves it at.
pub async fn load_into_nubo(nubo: &Nubo, text: &str) -> String {
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));
    let zone = route53.create_hosted_zone().name(ORIGIN).caller_reference("differential").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let sets: Vec<FixtureSet> = fixture_sets(text).into_iter().collect();
    // Route 53 takes at most 1,000 values per batch: a few batches.
    for chunk in sets.chunks(60) {
        let changes = chunk
            .iter()
            .map(|((name, kind), (ttl, values))| {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                let set = record_set(name, RrType::from(kind.as_str()), i64::from(*ttl), &values);
                // The apex SOA and NS exist already: replace them.
                let action = if name == ORIGIN && (kind == "SOA" || kind == "NS") {
                    ChangeAction::Upsert
                } else {
                    ChangeAction::Create
                };
                change(action, set)
            })
            .collect();
        route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .change_batch(batch(changes))
            .send()
            .await
            .unwrap();
    }
    let soa = exchange_udp(nubo.dns_address(), &query(ORIGIN, RecordType::SOA, Transport::UdpPlain).to_vec().unwrap())
        .await
        .expect("nubo answers its SOA");
    let soa = Message::from_vec(&soa).unwrap();
    let text = soa.answers[0].data.to_string();
    text.split_whitespace().nth(2).expect("a serial").to_owned()
}

/// NSD serving the fixture on a loopback port, stopped when dropped.
pub struct Nsd {
    child: Child,
    pub address: SocketAddr,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `server_count` NSD processes answer (NSD's `server-count`), so a
/// benchmark can give it the cores nubo has.
pub async fn start_nsd(directory: &Path, zone_text: &str, serial: &str, server_count: usize) -> Nsd {
    // The same zone at the serial nubo gives it, so SOA answers compare.
    let zone = zone_text.replacen("hostmaster.diff.example. 1 ", &format!("hostmaster.diff.example. {serial} "), 1);
    std::fs::write(directory.join("diff.example.zone"), zone).unwrap();
    let dir = directory.display();
    let zone = format!("zone:\n  name: diff.example\n  zonefile: \"{dir}/diff.example.zone\"\n");
    let nsd = run_nsd(directory, free_port(), server_count, &zone);
    let probe = query(ORIGIN, RecordType::SOA, Transport::UdpPlain).to_vec().unwrap();
    for _ in 0..100 {
        if exchange_udp(nsd.address, &probe).await.is_some() {
            return nsd;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nsd never answered: {}", nsd.log(directory));
}

/// NSD as a secondary of `zone`, transferring it from `primary` and
/// taking NOTIFY from loopback, on `port`.
pub fn start_nsd_secondary(directory: &Path, zone: &str, primary: SocketAddr, port: u16) -> Nsd {
    let dir = directory.display();
    let zone_section = format!(
        "zone:\n  name: {zone}\n  zonefile: \"{dir}/secondary.zone\"\n  \
         request-xfr: {}@{} NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n",
        primary.ip(),
        primary.port()
    );
    run_nsd(directory, port, 1, &zone_section)
}

fn run_nsd(directory: &Path, port: u16, server_count: usize, zone_section: &str) -> Nsd {
    let dir = directory.display();
    std::fs::write(
        directory.join("nsd.conf"),
        format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{dir}\"\n  database: \"\"\n  zonelistfile: \"{dir}/zone.list\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  \
             xfrdir: \"{dir}\"\n  pidfile: \"{dir}/nsd.pid\"\n  logfile: \"{dir}/nsd.log\"\n  server-count: {server_count}\n  \
             verbosity: 1\n  hide-version: yes\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  \
             minimal-responses: yes\n\
             remote-control:\n  control-enable: no\n{zone_section}"
        ),
    )
    .unwrap();
    // Debian puts nsd in /usr/sbin, which a user's PATH may not hold.
    let program = if Path::new("/usr/sbin/nsd").exists() { "/usr/sbin/nsd" } else { "nsd" };
    let child = Command::new(program)
        .args(["-d", "-c"])
        .arg(directory.join("nsd.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(directory.join("nsd.stderr")).unwrap())
        .spawn()
        .expect("nsd runs (Debian's nsd; e2e/install-test-deps.sh installs it)");
    Nsd { child, address: SocketAddr::from(([127, 0, 0, 1], port)) }
}

impl Nsd {
    /// What NSD wrote to stderr and its log, for a failure's message.
    pub fn log(&self, directory: &Path) -> String {
        let read = |name: &str| std::fs::read_to_string(directory.join(name)).unwrap_or_default();
        format!("{}{}", read("nsd.stderr"), read("nsd.log"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Transport {
    /// UDP without EDNS: answers must fit 512 octets.
    UdpPlain,
    /// UDP with EDNS, a 1232-octet buffer.
    UdpEdns,
    /// UDP with EDNS and the DO bit.
    UdpDnssecOk,
    Tcp,
}

pub fn query(name: &str, kind: RecordType, transport: Transport) -> Message {
    let mut message = Message::new(0x2a2a, MessageType::Query, OpCode::Query);
    let mut question = Query::query(Name::from_ascii(name).unwrap(), kind);
    question.set_query_class(DNSClass::IN);
    message.add_query(question);
    if matches!(transport, Transport::UdpEdns | Transport::UdpDnssecOk | Transport::Tcp) {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(transport == Transport::UdpDnssecOk);
        message.set_edns(edns);
    }
    message
}

pub async fn exchange_udp(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buffer = vec![0u8; 65535];
    let received = tokio::time::timeout(Duration::from_millis(1500), socket.recv(&mut buffer)).await.ok()?.ok()?;
    buffer.truncate(received);
    Some(buffer)
}

pub async fn exchange_tcp(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.ok()?;
        let length = u16::try_from(packet.len()).ok()?;
        stream.write_all(&length.to_be_bytes()).await.ok()?;
        stream.write_all(packet).await.ok()?;
        let length = stream.read_u16().await.ok()?;
        let mut buffer = vec![0u8; usize::from(length)];
        stream.read_exact(&mut buffer).await.ok()?;
        Some(buffer)
    };
    tokio::time::timeout(Duration::from_millis(1500), exchange).await.ok()?
}

pub async fn exchange(server: SocketAddr, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
    match transport {
        Transport::Tcp => exchange_tcp(server, packet).await,
        _ => exchange_udp(server, packet).await,
    }
}
