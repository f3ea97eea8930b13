//! Who may call nubo: the principals of a deployment and the keys that
//! authenticate them. A long-term key belongs to the account's root or to a
//! configured user; a temporary key was issued by STS ([`super::sessions`])
//! and is checked against the session token it came with.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{AuthError, sessions::Sessions};

/// What kind of identity signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account itself: the key pair of the deployment's `[credentials]`.
    Root,
    /// A configured `[[credentials.users]]` entry.
    User,
    /// Temporary credentials of an assumed role.
    AssumedRole,
}

/// An authenticated caller, as operations see it (owner of what it
/// creates, subject of Cognito admin calls, answer of GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `root`, the user's name, or the role session's name.
    pub name: String,
    /// `arn:aws:iam::{account}:root`, `...:user/{name}`, or
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`.
    pub arn: String,
    /// The stable id GetCallerIdentity reports as `UserId`.
    pub user_id: String,
    pub account_id: String,
    pub kind: PrincipalKind,
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// Whether that key is a temporary one, issued by STS.
    pub temporary: bool,
}

impl Principal {
    pub fn root(account_id: &str, access_key_id: &str) -> Self {
        Self {
            name: "root".into(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.to_owned(),
            account_id: account_id.to_owned(),
            kind: PrincipalKind::Root,
            access_key_id: access_key_id.to_owned(),
            temporary: false,
        }
    }

    pub fn user(account_id: &str, name: &str, access_key_id: &str) -> Self {
        Self {
            name: name.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:user/{name}"),
            user_id: stable_id("AIDA", name),
            account_id: account_id.to_owned(),
            kind: PrincipalKind::User,
            access_key_id: access_key_id.to_owned(),
            temporary: false,
        }
    }
}

/// An IAM-style unique id (`AIDA…`, `AROA…`): a prefix and 17 characters
/// derived from `seed`, the same on every replica and every restart.
pub fn stable_id(prefix: &str, seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(seed.as_bytes());
    let mut id = String::from(prefix);
    id.extend(digest.iter().take(17).map(|byte| ALPHABET[usize::from(byte % 32)] as char));
    id
}

#[derive(Clone)]
struct LongTermKey {
    secret: String,
    principal: Principal,
}

/// The keys a deployment accepts: long-term keys by access key id, and the
/// temporary keys its STS issues.
#[derive(Clone, Default)]
pub struct Credentials {
    account_id: String,
    keys: Arc<HashMap<String, LongTermKey>>,
    sessions: Option<Sessions>,
    /// Shared by every clone, so every front of a process reuses them.
    signing_keys: super::signing_keys::SigningKeys,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, only which keys exist.
        f.debug_struct("Credentials")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("sessions", &self.sessions.is_some())
            .finish()
    }
}

impl Credentials {
    pub fn new(account_id: impl Into<String>) -> Self {
        Self { account_id: account_id.into(), ..Self::default() }
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    fn with(mut self, access_key_id: String, secret: String, principal: Principal) -> Self {
        Arc::make_mut(&mut self.keys).insert(access_key_id, LongTermKey { secret, principal });
        self
    }

    /// Accepts a key of the account's root.
    pub fn with_root_key(self, access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        let access_key_id = access_key_id.into();
        let principal = Principal::root(&self.account_id, &access_key_id);
        self.with(access_key_id, secret.into(), principal)
    }

    /// Accepts a key of the named user.
    pub fn with_user(self, name: &str, access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        let access_key_id = access_key_id.into();
        let principal = Principal::user(&self.account_id, name, &access_key_id);
        self.with(access_key_id, secret.into(), principal)
    }

    /// Accepts the temporary keys `sessions` issues.
    pub fn with_sessions(mut self, sessions: Sessions) -> Self {
        self.sessions = Some(sessions);
        self
    }

    pub(super) fn signing_keys(&self) -> &super::signing_keys::SigningKeys {
        &self.signing_keys
    }

    pub fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn secret_for(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(|key| key.secret.as_str())
    }

    /// The secret and principal of a key, checking the session token a
    /// temporary key must come with.
    pub fn resolve(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(String, Principal), AuthError> {
        if let Some(key) = self.keys.get(access_key_id) {
            if security_token.is_some_and(|token| !token.is_empty()) {
                // A long-term key never comes with a session token.
                return Err(AuthError::InvalidToken);
            }
            return Ok((key.secret.clone(), key.principal.clone()));
        }
        match (&self.sessions, security_token) {
            (Some(sessions), Some(token)) => sessions.open(access_key_id, token, now),
            (Some(_), None) if access_key_id.starts_with(super::sessions::ACCESS_KEY_PREFIX) => {
                Err(AuthError::InvalidToken)
            }
            _ => Err(AuthError::UnknownKey),
        }
    }
}
