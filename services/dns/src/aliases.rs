//! Alias targets outside the hosted zones: the endpoints nubo itself
//! serves — CloudFront distributions (cdn), API Gateway APIs (gateway),
//! S3 website endpoints (storage) — named as AWS names them or as nubo
//! does.
//!
//! An alias to one is answered with the addresses of the hosts serving
//! that service (`[dns.endpoints]`; `nubo up`: loopback) and the TTL
//! Route 53 gives such answers, 60 seconds. Route 53 matches an alias by
//! its target's hosted zone id and name; nubo matches by name and accepts
//! AWS's fixed ids for these targets as well as any other, since the name
//! alone says which service answers.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, Record, RecordType, rdata};

use crate::{authority::AliasTargets, model::AliasTarget};

/// The TTL of an answer for an AWS-endpoint alias, as Route 53 gives it.
const ENDPOINT_TTL: u32 = 60;

/// Which of nubo's services an alias target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Cdn,
    Gateway,
    StorageWebsite,
}

impl Endpoint {
    /// The service a canonical target name (`d1.cloudfront.net.`) is served by.
    pub fn of(name: &str) -> Option<Endpoint> {
        let name = name.trim_end_matches('.');
        let labels: Vec<&str> = name.split('.').collect();
        let ends = |suffix: &[&str]| labels.len() > suffix.len() && labels.ends_with(suffix);
        if ends(&["cloudfront", "net"]) || ends(&["cloudfront", "localhost"]) {
            return Some(Endpoint::Cdn);
        }
        // {api}.execute-api.{region}.amazonaws.com, d-xxxx.execute-api...,
        // {api}.execute-api.localhost
        let execute_api = labels.iter().position(|label| *label == "execute-api");
        if execute_api.is_some_and(|at| at > 0 && (ends(&["amazonaws", "com"]) || ends(&["localhost"]))) {
            return Some(Endpoint::Gateway);
        }
        // s3-website-{region}.amazonaws.com, s3-website.{region}.amazonaws.com,
        // {bucket}.s3-website-{region}.amazonaws.com, {bucket}.s3-website.localhost
        let website = labels.iter().any(|label| *label == "s3-website" || label.starts_with("s3-website-"));
        if website && (ends(&["amazonaws", "com"]) || ends(&["localhost"]) || labels.len() >= 3) {
            return Some(Endpoint::StorageWebsite);
        }
        None
    }
}

/// The hosts each service is reached at.
#[derive(Debug, Clone, Default)]
pub struct EndpointAliases {
    pub cdn: Vec<IpAddr>,
    pub gateway: Vec<IpAddr>,
    pub storage: Vec<IpAddr>,
}

impl EndpointAliases {
    fn addresses(&self, endpoint: Endpoint) -> &[IpAddr] {
        match endpoint {
            Endpoint::Cdn => &self.cdn,
            Endpoint::Gateway => &self.gateway,
            Endpoint::StorageWebsite => &self.storage,
        }
    }
}

impl AliasTargets for EndpointAliases {
    fn resolve(&self, target: &AliasTarget, record_type: RecordType) -> Option<Vec<Record>> {
        let endpoint = Endpoint::of(&target.dns_name)?;
        let owner = Name::root();
        let records: Vec<Record> = self
            .addresses(endpoint)
            .iter()
            .filter_map(|address| match (address, record_type) {
                (IpAddr::V4(v4), RecordType::A) => Some(RData::A(rdata::A(*v4))),
                (IpAddr::V6(v6), RecordType::AAAA) => Some(RData::AAAA(rdata::AAAA(*v6))),
                _ => None,
            })
            .map(|data| Record::from_rdata(owner.clone(), ENDPOINT_TTL, data))
            .collect();
        // A known endpoint without addresses of this family is NODATA, not
        // an unknown target.
        Some(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> AliasTarget {
        AliasTarget { hosted_zone_id: "Z2FDTNDATAQYW2".into(), dns_name: name.into(), evaluate_target_health: false }
    }

    #[test]
    fn names_say_which_service_answers() {
        assert_eq!(Endpoint::of("d111111abcdef8.cloudfront.net."), Some(Endpoint::Cdn));
        assert_eq!(Endpoint::of("e2abc.cloudfront.localhost."), Some(Endpoint::Cdn));
        assert_eq!(Endpoint::of("d-abc123.execute-api.us-east-1.amazonaws.com."), Some(Endpoint::Gateway));
        assert_eq!(Endpoint::of("a1b2c3.execute-api.localhost."), Some(Endpoint::Gateway));
        assert_eq!(Endpoint::of("s3-website-us-east-1.amazonaws.com."), Some(Endpoint::StorageWebsite));
        assert_eq!(Endpoint::of("s3-website.eu-west-1.amazonaws.com."), Some(Endpoint::StorageWebsite));
        assert_eq!(Endpoint::of("site.s3-website.localhost."), Some(Endpoint::StorageWebsite));
        assert_eq!(Endpoint::of("cloudfront.net."), None);
        assert_eq!(Endpoint::of("www.example.com."), None);
        assert_eq!(Endpoint::of("my-elb-123.us-east-1.elb.amazonaws.com."), None);
    }

    #[test]
    fn a_service_alias_is_its_hosts_addresses() {
        let aliases = EndpointAliases {
            cdn: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            gateway: vec!["10.0.0.7".parse().unwrap()],
            storage: Vec::new(),
        };
        let a = aliases.resolve(&target("d1.cloudfront.net."), RecordType::A).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].ttl, ENDPOINT_TTL);
        assert_eq!(aliases.resolve(&target("d1.cloudfront.net."), RecordType::AAAA).unwrap().len(), 1);
        assert_eq!(aliases.resolve(&target("x.execute-api.localhost."), RecordType::A).unwrap().len(), 1);
        assert!(aliases.resolve(&target("b.s3-website.localhost."), RecordType::A).unwrap().is_empty());
        assert!(aliases.resolve(&target("www.example.org."), RecordType::A).is_none());
    }
}
