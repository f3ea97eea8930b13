//! Request documents read into what the store takes. Each member is
//! checked the way Route 53's schema checks it, with its words (`Invalid
//! XML ; cvc-...`), so a malformed request is `InvalidInput` before it
//! reaches a zone. Numbers and booleans are read as text and converted
//! here, for those messages.

use nubo_host::front::AwsError;
use serde::{Deserialize, de::IgnoredAny};

use super::xml::{self, invalid_xml, missing};
use crate::{
    batch::{self, Action, Change},
    model::{AliasTarget, Failover, RecordSet, Tag, Vpc},
    names,
    store::NewZone,
};

const MAX_COMMENT: usize = 256;
const MAX_CALLER_REFERENCE: usize = 128;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
/// The most tags one ChangeTagsForResource adds (or keys it removes), and
/// the most resources one ListTagsForResources names.
const MAX_PER_REQUEST: usize = 10;

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

fn max_length(value: &str, limit: usize, kind: &str) -> Result<(), AwsError> {
    let length = value.chars().count();
    if length > limit {
        return Err(invalid_xml(format!(
            "cvc-maxLength-valid: Value '{value}' with length = '{length}' is not facet-valid with respect to \
             maxLength '{limit}' for type '{kind}'."
        )));
    }
    Ok(())
}

fn min_length(value: &str, kind: &str) -> Result<(), AwsError> {
    if value.is_empty() {
        return Err(invalid_xml(format!(
            "cvc-minLength-valid: Value '' with length = '0' is not facet-valid with respect to minLength '1' for \
             type '{kind}'."
        )));
    }
    Ok(())
}

fn comment(comment: Option<String>) -> Result<Option<String>, AwsError> {
    if let Some(comment) = &comment {
        max_length(comment, MAX_COMMENT, "ResourceDescription")?;
    }
    Ok(comment)
}

/// An `xsd:boolean`.
fn boolean(value: &str) -> Result<bool, AwsError> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(invalid_xml(format!("cvc-datatype-valid.1.2.1: '{other}' is not a valid value for 'boolean'."))),
    }
}

/// A non-negative integer of at most `limit`.
fn bounded(value: &str, limit: u32, kind: &str) -> Result<u32, AwsError> {
    let value = value.trim();
    let number: i128 = value
        .parse()
        .map_err(|_| invalid_xml(format!("cvc-datatype-valid.1.2.1: '{value}' is not a valid value for 'integer'.")))?;
    if number < 0 {
        return Err(invalid_xml(format!(
            "cvc-minInclusive-valid: Value '{value}' is not facet-valid with respect to minInclusive '0' for type \
             '{kind}'."
        )));
    }
    u32::try_from(number).ok().filter(|number| *number <= limit).ok_or_else(|| {
        invalid_xml(format!(
            "cvc-maxInclusive-valid: Value '{value}' is not facet-valid with respect to maxInclusive '{limit}' for \
             type '{kind}'."
        ))
    })
}

fn enumeration(value: &str, allowed: &[&str]) -> AwsError {
    invalid_xml(format!(
        "cvc-enumeration-valid: Value '{value}' is not facet-valid with respect to enumeration '[{}]'. It must be a \
         value from the enumeration.",
        allowed.join(", ")
    ))
}

// ------------------------------------------------------------- hosted zones

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateHostedZoneRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "VPC")]
    vpc: Option<VpcInput>,
    #[serde(rename = "CallerReference")]
    caller_reference: Option<String>,
    #[serde(rename = "HostedZoneConfig")]
    config: Option<HostedZoneConfigInput>,
    #[serde(rename = "DelegationSetId")]
    delegation_set_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VpcInput {
    #[serde(rename = "VPCRegion")]
    region: Option<String>,
    #[serde(rename = "VPCId")]
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostedZoneConfigInput {
    #[serde(rename = "Comment")]
    comment: Option<String>,
    #[serde(rename = "PrivateZone")]
    private_zone: Option<String>,
}

/// A CreateHostedZone request, checked.
pub fn create_hosted_zone(body: &[u8]) -> Result<NewZone, AwsError> {
    const ROOT: &str = "CreateHostedZoneRequest";
    let request: CreateHostedZoneRequest = xml::parse(body, ROOT)?;
    let name = request.name.ok_or_else(|| missing(ROOT, "Name"))?;
    let caller_reference = request.caller_reference.ok_or_else(|| missing(ROOT, "CallerReference"))?;
    min_length(&caller_reference, "Nonce")?;
    max_length(&caller_reference, MAX_CALLER_REFERENCE, "Nonce")?;
    if request.delegation_set_id.is_some() {
        // nubo has no reusable delegation sets: every zone has its own.
        return Err(AwsError::new(
            400,
            "NoSuchDelegationSet",
            "A reusable delegation set with the specified ID does not exist.",
        ));
    }
    let config = request.config.unwrap_or_default();
    let comment = comment(config.comment)?;
    let private_flag = config.private_zone.as_deref().map(boolean).transpose()?;
    let vpc = request.vpc.map(vpc).transpose()?;
    if private_flag == Some(true) && vpc.is_none() {
        return Err(invalid("Invalid request: a private hosted zone needs a VPC (VPCRegion and VPCId)"));
    }
    let name = zone_name(&name, vpc.is_none())?;
    Ok(NewZone { name, caller_reference, comment, vpc })
}

fn vpc(input: VpcInput) -> Result<Vpc, AwsError> {
    let region = input.region.filter(|region| !region.trim().is_empty()).ok_or_else(|| missing("VPC", "VPCRegion"))?;
    let id = input.id.filter(|id| !id.trim().is_empty()).ok_or_else(|| missing("VPC", "VPCId"))?;
    max_length(&id, 1024, "VPCId")?;
    Ok(Vpc { region, id })
}

/// A zone's name, canonical; Route 53 makes no public zone for a
/// top-level domain.
pub fn zone_name(given: &str, public: bool) -> Result<String, AwsError> {
    let invalid_name = |why: String| AwsError::new(400, "InvalidDomainName", why);
    let name =
        names::canonical(given).map_err(|error| invalid_name(format!("Invalid domain name: '{given}' ({error})")))?;
    let labels = names::labels(&name).map(|labels| labels.len()).unwrap_or(0);
    if labels == 0 || (public && labels == 1) {
        return Err(invalid_name(format!("{name} is reserved by AWS!")));
    }
    Ok(name)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateHostedZoneCommentRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "Comment")]
    comment: Option<String>,
}

/// The comment an UpdateHostedZoneComment sets; none clears it.
pub fn update_comment(body: &[u8]) -> Result<Option<String>, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let request: UpdateHostedZoneCommentRequest = xml::parse(body, "UpdateHostedZoneCommentRequest")?;
    comment(request.comment)
}

// -------------------------------------------------------------- record sets

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeResourceRecordSetsRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "ChangeBatch")]
    batch: Option<ChangeBatchInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBatchInput {
    #[serde(rename = "Comment")]
    comment: Option<String>,
    #[serde(rename = "Changes")]
    changes: Option<ChangesInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesInput {
    #[serde(rename = "Change", default)]
    changes: Vec<ChangeInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeInput {
    #[serde(rename = "Action")]
    action: Option<String>,
    #[serde(rename = "ResourceRecordSet")]
    set: Option<RecordSetInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordSetInput {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "SetIdentifier")]
    set_identifier: Option<String>,
    #[serde(rename = "Weight")]
    weight: Option<String>,
    #[serde(rename = "Region")]
    region: Option<String>,
    #[serde(rename = "GeoLocation")]
    geo_location: Option<IgnoredAny>,
    #[serde(rename = "Failover")]
    failover: Option<String>,
    #[serde(rename = "MultiValueAnswer")]
    multi_value_answer: Option<String>,
    #[serde(rename = "TTL")]
    ttl: Option<String>,
    #[serde(rename = "ResourceRecords")]
    records: Option<ResourceRecordsInput>,
    #[serde(rename = "AliasTarget")]
    alias: Option<AliasTargetInput>,
    #[serde(rename = "HealthCheckId")]
    health_check_id: Option<String>,
    #[serde(rename = "TrafficPolicyInstanceId")]
    traffic_policy_instance_id: Option<IgnoredAny>,
    #[serde(rename = "CidrRoutingConfig")]
    cidr_routing_config: Option<IgnoredAny>,
    #[serde(rename = "GeoProximityLocation")]
    geo_proximity_location: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceRecordsInput {
    #[serde(rename = "ResourceRecord", default)]
    records: Vec<ResourceRecordInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceRecordInput {
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasTargetInput {
    #[serde(rename = "HostedZoneId")]
    hosted_zone_id: Option<String>,
    #[serde(rename = "DNSName")]
    dns_name: Option<String>,
    #[serde(rename = "EvaluateTargetHealth")]
    evaluate_target_health: Option<String>,
}

/// A ChangeResourceRecordSets request: its comment and changes, each
/// record set as given (the batch makes names canonical and checks them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub comment: Option<String>,
    pub changes: Vec<Change>,
}

pub fn change_resource_record_sets(body: &[u8]) -> Result<Batch, AwsError> {
    const ROOT: &str = "ChangeResourceRecordSetsRequest";
    let request: ChangeResourceRecordSetsRequest = xml::parse(body, ROOT)?;
    let batch = request.batch.ok_or_else(|| missing(ROOT, "ChangeBatch"))?;
    let changes = batch.changes.ok_or_else(|| missing("ChangeBatch", "Changes"))?;
    if changes.changes.is_empty() {
        return Err(missing("Changes", "Change"));
    }
    let changes = changes.changes.into_iter().map(change).collect::<Result<Vec<_>, _>>()?;
    Ok(Batch { comment: comment(batch.comment)?, changes })
}

fn change(input: ChangeInput) -> Result<Change, AwsError> {
    let action = input.action.ok_or_else(|| missing("Change", "Action"))?;
    let action = Action::parse(action.trim()).ok_or_else(|| enumeration(&action, &["CREATE", "DELETE", "UPSERT"]))?;
    let set = record_set(input.set.ok_or_else(|| missing("Change", "ResourceRecordSet"))?)?;
    Ok(Change { action, set })
}

fn record_set(input: RecordSetInput) -> Result<RecordSet, AwsError> {
    let unsupported = [
        (input.geo_location.is_some(), "GeoLocation"),
        (input.traffic_policy_instance_id.is_some(), "TrafficPolicyInstanceId"),
        (input.cidr_routing_config.is_some(), "CidrRoutingConfig"),
        (input.geo_proximity_location.is_some(), "GeoProximityLocation"),
    ];
    if let Some((_, member)) = unsupported.iter().find(|(given, _)| *given) {
        return Err(invalid(format!("Invalid request: {member} is not supported by this endpoint")));
    }
    let name = input.name.ok_or_else(|| missing("ResourceRecordSet", "Name"))?;
    let kind = input.kind.ok_or_else(|| missing("ResourceRecordSet", "Type"))?;
    let failover = input
        .failover
        .map(|failover| match failover.trim() {
            "PRIMARY" => Ok(Failover::Primary),
            "SECONDARY" => Ok(Failover::Secondary),
            _ => Err(enumeration(&failover, &["PRIMARY", "SECONDARY"])),
        })
        .transpose()?;
    let values = match input.records {
        None => Vec::new(),
        Some(records) if records.records.is_empty() => return Err(missing("ResourceRecords", "ResourceRecord")),
        Some(records) => records
            .records
            .into_iter()
            .map(|record| record.value.ok_or_else(|| missing("ResourceRecord", "Value")))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(RecordSet {
        name: name.trim().to_owned(),
        kind: kind.trim().to_owned(),
        ttl: input.ttl.as_deref().map(|ttl| bounded(ttl, batch::MAX_TTL, "TTL")).transpose()?,
        values,
        alias: input.alias.map(alias_target).transpose()?,
        set_identifier: input.set_identifier,
        weight: input
            .weight
            .as_deref()
            .map(|weight| bounded(weight, batch::MAX_WEIGHT, "ResourceRecordSetWeight"))
            .transpose()?,
        failover,
        multi_value_answer: input.multi_value_answer.as_deref().map(boolean).transpose()?,
        health_check_id: input.health_check_id,
        region: input.region.map(|region| region.trim().to_owned()),
    })
}

fn alias_target(input: AliasTargetInput) -> Result<AliasTarget, AwsError> {
    let hosted_zone_id = input.hosted_zone_id.ok_or_else(|| missing("AliasTarget", "HostedZoneId"))?;
    let dns_name = input.dns_name.ok_or_else(|| missing("AliasTarget", "DNSName"))?;
    let evaluate = input.evaluate_target_health.ok_or_else(|| missing("AliasTarget", "EvaluateTargetHealth"))?;
    Ok(AliasTarget {
        hosted_zone_id: hosted_zone_id.trim().to_owned(),
        dns_name,
        evaluate_target_health: boolean(&evaluate)?,
    })
}

// --------------------------------------------------------------------- tags

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeTagsForResourceRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "AddTags")]
    add: Option<TagsInput>,
    #[serde(rename = "RemoveTagKeys")]
    remove: Option<TagKeysInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsInput {
    #[serde(rename = "Tag", default)]
    tags: Vec<TagInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagInput {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagKeysInput {
    #[serde(rename = "Key", default)]
    keys: Vec<String>,
}

/// The tags a ChangeTagsForResource adds, and the keys it removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagChanges {
    pub add: Vec<Tag>,
    pub remove: Vec<String>,
}

pub fn change_tags(body: &[u8]) -> Result<TagChanges, AwsError> {
    let request: ChangeTagsForResourceRequest = xml::parse(body, "ChangeTagsForResourceRequest")?;
    let add = match request.add {
        None => Vec::new(),
        Some(tags) => {
            count(tags.tags.len(), "AddTags", "Tag")?;
            tags.tags.into_iter().map(tag).collect::<Result<Vec<_>, _>>()?
        }
    };
    let remove = match request.remove {
        None => Vec::new(),
        Some(keys) => {
            count(keys.keys.len(), "RemoveTagKeys", "Key")?;
            for key in &keys.keys {
                tag_key(key)?;
            }
            keys.keys
        }
    };
    Ok(TagChanges { add, remove })
}

/// A list of 1 to [`MAX_PER_REQUEST`] members.
fn count(given: usize, list: &str, member: &str) -> Result<(), AwsError> {
    if given == 0 {
        return Err(missing(list, member));
    }
    if given > MAX_PER_REQUEST {
        return Err(invalid(format!(
            "1 validation error detected: Value with {given} elements at '{list}' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_PER_REQUEST}"
        )));
    }
    Ok(())
}

fn tag(input: TagInput) -> Result<Tag, AwsError> {
    let key = input.key.ok_or_else(|| missing("Tag", "Key"))?;
    tag_key(&key)?;
    let value = input.value.unwrap_or_default();
    max_length(&value, MAX_TAG_VALUE, "TagValue")?;
    Ok(Tag { key, value })
}

fn tag_key(key: &str) -> Result<(), AwsError> {
    min_length(key, "TagKey")?;
    max_length(key, MAX_TAG_KEY, "TagKey")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListTagsForResourcesRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "ResourceIds")]
    ids: Option<ResourceIdsInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceIdsInput {
    #[serde(rename = "ResourceId", default)]
    ids: Vec<String>,
}

/// The resources a ListTagsForResources names.
pub fn resource_ids(body: &[u8]) -> Result<Vec<String>, AwsError> {
    const ROOT: &str = "ListTagsForResourcesRequest";
    let request: ListTagsForResourcesRequest = xml::parse(body, ROOT)?;
    let ids = request.ids.ok_or_else(|| missing(ROOT, "ResourceIds"))?.ids;
    count(ids.len(), "ResourceIds", "ResourceId")?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

    fn code(error: AwsError) -> String {
        error.short_code().to_owned()
    }

    #[test]
    fn create_hosted_zone_as_boto3_sends_it() {
        let body = format!(
            "<CreateHostedZoneRequest xmlns=\"{NS}\"><Name>Example.COM</Name><CallerReference>2024-01-01</CallerReference>\
             <HostedZoneConfig><Comment>my zone</Comment><PrivateZone>false</PrivateZone></HostedZoneConfig>\
             </CreateHostedZoneRequest>"
        );
        let zone = create_hosted_zone(body.as_bytes()).unwrap();
        assert_eq!(
            zone,
            NewZone {
                name: "example.com.".into(),
                caller_reference: "2024-01-01".into(),
                comment: Some("my zone".into()),
                vpc: None
            }
        );
    }

    #[test]
    fn a_private_zone_names_its_vpc() {
        let body = format!(
            "<CreateHostedZoneRequest xmlns=\"{NS}\"><Name>internal</Name><VPC><VPCRegion>us-east-1</VPCRegion>\
             <VPCId>vpc-1a2b3c4d</VPCId></VPC><CallerReference>r</CallerReference><HostedZoneConfig>\
             <PrivateZone>true</PrivateZone></HostedZoneConfig></CreateHostedZoneRequest>"
        );
        let zone = create_hosted_zone(body.as_bytes()).unwrap();
        assert_eq!(zone.vpc, Some(Vpc { region: "us-east-1".into(), id: "vpc-1a2b3c4d".into() }));
        assert_eq!(zone.name, "internal.");
        let no_vpc = format!(
            "<CreateHostedZoneRequest xmlns=\"{NS}\"><Name>a.com</Name><CallerReference>r</CallerReference>\
             <HostedZoneConfig><PrivateZone>true</PrivateZone></HostedZoneConfig></CreateHostedZoneRequest>"
        );
        assert_eq!(code(create_hosted_zone(no_vpc.as_bytes()).unwrap_err()), "InvalidInput");
    }

    #[test]
    fn create_hosted_zone_refusals() {
        let request =
            |inner: &str| format!("<CreateHostedZoneRequest xmlns=\"{NS}\">{inner}</CreateHostedZoneRequest>");
        let missing_reference = create_hosted_zone(request("<Name>a.com</Name>").as_bytes()).unwrap_err();
        assert_eq!(code(missing_reference.clone()), "InvalidInput");
        assert!(missing_reference.message.contains("CallerReference"), "{}", missing_reference.message);
        let bad = create_hosted_zone(request("<Name>a..com</Name><CallerReference>r</CallerReference>").as_bytes());
        assert_eq!(code(bad.unwrap_err()), "InvalidDomainName");
        let tld = create_hosted_zone(request("<Name>com</Name><CallerReference>r</CallerReference>").as_bytes());
        assert_eq!(code(tld.unwrap_err()), "InvalidDomainName");
        let long = request(&format!("<Name>a.com</Name><CallerReference>{}</CallerReference>", "r".repeat(129)));
        assert_eq!(code(create_hosted_zone(long.as_bytes()).unwrap_err()), "InvalidInput");
        let delegation =
            request("<Name>a.com</Name><CallerReference>r</CallerReference><DelegationSetId>N1</DelegationSetId>");
        assert_eq!(code(create_hosted_zone(delegation.as_bytes()).unwrap_err()), "NoSuchDelegationSet");
        let unknown = request("<Name>a.com</Name><CallerReference>r</CallerReference><Bogus/>");
        assert_eq!(code(create_hosted_zone(unknown.as_bytes()).unwrap_err()), "InvalidInput");
        let wrong_root = "<CreateHostedZone><Name>a.com</Name><CallerReference>r</CallerReference></CreateHostedZone>";
        assert_eq!(code(create_hosted_zone(wrong_root.as_bytes()).unwrap_err()), "InvalidInput");
    }

    #[test]
    fn change_batches_as_the_sdks_send_them() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ChangeResourceRecordSetsRequest xmlns=\"{NS}\"><ChangeBatch>\
             <Comment>deploy</Comment><Changes>\
             <Change><Action>UPSERT</Action><ResourceRecordSet><Name>www.example.com</Name><Type>TXT</Type>\
             <TTL>60</TTL><ResourceRecords><ResourceRecord><Value>&quot;v=spf1 -all&quot;</Value></ResourceRecord>\
             <ResourceRecord><Value>\"two\"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>\
             <Change><Action>CREATE</Action><ResourceRecordSet><Name>api.example.com</Name><Type>A</Type>\
             <SetIdentifier>blue</SetIdentifier><Weight>10</Weight><AliasTarget><HostedZoneId>Z2FDTNDATAQYW2</HostedZoneId>\
             <DNSName>d1.cloudfront.net</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>\
             </ResourceRecordSet></Change>\
             <Change><Action>DELETE</Action><ResourceRecordSet><Name>f.example.com</Name><Type>A</Type>\
             <SetIdentifier>p</SetIdentifier><Failover>PRIMARY</Failover><TTL>30</TTL><ResourceRecords>\
             <ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords>\
             <HealthCheckId>abc</HealthCheckId></ResourceRecordSet></Change>\
             </Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        );
        let batch = change_resource_record_sets(body.as_bytes()).unwrap();
        assert_eq!(batch.comment.as_deref(), Some("deploy"));
        assert_eq!(batch.changes.len(), 3);
        let txt = &batch.changes[0];
        assert_eq!(txt.action, Action::Upsert);
        assert_eq!(txt.set.values, ["\"v=spf1 -all\"", "\"two\""]);
        assert_eq!(txt.set.ttl, Some(60));
        let alias = &batch.changes[1].set;
        assert_eq!(alias.weight, Some(10));
        assert_eq!(alias.alias.as_ref().map(|alias| alias.dns_name.as_str()), Some("d1.cloudfront.net"));
        let failover = &batch.changes[2];
        assert_eq!((failover.action, failover.set.failover), (Action::Delete, Some(Failover::Primary)));
        assert_eq!(failover.set.health_check_id.as_deref(), Some("abc"));
    }

    #[test]
    fn malformed_change_batches_are_invalid_input() {
        let request = |changes: &str| {
            format!(
                "<ChangeResourceRecordSetsRequest xmlns=\"{NS}\"><ChangeBatch><Changes>{changes}</Changes>\
                 </ChangeBatch></ChangeResourceRecordSetsRequest>"
            )
        };
        let one = |action: &str, set: &str| {
            request(&format!("<Change><Action>{action}</Action><ResourceRecordSet>{set}</ResourceRecordSet></Change>"))
        };
        let a = "<Name>a.example.com</Name><Type>A</Type>";
        let records = "<ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords>";
        let cases = [
            request(""),
            one("MOVE", &format!("{a}<TTL>1</TTL>{records}")),
            one("CREATE", &format!("{a}<TTL>-1</TTL>{records}")),
            one("CREATE", &format!("{a}<TTL>soon</TTL>{records}")),
            one("CREATE", &format!("{a}<TTL>4294967296</TTL>{records}")),
            one("CREATE", &format!("{a}<TTL>1</TTL><ResourceRecords></ResourceRecords>")),
            one("CREATE", &format!("{a}<TTL>1</TTL>{records}<Extra>1</Extra>")),
            one(
                "CREATE",
                &format!("{a}<Failover>MAYBE</Failover><SetIdentifier>x</SetIdentifier><TTL>1</TTL>{records}"),
            ),
            one(
                "CREATE",
                &format!(
                    "{a}<GeoLocation><CountryCode>DE</CountryCode></GeoLocation><SetIdentifier>x</SetIdentifier><TTL>1</TTL>{records}"
                ),
            ),
            one("CREATE", &format!("<Type>A</Type><TTL>1</TTL>{records}")),
            format!("<ChangeResourceRecordSetsRequest xmlns=\"{NS}\"></ChangeResourceRecordSetsRequest>"),
            "<ChangeResourceRecordSetsRequest><ChangeBatch>".into(),
        ];
        for case in cases {
            let error = change_resource_record_sets(case.as_bytes()).unwrap_err();
            assert_eq!((error.status, error.short_code()), (400, "InvalidInput"), "{case}");
        }
        let ttl = change_resource_record_sets(one("CREATE", &format!("{a}<TTL>-1</TTL>{records}")).as_bytes());
        assert!(ttl.unwrap_err().message.contains("minInclusive '0' for type 'TTL'"));
    }

    #[test]
    fn comments_are_set_or_cleared() {
        let set = format!(
            "<UpdateHostedZoneCommentRequest xmlns=\"{NS}\"><Comment>new</Comment></UpdateHostedZoneCommentRequest>"
        );
        assert_eq!(update_comment(set.as_bytes()).unwrap().as_deref(), Some("new"));
        let cleared = format!("<UpdateHostedZoneCommentRequest xmlns=\"{NS}\"/>");
        assert_eq!(update_comment(cleared.as_bytes()).unwrap(), None);
        assert_eq!(update_comment(b"").unwrap(), None);
        let long = format!(
            "<UpdateHostedZoneCommentRequest><Comment>{}</Comment></UpdateHostedZoneCommentRequest>",
            "c".repeat(257)
        );
        assert_eq!(code(update_comment(long.as_bytes()).unwrap_err()), "InvalidInput");
    }

    #[test]
    fn tag_requests() {
        let body = format!(
            "<ChangeTagsForResourceRequest xmlns=\"{NS}\"><AddTags><Tag><Key>env</Key><Value>prod</Value></Tag>\
             <Tag><Key>empty</Key></Tag></AddTags><RemoveTagKeys><Key>old</Key></RemoveTagKeys>\
             </ChangeTagsForResourceRequest>"
        );
        let changes = change_tags(body.as_bytes()).unwrap();
        assert_eq!(
            changes.add,
            [Tag { key: "env".into(), value: "prod".into() }, Tag { key: "empty".into(), value: String::new() }]
        );
        assert_eq!(changes.remove, ["old"]);
        let eleven: String = (0..11).map(|n| format!("<Tag><Key>k{n}</Key></Tag>")).collect();
        let too_many =
            format!("<ChangeTagsForResourceRequest><AddTags>{eleven}</AddTags></ChangeTagsForResourceRequest>");
        assert_eq!(code(change_tags(too_many.as_bytes()).unwrap_err()), "InvalidInput");
        let ids = format!(
            "<ListTagsForResourcesRequest xmlns=\"{NS}\"><ResourceIds><ResourceId>Z1</ResourceId>\
             <ResourceId>Z2</ResourceId></ResourceIds></ListTagsForResourcesRequest>"
        );
        assert_eq!(resource_ids(ids.as_bytes()).unwrap(), ["Z1", "Z2"]);
        assert_eq!(code(resource_ids(b"<ListTagsForResourcesRequest/>").unwrap_err()), "InvalidInput");
    }

    #[test]
    fn deeply_nested_documents_are_refused_without_overflowing() {
        let depth = 200_000;
        let (open, close) = ("<x>".repeat(depth), "</x>".repeat(depth));
        let inside_a_member = format!(
            "<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet>\
             <Name>a.example.com</Name><Type>A</Type><GeoLocation>{open}{close}</GeoLocation></ResourceRecordSet>\
             </Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        );
        assert!(change_resource_record_sets(inside_a_member.as_bytes()).is_err());
        let at_the_root = format!("<ChangeResourceRecordSetsRequest>{open}{close}</ChangeResourceRecordSetsRequest>");
        assert!(change_resource_record_sets(at_the_root.as_bytes()).is_err());
    }
}
