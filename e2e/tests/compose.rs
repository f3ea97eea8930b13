//! `compose.yaml` and `deploy/` checked against the code, since no Docker
//! engine runs here: every service is present and runs `nubo serve` for
//! itself, its variables are ones the configuration accepts, its published
//! ports are the ones it binds, its health check is a real command, its
//! links and edge targets point at the ports their owners bind, and the
//! cluster cannot start with the development keys.

use std::collections::BTreeMap;

use nubo::config::{Config, Mode};
use nubo_e2e::{ServiceName, compose};

fn vars() -> BTreeMap<String, String> {
    [("NUBO_ACCESS_KEY_ID".to_string(), "AKIDCLUSTER".to_string())].into()
}

/// The secrets a cluster is started with, by compose secret name.
const SECRETS: &[(&str, &str)] =
    &[("nubo_secret_access_key", "cluster-secret"), ("nubo_cluster_token", "cluster-token-0123456789")];

/// A service's configuration as its container would load it, with every
/// mounted secret replaced by a local file.
fn config_of(compose: &serde_yaml::Value, service: &str, dir: &std::path::Path) -> Config {
    let mut env = compose::environment(compose, service, &vars()).expect("the environment interpolates");
    for (variable, value) in env.iter_mut().filter(|(variable, _)| variable.ends_with("_FILE")) {
        let secret_name = value.strip_prefix("/run/secrets/").expect("a compose secret").to_owned();
        assert!(compose["secrets"][&secret_name].is_mapping(), "{service} uses the undeclared secret {secret_name}");
        assert!(
            compose["services"][service]["secrets"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|s| s.as_str() == Some(&secret_name)),
            "{service} reads {variable} but is not given the secret {secret_name}"
        );
        let (_, content) = SECRETS
            .iter()
            .find(|(name, _)| *name == secret_name)
            .unwrap_or_else(|| panic!("unknown secret {secret_name}"));
        let file = dir.join(&secret_name);
        std::fs::write(&file, content).unwrap();
        *value = file.to_str().unwrap().to_owned();
    }
    env.remove("NUBO_LOG");
    Config::load(None, &env).unwrap_or_else(|error| panic!("{service}: {error}"))
}

#[test]
fn every_service_is_consistent_with_the_code() {
    let compose = compose::load();
    let dir = tempfile::tempdir().unwrap();
    let defaults = Config::default();

    let configs: BTreeMap<ServiceName, Config> =
        ServiceName::ALL.iter().map(|service| (*service, config_of(&compose, service.as_str(), dir.path()))).collect();

    for (service, config) in &configs {
        let name = service.as_str();
        let definition = &compose["services"][name];
        assert_eq!(compose::strings(&definition["command"]), ["serve", "--services", name], "{name} command");
        assert_eq!(definition["build"]["dockerfile"].as_str(), Some("deploy/Dockerfile"), "{name} image");
        assert_eq!(definition["image"].as_str(), Some("nubo:latest"), "{name} image");
        assert_eq!(config.bind_host.to_string(), "0.0.0.0", "{name} must listen beyond loopback");

        let context = config.context(Mode::Serve).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(context.credentials.secret_for("AKIDCLUSTER"), Some("cluster-secret"));
        assert_eq!(context.credentials.secret_for("test"), None, "{name} must not accept the development keys");
        assert_eq!(context.cluster.secret(), "cluster-token-0123456789", "{name} must carry the cluster token");

        // Published ports: the container side is what the service binds,
        // the host side is the public port SPEC.md gives it.
        let mut bound = vec![config.http_port(*service)];
        if *service == ServiceName::Gateway {
            bound.push(config.gateway.edge_port);
        }
        if *service == ServiceName::Storage {
            bound.push(config.storage.https_port);
            bound.push(config.storage.website_port);
        }
        if *service == ServiceName::Cdn {
            bound.push(config.cdn.https_port);
        }
        if *service == ServiceName::Dns {
            assert_eq!(config.dns.dns_port, 53, "DNS is served on its standard port in the cluster");
            bound.push(config.dns.dns_port);
        }
        for port in compose::strings(&definition["ports"]) {
            // `53:53/udp`: the protocol suffix does not change the port.
            let port = port.split_once('/').map_or(port.as_str(), |(port, _)| port);
            let (host, container) = port.split_once(':').expect("host:container");
            let container: u16 = container.parse().unwrap();
            assert!(bound.contains(&container), "{name} publishes {container}, which it does not bind");
            assert_eq!(host.parse::<u16>().unwrap(), container, "{name} publishes on its own port");
        }
        assert_eq!(config.http_port(*service), defaults.http_port(*service), "{name} keeps the default public port");

        let check = compose::strings(&definition["healthcheck"]["test"]);
        assert_eq!(check, ["CMD", "nubo", "health", "--service", name], "{name} health check");

        // Every link names a service and the gRPC port that service binds.
        for other in ServiceName::ALL {
            let expected = format!("http://{other}:{}", configs[&other].grpc_port(other));
            assert_eq!(config.link(other), expected, "{name} links to {other}");
        }

        for (dependency, condition) in definition["depends_on"].as_mapping().into_iter().flatten() {
            let dependency = dependency.as_str().unwrap();
            assert_eq!(condition["condition"].as_str(), Some("service_healthy"), "{name} waits for {dependency}");
            assert!(compose["services"][dependency]["healthcheck"].is_mapping(), "{dependency} has a health check");
        }
        for volume in compose::strings(&definition["volumes"]) {
            let (volume, path) = volume.split_once(':').unwrap();
            assert!(compose["volumes"].as_mapping().unwrap().contains_key(volume), "{volume} is a named volume");
            assert_eq!(std::path::Path::new(path), config.state_dir, "{name} keeps its state on the volume");
        }
    }

    // The edge relays to each service's public port.
    let gateway = &configs[&ServiceName::Gateway];
    let edge = &gateway.gateway.edge;
    for (service, target) in [
        (ServiceName::Functions, &edge.functions),
        (ServiceName::Data, &edge.data),
        (ServiceName::Storage, &edge.storage),
        (ServiceName::Auth, &edge.auth),
        (ServiceName::Cdn, &edge.cdn),
        (ServiceName::Dns, &edge.dns),
    ] {
        assert_eq!(target, &format!("http://{service}:{}", configs[&service].http_port(service)));
    }

    // Distributions fetch nubo's own origins from their services, and the
    // cdn replicas share the compose file's Redis as their L2 tier.
    let cdn = &configs[&ServiceName::Cdn].cdn;
    let storage = &configs[&ServiceName::Storage].storage;
    assert_eq!(cdn.endpoints.storage, format!("http://storage:{}", storage.http_port));
    assert_eq!(cdn.endpoints.website, format!("http://storage:{}", storage.website_port));
    assert_eq!(
        cdn.endpoints.gateway,
        format!("http://gateway:{}", configs[&ServiceName::Gateway].http_port(ServiceName::Gateway))
    );
    let redis = cdn.redis.as_deref().expect("the cdn replicas share a Redis tier");
    let (host, port) = redis.trim_start_matches("redis://").split_once(':').expect("redis://host:port");
    assert!(compose["services"][host].is_mapping(), "{host} is a compose service");
    assert_eq!(port, "6379", "Redis's port");

    // The data service keeps everything in the compose file's ScyllaDB.
    let data = &configs[&ServiceName::Data].data;
    assert_eq!(data.engine, nubo_data::EngineKind::Cql);
    for node in &data.cql.nodes {
        let (host, port) = node.split_once(':').expect("host:port");
        assert!(compose["services"][host].is_mapping(), "{host} is a compose service");
        assert_eq!(port, "9042", "the CQL port");
    }

    // The services that own state keep it on a volume.
    for owner in ["data", "storage"] {
        assert!(!compose::strings(&compose["services"][owner]["volumes"]).is_empty(), "{owner} has a volume");
    }
    for backing in ["scylla", "redis"] {
        assert!(compose["services"][backing]["healthcheck"].is_mapping(), "{backing} has a health check");
    }
}

#[test]
fn the_cluster_refuses_to_start_without_a_key() {
    let compose = compose::load();
    let error = compose::environment(&compose, "gateway", &BTreeMap::new()).unwrap_err();
    assert!(error.starts_with("NUBO_ACCESS_KEY_ID"), "{error}");
}

#[test]
fn the_image_carries_nubo_and_the_function_interpreters() {
    let dockerfile = std::fs::read_to_string(nubo_e2e::fixture("../../deploy/Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --locked --bin nubo"));
    assert!(dockerfile.contains("COPY --from=build /src/target/release/nubo /usr/local/bin/nubo"));
    assert!(dockerfile.contains("ENTRYPOINT [\"nubo\"]"));
    for interpreter in ["python3", "nodejs"] {
        assert!(dockerfile.contains(interpreter), "the image installs {interpreter}");
    }
}

#[test]
fn the_sample_configuration_is_the_default_one() {
    let sample = nubo_e2e::fixture("../../deploy/config/nubo.toml");
    let loaded = Config::load(Some(&sample), &BTreeMap::new()).expect("the sample loads");
    assert_eq!(format!("{loaded:?}"), format!("{:?}", Config::default()));
}
