//! Each rule of "Understand response headers policies" and "Use managed
//! response headers policies", on plain header maps.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

fn get<'a>(map: &'a HeaderMap, name: &str) -> Option<&'a str> {
    map.get(name).map(|value| value.to_str().unwrap())
}

fn policy(cors: Option<Cors>) -> ResponseHeadersPolicy {
    ResponseHeadersPolicy { id: "test".into(), cors, headers: Vec::new(), remove: Vec::new(), server_timing: None }
}

fn cors(origins: &[&str]) -> Cors {
    Cors {
        allow_origins: origins.iter().map(|origin| (*origin).to_owned()).collect(),
        allow_headers: Vec::new(),
        allow_methods: Vec::new(),
        expose_headers: Vec::new(),
        allow_credentials: false,
        max_age: None,
        origin_override: false,
    }
}

fn applied(policy: &ResponseHeadersPolicy, request: &[(&str, &str)], response: &[(&str, &str)]) -> HeaderMap {
    let mut response = headers(response);
    apply(policy, &headers(request), &mut response);
    response
}

#[test]
fn cors_headers_go_only_on_cors_requests() {
    let policy = policy(Some(cors(&["*"])));
    let response = applied(&policy, &[], &[]);
    assert_eq!(get(&response, "access-control-allow-origin"), None, "no Origin, no CORS request");
    let response = applied(&policy, &[("origin", "https://app.example")], &[]);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&response, "vary"), None, "a `*` does not depend on the Origin");
}

#[test]
fn a_listed_origin_is_echoed_with_vary() {
    let policy = policy(Some(cors(&["https://app.example", "https://*.example.org"])));
    let response = applied(&policy, &[("origin", "https://app.example")], &[("vary", "Accept-Encoding")]);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(get(&response, "vary"), Some("Accept-Encoding, Origin"));

    let response = applied(&policy, &[("origin", "https://a.b.example.org")], &[]);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("https://a.b.example.org"));
    assert_eq!(get(&response, "vary"), Some("Origin"));

    for refused in ["https://evil.example", "http://app.example", "https://example.org", "https://xexample.org"] {
        let response = applied(&policy, &[("origin", refused)], &[]);
        assert_eq!(get(&response, "access-control-allow-origin"), None, "{refused}");
    }
}

#[test]
fn origins_compare_without_case_and_an_entry_without_scheme_takes_any() {
    assert!(origin_matches("https://App.Example", "https://app.example"));
    assert!(origin_matches("app.example", "http://app.example"));
    assert!(origin_matches("app.example:8080", "https://app.example:8080"));
    assert!(!origin_matches("app.example", "https://app.example:8080"));
    assert!(origin_matches("*.example.org", "https://www.example.org"));
    assert!(!origin_matches("https://*.example.org", "http://www.example.org"));
}

#[test]
fn vary_star_and_an_existing_origin_token_are_left_alone() {
    let policy = policy(Some(cors(&["https://app.example"])));
    let response = applied(&policy, &[("origin", "https://app.example")], &[("vary", "*")]);
    assert_eq!(get(&response, "vary"), Some("*"));
    let response = applied(&policy, &[("origin", "https://app.example")], &[("vary", "origin")]);
    assert_eq!(get(&response, "vary"), Some("origin"));
}

#[test]
fn credentials_add_their_header_and_turn_a_star_into_an_echo() {
    let mut section = cors(&["*"]);
    section.allow_credentials = true;
    let response = applied(&policy(Some(section)), &[("origin", "https://app.example")], &[]);
    assert_eq!(get(&response, "access-control-allow-credentials"), Some("true"));
    assert_eq!(get(&response, "access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(get(&response, "vary"), Some("Origin"));

    let response = applied(&policy(Some(cors(&["*"]))), &[("origin", "https://app.example")], &[]);
    assert_eq!(get(&response, "access-control-allow-credentials"), None, "false sends no header");
}

#[test]
fn expose_headers_go_on_cors_responses() {
    let mut section = cors(&["*"]);
    section.expose_headers = vec!["ETag".into(), "X-Request-Id".into()];
    let response = applied(&policy(Some(section)), &[("origin", "https://app.example")], &[]);
    assert_eq!(get(&response, "access-control-expose-headers"), Some("ETag, X-Request-Id"));
    assert_eq!(get(&response, "access-control-allow-methods"), None, "methods are for preflights only");
}

#[test]
fn origin_override_decides_whose_cors_header_wins() {
    let origin_response = [("access-control-allow-origin", "https://origin.example"), ("vary", "Accept-Encoding")];
    let mut section = cors(&["https://app.example"]);
    let response = applied(&policy(Some(section.clone())), &[("origin", "https://app.example")], &origin_response);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("https://origin.example"), "kept");
    assert_eq!(get(&response, "vary"), Some("Accept-Encoding"), "the origin's header carries its own Vary");

    section.origin_override = true;
    let response = applied(&policy(Some(section)), &[("origin", "https://app.example")], &origin_response);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("https://app.example"), "replaced");
    assert_eq!(get(&response, "vary"), Some("Accept-Encoding, Origin"));
}

#[test]
fn several_or_empty_origin_fields_are_no_cors_request() {
    let policy = policy(Some(cors(&["*"])));
    let response = applied(&policy, &[("origin", "https://a.example"), ("origin", "https://b.example")], &[]);
    assert_eq!(get(&response, "access-control-allow-origin"), None);
    let response = applied(&policy, &[("origin", "")], &[]);
    assert_eq!(get(&response, "access-control-allow-origin"), None);
}

#[test]
fn security_and_custom_headers_follow_their_own_override() {
    let mut policy = policy(None);
    policy.headers = vec![
        ("x-frame-options".into(), "DENY".into(), false),
        ("x-content-type-options".into(), "nosniff".into(), true),
        ("x-custom".into(), "policy".into(), true),
        ("x-empty".into(), String::new(), false),
    ];
    let response = applied(
        &policy,
        &[],
        &[("x-frame-options", "SAMEORIGIN"), ("x-content-type-options", "sniff"), ("x-custom", "origin")],
    );
    assert_eq!(get(&response, "x-frame-options"), Some("SAMEORIGIN"), "override off keeps the origin's");
    assert_eq!(get(&response, "x-content-type-options"), Some("nosniff"), "override on replaces");
    assert_eq!(get(&response, "x-custom"), Some("policy"));
    assert_eq!(get(&response, "x-empty"), Some(""), "a custom header may have no value");

    let response = applied(&policy, &[], &[]);
    assert_eq!(get(&response, "x-frame-options"), Some("DENY"), "added when the origin sent none");
}

#[test]
fn an_invalid_policy_header_is_skipped_not_a_panic() {
    let mut policy = policy(None);
    policy.headers = vec![("bad name".into(), "v".into(), true), ("x-ok".into(), "line\nbreak".into(), true)];
    policy.remove = vec!["bad name".into()];
    let response = applied(&policy, &[], &[("x-ok", "kept")]);
    assert_eq!(get(&response, "x-ok"), Some("kept"));
}

#[test]
fn removal_comes_first_so_an_added_header_survives_it() {
    let mut policy = policy(None);
    policy.remove = vec!["x-powered-by".into(), "x-custom".into(), "vary".into()];
    policy.headers = vec![("x-custom".into(), "policy".into(), false)];
    let response = applied(&policy, &[], &[("x-powered-by", "PHP"), ("x-custom", "origin"), ("vary", "Cookie")]);
    assert_eq!(get(&response, "x-powered-by"), None);
    assert_eq!(get(&response, "vary"), None);
    assert_eq!(get(&response, "x-custom"), Some("policy"), "removed, then added even without override");
}

#[test]
fn removing_server_leaves_cloudfronts_own() {
    let mut policy = policy(None);
    policy.remove = vec!["server".into()];
    let response = applied(&policy, &[], &[("server", "nginx/1.25")]);
    assert_eq!(get(&response, "server"), Some("CloudFront"));
}

#[test]
fn server_timing_follows_the_sampling_rate_and_pragma() {
    let mut policy = policy(None);
    policy.server_timing = Some(50.0);
    let response = &[("x-cache", "Miss from cloudfront")];
    let sampled = |draw: f64, request: &[(&str, &str)]| {
        let mut map = headers(response);
        apply_sampled(&policy, &headers(request), &mut map, draw);
        get(&map, "server-timing").map(str::to_owned)
    };
    assert!(sampled(10.0, &[]).is_some(), "inside the sampled 50%");
    assert!(sampled(60.0, &[]).is_none(), "outside it");
    assert!(sampled(99.0, &[("pragma", "no-cache, server-timing")]).is_some(), "Pragma asks whatever the rate");

    policy.server_timing = Some(0.0);
    let mut map = headers(response);
    apply_sampled(&policy, &headers(&[("pragma", "server-timing")]), &mut map, 0.0);
    assert!(map.contains_key("server-timing"), "even at rate 0");
    policy.server_timing = None;
    let mut map = headers(response);
    apply_sampled(&policy, &headers(&[("pragma", "server-timing")]), &mut map, 0.0);
    assert!(!map.contains_key("server-timing"), "not without the setting");
}

#[test]
fn server_timing_names_the_cache_outcome_and_keeps_the_origins_on_a_miss() {
    let mut policy = policy(None);
    policy.server_timing = Some(100.0);
    let miss = applied(
        &policy,
        &[],
        &[("x-cache", "Miss from cloudfront"), ("x-amz-cf-id", "abc=="), ("server-timing", "db;dur=53")],
    );
    assert_eq!(
        get(&miss, "server-timing"),
        Some("cdn-cache-miss,cdn-rid;desc=\"abc==\",cdn-upstream-layer;desc=\"EDGE\",db;dur=53")
    );
    let hit = applied(&policy, &[], &[("x-cache", "Hit from cloudfront"), ("server-timing", "db;dur=53")]);
    assert_eq!(
        get(&hit, "server-timing"),
        Some("cdn-cache-hit,cdn-hit-layer;desc=\"EDGE\""),
        "a hit drops the origin's"
    );
    let refresh = applied(&policy, &[], &[("x-cache", "RefreshHit from cloudfront")]);
    assert!(get(&refresh, "server-timing").unwrap().starts_with("cdn-cache-refresh"));
}

#[test]
fn a_preflight_is_answered_at_the_edge() {
    let mut section = cors(&["https://app.example"]);
    section.allow_methods = vec!["GET".into(), "PUT".into()];
    section.allow_headers = vec!["Content-Type".into(), "X-Api-Key".into()];
    section.max_age = Some(600);
    section.expose_headers = vec!["ETag".into()];
    let mut policy = policy(Some(section));
    policy.headers = vec![("x-content-type-options".into(), "nosniff".into(), true)];
    let request = headers(&[("origin", "https://app.example"), ("access-control-request-method", "PUT")]);
    let answer = preflight(&policy, &Method::OPTIONS, &request).expect("a preflight");
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = answer.headers();
    assert_eq!(get(answer, "access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(get(answer, "access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(get(answer, "access-control-allow-headers"), Some("Content-Type, X-Api-Key"));
    assert_eq!(get(answer, "access-control-max-age"), Some("600"));
    assert_eq!(get(answer, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(get(answer, "vary"), Some("Origin"));
    assert_eq!(get(answer, "x-content-type-options"), Some("nosniff"), "the rest of the policy applies too");
}

#[test]
fn only_an_allowed_preflight_is_answered() {
    let mut section = cors(&["https://app.example"]);
    section.allow_methods = vec!["DELETE".into()];
    let policy_with_cors = policy(Some(section));
    let preflight_headers = [("origin", "https://app.example"), ("access-control-request-method", "DELETE")];
    assert!(preflight(&policy_with_cors, &Method::GET, &headers(&preflight_headers)).is_none(), "not OPTIONS");
    assert!(
        preflight(&policy_with_cors, &Method::OPTIONS, &headers(&[("origin", "https://app.example")])).is_none(),
        "a plain OPTIONS goes to the origin"
    );
    assert!(
        preflight(
            &policy_with_cors,
            &Method::OPTIONS,
            &headers(&[("origin", "https://evil.example"), ("access-control-request-method", "DELETE")])
        )
        .is_none(),
        "an origin the policy does not allow"
    );
    assert!(preflight(&policy(None), &Method::OPTIONS, &headers(&preflight_headers)).is_none(), "no CORS section");
}

#[test]
fn a_policy_granting_no_methods_leaves_preflights_to_the_origin() {
    let request = headers(&[("origin", "https://app.example"), ("access-control-request-method", "PUT")]);
    let simple = managed(SIMPLE_CORS).unwrap();
    assert!(preflight(&simple, &Method::OPTIONS, &request).is_none());
    let mut origin_answer = headers(&[("access-control-allow-methods", "PUT")]);
    apply(&simple, &request, &mut origin_answer);
    assert_eq!(get(&origin_answer, "access-control-allow-origin"), Some("*"), "the origin's answer is completed");
    assert_eq!(get(&origin_answer, "access-control-allow-methods"), Some("PUT"));
}

#[test]
fn all_methods_and_credentialed_star_headers_are_spelled_out() {
    let mut section = cors(&["https://app.example"]);
    section.allow_methods = vec!["ALL".into()];
    section.allow_headers = vec!["*".into()];
    let request = headers(&[
        ("origin", "https://app.example"),
        ("access-control-request-method", "PATCH"),
        ("access-control-request-headers", "content-type, x-api-key"),
    ]);
    let answer = preflight(&policy(Some(section.clone())), &Method::OPTIONS, &request).unwrap();
    assert_eq!(
        get(answer.headers(), "access-control-allow-methods"),
        Some("GET, DELETE, HEAD, OPTIONS, PATCH, POST, PUT")
    );
    assert_eq!(get(answer.headers(), "access-control-allow-headers"), Some("*"), "without credentials `*` means any");

    section.allow_credentials = true;
    let answer = preflight(&policy(Some(section)), &Method::OPTIONS, &request).unwrap();
    assert_eq!(get(answer.headers(), "access-control-allow-headers"), Some("content-type, x-api-key"));
    assert_eq!(get(answer.headers(), "access-control-allow-credentials"), Some("true"));
}

#[test]
fn security_header_values_are_built_as_documented() {
    assert_eq!(strict_transport_security(31_536_000, false, false), "max-age=31536000");
    assert_eq!(strict_transport_security(63_072_000, true, true), "max-age=63072000; includeSubDomains; preload");
    assert_eq!(xss_protection(true, true, None), "1; mode=block");
    assert_eq!(xss_protection(true, false, Some("https://r.example/x")), "1; report=https://r.example/x");
    assert_eq!(xss_protection(false, true, None), "0");
}

#[test]
fn the_managed_policies_carry_awss_documented_settings() {
    assert!(managed("not-a-managed-policy").is_none());

    let simple = managed(SIMPLE_CORS).unwrap();
    assert_eq!(simple.id, SIMPLE_CORS);
    assert!(simple.headers.is_empty());
    let response = applied(&simple, &[("origin", "https://app.example")], &[]);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(response.len(), 1, "SimpleCORS adds that one header");
    let response =
        applied(&simple, &[("origin", "https://app.example")], &[("access-control-allow-origin", "https://o")]);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("https://o"), "not overriding the origin");

    let security = managed(SECURITY_HEADERS).unwrap();
    assert!(security.cors.is_none());
    let response = applied(&security, &[], &[]);
    assert_eq!(get(&response, "strict-transport-security"), Some("max-age=31536000"));
    assert_eq!(get(&response, "x-content-type-options"), Some("nosniff"));
    assert_eq!(get(&response, "x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(get(&response, "referrer-policy"), Some("strict-origin-when-cross-origin"));
    assert_eq!(get(&response, "x-xss-protection"), Some("1; mode=block"));
    let response = applied(&security, &[], &[("x-content-type-options", "other"), ("x-frame-options", "DENY")]);
    assert_eq!(get(&response, "x-content-type-options"), Some("nosniff"), "the one security header it overrides");
    assert_eq!(get(&response, "x-frame-options"), Some("DENY"), "the others keep the origin's");

    let preflight_policy = managed(CORS_WITH_PREFLIGHT).unwrap();
    assert!(preflight_policy.headers.is_empty());
    let request = headers(&[("origin", "https://app.example"), ("access-control-request-method", "PUT")]);
    let answer = preflight(&preflight_policy, &Method::OPTIONS, &request).unwrap();
    assert_eq!(get(answer.headers(), "access-control-allow-origin"), Some("*"));
    assert_eq!(
        get(answer.headers(), "access-control-allow-methods"),
        Some("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
    );
    assert_eq!(get(answer.headers(), "access-control-expose-headers"), Some("*"));

    let both = managed(CORS_WITH_PREFLIGHT_AND_SECURITY_HEADERS).unwrap();
    assert_eq!(both.cors, preflight_policy.cors);
    assert_eq!(both.headers, security.headers);
    let both = managed(CORS_AND_SECURITY_HEADERS).unwrap();
    assert_eq!(both.cors, simple.cors);
    assert_eq!(both.headers, security.headers);
}
