//! DNSSEC signing through `aws-sdk-route53` against `nubo up`: a zone
//! signed with CreateKeySigningKey and EnableHostedZoneDNSSEC, its KSK read
//! back with GetDNSSEC and given to `delv` as the trust anchor, which then
//! validates a positive answer, a wildcard answer, an NXDOMAIN and a NODATA.

use std::net::SocketAddr;

use aws_sdk_route53::{
    error::ProvideErrorMetadata,
    types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType},
};
use nubo_e2e::{Nubo, route53_client};
use nubo_host::ServiceName;

const ZONE: &str = "signed.example.";
const KMS_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-000000000001";

fn record_set(name: &str, kind: RrType, values: &[&str]) -> ResourceRecordSet {
    let mut set = ResourceRecordSet::builder().name(name).r#type(kind).ttl(300);
    for value in values {
        set = set.resource_records(ResourceRecord::builder().value(*value).build().unwrap());
    }
    set.build().unwrap()
}

fn create(set: ResourceRecordSet) -> Change {
    Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap()
}

/// `delv` at nubo, trusting `anchor` for the zone only.
fn delv(address: SocketAddr, anchor: &std::path::Path, name: &str, kind: &str) -> String {
    let output = std::process::Command::new("delv")
        .arg(format!("@{}", address.ip()))
        .args(["-p", &address.port().to_string(), "-a"])
        .arg(anchor)
        .arg(format!("+root={ZONE}"))
        .args(["+nortrace", "+tcp", name, kind])
        .output()
        .expect("delv runs");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test]
async fn signed_answers_validate_with_the_key_get_dnssec_gives() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let route53 = route53_client(&nubo.http_url(ServiceName::Dns));

    let zone = route53.create_hosted_zone().name(ZONE).caller_reference("signed-1").send().await.unwrap();
    let zone_id = zone.hosted_zone().unwrap().id().to_owned();
    let changes = vec![
        create(record_set("www.signed.example.", RrType::A, &["192.0.2.1", "192.0.2.2"])),
        create(record_set("*.wild.signed.example.", RrType::Txt, &["\"any\""])),
        create(record_set("deep.a.b.signed.example.", RrType::A, &["192.0.2.9"])),
        create(record_set("child.signed.example.", RrType::Ns, &["ns.child.signed.example."])),
        create(record_set("ns.child.signed.example.", RrType::A, &["192.0.2.53"])),
    ];
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(ChangeBatch::builder().set_changes(Some(changes)).build().unwrap())
        .send()
        .await
        .unwrap();

    // Signing needs an active key first.
    let refused = route53.enable_hosted_zone_dnssec().hosted_zone_id(&zone_id).send().await.unwrap_err();
    assert_eq!(refused.code(), Some("KeySigningKeyWithActiveStatusNotFound"), "{refused:?}");
    let bad_arn = route53
        .create_key_signing_key()
        .caller_reference("k0")
        .hosted_zone_id(&zone_id)
        .key_management_service_arn("not-an-arn")
        .name("ksk_bad")
        .status("ACTIVE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_arn.code(), Some("InvalidKMSArn"));

    let created = route53
        .create_key_signing_key()
        .caller_reference("k1")
        .hosted_zone_id(&zone_id)
        .key_management_service_arn(KMS_ARN)
        .name("ksk_1")
        .status("ACTIVE")
        .send()
        .await
        .unwrap();
    let key = created.key_signing_key().unwrap();
    assert_eq!(key.flag(), 257);
    assert_eq!(key.signing_algorithm_mnemonic(), Some("ECDSAP256SHA256"));
    let again = route53
        .create_key_signing_key()
        .caller_reference("k2")
        .hosted_zone_id(&zone_id)
        .key_management_service_arn(KMS_ARN)
        .name("ksk_1")
        .status("ACTIVE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("KeySigningKeyAlreadyExists"));

    route53.enable_hosted_zone_dnssec().hosted_zone_id(&zone_id).send().await.unwrap();
    let dnssec = route53.get_dnssec().hosted_zone_id(&zone_id).send().await.unwrap();
    assert_eq!(dnssec.status().unwrap().serve_signature(), Some("SIGNING"));
    let keys = dnssec.key_signing_keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status(), Some("ACTIVE"));
    let dnskey = keys[0].dnskey_record().unwrap().to_owned();
    assert!(dnskey.starts_with("257 3 13 "), "{dnskey}");
    let ds = keys[0].ds_record().unwrap();
    assert!(ds.starts_with(&format!("{} 13 2 ", keys[0].key_tag())), "{ds}");

    // The only active key of a signing zone stays; an active key is not deleted.
    let in_use = route53.deactivate_key_signing_key().hosted_zone_id(&zone_id).name("ksk_1").send().await.unwrap_err();
    assert_eq!(in_use.code(), Some("KeySigningKeyInUse"));
    let active = route53.delete_key_signing_key().hosted_zone_id(&zone_id).name("ksk_1").send().await.unwrap_err();
    assert_eq!(active.code(), Some("InvalidKeySigningKeyStatus"));
    let missing = route53.activate_key_signing_key().hosted_zone_id(&zone_id).name("nope").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchKeySigningKey"));

    let key_text = dnskey.trim_start_matches("257 3 13 ");
    let anchor = state.path().join("anchor.conf");
    std::fs::write(&anchor, format!("trust-anchors {{ {ZONE} static-key 257 3 13 \"{key_text}\"; }};\n")).unwrap();
    let address = nubo.dns_address();
    for (name, kind, expect) in [
        ("www.signed.example.", "A", "192.0.2.1"),
        ("signed.example.", "DNSKEY", "DNSKEY"),
        ("anything.wild.signed.example.", "TXT", "\"any\""),
        ("nope.signed.example.", "A", "resolution failed: ncache nxdomain"),
        ("www.signed.example.", "TXT", "resolution failed: ncache nxrrset"),
        // An empty non-terminal: the NSEC covering it, whose next name is
        // below it (RFC 4035 §3.1.3.1 with RFC 8020's reading).
        ("a.signed.example.", "A", "; negative response, fully validated"),
        ("x.wild.signed.example.", "A", "resolution failed: ncache nxrrset"),
        ("child.signed.example.", "DS", "resolution failed: ncache nxrrset"),
    ] {
        let output = delv(address, &anchor, name, kind);
        assert!(output.contains(expect), "{name} {kind}: {output}");
        // delv says "; fully validated" for an answer and
        // "; negative response, fully validated" for a proven denial.
        assert!(output.contains("fully validated"), "{name} {kind}: {output}");
    }

    // Disabled, nothing is signed, and the key may go once deactivated.
    route53.disable_hosted_zone_dnssec().hosted_zone_id(&zone_id).send().await.unwrap();
    let dnssec = route53.get_dnssec().hosted_zone_id(&zone_id).send().await.unwrap();
    assert_eq!(dnssec.status().unwrap().serve_signature(), Some("NOT_SIGNING"));
    route53.deactivate_key_signing_key().hosted_zone_id(&zone_id).name("ksk_1").send().await.unwrap();
    let dnssec = route53.get_dnssec().hosted_zone_id(&zone_id).send().await.unwrap();
    assert_eq!(dnssec.key_signing_keys()[0].status(), Some("INACTIVE"));
    route53.delete_key_signing_key().hosted_zone_id(&zone_id).name("ksk_1").send().await.unwrap();
    let output = delv(address, &anchor, "www.signed.example.", "A");
    assert!(!output.contains("fully validated"), "{output}");
}
