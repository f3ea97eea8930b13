//! The compose topology without Docker: seven `nubo serve` processes, one
//! per service, configured by the variables compose.yaml gives them (with
//! loopback addresses and free ports in place of container names and fixed
//! ports), and the gateway → function request path through all of them.
//! Under `make test-cql` the data process uses the Cassandra node in place
//! of compose's ScyllaDB, as compose configures it.

use std::collections::BTreeMap;

use aws_sdk_apigatewayv2::types::ProtocolType;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use nubo::config::Config;
use nubo_e2e::{
    Ports, Process, ServiceName, apigateway_client_with, compose, create_echo, credentials, lambda_client,
    lambda_client_with, nubo_binary, try_wait_healthy,
};
use serde_json::Value;

/// Where the compose file's `scylla` service is in this run: the CQL node
/// of `make test-cql` (or a real ScyllaDB), if there is one.
fn cql_node() -> Option<String> {
    std::env::var("NUBO_TEST_SCYLLA").or_else(|_| std::env::var("NUBO_TEST_CQL")).ok().filter(|node| !node.is_empty())
}

/// Rewrites `http://{service}:{port}` to the loopback port that service got.
fn relink(value: &str, ports: &BTreeMap<ServiceName, Ports>, defaults: &Config) -> String {
    for (service, assigned) in ports {
        let mut pairs =
            vec![(defaults.grpc_port(*service), assigned.grpc), (defaults.http_port(*service), assigned.http)];
        if let Some(edge) = assigned.edge {
            pairs.push((defaults.gateway.edge_port, edge));
        }
        if let Some(website) = assigned.website {
            pairs.push((defaults.storage.website_port, website));
        }
        for (default, port) in pairs {
            let container = format!("http://{service}:{default}");
            if value == container {
                return format!("http://127.0.0.1:{port}");
            }
        }
    }
    if value.contains("scylla:9042")
        && let Some(node) = cql_node()
    {
        return value.replace("scylla:9042", &node);
    }
    assert!(!value.starts_with("http://") || value.contains("localhost"), "unmapped address {value}");
    value.to_owned()
}

/// Runs the compose health check of a service on this host.
fn health(service: ServiceName, ports: &BTreeMap<ServiceName, Ports>) -> bool {
    std::process::Command::new(nubo_binary())
        .args(["health", "--service", service.as_str()])
        .env_clear()
        .envs(ports[&service].env(service))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("nubo health runs")
        .success()
}

/// What every process of one cluster shares.
struct Cluster<'a> {
    compose: &'a serde_yaml::Value,
    vars: &'a BTreeMap<String, String>,
    defaults: &'a Config,
    dir: &'a std::path::Path,
    secret: &'a std::path::Path,
    keyspace: &'a str,
}

/// A service's environment: compose's variables for it, relinked to
/// loopback, plus its own ports, state directory and secret file.
fn process_env(
    cluster: &Cluster<'_>,
    service: ServiceName,
    ports: &BTreeMap<ServiceName, Ports>,
) -> Vec<(String, String)> {
    let Cluster { compose, vars, defaults, dir, secret, keyspace } = cluster;
    let mut env: Vec<(String, String)> = compose::environment(compose, service.as_str(), vars)
        .expect("the environment interpolates")
        .into_iter()
        .map(|(key, value)| {
            let value = relink(&value, ports, defaults);
            (key, value)
        })
        .collect();
    env.extend([
        ("NUBO_BIND_HOST".to_string(), "127.0.0.1".to_string()),
        ("NUBO_STATE_DIR".to_string(), dir.join(service.as_str()).to_str().unwrap().to_string()),
        ("NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE".to_string(), secret.to_str().unwrap().to_string()),
        ("NUBO_CLUSTER__TOKEN_FILE".to_string(), dir.join("cluster-token").to_str().unwrap().to_string()),
        ("NUBO_GATEWAY__PUBLIC_URL".to_string(), format!("http://127.0.0.1:{}", ports[&ServiceName::Gateway].http)),
    ]);
    env.extend(ports[&service].env(service));
    if cql_node().is_some() {
        env.push(("NUBO_DATA__CQL__KEYSPACE".to_string(), keyspace.to_string()));
    } else {
        // No CQL node in this run: the data process keeps its tables in the
        // embedded engine instead of the compose file's ScyllaDB.
        env.push(("NUBO_DATA__ENGINE".to_string(), "embedded".to_string()));
    }
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn seven_serve_processes_configured_like_compose_serve_a_request() {
    let compose = compose::load();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "cluster-secret").unwrap();
    std::fs::write(dir.path().join("cluster-token"), "cluster-token-0123456789").unwrap();
    let vars: BTreeMap<String, String> = [("NUBO_ACCESS_KEY_ID".to_string(), "AKIDCLUSTER".to_string())].into();
    let defaults = Config::default();
    let keyspace = nubo_e2e::unique_keyspace();
    // The processes must know each other's ports before they start, so the
    // ports are picked free in advance; another process may grab one in
    // between, in which case the whole cluster starts again on new ones.
    let (ports, processes) = 'attempts: {
        for _ in 0..3 {
            let ports: BTreeMap<ServiceName, Ports> =
                ServiceName::ALL.into_iter().map(|s| (s, Ports::free(s))).collect();
            let mut processes = Vec::new();
            for service in ServiceName::ALL {
                let cluster = Cluster {
                    compose: &compose,
                    vars: &vars,
                    defaults: &defaults,
                    dir: dir.path(),
                    secret: &secret,
                    keyspace: &keyspace,
                };
                let env = process_env(&cluster, service, &ports);
                let log = dir.path().join(format!("{service}.log"));
                processes.push((service, Process::spawn(&["serve", "--services", service.as_str()], &env, log)));
            }
            let mut failed = None;
            for (service, process) in &mut processes {
                if let Err(log) = try_wait_healthy(process, &format!("http://127.0.0.1:{}", ports[service].http)).await
                {
                    failed = Some((*service, log));
                    break;
                }
            }
            match failed {
                None => break 'attempts (ports, processes),
                Some((_, log)) if log.contains("Address already in use") => continue,
                Some((service, log)) => panic!("{service} did not start\n{log}"),
            }
        }
        panic!("the cluster could not bind its ports in three attempts");
    };

    // The compose health check, `nubo health --service <name>`, against each.
    for service in ServiceName::ALL {
        assert!(health(service, &ports), "nubo health --service {service} fails on a serving {service}");
    }
    // The internal plane answers only callers that carry the cluster token.
    for service in ServiceName::ALL {
        let url = format!("http://127.0.0.1:{}", ports[&service].grpc);
        assert_eq!(
            nubo_e2e::internal_call(service, &url, None).await,
            tonic::Code::Unauthenticated,
            "{service} answered an internal call without the cluster token"
        );
        assert_eq!(
            nubo_e2e::internal_call(service, &url, Some("cluster-token-0123456788")).await,
            tonic::Code::Unauthenticated,
            "{service} answered an internal call with a wrong token"
        );
    }

    let key = credentials("AKIDCLUSTER", "cluster-secret");
    let functions_url = format!("http://127.0.0.1:{}", ports[&ServiceName::Functions].http);
    let edge_url = format!("http://127.0.0.1:{}", ports[&ServiceName::Gateway].edge.unwrap());
    let lambda = lambda_client_with(&functions_url, key.clone());
    let arn = create_echo(&lambda, "echo")
        .send()
        .await
        .expect("CreateFunction on the functions process")
        .function_arn
        .unwrap();
    let api = apigateway_client_with(&edge_url, key.clone())
        .create_api()
        .name("cluster")
        .protocol_type(ProtocolType::Http)
        .target(arn)
        .send()
        .await
        .expect("CreateApi on the gateway process");
    let response = reqwest::get(format!("{}/hello/world?x=1", api.api_endpoint().unwrap())).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["rawPath"], "/hello/world");
    assert_eq!(body["queryStringParameters"]["x"], "1");
    assert_eq!(body["method"], "GET");

    // The edge relays Lambda calls to the functions process.
    let listed = lambda_client_with(&edge_url, key).list_functions().send().await.expect("ListFunctions via the edge");
    assert_eq!(listed.functions().len(), 1);
    // The cluster does not take the development keys.
    let refused = lambda_client(&functions_url).list_functions().send().await.unwrap_err();
    assert_eq!(refused.code(), Some("UnrecognizedClientException"));

    for (service, mut process) in processes {
        let status = process.stop();
        assert!(status.success(), "{service} exited with {status}\n{}", process.log());
    }
    assert!(!health(ServiceName::Data, &ports), "nubo health passes on a stopped service");
}
