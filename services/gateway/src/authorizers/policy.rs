//! The IAM policies Lambda authorizers answer with: a request is allowed
//! when a statement allows `execute-api:Invoke` on its ARN and none denies
//! it. Resources match with IAM's wildcards (`*` any run, `?` one
//! character), so `arn:aws:execute-api:*:*:api/*/GET/*` works as in AWS.

use serde_json::Value;

/// What a policy decides for one ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies the ARN: API Gateway names the explicit deny.
    ExplicitDeny,
    /// No statement allows it.
    NotAllowed,
}

/// Whether `document` allows invoking `arn`.
pub fn allows(document: &Value, arn: &str) -> bool {
    decide(document, arn) == Decision::Allow
}

/// The decision of `document` for invoking `arn`: a matching Deny wins
/// over any Allow.
pub fn decide(document: &Value, arn: &str) -> Decision {
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        _ => return Decision::NotAllowed,
    };
    let mut decision = Decision::NotAllowed;
    for statement in statements {
        let applies = any_matches(statement.get("Action"), action_matches)
            && any_matches(statement.get("Resource"), |resource| wildcard_matches(resource, arn));
        if !applies {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => decision = Decision::Allow,
            _ => {}
        }
    }
    decision
}

fn any_matches(value: Option<&Value>, test: impl Fn(&str) -> bool) -> bool {
    match value {
        Some(Value::String(one)) => test(one),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).any(test),
        _ => false,
    }
}

/// IAM action names are case-insensitive.
fn action_matches(action: &str) -> bool {
    wildcard_matches(&action.to_ascii_lowercase(), "execute-api:invoke")
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:abc/$default/GET/items/1";

    fn policy(effect: &str, resource: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [{ "Action": "execute-api:Invoke", "Effect": effect, "Resource": resource }] })
    }

    #[test]
    fn allow_needs_a_matching_statement_and_deny_wins() {
        assert!(allows(&policy("Allow", json!(ARN)), ARN));
        assert!(allows(&policy("Allow", json!("arn:aws:execute-api:*:*:abc/*/GET/*")), ARN));
        assert!(allows(&policy("Allow", json!(["x", "arn:aws:execute-api:us-east-1:000000000000:abc/*"])), ARN));
        assert!(!allows(&policy("Allow", json!("arn:aws:execute-api:*:*:abc/*/POST/*")), ARN));
        assert!(!allows(&policy("Deny", json!(ARN)), ARN));
        let mut both = policy("Allow", json!("*"));
        both["Statement"].as_array_mut().unwrap().push(json!({ "Action": "*", "Effect": "Deny", "Resource": ARN }));
        assert!(!allows(&both, ARN));
        assert!(!allows(
            &json!({ "Statement": [{ "Action": "s3:GetObject", "Effect": "Allow", "Resource": "*" }] }),
            ARN
        ));
        assert!(!allows(&json!({}), ARN));
        assert!(allows(
            &json!({ "Statement": { "Action": "execute-api:*", "Effect": "Allow", "Resource": "*" } }),
            ARN
        ));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_matches("a*c", "abbbc"));
        assert!(wildcard_matches("a?c", "abc"));
        assert!(!wildcard_matches("a?c", "abbc"));
        assert!(wildcard_matches("*", ""));
        assert!(!wildcard_matches("abc", "abcd"));
    }
}
