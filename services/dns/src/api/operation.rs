//! Which Route 53 operation a request is: its method and its path under
//! `/2013-04-01/`, with the ids it names.

/// One Route 53 action and the ids its path names (without their
/// `/hostedzone/` or `/change/` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    CreateHostedZone,
    ListHostedZones,
    ListHostedZonesByName,
    GetHostedZoneCount,
    GetHostedZone(String),
    UpdateHostedZoneComment(String),
    DeleteHostedZone(String),
    ChangeResourceRecordSets(String),
    ListResourceRecordSets(String),
    GetChange(String),
    /// Resource type (as given: checked by the operation) and id.
    ChangeTagsForResource(String, String),
    ListTagsForResource(String, String),
    ListTagsForResources(String),
    CreateHealthCheck,
    ListHealthChecks,
    GetHealthCheckCount,
    GetHealthCheck(String),
    GetHealthCheckStatus(String),
    DeleteHealthCheck(String),
    GetDNSSEC(String),
    EnableHostedZoneDNSSEC(String),
    DisableHostedZoneDNSSEC(String),
    CreateKeySigningKey,
    /// Zone id and key name.
    ActivateKeySigningKey(String, String),
    DeactivateKeySigningKey(String, String),
    DeleteKeySigningKey(String, String),
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateHostedZone => "CreateHostedZone",
            Operation::ListHostedZones => "ListHostedZones",
            Operation::ListHostedZonesByName => "ListHostedZonesByName",
            Operation::GetHostedZoneCount => "GetHostedZoneCount",
            Operation::GetHostedZone(_) => "GetHostedZone",
            Operation::UpdateHostedZoneComment(_) => "UpdateHostedZoneComment",
            Operation::DeleteHostedZone(_) => "DeleteHostedZone",
            Operation::ChangeResourceRecordSets(_) => "ChangeResourceRecordSets",
            Operation::ListResourceRecordSets(_) => "ListResourceRecordSets",
            Operation::GetChange(_) => "GetChange",
            Operation::ChangeTagsForResource(..) => "ChangeTagsForResource",
            Operation::ListTagsForResource(..) => "ListTagsForResource",
            Operation::ListTagsForResources(_) => "ListTagsForResources",
            Operation::CreateHealthCheck => "CreateHealthCheck",
            Operation::ListHealthChecks => "ListHealthChecks",
            Operation::GetHealthCheckCount => "GetHealthCheckCount",
            Operation::GetHealthCheck(_) => "GetHealthCheck",
            Operation::GetHealthCheckStatus(_) => "GetHealthCheckStatus",
            Operation::DeleteHealthCheck(_) => "DeleteHealthCheck",
            Operation::GetDNSSEC(_) => "GetDNSSEC",
            Operation::EnableHostedZoneDNSSEC(_) => "EnableHostedZoneDNSSEC",
            Operation::DisableHostedZoneDNSSEC(_) => "DisableHostedZoneDNSSEC",
            Operation::CreateKeySigningKey => "CreateKeySigningKey",
            Operation::ActivateKeySigningKey(..) => "ActivateKeySigningKey",
            Operation::DeactivateKeySigningKey(..) => "DeactivateKeySigningKey",
            Operation::DeleteKeySigningKey(..) => "DeleteKeySigningKey",
        }
    }
}

impl Operation {
    /// The operation of `method` on `path`, if Route 53 has one there.
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/2013-04-01/")?;
        let segments = segments(rest);
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |value: &str| value.to_owned();
        Some(match (method, s.as_slice()) {
            ("POST", ["hostedzone"]) => Operation::CreateHostedZone,
            ("GET", ["hostedzone"]) => Operation::ListHostedZones,
            ("GET", ["hostedzonesbyname"]) => Operation::ListHostedZonesByName,
            ("GET", ["hostedzonecount"]) => Operation::GetHostedZoneCount,
            ("GET", ["hostedzone", id]) => Operation::GetHostedZone(owned(id)),
            ("POST", ["hostedzone", id]) => Operation::UpdateHostedZoneComment(owned(id)),
            ("DELETE", ["hostedzone", id]) => Operation::DeleteHostedZone(owned(id)),
            ("POST", ["hostedzone", id, "rrset"]) => Operation::ChangeResourceRecordSets(owned(id)),
            ("GET", ["hostedzone", id, "rrset"]) => Operation::ListResourceRecordSets(owned(id)),
            ("GET", ["change", id]) => Operation::GetChange(owned(id)),
            ("POST", ["tags", kind, id]) => Operation::ChangeTagsForResource(owned(kind), owned(id)),
            ("GET", ["tags", kind, id]) => Operation::ListTagsForResource(owned(kind), owned(id)),
            ("POST", ["tags", kind]) => Operation::ListTagsForResources(owned(kind)),
            ("POST", ["healthcheck"]) => Operation::CreateHealthCheck,
            ("GET", ["healthcheck"]) => Operation::ListHealthChecks,
            ("GET", ["healthcheckcount"]) => Operation::GetHealthCheckCount,
            ("GET", ["healthcheck", id]) => Operation::GetHealthCheck(owned(id)),
            ("GET", ["healthcheck", id, "status"]) => Operation::GetHealthCheckStatus(owned(id)),
            ("DELETE", ["healthcheck", id]) => Operation::DeleteHealthCheck(owned(id)),
            ("GET", ["hostedzone", id, "dnssec"]) => Operation::GetDNSSEC(owned(id)),
            ("POST", ["hostedzone", id, "enable-dnssec"]) => Operation::EnableHostedZoneDNSSEC(owned(id)),
            ("POST", ["hostedzone", id, "disable-dnssec"]) => Operation::DisableHostedZoneDNSSEC(owned(id)),
            ("POST", ["keysigningkey"]) => Operation::CreateKeySigningKey,
            ("POST", ["keysigningkey", zone, name, "activate"]) => {
                Operation::ActivateKeySigningKey(owned(zone), owned(name))
            }
            ("POST", ["keysigningkey", zone, name, "deactivate"]) => {
                Operation::DeactivateKeySigningKey(owned(zone), owned(name))
            }
            ("DELETE", ["keysigningkey", zone, name]) => Operation::DeleteKeySigningKey(owned(zone), owned(name)),
            _ => return None,
        })
    }
}

/// The path's segments, percent-decoded, with an id's own prefix folded
/// away: Route 53 takes `/hostedzone/Z1` wherever it takes `Z1`, so a
/// client that sends the id as it was answered (`hostedzone//hostedzone/Z1`,
/// or its slashes encoded) reaches the same resource.
fn segments(rest: &str) -> Vec<String> {
    let mut segments: Vec<String> = rest
        .split('/')
        .map(nubo_host::sigv4::percent_decode)
        .flat_map(|segment| segment.split('/').map(str::to_owned).collect::<Vec<_>>())
        .filter(|segment| !segment.is_empty())
        .collect();
    let prefix_at = match segments.first().map(String::as_str) {
        Some("hostedzone" | "change" | "keysigningkey") => 1,
        Some("tags") => 2,
        _ => return segments,
    };
    let doubled = segments.get(prefix_at).is_some_and(|segment| matches!(segment.as_str(), "hostedzone" | "change"))
        && segments.len() > prefix_at + 1;
    if doubled {
        segments.remove(prefix_at);
    }
    segments
}

/// The decoded parameters of a query string, in order.
pub fn query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (nubo_host::sigv4::percent_decode(name), nubo_host::sigv4::percent_decode(value))
        })
        .collect()
}

/// The value of the query parameter `name`, if given.
pub fn parameter<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// An id without the prefix Route 53 answers it with.
pub fn trim_id<'i>(id: &'i str, prefix: &str) -> &'i str {
    let id = id.trim();
    id.strip_prefix('/').unwrap_or(id).strip_prefix(prefix).and_then(|rest| rest.strip_prefix('/')).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        let parse = |method, path| Operation::parse(method, path);
        assert_eq!(parse("POST", "/2013-04-01/hostedzone"), Some(Operation::CreateHostedZone));
        assert_eq!(parse("GET", "/2013-04-01/hostedzone"), Some(Operation::ListHostedZones));
        assert_eq!(parse("GET", "/2013-04-01/hostedzonesbyname"), Some(Operation::ListHostedZonesByName));
        assert_eq!(parse("GET", "/2013-04-01/hostedzonecount"), Some(Operation::GetHostedZoneCount));
        assert_eq!(parse("GET", "/2013-04-01/hostedzone/Z1"), Some(Operation::GetHostedZone("Z1".into())));
        assert_eq!(parse("POST", "/2013-04-01/hostedzone/Z1"), Some(Operation::UpdateHostedZoneComment("Z1".into())));
        assert_eq!(parse("DELETE", "/2013-04-01/hostedzone/Z1"), Some(Operation::DeleteHostedZone("Z1".into())));
        assert_eq!(
            parse("POST", "/2013-04-01/hostedzone/Z1/rrset/"),
            Some(Operation::ChangeResourceRecordSets("Z1".into()))
        );
        assert_eq!(
            parse("GET", "/2013-04-01/hostedzone/Z1/rrset"),
            Some(Operation::ListResourceRecordSets("Z1".into()))
        );
        assert_eq!(parse("GET", "/2013-04-01/change/C1"), Some(Operation::GetChange("C1".into())));
        assert_eq!(
            parse("POST", "/2013-04-01/tags/hostedzone/Z1"),
            Some(Operation::ChangeTagsForResource("hostedzone".into(), "Z1".into()))
        );
        assert_eq!(
            parse("GET", "/2013-04-01/tags/healthcheck/H1"),
            Some(Operation::ListTagsForResource("healthcheck".into(), "H1".into()))
        );
        assert_eq!(
            parse("POST", "/2013-04-01/tags/hostedzone"),
            Some(Operation::ListTagsForResources("hostedzone".into()))
        );
        assert_eq!(parse("PUT", "/2013-04-01/hostedzone/Z1"), None);
        assert_eq!(parse("GET", "/2012-12-12/hostedzone"), None);
        assert_eq!(parse("GET", "/2013-04-01/healthcheck"), Some(Operation::ListHealthChecks));
        assert_eq!(
            parse("GET", "/2013-04-01/healthcheck/H1/status"),
            Some(Operation::GetHealthCheckStatus("H1".into()))
        );
        assert_eq!(parse("GET", "/2013-04-01/trafficpolicy"), None);
        assert_eq!(parse("GET", "/2013-04-01/hostedzone/Z1/dnssec"), Some(Operation::GetDNSSEC("Z1".into())));
        assert_eq!(
            parse("POST", "/2013-04-01/hostedzone/Z1/enable-dnssec"),
            Some(Operation::EnableHostedZoneDNSSEC("Z1".into()))
        );
        assert_eq!(
            parse("POST", "/2013-04-01/hostedzone/Z1/disable-dnssec"),
            Some(Operation::DisableHostedZoneDNSSEC("Z1".into()))
        );
        assert_eq!(parse("POST", "/2013-04-01/keysigningkey"), Some(Operation::CreateKeySigningKey));
        assert_eq!(
            parse("POST", "/2013-04-01/keysigningkey/Z1/ksk_1/activate"),
            Some(Operation::ActivateKeySigningKey("Z1".into(), "ksk_1".into()))
        );
        assert_eq!(
            parse("POST", "/2013-04-01/keysigningkey/%2Fhostedzone%2FZ1/ksk_1/deactivate"),
            Some(Operation::DeactivateKeySigningKey("Z1".into(), "ksk_1".into()))
        );
        assert_eq!(
            parse("DELETE", "/2013-04-01/keysigningkey/Z1/ksk_1"),
            Some(Operation::DeleteKeySigningKey("Z1".into(), "ksk_1".into()))
        );
    }

    #[test]
    fn ids_are_taken_with_or_without_their_prefix() {
        let zone = Some(Operation::GetHostedZone("Z1".into()));
        assert_eq!(Operation::parse("GET", "/2013-04-01/hostedzone//hostedzone/Z1"), zone);
        assert_eq!(Operation::parse("GET", "/2013-04-01/hostedzone/%2Fhostedzone%2FZ1"), zone);
        assert_eq!(
            Operation::parse("GET", "/2013-04-01/change/%2Fchange%2FC1"),
            Some(Operation::GetChange("C1".into()))
        );
        assert_eq!(
            Operation::parse("GET", "/2013-04-01/tags/hostedzone/%2Fhostedzone%2FZ1"),
            Some(Operation::ListTagsForResource("hostedzone".into(), "Z1".into()))
        );
        assert_eq!(trim_id("/hostedzone/Z1", "hostedzone"), "Z1");
        assert_eq!(trim_id("hostedzone/Z1", "hostedzone"), "Z1");
        assert_eq!(trim_id("Z1", "hostedzone"), "Z1");
        assert_eq!(trim_id("/change/C1", "change"), "C1");
    }

    #[test]
    fn queries_are_decoded() {
        let query = query("name=%5C052.example.com.&type=A&maxitems=2&empty");
        assert_eq!(parameter(&query, "name"), Some("\\052.example.com."));
        assert_eq!(parameter(&query, "type"), Some("A"));
        assert_eq!(parameter(&query, "empty"), Some(""));
        assert_eq!(parameter(&query, "identifier"), None);
    }
}
