//! ListUsers' filter: `name = "value"` (exact) or `name ^= "value"`
//! (prefix), on the attributes Cognito lets a filter name.

use crate::{
    error::{CognitoError, Result},
    model::User,
};

/// The attributes a filter may name; `status` is the user's enabled
/// state, `cognito:user_status` its confirmation state.
const SEARCHABLE: [&str; 10] = [
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    attribute: String,
    prefix: bool,
    value: String,
}

fn parse_error() -> CognitoError {
    CognitoError::invalid_parameter("Error while parsing filter.")
}

impl Filter {
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (attribute, rest, prefix) = if let Some((attribute, rest)) = text.split_once("^=") {
            (attribute, rest, true)
        } else if let Some((attribute, rest)) = text.split_once('=') {
            (attribute, rest, false)
        } else {
            return Err(parse_error());
        };
        let attribute = attribute.trim().trim_matches('"');
        let rest = rest.trim();
        let value = rest
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .or_else(|| rest.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')))
            .ok_or_else(parse_error)?;
        if value.contains('"') {
            return Err(parse_error());
        }
        if !SEARCHABLE.contains(&attribute) {
            return Err(CognitoError::invalid_parameter(format!("Invalid search attribute: {attribute}")));
        }
        Ok(Self { attribute: attribute.to_owned(), prefix, value: value.to_owned() })
    }

    pub fn matches(&self, user: &User) -> bool {
        let (actual, case_insensitive) = match self.attribute.as_str() {
            "username" => (Some(user.username.as_str()), true),
            "cognito:user_status" => (Some(user.status.as_str()), true),
            "status" => (Some(if user.enabled { "Enabled" } else { "Disabled" }), true),
            "sub" => (Some(user.sub.as_str()), false),
            "email" | "preferred_username" => (user.attribute(&self.attribute), true),
            other => (user.attribute(other), false),
        };
        // `name = ""` matches users without the attribute.
        let actual = actual.unwrap_or("");
        let (actual, wanted) = if case_insensitive {
            (actual.to_lowercase(), self.value.to_lowercase())
        } else {
            (actual.to_owned(), self.value.clone())
        };
        if self.prefix { actual.starts_with(&wanted) } else { actual == wanted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_forms_and_refuses_the_rest() {
        let exact = Filter::parse("email = \"a@example.com\"").expect("exact");
        assert!(!exact.prefix);
        assert_eq!(exact.value, "a@example.com");
        let prefix = Filter::parse("given_name ^= \"Jo\"").expect("prefix");
        assert!(prefix.prefix);
        assert_eq!(Filter::parse("family_name = \"\"").expect("empty").value, "");
        assert_eq!(Filter::parse("email ~ \"x\"").unwrap_err().message, "Error while parsing filter.");
        assert_eq!(Filter::parse("email = x").unwrap_err().message, "Error while parsing filter.");
        assert_eq!(Filter::parse("custom:tier = \"x\"").unwrap_err().message, "Invalid search attribute: custom:tier");
    }
}
