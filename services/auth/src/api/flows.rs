//! Sign-in: InitiateAuth and AdminInitiateAuth, the challenges that follow
//! (`PASSWORD_VERIFIER`, `NEW_PASSWORD_REQUIRED`, MFA, custom auth,
//! `USER_AUTH`'s choices), refresh, and revocation.
//!
//! Between steps nothing is stored: the `Session` handed to the client is
//! the state, sealed (see `seal`), and SRP's `SECRET_BLOCK` carries the
//! server's secret the same way, so any replica takes the next step.

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::Input;
use crate::{
    Cognito,
    error::{CognitoError, Result},
    mfa,
    model::{AppClient, CodePurpose, MfaConfiguration, User, UserPool, UserStatus, now},
    passwords, srp,
    tokens::{ADMIN_SCOPE, ClaimOverrides, Session as TokenSession},
    triggers::{Event, user_attributes},
};

const SESSION: &str = "session";
/// What a SignUp's `Session` stands for: a sign-up, which signs in
/// through `USER_AUTH` once the user is confirmed (by a pre sign-up
/// trigger, since ConfirmSignUp changes the user and makes a new session).
const SIGNED_UP: &str = "SIGN_UP";
/// What a ConfirmSignUp's `Session` stands for: the code just confirmed,
/// taken by `USER_AUTH` as the first factor of the user's first sign-in.
const CONFIRMED_SIGN_UP: &str = "CONFIRMED_SIGN_UP";
const SECRET_BLOCK: &str = "srp";
/// Failed sign-ins before lockouts start; each further failure doubles
/// the lockout from one second, up to about 15 minutes (Cognito's rule).
const FREE_FAILURES: u32 = 5;
const MAX_LOCKOUT_SECONDS: f64 = 900.0;

/// One step of a custom authentication, as the triggers see the history.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChallengeStep {
    name: String,
    result: bool,
    metadata: Option<String>,
}

/// What a `Session` carries between steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionState {
    pool_id: String,
    client_id: String,
    username: String,
    /// The challenge the session answers.
    challenge: String,
    /// Custom authentication: the steps so far and the private parameters
    /// of the pending challenge.
    #[serde(default)]
    steps: Vec<ChallengeStep>,
    #[serde(default)]
    private: Value,
    /// SRP's state when the challenge is `PASSWORD_VERIFIER` reached
    /// through `USER_AUTH` or custom auth.
    #[serde(default)]
    custom: bool,
    /// Set once an MFA factor was set up in this session (`MFA_SETUP`).
    #[serde(default)]
    mfa_ready: bool,
}

/// SRP's server state, sealed into `SECRET_BLOCK`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SrpState {
    pool_id: String,
    username: String,
    secret_b: String,
    srp_b: String,
    /// The client's public value, from InitiateAuth.
    srp_a: String,
    /// The app client the sign-in began through.
    #[serde(default)]
    client_id: String,
    /// Through custom auth (`SRP_A`), where success leads back to the
    /// define trigger.
    #[serde(default)]
    custom: bool,
    #[serde(default)]
    steps: Vec<ChallengeStep>,
}

/// The second factor a sign-in needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondFactor {
    None,
    Totp,
    /// MFA is required and the user has no factor yet: `MFA_SETUP`.
    SetUp,
}

/// A challenge to answer, or tokens.
enum Outcome {
    Challenge {
        name: String,
        parameters: Map<String, Value>,
        session: Option<String>,
        /// `SELECT_CHALLENGE`'s choices (`AvailableChallenges`).
        available: Vec<String>,
    },
    Tokens(crate::tokens::Issued),
}

fn outcome_json(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Challenge { name, parameters, session, available } => {
            let mut body = json!({ "ChallengeName": name, "ChallengeParameters": parameters });
            if !available.is_empty() {
                body["AvailableChallenges"] = json!(available);
            }
            if let Some(session) = session {
                body["Session"] = json!(session);
            }
            body
        }
        Outcome::Tokens(issued) => json!({ "ChallengeParameters": {}, "AuthenticationResult": issued.to_json() }),
    }
}

pub(crate) fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn invalid_session() -> CognitoError {
    CognitoError::not_authorized("Invalid session for the user, session is expired.")
}

impl Cognito {
    /// `SECRET_HASH` for a client with a secret: Base64(HMAC-SHA256(secret,
    /// username + client id)), over any of the names the user goes by.
    pub(crate) fn check_secret_hash(&self, client: &AppClient, username: &str, given: Option<&str>) -> Result<()> {
        self.check_secret_hash_any(client, &[username], given)
    }

    fn check_secret_hash_any(&self, client: &AppClient, names: &[&str], given: Option<&str>) -> Result<()> {
        let Some(secret) = &client.secret else { return Ok(()) };
        let Some(given) = given else {
            return Err(CognitoError::not_authorized(format!(
                "Client {} is configured with secret but SECRET_HASH was not received",
                client.id
            )));
        };
        let matches = names.iter().any(|name| {
            let expected = secret_hash(secret, name, &client.id);
            bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()))
        });
        if matches {
            Ok(())
        } else {
            Err(CognitoError::not_authorized(format!("Unable to verify secret hash for client {}", client.id)))
        }
    }

    fn seal_session(&self, client: &AppClient, state: &SessionState) -> String {
        self.sealer.seal(SESSION, i64::from(client.auth_session_minutes) * 60, state)
    }

    fn open_session(&self, sealed: Option<&str>) -> Result<SessionState> {
        sealed.and_then(|sealed| self.sealer.open(SESSION, sealed)).ok_or_else(invalid_session)
    }

    /// The client a sign-in names, and its pool (for the admin calls, the
    /// pool named must be the client's).
    async fn sign_in_client(&self, input: &Input, admin: bool) -> Result<(UserPool, AppClient)> {
        let client_id = input.required("ClientId")?;
        if admin {
            let pool = self.pool(input.required("UserPoolId")?).await?;
            let client = self.client_of(&pool.id, client_id).await?;
            return Ok((pool, client));
        }
        let client = self.client(client_id).await?;
        let pool = self.pool(&client.pool_id).await?;
        Ok((pool, client))
    }

    pub(crate) async fn initiate_auth(&self, input: &Input, admin: bool) -> Result<Value> {
        let (pool, client) = self.sign_in_client(input, admin).await?;
        let flow = input.required("AuthFlow")?;
        let parameters = input.string_map("AuthParameters")?;
        let param = |name: &str| parameters.get(name).map(String::as_str);
        let metadata = input.get("ClientMetadata").cloned().unwrap_or(json!({}));
        let outcome = match flow {
            "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => {
                let admin_flow = flow != "USER_PASSWORD_AUTH";
                if admin_flow != admin {
                    return Err(CognitoError::invalid_parameter("Initiate Auth method not supported."));
                }
                let allowed = if admin_flow { "ALLOW_ADMIN_USER_PASSWORD_AUTH" } else { "ALLOW_USER_PASSWORD_AUTH" };
                if !client.allows(allowed) {
                    return Err(CognitoError::invalid_parameter(if admin_flow {
                        "Auth flow not enabled for this client".to_owned()
                    } else {
                        "USER_PASSWORD_AUTH flow not enabled for this client".to_owned()
                    }));
                }
                let username = param("USERNAME")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                let password = param("PASSWORD")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter PASSWORD"))?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                let user = self.password_sign_in(&pool, &client, username, password, &metadata).await?;
                self.after_first_factor(&pool, &client, user, &metadata).await?
            }
            "USER_SRP_AUTH" => {
                if !client.allows("ALLOW_USER_SRP_AUTH") {
                    return Err(CognitoError::invalid_parameter("USER_SRP_AUTH is not enabled for the client."));
                }
                let username = param("USERNAME")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                let srp_a = param("SRP_A")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter SRP_A"))?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                self.srp_challenge(&pool, &client, username, srp_a, false, Vec::new(), &metadata).await?
            }
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
                let token = param("REFRESH_TOKEN")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter REFRESH_TOKEN"))?;
                let issued =
                    self.refresh(&pool, &client, token, RefreshSecret::Hash(param("SECRET_HASH")), false).await?;
                Outcome::Tokens(issued)
            }
            "CUSTOM_AUTH" => {
                if !client.allows("ALLOW_CUSTOM_AUTH") {
                    return Err(CognitoError::invalid_parameter("Custom auth flow not enabled for this client."));
                }
                let username = param("USERNAME")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                if pool.trigger("DefineAuthChallenge").is_none() {
                    return Err(CognitoError::invalid_parameter(
                        "Custom auth lambda trigger is not configured for the user pool.",
                    ));
                }
                let user = self.usable_user(&pool, &client, username).await?;
                self.pre_authentication(&pool, &client, &user, &metadata).await?;
                if let Some(srp_a) = param("SRP_A").filter(|_| param("CHALLENGE_NAME") == Some("SRP_A")) {
                    let steps = Vec::new();
                    return Ok(outcome_json(
                        self.srp_challenge(&pool, &client, username, srp_a, true, steps, &metadata).await?,
                    ));
                }
                self.define_next(&pool, &client, user, Vec::new(), &metadata).await?
            }
            "USER_AUTH" => {
                if !client.allows("ALLOW_USER_AUTH") {
                    return Err(CognitoError::invalid_parameter("USER_AUTH flow not enabled for this client."));
                }
                let username = param("USERNAME")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                match input.str("Session")? {
                    Some(session) => {
                        self.confirmed_sign_up_sign_in(&pool, &client, username, session, &metadata).await?
                    }
                    None => self.user_auth(&pool, &client, username, &parameters, &metadata).await?,
                }
            }
            other => {
                return Err(CognitoError::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]"
                )));
            }
        };
        Ok(outcome_json(outcome))
    }

    /// The user a sign-in names, refusing what Cognito refuses before any
    /// password: missing (worded by `PreventUserExistenceErrors`) or disabled.
    pub(crate) async fn usable_user(&self, pool: &UserPool, client: &AppClient, username: &str) -> Result<User> {
        let Some(found) = self.find_user(pool, username).await? else {
            return Err(if client.prevent_user_existence_errors {
                CognitoError::incorrect_credentials()
            } else {
                CognitoError::no_user()
            });
        };
        let user = found.value;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        Ok(user)
    }

    pub(crate) fn check_lockout(user: &User) -> Result<()> {
        if user.failures.locked_until > now() {
            return Err(CognitoError::not_authorized("Password attempts exceeded"));
        }
        Ok(())
    }

    /// Counts a failed sign-in; past the free ones, the user is locked out
    /// for twice as long as the last time.
    pub(crate) async fn count_failure(&self, pool: &UserPool, username: &str) -> Result<()> {
        self.update_user(pool, username, |user| {
            Self::note_failure(user);
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// One more failure (a password, a TOTP code, an OTP): past the free
    /// ones, a lockout twice as long as the last.
    pub(crate) fn note_failure(user: &mut User) {
        user.failures.count += 1;
        if user.failures.count >= FREE_FAILURES {
            let doublings = (user.failures.count - FREE_FAILURES).min(20);
            let seconds = f64::from(1u32 << doublings).min(MAX_LOCKOUT_SECONDS);
            user.failures.locked_until = now() + seconds;
        }
    }

    /// The statuses that stop a sign-in once the password is right.
    pub(crate) fn check_status(pool: &UserPool, user: &User) -> Result<()> {
        match user.status {
            UserStatus::Unconfirmed => Err(CognitoError::user_not_confirmed("User is not confirmed.")),
            UserStatus::ResetRequired => {
                Err(CognitoError::password_reset_required("Password reset required for the user"))
            }
            UserStatus::ForceChangePassword => {
                let expired = user.password.as_ref().is_some_and(|password| {
                    pool.temporary_password_days > 0
                        && now() - password.set > f64::from(pool.temporary_password_days) * 86_400.0
                });
                if expired {
                    return Err(CognitoError::not_authorized(
                        "Temporary password has expired and must be reset by an administrator.",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A password sign-in up to the first factor: the user, its lockout,
    /// the pre authentication trigger, the password, its status.
    pub(crate) async fn password_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        password: &str,
        metadata: &Value,
    ) -> Result<User> {
        let found = self.find_user(pool, username).await?;
        let Some(user) = found.map(|found| found.value) else {
            // As slow as a wrong password, so timing tells nothing.
            self.hasher.matches(None, password).await?;
            return Err(if client.prevent_user_existence_errors {
                CognitoError::incorrect_credentials()
            } else {
                CognitoError::no_user()
            });
        };
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        Self::check_lockout(&user)?;
        self.pre_authentication(pool, client, &user, metadata).await?;
        let user = self.reserve_attempt(pool, &user.username).await?;
        if !self.hasher.matches(user.password.as_ref(), password).await? {
            return Err(CognitoError::incorrect_credentials());
        }
        self.status_after_right_proof(pool, user).await
    }

    /// The proof was right: the attempt reserved for it is no failure, even
    /// when the user's status stops the sign-in (an unconfirmed user who
    /// knows the password is not guessing).
    async fn status_after_right_proof(&self, pool: &UserPool, user: User) -> Result<User> {
        if let Err(refused) = Self::check_status(pool, &user) {
            self.clear_failures(pool, user).await?;
            return Err(refused);
        }
        Ok(user)
    }

    /// Counts an attempt as failed before its proof is checked (the
    /// success that follows clears it): parallel guesses each take one,
    /// so a lockout cannot be raced past by sending them all at once.
    pub(crate) async fn reserve_attempt(&self, pool: &UserPool, username: &str) -> Result<User> {
        self.update_user(pool, username, |user| {
            Self::check_lockout(user)?;
            Self::note_failure(user);
            Ok(())
        })
        .await
    }

    async fn pre_authentication(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        metadata: &Value,
    ) -> Result<()> {
        self.triggers
            .run(Event {
                pool,
                trigger: "PreAuthentication",
                source: "PreAuthentication_Authentication",
                client_id: Some(&client.id),
                username: &user.username,
                request: json!({ "userAttributes": user_attributes(user), "validationData": {}, "userNotFound": false, "clientMetadata": metadata }),
                response: json!({}),
            })
            .await?;
        Ok(())
    }

    /// `PASSWORD_VERIFIER`'s parameters for `username`. An unknown user,
    /// when existence errors are prevented, gets a challenge that looks
    /// the same and can never be answered.
    #[allow(clippy::too_many_arguments)]
    async fn srp_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        srp_a: &str,
        custom: bool,
        steps: Vec<ChallengeStep>,
        metadata: &Value,
    ) -> Result<Outcome> {
        if srp::check_srp_a(srp_a).is_err() {
            return Err(CognitoError::invalid_parameter("SRP_A is not a valid value."));
        }
        let user = match self.find_user(pool, username).await? {
            Some(found) => Some(found.value),
            None if client.prevent_user_existence_errors => None,
            None => return Err(CognitoError::no_user()),
        };
        if let Some(user) = &user {
            if !user.enabled {
                return Err(CognitoError::not_authorized("User is disabled."));
            }
            Self::check_lockout(user)?;
            if !custom {
                self.pre_authentication(pool, client, user, metadata).await?;
            }
        }
        let (internal, verifier) = match user.as_ref().and_then(|u| u.password.as_ref().map(|p| (u, p))) {
            Some((user, password)) => (user.username.clone(), password.srp.clone()),
            None => self.stand_in(pool, username),
        };
        let for_challenge = verifier.clone();
        let challenge = self
            .hasher
            .cpu(move || srp::challenge(&for_challenge))
            .await?
            .map_err(|_| CognitoError::internal("cannot start SRP"))?;
        let state = SrpState {
            pool_id: pool.id.clone(),
            username: internal.clone(),
            secret_b: hex::encode(&challenge.secret_b),
            srp_b: challenge.srp_b.clone(),
            srp_a: srp_a.to_owned(),
            client_id: client.id.clone(),
            custom,
            steps,
        };
        let secret_block = self.sealer.seal(SECRET_BLOCK, i64::from(client.auth_session_minutes) * 60, &state);
        let mut parameters = Map::new();
        parameters.insert("SALT".into(), json!(verifier.salt));
        parameters.insert("SECRET_BLOCK".into(), json!(secret_block_base64(&secret_block)));
        parameters.insert("SRP_B".into(), json!(challenge.srp_b));
        parameters.insert("USERNAME".into(), json!(internal));
        parameters.insert("USER_ID_FOR_SRP".into(), json!(internal));
        Ok(Outcome::Challenge { name: "PASSWORD_VERIFIER".into(), parameters, session: None, available: Vec::new() })
    }

    /// What `PASSWORD_VERIFIER` shows for a user that does not exist, when
    /// existence errors are prevented: a salt and (in pools that sign in
    /// with an email or phone) a `USER_ID_FOR_SRP` that are the same on
    /// every call and every replica, as a real user's are, so two calls
    /// tell nothing. No password matches the verifier.
    fn stand_in(&self, pool: &UserPool, username: &str) -> (String, srp::Verifier) {
        let seed = format!("{}\0{}", pool.id, username.to_lowercase());
        let salt = self.sealer.fingerprint("srp salt", seed.as_bytes());
        let salt = hex::encode(&salt[..16]);
        // padHex: a leading nibble of 8 or more reads as negative.
        let salt = if salt.as_bytes()[0] >= b'8' { format!("00{salt}") } else { salt };
        let verifier = hex::encode(self.sealer.fingerprint("srp verifier", seed.as_bytes()));
        let internal = if pool.username_attributes.is_empty() {
            username.to_owned()
        } else {
            let mut id = [0u8; 16];
            id.copy_from_slice(&self.sealer.fingerprint("srp user", seed.as_bytes())[..16]);
            uuid::Builder::from_random_bytes(id).into_uuid().to_string()
        };
        (internal, srp::Verifier { salt, verifier })
    }

    /// The password is right: a new password, MFA, or tokens.
    async fn after_first_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        metadata: &Value,
    ) -> Result<Outcome> {
        let user = self.clear_failures(pool, user).await?;
        if user.status == UserStatus::ForceChangePassword {
            let attributes: Map<String, Value> = user
                .attributes
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "sub" | "email_verified" | "phone_number_verified"))
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect();
            let missing: Vec<String> = pool
                .required_attributes
                .iter()
                .filter(|name| user.attribute(name).is_none_or(str::is_empty))
                .map(|name| format!("userAttributes.{name}"))
                .collect();
            let mut parameters = Map::new();
            parameters.insert("USER_ID_FOR_SRP".into(), json!(user.username));
            parameters.insert("requiredAttributes".into(), json!(serde_json::to_string(&missing).unwrap_or_default()));
            parameters.insert("userAttributes".into(), json!(Value::Object(attributes).to_string()));
            return Ok(self.challenge(pool, client, &user, "NEW_PASSWORD_REQUIRED", parameters));
        }
        self.second_factor(pool, client, user, metadata).await
    }

    fn challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        name: &str,
        parameters: Map<String, Value>,
    ) -> Outcome {
        let state = SessionState {
            pool_id: pool.id.clone(),
            client_id: client.id.clone(),
            username: user.username.clone(),
            challenge: name.to_owned(),
            steps: Vec::new(),
            private: Value::Null,
            custom: false,
            mfa_ready: false,
        };
        Outcome::Challenge {
            name: name.to_owned(),
            parameters,
            session: Some(self.seal_session(client, &state)),
            available: Vec::new(),
        }
    }

    /// MFA when the pool asks for it, else tokens.
    async fn second_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        metadata: &Value,
    ) -> Result<Outcome> {
        match Self::second_factor_of(pool, &user)? {
            SecondFactor::None => Ok(Outcome::Tokens(self.tokens_for(pool, client, &user, None, metadata).await?)),
            SecondFactor::Totp => {
                let mut parameters = Map::new();
                parameters.insert("USER_ID_FOR_SRP".into(), json!(user.username));
                Ok(self.challenge(pool, client, &user, "SOFTWARE_TOKEN_MFA", parameters))
            }
            SecondFactor::SetUp => {
                let mut parameters = Map::new();
                parameters.insert("MFAS_CAN_SETUP".into(), json!("[\"SOFTWARE_TOKEN_MFA\"]"));
                Ok(self.challenge(pool, client, &user, "MFA_SETUP", parameters))
            }
        }
    }

    /// What a sign-in asks once its first factor passed, by the pool's MFA
    /// configuration: the API and the hosted UI decide it here, once.
    pub(crate) fn second_factor_of(pool: &UserPool, user: &User) -> Result<SecondFactor> {
        let totp = user.mfa.totp_enabled && user.mfa.totp_secret.is_some() && pool.software_token_mfa;
        let wanted = match pool.mfa {
            MfaConfiguration::Off => false,
            MfaConfiguration::On => true,
            MfaConfiguration::Optional => totp,
        };
        match (wanted, totp) {
            (false, _) => Ok(SecondFactor::None),
            (true, true) => Ok(SecondFactor::Totp),
            (true, false) if pool.software_token_mfa => Ok(SecondFactor::SetUp),
            (true, false) => Err(CognitoError::invalid_configuration(
                "The user pool has MFA on but no factor nubo can use; enable software token MFA.",
            )),
        }
    }

    /// A passed first factor clears the failures counted so far.
    pub(crate) async fn clear_failures(&self, pool: &UserPool, user: User) -> Result<User> {
        if user.failures.count == 0 {
            return Ok(user);
        }
        self.update_user(pool, &user.username, |user| {
            user.failures = Default::default();
            Ok(())
        })
        .await
    }

    /// Tokens for a completed sign-in, through the pre token generation
    /// and post authentication triggers, with a new refresh grant.
    pub(crate) async fn tokens_for(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        grant: Option<(String, i64, Vec<String>)>,
        metadata: &Value,
    ) -> Result<crate::tokens::Issued> {
        let source = if grant.is_some() { "TokenGeneration_RefreshTokens" } else { "TokenGeneration_Authentication" };
        let granted = grant.as_ref().map_or_else(|| vec![ADMIN_SCOPE.to_owned()], |(_, _, scopes)| scopes.clone());
        let overrides = self.pre_token_generation(pool, client, user, source, &granted, metadata).await?;
        let (origin, auth_time, scopes, refresh) = match grant {
            Some((origin, auth_time, scopes)) => (origin, auth_time, scopes, None),
            None => {
                let auth_time = chrono::Utc::now().timestamp();
                let scopes = vec![ADMIN_SCOPE.to_owned()];
                let (grant_id, token) = self.tokens.grant(pool, client, user, auth_time, &scopes, None).await?;
                (grant_id, auth_time, scopes, Some(token))
            }
        };
        let session = TokenSession {
            pool,
            client,
            user,
            auth_time,
            origin_jti: origin,
            scopes,
            nonce: None,
            overrides: overrides.as_ref(),
        };
        let issued = self.tokens.issue(&session, refresh).await?;
        if source == "TokenGeneration_Authentication" {
            self.triggers
                .run(Event {
                    pool,
                    trigger: "PostAuthentication",
                    source: "PostAuthentication_Authentication",
                    client_id: Some(&client.id),
                    username: &user.username,
                    request: json!({ "userAttributes": user_attributes(user), "newDeviceUsed": false, "clientMetadata": metadata }),
                    response: json!({}),
                })
                .await?;
        }
        Ok(issued)
    }

    /// Runs the pre token generation trigger (event version 2), reading
    /// both its version 1 (`claimsOverrideDetails`) and version 2
    /// (`claimsAndScopeOverrideDetails`) answers.
    pub(crate) async fn pre_token_generation(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        source: &str,
        scopes: &[String],
        metadata: &Value,
    ) -> Result<Option<ClaimOverrides>> {
        if pool.trigger("PreTokenGeneration").is_none() {
            return Ok(None);
        }
        let groups: Vec<&String> = user.groups.iter().collect();
        let response = self
            .triggers
            .run(Event {
                pool,
                trigger: "PreTokenGeneration",
                source,
                client_id: Some(&client.id),
                username: &user.username,
                request: json!({
                    "userAttributes": user_attributes(user),
                    "groupConfiguration": { "groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": null },
                    "scopes": scopes,
                    "clientMetadata": metadata,
                }),
                response: json!({ "claimsOverrideDetails": null, "claimsAndScopeOverrideDetails": null }),
            })
            .await?;
        let mut overrides = ClaimOverrides::default();
        let strings = |value: Option<&Value>| -> Vec<String> {
            value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        let object = |value: Option<&Value>| value.and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some(v2) = response.get("claimsAndScopeOverrideDetails").filter(|v| v.is_object()) {
            overrides.id_add = object(v2.pointer("/idTokenGeneration/claimsToAddOrOverride"));
            overrides.id_suppress = strings(v2.pointer("/idTokenGeneration/claimsToSuppress"));
            overrides.access_add = object(v2.pointer("/accessTokenGeneration/claimsToAddOrOverride"));
            overrides.access_suppress = strings(v2.pointer("/accessTokenGeneration/claimsToSuppress"));
            overrides.access_scopes_add = strings(v2.pointer("/accessTokenGeneration/scopesToAdd"));
            overrides.access_scopes_suppress = strings(v2.pointer("/accessTokenGeneration/scopesToSuppress"));
            if let Some(groups) = v2.pointer("/groupOverrideDetails/groupsToOverride").filter(|g| g.is_array()) {
                overrides.groups = Some(strings(Some(groups)));
            }
        } else if let Some(v1) = response.get("claimsOverrideDetails").filter(|v| v.is_object()) {
            overrides.id_add = object(v1.get("claimsToAddOrOverride"));
            overrides.id_suppress = strings(v1.get("claimsToSuppress"));
            if let Some(groups) = v1.pointer("/groupOverrideDetails/groupsToOverride").filter(|g| g.is_array()) {
                overrides.groups = Some(strings(Some(groups)));
            }
        }
        Ok(Some(overrides))
    }

    pub(crate) async fn respond_to_auth_challenge(&self, input: &Input, admin: bool) -> Result<Value> {
        let (pool, client) = self.sign_in_client(input, admin).await?;
        let name = input.required("ChallengeName")?;
        let responses = input.string_map("ChallengeResponses")?;
        let response = |key: &str| responses.get(key).map(String::as_str);
        let metadata = input.get("ClientMetadata").cloned().unwrap_or(json!({}));
        let outcome = match name {
            "PASSWORD_VERIFIER" => self.password_verifier(&pool, &client, &responses, &metadata).await?,
            "NEW_PASSWORD_REQUIRED" => {
                let state = self.session_for(&pool, &client, input, name)?;
                let user = self.require_user(&pool, &state.username).await?.value;
                self.check_secret_hash_any(
                    &client,
                    &[&user.username, response("USERNAME").unwrap_or("")],
                    response("SECRET_HASH"),
                )?;
                let password = response("NEW_PASSWORD")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter NEW_PASSWORD"))?;
                passwords::check_policy(&pool.password_policy, password)?;
                let attributes: Vec<(String, String)> = responses
                    .iter()
                    .filter_map(|(key, value)| {
                        key.strip_prefix("userAttributes.").map(|n| (n.to_owned(), value.clone()))
                    })
                    .collect();
                Self::check_attributes(&pool, &attributes, false)?;
                if attributes.iter().any(|(name, _)| name.ends_with("_verified")) {
                    return Err(CognitoError::invalid_parameter(
                        "Attributes did not conform to the schema: a user cannot mark its own attributes verified\n",
                    ));
                }
                if !client.write_attributes.is_empty()
                    && let Some((name, _)) = attributes.iter().find(|(name, _)| !client.write_attributes.contains(name))
                {
                    return Err(CognitoError::not_authorized(format!(
                        "A client attempted to write unauthorized attribute {name}"
                    )));
                }
                // Every required attribute, had or given, before anything
                // is changed.
                for required in &pool.required_attributes {
                    let given = attributes.iter().any(|(name, value)| name == required && !value.is_empty());
                    if !given && user.attribute(required).is_none_or(str::is_empty) {
                        return Err(CognitoError::invalid_parameter(format!(
                            "Attributes did not conform to the schema: {required}: The attribute is required\n"
                        )));
                    }
                }
                let stored = self.hasher.password(&pool.id, &user.username, password, false).await?;
                let mut user = self
                    .update_user(&pool, &user.username, |user| {
                        // A session answered once (or a user changed since)
                        // sets no password again.
                        if user.status != UserStatus::ForceChangePassword {
                            return Err(invalid_session());
                        }
                        user.password = Some(stored.clone());
                        user.status = UserStatus::Confirmed;
                        Ok(())
                    })
                    .await?;
                if !attributes.is_empty() {
                    // As UpdateUserAttributes: verification and aliases follow.
                    self.change_attributes(&pool, &user.username, &attributes, false).await?;
                    user = self.require_user(&pool, &user.username).await?.value;
                }
                self.second_factor(&pool, &client, user, &metadata).await?
            }
            "SOFTWARE_TOKEN_MFA" => {
                let state = self.session_for(&pool, &client, input, name)?;
                let user = self.require_user(&pool, &state.username).await?.value;
                let code = response("SOFTWARE_TOKEN_MFA_CODE").ok_or_else(|| {
                    CognitoError::invalid_parameter("Missing required parameter SOFTWARE_TOKEN_MFA_CODE")
                })?;
                self.check_totp(&pool, &user, code).await?;
                Outcome::Tokens(self.tokens_for(&pool, &client, &user, None, &metadata).await?)
            }
            "MFA_SETUP" => {
                let state = self.session_for(&pool, &client, input, name)?;
                if !state.mfa_ready {
                    return Err(CognitoError::invalid_parameter(
                        "Software token MFA has not been verified in this session.",
                    ));
                }
                let user = self.require_user(&pool, &state.username).await?.value;
                Outcome::Tokens(self.tokens_for(&pool, &client, &user, None, &metadata).await?)
            }
            "SELECT_MFA_TYPE" => {
                let state = self.session_for(&pool, &client, input, name)?;
                let user = self.require_user(&pool, &state.username).await?.value;
                self.second_factor(&pool, &client, user, &metadata).await?
            }
            "CUSTOM_CHALLENGE" => {
                let state = self.session_for(&pool, &client, input, name)?;
                let user = self.require_user(&pool, &state.username).await?.value;
                let answer = response("ANSWER")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter ANSWER"))?;
                let verdict = self
                    .triggers
                    .run(Event {
                        pool: &pool,
                        trigger: "VerifyAuthChallengeResponse",
                        source: "VerifyAuthChallengeResponse_Authentication",
                        client_id: Some(&client.id),
                        username: &user.username,
                        request: json!({
                            "userAttributes": user_attributes(&user),
                            "privateChallengeParameters": state.private,
                            "challengeAnswer": answer,
                            "clientMetadata": metadata,
                            "userNotFound": false,
                        }),
                        response: json!({ "answerCorrect": false }),
                    })
                    .await?;
                let correct = verdict.get("answerCorrect").and_then(Value::as_bool).unwrap_or(false);
                let mut steps = state.steps;
                if let Some(last) = steps.last_mut() {
                    last.result = correct;
                }
                self.define_next(&pool, &client, user, steps, &metadata).await?
            }
            "EMAIL_OTP" => {
                let state = self.session_for(&pool, &client, input, name)?;
                Self::check_lockout(&self.require_user(&pool, &state.username).await?.value)?;
                let code = response("EMAIL_OTP_CODE")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter EMAIL_OTP_CODE"))?;
                let user = match self.use_code(&pool, &state.username, CodePurpose::SignIn, code).await {
                    Ok(user) => user,
                    Err(error) => {
                        self.count_failure(&pool, &state.username).await?;
                        return Err(error);
                    }
                };
                Self::check_status(&pool, &user)?;
                Outcome::Tokens(self.tokens_for(&pool, &client, &user, None, &metadata).await?)
            }
            "SELECT_CHALLENGE" => {
                let state = self.session_for(&pool, &client, input, name)?;
                let mut parameters: BTreeMap<String, String> = responses.clone();
                let answer = response("ANSWER")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter ANSWER"))?;
                parameters.insert("PREFERRED_CHALLENGE".into(), answer.to_owned());
                self.user_auth(&pool, &client, &state.username, &parameters, &metadata).await?
            }
            "PASSWORD" | "PASSWORD_SRP" => {
                let state = self.session_for(&pool, &client, input, "SELECT_CHALLENGE")?;
                let mut parameters: BTreeMap<String, String> = responses.clone();
                parameters.insert("PREFERRED_CHALLENGE".into(), name.to_owned());
                self.user_auth(&pool, &client, &state.username, &parameters, &metadata).await?
            }
            other => {
                return Err(CognitoError::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'challengeName' failed to satisfy constraint: Member must satisfy enum value set"
                )));
            }
        };
        Ok(outcome_json(outcome))
    }

    /// The session sent with an answer, checked to be for this client and
    /// this challenge.
    fn session_for(&self, pool: &UserPool, client: &AppClient, input: &Input, challenge: &str) -> Result<SessionState> {
        let state = self.open_session(input.str("Session")?)?;
        if state.pool_id != pool.id || state.client_id != client.id || state.challenge != challenge {
            return Err(invalid_session());
        }
        Ok(state)
    }

    async fn password_verifier(
        &self,
        pool: &UserPool,
        client: &AppClient,
        responses: &BTreeMap<String, String>,
        metadata: &Value,
    ) -> Result<Outcome> {
        let response = |key: &str| {
            responses
                .get(key)
                .map(String::as_str)
                .ok_or_else(|| CognitoError::invalid_parameter(format!("Missing required parameter {key}")))
        };
        let block = response("PASSWORD_CLAIM_SECRET_BLOCK")?;
        let state: SrpState = STANDARD
            .decode(block)
            .ok()
            .and_then(|sealed| String::from_utf8(sealed).ok())
            .and_then(|sealed| self.sealer.open(SECRET_BLOCK, &sealed))
            .ok_or_else(invalid_session)?;
        // A sign-in begun through one client is finished through it: another
        // client's allowed flows would be skipped otherwise.
        if state.pool_id != pool.id || state.client_id != client.id {
            return Err(invalid_session());
        }
        let username = responses.get("USERNAME").map(String::as_str).unwrap_or(&state.username);
        self.check_secret_hash_any(
            client,
            &[&state.username, username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let timestamp = response("TIMESTAMP")?;
        let signature = response("PASSWORD_CLAIM_SIGNATURE")?;
        if !srp::timestamp_is_fresh(timestamp, chrono::Utc::now()) {
            return Err(CognitoError::not_authorized("Timestamp is not in the expected format or time window."));
        }
        let Some(user) = self.find_user(pool, &state.username).await?.map(|found| found.value) else {
            return Err(CognitoError::incorrect_credentials());
        };
        if user.password.is_none() {
            return Err(CognitoError::incorrect_credentials());
        }
        let user = self.reserve_attempt(pool, &user.username).await?;
        let Some(password) = &user.password else { return Err(CognitoError::incorrect_credentials()) };
        let secret_b = hex::decode(&state.secret_b).map_err(|_| invalid_session())?;
        let block_bytes = STANDARD.decode(block).map_err(|_| invalid_session())?;
        let (pool_name, user_id, verifier, srp_a) =
            (srp::pool_name(&pool.id).to_owned(), user.username.clone(), password.srp.clone(), state.srp_a.clone());
        let (timestamp, signature) = (timestamp.to_owned(), signature.to_owned());
        let matches = self
            .hasher
            .cpu(move || {
                srp::password_claim_matches(
                    &pool_name,
                    &user_id,
                    &verifier,
                    &secret_b,
                    &srp_a,
                    &block_bytes,
                    &timestamp,
                    &signature,
                )
                .unwrap_or(false)
            })
            .await?;
        if !matches {
            // The attempt was counted when it was reserved.
            if state.custom {
                let mut steps = state.steps;
                steps.push(ChallengeStep { name: "PASSWORD_VERIFIER".into(), result: false, metadata: None });
                return self.define_next(pool, client, user, steps, metadata).await;
            }
            return Err(CognitoError::incorrect_credentials());
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let user = self.status_after_right_proof(pool, user).await?;
        if state.custom {
            let mut steps = state.steps;
            steps.push(ChallengeStep { name: "SRP_A".into(), result: true, metadata: None });
            steps.push(ChallengeStep { name: "PASSWORD_VERIFIER".into(), result: true, metadata: None });
            return self.define_next(pool, client, user, steps, metadata).await;
        }
        self.after_first_factor(pool, client, user, metadata).await
    }

    /// Custom authentication's next step: the define trigger decides from
    /// the steps so far; a new custom challenge comes from the create
    /// trigger.
    async fn define_next(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        mut steps: Vec<ChallengeStep>,
        metadata: &Value,
    ) -> Result<Outcome> {
        let session: Vec<Value> = steps
            .iter()
            .map(|step| json!({ "challengeName": step.name, "challengeResult": step.result, "challengeMetadata": step.metadata }))
            .collect();
        let decision = self
            .triggers
            .run(Event {
                pool,
                trigger: "DefineAuthChallenge",
                source: "DefineAuthChallenge_Authentication",
                client_id: Some(&client.id),
                username: &user.username,
                request: json!({ "userAttributes": user_attributes(&user), "session": session, "clientMetadata": metadata, "userNotFound": false }),
                response: json!({ "challengeName": null, "issueTokens": false, "failAuthentication": false }),
            })
            .await?;
        if decision.get("failAuthentication").and_then(Value::as_bool).unwrap_or(false) {
            return Err(CognitoError::incorrect_credentials());
        }
        if decision.get("issueTokens").and_then(Value::as_bool).unwrap_or(false) {
            Self::check_status(pool, &user)?;
            return self.after_first_factor(pool, client, user, metadata).await;
        }
        let challenge = decision.get("challengeName").and_then(Value::as_str).unwrap_or("");
        match challenge {
            "CUSTOM_CHALLENGE" => {
                let created = self
                    .triggers
                    .run(Event {
                        pool,
                        trigger: "CreateAuthChallenge",
                        source: "CreateAuthChallenge_Authentication",
                        client_id: Some(&client.id),
                        username: &user.username,
                        request: json!({
                            "userAttributes": user_attributes(&user),
                            "challengeName": "CUSTOM_CHALLENGE",
                            "session": session,
                            "clientMetadata": metadata,
                            "userNotFound": false,
                        }),
                        response: json!({ "publicChallengeParameters": {}, "privateChallengeParameters": {}, "challengeMetadata": null }),
                    })
                    .await?;
                let mut parameters: Map<String, Value> = created
                    .get("publicChallengeParameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map(|s| json!(s)).unwrap_or_else(|| json!(v.to_string()))))
                    .collect();
                parameters.insert("USERNAME".into(), json!(user.username));
                steps.push(ChallengeStep {
                    name: "CUSTOM_CHALLENGE".into(),
                    result: false,
                    metadata: created.get("challengeMetadata").and_then(Value::as_str).map(str::to_owned),
                });
                let state = SessionState {
                    pool_id: pool.id.clone(),
                    client_id: client.id.clone(),
                    username: user.username.clone(),
                    challenge: "CUSTOM_CHALLENGE".into(),
                    steps,
                    private: created.get("privateChallengeParameters").cloned().unwrap_or(json!({})),
                    custom: true,
                    mfa_ready: false,
                };
                Ok(Outcome::Challenge {
                    name: "CUSTOM_CHALLENGE".into(),
                    parameters,
                    session: Some(self.seal_session(client, &state)),
                    available: Vec::new(),
                })
            }
            "PASSWORD_VERIFIER" => Err(CognitoError::invalid_lambda_response(
                "DefineAuthChallenge asked for PASSWORD_VERIFIER before SRP_A.",
            )),
            _ => Err(CognitoError::invalid_lambda_response("Unrecognizable lambda output")),
        }
    }

    /// `USER_AUTH`: the preferred first factor if one is named and
    /// available, else the choice (`SELECT_CHALLENGE`).
    async fn user_auth(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        parameters: &BTreeMap<String, String>,
        metadata: &Value,
    ) -> Result<Outcome> {
        let user = self.usable_user(pool, client, username).await?;
        Self::check_lockout(&user)?;
        let allowed = pool.first_factors();
        let mut available: Vec<&str> = Vec::new();
        if allowed.iter().any(|f| f == "PASSWORD") && user.password.is_some() {
            available.extend(["PASSWORD", "PASSWORD_SRP"]);
        }
        if allowed.iter().any(|f| f == "EMAIL_OTP") && user.attribute("email").is_some() {
            available.push("EMAIL_OTP");
        }
        let preferred = parameters.get("PREFERRED_CHALLENGE").map(String::as_str);
        match preferred {
            Some("PASSWORD") if available.contains(&"PASSWORD") => {
                let password = parameters
                    .get("PASSWORD")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter PASSWORD"))?;
                let user = self.password_sign_in(pool, client, &user.username, password, metadata).await?;
                self.after_first_factor(pool, client, user, metadata).await
            }
            Some("PASSWORD_SRP") if available.contains(&"PASSWORD_SRP") => {
                let srp_a = parameters
                    .get("SRP_A")
                    .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter SRP_A"))?;
                self.srp_challenge(pool, client, &user.username, srp_a, false, Vec::new(), metadata).await
            }
            Some("EMAIL_OTP") if available.contains(&"EMAIL_OTP") => {
                let details = self
                    .send_code(pool, &user.username, CodePurpose::SignIn, Some("email"), "Authentication")
                    .await?
                    .ok_or_else(|| CognitoError::invalid_parameter("The user has no email address."))?;
                let mut challenge = Map::new();
                challenge.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), json!("EMAIL"));
                challenge.insert("CODE_DELIVERY_DESTINATION".into(), details["Destination"].clone());
                Ok(self.challenge(pool, client, &user, "EMAIL_OTP", challenge))
            }
            Some(other) if !other.is_empty() && !available.contains(&other) => {
                Err(CognitoError::invalid_parameter(format!("The challenge {other} is not available for this user.")))
            }
            _ => {
                let mut parameters = Map::new();
                parameters.insert("USERNAME".into(), json!(user.username));
                let mut challenge = self.challenge(pool, client, &user, "SELECT_CHALLENGE", parameters);
                if let Outcome::Challenge { available: offered, .. } = &mut challenge {
                    *offered = available.iter().map(|&name| name.to_owned()).collect();
                }
                Ok(challenge)
            }
        }
    }

    /// The `Session` SignUp (`confirmed: false`) or ConfirmSignUp
    /// (`confirmed: true`) answers with. It carries the user's `modified`
    /// time, so it signs in only once and only the user as it was then: the
    /// sign-in it starts changes that time, as any change of the user does.
    pub(crate) fn sign_up_session(&self, pool: &UserPool, client: &AppClient, user: &User, confirmed: bool) -> String {
        let state = SessionState {
            pool_id: pool.id.clone(),
            client_id: client.id.clone(),
            username: user.username.clone(),
            challenge: if confirmed { CONFIRMED_SIGN_UP } else { SIGNED_UP }.to_owned(),
            steps: Vec::new(),
            private: json!(user.modified),
            custom: false,
            mfa_ready: false,
        };
        self.seal_session(client, &state)
    }

    /// `USER_AUTH` with SignUp's or ConfirmSignUp's `Session` (Amplify's
    /// `autoSignIn`): the sign-up just confirmed is the first factor, MFA
    /// follows as the pool asks.
    async fn confirmed_sign_up_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        session: &str,
        metadata: &Value,
    ) -> Result<Outcome> {
        let state: SessionState = self.sealer.open(SESSION, session).ok_or_else(invalid_session)?;
        let from_sign_up = [SIGNED_UP, CONFIRMED_SIGN_UP].contains(&state.challenge.as_str());
        if state.pool_id != pool.id || state.client_id != client.id || !from_sign_up {
            return Err(invalid_session());
        }
        let user = self.usable_user(pool, client, username).await?;
        if user.username != state.username || user.status != UserStatus::Confirmed {
            return Err(invalid_session());
        }
        self.pre_authentication(pool, client, &user, metadata).await?;
        // Spends the session, atomically: the update moves `modified` on,
        // and a second use (or any change since) finds another time.
        let user = self
            .update_user(pool, &user.username, |user| {
                if state.private == json!(user.modified) { Ok(()) } else { Err(invalid_session()) }
            })
            .await?;
        self.after_first_factor(pool, client, user, metadata).await
    }

    /// Checks a TOTP code and spends its time step.
    pub(crate) async fn check_totp(&self, pool: &UserPool, user: &User, code: &str) -> Result<()> {
        let secret = user
            .mfa
            .totp_secret
            .clone()
            .ok_or_else(|| CognitoError::software_token_not_found("Software token MFA has not been set up."))?;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let mut accepted = false;
        self.update_user(pool, &user.username, |user| {
            // Checked and counted in one compare-and-set, so parallel
            // guesses cannot race past the lockout.
            Self::check_lockout(user)?;
            accepted = false;
            match mfa::accepted_step(&secret, code, now, user.mfa.last_totp_step) {
                Some(step) => {
                    user.mfa.last_totp_step = step;
                    user.failures = Default::default();
                    accepted = true;
                }
                None => Self::note_failure(user),
            }
            Ok(())
        })
        .await?;
        if !accepted {
            return Err(CognitoError::code_mismatch("Invalid code received for user"));
        }
        Ok(())
    }

    /// New tokens from a refresh token: its grant must be live, its client
    /// the one asking, its user still signed in. With rotation on, a new
    /// refresh token replaces it (the old one stays good for the client's
    /// grace period).
    pub(crate) async fn refresh(
        &self,
        pool: &UserPool,
        client: &AppClient,
        token: &str,
        secret: RefreshSecret<'_>,
        rotate_allowed: bool,
    ) -> Result<crate::tokens::Issued> {
        if client.refresh_token_rotation && !rotate_allowed {
            // Cognito: rotation is completed with GetTokensFromRefreshToken
            // only; REFRESH_TOKEN_AUTH is refused for such clients.
            return Err(CognitoError::invalid_parameter(
                "Refresh token rotation is enabled for this client: refresh with GetTokensFromRefreshToken.",
            ));
        }
        let invalid = || CognitoError::not_authorized("Invalid Refresh Token");
        let (grant_id, grant, version) = self.tokens.grant_of(token).await?.ok_or_else(invalid)?;
        if grant.client_id != client.id || grant.pool_id != pool.id {
            return Err(invalid());
        }
        let user = self.find_user(pool, &grant.username).await?.map(|found| found.value).ok_or_else(invalid)?;
        match secret {
            RefreshSecret::Hash(hash) => {
                self.check_secret_hash_any(client, &[&user.username, &user.sub], hash)?;
            }
            RefreshSecret::Secret(given) => {
                if let Some(expected) = &client.secret {
                    let given = given.unwrap_or("");
                    if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes())) {
                        return Err(CognitoError::not_authorized(format!(
                            "Unable to verify secret hash for client {}",
                            client.id
                        )));
                    }
                }
            }
        }
        let now = now();
        if grant.revoked || grant.issued < user.tokens_valid_after {
            return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
        }
        if grant.replaced_until.is_some_and(|until| until < now) {
            return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
        }
        if grant.expires < now {
            return Err(CognitoError::not_authorized("Refresh Token has expired"));
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let metadata = json!({});
        if client.refresh_token_rotation {
            let (new_grant, new_token) =
                self.tokens.grant(pool, client, &user, grant.auth_time, &grant.scopes, Some(grant.expires)).await?;
            let grace = f64::from(client.rotation_grace_seconds);
            // Two refreshes racing on one token: the first replaces it; the
            // other succeeds only inside the grace period.
            if !self.tokens.replace_if(&grant_id, version, now + grace).await? {
                let replaced = self.tokens.grant_by_id(&grant_id).await?.and_then(|grant| grant.replaced_until);
                if replaced.is_none_or(|until| until <= now) {
                    return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
                }
            }
            let overrides = self
                .pre_token_generation(pool, client, &user, "TokenGeneration_RefreshTokens", &grant.scopes, &metadata)
                .await?;
            let session = TokenSession {
                pool,
                client,
                user: &user,
                auth_time: grant.auth_time,
                origin_jti: new_grant,
                scopes: grant.scopes.clone(),
                nonce: None,
                overrides: overrides.as_ref(),
            };
            return self.tokens.issue(&session, Some(new_token)).await;
        }
        self.tokens_for(pool, client, &user, Some((grant_id, grant.auth_time, grant.scopes.clone())), &metadata).await
    }

    pub(crate) async fn get_tokens_from_refresh_token(&self, input: &Input) -> Result<Value> {
        let client = self.client(input.required("ClientId")?).await?;
        let pool = self.pool(&client.pool_id).await?;
        let token = input.required_nonempty("RefreshToken")?;
        let issued =
            self.refresh(&pool, &client, token, RefreshSecret::Secret(input.str("ClientSecret")?), true).await?;
        Ok(json!({ "AuthenticationResult": issued.to_json() }))
    }

    pub(crate) async fn revoke_token(&self, input: &Input) -> Result<Value> {
        let client = self.client(input.required("ClientId")?).await?;
        let token = input.required_nonempty("Token")?;
        if let Some(expected) = &client.secret {
            let given = input.str("ClientSecret")?.unwrap_or("");
            if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes())) {
                return Err(CognitoError::not_authorized(format!(
                    "Client {} is configured with secret but the secret was not given or is wrong",
                    client.id
                )));
            }
        }
        if !client.enable_token_revocation {
            return Err(CognitoError::unsupported_operation("Token revocation is not enabled for this client"));
        }
        if token.matches('.').count() == 2 && token.starts_with("eyJ") {
            return Err(CognitoError::unsupported_token_type("Unsupported token type"));
        }
        match self.tokens.grant_of(token).await? {
            Some((grant_id, grant, _)) if grant.client_id == client.id => self.tokens.revoke(&grant_id).await?,
            Some(_) => return Err(CognitoError::not_authorized("The token was not issued to this client.")),
            // RFC 7009: an unknown token is not an error.
            None => {}
        }
        Ok(json!({}))
    }
}

/// An `MFA_SETUP` challenge's session, as AssociateSoftwareToken and
/// VerifySoftwareToken take it.
#[derive(Debug, Clone)]
pub(crate) struct SetupSession {
    pub pool_id: String,
    pub username: String,
    state: SessionState,
}

impl Cognito {
    pub(crate) fn setup_session(&self, sealed: Option<&str>) -> Result<SetupSession> {
        let state = self.open_session(sealed)?;
        if state.challenge != "MFA_SETUP" {
            return Err(invalid_session());
        }
        Ok(SetupSession { pool_id: state.pool_id.clone(), username: state.username.clone(), state })
    }

    /// The setup session to hand back, marked ready once a factor is verified.
    pub(crate) fn reseal_setup(&self, session: &SetupSession, ready: bool) -> String {
        let mut state = session.state.clone();
        state.mfa_ready = state.mfa_ready || ready;
        // Setup sessions keep Cognito's default lifetime of three minutes.
        self.sealer.seal(SESSION, 180, &state)
    }
}

/// `SECRET_BLOCK` as the client receives it: base64 of the sealed state.
fn secret_block_base64(sealed: &str) -> String {
    STANDARD.encode(sealed.as_bytes())
}

/// How a refresh proves its client: a secret hash (REFRESH_TOKEN_AUTH) or
/// the client secret itself (GetTokensFromRefreshToken).
pub(crate) enum RefreshSecret<'a> {
    Hash(Option<&'a str>),
    Secret(Option<&'a str>),
}
