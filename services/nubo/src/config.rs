//! The whole configuration of a nubo process: deployment-wide settings and
//! one section per service. Loaded from an optional TOML file plus `NUBO_*`
//! variables (see `nubo_host::config`); `deploy/config/` has samples.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    path::{Path, PathBuf},
};

use nubo_host::{Context, Links, ServiceName, config::ConfigError, sigv4};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Local state of this process; `nubo up` keeps everything here.
    pub state_dir: PathBuf,
    /// The address every listener binds (`0.0.0.0` in containers).
    pub bind_host: IpAddr,
    pub region: String,
    pub account_id: String,
    pub credentials: CredentialsConfig,
    /// The internal plane's shared secret.
    pub cluster: ClusterConfig,
    /// gRPC URLs of the other services; default to loopback on their ports.
    pub links: LinksConfig,
    pub gateway: nubo_gateway::Config,
    pub functions: nubo_functions::Config,
    pub data: nubo_data::Config,
    pub auth: nubo_auth::Config,
    pub storage: nubo_storage::Config,
    pub cdn: nubo_cdn::Config,
    pub dns: nubo_dns::Config,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from(".nubo"),
            bind_host: IpAddr::from([127, 0, 0, 1]),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            credentials: CredentialsConfig::default(),
            cluster: ClusterConfig::default(),
            links: LinksConfig::default(),
            gateway: Default::default(),
            functions: Default::default(),
            data: Default::default(),
            auth: Default::default(),
            storage: Default::default(),
            cdn: Default::default(),
            dns: Default::default(),
        }
    }
}

/// The access key SigV4 requests must be signed with.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsConfig {
    pub access_key_id: Option<String>,
    /// Best given as `NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE`.
    pub secret_access_key: Option<String>,
    /// Accept the development pair `test`/`test`. `nubo up` does unless
    /// this says `false`; `nubo serve` only if it says `true`.
    pub allow_dev_keys: Option<bool>,
    /// Further principals (`[[credentials.users]]`), each the owner of what
    /// it creates.
    pub users: Vec<UserConfig>,
}

/// One `[[credentials.users]]` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The cluster credential every internal gRPC call carries.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The shared secret (at least 16 printable characters), best given as
    /// `NUBO_CLUSTER__TOKEN_FILE`. `nubo up` makes one for its own process
    /// when none is set; `nubo serve` refuses to start without it.
    pub token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksConfig {
    pub data: Option<String>,
    pub storage: Option<String>,
    pub functions: Option<String>,
    pub gateway: Option<String>,
    pub auth: Option<String>,
    pub cdn: Option<String>,
    pub dns: Option<String>,
}

/// How a process was started, which decides a few defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `nubo up`: every service, development defaults.
    Up,
    /// `nubo serve`: chosen services, nothing implicit.
    Serve,
}

impl Config {
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        nubo_host::config::load(file, env)
    }

    /// Every listener on port 0 of loopback, state under `state_dir`, the
    /// development keys accepted: for tests that run services in-process.
    pub fn for_test(state_dir: &Path) -> Self {
        let mut config = Self { state_dir: state_dir.to_owned(), ..Self::default() };
        config.credentials.allow_dev_keys = Some(true);
        config.gateway.http_port = 0;
        config.gateway.edge_port = 0;
        config.gateway.grpc_port = 0;
        config.functions.http_port = 0;
        config.functions.grpc_port = 0;
        config.data.http_port = 0;
        config.data.grpc_port = 0;
        config.auth.http_port = 0;
        config.auth.grpc_port = 0;
        config.storage.http_port = 0;
        config.storage.grpc_port = 0;
        config.storage.https_port = 0;
        config.storage.website_port = 0;
        config.cdn.http_port = 0;
        config.cdn.grpc_port = 0;
        config.cdn.https_port = 0;
        config.dns.http_port = 0;
        config.dns.grpc_port = 0;
        config.dns.dns_port = 0;
        config
    }

    /// Points the link to `service` at `url` (`nubo up` links by bound
    /// address).
    pub fn set_link(&mut self, service: ServiceName, url: String) {
        let link = match service {
            ServiceName::Data => &mut self.links.data,
            ServiceName::Storage => &mut self.links.storage,
            ServiceName::Functions => &mut self.links.functions,
            ServiceName::Gateway => &mut self.links.gateway,
            ServiceName::Auth => &mut self.links.auth,
            ServiceName::Cdn => &mut self.links.cdn,
            ServiceName::Dns => &mut self.links.dns,
        };
        *link = Some(url);
    }

    pub fn grpc_port(&self, service: ServiceName) -> u16 {
        match service {
            ServiceName::Data => self.data.grpc_port,
            ServiceName::Storage => self.storage.grpc_port,
            ServiceName::Functions => self.functions.grpc_port,
            ServiceName::Gateway => self.gateway.grpc_port,
            ServiceName::Auth => self.auth.grpc_port,
            ServiceName::Cdn => self.cdn.grpc_port,
            ServiceName::Dns => self.dns.grpc_port,
        }
    }

    pub fn http_port(&self, service: ServiceName) -> u16 {
        match service {
            ServiceName::Data => self.data.http_port,
            ServiceName::Storage => self.storage.http_port,
            ServiceName::Functions => self.functions.http_port,
            ServiceName::Gateway => self.gateway.http_port,
            ServiceName::Auth => self.auth.http_port,
            ServiceName::Cdn => self.cdn.http_port,
            ServiceName::Dns => self.dns.http_port,
        }
    }

    /// The configured gRPC URL of a service, or loopback on its port.
    pub fn link(&self, service: ServiceName) -> String {
        let configured = match service {
            ServiceName::Data => &self.links.data,
            ServiceName::Storage => &self.links.storage,
            ServiceName::Functions => &self.links.functions,
            ServiceName::Gateway => &self.links.gateway,
            ServiceName::Auth => &self.links.auth,
            ServiceName::Cdn => &self.links.cdn,
            ServiceName::Dns => &self.links.dns,
        };
        configured.clone().unwrap_or_else(|| format!("http://127.0.0.1:{}", self.grpc_port(service)))
    }

    /// The cluster credential: the configured one, or under `nubo up` a
    /// fresh one that lives only in this process's memory.
    pub fn cluster_token(&self, mode: Mode) -> Result<nubo_proto::ClusterToken, ConfigError> {
        match (&self.cluster.token, mode) {
            (Some(token), _) => nubo_proto::ClusterToken::new(token)
                .map_err(|error| ConfigError::Invalid(format!("cluster.token: {error}"))),
            (None, Mode::Up) => {
                let secret: String = rand::distr::SampleString::sample_string(&rand::distr::Alphanumeric, &mut rand::rng(), 43);
                nubo_proto::ClusterToken::new(&secret).map_err(|error| ConfigError::Invalid(error.to_string()))
            }
            (None, Mode::Serve) => Err(ConfigError::Invalid(
                "no cluster credential is configured: set NUBO_CLUSTER__TOKEN_FILE to a file holding the secret every service of this cluster shares (at least 16 characters)".into(),
            )),
        }
    }

    /// Whether the development key pair is accepted.
    pub fn dev_keys(&self, mode: Mode) -> bool {
        self.credentials.allow_dev_keys.unwrap_or(mode == Mode::Up)
    }

    /// The settings every service shares, checked: a process that checks
    /// signatures must have a key to check them against.
    pub fn context(&self, mode: Mode) -> Result<Context, ConfigError> {
        let cluster = self.cluster_token(mode)?;
        let mut credentials =
            sigv4::Credentials::new(self.account_id.clone()).with_sessions(sigv4::Sessions::new(cluster.secret()));
        match (&self.credentials.access_key_id, &self.credentials.secret_access_key) {
            (Some(key), Some(secret)) => credentials = credentials.with_root_key(key.clone(), secret.clone()),
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid("credentials need both access_key_id and secret_access_key".into()));
            }
        }
        let dev = self.dev_keys(mode);
        if dev {
            credentials = credentials.with_root_key(sigv4::DEV_ACCESS_KEY_ID, sigv4::DEV_SECRET_ACCESS_KEY);
        }
        for user in &self.credentials.users {
            if user.name.is_empty() || user.access_key_id.is_empty() || user.secret_access_key.is_empty() {
                return Err(ConfigError::Invalid(
                    "every [[credentials.users]] entry needs a name, an access_key_id and a secret_access_key".into(),
                ));
            }
            if credentials.secret_for(&user.access_key_id).is_some() {
                return Err(ConfigError::Invalid(format!(
                    "the access key id {} is configured twice",
                    user.access_key_id
                )));
            }
            credentials = credentials.with_user(&user.name, user.access_key_id.clone(), user.secret_access_key.clone());
        }
        if credentials.is_empty() {
            return Err(ConfigError::Invalid(
                "no access key is configured: set NUBO_CREDENTIALS__ACCESS_KEY_ID and NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE (or NUBO_CREDENTIALS__ALLOW_DEV_KEYS=true for a development cluster)".into(),
            ));
        }
        // Resolved once: execution environments and child processes run in
        // other working directories.
        let state_dir = std::path::absolute(&self.state_dir).map_err(|error| {
            ConfigError::Invalid(format!("cannot resolve the state directory {}: {error}", self.state_dir.display()))
        })?;
        Ok(Context {
            state_dir,
            cluster,
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            credentials,
            function_credentials: dev
                .then(|| (sigv4::DEV_ACCESS_KEY_ID.to_owned(), sigv4::DEV_SECRET_ACCESS_KEY.to_owned())),
            links: Links {
                data: self.link(ServiceName::Data),
                storage: self.link(ServiceName::Storage),
                functions: self.link(ServiceName::Functions),
                gateway: self.link(ServiceName::Gateway),
                auth: self.link(ServiceName::Auth),
                cdn: self.link(ServiceName::Cdn),
                dns: self.link(ServiceName::Dns),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_refuses_to_run_without_keys_and_up_uses_the_dev_pair() {
        let mut config = Config::default();
        config.cluster.token = Some("a-cluster-token-for-tests".into());
        assert!(config.context(Mode::Serve).is_err());
        let context = config.context(Mode::Up).unwrap();
        assert_eq!(context.credentials.secret_for("test"), Some("test"));
        assert_eq!(context.links.data, "http://127.0.0.1:50053");
        assert!(context.state_dir.is_absolute(), "{}", context.state_dir.display());
    }

    #[test]
    fn serve_refuses_to_run_without_a_cluster_credential_and_up_makes_one() {
        let mut config = Config::default();
        config.credentials.access_key_id = Some("AKID".into());
        config.credentials.secret_access_key = Some("secret".into());
        let error = config.context(Mode::Serve).unwrap_err();
        assert!(error.to_string().contains("NUBO_CLUSTER__TOKEN_FILE"), "{error}");
        let first = config.context(Mode::Up).unwrap().cluster;
        let second = config.context(Mode::Up).unwrap().cluster;
        assert_ne!(first.secret(), second.secret());
        config.cluster.token = Some("short".into());
        assert!(config.context(Mode::Up).is_err());
    }

    #[test]
    fn configured_users_are_principals_of_their_own() {
        let file =
            "[[credentials.users]]\nname = \"alice\"\naccess_key_id = \"AKIDALICE\"\nsecret_access_key = \"s\"\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nubo.toml");
        std::fs::write(&path, file).unwrap();
        let config = Config::load(Some(&path), &BTreeMap::new()).unwrap();
        let context = config.context(Mode::Up).unwrap();
        assert_eq!(context.credentials.secret_for("AKIDALICE"), Some("s"));
    }

    #[test]
    fn the_environment_configures_every_section() {
        let env: BTreeMap<String, String> = [
            ("NUBO_GATEWAY__HTTP_PORT", "18080"),
            ("NUBO_LINKS__DATA", "http://data:50053"),
            ("NUBO_CREDENTIALS__ACCESS_KEY_ID", "AKID"),
            ("NUBO_CREDENTIALS__SECRET_ACCESS_KEY", "secret"),
            ("NUBO_CLUSTER__TOKEN", "a-cluster-token-for-tests"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = Config::load(None, &env).unwrap();
        assert_eq!(config.gateway.http_port, 18080);
        let context = config.context(Mode::Serve).unwrap();
        assert_eq!(context.links.data, "http://data:50053");
        assert_eq!(context.credentials.secret_for("AKID"), Some("secret"));
        assert_eq!(context.credentials.secret_for("test"), None);
    }
}
