//! AWS STS on the edge: the calls every tool makes before any other —
//! `GetCallerIdentity` (Terraform, SAM and the CDK ask it first),
//! `GetSessionToken` and `AssumeRole` — in STS's awsQuery protocol (a form
//! body `Action=...&Version=2011-06-15`, XML answers).
//!
//! Temporary credentials are issued by the host's [`Sessions`]: sealed by
//! the cluster credential, so every service of the deployment accepts them
//! without a session store. nubo has no IAM: any well-formed role ARN of
//! this account can be assumed by any principal, and the session acts with
//! the rights of its own name (see the returned `AssumedRoleUser`).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use nubo_host::{
    front::{AwsError, AwsFront, Protocol, name_operation, request_id},
    sigv4::{Principal, PrincipalKind, Sessions, TemporaryCredentials, stable_id},
};

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// STS's request bodies are small forms.
const MAX_BODY: usize = 64 * 1024;

/// The STS front: awsQuery, signed as `sts` in this region or in
/// `us-east-1` (the global endpoint), 15 minutes of clock skew.
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(
        Protocol::RestXml { namespace: NAMESPACE },
        context.policy("sts", 15).global(),
        context.credentials.clone(),
        MAX_BODY,
    )
}

/// One STS action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetCallerIdentity,
    GetSessionToken,
    AssumeRole,
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::GetSessionToken => "GetSessionToken",
            Operation::AssumeRole => "AssumeRole",
        }
    }
}

impl Operation {
    fn parse(action: &str) -> Option<Self> {
        Some(match action {
            "GetCallerIdentity" => Operation::GetCallerIdentity,
            "GetSessionToken" => Operation::GetSessionToken,
            "AssumeRole" => Operation::AssumeRole,
            _ => return None,
        })
    }
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

/// The form parameters of an awsQuery request: the query string and a
/// form body together.
fn parameters(request: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut parameters = HashMap::new();
    for source in [request.query_string().as_bytes(), body] {
        for pair in source.split(|byte| *byte == b'&').filter(|pair| !pair.is_empty()) {
            let text = String::from_utf8_lossy(pair).replace('+', " ");
            let (key, value) = text.split_once('=').unwrap_or((&text, ""));
            parameters.insert(nubo_host::sigv4::percent_decode(key), nubo_host::sigv4::percent_decode(value));
        }
    }
    parameters
}

/// Answers one STS call whose raw body has been read.
pub async fn handle(request: &HttpRequest, raw: Bytes, front: &AwsFront) -> HttpResponse {
    match answer(request, raw, front) {
        Ok(response) => response,
        Err(error) => front.error(&error),
    }
}

fn answer(request: &HttpRequest, raw: Bytes, front: &AwsFront) -> Result<HttpResponse, AwsError> {
    let form = parameters(request, &raw);
    let action = form.get("Action").map(String::as_str).unwrap_or("");
    let operation = Operation::parse(action);
    if let Some(operation) = operation {
        name_operation(request, nubo_host::front::Operation::name(&operation));
    }
    let signed = front.verify_body(request, raw)?;
    let caller = signed.principal;
    let operation = operation.ok_or_else(|| {
        AwsError::new(400, "InvalidAction", format!("Could not find operation {action} for version 2011-06-15"))
    })?;
    let sessions = front
        .credentials
        .sessions()
        .ok_or_else(|| AwsError::new(500, "InternalFailure", "this deployment issues no temporary credentials"))?;
    let now = Utc::now();
    let body = match operation {
        Operation::GetCallerIdentity => {
            let mut xml = Xml::new("GetCallerIdentity");
            xml.element("Arn", &caller.arn);
            xml.element("UserId", &caller.user_id);
            xml.element("Account", &caller.account_id);
            xml.finish()
        }
        Operation::GetSessionToken => {
            if caller.temporary {
                return Err(AwsError::new(403, "AccessDenied", "Cannot call GetSessionToken with session credentials"));
            }
            // The account's root gets sessions of an hour at most, users 36.
            let longest = if caller.kind == PrincipalKind::Root { 3_600 } else { 129_600 };
            let duration = duration(&form, 900, longest, longest.min(43_200))?;
            let issued = sessions.issue(&caller, now + duration);
            let mut xml = Xml::new("GetSessionToken");
            xml.credentials(&issued);
            xml.finish()
        }
        Operation::AssumeRole => {
            let role_arn = form.get("RoleArn").ok_or_else(|| invalid("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"))?;
            let session = form.get("RoleSessionName").ok_or_else(|| invalid("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"))?;
            let duration = duration(&form, 900, 43_200, 3_600)?;
            let (principal, issued) = assume_role(sessions, &caller, role_arn, session, now + duration)?;
            let mut xml = Xml::new("AssumeRole");
            xml.open("AssumedRoleUser");
            xml.element("AssumedRoleId", &principal.user_id);
            xml.element("Arn", &principal.arn);
            xml.close("AssumedRoleUser");
            xml.credentials(&issued);
            xml.finish()
        }
    };
    Ok(HttpResponse::Ok().content_type("text/xml").body(body))
}

/// `DurationSeconds`, within STS's bounds for the action.
fn duration(form: &HashMap<String, String>, min: i64, max: i64, default: i64) -> Result<Duration, AwsError> {
    let Some(raw) = form.get("DurationSeconds") else { return Ok(Duration::seconds(default)) };
    let seconds: i64 = raw.parse().map_err(|_| invalid(format!("Invalid DurationSeconds: {raw}")))?;
    if !(min..=max).contains(&seconds) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value {} or equal to {}",
            if seconds < min { "greater than" } else { "less than" },
            if seconds < min { min } else { max }
        )));
    }
    Ok(Duration::seconds(seconds))
}

/// The session of `caller` as `role_arn`, named `session`.
fn assume_role(
    sessions: &Sessions,
    caller: &Principal,
    role_arn: &str,
    session: &str,
    expiration: DateTime<Utc>,
) -> Result<(Principal, TemporaryCredentials), AwsError> {
    let name_ok = (2..=64).contains(&session.len())
        && session.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
    if !name_ok {
        return Err(invalid(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let role =
        role_arn.strip_prefix("arn:aws:iam::").and_then(|rest| rest.split_once(":role/")).filter(|(account, name)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
    let Some((account, path_and_name)) = role else {
        return Err(invalid(format!("{role_arn} is invalid")));
    };
    if account != caller.account_id {
        return Err(AwsError::new(
            403,
            "AccessDenied",
            format!("User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", caller.arn),
        ));
    }
    let role_name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
    let role_id = stable_id("AROA", role_arn);
    let principal = Principal {
        name: session.to_owned(),
        arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
        user_id: format!("{role_id}:{session}"),
        account_id: account.to_owned(),
        kind: PrincipalKind::AssumedRole,
        access_key_id: String::new(),
        temporary: true,
    };
    let issued = sessions.issue(&principal, expiration);
    Ok((principal, issued))
}

/// An awsQuery response document: `<{Action}Response><{Action}Result>…`.
struct Xml {
    action: &'static str,
    out: String,
}

impl Xml {
    fn new(action: &'static str) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str(&format!("<{action}Response xmlns=\"{NAMESPACE}\"><{action}Result>"));
        Self { action, out }
    }

    fn open(&mut self, name: &str) {
        self.out.push_str(&format!("<{name}>"));
    }

    fn close(&mut self, name: &str) {
        self.out.push_str(&format!("</{name}>"));
    }

    fn element(&mut self, name: &str, text: &str) {
        self.out.push_str(&format!("<{name}>{}</{name}>", quick_xml::escape::escape(text)));
    }

    fn credentials(&mut self, issued: &TemporaryCredentials) {
        self.open("Credentials");
        self.element("AccessKeyId", &issued.access_key_id);
        self.element("SecretAccessKey", &issued.secret_access_key);
        self.element("SessionToken", &issued.session_token);
        self.element("Expiration", &issued.expiration.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.close("Credentials");
    }

    fn finish(mut self) -> String {
        let action = self.action;
        self.out.push_str(&format!(
            "</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
            request_id()
        ));
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumed_role_is_named_as_aws_names_it() {
        let sessions = Sessions::new("a cluster secret of some length");
        let caller = Principal::root("000000000000", "test");
        let expiration = Utc::now() + Duration::hours(1);
        let (principal, issued) =
            assume_role(&sessions, &caller, "arn:aws:iam::000000000000:role/path/deployer", "ci-run", expiration)
                .unwrap();
        assert_eq!(principal.arn, "arn:aws:sts::000000000000:assumed-role/deployer/ci-run");
        assert!(principal.user_id.starts_with("AROA") && principal.user_id.ends_with(":ci-run"));
        assert!(issued.access_key_id.starts_with("ASIA"));
        assert!(assume_role(&sessions, &caller, "arn:aws:iam::111111111111:role/x", "ci-run", expiration).is_err());
        assert!(assume_role(&sessions, &caller, "not-an-arn", "ci-run", expiration).is_err());
        assert!(assume_role(&sessions, &caller, "arn:aws:iam::000000000000:role/x", "a b", expiration).is_err());
    }
}
