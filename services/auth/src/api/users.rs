//! Users: sign-up and confirmation, and the administrator's calls.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Input;
use crate::{
    Cognito,
    error::{CognitoError, Result},
    filter::Filter,
    ids,
    messages::{Message, mask},
    model::{Code, CodePurpose, Failures, Mfa, User, UserPool, UserStatus, is_standard_attribute, now},
    passwords,
    store::{self, Versioned},
    triggers::{Event, user_attributes},
};

/// How long codes are good for: a day for sign-up and attribute
/// verification, an hour to reset a password (Cognito's figures).
fn code_lifetime(purpose: CodePurpose) -> f64 {
    match purpose {
        CodePurpose::ForgotPassword => 3600.0,
        CodePurpose::SignIn => 180.0,
        _ => 86_400.0,
    }
}

/// Wrong guesses a code survives before a new one must be asked for.
const CODE_ATTEMPTS: u32 = 5;

impl Cognito {
    /// A code as kept: its HMAC under the cluster's key, since the plain
    /// hash of six digits is reversed by trying a million.
    pub(crate) fn hash_code(&self, code: &str) -> String {
        hex::encode(self.sealer.fingerprint("code", code.as_bytes()))
    }
}

/// What a sign-in name can be besides the user name.
const ALIAS_KINDS: [&str; 3] = ["email", "phone_number", "preferred_username"];

pub(crate) fn alias_key(kind: &str, value: &str) -> String {
    // Emails and preferred user names match whatever their case.
    let value = if kind == "phone_number" { value.to_owned() } else { value.to_lowercase() };
    format!("{kind}:{value}")
}

/// The user as the admin calls show it.
pub(crate) fn user_json(user: &User, attributes_member: &str, only: Option<&[String]>) -> Value {
    let attributes: Vec<Value> = user
        .attributes
        .iter()
        .filter(|(name, _)| only.is_none_or(|only| only.iter().any(|o| o == *name)))
        .map(|(name, value)| json!({ "Name": name, "Value": value }))
        .collect();
    let mut body = json!({
        "Username": user.username,
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status.as_str(),
    });
    body[attributes_member] = json!(attributes);
    body
}

fn mfa_settings(user: &User) -> Vec<&'static str> {
    let mut settings = Vec::new();
    if user.mfa.sms_enabled {
        settings.push("SMS_MFA");
    }
    if user.mfa.totp_enabled {
        settings.push("SOFTWARE_TOKEN_MFA");
    }
    if user.mfa.email_enabled {
        settings.push("EMAIL_OTP");
    }
    settings
}

/// Where a code goes: the verified or given email, else the phone.
fn delivery(user: &User, attribute: Option<&str>) -> Option<(String, &'static str, String)> {
    let pick = |name: &str| user.attribute(name).filter(|v| !v.is_empty()).map(str::to_owned);
    let candidates: &[&str] = match attribute {
        Some("phone_number") => &["phone_number"],
        Some("email") => &["email"],
        _ => &["email", "phone_number"],
    };
    candidates.iter().find_map(|name| {
        pick(name).map(|value| {
            let medium = if *name == "email" { "EMAIL" } else { "SMS" };
            (value, medium, (*name).to_owned())
        })
    })
}

pub(crate) fn delivery_json(destination: &str, medium: &str, attribute: &str) -> Value {
    json!({ "Destination": mask(destination), "DeliveryMedium": medium, "AttributeName": attribute })
}

impl Cognito {
    /// The key a user name is stored under in `pool`.
    pub(crate) fn user_key(pool: &UserPool, username: &str) -> String {
        if pool.case_sensitive { username.to_owned() } else { username.to_lowercase() }
    }

    /// The user a sign-in name reaches: the user name itself, or an alias
    /// (email, phone, preferred user name, `sub`) that points at one.
    pub(crate) async fn find_user(&self, pool: &UserPool, name: &str) -> Result<Option<Versioned<User>>> {
        let users = store::users(&pool.id);
        if let Some(user) = self.store.get::<User>(&users, &Self::user_key(pool, name)).await? {
            return Ok(Some(user));
        }
        let aliases = store::aliases(&pool.id);
        let kinds: Vec<&str> = if name.contains('@') {
            vec!["email"]
        } else if name.starts_with('+') {
            vec!["phone_number"]
        } else {
            vec!["preferred_username", "sub"]
        };
        for kind in kinds {
            if let Some(target) = self.store.get::<String>(&aliases, &alias_key(kind, name)).await? {
                let user = self.store.get::<User>(&users, &Self::user_key(pool, &target.value)).await?;
                // An alias is checked against its user: a stale one (its
                // user changed the attribute) reaches nobody.
                if let Some(user) = user.filter(|user| {
                    if kind == "sub" {
                        user.value.sub == name
                    } else {
                        user.value.attribute(kind).is_some_and(|v| alias_key(kind, v) == alias_key(kind, name))
                    }
                }) {
                    return Ok(Some(user));
                }
            }
        }
        Ok(None)
    }

    pub(crate) async fn require_user(&self, pool: &UserPool, name: &str) -> Result<Versioned<User>> {
        self.find_user(pool, name).await?.ok_or_else(CognitoError::no_user)
    }

    /// Changes a user by compare-and-set; `None` if it is gone.
    pub(crate) async fn update_user<F>(&self, pool: &UserPool, username: &str, change: F) -> Result<User>
    where
        F: FnMut(&mut User) -> Result<()>,
    {
        let mut change = change;
        self.store
            .update::<User, _>(&store::users(&pool.id), &Self::user_key(pool, username), |user| {
                change(user)?;
                user.modified = now();
                Ok(())
            })
            .await?
            .ok_or_else(CognitoError::no_user)
    }

    /// Makes `kind:value` reach `username`, refusing if it reaches someone
    /// else already.
    async fn claim_alias(&self, pool: &UserPool, kind: &str, value: &str, username: &str, force: bool) -> Result<()> {
        let aliases = store::aliases(&pool.id);
        let key = alias_key(kind, value);
        loop {
            match self.store.get::<String>(&aliases, &key).await? {
                None => {
                    if self.store.create(&aliases, &key, &username.to_owned()).await? {
                        return Ok(());
                    }
                }
                Some(owner) if owner.value == username => return Ok(()),
                Some(owner) => {
                    let holder =
                        self.store.get::<User>(&store::users(&pool.id), &Self::user_key(pool, &owner.value)).await?;
                    let still_held = holder.as_ref().is_some_and(|holder| {
                        holder.value.attribute(kind).is_some_and(|v| alias_key(kind, v) == key)
                            && (pool.signs_in_with(kind)
                                || holder.value.is_verified(kind)
                                || kind == "preferred_username")
                    });
                    if still_held && !force {
                        return Err(if pool.signs_in_with(kind) {
                            CognitoError::username_exists(format!("An account with the given {kind} already exists."))
                        } else {
                            CognitoError::alias_exists(format!("An account with the given {kind} already exists."))
                        });
                    }
                    if self.store.put_if(&aliases, &key, &username.to_owned(), owner.version).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Claims what must be unique for `user`: its `sub`, the attributes it
    /// signs in with, and its verified aliases.
    async fn claim_aliases(&self, pool: &UserPool, user: &User, force: bool) -> Result<()> {
        self.claim_alias(pool, "sub", &user.sub, &user.username, false).await?;
        for kind in ALIAS_KINDS {
            let Some(value) = user.attribute(kind) else { continue };
            let sign_in = pool.signs_in_with(kind);
            let alias = pool.alias_attributes.iter().any(|a| a == kind)
                && (kind == "preferred_username" || user.is_verified(kind));
            if sign_in || alias {
                self.claim_alias(pool, kind, value, &user.username, force).await?;
            }
        }
        Ok(())
    }

    /// Checks attributes against the schema: standard or declared custom
    /// ones, mutable, well-formed.
    pub(crate) fn check_attributes(pool: &UserPool, attributes: &[(String, String)], creating: bool) -> Result<()> {
        let mut problems = String::new();
        for (name, value) in attributes {
            let custom = pool.custom_attributes.iter().find(|c| &c.name == name);
            if !is_standard_attribute(name) && custom.is_none() {
                problems.push_str(&format!("{name}: Attribute does not exist in the schema.\n"));
                continue;
            }
            if name == "sub" {
                problems.push_str("sub: Attribute cannot be updated.\n");
            }
            if let Some(custom) = custom
                && !custom.mutable
                && !creating
            {
                problems.push_str(&format!("{name}: Attribute cannot be updated.\n"));
            }
            if name == "email" && !value.is_empty() && !value.contains('@') {
                return Err(CognitoError::invalid_parameter("Invalid email address format."));
            }
            if name == "phone_number"
                && !value.is_empty()
                && !(value.starts_with('+') && value.len() > 2 && value[1..].chars().all(|c| c.is_ascii_digit()))
            {
                return Err(CognitoError::invalid_parameter("Invalid phone number format."));
            }
            if value.chars().count() > 2048 {
                problems.push_str(&format!("{name}: String must be no longer than 2048 characters\n"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CognitoError::invalid_parameter(format!("Attributes did not conform to the schema: {problems}")))
        }
    }

    fn check_required(pool: &UserPool, attributes: &BTreeMap<String, String>) -> Result<()> {
        for required in &pool.required_attributes {
            if attributes.get(required).is_none_or(String::is_empty) {
                return Err(CognitoError::invalid_parameter(format!(
                    "Attributes did not conform to the schema: {required}: The attribute is required\n"
                )));
            }
        }
        Ok(())
    }

    /// A new user record (not yet stored) and its internal user name: the
    /// name given, or a fresh `sub` when the pool signs in with an email or
    /// phone and `name` is one.
    fn new_user(pool: &UserPool, name: &str, attributes: &[(String, String)], status: UserStatus) -> Result<User> {
        let sub = uuid::Uuid::new_v4().to_string();
        let mut values: BTreeMap<String, String> = attributes.iter().cloned().collect();
        let username = if pool.username_attributes.is_empty() {
            if name.contains('@') && !pool.alias_attributes.is_empty() {
                return Err(CognitoError::invalid_parameter(
                    "Username cannot be of email format, since user pool is configured for email alias.",
                ));
            }
            name.to_owned()
        } else {
            let kind = if name.contains('@') {
                "email"
            } else if name.starts_with('+') {
                "phone_number"
            } else {
                ""
            };
            if kind.is_empty() || !pool.signs_in_with(kind) {
                let expected = if pool.signs_in_with("email") { "an email" } else { "a phone number" };
                return Err(CognitoError::invalid_parameter(format!("Username should be {expected}.")));
            }
            values.insert(kind.into(), name.to_owned());
            sub.clone()
        };
        if username.is_empty() || username.chars().count() > 128 || username.chars().any(char::is_whitespace) {
            return Err(CognitoError::validation(
                "username",
                "Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+",
            ));
        }
        values.insert("sub".into(), sub.clone());
        let created = now();
        Ok(User {
            username,
            sub,
            attributes: values,
            enabled: true,
            status,
            created,
            modified: created,
            password: None,
            codes: BTreeMap::new(),
            groups: Default::default(),
            mfa: Mfa::default(),
            failures: Failures::default(),
            tokens_valid_after: 0.0,
            codes_sent: Vec::new(),
        })
    }

    /// Stores a new user, claiming its aliases first; a user name taken
    /// gives up the claims.
    async fn insert_user(&self, pool: &UserPool, user: &User, force_alias: bool) -> Result<()> {
        let users = store::users(&pool.id);
        let key = Self::user_key(pool, &user.username);
        if self.store.get::<User>(&users, &key).await?.is_some() {
            return Err(CognitoError::username_exists("User already exists"));
        }
        self.claim_aliases(pool, user, force_alias).await?;
        if !self.store.create(&users, &key, user).await? {
            return Err(CognitoError::username_exists("User already exists"));
        }
        Ok(())
    }

    /// Issues a code for `purpose`, keeps its hash, and sends it. Limited
    /// per user per hour.
    pub(crate) async fn send_code(
        &self,
        pool: &UserPool,
        username: &str,
        purpose: CodePurpose,
        attribute: Option<&str>,
        message_purpose: &str,
    ) -> Result<Option<Value>> {
        let code = ids::code(6);
        let limit = self.messages_per_hour;
        let mut destination = None;
        let user = self
            .update_user(pool, username, |user| {
                let now = now();
                user.codes_sent.retain(|sent| now - sent < 3600.0);
                if user.codes_sent.len() as u32 >= limit {
                    return Err(CognitoError::limit_exceeded("Attempt limit exceeded, please try after some time."));
                }
                destination = delivery(user, attribute);
                if destination.is_none() {
                    return Ok(());
                }
                user.codes_sent.push(now);
                user.codes.insert(
                    purpose,
                    Code { hash: self.hash_code(&code), expires: now + code_lifetime(purpose), attempts: 0 },
                );
                Ok(())
            })
            .await?;
        let Some((to, medium, attribute_name)) = destination else {
            return Ok(None);
        };
        let text = self.custom_message(pool, &user, message_purpose, &code).await?;
        self.sender
            .send(&Message {
                pool_id: &pool.id,
                username: &user.username,
                medium,
                destination: &to,
                purpose: message_purpose,
                code: &code,
                text,
            })
            .await;
        Ok(Some(delivery_json(&to, medium, &attribute_name)))
    }

    /// The message text: the pool's template, or what the custom message
    /// trigger makes of it.
    async fn custom_message(&self, pool: &UserPool, user: &User, purpose: &str, code: &str) -> Result<String> {
        let default = format!("Your verification code is {code}.");
        if pool.trigger("CustomMessage").is_none() {
            return Ok(default);
        }
        let source = match purpose {
            "SignUp" => "CustomMessage_SignUp",
            "ResendCode" => "CustomMessage_ResendCode",
            "ForgotPassword" => "CustomMessage_ForgotPassword",
            "VerifyUserAttribute" => "CustomMessage_VerifyUserAttribute",
            "AdminCreateUser" => "CustomMessage_AdminCreateUser",
            _ => "CustomMessage_Authentication",
        };
        let response = self
            .triggers
            .run(Event {
                pool,
                trigger: "CustomMessage",
                source,
                client_id: None,
                username: &user.username,
                request: json!({
                    "userAttributes": user_attributes(user),
                    "codeParameter": "{####}",
                    "usernameParameter": "{username}",
                    "linkParameter": "{##Click Here##}",
                    "clientMetadata": {},
                }),
                response: json!({ "smsMessage": null, "emailMessage": null, "emailSubject": null }),
            })
            .await?;
        let text = response.get("emailMessage").and_then(Value::as_str).unwrap_or(&default);
        Ok(text.replace("{####}", code).replace("{username}", &user.username))
    }

    /// Checks and spends a code.
    pub(crate) async fn use_code(
        &self,
        pool: &UserPool,
        username: &str,
        purpose: CodePurpose,
        code: &str,
    ) -> Result<User> {
        let presented = self.hash_code(code.trim());
        let mut outcome = Ok(());
        let user = self
            .update_user(pool, username, |user| {
                outcome = Ok(());
                let Some(stored) = user.codes.get_mut(&purpose) else {
                    outcome = Err(CognitoError::code_mismatch("Invalid verification code provided, please try again."));
                    return Ok(());
                };
                if stored.expires < now() || stored.attempts >= CODE_ATTEMPTS {
                    outcome = Err(CognitoError::expired_code("Invalid code provided, please request a code again."));
                    return Ok(());
                }
                if !bool::from(subtle::ConstantTimeEq::ct_eq(stored.hash.as_bytes(), presented.as_bytes())) {
                    stored.attempts += 1;
                    outcome = Err(CognitoError::code_mismatch("Invalid verification code provided, please try again."));
                    return Ok(());
                }
                user.codes.remove(&purpose);
                Ok(())
            })
            .await?;
        outcome.map(|()| user)
    }

    pub(crate) async fn sign_up(&self, input: &Input) -> Result<Value> {
        let client = self.client(input.required("ClientId")?).await?;
        let pool = self.pool(&client.pool_id).await?;
        let name = input.required_nonempty("Username")?;
        self.check_secret_hash(&client, name, input.str("SecretHash")?)?;
        if pool.admin_create_user_only {
            return Err(CognitoError::not_authorized("SignUp is not permitted for this user pool"));
        }
        let password = input.required("Password")?;
        let attributes = input.attributes("UserAttributes")?;
        Self::check_attributes(&pool, &attributes, true)?;
        passwords::check_policy(&pool.password_policy, password)?;
        let mut user = Self::new_user(&pool, name, &attributes, UserStatus::Unconfirmed)?;
        Self::check_required(&pool, &user.attributes)?;

        let response = self
            .triggers
            .run(Event {
                pool: &pool,
                trigger: "PreSignUp",
                source: "PreSignUp_SignUp",
                client_id: Some(&client.id),
                username: &user.username,
                request: json!({
                    "userAttributes": user_attributes(&user),
                    "validationData": input.get("ValidationData").map(attribute_map).unwrap_or(json!({})),
                    "clientMetadata": input.get("ClientMetadata").cloned().unwrap_or(json!({})),
                }),
                response: json!({ "autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false }),
            })
            .await?;
        let flag = |name: &str| response.get(name).and_then(Value::as_bool).unwrap_or(false);
        if flag("autoConfirmUser") {
            user.status = UserStatus::Confirmed;
        }
        if flag("autoVerifyEmail") && user.attribute("email").is_some() {
            user.attributes.insert("email_verified".into(), "true".into());
        }
        if flag("autoVerifyPhone") && user.attribute("phone_number").is_some() {
            user.attributes.insert("phone_number_verified".into(), "true".into());
        }
        user.password = Some(self.hasher.password(&pool.id, &user.username, password, false).await?);
        self.insert_user(&pool, &user, false).await?;

        let mut body = json!({
            "UserConfirmed": user.status == UserStatus::Confirmed,
            "UserSub": user.sub,
            "Session": self.sign_up_session(&pool, &client, &user, false),
        });
        if user.status == UserStatus::Confirmed {
            self.post_confirmation(&pool, &user, Some(&client.id), "PostConfirmation_ConfirmSignUp").await?;
        } else if let Some(attribute) = self.verification_attribute(&pool, &user)
            && let Some(details) =
                self.send_code(&pool, &user.username, CodePurpose::SignUp, Some(attribute), "SignUp").await?
        {
            body["CodeDeliveryDetails"] = details;
        }
        Ok(body)
    }

    /// The attribute a sign-up code verifies: the first auto-verified one
    /// the user has.
    fn verification_attribute<'a>(&self, pool: &'a UserPool, user: &User) -> Option<&'a str> {
        pool.auto_verified_attributes
            .iter()
            .map(String::as_str)
            .find(|attribute| user.attribute(attribute).is_some_and(|v| !v.is_empty()))
    }

    pub(crate) async fn post_confirmation(
        &self,
        pool: &UserPool,
        user: &User,
        client_id: Option<&str>,
        source: &str,
    ) -> Result<()> {
        self.triggers
            .run(Event {
                pool,
                trigger: "PostConfirmation",
                source,
                client_id,
                username: &user.username,
                request: json!({ "userAttributes": user_attributes(user), "clientMetadata": {} }),
                response: json!({}),
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn confirm_sign_up(&self, input: &Input) -> Result<Value> {
        let client = self.client(input.required("ClientId")?).await?;
        let pool = self.pool(&client.pool_id).await?;
        let name = input.required_nonempty("Username")?;
        self.check_secret_hash(&client, name, input.str("SecretHash")?)?;
        let code = input.required_nonempty("ConfirmationCode")?;
        let force = input.bool("ForceAliasCreation")?.unwrap_or(false);
        let Some(found) = self.find_user(&pool, name).await? else {
            return Err(if client.prevent_user_existence_errors {
                CognitoError::code_mismatch("Invalid verification code provided, please try again.")
            } else {
                CognitoError::no_user()
            });
        };
        if found.value.status != UserStatus::Unconfirmed {
            return Err(CognitoError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                found.value.status.as_str()
            )));
        }
        let user = self.use_code(&pool, &found.value.username, CodePurpose::SignUp, code).await?;
        let verified = self.verification_attribute(&pool, &user).map(str::to_owned);
        let user = self
            .update_user(&pool, &user.username, |user| {
                user.status = UserStatus::Confirmed;
                if let Some(attribute) = &verified {
                    user.attributes.insert(format!("{attribute}_verified"), "true".into());
                }
                Ok(())
            })
            .await?;
        self.claim_aliases(&pool, &user, force).await?;
        self.post_confirmation(&pool, &user, Some(&client.id), "PostConfirmation_ConfirmSignUp").await?;
        Ok(json!({ "Session": self.sign_up_session(&pool, &client, &user, true) }))
    }

    pub(crate) async fn resend_confirmation_code(&self, input: &Input) -> Result<Value> {
        let client = self.client(input.required("ClientId")?).await?;
        let pool = self.pool(&client.pool_id).await?;
        let name = input.required_nonempty("Username")?;
        self.check_secret_hash(&client, name, input.str("SecretHash")?)?;
        let Some(found) = self.find_user(&pool, name).await? else {
            if client.prevent_user_existence_errors {
                return Ok(json!({ "CodeDeliveryDetails": delivery_json(name, "EMAIL", "email") }));
            }
            return Err(CognitoError::no_user());
        };
        if found.value.status != UserStatus::Unconfirmed {
            return Err(CognitoError::invalid_parameter("User is already confirmed."));
        }
        let attribute = self.verification_attribute(&pool, &found.value);
        let details =
            self.send_code(&pool, &found.value.username, CodePurpose::SignUp, attribute, "ResendCode").await?;
        match details {
            Some(details) => Ok(json!({ "CodeDeliveryDetails": details })),
            None => Err(CognitoError::invalid_parameter("Auto verification not turned on.")),
        }
    }

    pub(crate) async fn admin_create_user(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let name = input.required_nonempty("Username")?;
        let attributes = input.attributes("UserAttributes")?;
        Self::check_attributes(&pool, &attributes, true)?;
        let action = input.str("MessageAction")?;
        if let Some(action) = action
            && !["RESEND", "SUPPRESS"].contains(&action)
        {
            return Err(CognitoError::validation(
                "messageAction",
                "Member must satisfy enum value set: [RESEND, SUPPRESS]",
            ));
        }
        let temporary = match input.str("TemporaryPassword")? {
            Some(password) => {
                passwords::check_policy(&pool.password_policy, password)?;
                password.to_owned()
            }
            None => passwords::temporary_password(&pool.password_policy),
        };
        let user = if action == Some("RESEND") {
            let found = self.require_user(&pool, name).await?;
            if found.value.status != UserStatus::ForceChangePassword {
                return Err(CognitoError::unsupported_operation(
                    "Resend not possible. User has already been confirmed.",
                ));
            }
            let password = self.hasher.password(&pool.id, &found.value.username, &temporary, true).await?;
            self.update_user(&pool, &found.value.username, |user| {
                user.password = Some(password.clone());
                Ok(())
            })
            .await?
        } else {
            let mut user = Self::new_user(&pool, name, &attributes, UserStatus::ForceChangePassword)?;
            Self::check_required(&pool, &user.attributes)?;
            user.password = Some(self.hasher.password(&pool.id, &user.username, &temporary, true).await?);
            self.insert_user(&pool, &user, input.bool("ForceAliasCreation")?.unwrap_or(false)).await?;
            user
        };
        if action != Some("SUPPRESS") {
            let mediums = input.strings("DesiredDeliveryMediums")?.unwrap_or_else(|| vec!["SMS".into()]);
            let attribute = if mediums.iter().any(|m| m == "EMAIL") { "email" } else { "phone_number" };
            if let Some((to, medium, _)) = delivery(&user, Some(attribute)).or_else(|| delivery(&user, None)) {
                let text = format!("Your username is {} and temporary password is {temporary}.", user.username);
                self.sender
                    .send(&Message {
                        pool_id: &pool.id,
                        username: &user.username,
                        medium,
                        destination: &to,
                        purpose: "AdminCreateUser",
                        code: &temporary,
                        text,
                    })
                    .await;
            }
        }
        Ok(json!({ "User": user_json(&user, "Attributes", None) }))
    }

    pub(crate) async fn admin_get_user(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        let mut body = user_json(&user, "UserAttributes", None);
        let settings = mfa_settings(&user);
        if !settings.is_empty() {
            body["UserMFASettingList"] = json!(settings);
        }
        if let Some(preferred) = &user.mfa.preferred {
            body["PreferredMfaSetting"] = json!(preferred);
        }
        Ok(body)
    }

    pub(crate) async fn admin_delete_user(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        self.remove_user(&pool, &user).await?;
        Ok(json!({}))
    }

    /// Deletes a user and the aliases that reach it.
    pub(crate) async fn remove_user(&self, pool: &UserPool, user: &User) -> Result<()> {
        self.store.delete(&store::users(&pool.id), &Self::user_key(pool, &user.username)).await?;
        let aliases = store::aliases(&pool.id);
        let mut keys = vec![alias_key("sub", &user.sub)];
        for kind in ALIAS_KINDS {
            if let Some(value) = user.attribute(kind) {
                keys.push(alias_key(kind, value));
            }
        }
        for key in keys {
            if let Some(owner) = self.store.get::<String>(&aliases, &key).await?
                && owner.value == user.username
            {
                self.store.delete(&aliases, &key).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn admin_set_enabled(&self, input: &Input, enabled: bool) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        self.update_user(&pool, &user.username, |user| {
            user.enabled = enabled;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    /// Applies attribute changes for a user; a changed email or phone is
    /// unverified again (unless the change says otherwise) and a code is
    /// sent when the pool verifies it.
    pub(crate) async fn change_attributes(
        &self,
        pool: &UserPool,
        username: &str,
        attributes: &[(String, String)],
        by_admin: bool,
    ) -> Result<Vec<Value>> {
        Self::check_attributes(pool, attributes, false)?;
        if !by_admin && attributes.iter().any(|(name, _)| name.ends_with("_verified")) {
            return Err(CognitoError::invalid_parameter(
                "Attributes did not conform to the schema: a user cannot mark its own attributes verified\n",
            ));
        }
        let mut changed = Vec::new();
        let user = self
            .update_user(pool, username, |user| {
                changed.clear();
                for (name, value) in attributes {
                    if user.attribute(name) != Some(value.as_str()) && (name == "email" || name == "phone_number") {
                        let verified_given = attributes.iter().any(|(n, _)| *n == format!("{name}_verified"));
                        if !verified_given {
                            user.attributes.insert(format!("{name}_verified"), "false".into());
                            changed.push(name.clone());
                        }
                    }
                    user.attributes.insert(name.clone(), value.clone());
                }
                Ok(())
            })
            .await?;
        // A pool that signs in with the attribute keeps it unique.
        for kind in ALIAS_KINDS {
            if attributes.iter().any(|(n, _)| n == kind)
                && let Some(value) = user.attribute(kind)
                && (pool.signs_in_with(kind) || user.is_verified(kind) || kind == "preferred_username")
                && (pool.signs_in_with(kind) || pool.alias_attributes.iter().any(|a| a == kind))
            {
                self.claim_alias(pool, kind, value, &user.username, false).await?;
            }
        }
        let mut deliveries = Vec::new();
        for attribute in changed {
            if pool.auto_verified_attributes.contains(&attribute) {
                let purpose = if attribute == "email" { CodePurpose::VerifyEmail } else { CodePurpose::VerifyPhone };
                if let Some(details) =
                    self.send_code(pool, &user.username, purpose, Some(&attribute), "VerifyUserAttribute").await?
                {
                    deliveries.push(details);
                }
            }
        }
        Ok(deliveries)
    }

    pub(crate) async fn admin_update_user_attributes(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        let attributes = input.attributes("UserAttributes")?;
        self.change_attributes(&pool, &user.username, &attributes, true).await?;
        Ok(json!({}))
    }

    pub(crate) async fn remove_attributes(&self, pool: &UserPool, username: &str, names: &[String]) -> Result<()> {
        for name in names {
            if name == "sub" || pool.required_attributes.contains(name) || pool.signs_in_with(name) {
                return Err(CognitoError::invalid_parameter(format!(
                    "Attributes did not conform to the schema: {name}: The attribute is required\n"
                )));
            }
        }
        self.update_user(pool, username, |user| {
            for name in names {
                user.attributes.remove(name);
                if name == "email" || name == "phone_number" {
                    user.attributes.remove(&format!("{name}_verified"));
                }
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn admin_delete_user_attributes(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        let names = input.strings("UserAttributeNames")?.unwrap_or_default();
        self.remove_attributes(&pool, &user.username, &names).await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_set_user_password(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        let password = input.required("Password")?;
        passwords::check_policy(&pool.password_policy, password)?;
        let permanent = input.bool("Permanent")?.unwrap_or(false);
        let stored = self.hasher.password(&pool.id, &user.username, password, !permanent).await?;
        self.update_user(&pool, &user.username, |user| {
            user.password = Some(stored.clone());
            user.failures = Failures::default();
            user.codes.remove(&CodePurpose::ForgotPassword);
            if permanent {
                user.status = UserStatus::Confirmed;
            } else if user.status != UserStatus::Unconfirmed {
                user.status = UserStatus::ForceChangePassword;
            }
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_reset_user_password(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        if delivery(&user, None).is_none() {
            return Err(CognitoError::invalid_parameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            ));
        }
        self.update_user(&pool, &user.username, |user| {
            if user.status == UserStatus::Confirmed {
                user.status = UserStatus::ResetRequired;
            }
            Ok(())
        })
        .await?;
        self.send_code(&pool, &user.username, CodePurpose::ForgotPassword, None, "ForgotPassword").await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_confirm_sign_up(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        let user = self
            .update_user(&pool, &user.username, |user| {
                user.status = UserStatus::Confirmed;
                user.codes.remove(&CodePurpose::SignUp);
                Ok(())
            })
            .await?;
        self.claim_aliases(&pool, &user, false).await?;
        self.post_confirmation(&pool, &user, None, "PostConfirmation_ConfirmSignUp").await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_user_global_sign_out(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        self.sign_out_everywhere(&pool, &user.username).await?;
        Ok(json!({}))
    }

    /// Every token the user holds stops working: access and refresh
    /// tokens issued before now are refused.
    pub(crate) async fn sign_out_everywhere(&self, pool: &UserPool, username: &str) -> Result<()> {
        self.update_user(pool, username, |user| {
            user.tokens_valid_after = now();
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn admin_set_user_mfa_preference(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        self.set_mfa_preference(&pool, &user.username, input).await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_users(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let limit = input.limit("Limit", 60, 60)? as usize;
        let filter = match input.str("Filter")? {
            Some(text) if !text.trim().is_empty() => Some(Filter::parse(text)?),
            _ => None,
        };
        let only = input.strings("AttributesToGet")?;
        let after = input.str("PaginationToken")?.unwrap_or("").to_owned();
        let users = store::users(&pool.id);
        let mut listed = Vec::new();
        let mut next = None;
        let mut cursor = after;
        'pages: loop {
            let (page, more) = self.store.page::<User>(&users, &cursor, 1000).await?;
            for (key, user) in page {
                cursor = key;
                if filter.as_ref().is_none_or(|filter| filter.matches(&user)) {
                    if listed.len() == limit {
                        next = Some(listed_cursor(&listed));
                        break 'pages;
                    }
                    listed.push((cursor.clone(), user));
                }
            }
            if more.is_none() {
                break;
            }
        }
        let body_users: Vec<Value> =
            listed.iter().map(|(_, user)| user_json(user, "Attributes", only.as_deref())).collect();
        let mut body = json!({ "Users": body_users });
        if let Some(next) = next {
            body["PaginationToken"] = json!(next);
        }
        Ok(body)
    }
}

fn listed_cursor(listed: &[(String, User)]) -> String {
    listed.last().map(|(key, _)| key.clone()).unwrap_or_default()
}

/// `[{Name, Value}]` as triggers get it: a map.
fn attribute_map(value: &Value) -> Value {
    let mut map = serde_json::Map::new();
    for item in value.as_array().into_iter().flatten() {
        if let (Some(name), Some(value)) = (item.get("Name").and_then(Value::as_str), item.get("Value")) {
            map.insert(name.into(), value.clone());
        }
    }
    Value::Object(map)
}
