//! Route 53 through `aws-sdk-route53`, boto3 and the AWS CLI against
//! `nubo up`, and the zones they make answered over UDP and TCP, as
//! hickory's resolver and `dig` ask for them.

use std::{net::SocketAddr, time::Duration};

use aws_sdk_route53::{
    Client,
    error::ProvideErrorMetadata,
    types::{Change, ChangeAction, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType},
};
use hickory_resolver::{
    TokioResolver,
    config::{NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
    proto::rr::{RData, RecordType},
};
use nubo_e2e::{
    Nubo,
    dns::{batch, change, record_set},
    fixture, path_with_python_tools, route53_client,
};
use nubo_host::ServiceName;
use serde_json::Value;

fn alias_set(name: &str, zone_id: &str, target: &str, evaluate: bool) -> ResourceRecordSet {
    use aws_sdk_route53::types::AliasTarget;
    let alias = AliasTarget::builder()
        .hosted_zone_id(zone_id)
        .dns_name(target)
        .evaluate_target_health(evaluate)
        .build()
        .unwrap();
    ResourceRecordSet::builder().name(name).r#type(RrType::A).alias_target(alias).build().unwrap()
}

/// A resolver that asks only nubo, over one protocol, and caches nothing.
fn resolver(address: SocketAddr, tcp: bool) -> TokioResolver {
    let mut server = if tcp { NameServerConfig::tcp(address.ip()) } else { NameServerConfig::udp(address.ip()) };
    for connection in &mut server.connections {
        connection.port = address.port();
    }
    let mut builder = TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![server]),
        TokioRuntimeProvider::default(),
    );
    let options = builder.options_mut();
    options.cache_size = 0;
    options.attempts = 1;
    options.timeout = Duration::from_secs(3);
    builder.build().unwrap()
}

/// `dig` at nubo, `+norec` as a resolver asks an authoritative server.
fn dig(address: SocketAddr, args: &[&str]) -> String {
    let output = std::process::Command::new("dig")
        .arg(format!("@{}", address.ip()))
        .args(["-p", &address.port().to_string(), "+norec", "+time=3", "+tries=1"])
        .args(args)
        .output()
        .expect("dig runs (bind9-dnsutils; e2e/install-test-deps.sh installs it)");
    assert!(output.status.success(), "dig {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn wait_in_sync(route53: &Client, change_id: &str) {
    for _ in 0..100 {
        let change = route53.get_change().id(change_id).send().await.unwrap();
        if change.change_info().unwrap().status() == &ChangeStatus::Insync {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("change {change_id} never became INSYNC");
}

async fn addresses(resolver: &TokioResolver, name: &str) -> Vec<String> {
    let lookup = resolver.lookup(name, RecordType::A).await.unwrap_or_else(|error| panic!("{name}: {error}"));
    let mut addresses: Vec<String> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(address) => Some(address.to_string()),
            _ => None,
        })
        .collect();
    addresses.sort();
    addresses
}

#[tokio::test]
async fn sdk_zones_and_record_sets_answered_over_udp_and_tcp() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));

    let created = route53.create_hosted_zone().name("Example.COM").caller_reference("first").send().await.unwrap();
    let zone = created.hosted_zone().unwrap();
    assert_eq!(zone.name(), "example.com.");
    assert!(zone.id().starts_with("/hostedzone/Z"), "{}", zone.id());
    let zone_id = zone.id().to_owned();
    assert_eq!(created.delegation_set().unwrap().name_servers().len(), 4);
    let again = route53.create_hosted_zone().name("example.com").caller_reference("first").send().await;
    assert_eq!(again.unwrap_err().code(), Some("HostedZoneAlreadyExists"));

    let long_first = "a".repeat(200);
    let long_second = "b".repeat(200);
    let txt = format!("\"{long_first}\" \"{long_second}\"");
    let applied = route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(vec![
            change(ChangeAction::Create, record_set("www.example.com", RrType::A, 300, &["192.0.2.10", "192.0.2.11"])),
            change(ChangeAction::Create, record_set("www.example.com", RrType::Aaaa, 300, &["2001:db8::10"])),
            change(ChangeAction::Create, record_set("mail.example.com", RrType::A, 300, &["192.0.2.25"])),
            change(ChangeAction::Create, record_set("example.com", RrType::Mx, 300, &["10 mail.example.com"])),
            change(ChangeAction::Create, record_set("example.com", RrType::Txt, 300, &[&txt])),
            change(ChangeAction::Create, record_set("alias.example.com", RrType::Cname, 60, &["www.example.com"])),
            change(ChangeAction::Create, record_set("*.wild.example.com", RrType::A, 30, &["192.0.2.99"])),
            change(
                ChangeAction::Create,
                record_set("_sip._tcp.example.com", RrType::Srv, 300, &["10 5 5060 mail.example.com"]),
            ),
            change(ChangeAction::Create, record_set("example.com", RrType::Caa, 300, &["0 issue \"ca.example.net\""])),
            change(ChangeAction::Create, alias_set("api.example.com", &zone_id, "www.example.com", true)),
            change(
                ChangeAction::Create,
                alias_set("cdn.example.com", "Z2FDTNDATAQYW2", "d111111abcdef8.cloudfront.net", false),
            ),
        ]))
        .send()
        .await
        .unwrap();
    wait_in_sync(&route53, applied.change_info().unwrap().id()).await;

    // A batch with one bad change is refused whole.
    let refused = route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(vec![
            change(ChangeAction::Create, record_set("new.example.com", RrType::A, 300, &["192.0.2.50"])),
            change(ChangeAction::Delete, record_set("absent.example.com", RrType::A, 300, &["192.0.2.51"])),
        ]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("InvalidChangeBatch"), "{refused:?}");

    // Every record set, three to a page, in Route 53's order.
    let mut listed = Vec::new();
    let (mut name, mut kind) = (None::<String>, None::<RrType>);
    loop {
        let page = route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .max_items(3)
            .set_start_record_name(name.clone())
            .set_start_record_type(kind.clone())
            .send()
            .await
            .unwrap();
        assert!(page.resource_record_sets().len() <= 3);
        listed
            .extend(page.resource_record_sets().iter().map(|set| format!("{} {}", set.name(), set.r#type().as_str())));
        if !page.is_truncated() {
            break;
        }
        name = page.next_record_name().map(str::to_owned);
        kind = page.next_record_type().cloned();
    }
    assert_eq!(
        listed,
        [
            "example.com. CAA",
            "example.com. MX",
            "example.com. NS",
            "example.com. SOA",
            "example.com. TXT",
            "_sip._tcp.example.com. SRV",
            "alias.example.com. CNAME",
            "api.example.com. A",
            "cdn.example.com. A",
            "mail.example.com. A",
            "\\052.wild.example.com. A",
            "www.example.com. A",
            "www.example.com. AAAA",
        ]
    );

    let dns = nubo.dns_address();
    for tcp in [false, true] {
        let resolver = resolver(dns, tcp);
        assert_eq!(addresses(&resolver, "www.example.com.").await, ["192.0.2.10", "192.0.2.11"], "tcp: {tcp}");
        assert_eq!(addresses(&resolver, "alias.example.com.").await, ["192.0.2.10", "192.0.2.11"], "tcp: {tcp}");
        assert_eq!(addresses(&resolver, "anything.wild.example.com.").await, ["192.0.2.99"], "tcp: {tcp}");
        let txt = resolver.lookup("example.com.", RecordType::TXT).await.unwrap();
        let RData::TXT(strings) = &txt.answers()[0].data else { panic!("not TXT: {txt:?}") };
        let strings: Vec<String> = strings.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
        assert_eq!(strings, [long_first.clone(), long_second.clone()], "tcp: {tcp}");
        assert!(resolver.lookup("new.example.com.", RecordType::A).await.is_err(), "the refused batch left nothing");
        // Aliases: to a record of the zone, its records under the alias's
        // name; to a CloudFront distribution, the host nubo serves it on.
        assert_eq!(addresses(&resolver, "api.example.com.").await, ["192.0.2.10", "192.0.2.11"], "tcp: {tcp}");
        let cdn = resolver.lookup("cdn.example.com.", RecordType::A).await.unwrap();
        assert_eq!(cdn.answers().len(), 1);
        assert_eq!((cdn.answers()[0].data.to_string(), cdn.answers()[0].ttl), ("127.0.0.1".to_owned(), 60));
    }

    let answer = dig(dns, &["www.EXAMPLE.com", "A"]);
    assert!(answer.contains("status: NOERROR") && answer.contains("flags: qr aa;"), "{answer}");
    assert!(answer.contains("www.EXAMPLE.com.\t\tIN\tA"), "the question keeps its case: {answer}");
    let short = dig(dns, &["+short", "+tcp", "example.com", "MX"]);
    assert_eq!(short.trim(), "10 mail.example.com.");
    let missing = dig(dns, &["nothing.example.com", "A"]);
    assert!(missing.contains("status: NXDOMAIN") && missing.contains("IN\tSOA"), "{missing}");
    let elsewhere = dig(dns, &["example.org", "A"]);
    assert!(elsewhere.contains("status: REFUSED"), "no recursion, ever: {elsewhere}");

    // Zone transfers only to the addresses `transfer_allow` names: none here.
    let axfr = dig(dns, &["example.com", "AXFR"]);
    assert!(axfr.contains("Transfer failed") && !axfr.contains("IN\tSOA"), "{axfr}");

    // A zone with records cannot go; emptied, it can, and is no longer served.
    let not_empty = route53.delete_hosted_zone().id(&zone_id).send().await.unwrap_err();
    assert_eq!(not_empty.code(), Some("HostedZoneNotEmpty"));
    let sets = route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.unwrap();
    let removals: Vec<Change> = sets
        .resource_record_sets()
        .iter()
        .filter(|set| !matches!(set.r#type(), RrType::Soa | RrType::Ns))
        .map(|set| change(ChangeAction::Delete, set.clone()))
        .collect();
    route53.change_resource_record_sets().hosted_zone_id(&zone_id).change_batch(batch(removals)).send().await.unwrap();
    route53.delete_hosted_zone().id(&zone_id).send().await.unwrap();
    let gone = route53.get_hosted_zone().id(&zone_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("NoSuchHostedZone"));
    assert!(dig(dns, &["www.example.com", "A"]).contains("status: REFUSED"));
}

#[tokio::test]
async fn a_change_is_answered_within_a_second() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let route53 = route53_client(&nubo.edge_url());
    let zone = route53.create_hosted_zone().name("fast.example").caller_reference("fast").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let resolver = resolver(nubo.dns_address(), false);
    for round in 1..=5 {
        let value = format!("203.0.113.{round}");
        let upsert = change(ChangeAction::Upsert, record_set("api.fast.example", RrType::A, 5, &[&value]));
        let started = std::time::Instant::now();
        route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .change_batch(batch(vec![upsert]))
            .send()
            .await
            .unwrap();
        loop {
            if resolver.lookup("api.fast.example.", RecordType::A).await.is_ok_and(|lookup| {
                lookup.answers().iter().any(|record| matches!(&record.data, RData::A(a) if a.to_string() == value))
            }) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(1), "round {round}: not answered within a second");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn boto3_and_the_cli_drive_the_same_api() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let boto = std::process::Command::new("python3")
        .arg(fixture("dns/boto3_zones.py"))
        .arg(nubo.http_url(ServiceName::Dns))
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["comment"], "from boto3");
    assert_eq!(answer["name_servers"].as_array().unwrap().len(), 4);
    assert_eq!(answer["refused"]["code"], "InvalidChangeBatch");
    let listed: Vec<String> = answer["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| format!("{} {}", pair[0].as_str().unwrap(), pair[1].as_str().unwrap()))
        .collect();
    let mut expected = vec!["boto.example. NS".to_owned(), "boto.example. SOA".into(), "boto.example. TXT".into()];
    expected.extend((1..8).map(|n| format!("host{n}.boto.example. A")));
    assert_eq!(listed, expected, "the paginator walks every page once");
    let zone_id = answer["zone_id"].as_str().unwrap().to_owned();

    // The CLI through the edge, as `AWS_ENDPOINT_URL` users have it.
    let cli = |args: &[&str]| -> Value {
        let output = nubo_e2e::aws_cli(state.path(), Some(&nubo.edge_url())).args(args).output().unwrap();
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    };
    let zones = cli(&["route53", "list-hosted-zones-by-name", "--dns-name", "boto.example"]);
    assert_eq!(zones["HostedZones"][0]["Id"], zone_id.as_str());
    let change_file = state.path().join("batch.json");
    std::fs::write(
        &change_file,
        serde_json::json!({"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "cli.boto.example", "Type": "TXT", "TTL": 60,
            "ResourceRecords": [{"Value": "\"from the cli\""}]}}]})
        .to_string(),
    )
    .unwrap();
    let changed = cli(&[
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        &zone_id,
        "--change-batch",
        &format!("file://{}", change_file.display()),
    ]);
    let change_id = changed["ChangeInfo"]["Id"].as_str().unwrap().to_owned();
    cli(&["route53", "wait", "resource-record-sets-changed", "--id", &change_id]);
    let sets = cli(&["route53", "list-resource-record-sets", "--hosted-zone-id", &zone_id]);
    assert!(sets["ResourceRecordSets"].as_array().unwrap().iter().any(|set| set["Name"] == "cli.boto.example."));
    let txt = dig(nubo.dns_address(), &["+short", "cli.boto.example", "TXT"]);
    assert_eq!(txt.trim(), "\"from the cli\"");
    let count = cli(&["route53", "get-hosted-zone-count"]);
    assert_eq!(count["HostedZoneCount"], 1);
}

fn routed_set(name: &str, value: &str, identifier: &str) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .ttl(5)
        .set_identifier(identifier)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
}

/// The A record's address of one query.
async fn one_address(resolver: &TokioResolver, name: &str) -> String {
    let found = addresses(resolver, name).await;
    assert_eq!(found.len(), 1, "one answer at a time: {found:?}");
    found[0].clone()
}

#[tokio::test]
async fn weighted_answers_follow_their_weights() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));
    let zone = route53.create_hosted_zone().name("weights.example").caller_reference("w").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let weights = [("192.0.2.1", 1), ("192.0.2.2", 2), ("192.0.2.3", 7)];
    let changes = weights
        .iter()
        .map(|(value, weight)| {
            let set = routed_set("api.weights.example", value, &format!("w{weight}")).weight(*weight).build().unwrap();
            change(ChangeAction::Create, set)
        })
        .collect();
    route53.change_resource_record_sets().hosted_zone_id(&zone_id).change_batch(batch(changes)).send().await.unwrap();

    let resolver = resolver(nubo.dns_address(), false);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..1000 {
        *counts.entry(one_address(&resolver, "api.weights.example.").await).or_default() += 1;
    }
    for (value, weight) in weights {
        let share = counts.get(value).copied().unwrap_or(0) as f64 / 1000.0;
        let expected = weight as f64 / 10.0;
        assert!((share - expected).abs() <= 0.05, "{value}: {share} of answers, weight share {expected}: {counts:?}");
    }
}

/// A tiny HTTP target for a health check: 200 to every request.
async fn healthy_target(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
        });
    }
}

#[tokio::test]
async fn failover_follows_the_health_of_the_primary() {
    use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType, ResourceRecordSetFailover};
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));
    let port = nubo_e2e::free_port();
    let target = tokio::spawn(healthy_target(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap()));

    let check = route53
        .create_health_check()
        .caller_reference("primary-check")
        .health_check_config(
            HealthCheckConfig::builder()
                .ip_address("127.0.0.1")
                .port(i32::from(port))
                .r#type(HealthCheckType::Http)
                .resource_path("/health")
                .request_interval(10)
                .failure_threshold(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let check_id = check.health_check().unwrap().id().to_owned();
    let again = route53.get_health_check().health_check_id(&check_id).send().await.unwrap();
    assert_eq!(again.health_check().unwrap().health_check_config().unwrap().port(), Some(i32::from(port)));

    let zone = route53.create_hosted_zone().name("failover.example").caller_reference("f").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let primary = routed_set("app.failover.example", "192.0.2.10", "primary")
        .failover(ResourceRecordSetFailover::Primary)
        .health_check_id(&check_id)
        .build()
        .unwrap();
    let secondary = routed_set("app.failover.example", "192.0.2.20", "secondary")
        .failover(ResourceRecordSetFailover::Secondary)
        .build()
        .unwrap();
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(vec![change(ChangeAction::Create, primary), change(ChangeAction::Create, secondary)]))
        .send()
        .await
        .unwrap();

    let resolver = resolver(nubo.dns_address(), false);
    let name = "app.failover.example.";
    assert_eq!(one_address(&resolver, name).await, "192.0.2.10");
    let wait_for = |expected: &'static str, what: &'static str| {
        let resolver = &resolver;
        async move {
            // One interval (10 s) for the next probe, one failure to flip.
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while one_address(resolver, name).await != expected {
                assert!(std::time::Instant::now() < deadline, "{what}: the answer did not flip within an interval");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // The primary's target stops answering: the secondary takes over.
    target.abort();
    let _ = target.await;
    wait_for("192.0.2.20", "primary down").await;
    let status = route53.get_health_check_status().health_check_id(&check_id).send().await.unwrap();
    let report = status.health_check_observations()[0].status_report().unwrap().status().unwrap().to_owned();
    assert!(report.starts_with("Failure"), "{report}");

    // And back when it answers again.
    let target = tokio::spawn(healthy_target(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap()));
    wait_for("192.0.2.10", "primary back").await;
    let status = route53.get_health_check_status().health_check_id(&check_id).send().await.unwrap();
    let report = status.health_check_observations()[0].status_report().unwrap().status().unwrap().to_owned();
    assert!(report.starts_with("Success: HTTP Status Code 200"), "{report}");
    target.abort();
    route53.delete_health_check().health_check_id(&check_id).send().await.unwrap();
    let gone = route53.get_health_check().health_check_id(&check_id).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("NoSuchHealthCheck"));
}

#[tokio::test]
async fn a_client_past_the_rate_limit_gets_truncated_answers_or_none() {
    use nubo_e2e::dns::{Transport, query};
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(state.path(), &[("NUBO_DNS__RATE_LIMIT", "5"), ("NUBO_DNS__RATE_LIMIT_SLIP", "2")]).await;
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));
    let zone = route53.create_hosted_zone().name("limited.example").caller_reference("rrl").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let set = record_set("www.limited.example", RrType::A, 60, &["192.0.2.1"]);
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(vec![change(ChangeAction::Create, set)]))
        .send()
        .await
        .unwrap();
    // Twenty queries at once from one socket, then whatever comes back.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for id in 0..20u16 {
        let mut message = query("www.limited.example.", RecordType::A, Transport::UdpPlain);
        message.metadata.id = id;
        socket.send_to(&message.to_vec().unwrap(), nubo.dns_address()).await.unwrap();
    }
    let (mut full, mut truncated) = (0u32, 0u32);
    let mut buffer = [0u8; 1500];
    while let Ok(Ok(length)) = tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buffer)).await {
        let reply = hickory_resolver::proto::op::Message::from_vec(&buffer[..length]).unwrap();
        if reply.metadata.truncation {
            truncated += 1;
        } else {
            full += 1;
        }
    }
    let dropped = 20 - full - truncated;
    // Five a second: the burst may straddle two of the limiter's seconds,
    // so five to ten go out whole; of the rest every second one goes out
    // truncated and the others not at all.
    let seen = format!("{full} full answers, {truncated} truncated, {dropped} dropped");
    assert!((5..=10).contains(&full), "{seen}");
    assert!(truncated >= 2 && dropped >= 2, "{seen}");
    // TCP is not limited: a truncated client gets its answer there.
    assert_eq!(dig(nubo.dns_address(), &["+short", "+tcp", "www.limited.example", "A"]).trim(), "192.0.2.1");
}
