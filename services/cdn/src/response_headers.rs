//! Response headers policies, applied as CloudFront applies them to every
//! response it sends a viewer (cache hits, misses, errors and custom error
//! pages alike):
//!
//! 1. the *remove* list goes first, so a header the policy both removes and
//!    adds ends up with the policy's value; removing `Server` leaves
//!    CloudFront's own (`Server: CloudFront`);
//! 2. CORS headers, on CORS requests only (those with an `Origin` the
//!    policy allows): `Access-Control-Allow-Origin` is `*` when the policy
//!    allows any origin without credentials, else the request's `Origin`
//!    echoed with `Vary: Origin`; `Access-Control-Allow-Credentials: true`
//!    when credentials are allowed; `Access-Control-Expose-Headers`.
//!    Each header the origin already sent is kept unless the policy's
//!    `OriginOverride` is set;
//! 3. security and custom headers, each kept from the origin unless its own
//!    `Override` is set;
//! 4. `Server-Timing`, on the sampled share of responses or when the viewer
//!    asked with `Pragma: server-timing`.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! from an origin the policy allows, to a policy that names the methods a
//! preflight grants, is answered at the edge ([`preflight`]) with those
//! methods, the headers and the max age: that is how a behavior that
//! forwards only `GET` and `HEAD` passes a browser's preflight. A policy
//! without methods (`SimpleCORS`) leaves preflights to the origin, whose
//! own answer (an S3 bucket's CORS rules, say) it only completes.
//!
//! The policy is applied to the response as it leaves for the viewer, never
//! to what the cache stores: an echoed `Origin` belongs to one request.
//! The managed policies are [`managed`], by their AWS ids.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};

use crate::site::{Cors, ResponseHeadersPolicy};

/// The methods `ALL` stands for in `AccessControlAllowMethods`.
const ALL_METHODS: [&str; 7] = ["GET", "DELETE", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// Applies `policy` to `response`, answering the viewer request whose
/// headers are `request`. Call it once the response's `X-Cache` (and
/// `X-Amz-Cf-Id`, `X-Amz-Cf-Pop` when set) are in place: `Server-Timing`
/// is read from them.
pub fn apply(policy: &ResponseHeadersPolicy, request: &HeaderMap, response: &mut HeaderMap) {
    apply_sampled(policy, request, response, rand::random::<f64>() * 100.0);
}

/// [`apply`] with the sampling draw (0 ≤ `draw` < 100) given, so tests
/// choose it.
fn apply_sampled(policy: &ResponseHeadersPolicy, request: &HeaderMap, response: &mut HeaderMap, draw: f64) {
    let mut removed_server = false;
    for name in &policy.remove {
        // A name that is not a header name removes nothing.
        removed_server |= response.remove(name.as_str()).is_some() && name.eq_ignore_ascii_case("server");
    }
    if removed_server {
        response.insert(header::SERVER, HeaderValue::from_static("CloudFront"));
    }
    if let Some(cors) = &policy.cors {
        apply_cors(cors, request, response);
    }
    for (name, value, replace) in &policy.headers {
        set(response, name, value, *replace);
    }
    if let Some(rate) = policy.server_timing
        && (draw < rate || pragma_asks_server_timing(request))
    {
        add_server_timing(response);
    }
}

/// The edge's answer to a CORS preflight the policy allows and grants
/// methods to, `None` for any other request (which then goes on to the
/// origin as usual, and gets [`apply`] on the way back).
pub fn preflight(policy: &ResponseHeadersPolicy, method: &Method, request: &HeaderMap) -> Option<Response<()>> {
    if method != Method::OPTIONS || !request.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let cors = policy.cors.as_ref().filter(|cors| !cors.allow_methods.is_empty())?;
    allowed_origin(cors, request)?;

    let mut headers = HeaderMap::new();
    apply(policy, request, &mut headers);
    let methods: Vec<&str> = if cors.allow_methods.iter().any(|method| method.eq_ignore_ascii_case("ALL")) {
        ALL_METHODS.to_vec()
    } else {
        cors.allow_methods.iter().map(String::as_str).collect()
    };
    set_list(&mut headers, header::ACCESS_CONTROL_ALLOW_METHODS, &methods, cors.origin_override);
    // With credentials a `*` is a header named `*` to the browser, so the
    // headers the browser asks for are granted by name.
    let requested = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS).and_then(|value| value.to_str().ok());
    let allow_headers: Vec<&str> = match requested {
        Some(requested) if cors.allow_credentials && cors.allow_headers.iter().any(|name| name == "*") => {
            requested.split(',').map(str::trim).filter(|name| !name.is_empty()).collect()
        }
        _ => cors.allow_headers.iter().map(String::as_str).collect(),
    };
    set_list(&mut headers, header::ACCESS_CONTROL_ALLOW_HEADERS, &allow_headers, cors.origin_override);
    if let Some(max_age) = cors.max_age {
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age));
    }

    let mut response = Response::new(());
    *response.status_mut() = StatusCode::OK;
    *response.headers_mut() = headers;
    Some(response)
}

/// Whether the value of `Access-Control-Allow-Origin` is `*` or the
/// request's origin echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AllowOrigin {
    Any,
    Echo,
}

fn apply_cors(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    let Some((allow, origin)) = allowed_origin(cors, request) else {
        return;
    };
    let replace = cors.origin_override;
    let set_origin = replace || !response.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    match allow {
        AllowOrigin::Any => set(response, "access-control-allow-origin", "*", replace),
        AllowOrigin::Echo => {
            set(response, "access-control-allow-origin", origin, replace);
            // Only the policy's echo depends on the request's Origin; an
            // origin's own header carries its own Vary.
            if set_origin {
                add_vary_origin(response);
            }
        }
    }
    if cors.allow_credentials {
        set(response, "access-control-allow-credentials", "true", replace);
    }
    let expose: Vec<&str> = cors.expose_headers.iter().map(String::as_str).collect();
    set_list(response, header::ACCESS_CONTROL_EXPOSE_HEADERS, &expose, replace);
}

/// The request's `Origin` when the policy allows it, and how to answer it.
fn allowed_origin<'a>(cors: &Cors, request: &'a HeaderMap) -> Option<(AllowOrigin, &'a str)> {
    let mut origins = request.get_all(header::ORIGIN).iter();
    // Several Origin fields are no origin a browser sends.
    let origin = origins.next()?.to_str().ok()?.trim();
    if origins.next().is_some() || origin.is_empty() {
        return None;
    }
    if cors.allow_origins.iter().any(|allowed| allowed == "*") {
        // `*` cannot go with credentials (the Fetch standard), so a policy
        // allowing both echoes the origin instead.
        let allow = if cors.allow_credentials { AllowOrigin::Echo } else { AllowOrigin::Any };
        return Some((allow, origin));
    }
    cors.allow_origins.iter().any(|allowed| origin_matches(allowed, origin)).then_some((AllowOrigin::Echo, origin))
}

/// Whether an `AccessControlAllowOrigins` entry admits `origin`
/// (`scheme://host[:port]`). An entry is an origin (`https://example.com`),
/// or a host without a scheme (`example.com`, any scheme), and may begin
/// its host with `*.` for one or more labels (`https://*.example.org`).
/// Schemes and hosts compare without case, as origins are serialized.
fn origin_matches(allowed: &str, origin: &str) -> bool {
    let (allowed_scheme, allowed_host) = split_origin(allowed);
    let (scheme, host) = split_origin(origin);
    if let Some(allowed_scheme) = allowed_scheme
        && !scheme.is_some_and(|scheme| scheme.eq_ignore_ascii_case(allowed_scheme))
    {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let allowed_host = allowed_host.to_ascii_lowercase();
    match allowed_host.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => host == allowed_host,
    }
}

fn split_origin(origin: &str) -> (Option<&str>, &str) {
    match origin.split_once("://") {
        Some((scheme, host)) => (Some(scheme), host.trim_end_matches('/')),
        None => (None, origin.trim_end_matches('/')),
    }
}

/// Sets `name: value` unless the origin sent `name` and `replace` is off.
/// Names and values the API let through but HTTP refuses are skipped:
/// a bad policy header never breaks a response.
fn set(response: &mut HeaderMap, name: &str, value: &str, replace: bool) {
    let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
        tracing::debug!(header = %name, "response headers policy header skipped: not a valid header");
        return;
    };
    if replace || !response.contains_key(&name) {
        response.insert(name, value);
    }
}

/// Sets a comma-separated list header, nothing for an empty list.
fn set_list(response: &mut HeaderMap, name: HeaderName, items: &[&str], replace: bool) {
    if !items.is_empty() {
        set(response, name.as_str(), &items.join(", "), replace);
    }
}

/// Adds `Origin` to `Vary` unless it is there or `Vary: *` covers it.
fn add_vary_origin(response: &mut HeaderMap) {
    let existing: Vec<String> = response
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
        .collect();
    if existing.iter().any(|token| token == "*" || token.eq_ignore_ascii_case("origin")) {
        return;
    }
    let mut tokens = existing;
    tokens.push("Origin".to_owned());
    if let Ok(value) = HeaderValue::from_str(&tokens.join(", ")) {
        response.insert(header::VARY, value);
    }
}

/// `Pragma: server-timing` asks for the header whatever the sampling rate.
fn pragma_asks_server_timing(request: &HeaderMap) -> bool {
    request
        .get_all(header::PRAGMA)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("server-timing"))
}

/// CloudFront's `Server-Timing` metrics, from what the response already
/// says of itself: the cache outcome from `X-Cache`, the request id from
/// `X-Amz-Cf-Id` and the edge from `X-Amz-Cf-Pop`. The origin's own
/// `Server-Timing` follows CloudFront's metrics when the origin was asked
/// for the body, and is dropped on a hit, where it describes an older
/// fetch.
fn add_server_timing(response: &mut HeaderMap) {
    let text = |name: &str| response.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    let x_cache = text("x-cache").unwrap_or("");
    let outcome = x_cache.split_whitespace().next().unwrap_or("");
    let mut metrics = Vec::new();
    let hit = match outcome {
        "Hit" => {
            metrics.push("cdn-cache-hit".to_owned());
            true
        }
        "RefreshHit" => {
            metrics.push("cdn-cache-refresh".to_owned());
            true
        }
        "Miss" => {
            metrics.push("cdn-cache-miss".to_owned());
            false
        }
        _ => false,
    };
    if let Some(pop) = text("x-amz-cf-pop") {
        metrics.push(format!("cdn-pop;desc={}", quoted(pop)));
    }
    if let Some(id) = text("x-amz-cf-id") {
        metrics.push(format!("cdn-rid;desc={}", quoted(id)));
    }
    if hit {
        metrics.push("cdn-hit-layer;desc=\"EDGE\"".to_owned());
    } else if outcome == "Miss" {
        metrics.push("cdn-upstream-layer;desc=\"EDGE\"".to_owned());
    }
    if !hit {
        let origin: Vec<String> = response
            .get_all("server-timing")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect();
        metrics.extend(origin);
    }
    if metrics.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&metrics.join(",")) {
        response.insert(HeaderName::from_static("server-timing"), value);
    }
}

/// A `Server-Timing` `desc` as a quoted string (RFC 9110 §5.6.4).
fn quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The value of `Strict-Transport-Security` for a policy's settings.
pub fn strict_transport_security(max_age: u64, include_subdomains: bool, preload: bool) -> String {
    let mut value = format!("max-age={max_age}");
    if include_subdomains {
        value.push_str("; includeSubDomains");
    }
    if preload {
        value.push_str("; preload");
    }
    value
}

/// The value of `X-XSS-Protection` for a policy's settings (`mode=block`
/// and a report URI exclude each other; the API refuses both).
pub fn xss_protection(protection: bool, mode_block: bool, report_uri: Option<&str>) -> String {
    if !protection {
        return "0".to_owned();
    }
    match (mode_block, report_uri) {
        (true, _) => "1; mode=block".to_owned(),
        (false, Some(uri)) => format!("1; report={uri}"),
        (false, None) => "1".to_owned(),
    }
}

/// The managed response headers policies' ids.
pub const CORS_AND_SECURITY_HEADERS: &str = "e61eb60c-9c35-4d20-a928-2b84e02af89c";
pub const CORS_WITH_PREFLIGHT: &str = "5cc3b908-e619-4b99-88e5-2cf7f45965bd";
pub const CORS_WITH_PREFLIGHT_AND_SECURITY_HEADERS: &str = "eaab4381-ed33-4a86-88ca-d9558dc6cd63";
pub const SECURITY_HEADERS: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";
pub const SIMPLE_CORS: &str = "60669652-455b-4ae9-85a4-c4c02393f86c";

/// A managed response headers policy by its AWS id, with the settings
/// AWS documents for it ("Use managed response headers policies"); `None`
/// for any other id.
pub fn managed(id: &str) -> Option<ResponseHeadersPolicy> {
    let (cors, security) = match id {
        CORS_AND_SECURITY_HEADERS => (Some(simple_cors()), true),
        CORS_WITH_PREFLIGHT => (Some(cors_with_preflight()), false),
        CORS_WITH_PREFLIGHT_AND_SECURITY_HEADERS => (Some(cors_with_preflight()), true),
        SECURITY_HEADERS => (None, true),
        SIMPLE_CORS => (Some(simple_cors()), false),
        _ => return None,
    };
    Some(ResponseHeadersPolicy {
        id: id.to_owned(),
        cors,
        headers: if security { security_headers() } else { Vec::new() },
        remove: Vec::new(),
        server_timing: None,
    })
}

/// `SimpleCORS`: `Access-Control-Allow-Origin: *` on simple CORS requests,
/// the origin's own header kept.
fn simple_cors() -> Cors {
    Cors {
        allow_origins: vec!["*".into()],
        allow_headers: Vec::new(),
        allow_methods: Vec::new(),
        expose_headers: Vec::new(),
        allow_credentials: false,
        max_age: None,
        origin_override: false,
    }
}

/// `CORS-With-Preflight`: any origin, preflights answered with every
/// method, every response header exposed; the origin's own headers kept.
fn cors_with_preflight() -> Cors {
    Cors {
        allow_origins: vec!["*".into()],
        allow_headers: Vec::new(),
        allow_methods: ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"].map(str::to_owned).to_vec(),
        expose_headers: vec!["*".into()],
        allow_credentials: false,
        max_age: None,
        origin_override: false,
    }
}

/// `SecurityHeadersPolicy`: `X-Content-Type-Options` always; the others
/// only where the origin sent none of its own.
fn security_headers() -> Vec<(String, String, bool)> {
    [
        ("referrer-policy", "strict-origin-when-cross-origin".to_owned(), false),
        ("strict-transport-security", strict_transport_security(31_536_000, false, false), false),
        ("x-content-type-options", "nosniff".to_owned(), true),
        ("x-frame-options", "SAMEORIGIN".to_owned(), false),
        ("x-xss-protection", xss_protection(true, true, None), false),
    ]
    .into_iter()
    .map(|(name, value, replace)| (name.to_owned(), value, replace))
    .collect()
}

#[cfg(test)]
mod tests;
