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
        // The operator is before the value's opening quote; whatever the
        // value holds (`=`, `^=`) is value.
        let open = text.find(['"', '\'']).ok_or_else(parse_error)?;
        let quote = text[open..].chars().next().ok_or_else(parse_error)?;
        let head = text[..open].trim_end();
        let (attribute, prefix) = if let Some(attribute) = head.strip_suffix("^=") {
            (attribute, true)
        } else if let Some(attribute) = head.strip_suffix('=') {
            (attribute, false)
        } else {
            return Err(parse_error());
        };
        let attribute = attribute.trim().trim_matches('"');
        let quoted = &text[open + 1..];
        let closing = quoted.strip_suffix(quote).ok_or_else(parse_error)?;
        // Quotes and backslashes inside the value are escaped with a
        // backslash, as Cognito's API reference has them.
        let mut value = String::with_capacity(closing.len());
        let mut chars = closing.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().ok_or_else(parse_error)?),
                c if c == quote => return Err(parse_error()),
                c => value.push(c),
            }
        }
        if !SEARCHABLE.contains(&attribute) {
            return Err(CognitoError::invalid_parameter(format!("Invalid search attribute: {attribute}")));
        }
        Ok(Self { attribute: attribute.to_owned(), prefix, value })
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
        let escaped = Filter::parse(r#"name = "say \"hi\" ^= there""#).expect("escaped quotes");
        assert!(!escaped.prefix);
        assert_eq!(escaped.value, "say \"hi\" ^= there");
        assert_eq!(Filter::parse(r#"name = "unclosed \""#).unwrap_err().message, "Error while parsing filter.");
    }
}
