//! User pools, app clients, users and groups as they are kept in data.
//! Each is one record; what nubo does not interpret but Cognito echoes back
//! (message templates, email settings, ...) is kept as sent, in `settings`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::srp;

/// Seconds since the epoch with a fraction, as Cognito's JSON dates are.
pub type Timestamp = f64;

pub fn now() -> Timestamp {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_millis()) / 1000.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPool {
    pub id: String,
    pub name: String,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub password_policy: PasswordPolicy,
    /// `email` and/or `phone_number`: what users sign in with instead of
    /// a user name (the user name is then the user's `sub`).
    pub username_attributes: Vec<String>,
    /// `email`, `phone_number`, `preferred_username`: other names a user
    /// signs in with once verified.
    pub alias_attributes: Vec<String>,
    pub auto_verified_attributes: Vec<String>,
    pub case_sensitive: bool,
    pub mfa: MfaConfiguration,
    pub software_token_mfa: bool,
    /// Custom attributes only (named `custom:...`); the standard ones are
    /// the same for every pool.
    pub custom_attributes: Vec<SchemaAttribute>,
    /// Standard attributes the pool requires at sign-up.
    pub required_attributes: Vec<String>,
    pub admin_create_user_only: bool,
    pub temporary_password_days: u32,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    pub domain: Option<String>,
    /// Members echoed by DescribeUserPool as they were set.
    pub settings: Map<String, Value>,
}

impl UserPool {
    /// The function a trigger (`PreSignUp`, `PreTokenGeneration`, ...)
    /// runs, from the pool's `LambdaConfig`.
    pub fn trigger(&self, name: &str) -> Option<&str> {
        let config = self.settings.get("LambdaConfig")?;
        if name == "PreTokenGeneration"
            && let Some(arn) = config.pointer("/PreTokenGenerationConfig/LambdaArn").and_then(Value::as_str)
        {
            return Some(arn);
        }
        config.get(name).and_then(Value::as_str)
    }

    /// The first factors `USER_AUTH` offers (`Policies.SignInPolicy`):
    /// the password alone unless the pool says otherwise.
    pub fn first_factors(&self) -> Vec<String> {
        self.settings
            .get("SignInPolicy")
            .and_then(|policy| policy.get("AllowedFirstAuthFactors"))
            .and_then(Value::as_array)
            .map(|factors| factors.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_else(|| vec!["PASSWORD".to_owned()])
    }

    pub fn arn(&self, region: &str, account_id: &str) -> String {
        format!("arn:aws:cognito-idp:{region}:{account_id}:userpool/{}", self.id)
    }

    /// Whether users sign in with their email (or phone) rather than a name.
    pub fn signs_in_with(&self, attribute: &str) -> bool {
        self.username_attributes.iter().any(|a| a == attribute)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    /// Cognito's default policy: 8 characters, one of each class.
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MfaConfiguration {
    #[default]
    Off,
    On,
    Optional,
}

impl MfaConfiguration {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::On => "ON",
            Self::Optional => "OPTIONAL",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "OFF" => Some(Self::Off),
            "ON" => Some(Self::On),
            "OPTIONAL" => Some(Self::Optional),
            _ => None,
        }
    }
}

/// One attribute of the pool's schema, in Cognito's JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaAttribute {
    pub name: String,
    pub data_type: String,
    pub mutable: bool,
    pub required: bool,
    pub developer_only: bool,
    pub min_length: Option<String>,
    pub max_length: Option<String>,
    pub min_value: Option<String>,
    pub max_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppClient {
    pub id: String,
    pub pool_id: String,
    pub name: String,
    pub secret: Option<String>,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub explicit_auth_flows: Vec<String>,
    /// In seconds, whatever units the client was configured in.
    pub access_token_seconds: u64,
    pub id_token_seconds: u64,
    pub refresh_token_seconds: u64,
    pub auth_session_minutes: u32,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    pub default_redirect_uri: Option<String>,
    pub oauth_flows: Vec<String>,
    pub oauth_scopes: Vec<String>,
    pub oauth_enabled: bool,
    pub identity_providers: Vec<String>,
    pub prevent_user_existence_errors: bool,
    pub enable_token_revocation: bool,
    pub refresh_token_rotation: bool,
    pub rotation_grace_seconds: u32,
    pub read_attributes: Vec<String>,
    pub write_attributes: Vec<String>,
    /// Members echoed by DescribeUserPoolClient as they were set
    /// (`TokenValidityUnits`, `AnalyticsConfiguration`, ...).
    pub settings: Map<String, Value>,
}

impl AppClient {
    /// Whether `flow` (`ALLOW_USER_PASSWORD_AUTH`, ...) is allowed. A
    /// client with no explicit flows allows SRP, refresh and custom auth,
    /// as Cognito's do.
    pub fn allows(&self, flow: &str) -> bool {
        if self.explicit_auth_flows.is_empty() {
            return matches!(flow, "ALLOW_USER_SRP_AUTH" | "ALLOW_REFRESH_TOKEN_AUTH" | "ALLOW_CUSTOM_AUTH");
        }
        let legacy = match flow {
            "ALLOW_ADMIN_USER_PASSWORD_AUTH" => "ADMIN_NO_SRP_AUTH",
            "ALLOW_USER_PASSWORD_AUTH" => "USER_PASSWORD_AUTH",
            "ALLOW_CUSTOM_AUTH" => "CUSTOM_AUTH_FLOW_ONLY",
            _ => "",
        };
        // Refresh is always allowed, with or without the flag.
        flow == "ALLOW_REFRESH_TOKEN_AUTH"
            || self.explicit_auth_flows.iter().any(|allowed| allowed == flow || allowed == legacy)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    ForceChangePassword,
    ResetRequired,
    ExternalProvider,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unconfirmed => "UNCONFIRMED",
            Self::Confirmed => "CONFIRMED",
            Self::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            Self::ResetRequired => "RESET_REQUIRED",
            Self::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }
}

/// A password as kept: an argon2id hash for the password flows and the SRP
/// verifier `USER_SRP_AUTH` needs (SRP cannot start from a one-way hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Password {
    pub hash: String,
    pub srp: srp::Verifier,
    pub temporary: bool,
    pub set: Timestamp,
}

/// What a one-time code is for; one of each may be outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CodePurpose {
    SignUp,
    ForgotPassword,
    VerifyEmail,
    VerifyPhone,
    /// An `EMAIL_OTP` sign-in.
    SignIn,
}

/// A code sent to the user: only its hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Code {
    pub hash: String,
    pub expires: Timestamp,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Mfa {
    /// A verified TOTP secret (base32).
    pub totp_secret: Option<String>,
    /// A secret handed out by AssociateSoftwareToken, not yet verified.
    pub pending_totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub sms_enabled: bool,
    pub email_enabled: bool,
    pub preferred: Option<String>,
    /// The last TOTP time step accepted, so a code is used once.
    pub last_totp_step: u64,
}

/// Failed sign-ins since the last success, for lockout.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Failures {
    pub count: u32,
    pub locked_until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user name as created (the pool's internal name, `USER_ID_FOR_SRP`).
    pub username: String,
    pub sub: String,
    /// Every attribute, `sub` included, by name.
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub status: UserStatus,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub password: Option<Password>,
    pub codes: BTreeMap<CodePurpose, Code>,
    pub groups: BTreeSet<String>,
    pub mfa: Mfa,
    pub failures: Failures,
    /// Tokens issued before this (GlobalSignOut) are refused.
    pub tokens_valid_after: Timestamp,
    /// When codes were last sent, for the sending rate limit.
    #[serde(default)]
    pub codes_sent: Vec<Timestamp>,
}

impl User {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    pub fn is_verified(&self, attribute: &str) -> bool {
        self.attribute(&format!("{attribute}_verified")) == Some("true")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    pub created: Timestamp,
    pub modified: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServer {
    pub identifier: String,
    pub name: String,
    /// Scope name to description.
    pub scopes: BTreeMap<String, String>,
}

/// A refresh token's record: the token itself is only ever held by the
/// client; this keeps a hash of its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
    pub secret_hash: String,
    pub issued: Timestamp,
    pub expires: Timestamp,
    pub auth_time: i64,
    pub revoked: bool,
    /// Scopes granted through the OAuth endpoints (the API flows grant
    /// `aws.cognito.signin.user.admin`).
    pub scopes: Vec<String>,
    /// With rotation on, the grant that replaced this one and until when
    /// this one is still accepted.
    pub replaced_until: Option<Timestamp>,
}

/// The standard attributes of every pool, with the type Cognito gives each.
pub const STANDARD_ATTRIBUTES: [(&str, &str); 21] = [
    ("sub", "String"),
    ("name", "String"),
    ("given_name", "String"),
    ("family_name", "String"),
    ("middle_name", "String"),
    ("nickname", "String"),
    ("preferred_username", "String"),
    ("profile", "String"),
    ("picture", "String"),
    ("website", "String"),
    ("email", "String"),
    ("email_verified", "Boolean"),
    ("gender", "String"),
    ("birthdate", "String"),
    ("zoneinfo", "String"),
    ("locale", "String"),
    ("phone_number", "String"),
    ("phone_number_verified", "Boolean"),
    ("address", "String"),
    ("updated_at", "Number"),
    ("identities", "String"),
];

pub fn is_standard_attribute(name: &str) -> bool {
    STANDARD_ATTRIBUTES.iter().any(|(standard, _)| *standard == name)
}
