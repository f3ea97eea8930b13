//! Which CloudFront operation a request is: its method, its path under
//! `/2020-05-31/` and the query parameters that pick an action
//! (`?WithTags`, `?Operation=Tag`), with the ids the path names.

use crate::model::Kind;

/// One CloudFront action and the ids its path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    CreateDistribution,
    CreateDistributionWithTags,
    ListDistributions,
    GetDistribution(String),
    GetDistributionConfig(String),
    UpdateDistribution(String),
    DeleteDistribution(String),
    /// Distribution id.
    CreateInvalidation(String),
    ListInvalidations(String),
    /// Distribution id and invalidation id.
    GetInvalidation(String, String),
    TagResource,
    UntagResource,
    ListTagsForResource,
    /// The policies, public keys, key groups and origin access controls:
    /// one set of actions over [`Kind`]s other than distributions.
    Create(Kind),
    List(Kind),
    Get(Kind, String),
    GetConfig(Kind, String),
    Update(Kind, String),
    Delete(Kind, String),
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateDistribution => "CreateDistribution",
            Operation::CreateDistributionWithTags => "CreateDistributionWithTags",
            Operation::ListDistributions => "ListDistributions",
            Operation::GetDistribution(_) => "GetDistribution",
            Operation::GetDistributionConfig(_) => "GetDistributionConfig",
            Operation::UpdateDistribution(_) => "UpdateDistribution",
            Operation::DeleteDistribution(_) => "DeleteDistribution",
            Operation::CreateInvalidation(_) => "CreateInvalidation",
            Operation::ListInvalidations(_) => "ListInvalidations",
            Operation::GetInvalidation(..) => "GetInvalidation",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::ListTagsForResource => "ListTagsForResource",
            Operation::Create(kind) => names(*kind)[0],
            Operation::List(kind) => names(*kind)[1],
            Operation::Get(kind, _) => names(*kind)[2],
            Operation::GetConfig(kind, _) => names(*kind)[3],
            Operation::Update(kind, _) => names(*kind)[4],
            Operation::Delete(kind, _) => names(*kind)[5],
        }
    }
}

/// Create, List, Get, GetConfig, Update and Delete of `kind`.
fn names(kind: Kind) -> [&'static str; 6] {
    match kind {
        Kind::CachePolicy => [
            "CreateCachePolicy",
            "ListCachePolicies",
            "GetCachePolicy",
            "GetCachePolicyConfig",
            "UpdateCachePolicy",
            "DeleteCachePolicy",
        ],
        Kind::OriginRequestPolicy => [
            "CreateOriginRequestPolicy",
            "ListOriginRequestPolicies",
            "GetOriginRequestPolicy",
            "GetOriginRequestPolicyConfig",
            "UpdateOriginRequestPolicy",
            "DeleteOriginRequestPolicy",
        ],
        Kind::ResponseHeadersPolicy => [
            "CreateResponseHeadersPolicy",
            "ListResponseHeadersPolicies",
            "GetResponseHeadersPolicy",
            "GetResponseHeadersPolicyConfig",
            "UpdateResponseHeadersPolicy",
            "DeleteResponseHeadersPolicy",
        ],
        Kind::PublicKey => [
            "CreatePublicKey",
            "ListPublicKeys",
            "GetPublicKey",
            "GetPublicKeyConfig",
            "UpdatePublicKey",
            "DeletePublicKey",
        ],
        Kind::KeyGroup => {
            ["CreateKeyGroup", "ListKeyGroups", "GetKeyGroup", "GetKeyGroupConfig", "UpdateKeyGroup", "DeleteKeyGroup"]
        }
        Kind::OriginAccessControl => [
            "CreateOriginAccessControl",
            "ListOriginAccessControls",
            "GetOriginAccessControl",
            "GetOriginAccessControlConfig",
            "UpdateOriginAccessControl",
            "DeleteOriginAccessControl",
        ],
        Kind::Distribution => [
            "CreateDistribution",
            "ListDistributions",
            "GetDistribution",
            "GetDistributionConfig",
            "UpdateDistribution",
            "DeleteDistribution",
        ],
    }
}

/// The path segment of each kind's collection.
fn kind_of(segment: &str) -> Option<Kind> {
    Some(match segment {
        "cache-policy" => Kind::CachePolicy,
        "origin-request-policy" => Kind::OriginRequestPolicy,
        "response-headers-policy" => Kind::ResponseHeadersPolicy,
        "public-key" => Kind::PublicKey,
        "key-group" => Kind::KeyGroup,
        "origin-access-control" => Kind::OriginAccessControl,
        _ => return None,
    })
}

impl Operation {
    /// The operation of `method` on `path` with `query`, if CloudFront
    /// has one there (and nubo serves it).
    pub fn parse(method: &str, path: &str, query: &[(String, String)]) -> Option<Self> {
        let rest = path.strip_prefix("/2020-05-31/")?;
        let segments: Vec<String> =
            rest.split('/').filter(|segment| !segment.is_empty()).map(nubo_host::sigv4::percent_decode).collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |value: &str| value.to_owned();
        let has = |name: &str| query.iter().any(|(key, _)| key == name);
        let tagging = parameter(query, "Operation");
        Some(match (method, s.as_slice()) {
            ("POST", ["distribution"]) if has("WithTags") => Operation::CreateDistributionWithTags,
            ("POST", ["distribution"]) => Operation::CreateDistribution,
            ("GET", ["distribution"]) => Operation::ListDistributions,
            ("GET", ["distribution", id]) => Operation::GetDistribution(owned(id)),
            ("GET", ["distribution", id, "config"]) => Operation::GetDistributionConfig(owned(id)),
            ("PUT", ["distribution", id, "config"]) => Operation::UpdateDistribution(owned(id)),
            ("DELETE", ["distribution", id]) => Operation::DeleteDistribution(owned(id)),
            ("POST", ["distribution", id, "invalidation"]) => Operation::CreateInvalidation(owned(id)),
            ("GET", ["distribution", id, "invalidation"]) => Operation::ListInvalidations(owned(id)),
            ("GET", ["distribution", id, "invalidation", invalidation]) => {
                Operation::GetInvalidation(owned(id), owned(invalidation))
            }
            ("POST", ["tagging"]) if tagging == Some("Tag") => Operation::TagResource,
            ("POST", ["tagging"]) if tagging == Some("Untag") => Operation::UntagResource,
            ("GET", ["tagging"]) => Operation::ListTagsForResource,
            ("POST", [collection]) => Operation::Create(kind_of(collection)?),
            ("GET", [collection]) => Operation::List(kind_of(collection)?),
            ("GET", [collection, id]) => Operation::Get(kind_of(collection)?, owned(id)),
            ("GET", [collection, id, "config"]) => Operation::GetConfig(kind_of(collection)?, owned(id)),
            // Policies and key groups are updated at `/{Id}`, public keys
            // and origin access controls at `/{Id}/config`; either is taken.
            ("PUT", [collection, id] | [collection, id, "config"]) => {
                Operation::Update(kind_of(collection)?, owned(id))
            }
            ("DELETE", [collection, id]) => Operation::Delete(kind_of(collection)?, owned(id)),
            _ => return None,
        })
    }
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

#[cfg(test)]
mod tests {
    use nubo_host::front::Operation as _;

    use super::*;

    fn parse(method: &str, target: &str) -> Option<Operation> {
        let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        Operation::parse(method, path, &query(raw_query))
    }

    #[test]
    fn distributions_route_by_method_and_path() {
        assert_eq!(parse("POST", "/2020-05-31/distribution"), Some(Operation::CreateDistribution));
        assert_eq!(parse("POST", "/2020-05-31/distribution?WithTags"), Some(Operation::CreateDistributionWithTags));
        assert_eq!(parse("GET", "/2020-05-31/distribution?MaxItems=2"), Some(Operation::ListDistributions));
        assert_eq!(parse("GET", "/2020-05-31/distribution/E1"), Some(Operation::GetDistribution("E1".into())));
        assert_eq!(
            parse("GET", "/2020-05-31/distribution/E1/config"),
            Some(Operation::GetDistributionConfig("E1".into()))
        );
        assert_eq!(
            parse("PUT", "/2020-05-31/distribution/E1/config"),
            Some(Operation::UpdateDistribution("E1".into()))
        );
        assert_eq!(parse("DELETE", "/2020-05-31/distribution/E1"), Some(Operation::DeleteDistribution("E1".into())));
        assert_eq!(
            parse("POST", "/2020-05-31/distribution/E1/invalidation"),
            Some(Operation::CreateInvalidation("E1".into()))
        );
        assert_eq!(
            parse("GET", "/2020-05-31/distribution/E1/invalidation/I2"),
            Some(Operation::GetInvalidation("E1".into(), "I2".into()))
        );
        assert_eq!(parse("PUT", "/2020-05-31/distribution/E1"), None);
        assert_eq!(parse("GET", "/2019-03-26/distribution"), None);
        assert_eq!(parse("GET", "/2020-05-31/streaming-distribution"), None);
    }

    #[test]
    fn tagging_is_picked_by_its_operation_parameter() {
        let arn = "Resource=arn%3Aaws%3Acloudfront%3A%3A000000000000%3Adistribution%2FE1";
        assert_eq!(parse("POST", &format!("/2020-05-31/tagging?Operation=Tag&{arn}")), Some(Operation::TagResource));
        assert_eq!(
            parse("POST", &format!("/2020-05-31/tagging?Operation=Untag&{arn}")),
            Some(Operation::UntagResource)
        );
        assert_eq!(parse("GET", &format!("/2020-05-31/tagging?{arn}")), Some(Operation::ListTagsForResource));
        assert_eq!(parse("POST", "/2020-05-31/tagging?Operation=Other"), None);
        let query = query(arn);
        assert_eq!(parameter(&query, "Resource"), Some("arn:aws:cloudfront::000000000000:distribution/E1"));
    }

    #[test]
    fn other_resources_share_one_set_of_actions() {
        assert_eq!(parse("POST", "/2020-05-31/cache-policy"), Some(Operation::Create(Kind::CachePolicy)));
        assert_eq!(parse("GET", "/2020-05-31/key-group"), Some(Operation::List(Kind::KeyGroup)));
        assert_eq!(parse("GET", "/2020-05-31/public-key/K1"), Some(Operation::Get(Kind::PublicKey, "K1".into())));
        assert_eq!(
            parse("GET", "/2020-05-31/origin-access-control/E1/config"),
            Some(Operation::GetConfig(Kind::OriginAccessControl, "E1".into()))
        );
        assert_eq!(
            parse("PUT", "/2020-05-31/cache-policy/abc"),
            Some(Operation::Update(Kind::CachePolicy, "abc".into()))
        );
        assert_eq!(
            parse("PUT", "/2020-05-31/public-key/K1/config"),
            Some(Operation::Update(Kind::PublicKey, "K1".into()))
        );
        assert_eq!(
            parse("DELETE", "/2020-05-31/response-headers-policy/x"),
            Some(Operation::Delete(Kind::ResponseHeadersPolicy, "x".into()))
        );
        assert_eq!(parse("GET", "/2020-05-31/function"), None);
        assert_eq!(Operation::Update(Kind::OriginRequestPolicy, "x".into()).name(), "UpdateOriginRequestPolicy");
        assert_eq!(Operation::List(Kind::CachePolicy).name(), "ListCachePolicies");
    }
}
