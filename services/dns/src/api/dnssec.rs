//! DNSSEC signing: GetDNSSEC, EnableHostedZoneDNSSEC,
//! DisableHostedZoneDNSSEC, and the key-signing keys (CreateKeySigningKey,
//! ActivateKeySigningKey, DeactivateKeySigningKey, DeleteKeySigningKey).
//!
//! Route 53 signs with a key-signing key kept in KMS; nubo has no KMS, so
//! any well-formed KMS key ARN of `us-east-1` (where Route 53 requires the
//! key) is taken and kept, and the key itself is made and kept by nubo:
//! ECDSA P-256 (algorithm 13, ECDSAP256SHA256, as Route 53's keys are).
//! The zone-signing key is made by nubo with the first
//! EnableHostedZoneDNSSEC, as Route 53 manages its ZSK itself.
//!
//! Every change raises the zone's serial: the authority signs the zone
//! anew when it compiles it.

use actix_web::{HttpResponse, http::StatusCode};
use nubo_host::front::AwsError;
use serde::Deserialize;

use super::{
    Call,
    errors::Result,
    ok,
    operation::trim_id,
    render, reply,
    xml::{self, Xml, missing, timestamp},
};
use crate::{
    authority::dnssec::{ALGORITHM, KSK_FLAGS, Key, generate_key},
    model::{Dnssec, KeySigningKey, Zone},
    store::{StoreError, Zones, now_iso8601},
};

/// Route 53 allows two key-signing keys per zone.
const MAX_KEYS: usize = 2;

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Dnssec { status, code, message: message.into() }
}

fn no_such_key(name: &str) -> StoreError {
    refused(404, "NoSuchKeySigningKey", format!("The specified key-signing key ({name}) doesn't exist."))
}

pub async fn get(zones: &Zones, id: &str) -> Result<HttpResponse> {
    let zone = zones.zone(trim_id(id, "hostedzone")).await?;
    let mut xml = Xml::document("GetDNSSECResponse");
    xml.open("Status").element("ServeSignature", if zone.dnssec.signing { "SIGNING" } else { "NOT_SIGNING" }).close();
    xml.open("KeySigningKeys");
    for key in &zone.dnssec.key_signing_keys {
        xml.open("member");
        key_signing_key(&mut xml, &zone, key);
        xml.close();
    }
    xml.close();
    ok(xml)
}

pub async fn enable(zones: &Zones, id: &str) -> Result<HttpResponse> {
    let (_, change) = zones
        .change_dnssec(trim_id(id, "hostedzone"), |dnssec| {
            if !dnssec.key_signing_keys.iter().any(|key| key.active) {
                return Err(refused(
                    400,
                    "KeySigningKeyWithActiveStatusNotFound",
                    "A key-signing key (KSK) with ACTIVE status wasn't found.",
                ));
            }
            let zone_signing_key = match &dnssec.zone_signing_key {
                Some(key) => key.clone(),
                None => generate_key().map_err(|error| StoreError::Corrupt(error.to_string()))?,
            };
            Ok(Dnssec { signing: true, zone_signing_key: Some(zone_signing_key), ..dnssec.clone() })
        })
        .await?;
    change_info("EnableHostedZoneDNSSECResponse", &change)
}

pub async fn disable(zones: &Zones, id: &str) -> Result<HttpResponse> {
    let (_, change) = zones
        .change_dnssec(trim_id(id, "hostedzone"), |dnssec| {
            if !dnssec.signing && dnssec.key_signing_keys.is_empty() {
                return Err(refused(400, "DNSSECNotFound", "The hosted zone doesn't have any DNSSEC resources."));
            }
            Ok(Dnssec { signing: false, ..dnssec.clone() })
        })
        .await?;
    change_info("DisableHostedZoneDNSSECResponse", &change)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeySigningKeyRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "CallerReference")]
    caller_reference: Option<String>,
    #[serde(rename = "HostedZoneId")]
    hosted_zone_id: Option<String>,
    #[serde(rename = "KeyManagementServiceArn")]
    kms_arn: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
}

/// A CreateKeySigningKey request, checked: zone id and the key as kept.
fn create_request(body: &[u8]) -> std::result::Result<(String, KeySigningKey), AwsError> {
    const ROOT: &str = "CreateKeySigningKeyRequest";
    let request: CreateKeySigningKeyRequest = xml::parse(body, ROOT)?;
    let caller_reference = request.caller_reference.ok_or_else(|| missing(ROOT, "CallerReference"))?;
    let zone_id = request.hosted_zone_id.ok_or_else(|| missing(ROOT, "HostedZoneId"))?;
    let kms_arn = request.kms_arn.ok_or_else(|| missing(ROOT, "KeyManagementServiceArn"))?;
    let name = request.name.ok_or_else(|| missing(ROOT, "Name"))?;
    let status = request.status.ok_or_else(|| missing(ROOT, "Status"))?;
    if caller_reference.is_empty() || caller_reference.chars().count() > 128 {
        return Err(AwsError::new(400, "InvalidInput", "CallerReference must be 1 to 128 characters long."));
    }
    check_name(&name)?;
    if !valid_kms_arn(&kms_arn) {
        return Err(AwsError::new(
            400,
            "InvalidKMSArn",
            format!("The KeyManagementServiceArn {kms_arn} is not a KMS key ARN in us-east-1."),
        ));
    }
    let active = match status.as_str() {
        "ACTIVE" => true,
        "INACTIVE" => false,
        other => {
            return Err(AwsError::new(
                400,
                "InvalidKeySigningKeyStatus",
                format!("The key-signing key status {other} is not valid: it must be ACTIVE or INACTIVE."),
            ));
        }
    };
    let private_key = generate_key().map_err(|error| AwsError::new(500, "InternalFailure", error.to_string()))?;
    let now = now_iso8601();
    let key = KeySigningKey {
        name,
        kms_arn,
        caller_reference,
        active,
        private_key,
        created: now.clone(),
        last_modified: now,
    };
    Ok((trim_id(&zone_id, "hostedzone").to_owned(), key))
}

/// Route 53's rule for a key-signing key's name: 3 to 128 letters, digits
/// and underscores.
fn check_name(name: &str) -> std::result::Result<(), AwsError> {
    let valid =
        (3..=128).contains(&name.len()) && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if valid {
        return Ok(());
    }
    Err(AwsError::new(
        400,
        "InvalidKeySigningKeyName",
        format!("The key-signing key name {name} is not valid: use 3 to 128 letters, numbers and underscores."),
    ))
}

/// `arn:aws:kms:us-east-1:<12 digits>:key/<id>`: nubo has no KMS to ask,
/// so the form alone is checked.
fn valid_kms_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:kms:us-east-1:") else { return false };
    let Some((account, key)) = rest.split_once(":key/") else { return false };
    account.len() == 12
        && account.bytes().all(|byte| byte.is_ascii_digit())
        && !key.is_empty()
        && key.len() <= 256
        && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

pub async fn create_key(zones: &Zones, call: &Call<'_>) -> Result<HttpResponse> {
    let (zone_id, key) = create_request(call.body)?;
    let (zone, change) = zones
        .change_dnssec(&zone_id, |dnssec| {
            if dnssec.key_signing_keys.iter().any(|existing| existing.name == key.name) {
                return Err(refused(
                    409,
                    "KeySigningKeyAlreadyExists",
                    format!("A key-signing key with the name {} already exists.", key.name),
                ));
            }
            if dnssec.key_signing_keys.len() >= MAX_KEYS {
                return Err(refused(
                    400,
                    "TooManyKeySigningKeys",
                    format!("A hosted zone has at most {MAX_KEYS} key-signing keys."),
                ));
            }
            let mut next = dnssec.clone();
            next.key_signing_keys.push(key.clone());
            Ok(next)
        })
        .await?;
    let mut xml = Xml::document("CreateKeySigningKeyResponse");
    render::change_info(&mut xml, &change);
    xml.open("KeySigningKey");
    key_signing_key(&mut xml, &zone, &key);
    xml.close();
    let info = call.request.connection_info();
    let location = format!("{}://{}/2013-04-01/keysigningkey/{}/{}", info.scheme(), info.host(), zone.id, key.name);
    let mut response = reply(StatusCode::CREATED, xml);
    if let Ok(location) = actix_web::http::header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(actix_web::http::header::LOCATION, location);
    }
    Ok(response)
}

/// ActivateKeySigningKey (`active`) or DeactivateKeySigningKey.
pub async fn set_status(zones: &Zones, zone_id: &str, name: &str, active: bool) -> Result<HttpResponse> {
    let (_, change) = zones
        .change_dnssec(trim_id(zone_id, "hostedzone"), |dnssec| {
            let mut next = dnssec.clone();
            let key = next.key_signing_keys.iter_mut().find(|key| key.name == name).ok_or_else(|| no_such_key(name))?;
            key.active = active;
            key.last_modified = now_iso8601();
            if dnssec.signing && !next.key_signing_keys.iter().any(|key| key.active) {
                return Err(refused(
                    400,
                    "KeySigningKeyInUse",
                    "The key-signing key (KSK) that you specified can't be deactivated because it's the only KSK \
                     for a currently-enabled DNSSEC. Disable DNSSEC signing, or add or enable another KSK.",
                ));
            }
            Ok(next)
        })
        .await?;
    let root = if active { "ActivateKeySigningKeyResponse" } else { "DeactivateKeySigningKeyResponse" };
    change_info(root, &change)
}

pub async fn delete_key(zones: &Zones, zone_id: &str, name: &str) -> Result<HttpResponse> {
    let (_, change) = zones
        .change_dnssec(trim_id(zone_id, "hostedzone"), |dnssec| {
            let key = dnssec.key_signing_keys.iter().find(|key| key.name == name).ok_or_else(|| no_such_key(name))?;
            if key.active {
                return Err(refused(
                    400,
                    "InvalidKeySigningKeyStatus",
                    "The key-signing key (KSK) status isn't valid: deactivate the key before deleting it.",
                ));
            }
            let mut next = dnssec.clone();
            next.key_signing_keys.retain(|key| key.name != name);
            Ok(next)
        })
        .await?;
    change_info("DeleteKeySigningKeyResponse", &change)
}

fn change_info(root: &'static str, change: &crate::model::ChangeRecord) -> Result<HttpResponse> {
    let mut xml = Xml::document(root);
    render::change_info(&mut xml, change);
    ok(xml)
}

/// One `KeySigningKey`: the DNSKEY and DS the parent zone needs, as
/// Route 53 describes them.
fn key_signing_key(xml: &mut Xml, zone: &Zone, key: &KeySigningKey) {
    xml.element("Name", &key.name).element("KmsArn", &key.kms_arn).element("Flag", &KSK_FLAGS.to_string());
    xml.element("SigningAlgorithmMnemonic", "ECDSAP256SHA256")
        .element("SigningAlgorithmType", &ALGORITHM.to_string())
        .element("DigestAlgorithmMnemonic", "SHA-256")
        .element("DigestAlgorithmType", "2");
    match Key::load(&key.private_key, KSK_FLAGS) {
        Ok(loaded) => {
            let public_key = loaded.public_key_base64();
            let digest: String = match loaded.ds_digest(&zone.name) {
                Ok(digest) => digest.iter().map(|byte| format!("{byte:02X}")).collect(),
                Err(error) => {
                    tracing::warn!(zone = %zone.id, %error, "no DS digest");
                    String::new()
                }
            };
            let tag = loaded.tag();
            xml.element("KeyTag", &tag.to_string())
                .element("DigestValue", &digest)
                .element("PublicKey", &public_key)
                .element("DSRecord", &format!("{tag} {ALGORITHM} 2 {digest}"))
                .element("DNSKEYRecord", &format!("{KSK_FLAGS} 3 {ALGORITHM} {public_key}"));
        }
        Err(error) => tracing::warn!(zone = %zone.id, key = %key.name, %error, "a key-signing key does not load"),
    }
    xml.element("Status", if key.active { "ACTIVE" } else { "INACTIVE" })
        .element("CreatedDate", &timestamp(&key.created))
        .element("LastModifiedDate", &timestamp(&key.last_modified));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_arns_are_checked_by_form() {
        assert!(valid_kms_arn("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(!valid_kms_arn("arn:aws:kms:eu-west-1:123456789012:key/abc"));
        assert!(!valid_kms_arn("arn:aws:kms:us-east-1:1234:key/abc"));
        assert!(!valid_kms_arn("arn:aws:kms:us-east-1:123456789012:alias/abc"));
        assert!(!valid_kms_arn("arn:aws:kms:us-east-1:123456789012:key/"));
    }

    #[test]
    fn create_requests_are_read_strictly() {
        let body = |name: &str, status: &str, arn: &str| {
            format!(
                "<CreateKeySigningKeyRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
                 <CallerReference>r1</CallerReference><HostedZoneId>/hostedzone/Z1</HostedZoneId>\
                 <KeyManagementServiceArn>{arn}</KeyManagementServiceArn><Name>{name}</Name>\
                 <Status>{status}</Status></CreateKeySigningKeyRequest>"
            )
        };
        let arn = "arn:aws:kms:us-east-1:123456789012:key/k1";
        let (zone, key) = create_request(body("ksk_1", "ACTIVE", arn).as_bytes()).unwrap();
        assert_eq!(zone, "Z1");
        assert!(key.active && key.name == "ksk_1" && key.kms_arn == arn);
        assert!(Key::load(&key.private_key, KSK_FLAGS).is_ok());
        let code = |body: String| create_request(body.as_bytes()).err().map(|error| error.code.to_string());
        assert_eq!(code(body("k", "ACTIVE", arn)).as_deref(), Some("InvalidKeySigningKeyName"));
        assert_eq!(code(body("ksk_1", "ON", arn)).as_deref(), Some("InvalidKeySigningKeyStatus"));
        assert_eq!(code(body("ksk_1", "ACTIVE", "arn:aws:kms:x")).as_deref(), Some("InvalidKMSArn"));
        assert_eq!(code("<CreateKeySigningKeyRequest/>".into()).as_deref(), Some("InvalidInput"));
    }
}
