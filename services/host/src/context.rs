//! The settings every service shares: where state lives, the AWS identity
//! the deployment presents, the keys it accepts and how to reach the other
//! services' gRPC APIs.

use std::{fmt, path::PathBuf, str::FromStr};

use nubo_proto::ClusterToken;

use crate::sigv4::{Credentials, Policy};

/// The seven services, in the order `nubo up` starts them: owners of state
/// first, so their clients find them listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    Data,
    Storage,
    Functions,
    Gateway,
    Auth,
    Cdn,
    Dns,
}

impl ServiceName {
    pub const ALL: [ServiceName; 7] = [
        ServiceName::Data,
        ServiceName::Storage,
        ServiceName::Functions,
        ServiceName::Gateway,
        ServiceName::Auth,
        ServiceName::Cdn,
        ServiceName::Dns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Data => "data",
            ServiceName::Storage => "storage",
            ServiceName::Functions => "functions",
            ServiceName::Gateway => "gateway",
            ServiceName::Auth => "auth",
            ServiceName::Cdn => "cdn",
            ServiceName::Dns => "dns",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ServiceName::ALL.into_iter().find(|service| service.as_str() == name.trim()).ok_or_else(|| {
            format!("unknown service `{name}`: expected one of gateway, functions, data, auth, storage, cdn, dns")
        })
    }
}

/// The gRPC address (`http://host:port`) of each service.
#[derive(Debug, Clone)]
pub struct Links {
    pub data: String,
    pub storage: String,
    pub functions: String,
    pub gateway: String,
    pub auth: String,
    pub cdn: String,
    pub dns: String,
}

impl Links {
    pub fn get(&self, service: ServiceName) -> &str {
        match service {
            ServiceName::Data => &self.data,
            ServiceName::Storage => &self.storage,
            ServiceName::Functions => &self.functions,
            ServiceName::Gateway => &self.gateway,
            ServiceName::Auth => &self.auth,
            ServiceName::Cdn => &self.cdn,
            ServiceName::Dns => &self.dns,
        }
    }
}

/// What every service of one deployment agrees on.
#[derive(Debug, Clone)]
pub struct Context {
    /// Root of the local state of this process (`./.nubo` under `nubo up`),
    /// always absolute: execution environments run in other directories.
    pub state_dir: PathBuf,
    /// The region ARNs and endpoints name.
    pub region: String,
    /// The account ARNs name.
    pub account_id: String,
    /// The access keys SigV4 requests are checked against, and the
    /// temporary keys STS issues.
    pub credentials: Credentials,
    /// The shared secret every internal gRPC call carries.
    pub cluster: ClusterToken,
    /// The key pair handed to functions so SDK calls made by a handler are
    /// accepted; the dev pair under `nubo up`, none unless configured.
    pub function_credentials: Option<(String, String)>,
    pub links: Links,
}

impl Context {
    /// `arn:aws:{service}:{region}:{account}:{resource}`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account_id)
    }

    /// The signing rules of a JSON or REST-JSON service of this region.
    pub fn policy(&self, signing_name: &'static str, max_skew_minutes: i64) -> Policy {
        Policy::hashed(signing_name, &self.region, max_skew_minutes)
    }

    /// A gRPC link to another service, carrying the cluster credential.
    pub fn link(&self, service: ServiceName) -> Result<nubo_proto::Link, crate::ServeError> {
        let url = self.links.get(service);
        crate::grpc::link(url, &self.cluster)
            .map_err(|error| crate::ServeError::new(service.as_str(), format!("bad link {url}: {error}")))
    }
}
