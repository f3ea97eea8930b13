//! App clients, the pool's hosted UI domain, resource servers (custom
//! scopes) and identity providers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Input;
use crate::{
    Cognito,
    error::{CognitoError, Result},
    ids,
    model::{AppClient, ResourceServer, UserPool, now},
    store::{self, CLIENTS, DOMAINS, POOLS},
};

const AUTH_FLOWS: [&str; 9] = [
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
];
const OAUTH_FLOWS: [&str; 3] = ["code", "implicit", "client_credentials"];
const STANDARD_SCOPES: [&str; 5] = ["phone", "email", "openid", "profile", "aws.cognito.signin.user.admin"];

/// Members DescribeUserPoolClient echoes as sent.
const ECHOED: [&str; 3] = ["TokenValidityUnits", "AnalyticsConfiguration", "EnablePropagateAdditionalUserContextData"];

/// A token lifetime in seconds from its value and unit, within Cognito's
/// bounds for that token.
fn validity(
    value: Option<i64>,
    unit: Option<&str>,
    default_unit: &str,
    field: &str,
    bounds: (u64, u64),
) -> Result<Option<u64>> {
    let Some(value) = value else { return Ok(None) };
    let unit = unit.unwrap_or(default_unit);
    let scale = match unit {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        "days" => 86_400,
        _ => {
            return Err(CognitoError::validation(
                &format!("tokenValidityUnits.{field}"),
                "Member must satisfy enum value set: [hours, minutes, seconds, days]",
            ));
        }
    };
    let seconds = u64::try_from(value).unwrap_or(0).saturating_mul(scale);
    if seconds < bounds.0 || seconds > bounds.1 {
        let (low, high) = bounds;
        return Err(CognitoError::invalid_parameter(format!(
            "Invalid range for token validity: {field} must be between {} and {} minutes.",
            low / 60,
            high / 60
        )));
    }
    Ok(Some(seconds))
}

/// Callback and sign-out URLs: absolute, no fragment, HTTPS unless they
/// point at this machine, as Cognito requires.
fn check_urls(urls: &[String], field: &str) -> Result<()> {
    for value in urls {
        let parsed = url::Url::parse(value)
            .map_err(|_| CognitoError::invalid_parameter(format!("{value} is not a valid URL for {field}.")))?;
        let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
            || parsed.host_str().is_some_and(|host| host.ends_with(".localhost"));
        if parsed.fragment().is_some() || (parsed.scheme() == "http" && !local) {
            return Err(CognitoError::invalid_parameter(format!(
                "{value} is not a valid URL for {field}: HTTPS is required unless it is localhost, and fragments are not allowed."
            )));
        }
    }
    Ok(())
}

fn check_values(values: &[String], allowed: &[&str], field: &str) -> Result<()> {
    for value in values {
        if !allowed.contains(&value.as_str()) {
            return Err(CognitoError::invalid_parameter(format!(
                "1 validation error detected: Value '[{value}]' at '{field}' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainRecord {
    pub pool_id: String,
    pub domain: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub name: String,
    pub provider_type: String,
    pub details: BTreeMap<String, String>,
    pub attribute_mapping: BTreeMap<String, String>,
    pub identifiers: Vec<String>,
    pub created: f64,
    pub modified: f64,
}

impl Cognito {
    pub(crate) async fn client(&self, client_id: &str) -> Result<AppClient> {
        self.store
            .get::<AppClient>(CLIENTS, client_id)
            .await?
            .map(|client| client.value)
            .ok_or_else(|| CognitoError::no_client(client_id))
    }

    /// A client of `pool_id`; one of another pool is as absent.
    pub(crate) async fn client_of(&self, pool_id: &str, client_id: &str) -> Result<AppClient> {
        let client = self.client(client_id).await?;
        if client.pool_id != pool_id {
            return Err(CognitoError::no_client(client_id));
        }
        Ok(client)
    }

    /// The client's settings from a Create or Update request. Update, like
    /// Cognito's, resets every member it is not sent.
    async fn client_settings(&self, pool: &UserPool, input: &Input, client: &mut AppClient) -> Result<()> {
        let name = input.required_nonempty("ClientName")?;
        if name.len() > 128 {
            return Err(CognitoError::validation("clientName", "Member must have length less than or equal to 128"));
        }
        client.name = name.to_owned();
        let units = input.object("TokenValidityUnits")?.unwrap_or_default();
        client.access_token_seconds = validity(
            input.i64("AccessTokenValidity")?,
            units.str("AccessToken")?,
            "hours",
            "AccessToken",
            (300, 86_400),
        )?
        .unwrap_or(3600);
        client.id_token_seconds =
            validity(input.i64("IdTokenValidity")?, units.str("IdToken")?, "hours", "IdToken", (300, 86_400))?
                .unwrap_or(3600);
        client.refresh_token_seconds = validity(
            input.i64("RefreshTokenValidity")?,
            units.str("RefreshToken")?,
            "days",
            "RefreshToken",
            (3600, 3650 * 86_400),
        )?
        .unwrap_or(30 * 86_400);
        client.auth_session_minutes = match input.i64("AuthSessionValidity")? {
            None => 3,
            Some(minutes @ 3..=15) => minutes as u32,
            Some(_) => {
                return Err(CognitoError::validation("authSessionValidity", "Member must have value between 3 and 15"));
            }
        };
        let flows = input.strings("ExplicitAuthFlows")?.unwrap_or_default();
        check_values(&flows, &AUTH_FLOWS, "explicitAuthFlows")?;
        client.explicit_auth_flows = flows;
        client.callback_urls = input.strings("CallbackURLs")?.unwrap_or_default();
        check_urls(&client.callback_urls, "CallbackURLs")?;
        client.logout_urls = input.strings("LogoutURLs")?.unwrap_or_default();
        check_urls(&client.logout_urls, "LogoutURLs")?;
        client.default_redirect_uri = input.str("DefaultRedirectURI")?.map(str::to_owned);
        if let Some(default) = &client.default_redirect_uri
            && !client.callback_urls.contains(default)
        {
            return Err(CognitoError::invalid_parameter("DefaultRedirectURI must be in the list of CallbackURLs."));
        }
        client.oauth_flows = input.strings("AllowedOAuthFlows")?.unwrap_or_default();
        check_values(&client.oauth_flows, &OAUTH_FLOWS, "allowedOAuthFlows")?;
        client.oauth_scopes = input.strings("AllowedOAuthScopes")?.unwrap_or_default();
        client.oauth_enabled = input.bool("AllowedOAuthFlowsUserPoolClient")?.unwrap_or(false);
        client.identity_providers = input.strings("SupportedIdentityProviders")?.unwrap_or_default();
        client.prevent_user_existence_errors = match input.str("PreventUserExistenceErrors")? {
            None | Some("LEGACY") => false,
            Some("ENABLED") => true,
            Some(_) => {
                return Err(CognitoError::validation(
                    "preventUserExistenceErrors",
                    "Member must satisfy enum value set: [LEGACY, ENABLED]",
                ));
            }
        };
        client.enable_token_revocation = input.bool("EnableTokenRevocation")?.unwrap_or(true);
        let rotation = input.object("RefreshTokenRotation")?.unwrap_or_default();
        client.refresh_token_rotation = rotation.str("Feature")? == Some("ENABLED");
        client.rotation_grace_seconds = match rotation.i64("RetryGracePeriodSeconds")? {
            None => 0,
            Some(seconds @ 0..=60) => seconds as u32,
            Some(_) => {
                return Err(CognitoError::validation(
                    "refreshTokenRotation.retryGracePeriodSeconds",
                    "Member must have value less than or equal to 60",
                ));
            }
        };
        client.read_attributes = input.strings("ReadAttributes")?.unwrap_or_default();
        client.write_attributes = input.strings("WriteAttributes")?.unwrap_or_default();
        client.settings = ECHOED.iter().filter_map(|n| input.get(n).map(|v| ((*n).to_owned(), v.clone()))).collect();
        for field in ["AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity"] {
            if let Some(value) = input.get(field) {
                client.settings.insert(field.into(), value.clone());
            }
        }

        if client.oauth_enabled {
            if client.oauth_flows.is_empty() {
                return Err(CognitoError::invalid_parameter(
                    "AllowedOAuthFlows are required when AllowedOAuthFlowsUserPoolClient is true.",
                ));
            }
            if client.oauth_flows.iter().any(|f| f == "code" || f == "implicit") && client.callback_urls.is_empty() {
                return Err(CognitoError::invalid_parameter(
                    "CallbackURLs can not be empty for code or implicit flows.",
                ));
            }
        }
        if client.oauth_flows.iter().any(|f| f == "client_credentials") {
            if client.secret.is_none() {
                return Err(CognitoError::invalid_parameter(
                    "client_credentials flow can not be selected if client does not have a client secret.",
                ));
            }
            if client.oauth_flows.len() > 1 {
                return Err(CognitoError::invalid_parameter(
                    "client_credentials flow can not be selected along with code flow or implicit flow.",
                ));
            }
        }
        let custom_scopes = self.custom_scopes(&pool.id).await?;
        for scope in &client.oauth_scopes {
            if !STANDARD_SCOPES.contains(&scope.as_str()) && !custom_scopes.contains(scope) {
                return Err(CognitoError::scope_does_not_exist(format!("Invalid scope requested: {scope}")));
            }
            if client.oauth_flows.iter().any(|f| f == "client_credentials") && STANDARD_SCOPES.contains(&scope.as_str())
            {
                return Err(CognitoError::invalid_parameter(
                    "client_credentials flow can only be used with custom scopes.",
                ));
            }
        }
        for provider in &client.identity_providers {
            if provider != "COGNITO" && self.store.get::<Value>(&store::providers(&pool.id), provider).await?.is_none()
            {
                return Err(CognitoError::invalid_parameter(format!(
                    "The provider {provider} does not exist for User Pool {}",
                    pool.id
                )));
            }
        }
        Ok(())
    }

    /// Every `{identifier}/{scope}` of the pool's resource servers.
    pub(crate) async fn custom_scopes(&self, pool_id: &str) -> Result<Vec<String>> {
        let servers = self.store.all::<ResourceServer>(&store::resource_servers(pool_id), "").await?;
        Ok(servers
            .iter()
            .flat_map(|(_, server)| server.scopes.keys().map(move |scope| format!("{}/{scope}", server.identifier)))
            .collect())
    }

    pub(crate) fn client_json(&self, client: &AppClient) -> Value {
        let mut body = json!({
            "UserPoolId": client.pool_id,
            "ClientName": client.name,
            "ClientId": client.id,
            "LastModifiedDate": client.modified,
            "CreationDate": client.created,
            "RefreshTokenValidity": 30,
            "AllowedOAuthFlowsUserPoolClient": client.oauth_enabled,
            "PreventUserExistenceErrors": if client.prevent_user_existence_errors { "ENABLED" } else { "LEGACY" },
            "EnableTokenRevocation": client.enable_token_revocation,
            "EnablePropagateAdditionalUserContextData": false,
            "AuthSessionValidity": client.auth_session_minutes,
            "RefreshTokenRotation": {
                "Feature": if client.refresh_token_rotation { "ENABLED" } else { "DISABLED" },
                "RetryGracePeriodSeconds": client.rotation_grace_seconds,
            },
        });
        let object = body.as_object_mut().expect("a JSON object");
        if let Some(secret) = &client.secret {
            object.insert("ClientSecret".into(), json!(secret));
        }
        for (name, value) in &client.settings {
            object.insert(name.clone(), value.clone());
        }
        for (field, values) in [
            ("ExplicitAuthFlows", &client.explicit_auth_flows),
            ("CallbackURLs", &client.callback_urls),
            ("LogoutURLs", &client.logout_urls),
            ("AllowedOAuthFlows", &client.oauth_flows),
            ("AllowedOAuthScopes", &client.oauth_scopes),
            ("SupportedIdentityProviders", &client.identity_providers),
            ("ReadAttributes", &client.read_attributes),
            ("WriteAttributes", &client.write_attributes),
        ] {
            if !values.is_empty() {
                object.insert(field.into(), json!(values));
            }
        }
        if let Some(default) = &client.default_redirect_uri {
            object.insert("DefaultRedirectURI".into(), json!(default));
        }
        body
    }

    pub(crate) async fn create_user_pool_client(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let created = now();
        let mut client = AppClient {
            id: ids::client_id(),
            pool_id: pool.id.clone(),
            name: String::new(),
            secret: input.bool("GenerateSecret")?.unwrap_or(false).then(ids::client_secret),
            created,
            modified: created,
            explicit_auth_flows: Vec::new(),
            access_token_seconds: 3600,
            id_token_seconds: 3600,
            refresh_token_seconds: 30 * 86_400,
            auth_session_minutes: 3,
            callback_urls: Vec::new(),
            logout_urls: Vec::new(),
            default_redirect_uri: None,
            oauth_flows: Vec::new(),
            oauth_scopes: Vec::new(),
            oauth_enabled: false,
            identity_providers: Vec::new(),
            prevent_user_existence_errors: false,
            enable_token_revocation: true,
            refresh_token_rotation: false,
            rotation_grace_seconds: 0,
            read_attributes: Vec::new(),
            write_attributes: Vec::new(),
            settings: Map::new(),
        };
        self.client_settings(&pool, input, &mut client).await?;
        if !self.store.create(CLIENTS, &client.id, &client).await? {
            return Err(CognitoError::internal("a new client id was taken; try again"));
        }
        Ok(json!({ "UserPoolClient": self.client_json(&client) }))
    }

    pub(crate) async fn describe_user_pool_client(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let client = self.client_of(&pool.id, input.required("ClientId")?).await?;
        Ok(json!({ "UserPoolClient": self.client_json(&client) }))
    }

    pub(crate) async fn update_user_pool_client(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let current = self.client_of(&pool.id, input.required("ClientId")?).await?;
        let mut updated = current.clone();
        // ClientName may be left out of an update: the name stays.
        let mut input = input.clone();
        input.0.entry("ClientName").or_insert_with(|| json!(current.name));
        self.client_settings(&pool, &input, &mut updated).await?;
        updated.modified = now();
        let stored = self
            .store
            .update::<AppClient, _>(CLIENTS, &current.id, |client| {
                let (secret, created) = (client.secret.clone(), client.created);
                *client = updated.clone();
                client.secret = secret;
                client.created = created;
                Ok(())
            })
            .await?
            .ok_or_else(|| CognitoError::no_client(&current.id))?;
        Ok(json!({ "UserPoolClient": self.client_json(&stored) }))
    }

    pub(crate) async fn list_user_pool_clients(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let limit = input.limit("MaxResults", 60, 60)? as usize;
        let after = input.str("NextToken")?.unwrap_or("");
        let mut clients: Vec<AppClient> = self
            .store
            .all::<AppClient>(CLIENTS, "")
            .await?
            .into_iter()
            .map(|(_, client)| client)
            .filter(|client| client.pool_id == pool.id && client.id.as_str() > after)
            .collect();
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        let more = clients.len() > limit;
        clients.truncate(limit);
        let listed: Vec<Value> = clients
            .iter()
            .map(|client| json!({ "ClientId": client.id, "UserPoolId": client.pool_id, "ClientName": client.name }))
            .collect();
        let mut body = json!({ "UserPoolClients": listed });
        if more && let Some(last) = clients.last() {
            body["NextToken"] = json!(last.id);
        }
        Ok(body)
    }

    pub(crate) async fn delete_user_pool_client(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let client = self.client_of(&pool.id, input.required("ClientId")?).await?;
        self.store.delete(CLIENTS, &client.id).await?;
        Ok(json!({}))
    }

    pub(crate) async fn create_user_pool_domain(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let domain = input.required_nonempty("Domain")?.to_owned();
        let valid = domain.len() <= 63
            && domain.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !domain.starts_with('-')
            && !domain.ends_with('-');
        if !valid {
            return Err(CognitoError::validation(
                "domain",
                "Member must satisfy regular expression pattern: ^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$",
            ));
        }
        if ["aws", "amazon", "cognito"].iter().any(|reserved| domain.contains(reserved)) {
            return Err(CognitoError::invalid_parameter(format!(
                "Domain {domain} is reserved: it may not contain aws, amazon, or cognito."
            )));
        }
        if pool.domain.is_some() {
            return Err(CognitoError::invalid_parameter(format!(
                "User pool {} already has a domain configured.",
                pool.id
            )));
        }
        let version = input.i64("ManagedLoginVersion")?.unwrap_or(1);
        let record = DomainRecord { pool_id: pool.id.clone(), domain: domain.clone(), version };
        if !self.store.create(DOMAINS, &domain, &record).await? {
            return Err(CognitoError::invalid_parameter("Domain already associated with another user pool."));
        }
        self.store
            .update::<UserPool, _>(POOLS, &pool.id, |pool| {
                pool.domain = Some(domain.clone());
                Ok(())
            })
            .await?;
        Ok(json!({ "ManagedLoginVersion": version }))
    }

    pub(crate) async fn describe_user_pool_domain(&self, input: &Input) -> Result<Value> {
        let domain = input.required_nonempty("Domain")?;
        let Some(record) = self.store.get::<DomainRecord>(DOMAINS, domain).await? else {
            return Ok(json!({ "DomainDescription": {} }));
        };
        let record = record.value;
        Ok(json!({ "DomainDescription": {
            "UserPoolId": record.pool_id,
            "AWSAccountId": self.account_id,
            "Domain": record.domain,
            "S3Bucket": "",
            "CloudFrontDistribution": "",
            "Version": "20130630",
            "Status": "ACTIVE",
            "ManagedLoginVersion": record.version,
        }}))
    }

    pub(crate) async fn update_user_pool_domain(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let domain = input.required_nonempty("Domain")?.to_owned();
        let version = input.i64("ManagedLoginVersion")?;
        let updated = self
            .store
            .update::<DomainRecord, _>(DOMAINS, &domain, |record| {
                if record.pool_id != pool.id {
                    return Err(CognitoError::not_found(format!("Domain {domain} does not exist.")));
                }
                if let Some(version) = version {
                    record.version = version;
                }
                Ok(())
            })
            .await?
            .ok_or_else(|| CognitoError::not_found(format!("Domain {domain} does not exist.")))?;
        Ok(json!({ "ManagedLoginVersion": updated.version }))
    }

    pub(crate) async fn delete_user_pool_domain(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let domain = input.required_nonempty("Domain")?;
        match self.store.get::<DomainRecord>(DOMAINS, domain).await? {
            Some(record) if record.value.pool_id == pool.id => {
                self.store.delete(DOMAINS, domain).await?;
            }
            _ => return Err(CognitoError::invalid_parameter("No such domain or user pool exists.")),
        }
        self.store
            .update::<UserPool, _>(POOLS, &pool.id, |pool| {
                pool.domain = None;
                Ok(())
            })
            .await?;
        Ok(json!({}))
    }

    fn resource_server_json(server: &ResourceServer, pool_id: &str) -> Value {
        let scopes: Vec<Value> = server
            .scopes
            .iter()
            .map(|(name, description)| json!({ "ScopeName": name, "ScopeDescription": description }))
            .collect();
        json!({ "UserPoolId": pool_id, "Identifier": server.identifier, "Name": server.name, "Scopes": scopes })
    }

    fn resource_server_from(input: &Input) -> Result<ResourceServer> {
        let identifier = input.required_nonempty("Identifier")?.to_owned();
        let name = input.required_nonempty("Name")?.to_owned();
        let mut scopes = BTreeMap::new();
        for scope in input.objects("Scopes")? {
            let scope_name = scope.required_nonempty("ScopeName")?;
            if !scope_name.chars().all(|c| c.is_ascii_graphic() && c != '\\' && c != '"') {
                return Err(CognitoError::validation(
                    "scopes.member.scopeName",
                    "Member must satisfy regular expression pattern: [\\x21\\x23-\\x2E\\x30-\\x5B\\x5D-\\x7E]+",
                ));
            }
            scopes.insert(scope_name.to_owned(), scope.required("ScopeDescription")?.to_owned());
        }
        Ok(ResourceServer { identifier, name, scopes })
    }

    pub(crate) async fn create_resource_server(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let server = Self::resource_server_from(input)?;
        if !self.store.create(&store::resource_servers(&pool.id), &server.identifier, &server).await? {
            return Err(CognitoError::invalid_parameter(format!(
                "{} already exists in user pool {}.",
                server.identifier, pool.id
            )));
        }
        Ok(json!({ "ResourceServer": Self::resource_server_json(&server, &pool.id) }))
    }

    async fn resource_server(&self, pool_id: &str, identifier: &str) -> Result<ResourceServer> {
        self.store
            .get::<ResourceServer>(&store::resource_servers(pool_id), identifier)
            .await?
            .map(|server| server.value)
            .ok_or_else(|| CognitoError::not_found(format!("Resource server {identifier} does not exist.")))
    }

    pub(crate) async fn describe_resource_server(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let server = self.resource_server(&pool.id, input.required("Identifier")?).await?;
        Ok(json!({ "ResourceServer": Self::resource_server_json(&server, &pool.id) }))
    }

    pub(crate) async fn list_resource_servers(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let limit = input.limit("MaxResults", 50, 50)?;
        let after = input.str("NextToken")?.unwrap_or("");
        let (servers, next) =
            self.store.page::<ResourceServer>(&store::resource_servers(&pool.id), after, limit).await?;
        let listed: Vec<Value> = servers.iter().map(|(_, s)| Self::resource_server_json(s, &pool.id)).collect();
        let mut body = json!({ "ResourceServers": listed });
        if let Some(next) = next.filter(|_| servers.len() as u32 == limit) {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }

    pub(crate) async fn update_resource_server(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let server = Self::resource_server_from(input)?;
        self.resource_server(&pool.id, &server.identifier).await?;
        self.store.put(&store::resource_servers(&pool.id), &server.identifier, &server).await?;
        Ok(json!({ "ResourceServer": Self::resource_server_json(&server, &pool.id) }))
    }

    pub(crate) async fn delete_resource_server(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let server = self.resource_server(&pool.id, input.required("Identifier")?).await?;
        self.store.delete(&store::resource_servers(&pool.id), &server.identifier).await?;
        Ok(json!({}))
    }

    fn provider_json(provider: &IdentityProvider, pool_id: &str) -> Value {
        json!({
            "UserPoolId": pool_id,
            "ProviderName": provider.name,
            "ProviderType": provider.provider_type,
            "ProviderDetails": provider.details,
            "AttributeMapping": provider.attribute_mapping,
            "IdpIdentifiers": provider.identifiers,
            "LastModifiedDate": provider.modified,
            "CreationDate": provider.created,
        })
    }

    pub(crate) async fn identity_provider(&self, pool_id: &str, name: &str) -> Result<IdentityProvider> {
        self.store
            .get::<IdentityProvider>(&store::providers(pool_id), name)
            .await?
            .map(|provider| provider.value)
            .ok_or_else(|| CognitoError::not_found(format!("Identity provider {name} does not exist.")))
    }

    pub(crate) async fn create_identity_provider(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let name = input.required_nonempty("ProviderName")?.to_owned();
        let provider_type = input.required("ProviderType")?.to_owned();
        if !["SAML", "Facebook", "Google", "LoginWithAmazon", "SignInWithApple", "OIDC"]
            .contains(&provider_type.as_str())
        {
            return Err(CognitoError::validation(
                "providerType",
                "Member must satisfy enum value set: [SAML, Facebook, Google, LoginWithAmazon, SignInWithApple, OIDC]",
            ));
        }
        let mut details = input.string_map("ProviderDetails")?;
        if provider_type == "OIDC" {
            for required in ["client_id", "authorize_scopes", "oidc_issuer"] {
                if !details.contains_key(required) {
                    return Err(CognitoError::invalid_parameter(format!("{required} is required for OIDC providers.")));
                }
            }
            details.entry("attributes_request_method".into()).or_insert_with(|| "GET".into());
        }
        let created = now();
        let provider = IdentityProvider {
            name: name.clone(),
            provider_type,
            details,
            attribute_mapping: input.string_map("AttributeMapping")?,
            identifiers: input.strings("IdpIdentifiers")?.unwrap_or_default(),
            created,
            modified: created,
        };
        if !self.store.create(&store::providers(&pool.id), &name, &provider).await? {
            return Err(CognitoError::duplicate_provider("A provider with the specified name already exists."));
        }
        Ok(json!({ "IdentityProvider": Self::provider_json(&provider, &pool.id) }))
    }

    pub(crate) async fn describe_identity_provider(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let provider = self.identity_provider(&pool.id, input.required("ProviderName")?).await?;
        Ok(json!({ "IdentityProvider": Self::provider_json(&provider, &pool.id) }))
    }

    pub(crate) async fn list_identity_providers(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let limit = input.limit("MaxResults", 60, 60)?;
        let after = input.str("NextToken")?.unwrap_or("");
        let (providers, next) = self.store.page::<IdentityProvider>(&store::providers(&pool.id), after, limit).await?;
        let listed: Vec<Value> = providers
            .iter()
            .map(|(_, p)| {
                json!({ "ProviderName": p.name, "ProviderType": p.provider_type, "LastModifiedDate": p.modified, "CreationDate": p.created })
            })
            .collect();
        let mut body = json!({ "Providers": listed });
        if let Some(next) = next.filter(|_| providers.len() as u32 == limit) {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }

    pub(crate) async fn update_identity_provider(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let name = input.required("ProviderName")?.to_owned();
        let details = input.get("ProviderDetails").map(|_| input.string_map("ProviderDetails")).transpose()?;
        let mapping = input.get("AttributeMapping").map(|_| input.string_map("AttributeMapping")).transpose()?;
        let identifiers = input.strings("IdpIdentifiers")?;
        let provider = self
            .store
            .update::<IdentityProvider, _>(&store::providers(&pool.id), &name, |provider| {
                if let Some(details) = &details {
                    provider.details.extend(details.clone());
                }
                if let Some(mapping) = &mapping {
                    provider.attribute_mapping = mapping.clone();
                }
                if let Some(identifiers) = &identifiers {
                    provider.identifiers = identifiers.clone();
                }
                provider.modified = now();
                Ok(())
            })
            .await?
            .ok_or_else(|| CognitoError::not_found(format!("Identity provider {name} does not exist.")))?;
        Ok(json!({ "IdentityProvider": Self::provider_json(&provider, &pool.id) }))
    }

    pub(crate) async fn delete_identity_provider(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let provider = self.identity_provider(&pool.id, input.required("ProviderName")?).await?;
        self.store.delete(&store::providers(&pool.id), &provider.name).await?;
        Ok(json!({}))
    }
}
