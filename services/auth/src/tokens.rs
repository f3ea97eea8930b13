//! Cognito-shaped tokens: RS256 ID and access tokens with exactly the
//! claims Cognito sets, and opaque refresh tokens that name a grant record
//! in data (so revoking one holds on every replica).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::{
    error::{CognitoError, Result},
    keys::Keys,
    model::{AppClient, Group, RefreshGrant, User, UserPool, now},
    store::{GRANTS, Store},
};

/// The scope of tokens from the API flows: the user's own calls
/// (GetUser, ChangePassword, ...).
pub const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// One sign-in's tokens, as AuthenticationResult carries them.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

impl Issued {
    /// Cognito's `AuthenticationResult`.
    pub fn to_json(&self) -> Value {
        let mut result = json!({
            "AccessToken": self.access_token,
            "ExpiresIn": self.expires_in,
            "IdToken": self.id_token,
            "TokenType": "Bearer",
        });
        if let Some(refresh) = &self.refresh_token {
            result["RefreshToken"] = Value::String(refresh.clone());
        }
        result
    }
}

/// What a sign-in is: who, through which client, since when, for what.
#[derive(Debug, Clone)]
pub struct Session<'a> {
    pub pool: &'a UserPool,
    pub client: &'a AppClient,
    pub user: &'a User,
    /// When the user authenticated (a refresh keeps the original time).
    pub auth_time: i64,
    /// The refresh grant these tokens descend from.
    pub origin_jti: String,
    pub scopes: Vec<String>,
    /// The nonce of an OIDC authorization request, echoed in the ID token.
    pub nonce: Option<String>,
    /// Claims the pre token generation trigger adds, overrides or
    /// suppresses, and groups it overrides.
    pub overrides: Option<&'a ClaimOverrides>,
}

/// What a pre token generation trigger asked for.
#[derive(Debug, Clone, Default)]
pub struct ClaimOverrides {
    pub id_add: Map<String, Value>,
    pub id_suppress: Vec<String>,
    pub access_add: Map<String, Value>,
    pub access_suppress: Vec<String>,
    pub groups: Option<Vec<String>>,
    pub access_scopes_add: Vec<String>,
    pub access_scopes_suppress: Vec<String>,
}

/// An access token that verified.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
    pub origin_jti: String,
    pub issued_at: i64,
    pub scopes: Vec<String>,
    pub claims: Map<String, Value>,
}

/// Makes and checks tokens for every pool.
#[derive(Debug, Clone)]
pub struct Tokens {
    keys: Keys,
    store: Store,
    /// The issuer's base: `iss` is `{base}/{poolId}`.
    base_url: String,
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Attribute values as the ID token types them: booleans and numbers for
/// the standard attributes of those types, strings otherwise.
fn claim_value(name: &str, value: &str) -> Value {
    match name {
        "email_verified" | "phone_number_verified" => Value::Bool(value == "true"),
        "updated_at" => value.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(value.into())),
        "identities" => serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into())),
        _ => Value::String(value.into()),
    }
}

impl Tokens {
    pub fn new(keys: Keys, store: Store, base_url: &str) -> Self {
        Self { keys, store, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.base_url)
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// ID and access tokens for `session`, with a refresh token if asked.
    pub async fn issue(&self, session: &Session<'_>, refresh_token: Option<String>) -> Result<Issued> {
        let ring = self.keys.ring(&session.pool.id).await?;
        let now = chrono::Utc::now().timestamp();
        let groups: Vec<String> = match session.overrides.and_then(|o| o.groups.clone()) {
            Some(groups) => groups,
            None => session.user.groups.iter().cloned().collect(),
        };
        let event_id = uuid();
        let iss = self.issuer(&session.pool.id);
        let user = session.user;
        let client = session.client;

        let mut id = Map::new();
        id.insert("sub".into(), json!(user.sub));
        if !groups.is_empty() {
            id.insert("cognito:groups".into(), json!(groups));
        }
        let readable =
            |name: &str| client.read_attributes.is_empty() || client.read_attributes.iter().any(|a| a == name);
        for (name, value) in &user.attributes {
            if name != "sub" && readable(name) {
                id.insert(name.clone(), claim_value(name, value));
            }
        }
        let (roles, preferred) = self.group_roles(&session.pool.id, &groups).await?;
        if !roles.is_empty() {
            id.insert("cognito:roles".into(), json!(roles));
        }
        if let Some(preferred) = preferred {
            id.insert("cognito:preferred_role".into(), json!(preferred));
        }
        id.insert("iss".into(), json!(iss));
        id.insert("cognito:username".into(), json!(user.username));
        if let Some(nonce) = &session.nonce {
            id.insert("nonce".into(), json!(nonce));
        }
        id.insert("origin_jti".into(), json!(session.origin_jti));
        id.insert("aud".into(), json!(client.id));
        id.insert("event_id".into(), json!(event_id));
        id.insert("token_use".into(), json!("id"));
        id.insert("auth_time".into(), json!(session.auth_time));
        id.insert("exp".into(), json!(now + client.id_token_seconds as i64));
        id.insert("iat".into(), json!(now));
        id.insert("jti".into(), json!(uuid()));

        let mut scopes = session.scopes.clone();
        let mut access = Map::new();
        access.insert("sub".into(), json!(user.sub));
        if !groups.is_empty() {
            access.insert("cognito:groups".into(), json!(groups));
        }
        access.insert("iss".into(), json!(iss));
        access.insert("client_id".into(), json!(client.id));
        access.insert("origin_jti".into(), json!(session.origin_jti));
        access.insert("event_id".into(), json!(event_id));
        access.insert("token_use".into(), json!("access"));
        access.insert("auth_time".into(), json!(session.auth_time));
        access.insert("exp".into(), json!(now + client.access_token_seconds as i64));
        access.insert("iat".into(), json!(now));
        access.insert("jti".into(), json!(uuid()));
        access.insert("version".into(), json!(2));
        access.insert("username".into(), json!(user.username));

        if let Some(overrides) = session.overrides {
            // Cognito never lets a trigger touch the claims that make the
            // token what it is.
            const FIXED: [&str; 11] = [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "jti",
                "token_use",
                "auth_time",
                "origin_jti",
                "event_id",
                "client_id",
            ];
            let allowed = |name: &String| !FIXED.contains(&name.as_str()) && name != "cognito:username";
            for name in overrides.id_suppress.iter().filter(|n| allowed(n)) {
                id.remove(name);
            }
            for (name, value) in overrides.id_add.iter().filter(|(n, _)| allowed(n)) {
                id.insert(name.clone(), value.clone());
            }
            for name in overrides.access_suppress.iter().filter(|n| allowed(n)) {
                access.remove(name);
            }
            for (name, value) in overrides.access_add.iter().filter(|(n, _)| allowed(n) && *n != "scope") {
                access.insert(name.clone(), value.clone());
            }
            scopes.retain(|scope| !overrides.access_scopes_suppress.contains(scope));
            for scope in &overrides.access_scopes_add {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        // Cognito puts `scope` after `token_use`.
        let mut ordered = Map::new();
        for (name, value) in access {
            let is_token_use = name == "token_use";
            ordered.insert(name, value);
            if is_token_use {
                ordered.insert("scope".into(), json!(scopes.join(" ")));
            }
        }
        access = ordered;

        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(ring.active_kid.clone());
        let sign = |claims: &Map<String, Value>| {
            jsonwebtoken::encode(&header, claims, &ring.signing)
                .map_err(|error| CognitoError::internal(format!("cannot sign a token: {error}")))
        };
        Ok(Issued {
            id_token: sign(&id)?,
            access_token: sign(&access)?,
            refresh_token,
            expires_in: client.access_token_seconds,
        })
    }

    /// The IAM roles of `groups` (`cognito:roles`) and the one of the group
    /// with the lowest precedence (`cognito:preferred_role`), as Cognito
    /// puts them in ID tokens for identity pools to choose from.
    async fn group_roles(&self, pool_id: &str, groups: &[String]) -> Result<(Vec<String>, Option<String>)> {
        let mut roles: Vec<(i64, String)> = Vec::new();
        for name in groups {
            if let Some(group) = self.store.get::<Group>(&crate::store::groups(pool_id), name).await?
                && let Some(role) = group.value.role_arn
            {
                roles.push((group.value.precedence.unwrap_or(i64::MAX), role));
            }
        }
        roles.sort();
        let preferred = roles.first().map(|(_, role)| role.clone());
        let mut arns: Vec<String> = roles.into_iter().map(|(_, role)| role).collect();
        arns.dedup();
        Ok((arns, preferred))
    }

    /// A new refresh grant and its token, good for the client's refresh
    /// validity or until `expires` (a rotated grant keeps the time its
    /// original had left). The grant's id is the `origin_jti` of every
    /// token refreshed from it.
    pub async fn grant(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
        scopes: &[String],
        expires: Option<f64>,
    ) -> Result<(String, String)> {
        let grant_id = uuid();
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let issued = now();
        let grant = RefreshGrant {
            pool_id: pool.id.clone(),
            client_id: client.id.clone(),
            username: user.username.clone(),
            secret_hash: hash_secret(&secret),
            issued,
            expires: expires.unwrap_or(issued + client.refresh_token_seconds as f64),
            auth_time,
            revoked: false,
            scopes: scopes.to_vec(),
            replaced_until: None,
        };
        self.store.put(GRANTS, &grant_id, &grant).await?;
        Ok((grant_id.clone(), format!("{grant_id}.{secret}")))
    }

    /// The grant a refresh token names, if the token is that grant's.
    pub async fn grant_of(&self, refresh_token: &str) -> Result<Option<(String, RefreshGrant, u64)>> {
        let Some((grant_id, secret)) = refresh_token.split_once('.') else { return Ok(None) };
        if uuid::Uuid::parse_str(grant_id).is_err() {
            return Ok(None);
        }
        let Some(stored) = self.store.get::<RefreshGrant>(GRANTS, grant_id).await? else { return Ok(None) };
        let expected = stored.value.secret_hash.as_bytes();
        let presented = hash_secret(secret);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected, presented.as_bytes())) {
            return Ok(None);
        }
        Ok(Some((grant_id.to_owned(), stored.value, stored.version)))
    }

    /// Marks a grant revoked: its refresh token and every access token
    /// that descends from it stop working.
    pub async fn revoke(&self, grant_id: &str) -> Result<()> {
        self.store
            .update::<RefreshGrant, _>(GRANTS, grant_id, |grant| {
                grant.revoked = true;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Marks a grant replaced by rotation, if it is still at `version`:
    /// its token is accepted until `until` (the client's grace period),
    /// then refused. False if another refresh got there first.
    pub async fn replace_if(&self, grant_id: &str, version: u64, until: f64) -> Result<bool> {
        let Some(stored) = self.store.get::<RefreshGrant>(GRANTS, grant_id).await? else { return Ok(false) };
        if stored.version != version {
            return Ok(false);
        }
        let mut grant = stored.value;
        grant.replaced_until = Some(grant.replaced_until.map_or(until, |current| current.min(until)));
        self.store.put_if(GRANTS, grant_id, &grant, version).await
    }

    pub async fn grant_by_id(&self, grant_id: &str) -> Result<Option<RefreshGrant>> {
        Ok(self.store.get::<RefreshGrant>(GRANTS, grant_id).await?.map(|grant| grant.value))
    }

    /// Checks an access token's signature, issuer, expiry and use; the
    /// caller checks revocation against the user and the grant.
    pub async fn verify_access(&self, token: &str) -> Result<AccessToken> {
        let invalid = || CognitoError::not_authorized("Invalid Access Token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let unverified = unverified_claims(token).ok_or_else(invalid)?;
        let iss = unverified.get("iss").and_then(Value::as_str).ok_or_else(invalid)?;
        let pool_id = iss.strip_prefix(&format!("{}/", self.base_url)).ok_or_else(invalid)?;
        if pool_id.is_empty() || pool_id.contains('/') || !crate::ids::is_pool_id(pool_id) {
            return Err(invalid());
        }
        // A made-up issuer must not make a key ring for a pool that does
        // not exist.
        if self.store.get::<Value>(crate::store::POOLS, pool_id).await?.is_none() {
            return Err(invalid());
        }
        let Some((_, key)) = self.keys.verifying_key(pool_id, &kid).await? else { return Err(invalid()) };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[iss]);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            Ok(data) => data.claims,
            Err(error) if matches!(error.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                return Err(CognitoError::not_authorized("Access Token has expired"));
            }
            Err(_) => return Err(invalid()),
        };
        if claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(invalid());
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(AccessToken {
            pool_id: pool_id.to_owned(),
            client_id: text("client_id").ok_or_else(invalid)?,
            // Tokens of the client credentials grant stand for no user.
            username: text("username").unwrap_or_default(),
            origin_jti: text("origin_jti").unwrap_or_default(),
            issued_at: claims.get("iat").and_then(Value::as_i64).unwrap_or(0),
            scopes: text("scope").map(|s| s.split(' ').map(str::to_owned).collect()).unwrap_or_default(),
            claims,
        })
    }
}

/// A token's payload before its signature is checked: only to learn which
/// pool's keys check it.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
