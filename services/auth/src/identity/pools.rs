//! Identity pools: create, describe, list, update, delete, and the roles
//! their identities' credentials are for. Every call here is signed.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    logins::Named,
    model::{self, IdentityPool, Provider},
};
use crate::{
    Cognito,
    api::Input,
    error::{CognitoError, Result},
    model::now,
    store::KEYS,
};

pub fn no_pool(pool_id: &str) -> CognitoError {
    CognitoError::not_found(format!("IdentityPool '{pool_id}' not found."))
}

/// `[\w\s+=,.@-]+`, 1 to 128 characters.
fn check_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c);
    if name.is_empty() || name.chars().count() > 128 || !name.chars().all(allowed) {
        return Err(CognitoError::validation(
            "identityPoolName",
            "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
        ));
    }
    Ok(())
}

/// An IAM role ARN: `arn:aws:iam::{12 digits}:role/{path/}{name}`.
pub fn role_name(arn: &str) -> Option<(&str, &str)> {
    let (account, path) = arn.strip_prefix("arn:aws:iam::")?.split_once(":role/")?;
    let name = path.rsplit('/').next()?;
    let name_ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_alphanumeric() || "+=,.@_-".contains(c));
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && name_ok).then_some((account, name))
}

fn check_role(field: &str, arn: &str) -> Result<()> {
    if role_name(arn).is_none() {
        return Err(CognitoError::validation(
            field,
            "Member must satisfy regular expression pattern: arn:aws:iam::\\d{12}:role/[\\w+=,.@/-]+",
        ));
    }
    Ok(())
}

impl Cognito {
    /// An identity pool by id, checking the id's form first.
    pub(crate) async fn identity_pool(&self, pool_id: &str) -> Result<IdentityPool> {
        if !model::is_id(pool_id) {
            return Err(CognitoError::validation(
                "identityPoolId",
                "Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+",
            ));
        }
        self.store
            .get::<IdentityPool>(model::POOLS, pool_id)
            .await?
            .map(|pool| pool.value)
            .ok_or_else(|| no_pool(pool_id))
    }

    /// The members CreateIdentityPool and UpdateIdentityPool set, read
    /// into `pool` (a member left out of an update returns to its default,
    /// as Cognito's UpdateIdentityPool does).
    fn read_pool(&self, input: &Input, pool: &mut IdentityPool) -> Result<()> {
        let name = input.required("IdentityPoolName")?;
        check_name(name)?;
        pool.name = name.to_owned();
        pool.allow_unauthenticated = input.bool("AllowUnauthenticatedIdentities")?.ok_or_else(|| {
            CognitoError::invalid_parameter(
                "1 validation error detected: Value null at 'allowUnauthenticatedIdentities' failed to satisfy constraint: Member must not be null",
            )
        })?;
        pool.allow_classic_flow = input.bool("AllowClassicFlow")?.unwrap_or(false);
        let issuers = self.issuers();
        let mut providers = Vec::new();
        for entry in input.objects("CognitoIdentityProviders")? {
            let name = entry.required("ProviderName")?.to_owned();
            if !matches!(issuers.parse(&name), Some(Named::UserPool(_))) {
                return Err(CognitoError::invalid_parameter(format!(
                    "Invalid Cognito Identity Provider: {name}. Expected cognito-idp.{}.amazonaws.com/{{userPoolId}} or {}",
                    issuers.region,
                    issuers.user_pool("{userPoolId}").split_once("://").map_or("", |(_, rest)| rest)
                )));
            }
            let client_id = entry.str("ClientId")?.map(str::to_owned);
            if client_id.as_deref().is_some_and(|id| id.is_empty() || id.len() > 128) {
                return Err(CognitoError::validation("clientId", "Member must have length between 1 and 128"));
            }
            let server_side_token_check = entry.bool("ServerSideTokenCheck")?.unwrap_or(false);
            let provider = Provider { name, client_id, server_side_token_check };
            if providers
                .iter()
                .any(|known: &Provider| known.name == provider.name && known.client_id == provider.client_id)
            {
                return Err(CognitoError::invalid_parameter(format!("Duplicate provider: {}", provider.name)));
            }
            providers.push(provider);
        }
        pool.providers = providers;
        pool.supported_login_providers = input.string_map("SupportedLoginProviders")?;
        pool.developer_provider_name = input.str("DeveloperProviderName")?.map(str::to_owned);
        pool.open_id_connect_provider_arns = input.strings("OpenIdConnectProviderARNs")?.unwrap_or_default();
        pool.saml_provider_arns = input.strings("SamlProviderARNs")?.unwrap_or_default();
        if input.get("IdentityPoolTags").is_some() {
            pool.tags = input.string_map("IdentityPoolTags")?;
        }
        Ok(())
    }

    pub(crate) async fn create_identity_pool(&self, input: &Input) -> Result<Value> {
        let mut pool = IdentityPool {
            id: model::new_id(&self.region),
            name: String::new(),
            allow_unauthenticated: false,
            allow_classic_flow: false,
            providers: Vec::new(),
            supported_login_providers: BTreeMap::new(),
            developer_provider_name: None,
            open_id_connect_provider_arns: Vec::new(),
            saml_provider_arns: Vec::new(),
            tags: BTreeMap::new(),
            roles: BTreeMap::new(),
            role_mappings: Map::new(),
            created: now(),
        };
        self.read_pool(input, &mut pool)?;
        if !self.store.create(model::POOLS, &pool.id, &pool).await? {
            return Err(CognitoError::internal("An identity pool id was taken; try again."));
        }
        Ok(pool.to_json())
    }

    pub(crate) async fn describe_identity_pool(&self, input: &Input) -> Result<Value> {
        Ok(self.identity_pool(input.required("IdentityPoolId")?).await?.to_json())
    }

    pub(crate) async fn list_identity_pools(&self, input: &Input) -> Result<Value> {
        if input.get("MaxResults").is_none() {
            return Err(CognitoError::invalid_parameter(
                "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null",
            ));
        }
        let limit = input.limit("MaxResults", 60, 60)?;
        let after = input.str("NextToken")?.unwrap_or("");
        let (pools, next) = self.store.page::<IdentityPool>(model::POOLS, after, limit).await?;
        let listed: Vec<Value> =
            pools.iter().map(|(_, pool)| json!({ "IdentityPoolId": pool.id, "IdentityPoolName": pool.name })).collect();
        let mut body = json!({ "IdentityPools": listed });
        if let Some(next) = next.filter(|_| pools.len() as u32 == limit) {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }

    pub(crate) async fn update_identity_pool(&self, input: &Input) -> Result<Value> {
        let pool_id = input.required("IdentityPoolId")?.to_owned();
        self.identity_pool(&pool_id).await?;
        let updated = self
            .store
            .update::<IdentityPool, _>(model::POOLS, &pool_id, |pool| self.read_pool(input, pool))
            .await?
            .ok_or_else(|| no_pool(&pool_id))?;
        Ok(updated.to_json())
    }

    pub(crate) async fn delete_identity_pool(&self, input: &Input) -> Result<Value> {
        let pool = self.identity_pool(input.required("IdentityPoolId")?).await?;
        self.store.delete(model::POOLS, &pool.id).await?;
        let ring = model::ring_id(&pool.id);
        self.store.delete(KEYS, &ring).await?;
        self.tokens.keys().forget(&ring);
        // Its identities are unreachable once the pool is gone; they are
        // removed after the answer.
        let cognito = self.clone();
        tokio::spawn(async move { cognito.remove_identities(&pool.id).await });
        Ok(json!({}))
    }

    async fn remove_identities(&self, pool_id: &str) {
        let index = model::index(pool_id);
        if let Ok(identities) = self.store.all::<Value>(&index, "").await {
            for (identity_id, _) in identities {
                let _ = self.store.delete(model::IDENTITIES, &identity_id).await;
                let _ = self.store.delete(&index, &identity_id).await;
            }
        }
        let logins = model::logins(pool_id);
        if let Ok(records) = self.store.all::<Value>(&logins, "").await {
            for (key, _) in records {
                let _ = self.store.delete(&logins, &key).await;
            }
        }
    }

    pub(crate) async fn set_identity_pool_roles(&self, input: &Input) -> Result<Value> {
        let pool_id = input.required("IdentityPoolId")?.to_owned();
        self.identity_pool(&pool_id).await?;
        let roles = input.string_map("Roles")?;
        if input.get("Roles").is_none() {
            return Err(CognitoError::invalid_parameter(
                "1 validation error detected: Value null at 'roles' failed to satisfy constraint: Member must not be null",
            ));
        }
        for (kind, arn) in &roles {
            if kind != "authenticated" && kind != "unauthenticated" {
                return Err(CognitoError::invalid_parameter(format!(
                    "Invalid role type: {kind}. Valid types are authenticated and unauthenticated."
                )));
            }
            check_role("roles", arn)?;
        }
        let mappings = match input.object("RoleMappings")? {
            Some(mappings) => mappings.0,
            None => Map::new(),
        };
        let issuers = self.issuers();
        for (key, mapping) in &mappings {
            super::roles::check_mapping(&issuers, key, mapping)?;
        }
        self.store
            .update::<IdentityPool, _>(model::POOLS, &pool_id, |pool| {
                pool.roles = roles.clone();
                pool.role_mappings = mappings.clone();
                Ok(())
            })
            .await?
            .ok_or_else(|| no_pool(&pool_id))?;
        Ok(json!({}))
    }

    pub(crate) async fn get_identity_pool_roles(&self, input: &Input) -> Result<Value> {
        let pool = self.identity_pool(input.required("IdentityPoolId")?).await?;
        let mut body = json!({ "IdentityPoolId": pool.id, "Roles": pool.roles });
        if !pool.role_mappings.is_empty() {
            body["RoleMappings"] = Value::Object(pool.role_mappings);
        }
        Ok(body)
    }

    /// TagResource, UntagResource and ListTagsForResource name a pool by
    /// its ARN.
    async fn tagged_pool(&self, input: &Input) -> Result<IdentityPool> {
        let arn = input.required("ResourceArn")?;
        let prefix = format!("arn:aws:cognito-identity:{}:{}:identitypool/", self.region, self.account_id);
        let pool_id =
            arn.strip_prefix(&prefix).ok_or_else(|| CognitoError::invalid_parameter(format!("Invalid ARN: {arn}")))?;
        self.identity_pool(pool_id).await
    }

    pub(crate) async fn tag_identity_pool(&self, input: &Input) -> Result<Value> {
        let pool = self.tagged_pool(input).await?;
        let tags = input.string_map("Tags")?;
        self.store
            .update::<IdentityPool, _>(model::POOLS, &pool.id, |pool| {
                pool.tags.extend(tags.clone());
                if pool.tags.len() > 50 {
                    return Err(CognitoError::limit_exceeded("An identity pool has at most 50 tags."));
                }
                Ok(())
            })
            .await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_identity_pool(&self, input: &Input) -> Result<Value> {
        let pool = self.tagged_pool(input).await?;
        let keys = input.strings("TagKeys")?.unwrap_or_default();
        self.store
            .update::<IdentityPool, _>(model::POOLS, &pool.id, |pool| {
                for key in &keys {
                    pool.tags.remove(key);
                }
                Ok(())
            })
            .await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_identity_pool_tags(&self, input: &Input) -> Result<Value> {
        let pool = self.tagged_pool(input).await?;
        Ok(json!({ "Tags": pool.tags }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_and_pool_names_are_checked() {
        assert_eq!(
            role_name("arn:aws:iam::000000000000:role/Cognito_appAuth_Role"),
            Some(("000000000000", "Cognito_appAuth_Role"))
        );
        assert_eq!(
            role_name("arn:aws:iam::000000000000:role/service-role/app/Reader"),
            Some(("000000000000", "Reader"))
        );
        assert_eq!(role_name("arn:aws:iam::0000:role/short-account"), None);
        assert_eq!(role_name("arn:aws:iam::000000000000:user/alice"), None);
        assert_eq!(role_name("arn:aws:iam::000000000000:role/"), None);
        assert!(check_name("My app, v2 (prod)").is_err(), "parentheses are outside the pattern");
        assert!(check_name("My app, v2 @prod").is_ok());
        assert!(check_name("").is_err());
    }
}
