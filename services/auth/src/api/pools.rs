//! User pools: create, describe, list, update, delete; their MFA
//! configuration and tags.

use serde_json::{Map, Value, json};

use super::Input;
use crate::{
    Cognito,
    error::{CognitoError, Result},
    ids,
    model::{MfaConfiguration, PasswordPolicy, SchemaAttribute, UserPool, is_standard_attribute, now},
    store::{self, POOLS},
};

/// The members of CreateUserPool that nubo keeps and echoes as they were
/// sent; the ones it acts on are read into the pool's own fields.
const ECHOED: [&str; 14] = [
    "LambdaConfig",
    "VerificationMessageTemplate",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "SmsVerificationMessage",
    "SmsAuthenticationMessage",
    "EmailConfiguration",
    "SmsConfiguration",
    "DeviceConfiguration",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "UserAttributeUpdateSettings",
    "UserPoolTier",
    "AdminCreateUserConfig",
];

const USERNAME_ATTRIBUTES: [&str; 2] = ["email", "phone_number"];
const ALIAS_ATTRIBUTES: [&str; 3] = ["email", "phone_number", "preferred_username"];

fn password_policy(input: &Input) -> Result<(PasswordPolicy, u32)> {
    let Some(policy) = input.object("Policies")?.and_then(|p| p.object("PasswordPolicy").transpose()).transpose()?
    else {
        return Ok((PasswordPolicy::default(), 7));
    };
    let minimum_length = match policy.i64("MinimumLength")? {
        None => 8,
        Some(length @ 6..=99) => length as u32,
        Some(_) => {
            return Err(CognitoError::invalid_parameter(
                "1 validation error detected: Value at 'policies.passwordPolicy.minimumLength' failed to satisfy constraint: Member must have value between 6 and 99",
            ));
        }
    };
    let days = match policy.i64("TemporaryPasswordValidityDays")? {
        None => 7,
        Some(days @ 0..=365) => days as u32,
        Some(_) => {
            return Err(CognitoError::validation(
                "policies.passwordPolicy.temporaryPasswordValidityDays",
                "Member must have value less than or equal to 365",
            ));
        }
    };
    Ok((
        PasswordPolicy {
            minimum_length,
            require_uppercase: policy.bool("RequireUppercase")?.unwrap_or(false),
            require_lowercase: policy.bool("RequireLowercase")?.unwrap_or(false),
            require_numbers: policy.bool("RequireNumbers")?.unwrap_or(false),
            require_symbols: policy.bool("RequireSymbols")?.unwrap_or(false),
        },
        days,
    ))
}

fn check_names(input: &Input, field: &str, allowed: &[&str]) -> Result<Vec<String>> {
    let names = input.strings(field)?.unwrap_or_default();
    for name in &names {
        if !allowed.contains(&name.as_str()) {
            return Err(CognitoError::invalid_parameter(format!(
                "1 validation error detected: Value '[{name}]' at '{}' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                lower_first(field),
                allowed.join(", ")
            )));
        }
    }
    Ok(names)
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// The schema's custom attributes (named `custom:` here) and the
/// standard attributes it makes required.
pub(super) fn schema(input: &Input, field: &str) -> Result<(Vec<SchemaAttribute>, Vec<String>)> {
    let mut custom = Vec::new();
    let mut required = Vec::new();
    for attribute in input.objects(field)? {
        let name = attribute.required("Name")?.to_owned();
        if name.is_empty() || name.len() > 20 {
            return Err(CognitoError::validation(
                &format!("{}.member.name", lower_first(field)),
                "Member must have length less than or equal to 20",
            ));
        }
        let data_type = attribute.str("AttributeDataType")?.unwrap_or("String").to_owned();
        if !["String", "Number", "DateTime", "Boolean"].contains(&data_type.as_str()) {
            return Err(CognitoError::invalid_parameter(format!("Invalid AttributeDataType input: {data_type}")));
        }
        let standard = is_standard_attribute(&name);
        if standard {
            if attribute.bool("Required")?.unwrap_or(false) {
                required.push(name);
            }
            continue;
        }
        let strings = attribute.object("StringAttributeConstraints")?.unwrap_or_default();
        let numbers = attribute.object("NumberAttributeConstraints")?.unwrap_or_default();
        let name = if name.starts_with("custom:") { name } else { format!("custom:{name}") };
        if attribute.bool("Required")?.unwrap_or(false) {
            return Err(CognitoError::invalid_parameter("Required custom attributes are not supported currently."));
        }
        custom.push(SchemaAttribute {
            name,
            data_type,
            mutable: attribute.bool("Mutable")?.unwrap_or(true),
            required: false,
            developer_only: attribute.bool("DeveloperOnlyAttribute")?.unwrap_or(false),
            min_length: strings.str("MinLength")?.map(str::to_owned),
            max_length: strings.str("MaxLength")?.map(str::to_owned),
            min_value: numbers.str("MinValue")?.map(str::to_owned),
            max_value: numbers.str("MaxValue")?.map(str::to_owned),
        });
    }
    Ok((custom, required))
}

fn settings(input: &Input) -> Map<String, Value> {
    let mut settings: Map<String, Value> =
        ECHOED.iter().filter_map(|name| input.get(name).map(|value| ((*name).to_owned(), value.clone()))).collect();
    if let Some(policy) = input.get("Policies").and_then(|policies| policies.get("SignInPolicy")) {
        settings.insert("SignInPolicy".into(), policy.clone());
    }
    settings
}

fn mfa(input: &Input) -> Result<MfaConfiguration> {
    match input.str("MfaConfiguration")? {
        None => Ok(MfaConfiguration::Off),
        Some(value) => MfaConfiguration::parse(value).ok_or_else(|| {
            CognitoError::validation("mfaConfiguration", "Member must satisfy enum value set: [OPTIONAL, OFF, ON]")
        }),
    }
}

fn deletion_protection(input: &Input) -> Result<bool> {
    match input.str("DeletionProtection")? {
        None | Some("INACTIVE") => Ok(false),
        Some("ACTIVE") => Ok(true),
        Some(_) => Err(CognitoError::validation(
            "deletionProtection",
            "Member must satisfy enum value set: [ACTIVE, INACTIVE]",
        )),
    }
}

fn admin_create_user_only(input: &Input) -> Result<bool> {
    Ok(input
        .object("AdminCreateUserConfig")?
        .map(|c| c.bool("AllowAdminCreateUserOnly"))
        .transpose()?
        .flatten()
        .unwrap_or(false))
}

fn schema_json(pool: &UserPool) -> Vec<Value> {
    let mut attributes: Vec<Value> = crate::model::STANDARD_ATTRIBUTES
        .iter()
        .map(|(name, data_type)| {
            let mut attribute = json!({
                "Name": name,
                "AttributeDataType": data_type,
                "DeveloperOnlyAttribute": false,
                "Mutable": *name != "sub",
                "Required": *name == "sub" || pool.required_attributes.iter().any(|r| r == name),
            });
            if *data_type == "String" {
                let min = if *name == "sub" { "1" } else { "0" };
                attribute["StringAttributeConstraints"] = json!({"MinLength": min, "MaxLength": "2048"});
            }
            if *data_type == "Number" {
                attribute["NumberAttributeConstraints"] = json!({"MinValue": "0"});
            }
            attribute
        })
        .collect();
    for custom in &pool.custom_attributes {
        let mut attribute = json!({
            "Name": custom.name,
            "AttributeDataType": custom.data_type,
            "DeveloperOnlyAttribute": custom.developer_only,
            "Mutable": custom.mutable,
            "Required": false,
        });
        if custom.data_type == "String" {
            let mut constraints = Map::new();
            if let Some(min) = &custom.min_length {
                constraints.insert("MinLength".into(), json!(min));
            }
            if let Some(max) = &custom.max_length {
                constraints.insert("MaxLength".into(), json!(max));
            }
            attribute["StringAttributeConstraints"] = Value::Object(constraints);
        }
        if custom.data_type == "Number" {
            let mut constraints = Map::new();
            if let Some(min) = &custom.min_value {
                constraints.insert("MinValue".into(), json!(min));
            }
            if let Some(max) = &custom.max_value {
                constraints.insert("MaxValue".into(), json!(max));
            }
            attribute["NumberAttributeConstraints"] = Value::Object(constraints);
        }
        attributes.push(attribute);
    }
    attributes
}

impl Cognito {
    pub(crate) async fn pool(&self, pool_id: &str) -> Result<UserPool> {
        if !ids::is_pool_id(pool_id) {
            return Err(CognitoError::validation(
                "userPoolId",
                "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+",
            ));
        }
        self.store
            .get::<UserPool>(POOLS, pool_id)
            .await?
            .map(|pool| pool.value)
            .ok_or_else(|| CognitoError::no_pool(pool_id))
    }

    pub(crate) fn pool_json(&self, pool: &UserPool, users: Option<usize>) -> Value {
        let mut body = json!({
            "Id": pool.id,
            "Name": pool.name,
            "Arn": pool.arn(&self.region, &self.account_id),
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": pool.password_policy.minimum_length,
                    "RequireUppercase": pool.password_policy.require_uppercase,
                    "RequireLowercase": pool.password_policy.require_lowercase,
                    "RequireNumbers": pool.password_policy.require_numbers,
                    "RequireSymbols": pool.password_policy.require_symbols,
                    "TemporaryPasswordValidityDays": pool.temporary_password_days,
                },
                "SignInPolicy": { "AllowedFirstAuthFactors": ["PASSWORD"] },
            },
            "DeletionProtection": if pool.deletion_protection { "ACTIVE" } else { "INACTIVE" },
            "LambdaConfig": {},
            "LastModifiedDate": pool.modified,
            "CreationDate": pool.created,
            "SchemaAttributes": schema_json(pool),
            "VerificationMessageTemplate": { "DefaultEmailOption": "CONFIRM_WITH_CODE" },
            "MfaConfiguration": pool.mfa.as_str(),
            "EstimatedNumberOfUsers": users.unwrap_or(0),
            "EmailConfiguration": { "EmailSendingAccount": "COGNITO_DEFAULT" },
            "UserPoolTags": pool.tags,
            "AdminCreateUserConfig": {
                "AllowAdminCreateUserOnly": pool.admin_create_user_only,
                "UnusedAccountValidityDays": pool.temporary_password_days,
            },
            "UsernameConfiguration": { "CaseSensitive": pool.case_sensitive },
            "AccountRecoverySetting": {
                "RecoveryMechanisms": [
                    { "Priority": 1, "Name": "verified_email" },
                    { "Priority": 2, "Name": "verified_phone_number" },
                ],
            },
            "UserPoolTier": "ESSENTIALS",
        });
        let object = body.as_object_mut().expect("a JSON object");
        for (name, value) in &pool.settings {
            if name == "SignInPolicy" {
                object["Policies"]["SignInPolicy"] = value.clone();
            } else {
                object.insert(name.clone(), value.clone());
            }
        }
        for (field, values) in [
            ("AutoVerifiedAttributes", &pool.auto_verified_attributes),
            ("AliasAttributes", &pool.alias_attributes),
            ("UsernameAttributes", &pool.username_attributes),
        ] {
            if !values.is_empty() {
                object.insert(field.into(), json!(values));
            }
        }
        if let Some(domain) = &pool.domain {
            object.insert("Domain".into(), json!(domain));
        }
        body
    }

    pub(crate) async fn create_user_pool(&self, input: &Input) -> Result<Value> {
        let name = input.required_nonempty("PoolName")?;
        if name.len() > 128 {
            return Err(CognitoError::validation("poolName", "Member must have length less than or equal to 128"));
        }
        let username_attributes = check_names(input, "UsernameAttributes", &USERNAME_ATTRIBUTES)?;
        let alias_attributes = check_names(input, "AliasAttributes", &ALIAS_ATTRIBUTES)?;
        if !username_attributes.is_empty() && !alias_attributes.is_empty() {
            return Err(CognitoError::invalid_parameter(
                "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
            ));
        }
        let auto_verified = check_names(input, "AutoVerifiedAttributes", &USERNAME_ATTRIBUTES)?;
        let (password_policy, temporary_password_days) = password_policy(input)?;
        let (custom_attributes, required_attributes) = schema(input, "Schema")?;
        let mfa = mfa(input)?;
        if mfa != MfaConfiguration::Off && input.get("SmsConfiguration").is_none() {
            return Err(CognitoError::invalid_configuration(
                "SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
            ));
        }
        let case_sensitive = input
            .object("UsernameConfiguration")?
            .map(|config| config.bool("CaseSensitive"))
            .transpose()?
            .flatten()
            .unwrap_or(true);
        let created = now();
        let pool = UserPool {
            id: ids::pool_id(&self.region),
            name: name.to_owned(),
            created,
            modified: created,
            password_policy,
            username_attributes,
            alias_attributes,
            auto_verified_attributes: auto_verified,
            case_sensitive,
            mfa,
            software_token_mfa: false,
            custom_attributes,
            required_attributes,
            admin_create_user_only: admin_create_user_only(input)?,
            temporary_password_days,
            deletion_protection: deletion_protection(input)?,
            tags: input.string_map("UserPoolTags")?,
            domain: None,
            settings: settings(input),
        };
        if !self.store.create(POOLS, &pool.id, &pool).await? {
            return Err(CognitoError::internal("a new pool id was taken; try again"));
        }
        Ok(json!({ "UserPool": self.pool_json(&pool, Some(0)) }))
    }

    pub(crate) async fn describe_user_pool(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let users = self.store.all::<Value>(&store::users(&pool.id), "").await?.len();
        Ok(json!({ "UserPool": self.pool_json(&pool, Some(users)) }))
    }

    pub(crate) async fn list_user_pools(&self, input: &Input) -> Result<Value> {
        if input.get("MaxResults").is_none() {
            return Err(CognitoError::invalid_parameter(
                "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null",
            ));
        }
        let limit = input.limit("MaxResults", 60, 60)?;
        let after = input.str("NextToken")?.unwrap_or("");
        let (pools, next) = self.store.page::<UserPool>(POOLS, after, limit).await?;
        let listed: Vec<Value> = pools
            .iter()
            .map(|(_, pool)| {
                json!({
                    "Id": pool.id,
                    "Name": pool.name,
                    "LambdaConfig": pool.settings.get("LambdaConfig").cloned().unwrap_or_else(|| json!({})),
                    "LastModifiedDate": pool.modified,
                    "CreationDate": pool.created,
                })
            })
            .collect();
        let mut body = json!({ "UserPools": listed });
        if let Some(next) = next.filter(|_| pools.len() as u32 == limit) {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }

    /// Cognito's UpdateUserPool sets every updatable member: one left out
    /// returns to its default.
    pub(crate) async fn update_user_pool(&self, input: &Input) -> Result<Value> {
        let pool_id = input.required("UserPoolId")?.to_owned();
        self.pool(&pool_id).await?;
        let (password_policy, temporary_password_days) = password_policy(input)?;
        let mfa = mfa(input)?;
        let auto_verified = check_names(input, "AutoVerifiedAttributes", &USERNAME_ATTRIBUTES)?;
        let tags = input.get("UserPoolTags").map(|_| input.string_map("UserPoolTags")).transpose()?;
        let protection = deletion_protection(input)?;
        let only_admins = admin_create_user_only(input)?;
        let echoed = settings(input);
        let updated = self
            .store
            .update::<UserPool, _>(POOLS, &pool_id, |pool| {
                if mfa != MfaConfiguration::Off && !pool.software_token_mfa && !echoed.contains_key("SmsConfiguration") {
                    return Err(CognitoError::invalid_configuration(
                        "SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
                    ));
                }
                pool.password_policy = password_policy.clone();
                pool.temporary_password_days = temporary_password_days;
                pool.mfa = mfa;
                pool.auto_verified_attributes = auto_verified.clone();
                if let Some(tags) = &tags {
                    pool.tags = tags.clone();
                }
                pool.deletion_protection = protection;
                pool.admin_create_user_only = only_admins;
                pool.settings = echoed.clone();
                pool.modified = now();
                Ok(())
            })
            .await?;
        updated.ok_or_else(|| CognitoError::no_pool(&pool_id))?;
        Ok(json!({}))
    }

    pub(crate) async fn delete_user_pool(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        if pool.deletion_protection {
            return Err(CognitoError::invalid_parameter(
                "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
            ));
        }
        if let Some(domain) = &pool.domain {
            self.store.delete(store::DOMAINS, domain).await?;
        }
        self.store.delete(POOLS, &pool.id).await?;
        self.tokens.keys().forget(&pool.id);
        // What belonged to the pool is unreachable once the pool is gone;
        // it is removed after the answer.
        let cognito = self.clone();
        tokio::spawn(async move { cognito.remove_pool_contents(&pool.id).await });
        Ok(json!({}))
    }

    async fn remove_pool_contents(&self, pool_id: &str) {
        let namespaces = [
            store::users(pool_id),
            store::aliases(pool_id),
            store::groups(pool_id),
            store::resource_servers(pool_id),
            store::providers(pool_id),
        ];
        for namespace in namespaces {
            if let Ok(records) = self.store.all::<Value>(&namespace, "").await {
                for (key, _) in records {
                    let _ = self.store.delete(&namespace, &key).await;
                }
            }
        }
        if let Ok(clients) = self.store.all::<crate::model::AppClient>(store::CLIENTS, "").await {
            for (key, client) in clients {
                if client.pool_id == pool_id {
                    let _ = self.store.delete(store::CLIENTS, &key).await;
                }
            }
        }
        let _ = self.store.delete(store::KEYS, pool_id).await;
    }

    pub(crate) async fn set_user_pool_mfa_config(&self, input: &Input) -> Result<Value> {
        let pool_id = input.required("UserPoolId")?.to_owned();
        self.pool(&pool_id).await?;
        let software =
            input.object("SoftwareTokenMfaConfiguration")?.map(|config| config.bool("Enabled")).transpose()?.flatten();
        let sms = input.object("SmsMfaConfiguration")?;
        let mfa = match input.str("MfaConfiguration")? {
            Some(value) => Some(MfaConfiguration::parse(value).ok_or_else(|| {
                CognitoError::validation("mfaConfiguration", "Member must satisfy enum value set: [OPTIONAL, OFF, ON]")
            })?),
            None => None,
        };
        let pool = self
            .store
            .update::<UserPool, _>(POOLS, &pool_id, |pool| {
                if let Some(enabled) = software {
                    pool.software_token_mfa = enabled;
                }
                if let Some(sms) = &sms {
                    pool.settings.insert("SmsMfaConfiguration".into(), Value::Object(sms.0.clone()));
                }
                if let Some(mfa) = mfa {
                    let has_factor = pool.software_token_mfa || pool.settings.contains_key("SmsMfaConfiguration");
                    if mfa != MfaConfiguration::Off && !has_factor {
                        return Err(CognitoError::invalid_parameter(
                            "At least one MFA method must be enabled when MFA is ON or OPTIONAL.",
                        ));
                    }
                    pool.mfa = mfa;
                }
                pool.modified = now();
                Ok(())
            })
            .await?
            .ok_or_else(|| CognitoError::no_pool(&pool_id))?;
        Ok(mfa_config_json(&pool))
    }

    pub(crate) async fn get_user_pool_mfa_config(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        Ok(mfa_config_json(&pool))
    }

    /// The pool an ARN of this account and region names.
    async fn pool_by_arn(&self, arn: &str) -> Result<UserPool> {
        let prefix = format!("arn:aws:cognito-idp:{}:{}:userpool/", self.region, self.account_id);
        let pool_id = arn
            .strip_prefix(&prefix)
            .ok_or_else(|| CognitoError::invalid_parameter(format!("Invalid resource ARN: {arn}")))?;
        self.pool(pool_id).await
    }

    pub(crate) async fn tag_resource(&self, input: &Input) -> Result<Value> {
        let pool = self.pool_by_arn(input.required("ResourceArn")?).await?;
        let tags = input.string_map("Tags")?;
        self.store
            .update::<UserPool, _>(POOLS, &pool.id, |pool| {
                pool.tags.extend(tags.clone());
                if pool.tags.len() > 50 {
                    return Err(CognitoError::invalid_parameter("A user pool can have at most 50 tags."));
                }
                Ok(())
            })
            .await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, input: &Input) -> Result<Value> {
        let pool = self.pool_by_arn(input.required("ResourceArn")?).await?;
        let keys = input.strings("TagKeys")?.unwrap_or_default();
        self.store
            .update::<UserPool, _>(POOLS, &pool.id, |pool| {
                for key in &keys {
                    pool.tags.remove(key);
                }
                Ok(())
            })
            .await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_tags_for_resource(&self, input: &Input) -> Result<Value> {
        let pool = self.pool_by_arn(input.required("ResourceArn")?).await?;
        Ok(json!({ "Tags": pool.tags }))
    }
}

fn mfa_config_json(pool: &UserPool) -> Value {
    let mut body = json!({
        "MfaConfiguration": pool.mfa.as_str(),
        "SoftwareTokenMfaConfiguration": { "Enabled": pool.software_token_mfa },
    });
    if let Some(sms) = pool.settings.get("SmsMfaConfiguration") {
        body["SmsMfaConfiguration"] = sms.clone();
    }
    body
}
