//! A distribution's record, and the policies, key groups and origin
//! access controls it names, compiled into the [`Site`] the viewer path
//! serves: every id resolved (managed policies by their AWS ids), every
//! number parsed, every origin turned into the URL nubo fetches from.
//!
//! Origins that name nubo's own services go to its endpoints
//! ([`crate::Endpoints`]), with the `Host` that service routes by:
//! - an S3 REST endpoint (`{bucket}.s3.amazonaws.com`,
//!   `{bucket}.s3.{region}.amazonaws.com`, `{bucket}.s3-{region}.amazonaws.com`,
//!   `{bucket}.s3.localhost`): storage, `Host: {bucket}.s3.localhost`;
//! - an S3 website endpoint (`{bucket}.s3-website-{region}.amazonaws.com`,
//!   `{bucket}.s3-website.{region}.amazonaws.com`, `{bucket}.s3-website.localhost`):
//!   the website endpoint, `Host: {bucket}.s3-website.localhost`;
//! - an API (`{apiId}.execute-api.{region}.amazonaws.com`,
//!   `{apiId}.execute-api.localhost`): the gateway, `Host: {apiId}.execute-api.localhost`.
//!
//! Anything else is a custom origin at its own domain, on the port and
//! scheme its `OriginProtocolPolicy` picks (`match-viewer` fetches over
//! HTTP, as the site's one base URL allows).

use std::{collections::HashMap, sync::Arc, time::Duration};

use crate::{
    Endpoints,
    api::{distribution_config, keys, managed},
    model::{self, Node, Resource},
    site::{
        Behavior, CacheKeySpec, CachePolicy, Cors, ErrorResponse, HeaderSelection, Logging, Origin, OriginKind,
        OriginRequestPolicy, ResponseHeadersPolicy, Selection, Site, TrustedKeys, ViewerProtocol,
    },
};

/// Everything a distribution may name, by id. Managed policies are found
/// by their AWS ids without being here.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub cache_policies: HashMap<String, Node>,
    pub origin_request_policies: HashMap<String, Node>,
    pub response_headers_policies: HashMap<String, Node>,
    pub public_keys: HashMap<String, Node>,
    pub key_groups: HashMap<String, Node>,
    pub origin_access_controls: HashMap<String, Node>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("the {kind} {id} it names does not exist")]
    Missing { kind: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, CompileError>;

fn missing(kind: &'static str, id: &str) -> CompileError {
    CompileError::Missing { kind, id: id.to_owned() }
}

/// The HTTP methods CloudFront's `ALL` stands for in a CORS policy.
const ALL_METHODS: &[&str] = &["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "HEAD"];
/// A read timeout for origins that do not say.
const DEFAULT_READ_TIMEOUT: u64 = 30;

/// Compiles one distribution.
pub fn compile(distribution: &Resource, catalog: &Catalog, endpoints: &Endpoints) -> Result<Site> {
    let config = &distribution.config;
    let mut origins: HashMap<String, Arc<Origin>> = HashMap::new();
    for origin in config.items("Origins") {
        let compiled = compile_origin(origin, catalog, endpoints)?;
        origins.insert(compiled.id.clone(), Arc::new(compiled));
    }
    // An origin group is served by its primary member (nubo does not fail
    // over to the second).
    for group in config.items("OriginGroups") {
        let id = text(group, "Id");
        let primary = group
            .child("Members")
            .and_then(|members| members.child("Items"))
            .and_then(|items| items.children.first())
            .map(|member| text(member, "OriginId"));
        if let Some(origin) = primary.and_then(|primary| origins.get(&primary).cloned()) {
            origins.insert(id, origin);
        }
    }
    let mut behaviors = Vec::new();
    for behavior in config.items("CacheBehaviors") {
        behaviors.push(compile_behavior(behavior, Some(text(behavior, "PathPattern")), &origins, catalog)?);
    }
    let default = config.child("DefaultCacheBehavior").ok_or_else(|| invalid("it has no DefaultCacheBehavior"))?;
    behaviors.push(compile_behavior(default, None, &origins, catalog)?);
    let mut error_responses = HashMap::new();
    for response in config.items("CustomErrorResponses") {
        let code: u16 = text(response, "ErrorCode").parse().map_err(|_| invalid("an ErrorCode is not a number"))?;
        let page = text(response, "ResponsePagePath");
        let status = text(response, "ResponseCode");
        error_responses.insert(
            code,
            ErrorResponse {
                response_page_path: (!page.is_empty()).then_some(page),
                response_code: status.parse().ok(),
                error_caching_min_ttl: seconds(
                    response.number("ErrorCachingMinTTL").unwrap_or(distribution_config::ERROR_CACHING_MIN_TTL),
                ),
            },
        );
    }
    let root = text(config, "DefaultRootObject");
    Ok(Site {
        id: distribution.id.clone(),
        domain_name: model::domain_name(&distribution.id),
        aliases: distribution_config::aliases(config),
        enabled: config.flag("Enabled"),
        default_root_object: (!root.is_empty()).then(|| root.trim_start_matches('/').to_owned()),
        behaviors,
        error_responses,
        logging: config.child("Logging").filter(|logging| logging.flag("Enabled")).map(|logging| Logging {
            prefix: logging.text_of("Prefix").unwrap_or_default().to_owned(),
            include_cookies: logging.flag("IncludeCookies"),
        }),
        version: distribution.generation,
    })
}

fn invalid(message: &str) -> CompileError {
    CompileError::Invalid(message.to_owned())
}

/// The trimmed text of child `name` ("" when it is not there).
fn text(node: &Node, name: &str) -> String {
    node.text_of(name).unwrap_or_default().trim().to_owned()
}

fn seconds(value: u64) -> Duration {
    Duration::from_secs(value)
}

/// The trimmed texts of a list child's `Items`.
fn texts(node: &Node, name: &str) -> Vec<String> {
    node.items(name).iter().map(|item| item.text.trim().to_owned()).collect()
}

fn lowercase(names: Vec<String>) -> Vec<String> {
    names.into_iter().map(|name| name.to_ascii_lowercase()).collect()
}

/// Which of nubo's own services an origin's domain names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Bucket(String),
    Website(String),
    Api(String),
    Other,
}

fn classify(domain: &str) -> Named {
    let aws = |rest: &str| rest.ends_with(".amazonaws.com") || rest.ends_with(".amazonaws.com.cn");
    if let Some(at) = domain.rfind(".s3-website") {
        let (bucket, rest) = (&domain[..at], &domain[at + ".s3-website".len()..]);
        let known =
            rest == ".localhost" || (rest.starts_with('-') && aws(rest)) || (rest.starts_with('.') && aws(rest));
        if known && !bucket.is_empty() {
            return Named::Website(bucket.to_owned());
        }
    }
    if let Some(bucket) = domain.strip_suffix(".s3.localhost").or_else(|| domain.strip_suffix(".s3.amazonaws.com")) {
        return if bucket.is_empty() { Named::Other } else { Named::Bucket(bucket.to_owned()) };
    }
    if let Some(at) = domain.rfind(".s3.").or_else(|| domain.rfind(".s3-"))
        && aws(&domain[at..])
        && at > 0
    {
        return Named::Bucket(domain[..at].to_owned());
    }
    if let Some((api, rest)) = domain.split_once(".execute-api.")
        && !api.is_empty()
        && (rest == "localhost" || aws(&format!(".{rest}")))
    {
        return Named::Api(api.to_owned());
    }
    Named::Other
}

fn compile_origin(origin: &Node, catalog: &Catalog, endpoints: &Endpoints) -> Result<Origin> {
    let id = text(origin, "Id");
    let domain = text(origin, "DomainName").to_ascii_lowercase();
    let custom = origin.child("CustomOriginConfig");
    let s3 = origin.child("S3OriginConfig");
    let control = text(origin, "OriginAccessControlId");
    let signs = if control.is_empty() {
        false
    } else {
        let config =
            catalog.origin_access_controls.get(&control).ok_or_else(|| missing("origin access control", &control))?;
        text(config, "SigningBehavior") != "never"
    };
    let base = |endpoint: &str| endpoint.trim_end_matches('/').to_owned();
    let (kind, base_url, host) = match classify(&domain) {
        Named::Bucket(bucket) => {
            let host = format!("{bucket}.s3.localhost");
            (OriginKind::S3 { bucket, origin_access_control: signs }, base(&endpoints.storage), host)
        }
        Named::Website(bucket) => {
            let host = format!("{bucket}.s3-website.localhost");
            (OriginKind::S3Website { bucket }, base(&endpoints.website), host)
        }
        Named::Api(api) => (OriginKind::Custom, base(&endpoints.gateway), format!("{api}.execute-api.localhost")),
        Named::Other => {
            let url = match custom {
                Some(custom) => {
                    let port = |name: &str, default: u64| custom.number(name).unwrap_or(default);
                    match text(custom, "OriginProtocolPolicy").as_str() {
                        "https-only" => format!("https://{domain}:{}", port("HTTPSPort", 443)),
                        _ => format!("http://{domain}:{}", port("HTTPPort", 80)),
                    }
                }
                // An S3 origin config on a domain that is not nubo's: the
                // bucket's REST endpoint is HTTPS.
                None => format!("https://{domain}:443"),
            };
            (OriginKind::Custom, url, domain.clone())
        }
    };
    let read_timeout = custom
        .and_then(|custom| custom.number("OriginReadTimeout"))
        .or_else(|| s3.and_then(|s3| s3.number("OriginReadTimeout")))
        .unwrap_or(DEFAULT_READ_TIMEOUT);
    let custom_headers = origin
        .items("CustomHeaders")
        .iter()
        .map(|header| (text(header, "HeaderName"), header.text_of("HeaderValue").unwrap_or_default().to_owned()))
        .collect();
    Ok(Origin {
        id,
        kind,
        base_url,
        host,
        origin_path: text(origin, "OriginPath"),
        custom_headers,
        connection_timeout: seconds(origin.number("ConnectionTimeout").unwrap_or(10)),
        read_timeout: seconds(read_timeout),
        connection_attempts: u32::try_from(origin.number("ConnectionAttempts").unwrap_or(3)).unwrap_or(3),
    })
}

fn compile_behavior(
    behavior: &Node,
    path_pattern: Option<String>,
    origins: &HashMap<String, Arc<Origin>>,
    catalog: &Catalog,
) -> Result<Behavior> {
    let target = text(behavior, "TargetOriginId");
    let origin = origins.get(&target).cloned().ok_or_else(|| missing("origin", &target))?;
    let viewer_protocol = match text(behavior, "ViewerProtocolPolicy").as_str() {
        "https-only" => ViewerProtocol::HttpsOnly,
        "redirect-to-https" => ViewerProtocol::RedirectToHttps,
        _ => ViewerProtocol::AllowAll,
    };
    // A list's own `Items` (`AllowedMethods` holds `CachedMethods` too).
    let methods = |list: Option<&Node>| -> Vec<http::Method> {
        let methods: Vec<http::Method> = list
            .and_then(|list| list.child("Items"))
            .map_or(&[][..], |items| items.children.as_slice())
            .iter()
            .filter_map(|item| http::Method::from_bytes(item.text.trim().to_ascii_uppercase().as_bytes()).ok())
            .collect();
        if methods.is_empty() { vec![http::Method::GET, http::Method::HEAD] } else { methods }
    };
    let allowed = behavior.child("AllowedMethods");
    let compress = behavior.flag("Compress");
    let policy_id = text(behavior, "CachePolicyId");
    let (cache, legacy_forward) = if policy_id.is_empty() {
        let (cache, forward) = compile_legacy(behavior, compress);
        (cache, Some(forward))
    } else {
        let config = managed::cache_policy_by_id(&policy_id)
            .or_else(|| catalog.cache_policies.get(&policy_id).cloned())
            .ok_or_else(|| missing("cache policy", &policy_id))?;
        (compile_cache_policy(&policy_id, &config), None)
    };
    let forward_id = text(behavior, "OriginRequestPolicyId");
    let forward = if !forward_id.is_empty() {
        let config = managed::origin_request_policy_by_id(&forward_id)
            .or_else(|| catalog.origin_request_policies.get(&forward_id).cloned())
            .ok_or_else(|| missing("origin request policy", &forward_id))?;
        compile_origin_request_policy(&forward_id, &config)
    } else {
        legacy_forward.unwrap_or(OriginRequestPolicy {
            id: None,
            query_strings: Selection::None,
            headers: HeaderSelection::None,
            cookies: Selection::None,
        })
    };
    let headers_id = text(behavior, "ResponseHeadersPolicyId");
    let response_headers = if headers_id.is_empty() {
        None
    } else {
        let config = managed::response_headers_policy_by_id(&headers_id)
            .or_else(|| catalog.response_headers_policies.get(&headers_id).cloned())
            .ok_or_else(|| missing("response headers policy", &headers_id))?;
        Some(Arc::new(compile_response_headers_policy(&headers_id, &config)))
    };
    Ok(Behavior {
        path_pattern,
        origin,
        viewer_protocol,
        allowed_methods: methods(allowed),
        cached_methods: methods(allowed.and_then(|allowed| allowed.child("CachedMethods"))),
        compress,
        cache,
        forward,
        response_headers,
        trusted_keys: trusted_keys(behavior, catalog)?,
    })
}

/// A legacy behavior's TTLs and `ForwardedValues`: what is forwarded is
/// what is keyed on. Forwarding every header (`*`) means CloudFront
/// caches nothing.
fn compile_legacy(behavior: &Node, compress: bool) -> (CachePolicy, OriginRequestPolicy) {
    let empty = Node::default();
    let forwarded = behavior.child("ForwardedValues").unwrap_or(&empty);
    let query_strings = if !forwarded.flag("QueryString") {
        Selection::None
    } else {
        let keys = texts(forwarded, "QueryStringCacheKeys");
        if keys.is_empty() { Selection::All } else { Selection::Only(keys) }
    };
    let cookies = match forwarded.child("Cookies").map(|cookies| text(cookies, "Forward")).as_deref() {
        Some("all") => Selection::All,
        Some("whitelist") => Selection::Only(
            forwarded.child("Cookies").map(|cookies| texts(cookies, "WhitelistedNames")).unwrap_or_default(),
        ),
        _ => Selection::None,
    };
    let headers = lowercase(texts(forwarded, "Headers"));
    let every_header = headers.iter().any(|header| header == "*");
    let ttl =
        |name: &str, default: u64| seconds(if every_header { 0 } else { behavior.number(name).unwrap_or(default) });
    let cache = CachePolicy {
        id: None,
        min_ttl: ttl("MinTTL", distribution_config::LEGACY_MIN_TTL),
        default_ttl: ttl("DefaultTTL", distribution_config::LEGACY_DEFAULT_TTL),
        max_ttl: ttl("MaxTTL", distribution_config::LEGACY_MAX_TTL),
        key: CacheKeySpec {
            query_strings: query_strings.clone(),
            headers: if every_header { Vec::new() } else { headers.clone() },
            cookies: cookies.clone(),
            gzip: compress,
            brotli: compress,
        },
    };
    let forward = OriginRequestPolicy {
        id: None,
        query_strings,
        headers: if every_header {
            HeaderSelection::AllViewer
        } else if headers.is_empty() {
            HeaderSelection::None
        } else {
            HeaderSelection::Only(headers)
        },
        cookies,
    };
    (cache, forward)
}

/// A `{QueryStrings,Cookies}Config`'s choice of names.
fn selection(config: Option<&Node>, behavior: &str, list: &str) -> Selection {
    let Some(config) = config else { return Selection::None };
    let names = texts(config, list);
    match text(config, behavior).as_str() {
        "all" => Selection::All,
        "whitelist" => Selection::Only(names),
        "allExcept" => Selection::AllExcept(names),
        _ => Selection::None,
    }
}

fn compile_cache_policy(id: &str, config: &Node) -> CachePolicy {
    let empty = Node::default();
    let parameters = config.child("ParametersInCacheKeyAndForwardedToOrigin").unwrap_or(&empty);
    let headers = parameters.child("HeadersConfig");
    let header_names = match headers.map(|headers| text(headers, "HeaderBehavior")).as_deref() {
        Some("whitelist") => lowercase(headers.map(|headers| texts(headers, "Headers")).unwrap_or_default()),
        _ => Vec::new(),
    };
    CachePolicy {
        id: Some(id.to_owned()),
        min_ttl: seconds(config.number("MinTTL").unwrap_or(0)),
        default_ttl: seconds(config.number("DefaultTTL").unwrap_or(86_400)),
        max_ttl: seconds(config.number("MaxTTL").unwrap_or(31_536_000)),
        key: CacheKeySpec {
            query_strings: selection(parameters.child("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings"),
            headers: header_names,
            cookies: selection(parameters.child("CookiesConfig"), "CookieBehavior", "Cookies"),
            gzip: parameters.flag("EnableAcceptEncodingGzip"),
            brotli: parameters.flag("EnableAcceptEncodingBrotli"),
        },
    }
}

fn compile_origin_request_policy(id: &str, config: &Node) -> OriginRequestPolicy {
    let headers = config.child("HeadersConfig");
    let names = || lowercase(headers.map(|headers| texts(headers, "Headers")).unwrap_or_default());
    let headers = match headers.map(|headers| text(headers, "HeaderBehavior")).as_deref() {
        Some("whitelist") => HeaderSelection::Only(names()),
        Some("allViewer") => HeaderSelection::AllViewer,
        Some("allViewerAndWhitelistCloudFront") => HeaderSelection::AllViewerAndCloudFront(names()),
        Some("allExcept") => HeaderSelection::AllExcept(names()),
        _ => HeaderSelection::None,
    };
    OriginRequestPolicy {
        id: Some(id.to_owned()),
        query_strings: selection(config.child("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings"),
        headers,
        cookies: selection(config.child("CookiesConfig"), "CookieBehavior", "Cookies"),
    }
}

fn compile_response_headers_policy(id: &str, config: &Node) -> ResponseHeadersPolicy {
    let cors = config.child("CorsConfig").map(|cors| {
        let mut methods = texts(cors, "AccessControlAllowMethods");
        if methods.iter().any(|method| method == "ALL") {
            methods = ALL_METHODS.iter().map(|method| (*method).to_owned()).collect();
        }
        Cors {
            allow_origins: texts(cors, "AccessControlAllowOrigins"),
            allow_headers: texts(cors, "AccessControlAllowHeaders"),
            allow_methods: methods,
            expose_headers: texts(cors, "AccessControlExposeHeaders"),
            allow_credentials: cors.flag("AccessControlAllowCredentials"),
            max_age: cors.number("AccessControlMaxAgeSec"),
            origin_override: cors.flag("OriginOverride"),
        }
    });
    let mut headers = Vec::new();
    if let Some(security) = config.child("SecurityHeadersConfig") {
        let mut add = |name: &str, member: &str, value: &dyn Fn(&Node) -> String| {
            if let Some(setting) = security.child(member) {
                headers.push((name.to_owned(), value(setting), setting.flag("Override")));
            }
        };
        add("x-xss-protection", "XSSProtection", &|xss| {
            if !xss.flag("Protection") {
                return "0".to_owned();
            }
            let mut value = "1".to_owned();
            if xss.flag("ModeBlock") {
                value.push_str("; mode=block");
            }
            let report = text(xss, "ReportUri");
            if !report.is_empty() {
                value.push_str("; report=");
                value.push_str(&report);
            }
            value
        });
        add("x-frame-options", "FrameOptions", &|frame| text(frame, "FrameOption"));
        add("referrer-policy", "ReferrerPolicy", &|referrer| text(referrer, "ReferrerPolicy"));
        add("content-security-policy", "ContentSecurityPolicy", &|csp| text(csp, "ContentSecurityPolicy"));
        add("x-content-type-options", "ContentTypeOptions", &|_| "nosniff".to_owned());
        add("strict-transport-security", "StrictTransportSecurity", &|hsts| {
            let mut value = format!("max-age={}", hsts.number("AccessControlMaxAgeSec").unwrap_or(0));
            if hsts.flag("IncludeSubdomains") {
                value.push_str("; includeSubDomains");
            }
            if hsts.flag("Preload") {
                value.push_str("; preload");
            }
            value
        });
    }
    for header in config.items("CustomHeadersConfig") {
        headers.push((
            text(header, "Header").to_ascii_lowercase(),
            header.text_of("Value").unwrap_or_default().to_owned(),
            header.flag("Override"),
        ));
    }
    let remove =
        config.items("RemoveHeadersConfig").iter().map(|header| text(header, "Header").to_ascii_lowercase()).collect();
    let server_timing = config
        .child("ServerTimingHeadersConfig")
        .filter(|timing| timing.flag("Enabled"))
        .map(|timing| timing.text_of("SamplingRate").and_then(|rate| rate.trim().parse().ok()).unwrap_or(0.0));
    ResponseHeadersPolicy { id: id.to_owned(), cors, headers, remove, server_timing }
}

/// The public keys of a behavior's trusted key groups, or `None` when it
/// does not require signed URLs or cookies.
fn trusted_keys(behavior: &Node, catalog: &Catalog) -> Result<Option<Arc<TrustedKeys>>> {
    let Some(groups) = behavior.child("TrustedKeyGroups").filter(|groups| groups.flag("Enabled")) else {
        return Ok(None);
    };
    let mut trusted = TrustedKeys::default();
    let ids = groups
        .child("Items")
        .map_or_else(Vec::new, |items| items.children.iter().map(|id| id.text.trim().to_owned()).collect::<Vec<_>>());
    if ids.is_empty() {
        return Ok(None);
    }
    for group_id in ids {
        let group = catalog.key_groups.get(&group_id).ok_or_else(|| missing("key group", &group_id))?;
        for key_id in keys::key_ids(group) {
            let key = catalog.public_keys.get(&key_id).ok_or_else(|| missing("public key", &key_id))?;
            let der = keys::public_key_der(key.text_of("EncodedKey").unwrap_or_default())
                .map_err(|why| CompileError::Invalid(format!("public key {key_id}: {why}")))?;
            trusted.keys.insert(key_id, der);
        }
    }
    Ok(Some(Arc::new(trusted)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::xml;

    const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
    const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";
    const SIMPLE_CORS: &str = "60669652-455b-4ae9-85a4-c4c02393f86c";
    const PUBLIC_KEY: &str = include_str!("testdata/cloudfront-signer.public.pem");

    fn endpoints() -> Endpoints {
        Endpoints {
            storage: "http://127.0.0.1:9000/".into(),
            website: "http://127.0.0.1:9080".into(),
            gateway: "http://127.0.0.1:8080".into(),
        }
    }

    fn origin(id: &str, domain: &str, config: &str) -> String {
        format!("<Origin><Id>{id}</Id><DomainName>{domain}</DomainName>{config}</Origin>")
    }

    fn custom(policy: &str) -> String {
        format!(
            "<CustomOriginConfig><HTTPPort>8000</HTTPPort><HTTPSPort>8443</HTTPSPort><OriginProtocolPolicy>{policy}</OriginProtocolPolicy></CustomOriginConfig>"
        )
    }

    /// A distribution config checked as the API checks it, then stored.
    fn distribution(origins: &[String], behaviors: &str, default: &str, extra: &str) -> Resource {
        let text = format!(
            "<DistributionConfig><CallerReference>r</CallerReference><Comment/><Enabled>true</Enabled>\
             <Origins><Quantity>{}</Quantity><Items>{}</Items></Origins>{behaviors}\
             <DefaultCacheBehavior>{default}</DefaultCacheBehavior>{extra}</DistributionConfig>",
            origins.len(),
            origins.concat(),
        );
        let config = xml::parse(text.as_bytes(), "DistributionConfig").unwrap();
        let checked = distribution_config::check(config).unwrap_or_else(|error| panic!("{error}"));
        Resource {
            id: "E2ABCDEFGHIJKL".into(),
            config: checked.config,
            etag: "E1".into(),
            created: String::new(),
            last_modified: String::new(),
            generation: 7,
        }
    }

    fn default_behavior(target: &str, rest: &str) -> String {
        format!(
            "<TargetOriginId>{target}</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>{rest}"
        )
    }

    #[test]
    fn origins_that_name_nubos_services_go_to_its_endpoints() {
        let s3 = "<S3OriginConfig><OriginAccessIdentity/></S3OriginConfig>";
        let origins = [
            origin("rest", "photos.s3.amazonaws.com", s3),
            origin("regional", "my.bucket.s3.eu-west-1.amazonaws.com", s3),
            origin("dashed", "old.s3-us-west-2.amazonaws.com", s3),
            origin("local", "assets.s3.localhost", s3),
            origin("site", "www.s3-website-us-east-1.amazonaws.com", &custom("http-only")),
            origin("dotted", "blog.s3-website.eu-central-1.amazonaws.com", &custom("http-only")),
            origin("site-local", "docs.s3-website.localhost", &custom("http-only")),
            origin("api", "a1b2c3.execute-api.us-east-1.amazonaws.com", &custom("https-only")),
            origin("api-local", "a1b2c3.execute-api.localhost", &custom("https-only")),
            origin("plain", "origin.example", &custom("http-only")),
            origin("secure", "secure.example", &custom("https-only")),
            origin("either", "127.0.0.1", &custom("match-viewer")),
        ];
        let site = compile(
            &distribution(
                &origins,
                "",
                &default_behavior("rest", &format!("<CachePolicyId>{CACHING_OPTIMIZED}</CachePolicyId>")),
                "",
            ),
            &Catalog::default(),
            &endpoints(),
        )
        .unwrap();
        assert_eq!(site.behaviors.len(), 1);
        let check = |domain: &str| {
            let node = xml::parse(origin("o", domain, &custom("http-only")).as_bytes(), "Origin").unwrap();
            let compiled = compile_origin(&node, &Catalog::default(), &endpoints()).unwrap();
            (compiled.kind, compiled.base_url, compiled.host)
        };
        let bucket = |name: &str| OriginKind::S3 { bucket: name.into(), origin_access_control: false };
        assert_eq!(
            check("photos.s3.amazonaws.com"),
            (bucket("photos"), "http://127.0.0.1:9000".into(), "photos.s3.localhost".into())
        );
        assert_eq!(check("my.bucket.s3.eu-west-1.amazonaws.com").0, bucket("my.bucket"));
        assert_eq!(check("old.s3-us-west-2.amazonaws.com").0, bucket("old"));
        assert_eq!(check("assets.s3.localhost").2, "assets.s3.localhost");
        let website = |name: &str| OriginKind::S3Website { bucket: name.into() };
        assert_eq!(
            check("www.s3-website-us-east-1.amazonaws.com"),
            (website("www"), "http://127.0.0.1:9080".into(), "www.s3-website.localhost".into())
        );
        assert_eq!(check("blog.s3-website.eu-central-1.amazonaws.com").0, website("blog"));
        assert_eq!(check("docs.s3-website.localhost").0, website("docs"));
        assert_eq!(
            check("a1b2c3.execute-api.us-east-1.amazonaws.com"),
            (OriginKind::Custom, "http://127.0.0.1:8080".into(), "a1b2c3.execute-api.localhost".into())
        );
        assert_eq!(check("a1b2c3.execute-api.localhost").2, "a1b2c3.execute-api.localhost");
        assert_eq!(
            check("origin.example"),
            (OriginKind::Custom, "http://origin.example:8000".into(), "origin.example".into())
        );
        assert_eq!(check("s3.amazonaws.com").0, OriginKind::Custom, "the bucketless endpoint is nobody's");
        let secure = xml::parse(origin("o", "secure.example", &custom("https-only")).as_bytes(), "Origin").unwrap();
        assert_eq!(
            compile_origin(&secure, &Catalog::default(), &endpoints()).unwrap().base_url,
            "https://secure.example:8443"
        );
    }

    #[test]
    fn a_site_has_every_field_of_its_distribution() {
        let headers = "<CustomHeaders><Quantity>1</Quantity><Items><OriginCustomHeader><HeaderName>X-Origin-Secret</HeaderName><HeaderValue>s3cr3t</HeaderValue></OriginCustomHeader></Items></CustomHeaders>";
        let web = format!(
            "<Origin><Id>web</Id><DomainName>origin.example</DomainName><OriginPath>/production</OriginPath>{headers}\
             <CustomOriginConfig><HTTPPort>8000</HTTPPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy>\
             <OriginReadTimeout>5</OriginReadTimeout></CustomOriginConfig><ConnectionAttempts>2</ConnectionAttempts>\
             <ConnectionTimeout>4</ConnectionTimeout></Origin>"
        );
        let api = origin("api", "abc123.execute-api.localhost", &custom("https-only"));
        let behaviors = format!(
            "<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>/api/*</PathPattern>\
             <TargetOriginId>api</TargetOriginId><ViewerProtocolPolicy>https-only</ViewerProtocolPolicy>\
             <AllowedMethods><Quantity>7</Quantity><Items><Method>GET</Method><Method>HEAD</Method><Method>OPTIONS</Method>\
             <Method>PUT</Method><Method>PATCH</Method><Method>POST</Method><Method>DELETE</Method></Items>\
             <CachedMethods><Quantity>3</Quantity><Items><Method>GET</Method><Method>HEAD</Method><Method>OPTIONS</Method></Items></CachedMethods></AllowedMethods>\
             <CachePolicyId>4135ea2d-6df8-44a3-9df3-4b5a84be39ad</CachePolicyId><OriginRequestPolicyId>{ALL_VIEWER}</OriginRequestPolicyId>\
             <ResponseHeadersPolicyId>{SIMPLE_CORS}</ResponseHeadersPolicyId></CacheBehavior></Items></CacheBehaviors>"
        );
        let default = default_behavior(
            "web",
            &format!("<Compress>true</Compress><CachePolicyId>{CACHING_OPTIMIZED}</CachePolicyId>"),
        );
        let extra = "<Aliases><Quantity>2</Quantity><Items><CNAME>WWW.Example.com</CNAME><CNAME>localhost</CNAME></Items></Aliases>\
            <DefaultRootObject>index.html</DefaultRootObject>\
            <Logging><Enabled>true</Enabled><IncludeCookies>true</IncludeCookies><Bucket>logs.s3.amazonaws.com</Bucket><Prefix>site/</Prefix></Logging>\
            <CustomErrorResponses><Quantity>2</Quantity><Items>\
            <CustomErrorResponse><ErrorCode>404</ErrorCode><ResponsePagePath>/index.html</ResponsePagePath><ResponseCode>200</ResponseCode><ErrorCachingMinTTL>0</ErrorCachingMinTTL></CustomErrorResponse>\
            <CustomErrorResponse><ErrorCode>503</ErrorCode></CustomErrorResponse></Items></CustomErrorResponses>";
        let resource = distribution(&[web, api], &behaviors, &default, extra);
        let site = compile(&resource, &Catalog::default(), &endpoints()).unwrap();
        assert_eq!(site.id, "E2ABCDEFGHIJKL");
        assert_eq!(site.domain_name, "e2abcdefghijkl.cloudfront.localhost");
        assert_eq!(site.aliases, ["www.example.com", "localhost"]);
        assert!(site.enabled);
        assert_eq!(site.default_root_object.as_deref(), Some("index.html"));
        assert_eq!(site.version, 7);
        assert_eq!(site.logging, Some(Logging { prefix: "site/".into(), include_cookies: true }));
        assert_eq!(
            site.error_responses[&404],
            ErrorResponse {
                response_page_path: Some("/index.html".into()),
                response_code: Some(200),
                error_caching_min_ttl: Duration::ZERO
            }
        );
        assert_eq!(site.error_responses[&503].error_caching_min_ttl, Duration::from_secs(10));
        assert_eq!(site.behaviors.len(), 2);

        let api = site.behavior("/api/users");
        assert_eq!(api.path_pattern.as_deref(), Some("/api/*"));
        assert_eq!(api.viewer_protocol, ViewerProtocol::HttpsOnly);
        assert_eq!(api.allowed_methods.len(), 7);
        assert_eq!(api.cached_methods, [http::Method::GET, http::Method::HEAD, http::Method::OPTIONS]);
        assert_eq!(api.cache.max_ttl, Duration::ZERO);
        assert_eq!(api.forward.headers, HeaderSelection::AllViewer);
        assert_eq!(api.forward.query_strings, Selection::All);
        let cors = api.response_headers.as_ref().and_then(|policy| policy.cors.clone()).unwrap();
        assert_eq!(cors.allow_origins, ["*"]);
        assert_eq!(api.origin.host, "abc123.execute-api.localhost");

        let web = site.behavior("/about.html");
        assert!(web.path_pattern.is_none());
        assert_eq!(web.viewer_protocol, ViewerProtocol::RedirectToHttps);
        assert_eq!(web.allowed_methods, [http::Method::HEAD, http::Method::GET]);
        assert!(web.compress);
        assert_eq!(web.cache.id.as_deref(), Some(CACHING_OPTIMIZED));
        assert_eq!((web.cache.min_ttl, web.cache.default_ttl), (Duration::from_secs(1), Duration::from_secs(86_400)));
        assert!(web.cache.key.gzip && web.cache.key.brotli);
        assert_eq!(web.forward.headers, HeaderSelection::None);
        assert!(web.trusted_keys.is_none());
        let origin = &web.origin;
        assert_eq!(origin.base_url, "http://origin.example:8000");
        assert_eq!(origin.origin_path, "/production");
        assert_eq!(origin.custom_headers, [("X-Origin-Secret".to_owned(), "s3cr3t".to_owned())]);
        assert_eq!(origin.read_timeout, Duration::from_secs(5));
        assert_eq!(origin.connection_timeout, Duration::from_secs(4));
        assert_eq!(origin.connection_attempts, 2);
    }

    #[test]
    fn legacy_forwarded_values_become_a_cache_key_and_what_is_forwarded() {
        let web = origin("web", "origin.example", &custom("http-only"));
        let forwarded = "<ForwardedValues><QueryString>true</QueryString><Cookies><Forward>whitelist</Forward>\
            <WhitelistedNames><Quantity>1</Quantity><Items><Name>session</Name></Items></WhitelistedNames></Cookies>\
            <Headers><Quantity>1</Quantity><Items><Name>Accept-Language</Name></Items></Headers>\
            <QueryStringCacheKeys><Quantity>1</Quantity><Items><Name>v</Name></Items></QueryStringCacheKeys></ForwardedValues>\
            <MinTTL>5</MinTTL><DefaultTTL>60</DefaultTTL><MaxTTL>600</MaxTTL>";
        let site = compile(
            &distribution(std::slice::from_ref(&web), "", &default_behavior("web", forwarded), ""),
            &Catalog::default(),
            &endpoints(),
        )
        .unwrap();
        let behavior = site.behavior("/");
        assert_eq!(behavior.cache.id, None);
        assert_eq!(
            (behavior.cache.min_ttl, behavior.cache.default_ttl, behavior.cache.max_ttl),
            (Duration::from_secs(5), Duration::from_secs(60), Duration::from_secs(600))
        );
        assert_eq!(behavior.cache.key.query_strings, Selection::Only(vec!["v".into()]));
        assert_eq!(behavior.cache.key.cookies, Selection::Only(vec!["session".into()]));
        assert_eq!(behavior.cache.key.headers, ["accept-language"]);
        assert_eq!(behavior.forward.headers, HeaderSelection::Only(vec!["accept-language".into()]));

        let everything = "<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies>\
            <Headers><Quantity>1</Quantity><Items><Name>*</Name></Items></Headers></ForwardedValues>";
        let site = compile(
            &distribution(&[web], "", &default_behavior("web", everything), ""),
            &Catalog::default(),
            &endpoints(),
        )
        .unwrap();
        let behavior = site.behavior("/");
        assert_eq!(behavior.cache.max_ttl, Duration::ZERO, "forwarding every header caches nothing");
        assert_eq!(behavior.forward.headers, HeaderSelection::AllViewer);
        assert_eq!(behavior.cache.key.query_strings, Selection::None);
        assert_eq!(behavior.cache.default_ttl, Duration::ZERO);
    }

    #[test]
    fn custom_policies_key_groups_and_access_controls_are_resolved() {
        let s3 = "<S3OriginConfig><OriginAccessIdentity/></S3OriginConfig><OriginAccessControlId>EOAC1</OriginAccessControlId>";
        let origins = [origin("bucket", "private.s3.us-east-1.amazonaws.com", s3)];
        let default = default_behavior(
            "bucket",
            "<TrustedKeyGroups><Enabled>true</Enabled><Quantity>1</Quantity><Items><KeyGroup>kg</KeyGroup></Items></TrustedKeyGroups>\
             <CachePolicyId>custom-cache</CachePolicyId><OriginRequestPolicyId>custom-forward</OriginRequestPolicyId>\
             <ResponseHeadersPolicyId>custom-headers</ResponseHeadersPolicyId>",
        );
        let resource = distribution(&origins, "", &default, "");
        let parse = |text: &str, root: &str| xml::parse(text.as_bytes(), root).unwrap();
        let mut catalog = Catalog::default();
        assert_eq!(
            compile(&resource, &catalog, &endpoints()).unwrap_err(),
            CompileError::Missing { kind: "origin access control", id: "EOAC1".into() }
        );
        catalog.origin_access_controls.insert(
            "EOAC1".into(),
            parse(
                "<OriginAccessControlConfig><SigningBehavior>always</SigningBehavior></OriginAccessControlConfig>",
                "OriginAccessControlConfig",
            ),
        );
        catalog.cache_policies.insert(
            "custom-cache".into(),
            parse(
                "<CachePolicyConfig><MinTTL>0</MinTTL><DefaultTTL>30</DefaultTTL><MaxTTL>90</MaxTTL><ParametersInCacheKeyAndForwardedToOrigin>\
                 <EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip><EnableAcceptEncodingBrotli>false</EnableAcceptEncodingBrotli>\
                 <HeadersConfig><HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>X-Version</Name></Items></Headers></HeadersConfig>\
                 <CookiesConfig><CookieBehavior>allExcept</CookieBehavior><Cookies><Quantity>1</Quantity><Items><Name>tracking</Name></Items></Cookies></CookiesConfig>\
                 <QueryStringsConfig><QueryStringBehavior>whitelist</QueryStringBehavior><QueryStrings><Quantity>1</Quantity><Items><Name>page</Name></Items></QueryStrings></QueryStringsConfig>\
                 </ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>",
                "CachePolicyConfig",
            ),
        );
        catalog.origin_request_policies.insert(
            "custom-forward".into(),
            parse(
                "<OriginRequestPolicyConfig><HeadersConfig><HeaderBehavior>allExcept</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>Host</Name></Items></Headers></HeadersConfig>\
                 <CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig><QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig></OriginRequestPolicyConfig>",
                "OriginRequestPolicyConfig",
            ),
        );
        catalog.response_headers_policies.insert(
            "custom-headers".into(),
            parse(
                "<ResponseHeadersPolicyConfig><Name>h</Name><SecurityHeadersConfig>\
                 <XSSProtection><Override>true</Override><Protection>true</Protection><ModeBlock>true</ModeBlock></XSSProtection>\
                 <StrictTransportSecurity><Override>false</Override><IncludeSubdomains>true</IncludeSubdomains><Preload>true</Preload><AccessControlMaxAgeSec>63072000</AccessControlMaxAgeSec></StrictTransportSecurity>\
                 </SecurityHeadersConfig><CustomHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyCustomHeader><Header>X-Served-By</Header><Value>nubo</Value><Override>false</Override></ResponseHeadersPolicyCustomHeader></Items></CustomHeadersConfig>\
                 <RemoveHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyRemoveHeader><Header>Server</Header></ResponseHeadersPolicyRemoveHeader></Items></RemoveHeadersConfig>\
                 <ServerTimingHeadersConfig><Enabled>true</Enabled><SamplingRate>50</SamplingRate></ServerTimingHeadersConfig></ResponseHeadersPolicyConfig>",
                "ResponseHeadersPolicyConfig",
            ),
        );
        catalog.key_groups.insert(
            "kg".into(),
            parse(
                "<KeyGroupConfig><Name>kg</Name><Items><PublicKey>K1</PublicKey></Items></KeyGroupConfig>",
                "KeyGroupConfig",
            ),
        );
        assert_eq!(
            compile(&resource, &catalog, &endpoints()).unwrap_err(),
            CompileError::Missing { kind: "public key", id: "K1".into() }
        );
        catalog
            .public_keys
            .insert("K1".into(), Node::new("PublicKeyConfig").with(Node::leaf("EncodedKey", PUBLIC_KEY)));
        let site = compile(&resource, &catalog, &endpoints()).unwrap();
        let behavior = site.behavior("/secret.txt");
        assert_eq!(behavior.origin.kind, OriginKind::S3 { bucket: "private".into(), origin_access_control: true });
        assert_eq!(behavior.cache.default_ttl, Duration::from_secs(30));
        assert_eq!(behavior.cache.key.headers, ["x-version"]);
        assert_eq!(behavior.cache.key.cookies, Selection::AllExcept(vec!["tracking".into()]));
        assert_eq!(behavior.cache.key.query_strings, Selection::Only(vec!["page".into()]));
        assert!(behavior.cache.key.gzip && !behavior.cache.key.brotli);
        assert_eq!(behavior.forward.headers, HeaderSelection::AllExcept(vec!["host".into()]));
        let headers = behavior.response_headers.as_ref().unwrap();
        assert!(headers.headers.contains(&("x-xss-protection".into(), "1; mode=block".into(), true)));
        assert!(headers.headers.contains(&(
            "strict-transport-security".into(),
            "max-age=63072000; includeSubDomains; preload".into(),
            false
        )));
        assert!(headers.headers.contains(&("x-served-by".into(), "nubo".into(), false)));
        assert_eq!(headers.remove, ["server"]);
        assert_eq!(headers.server_timing, Some(50.0));
        let keys = behavior.trusted_keys.as_ref().unwrap();
        assert_eq!(keys.keys["K1"], include_bytes!("testdata/cloudfront-signer.spki.der").to_vec());
    }

    #[test]
    fn the_managed_policies_compile_by_their_ids() {
        let web = origin("web", "origin.example", &custom("http-only"));
        let default = default_behavior(
            "web",
            "<CachePolicyId>83da9c7e-98b4-4e11-a168-04f0df8e2c65</CachePolicyId><OriginRequestPolicyId>216adef6-5c7f-47e4-b989-5492eafa07d3</OriginRequestPolicyId>\
             <ResponseHeadersPolicyId>67f7725c-6f97-4210-82d7-5512b31e9d03</ResponseHeadersPolicyId>",
        );
        let site = compile(&distribution(&[web], "", &default, ""), &Catalog::default(), &endpoints()).unwrap();
        let behavior = site.behavior("/");
        assert_eq!((behavior.cache.min_ttl, behavior.cache.default_ttl), (Duration::ZERO, Duration::ZERO));
        assert_eq!(behavior.cache.max_ttl, Duration::from_secs(31_536_000));
        assert_eq!(behavior.forward.headers, HeaderSelection::AllViewer);
        let security = behavior.response_headers.as_ref().unwrap();
        assert!(security.headers.contains(&("x-content-type-options".into(), "nosniff".into(), true)));
        assert!(security.headers.contains(&("x-frame-options".into(), "SAMEORIGIN".into(), false)));
    }

    #[test]
    fn origin_groups_are_served_by_their_primary() {
        let origins = [origin("a", "a.example", &custom("http-only")), origin("b", "b.example", &custom("http-only"))];
        let groups = "<OriginGroups><Quantity>1</Quantity><Items><OriginGroup><Id>group</Id>\
            <FailoverCriteria><StatusCodes><Quantity>1</Quantity><Items><StatusCode>503</StatusCode></Items></StatusCodes></FailoverCriteria>\
            <Members><Quantity>2</Quantity><Items><OriginGroupMember><OriginId>a</OriginId></OriginGroupMember>\
            <OriginGroupMember><OriginId>b</OriginId></OriginGroupMember></Items></Members></OriginGroup></Items></OriginGroups>";
        let default = default_behavior("group", &format!("<CachePolicyId>{CACHING_OPTIMIZED}</CachePolicyId>"));
        let site = compile(&distribution(&origins, "", &default, groups), &Catalog::default(), &endpoints()).unwrap();
        assert_eq!(site.behavior("/").origin.id, "a");
    }
}
