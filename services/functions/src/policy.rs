//! Resource policies: AddPermission, RemovePermission and GetPolicy, as
//! SAM, the CLI and other services' integrations create them. Statements
//! are kept per qualifier and answered in IAM's policy shape; nubo has no
//! IAM, so they are recorded, not enforced.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    error::{LambdaError, Result},
    lambda::{Lambda, check_revision},
};

/// AddPermission's request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionInput {
    pub statement_id: String,
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub revision_id: Option<String>,
}

fn valid_statement_id(id: &str) -> bool {
    (1..=100).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
}

fn valid_action(action: &str) -> bool {
    action == "*"
        || action.strip_prefix("lambda:").is_some_and(|name| {
            name == "*" || (!name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphabetic()))
        })
}

/// A principal as IAM writes it: a service, an account's root, an ARN, or anyone.
fn principal(principal: &str) -> Value {
    if principal == "*" {
        json!("*")
    } else if principal.len() == 12 && principal.bytes().all(|byte| byte.is_ascii_digit()) {
        json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
    } else if principal.starts_with("arn:") {
        json!({ "AWS": principal })
    } else {
        json!({ "Service": principal })
    }
}

impl Lambda {
    pub async fn add_permission(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        input: PermissionInput,
    ) -> Result<Value> {
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        check_revision(&function, input.revision_id.as_deref())?;
        if !valid_statement_id(&input.statement_id) {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)",
                input.statement_id
            )));
        }
        if !valid_action(&input.action) {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
                input.action
            )));
        }
        let mut resource = function.arn(&self.region, &self.account_id);
        if let Some(qualifier) = qualifier {
            // The version or alias must exist.
            self.resolve(&format!("{}:{qualifier}", function.name)).await?;
            resource = format!("{resource}:{qualifier}");
        }
        let statements = function.settings.policy.entry(qualifier.unwrap_or_default().to_owned()).or_default();
        if statements.iter().any(|statement| statement["Sid"] == input.statement_id.as_str()) {
            return Err(LambdaError::Conflict(format!(
                "The statement id ({}) provided already exists. Please choose another statement id for your function's policy.",
                input.statement_id
            )));
        }
        let mut statement = json!({
            "Sid": input.statement_id,
            "Effect": "Allow",
            "Principal": principal(&input.principal),
            "Action": input.action,
            "Resource": resource,
        });
        let mut condition = serde_json::Map::new();
        if let Some(arn) = input.source_arn {
            condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": arn }));
        }
        let mut equals = serde_json::Map::new();
        if let Some(account) = input.source_account {
            equals.insert("AWS:SourceAccount".into(), account.into());
        }
        if let Some(organization) = input.principal_org_id {
            equals.insert("aws:PrincipalOrgID".into(), organization.into());
        }
        if let Some(auth_type) = input.function_url_auth_type {
            equals.insert("lambda:FunctionUrlAuthType".into(), auth_type.into());
        }
        if !equals.is_empty() {
            condition.insert("StringEquals".into(), Value::Object(equals));
        }
        if !condition.is_empty() {
            statement["Condition"] = Value::Object(condition);
        }
        statements.push(statement.clone());
        function.settings.policy_revision = uuid::Uuid::new_v4().to_string();
        self.registry.put(&function, latest.version).await?;
        Ok(statement)
    }

    pub async fn remove_permission(&self, reference: &str, qualifier: Option<&str>, statement_id: &str) -> Result<()> {
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        let key = qualifier.unwrap_or_default().to_owned();
        let statements = function.settings.policy.entry(key.clone()).or_default();
        let before = statements.len();
        statements.retain(|statement| statement["Sid"] != statement_id);
        if statements.len() == before {
            return Err(LambdaError::ResourceNotFound(format!(
                "Statement {statement_id} is not found in resource policy."
            )));
        }
        if statements.is_empty() {
            function.settings.policy.remove(&key);
        }
        function.settings.policy_revision = uuid::Uuid::new_v4().to_string();
        self.registry.put(&function, latest.version).await?;
        Ok(())
    }

    /// GetPolicy's answer: the policy document as a string, and the
    /// function's revision.
    pub async fn policy(&self, reference: &str, qualifier: Option<&str>) -> Result<Value> {
        let function = self.latest(reference).await?.function;
        let statements = function.settings.policy.get(qualifier.unwrap_or_default()).filter(|list| !list.is_empty());
        let Some(statements) = statements else {
            return Err(LambdaError::ResourceNotFound("The resource you requested does not exist.".into()));
        };
        let document = json!({ "Version": "2012-10-17", "Id": "default", "Statement": statements });
        Ok(json!({ "Policy": document.to_string(), "RevisionId": function.revision_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_take_iams_shapes() {
        assert_eq!(principal("apigateway.amazonaws.com"), json!({ "Service": "apigateway.amazonaws.com" }));
        assert_eq!(principal("123456789012"), json!({ "AWS": "arn:aws:iam::123456789012:root" }));
        assert_eq!(principal("*"), json!("*"));
    }

    #[test]
    fn actions_and_statement_ids_are_checked() {
        assert!(valid_action("lambda:InvokeFunction") && valid_action("lambda:*") && valid_action("*"));
        assert!(!valid_action("s3:GetObject") && !valid_action("lambda:"));
        assert!(valid_statement_id("apigw-invoke.1") && !valid_statement_id("a b") && !valid_statement_id(""));
    }
}
