//! Two dns replicas over one data service, each its own `nubo serve`
//! process as compose runs them: a change made through either replica's
//! Route 53 API is answered by both within a second, GetChange turns
//! INSYNC only once both serve it, and a deleted zone leaves both.

use std::{collections::BTreeMap, time::Duration};

use aws_sdk_route53::types::{ChangeAction, ChangeBatch, ChangeStatus, RrType};
use hickory_resolver::proto::{
    op::{Message, ResponseCode},
    rr::RecordType,
};
use nubo_e2e::{
    Ports, Process, ServiceName, credentials,
    dns::{Transport, batch, change as dns_change, query, record_set, upsert_a},
    try_wait_healthy,
};

const KEY: &str = "AKIDREPLICAS";
const SECRET: &str = "replica-secret";

fn route53(endpoint: &str) -> aws_sdk_route53::Client {
    nubo_e2e::route53_client_with(endpoint, credentials(KEY, SECRET))
}

/// One query with a short wait, so a lost datagram costs a retry, not the
/// deadline.
async fn ask(dns: std::net::SocketAddr, name: &str, kind: RecordType) -> Option<Message> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
    socket.send_to(&query(name, kind, Transport::UdpPlain).to_vec().unwrap(), dns).await.ok()?;
    let mut buffer = [0u8; 1500];
    let length = tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut buffer)).await.ok()?.ok()?;
    Message::from_vec(&buffer[..length]).ok()
}

/// The address `name` A answers with at one replica, if any.
async fn answer(dns: std::net::SocketAddr, name: &str) -> Option<String> {
    ask(dns, name, RecordType::A).await?.answers.first().map(|record| record.data.to_string())
}

async fn status(api: &aws_sdk_route53::Client, change_id: &str) -> ChangeStatus {
    api.get_change().id(change_id).send().await.unwrap().change_info().unwrap().status().clone()
}

/// Waits (five seconds at most) for a change to be INSYNC.
async fn wait_in_sync(api: &aws_sdk_route53::Client, change_id: &str) {
    for _ in 0..100 {
        if status(api, change_id).await == ChangeStatus::Insync {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{change_id} never became INSYNC");
}

fn upsert(value: &str) -> ChangeBatch {
    upsert_a("www.replicated.example", 5, value)
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_reach_every_replica_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::write(dir.path().join("cluster-token"), "cluster-token-0123456789").unwrap();
    let common = |name: &str| -> Vec<(String, String)> {
        vec![
            ("NUBO_BIND_HOST".into(), "127.0.0.1".into()),
            ("NUBO_STATE_DIR".into(), dir.path().join(name).to_str().unwrap().into()),
            ("NUBO_CREDENTIALS__ACCESS_KEY_ID".into(), KEY.into()),
            ("NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE".into(), secret.to_str().unwrap().into()),
            ("NUBO_CLUSTER__TOKEN_FILE".into(), dir.path().join("cluster-token").to_str().unwrap().into()),
        ]
    };
    let data_ports = Ports::free(ServiceName::Data);
    let mut data_env = common("data");
    data_env.extend(data_ports.env(ServiceName::Data));
    data_env.push(("NUBO_DATA__ENGINE".into(), "embedded".into()));
    let mut data = Process::spawn(&["serve", "--services", "data"], &data_env, dir.path().join("data.log"));
    try_wait_healthy(&mut data, &format!("http://127.0.0.1:{}", data_ports.http)).await.expect("data starts");

    let mut replicas = Vec::new();
    for name in ["dns-a", "dns-b"] {
        let ports = Ports::free(ServiceName::Dns);
        let mut env = common(name);
        env.extend(ports.env(ServiceName::Dns));
        env.push(("NUBO_LINKS__DATA".into(), format!("http://127.0.0.1:{}", data_ports.grpc)));
        let mut process = Process::spawn(&["serve", "--services", "dns"], &env, dir.path().join(format!("{name}.log")));
        try_wait_healthy(&mut process, &format!("http://127.0.0.1:{}", ports.http)).await.expect("dns starts");
        let dns = std::net::SocketAddr::from(([127, 0, 0, 1], ports.dns.unwrap()));
        replicas.push((process, route53(&format!("http://127.0.0.1:{}", ports.http)), dns));
    }

    let (first, second) = (&replicas[0], &replicas[1]);
    let zone = first.1.create_hosted_zone().name("replicated.example").caller_reference("r").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let change = |writer: &aws_sdk_route53::Client, batch: ChangeBatch| {
        let (writer, zone_id) = (writer.clone(), zone_id.clone());
        async move {
            let changed =
                writer.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch).send().await.unwrap();
            changed.change_info().unwrap().id().to_owned()
        }
    };
    let mut seen: BTreeMap<&str, Duration> = BTreeMap::new();
    for (round, value) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].into_iter().enumerate() {
        // Alternate the replica that takes the change.
        let writer = if round % 2 == 0 { first } else { second };
        let change_id = change(&writer.1, upsert(value)).await;
        // Timed from the acknowledgement: what a client can observe.
        let started = std::time::Instant::now();
        for (_, _, dns) in &replicas {
            while answer(*dns, "www.replicated.example.").await.as_deref() != Some(value) {
                assert!(started.elapsed() < Duration::from_secs(1), "{value} not answered by {dns} within a second");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        seen.insert(value, started.elapsed());
        // INSYNC once every replica serves it; asked of both replicas.
        for (_, api, _) in &replicas {
            wait_in_sync(api, &change_id).await;
        }
    }
    eprintln!("answered by both replicas after: {seen:?}");

    // A change is PENDING while one replica does not serve it: the second
    // replica is stopped (SIGSTOP, so its heartbeat is still fresh), then
    // let go, and only then does the change turn INSYNC.
    let frozen = nix::unistd::Pid::from_raw(i32::try_from(second.0.id()).unwrap());
    nix::sys::signal::kill(frozen, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let change_id = change(&first.1, upsert("192.0.2.4")).await;
    for _ in 0..5 {
        let current = status(&first.1, &change_id).await;
        if current != ChangeStatus::Pending {
            nix::sys::signal::kill(frozen, nix::sys::signal::Signal::SIGCONT).unwrap();
            panic!("{current:?} while a replica does not serve the change");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    nix::sys::signal::kill(frozen, nix::sys::signal::Signal::SIGCONT).unwrap();
    wait_in_sync(&first.1, &change_id).await;
    assert_eq!(answer(second.2, "www.replicated.example.").await.as_deref(), Some("192.0.2.4"));

    // A zone deleted through one replica stops being served by both.
    let removal = record_set("www.replicated.example", RrType::A, 5, &["192.0.2.4"]);
    let batch = batch(vec![dns_change(ChangeAction::Delete, removal)]);
    change(&second.1, batch).await;
    second.1.delete_hosted_zone().id(&zone_id).send().await.unwrap();
    let started = std::time::Instant::now();
    for (_, _, dns) in &replicas {
        loop {
            let reply = ask(*dns, "replicated.example.", RecordType::SOA).await;
            if reply.is_some_and(|reply| reply.metadata.response_code == ResponseCode::Refused) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(1), "the deleted zone is still served by {dns}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    drop(replicas);
    data.stop();
}
