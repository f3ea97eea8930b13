//! Identities and what they are handed: GetId, GetCredentialsForIdentity
//! and GetOpenIdToken (public, as in AWS: the logins they carry are the
//! proof), and DescribeIdentity, ListIdentities and DeleteIdentities
//! (signed).
//!
//! An identity with a login is the same identity for every later sign-in
//! of that user through that identity pool: the login's record names it,
//! claimed by create-if-absent. An unauthenticated identity is new at
//! every GetId without logins (clients keep the id they were given) and
//! becomes authenticated when a login is first presented with it.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use nubo_host::sigv4::{Principal, PrincipalKind, Sessions, stable_id};
use serde_json::{Map, Value, json};

use super::{
    logins::{self, Expected, Issuers, Named},
    model::{self, Identity, IdentityPool},
    pools::{no_pool, role_name},
    roles,
};
use crate::{
    Cognito,
    api::Input,
    error::{CognitoError, Result},
    model::{Group, now},
    store,
};

/// How long credentials from GetCredentialsForIdentity last, as AWS's do.
const CREDENTIALS_SECONDS: i64 = 3600;
/// The session name AWS gives every identity's role session.
const SESSION_NAME: &str = "CognitoIdentityCredentials";

fn no_identity(identity_id: &str) -> CognitoError {
    CognitoError::not_found(format!("Identity '{identity_id}' not found."))
}

fn logins_mismatch() -> CognitoError {
    CognitoError::not_authorized(
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )
}

fn unauthenticated_refused() -> CognitoError {
    CognitoError::not_authorized("Unauthenticated access is not supported for this identity pool.")
}

fn conflict(message: &str) -> CognitoError {
    CognitoError { code: "ResourceConflictException", message: message.to_owned() }
}

/// A signed-in user of a user pool, from a login that checked.
#[derive(Debug, Clone)]
pub struct UserLogin {
    /// The provider as Cognito names it.
    pub provider: String,
    pub client_id: String,
    pub sub: String,
    pub claims: Map<String, Value>,
}

/// One login that checked.
#[derive(Debug, Clone)]
pub enum Login {
    User(UserLogin),
    /// One of the pool's own OpenID tokens.
    OpenId {
        identity_id: String,
        authenticated: bool,
    },
}

/// What an identity is signed in as for one call.
#[derive(Debug)]
struct SignedIn {
    pool: IdentityPool,
    identity: Identity,
    logins: Vec<Login>,
}

impl SignedIn {
    fn user(&self) -> Option<&UserLogin> {
        self.logins.iter().find_map(|login| match login {
            Login::User(user) => Some(user),
            Login::OpenId { .. } => None,
        })
    }

    fn authenticated(&self) -> bool {
        self.logins.iter().any(|login| match login {
            Login::User(_) => true,
            Login::OpenId { authenticated, .. } => *authenticated,
        })
    }
}

/// `Logins` as sent: at most 10, each key 1 to 128 characters and each
/// token 1 to 50,000.
fn read_logins(input: &Input) -> Result<BTreeMap<String, String>> {
    let logins = input.string_map("Logins")?;
    if logins.len() > 10 {
        return Err(CognitoError::validation(
            "logins",
            "Map value must satisfy constraint: [Member must have length less than or equal to 10]",
        ));
    }
    for (provider, token) in &logins {
        if provider.is_empty() || provider.len() > 128 || token.is_empty() || token.len() > 50_000 {
            return Err(CognitoError::validation(
                "logins",
                "Map keys must have length between 1 and 128 and values between 1 and 50000",
            ));
        }
    }
    Ok(logins)
}

fn identity_id(input: &Input) -> Result<&str> {
    let identity_id = input.required("IdentityId")?;
    if !model::is_id(identity_id) {
        return Err(CognitoError::validation(
            "identityId",
            "Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+",
        ));
    }
    Ok(identity_id)
}

impl Cognito {
    /// The issuers provider names are read against.
    pub(crate) fn issuers(&self) -> Issuers {
        Issuers::new(&self.region, self.tokens.issuer("").trim_end_matches('/'))
    }

    /// Checks every login against `pool`'s providers.
    async fn verify_logins(&self, pool: &IdentityPool, logins: &BTreeMap<String, String>) -> Result<Vec<Login>> {
        let issuers = self.issuers();
        let mut verified = Vec::new();
        for (provider, token) in logins {
            match issuers.parse(provider) {
                Some(Named::UserPool(pool_id)) => {
                    verified.push(Login::User(self.verify_user_login(pool, &issuers, &pool_id, token).await?));
                }
                Some(Named::Identity) => {
                    let claims = self.verify_open_id_token(pool, token).await?;
                    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                    let authenticated = claims
                        .get("amr")
                        .and_then(Value::as_array)
                        .is_some_and(|amr| amr.iter().any(|v| v == "authenticated"));
                    verified.push(Login::OpenId { identity_id: text("sub"), authenticated });
                }
                None => return Err(logins::unsupported_provider()),
            }
        }
        Ok(verified)
    }

    /// Checks a user pool's ID token for `pool`.
    async fn verify_user_login(
        &self,
        pool: &IdentityPool,
        issuers: &Issuers,
        user_pool_id: &str,
        token: &str,
    ) -> Result<UserLogin> {
        let provider = issuers.canonical(user_pool_id);
        let registered: Vec<_> = pool
            .providers
            .iter()
            .filter(|entry| matches!(issuers.parse(&entry.name), Some(Named::UserPool(id)) if id == user_pool_id))
            .collect();
        if registered.is_empty() {
            return Err(logins::unsupported_provider());
        }
        let clients: Vec<String> = registered.iter().filter_map(|entry| entry.client_id.clone()).collect();
        let kid = logins::key_id(token)?;
        let issuer = issuers.user_pool(user_pool_id);
        let (_, claimed) = logins::claimed_issuer(token)?;
        // Keys are read only for a pool that exists and that the token
        // claims: a ring is made on first use.
        let key = if claimed == issuer && self.pool(user_pool_id).await.is_ok() {
            self.tokens.keys().verifying_key(user_pool_id, &kid).await?.map(|(_, key)| key)
        } else {
            None
        };
        let expected =
            Expected { issuer: &issuer, audiences: &clients, token_use: Some("id"), now: Utc::now().timestamp() };
        let mut claims = logins::check(token, key.as_ref(), expected)?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (sub, client_id) = (text("sub"), text("aud"));
        let checked = registered
            .iter()
            .any(|entry| entry.server_side_token_check && entry.client_id.as_deref() == Some(client_id.as_str()));
        if checked {
            self.check_user_still_signed_in(user_pool_id, &claims).await?;
        }
        self.add_group_roles(user_pool_id, &mut claims).await?;
        Ok(UserLogin { provider, client_id, sub, claims })
    }

    /// ServerSideTokenCheck: the user still exists, is enabled, has not
    /// signed out everywhere since the token, and its sign-in was not
    /// revoked.
    async fn check_user_still_signed_in(&self, user_pool_id: &str, claims: &Map<String, Value>) -> Result<()> {
        let revoked = || {
            CognitoError::not_authorized("Invalid login token. Token is revoked or its user is disabled or deleted.")
        };
        let user_pool = self.pool(user_pool_id).await.map_err(|_| revoked())?;
        let username = claims.get("cognito:username").and_then(Value::as_str).ok_or_else(revoked)?;
        let user = self.find_user(&user_pool, username).await?.map(|found| found.value).ok_or_else(revoked)?;
        let issued = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        if !user.enabled
            || claims.get("sub").and_then(Value::as_str) != Some(user.sub.as_str())
            || (issued as f64) < user.tokens_valid_after
        {
            return Err(revoked());
        }
        if let Some(jti) = claims.get("origin_jti").and_then(Value::as_str)
            && let Some(grant) = self.tokens.grant_by_id(jti).await?
            && grant.revoked
        {
            return Err(revoked());
        }
        Ok(())
    }

    /// `cognito:roles` and `cognito:preferred_role` as Cognito puts them in
    /// ID tokens of users in groups with roles, from the groups the token
    /// names, when the token itself does not carry them.
    async fn add_group_roles(&self, user_pool_id: &str, claims: &mut Map<String, Value>) -> Result<()> {
        if claims.contains_key("cognito:roles") {
            return Ok(());
        }
        let groups: Vec<String> = match claims.get("cognito:groups") {
            Some(Value::Array(groups)) => groups.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => return Ok(()),
        };
        let namespace = store::groups(user_pool_id);
        let mut with_roles = Vec::new();
        for name in groups {
            if let Some(group) = self.store.get::<Group>(&namespace, &name).await?
                && let Some(role) = group.value.role_arn
            {
                with_roles.push((group.value.precedence.unwrap_or(i64::MAX), role));
            }
        }
        if with_roles.is_empty() {
            return Ok(());
        }
        with_roles.sort();
        let mut roles: Vec<&String> = with_roles.iter().map(|(_, role)| role).collect();
        roles.dedup();
        claims.insert("cognito:roles".into(), json!(roles));
        // The group of the lowest precedence wins; a tie leaves none.
        let lowest = with_roles[0].0;
        let mut preferred = with_roles.iter().filter(|(precedence, _)| *precedence == lowest).map(|(_, role)| role);
        if let (Some(role), None) = (preferred.next(), preferred.next()) {
            claims.insert("cognito:preferred_role".into(), json!(role));
        }
        Ok(())
    }

    async fn identity(&self, identity_id: &str) -> Result<Option<Identity>> {
        Ok(self.store.get::<Identity>(model::IDENTITIES, identity_id).await?.map(|identity| identity.value))
    }

    /// Stores a new identity of `pool` with `logins` recorded in it (the
    /// login records themselves are claimed by the caller).
    async fn new_identity(&self, pool: &IdentityPool, logins: BTreeMap<String, String>) -> Result<Identity> {
        let created = now();
        let identity =
            Identity { id: model::new_id(&self.region), pool_id: pool.id.clone(), logins, created, modified: created };
        if !self.store.create(model::IDENTITIES, &identity.id, &identity).await? {
            return Err(CognitoError::internal("An identity id was taken; try again."));
        }
        self.store.put(&model::index(&pool.id), &identity.id, &json!({})).await?;
        Ok(identity)
    }

    /// The identity a login record names, if any.
    async fn linked(&self, pool: &IdentityPool, login: &UserLogin) -> Result<Option<String>> {
        let key = model::login_key(&login.provider, &login.sub);
        Ok(self.store.get::<String>(&model::logins(&pool.id), &key).await?.map(|linked| linked.value))
    }

    /// Links `login` to `identity_id`: false if it already belongs to
    /// another identity.
    async fn link(&self, pool: &IdentityPool, identity_id: &str, login: &UserLogin) -> Result<bool> {
        let key = model::login_key(&login.provider, &login.sub);
        let namespace = model::logins(&pool.id);
        if !self.store.create(&namespace, &key, &identity_id.to_owned()).await? {
            let owner = self.store.get::<String>(&namespace, &key).await?.map(|linked| linked.value);
            return Ok(owner.as_deref() == Some(identity_id));
        }
        self.store
            .update::<Identity, _>(model::IDENTITIES, identity_id, |identity| {
                identity.logins.insert(login.provider.clone(), login.sub.clone());
                identity.modified = now();
                Ok(())
            })
            .await?;
        Ok(true)
    }

    pub(crate) async fn get_id(&self, input: &Input) -> Result<Value> {
        let pool = self.identity_pool(input.required("IdentityPoolId")?).await?;
        if let Some(account) = input.str("AccountId")?
            && account != self.account_id
        {
            return Err(no_pool(&pool.id));
        }
        let logins = read_logins(input)?;
        if logins.is_empty() {
            if !pool.allow_unauthenticated {
                return Err(unauthenticated_refused());
            }
            let identity = self.new_identity(&pool, BTreeMap::new()).await?;
            return Ok(json!({ "IdentityId": identity.id }));
        }
        let verified = self.verify_logins(&pool, &logins).await?;
        // The identities the logins already reach.
        let mut found: Vec<String> = Vec::new();
        let mut users = Vec::new();
        for login in &verified {
            let linked = match login {
                Login::User(user) => {
                    users.push(user);
                    self.linked(&pool, user).await?
                }
                Login::OpenId { identity_id, .. } => Some(identity_id.clone()),
            };
            if let Some(identity_id) = linked
                && !found.contains(&identity_id)
            {
                found.push(identity_id);
            }
        }
        if found.len() > 1 {
            return Err(conflict("The logins belong to different identities."));
        }
        let identity_id = match found.pop() {
            Some(identity_id) => identity_id,
            None => {
                let Some(first) = users.first() else { return Err(logins_mismatch()) };
                let identity =
                    self.new_identity(&pool, BTreeMap::from([(first.provider.clone(), first.sub.clone())])).await?;
                let key = model::login_key(&first.provider, &first.sub);
                let namespace = model::logins(&pool.id);
                if self.store.create(&namespace, &key, &identity.id).await? {
                    identity.id
                } else {
                    // A concurrent GetId of the same login won: its identity
                    // is the one, ours is dropped.
                    self.store.delete(model::IDENTITIES, &identity.id).await?;
                    self.store.delete(&model::index(&pool.id), &identity.id).await?;
                    self.store
                        .get::<String>(&namespace, &key)
                        .await?
                        .map(|linked| linked.value)
                        .ok_or_else(logins_mismatch)?
                }
            }
        };
        for user in users {
            if !self.link(&pool, &identity_id, user).await? {
                return Err(conflict("The logins belong to different identities."));
            }
        }
        Ok(json!({ "IdentityId": identity_id }))
    }

    /// The identity `IdentityId` names, signed in by its `Logins` (linked
    /// to it, or linked now if they reach no identity yet) or, without
    /// logins, as an unauthenticated identity where the pool allows one.
    async fn identity_signed_in(&self, input: &Input) -> Result<SignedIn> {
        let identity_id = identity_id(input)?;
        let identity = self.identity(identity_id).await?.ok_or_else(|| no_identity(identity_id))?;
        let pool = self
            .store
            .get::<IdentityPool>(model::POOLS, &identity.pool_id)
            .await?
            .map(|pool| pool.value)
            .ok_or_else(|| no_pool(&identity.pool_id))?;
        let logins = read_logins(input)?;
        if logins.is_empty() {
            if !identity.logins.is_empty() {
                return Err(logins_mismatch());
            }
            if !pool.allow_unauthenticated {
                return Err(unauthenticated_refused());
            }
            return Ok(SignedIn { pool, identity, logins: Vec::new() });
        }
        let verified = self.verify_logins(&pool, &logins).await?;
        for login in &verified {
            match login {
                Login::User(user) => {
                    if !self.link(&pool, &identity.id, user).await? {
                        return Err(logins_mismatch());
                    }
                }
                Login::OpenId { identity_id, .. } if *identity_id != identity.id => return Err(logins_mismatch()),
                Login::OpenId { .. } => {}
            }
        }
        let signed_in = SignedIn { pool, identity, logins: verified };
        if !signed_in.authenticated() && !signed_in.pool.allow_unauthenticated {
            return Err(unauthenticated_refused());
        }
        Ok(signed_in)
    }

    pub(crate) async fn get_credentials_for_identity(
        &self,
        input: &Input,
        sessions: Option<&Sessions>,
    ) -> Result<Value> {
        let signed_in = self.identity_signed_in(input).await?;
        let custom_role = input.str("CustomRoleArn")?;
        let pool = &signed_in.pool;
        let role = match signed_in.user() {
            Some(user) => roles::authenticated_role(
                &pool.roles,
                &pool.role_mappings,
                &self.issuers(),
                roles::Request {
                    provider: &user.provider,
                    client_id: &user.client_id,
                    claims: &user.claims,
                    custom_role,
                },
            )?,
            None if signed_in.authenticated() => pool.roles.get("authenticated").cloned().ok_or_else(roles::no_role)?,
            None => roles::unauthenticated_role(&pool.roles)?,
        };
        let invalid_role = || CognitoError {
            code: "InvalidIdentityPoolConfigurationException",
            message: format!(
                "Invalid identity pool configuration. Check assigned IAM roles for this pool. The role {role} cannot be assumed."
            ),
        };
        let (account, role_name) = role_name(&role).ok_or_else(invalid_role)?;
        if account != self.account_id {
            return Err(invalid_role());
        }
        let sessions =
            sessions.ok_or_else(|| CognitoError::internal("This deployment issues no temporary credentials."))?;
        let principal = Principal {
            name: SESSION_NAME.to_owned(),
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{SESSION_NAME}"),
            user_id: format!("{}:{SESSION_NAME}", stable_id("AROA", &role)),
            account_id: account.to_owned(),
            kind: PrincipalKind::AssumedRole,
            access_key_id: String::new(),
            temporary: true,
        };
        let issued = sessions.issue(&principal, Utc::now() + Duration::seconds(CREDENTIALS_SECONDS));
        Ok(json!({
            "IdentityId": signed_in.identity.id,
            "Credentials": {
                "AccessKeyId": issued.access_key_id,
                "SecretKey": issued.secret_access_key,
                "SessionToken": issued.session_token,
                "Expiration": issued.expiration.timestamp(),
            },
        }))
    }

    pub(crate) async fn get_open_id_token(&self, input: &Input) -> Result<Value> {
        let signed_in = self.identity_signed_in(input).await?;
        let amr: Vec<String> = match signed_in.user() {
            Some(user) => vec![
                "authenticated".into(),
                user.provider.split('/').next().unwrap_or_default().to_owned(),
                format!("{}:CognitoSignIn:{}", user.provider, user.sub),
            ],
            None if signed_in.authenticated() => vec!["authenticated".into()],
            None => vec!["unauthenticated".into()],
        };
        let token = self.open_id_token(&signed_in.pool, &signed_in.identity.id, &amr).await?;
        Ok(json!({ "IdentityId": signed_in.identity.id, "Token": token }))
    }

    pub(crate) async fn describe_identity(&self, input: &Input) -> Result<Value> {
        let identity_id = identity_id(input)?;
        Ok(self.identity(identity_id).await?.ok_or_else(|| no_identity(identity_id))?.to_json())
    }

    pub(crate) async fn list_identities(&self, input: &Input) -> Result<Value> {
        let pool = self.identity_pool(input.required("IdentityPoolId")?).await?;
        if input.get("MaxResults").is_none() {
            return Err(CognitoError::invalid_parameter(
                "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null",
            ));
        }
        let limit = input.limit("MaxResults", 60, 60)?;
        let after = input.str("NextToken")?.unwrap_or("");
        let (page, next) = self.store.page::<Value>(&model::index(&pool.id), after, limit).await?;
        let mut identities = Vec::new();
        for (identity_id, _) in &page {
            if let Some(identity) = self.identity(identity_id).await? {
                identities.push(identity.to_json());
            }
        }
        let mut body = json!({ "IdentityPoolId": pool.id, "Identities": identities });
        if let Some(next) = next.filter(|_| page.len() as u32 == limit) {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }

    pub(crate) async fn delete_identities(&self, input: &Input) -> Result<Value> {
        let ids = input.strings("IdentityIdsToDelete")?.unwrap_or_default();
        if ids.is_empty() || ids.len() > 60 {
            return Err(CognitoError::validation("identityIdsToDelete", "Member must have length between 1 and 60"));
        }
        let mut unprocessed = Vec::new();
        for identity_id in ids {
            if !model::is_id(&identity_id) {
                unprocessed.push(json!({ "IdentityId": identity_id, "ErrorCode": "InternalServerError" }));
                continue;
            }
            let Some(identity) = self.identity(&identity_id).await? else { continue };
            let namespace = model::logins(&identity.pool_id);
            for (provider, sub) in &identity.logins {
                self.store.delete(&namespace, &model::login_key(provider, sub)).await?;
            }
            self.store.delete(model::IDENTITIES, &identity.id).await?;
            self.store.delete(&model::index(&identity.pool_id), &identity.id).await?;
        }
        Ok(json!({ "UnprocessedIdentityIds": unprocessed }))
    }
}
