//! The dns benchmark of SPEC §3 (≥ NSD's queries/s under dnsperf), against
//! `nubo up` and side by side with NSD (Debian) in the same run, on the same
//! zone (`e2e/fixtures/dns/differential.zone`, loaded into nubo through the
//! Route 53 API) and the same query file: every name of the zone with its
//! types, names below wildcards and delegations, and names that do not
//! exist, so answers, referrals, wildcard syntheses and NXDOMAINs are all
//! in the mix. `dnsperf` runs closed-loop over UDP from one thread with
//! `--clients` sockets for `--seconds`, first against nubo, then NSD (with
//! as many server processes as the machine has cores, as nubo uses them
//! all), then hickory-server's own stack (`Server` with its `Catalog` and
//! file zone handler, on this process's runtime of as many threads) on the
//! same zone file: the measurement behind nubo answering with its own
//! loop rather than through `hickory_server::Server`. Each figure is
//! printed with its ratio to NSD.
//!
//! `make bench-dns` builds nubo and this in release mode, installs NSD and
//! dnsperf from apt when missing, and runs it. Environment: `NUBO_BIN`.

use std::{process::Command, sync::Arc, time::Duration};

use nubo_e2e::{
    Nubo,
    dns::{ORIGIN, fixture_sets, load_into_nubo, start_nsd},
    fixture,
};

fn argument(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The query file: `name type` lines, the zone's own record sets first.
fn queries(zone_text: &str) -> String {
    let mut lines: Vec<String> = fixture_sets(zone_text)
        .into_keys()
        .filter(|(name, _)| !name.starts_with('*'))
        .map(|(name, kind)| format!("{name} {kind}"))
        .collect();
    for missing in ["nothing", "host999", "a.b.c.nothing"] {
        lines.push(format!("{missing}.{ORIGIN} A"));
    }
    for synthesized in ["x.wild", "y.wild", "foo.cn"] {
        lines.push(format!("{synthesized}.{ORIGIN} A"));
    }
    for referral in ["www.sub", "x.out"] {
        lines.push(format!("{referral}.{ORIGIN} A"));
    }
    lines.push(format!("c1.{ORIGIN} A"));
    lines.join("\n") + "\n"
}

/// Queries per second and average latency, from dnsperf's report.
fn dnsperf(address: std::net::SocketAddr, file: &std::path::Path, seconds: u64, clients: u64) -> (f64, String) {
    let output = Command::new("dnsperf")
        .args(["-s", &address.ip().to_string(), "-p", &address.port().to_string()])
        .args(["-d", file.to_str().expect("a utf-8 path"), "-l", &seconds.to_string(), "-c", &clients.to_string()])
        .args(["-T", "1", "-q", "500"])
        .output()
        .expect("dnsperf runs (Debian's dnsperf; make bench-dns installs it)");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let qps = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Queries per second:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!("no figure in dnsperf's report:\n{report}{}", String::from_utf8_lossy(&output.stderr))
        });
    let latency = report
        .lines()
        .find(|line| line.trim().starts_with("Average Latency"))
        .map(|line| line.trim().to_owned())
        .unwrap_or_default();
    let lost = report.lines().find(|line| line.trim().starts_with("Queries lost")).map(|l| l.trim().to_owned());
    (qps, format!("{latency}; {}", lost.unwrap_or_default()))
}

/// hickory-server answering the zone file on a loopback port until the
/// process ends: its `Server`, `Catalog` and file zone handler, as its
/// documentation sets an authoritative server up.
fn start_hickory(zone_file: &std::path::Path) -> std::net::SocketAddr {
    use hickory_server::{
        Server,
        proto::rr::{LowerName, Name},
        store::file::{FileConfig, FileZoneHandler},
        zone_handler::{AxfrPolicy, Catalog, ZoneType},
    };
    let origin = Name::from_ascii(ORIGIN).expect("the origin");
    let config = FileConfig { zone_path: zone_file.to_owned() };
    let handler = FileZoneHandler::try_from_config(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny, None, &config)
        .expect("hickory reads the zone file");
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
    socket.set_nonblocking(true).expect("a non-blocking socket");
    let address = socket.local_addr().expect("its address");
    let mut server = Server::new(catalog);
    server.register_socket(tokio::net::UdpSocket::from_std(socket).expect("a tokio socket"));
    tokio::spawn(async move {
        let _ = server.block_until_done().await;
    });
    address
}

#[tokio::main]
async fn main() {
    let seconds = argument("--seconds", 10);
    let clients = argument("--clients", 8);
    let state = tempfile::tempdir().expect("a temporary directory");
    let zone_text = std::fs::read_to_string(fixture("dns/differential.zone")).expect("the fixture zone");
    let nubo = Nubo::up(&state.path().join("nubo")).await;
    let serial = load_into_nubo(&nubo, &zone_text).await;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let nsd_dir = state.path().join("nsd");
    std::fs::create_dir_all(&nsd_dir).expect("NSD's directory");
    let nsd = start_nsd(&nsd_dir, &zone_text, &serial, cores).await;
    let file = state.path().join("queries.txt");
    std::fs::write(&file, queries(&zone_text)).expect("the query file");
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!("dnsperf, UDP, {clients} sockets, {seconds} s each, same zone and query file ({cores} cores)");
    let (ours, our_detail) = dnsperf(nubo.dns_address(), &file, seconds, clients);
    println!("  nubo  {ours:>10.0} queries/s  ({our_detail})");
    let (theirs, their_detail) = dnsperf(nsd.address, &file, seconds, clients);
    println!("  NSD   {theirs:>10.0} queries/s  ({their_detail})");
    drop(nsd);
    // hickory's zone parser knows no SPF: the zone as it can read it.
    let hickory_zone = state.path().join("hickory.zone");
    let readable: String = std::fs::read_to_string(nsd_dir.join("diff.example.zone"))
        .expect("the zone NSD served")
        .lines()
        .filter(|line| !line.contains("\tSPF\t"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&hickory_zone, readable).expect("the hickory zone file");
    let hickory = start_hickory(&hickory_zone);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (hickory_qps, hickory_detail) = dnsperf(hickory, &file, seconds, clients);
    println!("  hickory-server {hickory_qps:>10.0} queries/s  ({hickory_detail})");
    println!("  nubo ÷ NSD: {:.2}×   hickory-server ÷ NSD: {:.2}×", ours / theirs, hickory_qps / theirs);
}
