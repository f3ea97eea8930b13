//! Identity pools and identities as they are kept in data, and their ids.
//!
//! - `auth.identity-pools.v1` / identity pool id: the pool, its providers
//!   and roles;
//! - `auth.identities.v1` / identity id: an identity and the logins linked
//!   to it (an identity id alone names it, as the public calls carry only
//!   that);
//! - `auth.identity-index.v1/{identityPoolId}` / identity id: the pool's
//!   identities, for ListIdentities and for removing them with the pool;
//! - `auth.identity-logins.v1/{identityPoolId}` / `{provider}#{sub}`: the
//!   identity a login reaches, claimed by create-if-absent so one login
//!   never makes two identities;
//! - `auth.keys.v1` / `identity:{identityPoolId}`: the key ring the pool's
//!   OpenID tokens are signed with (see `openid`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::model::Timestamp;

pub const POOLS: &str = "auth.identity-pools.v1";
pub const IDENTITIES: &str = "auth.identities.v1";

pub fn index(pool_id: &str) -> String {
    format!("auth.identity-index.v1/{pool_id}")
}

pub fn logins(pool_id: &str) -> String {
    format!("auth.identity-logins.v1/{pool_id}")
}

/// The key of a login's record: the provider as Cognito names it and the
/// user's `sub`.
pub fn login_key(provider: &str, sub: &str) -> String {
    format!("{provider}#{sub}")
}

/// The id of the key ring that signs a pool's OpenID tokens.
pub fn ring_id(pool_id: &str) -> String {
    format!("{RING_PREFIX}{pool_id}")
}

pub const RING_PREFIX: &str = "identity:";

/// `us-east-1:0f2c…`: the region, a colon, a random UUID. Identity pool ids
/// and identity ids have the same form.
pub fn new_id(region: &str) -> String {
    format!("{region}:{}", uuid::Uuid::new_v4())
}

/// Cognito Identity's pattern for both ids, `[\w-]+:[0-9a-f-]+`, at most
/// 55 characters.
pub fn is_id(value: &str) -> bool {
    let Some((region, rest)) = value.split_once(':') else { return false };
    !region.is_empty()
        && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
        && value.len() <= 55
}

/// One user pool app client an identity pool trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// As given: `cognito-idp.{region}.amazonaws.com/{userPoolId}`, or
    /// nubo's issuer without its scheme (`localhost:9229/{userPoolId}`).
    pub name: String,
    pub client_id: Option<String>,
    pub server_side_token_check: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityPool {
    pub id: String,
    pub name: String,
    pub allow_unauthenticated: bool,
    pub allow_classic_flow: bool,
    pub providers: Vec<Provider>,
    /// What nubo keeps and echoes but does not verify logins of
    /// (`SupportedLoginProviders`, `DeveloperProviderName`,
    /// `OpenIdConnectProviderARNs`, `SamlProviderARNs`).
    pub supported_login_providers: BTreeMap<String, String>,
    pub developer_provider_name: Option<String>,
    pub open_id_connect_provider_arns: Vec<String>,
    pub saml_provider_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// `authenticated` / `unauthenticated` to a role ARN.
    pub roles: BTreeMap<String, String>,
    /// `{provider}:{clientId}` to its mapping, in Cognito's JSON shape
    /// (validated when set).
    pub role_mappings: Map<String, Value>,
    pub created: Timestamp,
}

impl IdentityPool {
    /// The pool as CreateIdentityPool, DescribeIdentityPool and
    /// UpdateIdentityPool answer it.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "IdentityPoolId": self.id,
            "IdentityPoolName": self.name,
            "AllowUnauthenticatedIdentities": self.allow_unauthenticated,
            "AllowClassicFlow": self.allow_classic_flow,
        });
        if !self.providers.is_empty() {
            body["CognitoIdentityProviders"] = self
                .providers
                .iter()
                .map(|provider| {
                    let mut entry = json!({
                        "ProviderName": provider.name,
                        "ServerSideTokenCheck": provider.server_side_token_check,
                    });
                    if let Some(client_id) = &provider.client_id {
                        entry["ClientId"] = json!(client_id);
                    }
                    entry
                })
                .collect();
        }
        if !self.supported_login_providers.is_empty() {
            body["SupportedLoginProviders"] = json!(self.supported_login_providers);
        }
        if let Some(name) = &self.developer_provider_name {
            body["DeveloperProviderName"] = json!(name);
        }
        if !self.open_id_connect_provider_arns.is_empty() {
            body["OpenIdConnectProviderARNs"] = json!(self.open_id_connect_provider_arns);
        }
        if !self.saml_provider_arns.is_empty() {
            body["SamlProviderARNs"] = json!(self.saml_provider_arns);
        }
        if !self.tags.is_empty() {
            body["IdentityPoolTags"] = json!(self.tags);
        }
        body
    }

    pub fn arn(&self, region: &str, account_id: &str) -> String {
        format!("arn:aws:cognito-identity:{region}:{account_id}:identitypool/{}", self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    pub pool_id: String,
    /// The logins linked: each provider, as Cognito names it
    /// (`cognito-idp.{region}.amazonaws.com/{userPoolId}`), to the user's
    /// `sub` there.
    pub logins: BTreeMap<String, String>,
    pub created: Timestamp,
    pub modified: Timestamp,
}

impl Identity {
    /// DescribeIdentity's answer, and an entry of ListIdentities.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "IdentityId": self.id,
            "CreationDate": self.created,
            "LastModifiedDate": self.modified,
        });
        if !self.logins.is_empty() {
            body["Logins"] = json!(self.logins.keys().collect::<Vec<_>>());
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_cognito_identitys_form() {
        let id = new_id("us-east-1");
        assert!(is_id(&id), "{id}");
        assert!(id.starts_with("us-east-1:"));
        assert_eq!(id.len(), "us-east-1:".len() + 36);
        assert!(is_id("eu-west-3:00000000-0000-0000-0000-000000000000"));
        assert!(!is_id("us-east-1_AbCdEf123"), "a user pool id is not one");
        assert!(!is_id("us-east-1:"));
        assert!(!is_id(":0000"));
        assert!(!is_id("us-east-1:ABCDEF"), "upper case is outside the pattern");
        assert!(!is_id("us-east-1:0000/../x"));
        assert!(!is_id(&format!("us-east-1:{}", "0".repeat(50))), "longer than 55");
    }

    #[test]
    fn a_pool_answers_in_cognitos_shape() {
        let pool = IdentityPool {
            id: "us-east-1:0000".into(),
            name: "app".into(),
            allow_unauthenticated: false,
            allow_classic_flow: false,
            providers: vec![Provider {
                name: "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc".into(),
                client_id: Some("client".into()),
                server_side_token_check: false,
            }],
            supported_login_providers: BTreeMap::new(),
            developer_provider_name: None,
            open_id_connect_provider_arns: Vec::new(),
            saml_provider_arns: Vec::new(),
            tags: BTreeMap::new(),
            roles: BTreeMap::new(),
            role_mappings: Map::new(),
            created: 0.0,
        };
        let body = pool.to_json();
        assert_eq!(body["CognitoIdentityProviders"][0]["ClientId"], "client");
        assert_eq!(body["AllowUnauthenticatedIdentities"], false);
        assert!(body.get("IdentityPoolTags").is_none());
        assert_eq!(
            pool.arn("us-east-1", "000000000000"),
            "arn:aws:cognito-identity:us-east-1:000000000000:identitypool/us-east-1:0000"
        );
    }
}
