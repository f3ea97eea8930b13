//! `HTTP_PROXY` integrations: the request goes on to the integration's URL
//! — path variables (`{id}`, `{proxy}`) and `${stageVariables.x}` filled
//! in, the client's query string kept, `requestParameters` applied — and
//! the upstream's answer comes back as it is, its body streamed, never
//! buffered. Connections to upstreams are pooled and reused.
//!
//! As API Gateway answers for HTTP APIs: no answer within the
//! integration's `timeoutInMillis` is 503 `Service Unavailable`; an
//! upstream that cannot be reached is 500 `Internal Server Error`.

use std::{collections::BTreeMap, time::Duration};

use bytes::Bytes;

use crate::{
    model::Integration,
    parameter_mapping::{self, Action, Resolve, Target},
    stages::substitute_stage_variables,
};

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1).
pub fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// The client used for every upstream: pooled, no redirects followed (the
/// client sees them, as through API Gateway).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

/// What the proxy needs of the request.
pub struct Outgoing<'a> {
    pub method: &'a str,
    pub query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub path_parameters: &'a BTreeMap<String, String>,
    pub stage_variables: &'a BTreeMap<String, String>,
    pub source_ip: &'a str,
    pub host: &'a str,
}

/// The URL path variables and stage variables make of an integration URI.
pub fn target_url(
    uri: &str,
    path_parameters: &BTreeMap<String, String>,
    stage_variables: &BTreeMap<String, String>,
) -> String {
    let mut url = substitute_stage_variables(uri, stage_variables);
    for (name, value) in path_parameters {
        for pattern in [format!("{{{name}+}}"), format!("{{{name}}}")] {
            if url.contains(&pattern) {
                url = url.replace(&pattern, value);
            }
        }
    }
    url
}

/// Splits `scheme://authority` off a URL, and the path and query after it.
fn split_url(url: &str) -> (&str, &str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = url[after_scheme..].find(['/', '?']).map(|i| i + after_scheme).unwrap_or(url.len());
    let (origin, rest) = url.split_at(path_start);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    (origin, path, query)
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// A request ready to send: the URL and headers after mapping.
#[derive(Debug, PartialEq, Eq)]
pub struct Prepared {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Builds the upstream request: URL from the URI, the client's query, the
/// mappings applied (their values already resolved by `resolver`).
pub fn prepare(integration: &Integration, outgoing: &Outgoing<'_>, resolver: &dyn Resolve) -> Prepared {
    let url = target_url(&integration.integration_uri, outgoing.path_parameters, outgoing.stage_variables);
    let (origin, uri_path, uri_query) = split_url(&url);
    let mut path = uri_path.to_owned();
    let mut query = query_pairs(uri_query);
    query.extend(query_pairs(outgoing.query));
    let mut headers: Vec<(String, String)> =
        outgoing.headers.iter().filter(|(name, _)| !hop_by_hop(name)).cloned().collect();
    for (key, value) in &integration.request_parameters {
        let Some((action, target)) = parameter_mapping::parse_key(key) else { continue };
        let value = if action == Action::Remove { String::new() } else { parameter_mapping::evaluate(value, resolver) };
        match target {
            Target::Header(name) => parameter_mapping::apply_pairs(&mut headers, action, &name, value, true),
            Target::QueryString(name) => {
                let encoded = nubo_host::sigv4::uri_encode(&value, true);
                parameter_mapping::apply_pairs(&mut query, action, name, encoded, false)
            }
            Target::Path => path = if value.starts_with('/') { value } else { format!("/{value}") },
            Target::StatusCode => {}
        }
    }
    headers.push((
        "forwarded".into(),
        format!("by={};for={};host={};proto=http", origin_host(origin), outgoing.source_ip, outgoing.host),
    ));
    let mut url = format!("{origin}{}", if path.is_empty() { "/" } else { &path });
    if !query.is_empty() {
        url.push('?');
        let joined: Vec<String> = query
            .iter()
            .map(|(name, value)| if value.is_empty() { name.clone() } else { format!("{name}={value}") })
            .collect();
        url.push_str(&joined.join("&"));
    }
    Prepared { url, headers }
}

fn origin_host(origin: &str) -> &str {
    origin.split_once("://").map(|(_, host)| host).unwrap_or(origin)
}

/// How a forward ended when it did not get an answer.
#[derive(Debug)]
pub enum ProxyFailure {
    TimedOut,
    Unreachable(String),
}

/// Sends the prepared request; the answer's body is left to stream.
pub async fn send(
    client: &reqwest::Client,
    method: &str,
    prepared: Prepared,
    body: Bytes,
    timeout: Duration,
) -> Result<reqwest::Response, ProxyFailure> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = client.request(method, &prepared.url);
    for (name, value) in prepared.headers {
        request = request.header(name, value);
    }
    if !body.is_empty() {
        request = request.body(body);
    }
    match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => Err(ProxyFailure::TimedOut),
        Ok(Err(error)) if error.is_timeout() => Err(ProxyFailure::TimedOut),
        Ok(Err(error)) => Err(ProxyFailure::Unreachable(error.to_string())),
        Ok(Ok(response)) => Ok(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Values;
    impl Resolve for Values {
        fn resolve(&self, reference: &str) -> Option<String> {
            match reference {
                "request.header.x-user" => Some("ann".into()),
                "context.requestId" => Some("rid".into()),
                "request.path.id" => Some("42".into()),
                _ => None,
            }
        }
    }

    fn integration(uri: &str, mappings: &[(&str, &str)]) -> Integration {
        Integration {
            integration_uri: uri.into(),
            request_parameters: mappings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Integration::default()
        }
    }

    fn outgoing<'a>(params: &'a BTreeMap<String, String>, variables: &'a BTreeMap<String, String>) -> Outgoing<'a> {
        Outgoing {
            method: "GET",
            query: "a=1&b=2",
            headers: vec![
                ("x-user".into(), "ann".into()),
                ("host".into(), "gw".into()),
                ("connection".into(), "close".into()),
            ],
            body: Bytes::new(),
            path_parameters: params,
            stage_variables: variables,
            source_ip: "127.0.0.1",
            host: "gw",
        }
    }

    #[test]
    fn uris_take_path_and_stage_variables() {
        let params: BTreeMap<String, String> = [("proxy".to_string(), "a/b".to_string())].into();
        let variables: BTreeMap<String, String> = [("up".to_string(), "127.0.0.1:81".to_string())].into();
        assert_eq!(
            target_url("http://${stageVariables.up}/base/{proxy}", &params, &variables),
            "http://127.0.0.1:81/base/a/b"
        );
        assert_eq!(target_url("http://h/{proxy+}", &params, &variables), "http://h/a/b");
    }

    #[test]
    fn requests_keep_the_query_and_drop_hop_by_hop_headers() {
        let empty = BTreeMap::new();
        let prepared = prepare(&integration("http://up:81/items?fixed=1", &[]), &outgoing(&empty, &empty), &Values);
        assert_eq!(prepared.url, "http://up:81/items?fixed=1&a=1&b=2");
        assert!(prepared.headers.iter().all(|(name, _)| name != "host" && name != "connection"));
        assert!(prepared.headers.contains(&("x-user".into(), "ann".into())));
    }

    #[test]
    fn mappings_change_headers_query_and_path() {
        let empty = BTreeMap::new();
        let mapped = integration(
            "http://up",
            &[
                ("append:header.x-request", "$context.requestId"),
                ("remove:header.x-user", "''"),
                ("overwrite:querystring.a", "$request.header.x-user"),
                ("remove:querystring.b", "''"),
                ("overwrite:path", "/users/$request.path.id"),
            ],
        );
        let prepared = prepare(&mapped, &outgoing(&empty, &empty), &Values);
        assert_eq!(prepared.url, "http://up/users/42?a=ann");
        assert!(prepared.headers.contains(&("x-request".into(), "rid".into())));
        assert!(prepared.headers.iter().all(|(name, _)| name != "x-user"));
    }
}
