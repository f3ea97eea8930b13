//! A `DistributionConfig` checked as CloudFront checks it, and completed
//! with CloudFront's defaults for what the client left out, so
//! GetDistributionConfig answers what CloudFront would.
//!
//! The checks need no record: what the config names elsewhere (policies,
//! key groups, origin access controls) comes back as [`References`] for
//! the operation to look up. Both cache key styles are taken: a cache
//! policy by id, or the legacy `ForwardedValues` with `MinTTL`,
//! `DefaultTTL` and `MaxTTL` that SAM and older templates still write.

use std::collections::BTreeSet;

use super::{
    check::{self, missing},
    errors::{Result, bad, invalid_argument},
};
use crate::model::{Node, empty_list, list_of};

/// CloudFront's limits (its default quotas, raised where nubo has no
/// reason for them).
const MAX_ALIASES: usize = 100;
const MAX_ORIGINS: usize = 100;
const MAX_CACHE_BEHAVIORS: usize = 75;
const MAX_CUSTOM_HEADERS: usize = 10;
const MAX_FORWARDED_HEADERS: usize = 10;
const MAX_WHITELISTED_COOKIES: usize = 10;
const MAX_QUERY_STRING_KEYS: usize = 10;
const MAX_KEY_GROUPS: usize = 4;
/// 100 years, CloudFront's largest TTL.
const MAX_TTL_SECONDS: i64 = 3_153_600_000;

/// Legacy TTLs CloudFront takes when a behavior without a cache policy
/// leaves them out.
pub const LEGACY_MIN_TTL: u64 = 0;
pub const LEGACY_DEFAULT_TTL: u64 = 86_400;
pub const LEGACY_MAX_TTL: u64 = 31_536_000;
/// How long an error is cached when `ErrorCachingMinTTL` is left out.
pub const ERROR_CACHING_MIN_TTL: u64 = 10;

/// The status codes a custom error response may be for, and answer with.
const ERROR_CODES: &[u16] = &[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];
const RESPONSE_CODES: &[u16] = &[200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/// The method sets a behavior may allow, and cache.
const ALLOWED_METHODS: &[&[&str]] =
    &[&["GET", "HEAD"], &["GET", "HEAD", "OPTIONS"], &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]];
const CACHED_METHODS: &[&[&str]] = &[&["GET", "HEAD"], &["GET", "HEAD", "OPTIONS"]];

/// Request headers an origin's custom headers may not set: CloudFront
/// sets them itself, or they belong to the connection.
const RESERVED_ORIGIN_HEADERS: &[&str] = &[
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "request-range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "x-real-ip",
];

/// CloudFront's member orders, which answers follow.
const CONFIG_ORDER: &[&str] = &[
    "CallerReference",
    "Aliases",
    "DefaultRootObject",
    "Origins",
    "OriginGroups",
    "DefaultCacheBehavior",
    "CacheBehaviors",
    "CustomErrorResponses",
    "Comment",
    "Logging",
    "PriceClass",
    "Enabled",
    "ViewerCertificate",
    "Restrictions",
    "WebACLId",
    "HttpVersion",
    "IsIPV6Enabled",
    "ContinuousDeploymentPolicyId",
    "Staging",
];
const ORIGIN_ORDER: &[&str] = &[
    "Id",
    "DomainName",
    "OriginPath",
    "CustomHeaders",
    "S3OriginConfig",
    "CustomOriginConfig",
    "VpcOriginConfig",
    "ConnectionAttempts",
    "ConnectionTimeout",
    "ResponseCompletionTimeout",
    "OriginShield",
    "OriginAccessControlId",
];
const BEHAVIOR_ORDER: &[&str] = &[
    "PathPattern",
    "TargetOriginId",
    "TrustedSigners",
    "TrustedKeyGroups",
    "ViewerProtocolPolicy",
    "AllowedMethods",
    "SmoothStreaming",
    "Compress",
    "LambdaFunctionAssociations",
    "FunctionAssociations",
    "FieldLevelEncryptionId",
    "RealtimeLogConfigArn",
    "CachePolicyId",
    "OriginRequestPolicyId",
    "ResponseHeadersPolicyId",
    "GrpcConfig",
    "ForwardedValues",
    "MinTTL",
    "DefaultTTL",
    "MaxTTL",
];

/// A config that passed every check, completed with defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub config: Node,
    /// Its CNAMEs, lowercased.
    pub aliases: Vec<String>,
    pub references: References,
}

/// The ids a distribution config names, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    pub cache_policies: BTreeSet<String>,
    pub origin_request_policies: BTreeSet<String>,
    pub response_headers_policies: BTreeSet<String>,
    pub key_groups: BTreeSet<String>,
    pub origin_access_controls: BTreeSet<String>,
}

/// Checks `config` and fills in CloudFront's defaults.
pub fn check(mut config: Node) -> Result<Checked> {
    check::quantities(&config)?;
    if check::required_text(&config, "CallerReference")?.trim().is_empty() {
        return Err(missing("CallerReference"));
    }
    check::required_flag(&config, "Enabled")?;
    let comment = config.default_leaf("Comment", "").text.chars().count();
    if comment > 128 {
        return Err(invalid_argument("The parameter Comment is too long: it must be at most 128 characters."));
    }
    let aliases = check_aliases(&config)?;
    check_default_root_object(&config)?;
    let targets = check_origins(&mut config)?;
    let behaviors = config.child("CacheBehaviors").map_or(0, list_len);
    if behaviors > MAX_CACHE_BEHAVIORS {
        return Err(bad(
            "TooManyCacheBehaviors",
            "Your request contains more cache behaviors than are allowed per distribution.",
        ));
    }
    let default = config.child_mut("DefaultCacheBehavior").ok_or_else(|| missing("DefaultCacheBehavior"))?;
    check_behavior(default, &targets)?;
    let mut patterns = BTreeSet::new();
    for behavior in items_mut(&mut config, "CacheBehaviors") {
        let pattern = check::required_text(behavior, "PathPattern")?.trim().to_owned();
        if pattern.is_empty() || pattern.len() > 255 {
            return Err(invalid_argument("The parameter PathPattern must be 1 to 255 characters long."));
        }
        if !patterns.insert(pattern.clone()) {
            return Err(invalid_argument(format!(
                "The path pattern {pattern} is used by more than one cache behavior."
            )));
        }
        check_behavior(behavior, &targets)?;
    }
    check_error_responses(&mut config)?;
    check_enumerations(&config)?;
    fill_defaults(&mut config);
    check::reorder(&mut config, CONFIG_ORDER);
    let references = references(&config);
    Ok(Checked { config, aliases, references })
}

/// What `config` (checked, or as stored) names elsewhere.
pub fn references(config: &Node) -> References {
    let mut references = References::default();
    for behavior in behaviors(config) {
        let add = |set: &mut BTreeSet<String>, name: &str| {
            if let Some(id) = behavior.text_of(name).map(str::trim).filter(|id| !id.is_empty()) {
                set.insert(id.to_owned());
            }
        };
        add(&mut references.cache_policies, "CachePolicyId");
        add(&mut references.origin_request_policies, "OriginRequestPolicyId");
        add(&mut references.response_headers_policies, "ResponseHeadersPolicyId");
        if let Some(groups) = behavior.child("TrustedKeyGroups")
            && groups.flag("Enabled")
        {
            references.key_groups.extend(list_texts(groups));
        }
    }
    for origin in config.items("Origins") {
        if let Some(id) = origin.text_of("OriginAccessControlId").map(str::trim).filter(|id| !id.is_empty()) {
            references.origin_access_controls.insert(id.to_owned());
        }
    }
    references
}

/// The ordered cache behaviors, then the default one.
pub fn behaviors(config: &Node) -> impl Iterator<Item = &Node> {
    config.items("CacheBehaviors").iter().chain(config.child("DefaultCacheBehavior"))
}

/// The CNAMEs of a checked config, lowercased.
pub fn aliases(config: &Node) -> Vec<String> {
    check::texts(config, "Aliases").into_iter().map(|alias| alias.to_ascii_lowercase()).collect()
}

/// The texts of a list node's own `Items`.
fn list_texts(list: &Node) -> Vec<String> {
    list.child("Items")
        .map_or_else(Vec::new, |items| items.children.iter().map(|item| item.text.trim().to_owned()).collect())
}

fn list_len(list: &Node) -> usize {
    list.child("Items").map_or(0, |items| items.children.len())
}

/// The `Items` of list child `name`, to edit.
fn items_mut<'n>(node: &'n mut Node, name: &str) -> impl Iterator<Item = &'n mut Node> {
    node.child_mut(name)
        .and_then(|list| list.child_mut("Items"))
        .into_iter()
        .flat_map(|items| items.children.iter_mut())
}

fn check_aliases(config: &Node) -> Result<Vec<String>> {
    let aliases = aliases(config);
    if aliases.len() > MAX_ALIASES {
        return Err(bad(
            "TooManyDistributionCNAMEs",
            "Your request contains more CNAMEs than are allowed per distribution.",
        ));
    }
    let mut seen = BTreeSet::new();
    for alias in &aliases {
        if !valid_host_name(alias, true) {
            return Err(invalid_argument(format!("The parameter CNAME contains an invalid domain name: {alias}")));
        }
        // The distributions' own domain names are nubo's, as
        // `cloudfront.net` is CloudFront's: no alias may take one.
        let lowered = alias.to_ascii_lowercase();
        if lowered == "cloudfront.localhost" || lowered.ends_with(".cloudfront.localhost") {
            return Err(invalid_argument(format!(
                "The CNAME {alias} is under cloudfront.localhost, which only distributions' own domain names use."
            )));
        }
        if !seen.insert(alias.as_str()) {
            return Err(invalid_argument(format!("The CNAME {alias} is given more than once.")));
        }
    }
    Ok(aliases)
}

/// A DNS name of letters, digits, `-` and `_` in labels of 1 to 63, at
/// most 253 long; with `wildcard`, `*.` may lead.
pub fn valid_host_name(name: &str, wildcard: bool) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let name = if wildcard { name.strip_prefix("*.").unwrap_or(name) } else { name };
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn check_default_root_object(config: &Node) -> Result<()> {
    let Some(object) = config.text_of("DefaultRootObject") else { return Ok(()) };
    let valid = object.len() <= 255
        && !object.starts_with('/')
        && object.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}')
        });
    if valid {
        Ok(())
    } else {
        Err(bad(
            "InvalidDefaultRootObject",
            "The default root object you specified is invalid: at most 255 characters, no leading slash.",
        ))
    }
}

/// Checks the origins and origin groups; answers every id a behavior may
/// target.
fn check_origins(config: &mut Node) -> Result<BTreeSet<String>> {
    let origins = check::required(config, "Origins")?;
    let count = list_len(origins);
    if count == 0 {
        return Err(invalid_argument("The parameter Origins must contain at least one origin."));
    }
    if count > MAX_ORIGINS {
        return Err(bad("TooManyOrigins", "You cannot create more origins for the distribution."));
    }
    let mut ids = BTreeSet::new();
    for origin in items_mut(config, "Origins") {
        let id = check_origin(origin)?;
        if !ids.insert(id.clone()) {
            return Err(invalid_argument(format!("The parameter Origin Id must be unique: {id} is used twice.")));
        }
    }
    let origins = ids.clone();
    for group in config.items("OriginGroups") {
        let id = check::required_text(group, "Id")?.trim().to_owned();
        if id.is_empty() || !ids.insert(id.clone()) {
            return Err(invalid_argument(format!("The origin group id '{id}' is empty or already used.")));
        }
        let members = check::required(group, "Members")?;
        for member in members.child("Items").map_or(&[][..], |items| items.children.as_slice()) {
            let origin = check::required_text(member, "OriginId")?.trim();
            if !origins.contains(origin) {
                return Err(no_such_origin());
            }
        }
        if list_len(members) != 2 {
            return Err(invalid_argument("An origin group must have exactly two members."));
        }
    }
    Ok(ids)
}

fn no_such_origin() -> nubo_host::front::AwsError {
    nubo_host::front::AwsError::new(404, "NoSuchOrigin", "One or more of your origins or origin groups do not exist.")
}

fn check_origin(origin: &mut Node) -> Result<String> {
    let id = check::required_text(origin, "Id")?.trim().to_owned();
    if id.is_empty() || id.len() > 128 {
        return Err(invalid_argument("The parameter Origin Id must be 1 to 128 characters long."));
    }
    let domain = check::required_text(origin, "DomainName")?.trim().to_owned();
    if !valid_origin_domain(&domain) {
        return Err(invalid_argument(format!(
            "The parameter origin name must be a domain name (no scheme, port or path): '{domain}' is not."
        )));
    }
    let path = origin.default_leaf("OriginPath", "").text.clone();
    if !path.is_empty() && (!path.starts_with('/') || path.ends_with('/') || path.len() > 255) {
        return Err(invalid_argument("The parameter OriginPath must begin with a slash and must not end with one."));
    }
    check_custom_headers(origin)?;
    let configs = ["S3OriginConfig", "CustomOriginConfig", "VpcOriginConfig"]
        .iter()
        .filter(|name| origin.child(name).is_some())
        .count();
    if configs != 1 {
        return Err(invalid_argument(
            "Exactly one of CustomOriginConfig, VpcOriginConfig and S3OriginConfig must be specified.",
        ));
    }
    if origin.child("VpcOriginConfig").is_some() {
        return Err(invalid_argument("VPC origins are not served by nubo: use a CustomOriginConfig."));
    }
    if let Some(s3) = origin.child_mut("S3OriginConfig") {
        let identity = s3.default_leaf("OriginAccessIdentity", "").text.trim().to_owned();
        if !identity.is_empty() && identity.strip_prefix("origin-access-identity/cloudfront/").is_none_or(str::is_empty)
        {
            return Err(bad(
                "InvalidOriginAccessIdentity",
                "The origin access identity is not valid or doesn't exist.",
            ));
        }
        check::integer_in(s3, "OriginReadTimeout", 1..=180, "InvalidOriginReadTimeout")?;
    }
    if let Some(custom) = origin.child_mut("CustomOriginConfig") {
        for port in ["HTTPPort", "HTTPSPort"] {
            if let Some(value) = check::integer(custom, port)?
                && !(value == 80 || value == 443 || (1024..=65535).contains(&value))
            {
                return Err(invalid_argument(format!("The parameter {port} must be 80, 443, or 1024 to 65535.")));
            }
        }
        let policy = check::required_text(custom, "OriginProtocolPolicy")?.trim().to_owned();
        check::one_of("OriginProtocolPolicy", &policy, &["http-only", "match-viewer", "https-only"])?;
        for protocol in check::texts(custom, "OriginSslProtocols") {
            check::one_of("OriginSslProtocols", &protocol, &["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"])?;
        }
        check::integer_in(custom, "OriginReadTimeout", 1..=180, "InvalidOriginReadTimeout")?;
        check::integer_in(custom, "OriginKeepaliveTimeout", 1..=180, "InvalidOriginKeepaliveTimeout")?;
        custom.default_leaf("HTTPPort", "80");
        custom.default_leaf("HTTPSPort", "443");
        custom.default_child("OriginSslProtocols", || list_of("OriginSslProtocols", "SslProtocol", &["TLSv1.2"]));
        custom.default_leaf("OriginReadTimeout", "30");
        custom.default_leaf("OriginKeepaliveTimeout", "5");
        check::reorder(
            custom,
            &[
                "HTTPPort",
                "HTTPSPort",
                "OriginProtocolPolicy",
                "OriginSslProtocols",
                "OriginReadTimeout",
                "OriginKeepaliveTimeout",
            ],
        );
    }
    check::integer_in(origin, "ConnectionAttempts", 1..=3, "InvalidArgument")?;
    check::integer_in(origin, "ConnectionTimeout", 1..=10, "InvalidArgument")?;
    origin.default_child("CustomHeaders", || empty_list("CustomHeaders"));
    origin.default_leaf("ConnectionAttempts", "3");
    origin.default_leaf("ConnectionTimeout", "10");
    origin.default_child("OriginShield", || Node::new("OriginShield").with(Node::leaf("Enabled", "false")));
    origin.default_leaf("OriginAccessControlId", "");
    check::reorder(origin, ORIGIN_ORDER);
    Ok(id)
}

/// A domain name, an IPv4 address, or an IPv6 address in brackets
/// (CloudFront takes names only; nubo's origins are often on loopback).
fn valid_origin_domain(domain: &str) -> bool {
    if let Some(inner) = domain.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    valid_host_name(domain, false)
}

fn check_custom_headers(origin: &Node) -> Result<()> {
    let headers = origin.items("CustomHeaders");
    if headers.len() > MAX_CUSTOM_HEADERS {
        return Err(bad("TooManyOriginCustomHeaders", "Your request contains too many origin custom headers."));
    }
    for header in headers {
        let name = check::required_text(header, "HeaderName")?.trim().to_ascii_lowercase();
        check::required_text(header, "HeaderValue")?;
        let token =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let reserved = RESERVED_ORIGIN_HEADERS.contains(&name.as_str())
            || name.starts_with("x-amz-")
            || name.starts_with("x-edge-")
            || name.starts_with("proxy-");
        if !token || reserved {
            return Err(invalid_argument(format!("The parameter HeaderName : {name} is not allowed.")));
        }
    }
    Ok(())
}

/// Checks one cache behavior and fills in its defaults.
fn check_behavior(behavior: &mut Node, targets: &BTreeSet<String>) -> Result<()> {
    let target = check::required_text(behavior, "TargetOriginId")?.trim().to_owned();
    if !targets.contains(&target) {
        return Err(no_such_origin());
    }
    let viewer = check::required_text(behavior, "ViewerProtocolPolicy")?.trim().to_owned();
    check::one_of("ViewerProtocolPolicy", &viewer, &["allow-all", "https-only", "redirect-to-https"])?;
    if !behavior.items("FunctionAssociations").is_empty() {
        return Err(bad(
            "InvalidFunctionAssociation",
            "CloudFront Functions are not served by nubo yet: FunctionAssociations must be empty.",
        ));
    }
    if !behavior.items("LambdaFunctionAssociations").is_empty() {
        return Err(bad(
            "InvalidLambdaFunctionAssociation",
            "Lambda@Edge is not served by nubo yet: LambdaFunctionAssociations must be empty.",
        ));
    }
    if let Some(signers) = behavior.child("TrustedSigners")
        && signers.flag("Enabled")
        && list_len(signers) > 0
    {
        return Err(invalid_argument(
            "Trusted signers (an account's CloudFront key pairs) are not served by nubo: use TrustedKeyGroups.",
        ));
    }
    if let Some(groups) = behavior.child("TrustedKeyGroups") {
        check::required_flag(groups, "Enabled")?;
        if list_len(groups) > MAX_KEY_GROUPS {
            return Err(bad(
                "TooManyKeyGroupsAssociatedToDistribution",
                "The number of key groups referenced by this distribution is more than the maximum allowed.",
            ));
        }
    }
    if behavior.text_of("FieldLevelEncryptionId").is_some_and(|id| !id.trim().is_empty()) {
        return Err(nubo_host::front::AwsError::new(
            404,
            "NoSuchFieldLevelEncryptionConfig",
            "The specified configuration for field-level encryption doesn't exist.",
        ));
    }
    check_methods(behavior)?;
    for flag in ["SmoothStreaming", "Compress"] {
        check::flag(behavior, flag)?;
    }
    let policy = behavior.text_of("CachePolicyId").map(str::trim).filter(|id| !id.is_empty()).is_some();
    match (policy, behavior.child("ForwardedValues").is_some()) {
        (true, true) => {
            return Err(invalid_argument(
                "The parameter ForwardedValues cannot be used when a cache policy is associated to the cache behavior.",
            ));
        }
        (false, false) => return Err(missing("ForwardedValues")),
        (false, true) => check_legacy(behavior)?,
        (true, false) => {}
    }
    behavior.default_child("TrustedSigners", disabled_list("TrustedSigners"));
    behavior.default_child("TrustedKeyGroups", disabled_list("TrustedKeyGroups"));
    behavior.default_leaf("SmoothStreaming", "false");
    behavior.default_leaf("Compress", "false");
    behavior.default_child("LambdaFunctionAssociations", || empty_list("LambdaFunctionAssociations"));
    behavior.default_child("FunctionAssociations", || empty_list("FunctionAssociations"));
    behavior.default_leaf("FieldLevelEncryptionId", "");
    check::reorder(behavior, BEHAVIOR_ORDER);
    Ok(())
}

fn disabled_list(name: &'static str) -> impl FnOnce() -> Node {
    move || Node::new(name).with(Node::leaf("Enabled", "false")).with(Node::leaf("Quantity", "0"))
}

/// `AllowedMethods` and its `CachedMethods` must be one of CloudFront's
/// sets; both default to GET and HEAD.
fn check_methods(behavior: &mut Node) -> Result<()> {
    let get_head = || {
        let mut methods = list_of("AllowedMethods", "Method", &["HEAD", "GET"]);
        methods.children.push(list_of("CachedMethods", "Method", &["HEAD", "GET"]));
        methods
    };
    let allowed = behavior.default_child("AllowedMethods", get_head);
    let set = |list: &Node| {
        let mut methods: Vec<String> = list_texts(list).into_iter().map(|method| method.to_ascii_uppercase()).collect();
        methods.sort();
        methods.dedup();
        methods
    };
    let allowed_set = set(allowed);
    if !ALLOWED_METHODS.iter().any(|known| *known == allowed_set.as_slice()) {
        return Err(invalid_argument(
            "The parameter AllowedMethods must be GET, HEAD; or GET, HEAD, OPTIONS; or GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE.",
        ));
    }
    let cached = allowed.default_child("CachedMethods", || list_of("CachedMethods", "Method", &["HEAD", "GET"]));
    let cached_set = set(cached);
    let within = cached_set.iter().all(|method| allowed_set.contains(method));
    if !within || !CACHED_METHODS.iter().any(|known| *known == cached_set.as_slice()) {
        return Err(invalid_argument(
            "The parameter CachedMethods must be GET, HEAD; or GET, HEAD, OPTIONS, and allowed by AllowedMethods.",
        ));
    }
    Ok(())
}

/// `ForwardedValues` and the TTLs of a behavior without a cache policy.
fn check_legacy(behavior: &mut Node) -> Result<()> {
    let Some(forwarded) = behavior.child_mut("ForwardedValues") else { return Ok(()) };
    check::required_flag(forwarded, "QueryString")?;
    let cookies = check::required(forwarded, "Cookies")?;
    let forward = check::required_text(cookies, "Forward")?.trim().to_owned();
    check::one_of("Forward", &forward, &["none", "whitelist", "all"])?;
    let names = cookies.child("WhitelistedNames").map_or(0, list_len);
    if (forward == "whitelist") != (names > 0) {
        return Err(bad(
            "InvalidForwardCookies",
            "Your request contains forward cookies option which doesn't match with the expectation for the whitelisted list of cookie names. Either list of cookie names has been specified when not allowed or list of cookie names is missing when expected.",
        ));
    }
    if names > MAX_WHITELISTED_COOKIES {
        return Err(bad(
            "TooManyCookieNamesInWhiteList",
            "Your request contains more cookie names in the whitelist than are allowed per cache behavior.",
        ));
    }
    if forwarded.items("Headers").len() > MAX_FORWARDED_HEADERS {
        return Err(bad(
            "TooManyHeadersInForwardedValues",
            "Your request contains too many headers in forwarded values.",
        ));
    }
    if forwarded.items("QueryStringCacheKeys").len() > MAX_QUERY_STRING_KEYS {
        return Err(bad("TooManyQueryStringParameters", "Your request contains too many query string parameters."));
    }
    forwarded.default_child("Headers", || empty_list("Headers"));
    forwarded.default_child("QueryStringCacheKeys", || empty_list("QueryStringCacheKeys"));
    check::reorder(forwarded, &["QueryString", "Cookies", "Headers", "QueryStringCacheKeys"]);
    let mut ttl = |name: &str, default: u64| -> Result<i64> {
        let value = check::integer_in(behavior, name, 0..=MAX_TTL_SECONDS, "InvalidArgument")?;
        Ok(value.unwrap_or_else(|| {
            behavior.set(name, default.to_string());
            i64::try_from(default).unwrap_or(i64::MAX)
        }))
    };
    let min = ttl("MinTTL", LEGACY_MIN_TTL)?;
    let default = ttl("DefaultTTL", LEGACY_DEFAULT_TTL)?;
    let max = ttl("MaxTTL", LEGACY_MAX_TTL)?;
    if !(min <= default && default <= max) {
        return Err(bad("InvalidTTLOrder", "The TTL order specified is not valid: MinTTL <= DefaultTTL <= MaxTTL."));
    }
    Ok(())
}

fn check_error_responses(config: &mut Node) -> Result<()> {
    let mut codes = BTreeSet::new();
    for response in items_mut(config, "CustomErrorResponses") {
        let code = check::required_text(response, "ErrorCode")?.trim().to_owned();
        let code: u16 = code.parse().ok().filter(|code| ERROR_CODES.contains(code)).ok_or_else(|| {
            bad("InvalidErrorCode", format!("The error code {code} cannot have a custom error response."))
        })?;
        if !codes.insert(code) {
            return Err(invalid_argument(format!("The error code {code} has more than one custom error response.")));
        }
        let page = response.default_leaf("ResponsePagePath", "").text.trim().to_owned();
        let status = response.default_leaf("ResponseCode", "").text.trim().to_owned();
        if !page.is_empty() && !page.starts_with('/') {
            return Err(bad(
                "InvalidRelativePath",
                "The relative path is too big, is not URL-encoded, or does not begin with a slash (/).",
            ));
        }
        if !status.is_empty() && !status.parse().is_ok_and(|status: u16| RESPONSE_CODES.contains(&status)) {
            return Err(bad("InvalidResponseCode", format!("The response code {status} is not valid.")));
        }
        if page.is_empty() != status.is_empty() {
            return Err(invalid_argument(
                "Your request must specify both ResponsePagePath and ResponseCode, or neither of them.",
            ));
        }
        if check::integer_in(response, "ErrorCachingMinTTL", 0..=MAX_TTL_SECONDS, "InvalidArgument")?.is_none() {
            response.set("ErrorCachingMinTTL", ERROR_CACHING_MIN_TTL.to_string());
        }
        check::reorder(response, &["ErrorCode", "ResponsePagePath", "ResponseCode", "ErrorCachingMinTTL"]);
    }
    Ok(())
}

fn check_enumerations(config: &Node) -> Result<()> {
    if let Some(class) = config.text_of("PriceClass") {
        check::one_of("PriceClass", class.trim(), &["PriceClass_100", "PriceClass_200", "PriceClass_All", "None"])?;
    }
    if let Some(version) = config.text_of("HttpVersion") {
        check::one_of("HttpVersion", version.trim(), &["http1.1", "http2", "http3", "http2and3"])?;
    }
    check::flag(config, "IsIPV6Enabled")?;
    check::flag(config, "Staging")?;
    if let Some(geo) = config.child("Restrictions").and_then(|restrictions| restrictions.child("GeoRestriction")) {
        let kind = check::required_text(geo, "RestrictionType")?.trim();
        let valid = match kind {
            "none" => list_len(geo) == 0,
            "whitelist" | "blacklist" => list_len(geo) > 0,
            _ => false,
        };
        if !valid {
            return Err(bad("InvalidGeoRestrictionParameter", "The specified geo restriction parameter is not valid."));
        }
    }
    if let Some(logging) = config.child("Logging") {
        check::flag(logging, "Enabled")?;
        check::flag(logging, "IncludeCookies")?;
    }
    Ok(())
}

/// CloudFront's defaults for the members a config may leave out.
fn fill_defaults(config: &mut Node) {
    config.default_child("Aliases", || empty_list("Aliases"));
    config.default_leaf("DefaultRootObject", "");
    config.default_child("OriginGroups", || empty_list("OriginGroups"));
    config.default_child("CacheBehaviors", || empty_list("CacheBehaviors"));
    config.default_child("CustomErrorResponses", || empty_list("CustomErrorResponses"));
    config.default_child("Logging", || {
        Node::new("Logging")
            .with(Node::leaf("Enabled", "false"))
            .with(Node::leaf("IncludeCookies", "false"))
            .with(Node::leaf("Bucket", ""))
            .with(Node::leaf("Prefix", ""))
    });
    config.default_leaf("PriceClass", "PriceClass_All");
    config.default_child("ViewerCertificate", || {
        Node::new("ViewerCertificate")
            .with(Node::leaf("CloudFrontDefaultCertificate", "true"))
            .with(Node::leaf("SSLSupportMethod", "vip"))
            .with(Node::leaf("MinimumProtocolVersion", "TLSv1"))
            .with(Node::leaf("CertificateSource", "cloudfront"))
    });
    config.default_child("Restrictions", || {
        Node::new("Restrictions").with(
            Node::new("GeoRestriction").with(Node::leaf("RestrictionType", "none")).with(Node::leaf("Quantity", "0")),
        )
    });
    config.default_leaf("WebACLId", "");
    config.default_leaf("HttpVersion", "http2");
    config.default_leaf("IsIPV6Enabled", "true");
    config.default_leaf("Staging", "false");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::xml;

    /// The smallest config CloudFront takes: one custom origin, a default
    /// behavior on a cache policy.
    fn minimal() -> String {
        "<DistributionConfig xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
         <CallerReference>ref-1</CallerReference><Comment></Comment><Enabled>true</Enabled>\
         <Origins><Quantity>1</Quantity><Items><Origin><Id>web</Id><DomainName>example.com</DomainName>\
         <CustomOriginConfig><HTTPPort>8080</HTTPPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy></CustomOriginConfig>\
         </Origin></Items></Origins>\
         <DefaultCacheBehavior><TargetOriginId>web</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>\
         <CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId></DefaultCacheBehavior>\
         </DistributionConfig>"
            .to_owned()
    }

    fn parse(text: &str) -> Node {
        xml::parse(text.as_bytes(), "DistributionConfig").unwrap()
    }

    fn code(text: &str) -> String {
        check(parse(text)).unwrap_err().code.to_string()
    }

    #[test]
    fn a_minimal_config_gets_cloudfronts_defaults() {
        let checked = check(parse(&minimal())).unwrap();
        let config = &checked.config;
        assert_eq!(config.child("Aliases").and_then(|a| a.number("Quantity")), Some(0));
        assert_eq!(config.text_of("PriceClass"), Some("PriceClass_All"));
        assert_eq!(config.text_of("HttpVersion"), Some("http2"));
        assert!(config.child("ViewerCertificate").unwrap().flag("CloudFrontDefaultCertificate"));
        let origin = &config.items("Origins")[0];
        assert_eq!(origin.text_of("ConnectionAttempts"), Some("3"));
        assert_eq!(origin.text_of("OriginPath"), Some(""));
        let custom = origin.child("CustomOriginConfig").unwrap();
        assert_eq!(custom.text_of("HTTPSPort"), Some("443"));
        assert_eq!(custom.text_of("OriginReadTimeout"), Some("30"));
        let behavior = config.child("DefaultCacheBehavior").unwrap();
        let methods = behavior.child("AllowedMethods").unwrap();
        assert_eq!(check::texts(behavior, "AllowedMethods"), ["HEAD", "GET"]);
        assert_eq!(check::texts(methods, "CachedMethods"), ["HEAD", "GET"]);
        assert_eq!(behavior.text_of("Compress"), Some("false"));
        let names: Vec<&str> = config.children.iter().map(|child| child.name.as_str()).collect();
        assert_eq!(&names[..4], ["CallerReference", "Aliases", "DefaultRootObject", "Origins"]);
        assert_eq!(checked.references.cache_policies.len(), 1);
        // Checking what was checked changes nothing.
        assert_eq!(check(checked.config.clone()).unwrap().config, checked.config);
    }

    #[test]
    fn legacy_forwarded_values_take_the_legacy_ttls() {
        let legacy = minimal().replace(
            "<CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>",
            "<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues><MinTTL>0</MinTTL>",
        );
        let checked = check(parse(&legacy)).unwrap();
        let behavior = checked.config.child("DefaultCacheBehavior").unwrap();
        assert_eq!(behavior.number("DefaultTTL"), Some(LEGACY_DEFAULT_TTL));
        assert_eq!(behavior.number("MaxTTL"), Some(LEGACY_MAX_TTL));
        assert_eq!(behavior.child("ForwardedValues").unwrap().child("Headers").unwrap().number("Quantity"), Some(0));
        assert_eq!(
            code(&legacy.replace("<MinTTL>0</MinTTL>", "<MinTTL>100</MinTTL><DefaultTTL>10</DefaultTTL>")),
            "InvalidTTLOrder"
        );
        assert_eq!(
            code(&legacy.replace("<Forward>none</Forward>", "<Forward>whitelist</Forward>")),
            "InvalidForwardCookies"
        );
        let both = legacy.replace("<MinTTL>0</MinTTL>", "<CachePolicyId>x</CachePolicyId>");
        assert_eq!(code(&both), "InvalidArgument");
        let neither = minimal().replace("<CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>", "");
        assert_eq!(code(&neither), "InvalidArgument");
    }

    #[test]
    fn functions_and_lambda_at_edge_are_refused_as_not_served() {
        let function = minimal().replace(
            "</DefaultCacheBehavior>",
            "<FunctionAssociations><Quantity>1</Quantity><Items><FunctionAssociation><FunctionARN>arn:aws:cloudfront::000000000000:function/f</FunctionARN><EventType>viewer-request</EventType></FunctionAssociation></Items></FunctionAssociations></DefaultCacheBehavior>",
        );
        let error = check(parse(&function)).unwrap_err();
        assert_eq!(error.code, "InvalidFunctionAssociation");
        assert!(error.message.contains("not served by nubo"), "{}", error.message);
        let lambda = minimal().replace(
            "</DefaultCacheBehavior>",
            "<LambdaFunctionAssociations><Quantity>1</Quantity><Items><LambdaFunctionAssociation><LambdaFunctionARN>arn:aws:lambda:us-east-1:000000000000:function:f:1</LambdaFunctionARN><EventType>origin-request</EventType></LambdaFunctionAssociation></Items></LambdaFunctionAssociations></DefaultCacheBehavior>",
        );
        let error = check(parse(&lambda)).unwrap_err();
        assert_eq!(error.code, "InvalidLambdaFunctionAssociation");
        assert!(error.message.contains("Lambda@Edge"), "{}", error.message);
        let empty = minimal().replace(
            "</DefaultCacheBehavior>",
            "<FunctionAssociations><Quantity>0</Quantity></FunctionAssociations></DefaultCacheBehavior>",
        );
        assert!(check(parse(&empty)).is_ok());
    }

    #[test]
    fn bad_values_get_cloudfronts_error_names() {
        let with = |from: &str, to: &str| code(&minimal().replace(from, to));
        assert_eq!(
            with("<Quantity>1</Quantity><Items><Origin>", "<Quantity>2</Quantity><Items><Origin>"),
            "InconsistentQuantities"
        );
        assert_eq!(
            with("<TargetOriginId>web</TargetOriginId>", "<TargetOriginId>other</TargetOriginId>"),
            "NoSuchOrigin"
        );
        assert_eq!(with("allow-all", "sometimes"), "InvalidArgument");
        assert_eq!(
            with("<DomainName>example.com</DomainName>", "<DomainName>http://example.com/</DomainName>"),
            "InvalidArgument"
        );
        assert_eq!(with("<HTTPPort>8080</HTTPPort>", "<HTTPPort>81</HTTPPort>"), "InvalidArgument");
        assert_eq!(with("http-only", "gopher"), "InvalidArgument");
        assert_eq!(with("<CallerReference>ref-1</CallerReference>", ""), "InvalidArgument");
        assert_eq!(with("<Enabled>true</Enabled>", "<Enabled>maybe</Enabled>"), "MalformedInput");
        assert_eq!(
            with("</CustomOriginConfig>", "<OriginReadTimeout>500</OriginReadTimeout></CustomOriginConfig>"),
            "InvalidOriginReadTimeout"
        );
        assert_eq!(
            with("<Comment></Comment>", "<DefaultRootObject>/index.html</DefaultRootObject><Comment></Comment>"),
            "InvalidDefaultRootObject"
        );
        let error_response = |inner: &str| {
            with(
                "<Comment></Comment>",
                &format!(
                    "<CustomErrorResponses><Quantity>1</Quantity><Items><CustomErrorResponse>{inner}</CustomErrorResponse></Items></CustomErrorResponses><Comment></Comment>"
                ),
            )
        };
        assert_eq!(error_response("<ErrorCode>200</ErrorCode>"), "InvalidErrorCode");
        assert_eq!(
            error_response(
                "<ErrorCode>404</ErrorCode><ResponsePagePath>index.html</ResponsePagePath><ResponseCode>200</ResponseCode>"
            ),
            "InvalidRelativePath"
        );
        assert_eq!(
            error_response(
                "<ErrorCode>404</ErrorCode><ResponsePagePath>/index.html</ResponsePagePath><ResponseCode>299</ResponseCode>"
            ),
            "InvalidResponseCode"
        );
        assert_eq!(error_response("<ErrorCode>404</ErrorCode><ResponseCode>200</ResponseCode>"), "InvalidArgument");
        let headers = "<CustomHeaders><Quantity>1</Quantity><Items><OriginCustomHeader><HeaderName>Host</HeaderName><HeaderValue>x</HeaderValue></OriginCustomHeader></Items></CustomHeaders>";
        assert_eq!(with("<CustomOriginConfig>", &format!("{headers}<CustomOriginConfig>")), "InvalidArgument");
        let methods = "<AllowedMethods><Quantity>2</Quantity><Items><Method>GET</Method><Method>POST</Method></Items></AllowedMethods>";
        assert_eq!(with("<CachePolicyId>", &format!("{methods}<CachePolicyId>")), "InvalidArgument");
    }

    #[test]
    fn the_spa_fallback_is_completed_with_its_caching_default() {
        let spa = minimal().replace(
            "<Comment></Comment>",
            "<CustomErrorResponses><Quantity>1</Quantity><Items><CustomErrorResponse><ErrorCode>404</ErrorCode><ResponsePagePath>/index.html</ResponsePagePath><ResponseCode>200</ResponseCode></CustomErrorResponse></Items></CustomErrorResponses><Comment></Comment>",
        );
        let checked = check(parse(&spa)).unwrap();
        let response = &checked.config.items("CustomErrorResponses")[0];
        assert_eq!(response.number("ErrorCachingMinTTL"), Some(ERROR_CACHING_MIN_TTL));
    }

    #[test]
    fn aliases_are_lowercased_checked_and_limited() {
        let aliases = |names: &[&str]| {
            let list = names.iter().map(|name| format!("<CNAME>{name}</CNAME>")).collect::<String>();
            minimal().replace(
                "<Comment></Comment>",
                &format!(
                    "<Aliases><Quantity>{}</Quantity><Items>{list}</Items></Aliases><Comment></Comment>",
                    names.len()
                ),
            )
        };
        let checked = check(parse(&aliases(&["WWW.Example.com", "localhost", "*.cdn.example"]))).unwrap();
        assert_eq!(checked.aliases, ["www.example.com", "localhost", "*.cdn.example"]);
        assert_eq!(code(&aliases(&["a.example", "A.example"])), "InvalidArgument");
        assert_eq!(code(&aliases(&["bad name"])), "InvalidArgument");
        // Another distribution's domain name, or a wildcard over them all.
        assert_eq!(code(&aliases(&["e1a2b3c4d5e6f7.cloudfront.localhost"])), "InvalidArgument");
        assert_eq!(code(&aliases(&["*.cloudfront.localhost"])), "InvalidArgument");
        let many: Vec<String> = (0..101).map(|n| format!("h{n}.example")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(code(&aliases(&many)), "TooManyDistributionCNAMEs");
    }

    #[test]
    fn ordered_behaviors_need_unique_patterns() {
        let behavior = |pattern: &str| {
            format!(
                "<CacheBehavior><PathPattern>{pattern}</PathPattern><TargetOriginId>web</TargetOriginId>\
                 <ViewerProtocolPolicy>https-only</ViewerProtocolPolicy><CachePolicyId>p</CachePolicyId>\
                 <OriginRequestPolicyId>o</OriginRequestPolicyId>\
                 <TrustedKeyGroups><Enabled>true</Enabled><Quantity>1</Quantity><Items><KeyGroup>kg</KeyGroup></Items></TrustedKeyGroups></CacheBehavior>"
            )
        };
        let config = |patterns: &[&str]| {
            let items: String = patterns.iter().map(|pattern| behavior(pattern)).collect();
            minimal().replace(
                "<Comment></Comment>",
                &format!(
                    "<CacheBehaviors><Quantity>{}</Quantity><Items>{items}</Items></CacheBehaviors><Comment></Comment>",
                    patterns.len()
                ),
            )
        };
        let checked = check(parse(&config(&["/api/*", "*.js"]))).unwrap();
        assert_eq!(checked.references.key_groups, BTreeSet::from(["kg".to_owned()]));
        assert_eq!(checked.references.origin_request_policies, BTreeSet::from(["o".to_owned()]));
        assert_eq!(checked.references.cache_policies.len(), 2);
        assert_eq!(code(&config(&["/api/*", "/api/*"])), "InvalidArgument");
    }
}
