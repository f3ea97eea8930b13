//! The shapes Route 53 answers with, member by member in the order of its
//! API reference: the SDKs read them in that order.

use super::xml::{Xml, timestamp};
use crate::model::{ChangeRecord, RecordSet, Tag, Zone};

/// `HostedZone`: Id, Name, CallerReference, Config, ResourceRecordSetCount.
pub fn hosted_zone(xml: &mut Xml, zone: &Zone) {
    xml.open("HostedZone")
        .element("Id", &format!("/hostedzone/{}", zone.id))
        .element("Name", &zone.name)
        .element("CallerReference", &zone.caller_reference)
        .open("Config")
        .optional("Comment", zone.comment.as_deref())
        .boolean("PrivateZone", zone.private)
        .close()
        .element("ResourceRecordSetCount", &zone.record_sets.len().to_string())
        .close();
}

/// `ChangeInfo`: Id, Status, SubmittedAt, Comment.
pub fn change_info(xml: &mut Xml, change: &ChangeRecord) {
    xml.open("ChangeInfo")
        .element("Id", &format!("/change/{}", change.id))
        .element("Status", if change.in_sync { "INSYNC" } else { "PENDING" })
        .element("SubmittedAt", &timestamp(&change.submitted_at))
        .optional("Comment", change.comment.as_deref())
        .close();
}

/// `DelegationSet`: the zone's four name servers.
pub fn delegation_set(xml: &mut Xml, zone: &Zone) {
    xml.open("DelegationSet").open("NameServers");
    for server in &zone.name_servers {
        // Route 53 names its servers without the trailing dot here.
        xml.element("NameServer", server.strip_suffix('.').unwrap_or(server));
    }
    xml.close().close();
}

/// A private zone's `VPC` elements.
pub fn vpcs(xml: &mut Xml, zone: &Zone) {
    for vpc in &zone.vpcs {
        xml.open("VPC").element("VPCRegion", &vpc.region).element("VPCId", &vpc.id).close();
    }
}

/// `ResourceRecordSet`: Name, Type, SetIdentifier, Weight, Region,
/// Failover, MultiValueAnswer, TTL, ResourceRecords, AliasTarget,
/// HealthCheckId.
pub fn record_set(xml: &mut Xml, set: &RecordSet) {
    xml.open("ResourceRecordSet")
        .element("Name", &set.name)
        .element("Type", &set.kind)
        .optional("SetIdentifier", set.set_identifier.as_deref())
        .optional("Weight", set.weight.map(|weight| weight.to_string()).as_deref())
        .optional("Region", set.region.as_deref())
        .optional("Failover", set.failover.map(|failover| failover.as_str()));
    if let Some(multi_value) = set.multi_value_answer {
        xml.boolean("MultiValueAnswer", multi_value);
    }
    xml.optional("TTL", set.ttl.map(|ttl| ttl.to_string()).as_deref());
    if !set.values.is_empty() {
        xml.open("ResourceRecords");
        for value in &set.values {
            xml.open("ResourceRecord").element("Value", value).close();
        }
        xml.close();
    }
    if let Some(alias) = &set.alias {
        xml.open("AliasTarget")
            .element("HostedZoneId", &alias.hosted_zone_id)
            .element("DNSName", &alias.dns_name)
            .boolean("EvaluateTargetHealth", alias.evaluate_target_health)
            .close();
    }
    xml.optional("HealthCheckId", set.health_check_id.as_deref()).close();
}

/// `ResourceTagSet`: ResourceType, ResourceId, Tags.
pub fn tag_set(xml: &mut Xml, kind: &str, id: &str, tags: &[Tag]) {
    xml.open("ResourceTagSet").element("ResourceType", kind).element("ResourceId", id).open("Tags");
    for tag in tags {
        xml.open("Tag").element("Key", &tag.key).element("Value", &tag.value).close();
    }
    xml.close().close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        model::{AliasTarget, Failover, Vpc},
        store::{NewZone, initial_zone},
    };

    fn zone() -> Zone {
        let new = NewZone {
            name: "example.com.".into(),
            caller_reference: "ref & co".into(),
            comment: Some("a comment".into()),
            vpc: None,
        };
        initial_zone("Z0000000000000000001", &new, "2024-01-01T00:00:00.000Z".into())
    }

    fn rendered(write: impl FnOnce(&mut Xml)) -> String {
        let mut xml = Xml::document("Probe");
        write(&mut xml);
        let text = xml.finish();
        let start = text.find("/\">").map_or(0, |at| at + 3);
        text[start..text.len() - "</Probe>".len()].to_owned()
    }

    #[test]
    fn a_hosted_zone_in_route53_order() {
        assert_eq!(
            rendered(|xml| hosted_zone(xml, &zone())),
            "<HostedZone><Id>/hostedzone/Z0000000000000000001</Id><Name>example.com.</Name>\
             <CallerReference>ref &amp; co</CallerReference><Config><Comment>a comment</Comment>\
             <PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone>"
        );
        let servers = rendered(|xml| delegation_set(xml, &zone()));
        assert!(servers.starts_with("<DelegationSet><NameServers><NameServer>ns-"), "{servers}");
        assert!(servers.contains(".nubo.localhost</NameServer>"), "{servers}");
        let mut private = zone();
        private.vpcs.push(Vpc { region: "us-east-1".into(), id: "vpc-1".into() });
        assert_eq!(
            rendered(|xml| vpcs(xml, &private)),
            "<VPC><VPCRegion>us-east-1</VPCRegion><VPCId>vpc-1</VPCId></VPC>"
        );
    }

    #[test]
    fn change_info_says_pending_until_in_sync() {
        let mut change = ChangeRecord {
            id: "C1".into(),
            zone_id: "Z1".into(),
            serial: 2,
            submitted_at: "2017-03-10T01:36:41.958Z".into(),
            comment: Some("why".into()),
            in_sync: false,
        };
        assert_eq!(
            rendered(|xml| change_info(xml, &change)),
            "<ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2017-03-10T01:36:41.958Z</SubmittedAt>\
             <Comment>why</Comment></ChangeInfo>"
        );
        change.in_sync = true;
        assert!(rendered(|xml| change_info(xml, &change)).contains("<Status>INSYNC</Status>"));
    }

    #[test]
    fn record_sets_in_route53_order() {
        let zone = zone();
        assert_eq!(
            rendered(|xml| record_set(xml, &zone.record_sets[0])),
            format!(
                "<ResourceRecordSet><Name>example.com.</Name><Type>NS</Type><TTL>172800</TTL><ResourceRecords>{}\
                 </ResourceRecords></ResourceRecordSet>",
                zone.name_servers
                    .iter()
                    .map(|server| format!("<ResourceRecord><Value>{server}</Value></ResourceRecord>"))
                    .collect::<String>()
            )
        );
        let weighted_alias = RecordSet {
            name: "\\052.example.com.".into(),
            kind: "A".into(),
            ttl: None,
            values: Vec::new(),
            alias: Some(AliasTarget {
                hosted_zone_id: "Z2FDTNDATAQYW2".into(),
                dns_name: "d1.cloudfront.net.".into(),
                evaluate_target_health: true,
            }),
            set_identifier: Some("blue".into()),
            weight: Some(10),
            failover: None,
            multi_value_answer: None,
            health_check_id: Some("hc".into()),
            region: None,
        };
        assert_eq!(
            rendered(|xml| record_set(xml, &weighted_alias)),
            "<ResourceRecordSet><Name>\\052.example.com.</Name><Type>A</Type><SetIdentifier>blue</SetIdentifier>\
             <Weight>10</Weight><AliasTarget><HostedZoneId>Z2FDTNDATAQYW2</HostedZoneId>\
             <DNSName>d1.cloudfront.net.</DNSName><EvaluateTargetHealth>true</EvaluateTargetHealth></AliasTarget>\
             <HealthCheckId>hc</HealthCheckId></ResourceRecordSet>"
        );
        let failover = RecordSet {
            failover: Some(Failover::Secondary),
            set_identifier: Some("s".into()),
            ..zone.record_sets[1].clone()
        };
        let text = rendered(|xml| record_set(xml, &failover));
        assert!(
            text.contains("<SetIdentifier>s</SetIdentifier><Failover>SECONDARY</Failover><TTL>900</TTL>"),
            "{text}"
        );
    }

    #[test]
    fn tag_sets() {
        let tags = [Tag { key: "env".into(), value: "prod".into() }];
        assert_eq!(
            rendered(|xml| tag_set(xml, "hostedzone", "Z1", &tags)),
            "<ResourceTagSet><ResourceType>hostedzone</ResourceType><ResourceId>Z1</ResourceId><Tags><Tag>\
             <Key>env</Key><Value>prod</Value></Tag></Tags></ResourceTagSet>"
        );
    }
}
