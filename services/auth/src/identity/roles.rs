//! Which role an identity's credentials are for: the pool's authenticated
//! or unauthenticated role, or the role a `RoleMappings` entry picks for a
//! provider, from the token's roles (`Token`) or from rules on its claims
//! (`Rules`), as Cognito Identity resolves them. nubo has no IAM: the role
//! names the session's principal (`assumed-role/{role}/...`), and what
//! that principal may do is what storage's owners and bucket policies
//! allow; role policies are not evaluated.

use serde_json::{Map, Value};

use super::{
    logins::{Issuers, Named},
    pools::role_name,
};
use crate::error::{CognitoError, Result};

/// Checks one `RoleMappings` entry as SetIdentityPoolRoles receives it.
pub fn check_mapping(issuers: &Issuers, key: &str, mapping: &Value) -> Result<()> {
    let invalid = |message: String| Err(CognitoError::invalid_parameter(message));
    let Some((provider, client_id)) = key.rsplit_once(':') else {
        return invalid(format!("Invalid role mapping key: {key}. Expected {{providerName}}:{{clientId}}."));
    };
    if client_id.is_empty() || !matches!(issuers.parse(provider), Some(Named::UserPool(_))) {
        return invalid(format!("Invalid role mapping key: {key}. Expected {{providerName}}:{{clientId}}."));
    }
    let Some(mapping) = mapping.as_object() else {
        return Err(CognitoError::serialization("Unexpected value type for member RoleMappings"));
    };
    let kind = mapping.get("Type").and_then(Value::as_str).unwrap_or_default();
    if kind != "Token" && kind != "Rules" {
        return invalid(format!("Invalid role mapping type: {kind}. Valid types are Token and Rules."));
    }
    match mapping.get("AmbiguousRoleResolution").and_then(Value::as_str) {
        Some("AuthenticatedRole" | "Deny") => {}
        _ => return invalid("AmbiguousRoleResolution must be AuthenticatedRole or Deny.".into()),
    }
    if kind == "Rules" {
        let rules = mapping.get("RulesConfiguration").and_then(|rules| rules.get("Rules")).and_then(Value::as_array);
        let Some(rules) = rules.filter(|rules| (1..=25).contains(&rules.len())) else {
            return invalid("A Rules role mapping needs RulesConfiguration with 1 to 25 rules.".into());
        };
        for rule in rules {
            let text = |name: &str| rule.get(name).and_then(Value::as_str);
            if text("Claim").is_none_or(str::is_empty) || text("Value").is_none() {
                return invalid("A rule needs a Claim and a Value.".into());
            }
            if !matches!(text("MatchType"), Some("Equals" | "Contains" | "StartsWith" | "NotEqual")) {
                return invalid("A rule's MatchType is Equals, Contains, StartsWith or NotEqual.".into());
            }
            if text("RoleARN").and_then(role_name).is_none() {
                return invalid(format!("Invalid RoleARN in a rule of {key}."));
            }
        }
    }
    Ok(())
}

/// A claim's values as rules compare them: a string, each string of an
/// array (`cognito:groups`), or a number or boolean as text.
fn claim_values(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(value)) => vec![value.clone()],
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::Number(number)) => vec![number.to_string()],
        Some(Value::Bool(value)) => vec![value.to_string()],
        _ => Vec::new(),
    }
}

fn rule_matches(rule: &Value, claims: &Map<String, Value>) -> bool {
    let text = |name: &str| rule.get(name).and_then(Value::as_str).unwrap_or_default();
    let values = claim_values(claims, text("Claim"));
    let value = text("Value");
    match text("MatchType") {
        "Equals" => values.iter().any(|claim| claim == value),
        "Contains" => values.iter().any(|claim| claim.contains(value)),
        "StartsWith" => values.iter().any(|claim| claim.starts_with(value)),
        "NotEqual" => !values.is_empty() && values.iter().all(|claim| claim != value),
        _ => false,
    }
}

/// What a signed-in user's login asks for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The provider as Cognito names it.
    pub provider: &'a str,
    pub client_id: &'a str,
    pub claims: &'a Map<String, Value>,
    pub custom_role: Option<&'a str>,
}

pub fn no_role() -> CognitoError {
    CognitoError {
        code: "InvalidIdentityPoolConfigurationException",
        message: "Invalid identity pool configuration. Check assigned IAM roles for this pool.".into(),
    }
}

/// The role of an authenticated identity's credentials.
pub fn authenticated_role(
    roles: &std::collections::BTreeMap<String, String>,
    mappings: &Map<String, Value>,
    issuers: &Issuers,
    request: Request<'_>,
) -> Result<String> {
    let token_roles = claim_values(request.claims, "cognito:roles");
    if let Some(custom) = request.custom_role
        && !token_roles.iter().any(|role| role == custom)
    {
        return Err(CognitoError::not_authorized(format!(
            "The CustomRoleArn {custom} is not one of the roles in the login token."
        )));
    }
    // A mapping's key names its provider in either form.
    let mapping = mappings.iter().find_map(|(key, mapping)| {
        let (provider, client_id) = key.rsplit_once(':')?;
        let Some(Named::UserPool(pool_id)) = issuers.parse(provider) else { return None };
        (issuers.canonical(&pool_id) == request.provider && client_id == request.client_id).then_some(mapping)
    });
    let default = || roles.get("authenticated").cloned().ok_or_else(no_role);
    let Some(mapping) = mapping else {
        return match request.custom_role {
            Some(custom) => Ok(custom.to_owned()),
            None => default(),
        };
    };
    let chosen = match mapping.get("Type").and_then(Value::as_str) {
        Some("Token") => request
            .custom_role
            .map(str::to_owned)
            .or_else(|| request.claims.get("cognito:preferred_role").and_then(Value::as_str).map(str::to_owned)),
        Some("Rules") => request.custom_role.map(str::to_owned).or_else(|| {
            let rules = mapping.pointer("/RulesConfiguration/Rules").and_then(Value::as_array)?;
            let rule = rules.iter().find(|rule| rule_matches(rule, request.claims))?;
            rule.get("RoleARN").and_then(Value::as_str).map(str::to_owned)
        }),
        _ => None,
    };
    match chosen {
        Some(role) => Ok(role),
        None if mapping.get("AmbiguousRoleResolution").and_then(Value::as_str) == Some("Deny") => {
            Err(CognitoError::not_authorized(format!(
                "The ambiguous role mapping rules for: {} denied this request.",
                request.provider
            )))
        }
        None => default(),
    }
}

/// The role of an unauthenticated identity's credentials.
pub fn unauthenticated_role(roles: &std::collections::BTreeMap<String, String>) -> Result<String> {
    roles.get("unauthenticated").cloned().ok_or_else(no_role)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    const PROVIDER: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abcdefghi";
    const AUTH: &str = "arn:aws:iam::000000000000:role/Auth";

    fn roles() -> BTreeMap<String, String> {
        BTreeMap::from([("authenticated".to_owned(), AUTH.to_owned())])
    }

    fn issuers() -> Issuers {
        Issuers::new("us-east-1", "http://localhost:9229")
    }

    fn resolve(mappings: &Value, claims: &Value, custom: Option<&str>) -> Result<String> {
        let claims = claims.as_object().unwrap();
        let request = Request { provider: PROVIDER, client_id: "client", claims, custom_role: custom };
        authenticated_role(&roles(), mappings.as_object().unwrap(), &issuers(), request)
    }

    #[test]
    fn without_a_mapping_the_pools_role_is_used() {
        assert_eq!(resolve(&json!({}), &json!({}), None).unwrap(), AUTH);
        let error = unauthenticated_role(&roles()).unwrap_err();
        assert_eq!(error.code, "InvalidIdentityPoolConfigurationException");
    }

    #[test]
    fn rules_pick_the_first_matching_role_and_ambiguity_is_resolved_as_asked() {
        let mapping = |ambiguous: &str| {
            json!({ "localhost:9229/us-east-1_abcdefghi:client": {
                "Type": "Rules",
                "AmbiguousRoleResolution": ambiguous,
                "RulesConfiguration": { "Rules": [
                    { "Claim": "cognito:groups", "MatchType": "Contains", "Value": "admins", "RoleARN": "arn:aws:iam::000000000000:role/Admin" },
                    { "Claim": "email", "MatchType": "StartsWith", "Value": "ops@", "RoleARN": "arn:aws:iam::000000000000:role/Ops" },
                ]},
            }})
        };
        for (key, mapping) in mapping("Deny").as_object().unwrap() {
            check_mapping(&issuers(), key, mapping).unwrap();
        }
        let admin = json!({ "cognito:groups": ["users", "admins"], "email": "ops@example.com" });
        assert_eq!(resolve(&mapping("Deny"), &admin, None).unwrap(), "arn:aws:iam::000000000000:role/Admin");
        let ops = json!({ "email": "ops@example.com" });
        assert_eq!(resolve(&mapping("Deny"), &ops, None).unwrap(), "arn:aws:iam::000000000000:role/Ops");
        let nobody = json!({ "email": "someone@example.com" });
        assert_eq!(resolve(&mapping("Deny"), &nobody, None).unwrap_err().code, "NotAuthorizedException");
        assert_eq!(resolve(&mapping("AuthenticatedRole"), &nobody, None).unwrap(), AUTH);
    }

    #[test]
    fn token_mappings_use_the_preferred_role_and_a_custom_role_must_be_the_tokens() {
        let mapping = json!({ format!("{PROVIDER}:client"): { "Type": "Token", "AmbiguousRoleResolution": "Deny" } });
        let claims = json!({
            "cognito:roles": ["arn:aws:iam::000000000000:role/A", "arn:aws:iam::000000000000:role/B"],
            "cognito:preferred_role": "arn:aws:iam::000000000000:role/A",
        });
        assert_eq!(resolve(&mapping, &claims, None).unwrap(), "arn:aws:iam::000000000000:role/A");
        assert_eq!(
            resolve(&mapping, &claims, Some("arn:aws:iam::000000000000:role/B")).unwrap(),
            "arn:aws:iam::000000000000:role/B"
        );
        assert!(resolve(&mapping, &claims, Some("arn:aws:iam::000000000000:role/C")).is_err());
        assert!(resolve(&mapping, &json!({}), None).is_err(), "no preferred role, and ambiguity denies");
    }

    #[test]
    fn malformed_mappings_are_refused() {
        let check = |key: &str, mapping: Value| check_mapping(&issuers(), key, &mapping);
        assert!(
            check("accounts.google.com:client", json!({ "Type": "Token", "AmbiguousRoleResolution": "Deny" })).is_err()
        );
        assert!(
            check(&format!("{PROVIDER}:client"), json!({ "Type": "Magic", "AmbiguousRoleResolution": "Deny" }))
                .is_err()
        );
        assert!(check(&format!("{PROVIDER}:client"), json!({ "Type": "Token" })).is_err());
        assert!(
            check(&format!("{PROVIDER}:client"), json!({ "Type": "Rules", "AmbiguousRoleResolution": "Deny" }))
                .is_err()
        );
    }
}
