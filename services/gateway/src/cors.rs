//! CORS for HTTP APIs from the API's `CorsConfiguration`, as API Gateway
//! documents it: with a configuration, the gateway answers preflight
//! requests (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! itself, whatever the routes, adds the configured headers to responses to
//! requests that carry an allowed `Origin`, and drops the CORS headers the
//! integration returns. Origins match exactly (ignoring case), or by `*`,
//! `https://*` and `http://*`.

use crate::{error::GatewayError, error::Result, model::Cors};

/// A configuration as CreateApi and UpdateApi accept it.
pub fn checked(cors: Cors) -> Result<Cors> {
    if cors.max_age.is_some_and(|age| !(-1..=86_400).contains(&age)) {
        return Err(GatewayError::BadRequest("maxAge must be between -1 and 86400 seconds".into()));
    }
    for origin in cors.allow_origins.iter().flatten() {
        if origin.trim().is_empty() {
            return Err(GatewayError::BadRequest("allowOrigins cannot contain an empty origin".into()));
        }
    }
    Ok(cors)
}

fn origin_allowed(cors: &Cors, origin: &str) -> bool {
    cors.allow_origins.iter().flatten().any(|allowed| match allowed.as_str() {
        "*" => true,
        "https://*" => origin.len() > 8 && origin[..8].eq_ignore_ascii_case("https://"),
        "http://*" => origin.len() > 7 && origin[..7].eq_ignore_ascii_case("http://"),
        exact => exact.eq_ignore_ascii_case(origin),
    })
}

/// The `Access-Control-Allow-Origin` value for an allowed origin.
fn allow_origin(cors: &Cors, origin: &str) -> String {
    if cors.allow_origins.iter().flatten().any(|allowed| allowed == "*") && cors.allow_credentials != Some(true) {
        "*".into()
    } else {
        origin.to_owned()
    }
}

fn joined(values: &Option<Vec<String>>) -> Option<String> {
    values.as_ref().filter(|values| !values.is_empty()).map(|values| values.join(","))
}

/// Whether a request is a preflight the gateway answers.
pub fn is_preflight(method: &str, origin: Option<&str>, request_method: Option<&str>) -> bool {
    method == "OPTIONS" && origin.is_some() && request_method.is_some()
}

/// The headers of the gateway's answer (204) to a preflight.
pub fn preflight_headers(cors: &Cors, origin: &str) -> Vec<(&'static str, String)> {
    if !origin_allowed(cors, origin) {
        return Vec::new();
    }
    let mut headers = vec![("access-control-allow-origin", allow_origin(cors, origin))];
    if let Some(methods) = joined(&cors.allow_methods) {
        headers.push(("access-control-allow-methods", methods));
    }
    if let Some(allowed) = joined(&cors.allow_headers) {
        headers.push(("access-control-allow-headers", allowed));
    }
    if let Some(age) = cors.max_age {
        headers.push(("access-control-max-age", age.to_string()));
    }
    if cors.allow_credentials == Some(true) {
        headers.push(("access-control-allow-credentials", "true".into()));
    }
    headers
}

/// The headers added to an integration's response to a request from `origin`.
pub fn response_headers(cors: &Cors, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(origin) = origin.filter(|origin| origin_allowed(cors, origin)) else { return Vec::new() };
    let mut headers = vec![("access-control-allow-origin", allow_origin(cors, origin))];
    if cors.allow_credentials == Some(true) {
        headers.push(("access-control-allow-credentials", "true".into()));
    }
    if let Some(exposed) = joined(&cors.expose_headers) {
        headers.push(("access-control-expose-headers", exposed));
    }
    headers
}

/// Whether a header an integration returned is one the gateway replaces.
pub fn is_cors_header(name: &str) -> bool {
    // Bytes, not a `str` slice: a function may answer with any name.
    name.len() > 15 && name.as_bytes()[..15].eq_ignore_ascii_case(b"access-control-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_headers_are_told_apart_whatever_bytes_a_name_holds() {
        assert!(is_cors_header("Access-Control-Allow-Origin"));
        assert!(!is_cors_header("x-access-control"));
        assert!(!is_cors_header("ééééééééé-é-control"));
    }

    fn config(origins: &[&str]) -> Cors {
        Cors {
            allow_origins: Some(origins.iter().map(|o| o.to_string()).collect()),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_headers: Some(vec!["authorization".into()]),
            expose_headers: Some(vec!["x-id".into()]),
            max_age: Some(300),
            allow_credentials: None,
        }
    }

    #[test]
    fn origins_match_exactly_or_by_scheme_wildcard() {
        let cors = config(&["https://app.example", "http://*"]);
        assert!(origin_allowed(&cors, "https://APP.example"));
        assert!(origin_allowed(&cors, "http://anything:3000"));
        assert!(!origin_allowed(&cors, "https://other.example"));
        assert!(origin_allowed(&config(&["https://*"]), "https://x"));
        assert!(!origin_allowed(&config(&["https://*"]), "http://x"));
    }

    #[test]
    fn preflights_carry_the_whole_configuration() {
        let cors = config(&["https://app.example"]);
        let headers = preflight_headers(&cors, "https://app.example");
        assert!(headers.contains(&("access-control-allow-origin", "https://app.example".into())));
        assert!(headers.contains(&("access-control-allow-methods", "GET,POST".into())));
        assert!(headers.contains(&("access-control-allow-headers", "authorization".into())));
        assert!(headers.contains(&("access-control-max-age", "300".into())));
        assert!(preflight_headers(&cors, "https://evil.example").is_empty());
        assert!(is_preflight("OPTIONS", Some("o"), Some("GET")));
        assert!(!is_preflight("OPTIONS", Some("o"), None));
    }

    #[test]
    fn actual_responses_get_origin_and_exposed_headers() {
        let star = config(&["*"]);
        assert_eq!(response_headers(&star, Some("https://a"))[0].1, "*");
        let credentialed = Cors { allow_credentials: Some(true), ..config(&["*"]) };
        let headers = response_headers(&credentialed, Some("https://a"));
        assert_eq!(headers[0].1, "https://a");
        assert!(headers.contains(&("access-control-allow-credentials", "true".into())));
        assert!(headers.contains(&("access-control-expose-headers", "x-id".into())));
        assert!(response_headers(&star, None).is_empty());
        assert!(is_cors_header("Access-Control-Allow-Origin"));
        assert!(!is_cors_header("content-type"));
    }

    #[test]
    fn max_age_is_bounded() {
        assert!(checked(Cors { max_age: Some(90_000), ..Cors::default() }).is_err());
        assert!(checked(Cors { max_age: Some(-1), ..Cors::default() }).is_ok());
    }
}
