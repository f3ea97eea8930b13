//! Cache, origin request and response headers policy configs, checked as
//! CloudFront checks them and completed with its defaults.

use super::{
    check::{self, missing},
    errors::{Result, bad, invalid_argument},
};
use crate::model::{Node, empty_list};

/// CloudFront's limits on a policy's names.
const MAX_NAMES: usize = 10;
/// 100 years, CloudFront's largest TTL.
const MAX_TTL_SECONDS: i64 = 3_153_600_000;
/// The defaults of a cache policy's TTLs when only `MinTTL` is given.
const DEFAULT_TTL: i64 = 86_400;
const MAX_TTL: i64 = 31_536_000;
/// The longest `Content-Security-Policy` a policy may set.
const MAX_CSP: usize = 1783;
/// Response headers a policy may not remove: CloudFront needs them to
/// frame and describe the response.
const UNREMOVABLE: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
    "x-accel-buffering",
    "x-accel-charset",
    "x-accel-limit-rate",
    "x-accel-redirect",
    "x-cache",
    "x-forwarded-proto",
    "x-real-ip",
];

/// A policy's `Name` (letters, digits, `-`, `_`; at most 128) and its
/// optional `Comment` (at most 128).
pub fn check_name_and_comment(config: &Node, max_name: usize) -> Result<String> {
    let name = check::required_text(config, "Name")?.trim().to_owned();
    let valid = !name.is_empty()
        && name.chars().count() <= max_name
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(invalid_argument(format!(
            "The parameter Name must be 1 to {max_name} letters, digits, hyphens and underscores: '{name}' is not."
        )));
    }
    if config.text_of("Comment").is_some_and(|comment| comment.chars().count() > 128) {
        return Err(invalid_argument("The parameter Comment is too long: it must be at most 128 characters."));
    }
    Ok(name)
}

/// A `{Headers,Cookies,QueryStrings}Config`: its behavior is one of
/// `behaviors`; those in `named` need names, the others take none.
fn check_selection(
    parent: &mut Node,
    config: &str,
    behavior: &str,
    list: &str,
    (behaviors, named): (&[&str], &[&str]),
    too_many: &'static str,
) -> Result<()> {
    let node = parent.child_mut(config).ok_or_else(|| missing(config))?;
    let value = check::required_text(node, behavior)?.trim().to_owned();
    check::one_of(behavior, &value, behaviors)?;
    let names = node.items(list).len();
    if named.contains(&value.as_str()) && names == 0 {
        return Err(invalid_argument(format!("The parameter {list} is required when {behavior} is {value}.")));
    }
    if !named.contains(&value.as_str()) && names > 0 {
        return Err(invalid_argument(format!("The parameter {list} cannot be given when {behavior} is {value}.")));
    }
    // CloudFront's own headers are listed beside all the viewer's, past
    // the limit on names chosen one by one.
    if names > MAX_NAMES && value != "allViewerAndWhitelistCloudFront" {
        return Err(bad(too_many, format!("Your request contains more than {MAX_NAMES} names in {list}.")));
    }
    node.default_child(list, || empty_list(list));
    check::reorder(node, &[behavior, list]);
    Ok(())
}

/// Checks a `CachePolicyConfig` and fills in its defaults.
pub fn check_cache_policy(mut config: Node) -> Result<Node> {
    check::quantities(&config)?;
    check_name_and_comment(&config, 128)?;
    let min = check::integer_in(&config, "MinTTL", 0..=MAX_TTL_SECONDS, "InvalidArgument")?
        .ok_or_else(|| missing("MinTTL"))?;
    let default = match check::integer_in(&config, "DefaultTTL", 0..=MAX_TTL_SECONDS, "InvalidArgument")? {
        Some(default) => default,
        None => {
            let default = DEFAULT_TTL.max(min);
            config.set("DefaultTTL", default.to_string());
            default
        }
    };
    let max = match check::integer_in(&config, "MaxTTL", 0..=MAX_TTL_SECONDS, "InvalidArgument")? {
        Some(max) => max,
        None => {
            let max = MAX_TTL.max(default);
            config.set("MaxTTL", max.to_string());
            max
        }
    };
    if !(min <= default && default <= max) {
        return Err(invalid_argument("The TTLs must be in order: MinTTL <= DefaultTTL <= MaxTTL."));
    }
    let parameters = config
        .child_mut("ParametersInCacheKeyAndForwardedToOrigin")
        .ok_or_else(|| missing("ParametersInCacheKeyAndForwardedToOrigin"))?;
    check::required_flag(parameters, "EnableAcceptEncodingGzip")?;
    if check::flag(parameters, "EnableAcceptEncodingBrotli")?.is_none() {
        parameters.set("EnableAcceptEncodingBrotli", "false");
    }
    check_selection(
        parameters,
        "HeadersConfig",
        "HeaderBehavior",
        "Headers",
        (&["none", "whitelist"], &["whitelist"]),
        "TooManyHeadersInCachePolicy",
    )?;
    check_selection(
        parameters,
        "CookiesConfig",
        "CookieBehavior",
        "Cookies",
        (&["none", "whitelist", "allExcept", "all"], &["whitelist", "allExcept"]),
        "TooManyCookiesInCachePolicy",
    )?;
    check_selection(
        parameters,
        "QueryStringsConfig",
        "QueryStringBehavior",
        "QueryStrings",
        (&["none", "whitelist", "allExcept", "all"], &["whitelist", "allExcept"]),
        "TooManyQueryStringsInCachePolicy",
    )?;
    check::reorder(
        parameters,
        &[
            "EnableAcceptEncodingGzip",
            "EnableAcceptEncodingBrotli",
            "HeadersConfig",
            "CookiesConfig",
            "QueryStringsConfig",
        ],
    );
    check::reorder(
        &mut config,
        &["Comment", "Name", "DefaultTTL", "MaxTTL", "MinTTL", "ParametersInCacheKeyAndForwardedToOrigin"],
    );
    Ok(config)
}

/// Checks an `OriginRequestPolicyConfig` and fills in its defaults.
pub fn check_origin_request_policy(mut config: Node) -> Result<Node> {
    check::quantities(&config)?;
    check_name_and_comment(&config, 128)?;
    check_selection(
        &mut config,
        "HeadersConfig",
        "HeaderBehavior",
        "Headers",
        (
            &["none", "whitelist", "allViewer", "allViewerAndWhitelistCloudFront", "allExcept"],
            &["whitelist", "allViewerAndWhitelistCloudFront", "allExcept"],
        ),
        "TooManyHeadersInOriginRequestPolicy",
    )?;
    check_selection(
        &mut config,
        "CookiesConfig",
        "CookieBehavior",
        "Cookies",
        (&["none", "whitelist", "all", "allExcept"], &["whitelist", "allExcept"]),
        "TooManyCookiesInOriginRequestPolicy",
    )?;
    check_selection(
        &mut config,
        "QueryStringsConfig",
        "QueryStringBehavior",
        "QueryStrings",
        (&["none", "whitelist", "all", "allExcept"], &["whitelist", "allExcept"]),
        "TooManyQueryStringsInOriginRequestPolicy",
    )?;
    check::reorder(&mut config, &["Comment", "Name", "HeadersConfig", "CookiesConfig", "QueryStringsConfig"]);
    Ok(config)
}

/// Checks a `ResponseHeadersPolicyConfig`.
pub fn check_response_headers_policy(config: Node) -> Result<Node> {
    check::quantities(&config)?;
    check_name_and_comment(&config, 128)?;
    if let Some(cors) = config.child("CorsConfig") {
        check_cors(cors)?;
    }
    if let Some(security) = config.child("SecurityHeadersConfig") {
        check_security(security)?;
    }
    if let Some(timing) = config.child("ServerTimingHeadersConfig") {
        check::required_flag(timing, "Enabled")?;
        if let Some(rate) = timing.text_of("SamplingRate") {
            let rate: f64 = rate.trim().parse().map_err(|_| invalid_argument("SamplingRate must be a number."))?;
            if !(0.0..=100.0).contains(&rate) {
                return Err(invalid_argument("SamplingRate must be from 0 to 100."));
            }
        }
    }
    let custom = config
        .child("CustomHeadersConfig")
        .map_or(&[][..], |list| list.child("Items").map_or(&[][..], |items| items.children.as_slice()));
    if custom.len() > MAX_NAMES {
        return Err(bad(
            "TooManyCustomHeadersInResponseHeadersPolicy",
            "The number of custom headers in the response headers policy exceeds the maximum.",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for header in custom {
        let name = check::required_text(header, "Header")?.trim().to_ascii_lowercase();
        check::required_text(header, "Value")?;
        check::required_flag(header, "Override")?;
        if !token(&name) || !seen.insert(name.clone()) {
            return Err(invalid_argument(format!("The custom header '{name}' is not valid or is given twice.")));
        }
    }
    let removed = config
        .child("RemoveHeadersConfig")
        .map_or(&[][..], |list| list.child("Items").map_or(&[][..], |items| items.children.as_slice()));
    if removed.len() > MAX_NAMES {
        return Err(bad(
            "TooManyRemoveHeadersInResponseHeadersPolicy",
            "The number of headers in RemoveHeadersConfig in the response headers policy exceeds the maximum.",
        ));
    }
    for header in removed {
        let name = check::required_text(header, "Header")?.trim().to_ascii_lowercase();
        if !token(&name) || UNREMOVABLE.contains(&name.as_str()) {
            return Err(invalid_argument(format!("The header '{name}' cannot be removed from responses.")));
        }
    }
    Ok(config)
}

fn token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_cors(cors: &Node) -> Result<()> {
    check::required(cors, "AccessControlAllowOrigins")?;
    let origins = check::texts(cors, "AccessControlAllowOrigins");
    if origins.is_empty() {
        return Err(invalid_argument("AccessControlAllowOrigins must name at least one origin."));
    }
    check::required(cors, "AccessControlAllowHeaders")?;
    check::required(cors, "AccessControlAllowMethods")?;
    for method in check::texts(cors, "AccessControlAllowMethods") {
        check::one_of(
            "AccessControlAllowMethods",
            &method,
            &["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "HEAD", "ALL"],
        )?;
    }
    let credentials = check::required_flag(cors, "AccessControlAllowCredentials")?;
    if credentials && origins.iter().any(|origin| origin == "*") {
        return Err(invalid_argument(
            "AccessControlAllowCredentials cannot be true when AccessControlAllowOrigins is '*'.",
        ));
    }
    check::integer_in(cors, "AccessControlMaxAgeSec", 0..=i64::from(u32::MAX), "InvalidArgument")?;
    check::required_flag(cors, "OriginOverride")?;
    Ok(())
}

fn check_security(security: &Node) -> Result<()> {
    if let Some(xss) = security.child("XSSProtection") {
        check::required_flag(xss, "Override")?;
        check::required_flag(xss, "Protection")?;
        check::flag(xss, "ModeBlock")?;
        if xss.flag("ModeBlock") && xss.text_of("ReportUri").is_some_and(|uri| !uri.trim().is_empty()) {
            return Err(invalid_argument("XSSProtection cannot have both ModeBlock and ReportUri."));
        }
    }
    if let Some(frame) = security.child("FrameOptions") {
        check::required_flag(frame, "Override")?;
        check::one_of("FrameOption", check::required_text(frame, "FrameOption")?.trim(), &["DENY", "SAMEORIGIN"])?;
    }
    if let Some(referrer) = security.child("ReferrerPolicy") {
        check::required_flag(referrer, "Override")?;
        check::one_of(
            "ReferrerPolicy",
            check::required_text(referrer, "ReferrerPolicy")?.trim(),
            &[
                "no-referrer",
                "no-referrer-when-downgrade",
                "origin",
                "origin-when-cross-origin",
                "same-origin",
                "strict-origin",
                "strict-origin-when-cross-origin",
                "unsafe-url",
            ],
        )?;
    }
    if let Some(csp) = security.child("ContentSecurityPolicy") {
        check::required_flag(csp, "Override")?;
        if check::required_text(csp, "ContentSecurityPolicy")?.len() > MAX_CSP {
            return Err(bad(
                "TooLongCSPInResponseHeadersPolicy",
                "The length of the Content-Security-Policy header value in the response headers policy exceeds the maximum.",
            ));
        }
    }
    if let Some(options) = security.child("ContentTypeOptions") {
        check::required_flag(options, "Override")?;
    }
    if let Some(hsts) = security.child("StrictTransportSecurity") {
        check::required_flag(hsts, "Override")?;
        check::flag(hsts, "IncludeSubdomains")?;
        check::flag(hsts, "Preload")?;
        check::integer_in(hsts, "AccessControlMaxAgeSec", 0..=i64::from(u32::MAX), "InvalidArgument")?
            .ok_or_else(|| missing("AccessControlMaxAgeSec"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{managed, xml};

    fn cache_policy(inner: &str) -> Node {
        let text = format!(
            "<CachePolicyConfig><Name>by-query</Name><MinTTL>1</MinTTL>\
             <ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip>\
             <HeadersConfig><HeaderBehavior>none</HeaderBehavior></HeadersConfig>\
             <CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>\
             {inner}</ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>"
        );
        xml::parse(text.as_bytes(), "CachePolicyConfig").unwrap()
    }

    #[test]
    fn cache_policies_take_cloudfronts_defaults_and_limits() {
        let policy = check_cache_policy(cache_policy(
            "<QueryStringsConfig><QueryStringBehavior>whitelist</QueryStringBehavior><QueryStrings><Quantity>1</Quantity><Items><Name>v</Name></Items></QueryStrings></QueryStringsConfig>",
        ))
        .unwrap();
        assert_eq!(policy.number("DefaultTTL"), Some(86_400));
        assert_eq!(policy.number("MaxTTL"), Some(31_536_000));
        let parameters = policy.child("ParametersInCacheKeyAndForwardedToOrigin").unwrap();
        assert_eq!(parameters.text_of("EnableAcceptEncodingBrotli"), Some("false"));
        assert_eq!(parameters.child("HeadersConfig").unwrap().child("Headers").unwrap().number("Quantity"), Some(0));
        let code = |inner: &str| check_cache_policy(cache_policy(inner)).unwrap_err().code.to_string();
        assert_eq!(
            code("<QueryStringsConfig><QueryStringBehavior>whitelist</QueryStringBehavior></QueryStringsConfig>"),
            "InvalidArgument"
        );
        assert_eq!(
            code("<QueryStringsConfig><QueryStringBehavior>some</QueryStringBehavior></QueryStringsConfig>"),
            "InvalidArgument"
        );
        assert_eq!(code(""), "InvalidArgument");
        let many: String = (0..11).map(|n| format!("<Name>q{n}</Name>")).collect();
        assert_eq!(
            code(&format!(
                "<QueryStringsConfig><QueryStringBehavior>allExcept</QueryStringBehavior><QueryStrings><Quantity>11</Quantity><Items>{many}</Items></QueryStrings></QueryStringsConfig>"
            )),
            "TooManyQueryStringsInCachePolicy"
        );
        let mut disordered =
            cache_policy("<QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig>");
        disordered.set("MaxTTL", "0");
        assert_eq!(check_cache_policy(disordered).unwrap_err().code, "InvalidArgument");
    }

    #[test]
    fn the_managed_policies_pass_their_own_checks() {
        for (id, config) in managed::cache_policies() {
            assert_eq!(check_cache_policy(config.clone()).map_err(|e| e.to_string()).map(|_| ()), Ok(()), "{id}");
        }
        for (id, config) in managed::origin_request_policies() {
            assert_eq!(check_origin_request_policy(config).map_err(|e| e.to_string()).map(|_| ()), Ok(()), "{id}");
        }
        for (id, config) in managed::response_headers_policies() {
            assert_eq!(check_response_headers_policy(config).map_err(|e| e.to_string()).map(|_| ()), Ok(()), "{id}");
        }
    }

    #[test]
    fn response_headers_policies_refuse_what_cloudfront_refuses() {
        let policy = |inner: &str| {
            let text = format!("<ResponseHeadersPolicyConfig><Name>p</Name>{inner}</ResponseHeadersPolicyConfig>");
            check_response_headers_policy(xml::parse(text.as_bytes(), "ResponseHeadersPolicyConfig").unwrap())
        };
        let cors = |credentials: &str, origin: &str| {
            format!(
                "<CorsConfig><AccessControlAllowOrigins><Quantity>1</Quantity><Items><Origin>{origin}</Origin></Items></AccessControlAllowOrigins>\
                 <AccessControlAllowHeaders><Quantity>0</Quantity></AccessControlAllowHeaders>\
                 <AccessControlAllowMethods><Quantity>1</Quantity><Items><Method>GET</Method></Items></AccessControlAllowMethods>\
                 <AccessControlAllowCredentials>{credentials}</AccessControlAllowCredentials><OriginOverride>true</OriginOverride></CorsConfig>"
            )
        };
        assert!(policy(&cors("false", "*")).is_ok());
        assert!(policy(&cors("true", "https://app.example")).is_ok());
        assert_eq!(policy(&cors("true", "*")).unwrap_err().code, "InvalidArgument");
        let remove = "<RemoveHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyRemoveHeader><Header>Content-Length</Header></ResponseHeadersPolicyRemoveHeader></Items></RemoveHeadersConfig>";
        assert_eq!(policy(remove).unwrap_err().code, "InvalidArgument");
        let csp = format!(
            "<SecurityHeadersConfig><ContentSecurityPolicy><Override>true</Override><ContentSecurityPolicy>{}</ContentSecurityPolicy></ContentSecurityPolicy></SecurityHeadersConfig>",
            "a".repeat(2000)
        );
        assert_eq!(policy(&csp).unwrap_err().code, "TooLongCSPInResponseHeadersPolicy");
    }

    #[test]
    fn origin_request_policies_need_names_for_named_behaviors() {
        let text = "<OriginRequestPolicyConfig><Name>fwd</Name>\
            <HeadersConfig><HeaderBehavior>allViewerAndWhitelistCloudFront</HeaderBehavior></HeadersConfig>\
            <CookiesConfig><CookieBehavior>all</CookieBehavior></CookiesConfig>\
            <QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig></OriginRequestPolicyConfig>";
        let node = xml::parse(text.as_bytes(), "OriginRequestPolicyConfig").unwrap();
        assert_eq!(check_origin_request_policy(node).unwrap_err().code, "InvalidArgument");
    }
}
