//! Who may do what: the bucket owner, then the bucket policy (explicit
//! denies first), then canned ACLs, all under the bucket's public access
//! block — the order S3 evaluates them in. Anonymous requests get exactly
//! what a policy or an ACL grants everyone.
//!
//! Policies are parsed when they are put, and refused (`MalformedPolicy`)
//! if they use an element or condition this evaluator does not know, so a
//! stored policy never means something other than what it says.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use nubo_host::{front::AwsError, sigv4::Principal};

use super::request::Operation;
use crate::catalog::Bucket;

/// The four switches of S3's Block Public Access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// What a new bucket gets, as in S3 since April 2023.
    pub const ALL: Self = Self {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

/// The canned ACLs S3 accepts.
pub const CANNED_ACLS: [&str; 7] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

pub fn is_public_acl(acl: &str) -> bool {
    matches!(acl, "public-read" | "public-read-write" | "authenticated-read")
}

/// The outcome of evaluating a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// Nothing granted it; an object's own ACL may still.
    NotGranted,
    /// A policy statement denies it: nothing else can allow it.
    Denied,
}

/// What a request is, in policy terms.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: Option<&'a Principal>,
    pub owner: Option<&'a str>,
    /// `s3:GetObject`, ...
    pub action: &'static str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: String,
    pub secure_transport: bool,
    /// `s3:prefix` of a listing.
    pub prefix: Option<&'a str>,
}

/// The IAM action an operation needs.
pub fn action_of(operation: Operation, version_id: bool) -> &'static str {
    use Operation::*;
    match operation {
        GetObject | HeadObject | GetObjectAttributes if version_id => "s3:GetObjectVersion",
        GetObject | HeadObject => "s3:GetObject",
        GetObjectAttributes => "s3:GetObjectAttributes",
        PutObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload
        | PostObject => "s3:PutObject",
        DeleteObject if version_id => "s3:DeleteObjectVersion",
        DeleteObject | DeleteObjects => "s3:DeleteObject",
        AbortMultipartUpload => "s3:AbortMultipartUpload",
        ListParts => "s3:ListMultipartUploadParts",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        ListObjects | ListObjectsV2 | HeadBucket => "s3:ListBucket",
        ListObjectVersions => "s3:ListBucketVersions",
        GetObjectTagging => "s3:GetObjectTagging",
        PutObjectTagging => "s3:PutObjectTagging",
        DeleteObjectTagging => "s3:DeleteObjectTagging",
        GetObjectAcl => "s3:GetObjectAcl",
        PutObjectAcl => "s3:PutObjectAcl",
        GetBucketLocation => "s3:GetBucketLocation",
        GetBucketPolicy | GetBucketPolicyStatus => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        // Bucket configuration: granted to the owner only.
        _ => "s3:*Configuration",
    }
}

/// Whether `action` is one a bucket's owner alone may take.
fn owner_only(action: &str) -> bool {
    action == "s3:*Configuration" || POLICY_ACTIONS.contains(&action)
}

/// The actions that manage a bucket's policy.
const POLICY_ACTIONS: [&str; 3] = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"];

/// Evaluates `request` against `bucket`'s owner, policy and ACL.
pub fn evaluate(bucket: &Bucket, request: &Request<'_>) -> Access {
    let block = bucket.public_access_block.unwrap_or(PublicAccessBlock {
        block_public_acls: false,
        ignore_public_acls: false,
        block_public_policy: false,
        restrict_public_buckets: false,
    });
    let is_owner = request.owner.is_some_and(|owner| owner == bucket.owner);
    // As with an account's root user, no policy locks the owner out of
    // changing the policy itself.
    if is_owner && POLICY_ACTIONS.contains(&request.action) {
        return Access::Allowed;
    }
    let policy = bucket.policy.as_deref().and_then(|text| Policy::parse(text, &bucket.name).ok());
    if let Some(policy) = &policy
        && policy.statements.iter().any(|statement| statement.effect == Effect::Deny && statement.applies(request))
    {
        return Access::Denied;
    }
    if is_owner {
        return Access::Allowed;
    }
    if owner_only(request.action) {
        return Access::NotGranted;
    }
    if let Some(policy) = &policy {
        // RestrictPublicBuckets: a public policy grants nothing to anyone
        // outside the bucket owner's account.
        let restricted = block.restrict_public_buckets && policy.is_public();
        let same_account = request.principal.is_some_and(|principal| principal.account_id == bucket_account(bucket));
        if (!restricted || same_account)
            && policy.statements.iter().any(|statement| statement.effect == Effect::Allow && statement.applies(request))
        {
            return Access::Allowed;
        }
    }
    if !block.ignore_public_acls && acl_grants(&bucket.acl, request, true) {
        return Access::Allowed;
    }
    Access::NotGranted
}

/// Whether an object's own canned ACL lets `request` read it.
pub fn object_acl_allows(bucket: &Bucket, acl: Option<&str>, request: &Request<'_>) -> bool {
    let ignored = bucket.public_access_block.is_some_and(|block| block.ignore_public_acls);
    !ignored && acl.is_some_and(|acl| acl_grants(acl, request, false))
}

fn bucket_account(bucket: &Bucket) -> String {
    bucket.owner_account.clone().unwrap_or_default()
}

/// What a canned ACL grants beyond the owner: a bucket's READ is listing,
/// its WRITE is putting and deleting; an object's READ is reading it.
fn acl_grants(acl: &str, request: &Request<'_>, on_bucket: bool) -> bool {
    let reads = if on_bucket {
        matches!(request.action, "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads")
    } else {
        matches!(request.action, "s3:GetObject" | "s3:GetObjectVersion")
    };
    let writes = on_bucket && matches!(request.action, "s3:PutObject" | "s3:DeleteObject");
    match acl {
        "public-read" => reads,
        "public-read-write" => reads || writes,
        "authenticated-read" => reads && request.principal.is_some(),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// A parsed bucket policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    /// `None` for `Principal: "*"`; else the ARNs and account ids named.
    principals: Option<Vec<String>>,
    not_principal: bool,
    actions: Vec<String>,
    not_action: bool,
    resources: Vec<String>,
    not_resource: bool,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
struct Condition {
    operator: String,
    key: String,
    values: Vec<String>,
}

/// The condition keys this evaluator knows.
const CONDITION_KEYS: [&str; 5] =
    ["aws:securetransport", "aws:principalaccount", "aws:principalarn", "aws:username", "s3:prefix"];
const CONDITION_OPERATORS: [&str; 6] =
    ["Bool", "StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "ArnLike"];

fn malformed(message: &str) -> AwsError {
    AwsError::new(400, "MalformedPolicy", message)
}

/// A string or a list of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(many) => many.iter().map(|item| item.as_str().map(str::to_owned)).collect(),
        Value::Bool(flag) => Some(vec![flag.to_string()]),
        _ => None,
    }
}

impl Policy {
    /// Parses and checks a policy for `bucket` as PutBucketPolicy does.
    pub fn parse(text: &str, bucket: &str) -> Result<Self, AwsError> {
        let document: Value = serde_json::from_str(text)
            .map_err(|_| malformed("Policies must be valid JSON and the first byte must be '{'"))?;
        let Some(object) = document.as_object() else {
            return Err(malformed("Policies must be valid JSON and the first byte must be '{'"));
        };
        if let Some(version) = object.get("Version")
            && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(malformed("The policy must contain a valid version string"));
        }
        for key in object.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(&format!("Unknown field {key}")));
            }
        }
        let statements = match object.get("Statement") {
            Some(Value::Array(many)) => many.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err(malformed("Missing required field Statement")),
        };
        if statements.is_empty() {
            return Err(malformed("Could not parse the policy: Statement is empty!"));
        }
        let statements =
            statements.iter().map(|statement| Statement::parse(statement, bucket)).collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }

    /// Whether some statement allows everyone, unconditionally enough to
    /// count as public in S3's sense.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|statement| {
            // `NotPrincipal` in an Allow grants everyone it does not name.
            let everyone = statement.principals.is_none() || statement.not_principal;
            // Only a condition that names who may ask narrows it.
            let narrowed = statement.conditions.iter().any(|condition| {
                matches!(condition.key.as_str(), "aws:principalaccount" | "aws:principalarn")
                    && matches!(condition.operator.as_str(), "StringEquals" | "StringLike" | "ArnLike")
            });
            statement.effect == Effect::Allow && everyone && !narrowed
        })
    }
}

impl Statement {
    fn parse(value: &Value, bucket: &str) -> Result<Self, AwsError> {
        let Some(object) = value.as_object() else { return Err(malformed("Statement is not an object")) };
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "Sid"
                    | "Effect"
                    | "Principal"
                    | "NotPrincipal"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            ) {
                return Err(malformed(&format!("Unknown field {key}")));
            }
        }
        let effect = match object.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(malformed("Invalid effect")),
        };
        let (principal, not_principal) = match (object.get("Principal"), object.get("NotPrincipal")) {
            (Some(principal), None) => (principal, false),
            (None, Some(principal)) => (principal, true),
            _ => return Err(malformed("Missing required field Principal")),
        };
        let principals = match principal {
            Value::String(star) if star == "*" => None,
            Value::Object(map) => {
                let mut named = Vec::new();
                for (kind, value) in map {
                    if kind != "AWS" {
                        return Err(malformed("Invalid principal in policy"));
                    }
                    let values = strings(value).ok_or_else(|| malformed("Invalid principal in policy"))?;
                    if values.iter().any(|value| value == "*") {
                        named.clear();
                        break;
                    }
                    named.extend(values);
                }
                if named.is_empty() { None } else { Some(named) }
            }
            _ => return Err(malformed("Invalid principal in policy")),
        };
        let (actions, not_action) = match (object.get("Action"), object.get("NotAction")) {
            (Some(actions), None) => (actions, false),
            (None, Some(actions)) => (actions, true),
            _ => return Err(malformed("Missing required field Action")),
        };
        let actions = strings(actions).ok_or_else(|| malformed("Policy has an invalid action"))?;
        if actions.iter().any(|action| action != "*" && !action.to_ascii_lowercase().starts_with("s3:")) {
            return Err(malformed("Policy has invalid action"));
        }
        let (resources, not_resource) = match (object.get("Resource"), object.get("NotResource")) {
            (Some(resources), None) => (resources, false),
            (None, Some(resources)) => (resources, true),
            _ => return Err(malformed("Missing required field Resource")),
        };
        let resources = strings(resources).ok_or_else(|| malformed("Policy has invalid resource"))?;
        let own = format!("arn:aws:s3:::{bucket}");
        if resources.iter().any(|resource| resource != &own && !resource.starts_with(&format!("{own}/"))) {
            return Err(malformed("Policy has invalid resource"));
        }
        let mut conditions = Vec::new();
        if let Some(block) = object.get("Condition") {
            let Some(block) = block.as_object() else { return Err(malformed("Invalid Condition block")) };
            for (operator, tests) in block {
                if !CONDITION_OPERATORS.contains(&operator.as_str()) {
                    return Err(malformed(&format!("Policy has an unsupported condition operator: {operator}")));
                }
                let Some(tests) = tests.as_object() else { return Err(malformed("Invalid Condition block")) };
                for (key, values) in tests {
                    let key = key.to_ascii_lowercase();
                    if !CONDITION_KEYS.contains(&key.as_str()) {
                        return Err(malformed(&format!("Policy has an invalid condition key: {key}")));
                    }
                    let values = strings(values).ok_or_else(|| malformed("Invalid Condition block"))?;
                    conditions.push(Condition { operator: operator.clone(), key, values });
                }
            }
        }
        Ok(Self { effect, principals, not_principal, actions, not_action, resources, not_resource, conditions })
    }

    fn applies(&self, request: &Request<'_>) -> bool {
        let principal_matches = match &self.principals {
            None => true,
            Some(named) => request.principal.is_some_and(|principal| {
                named.iter().any(|name| {
                    name == &principal.arn
                        || name == &principal.account_id
                        || *name == format!("arn:aws:iam::{}:root", principal.account_id)
                })
            }),
        };
        if principal_matches == self.not_principal {
            return false;
        }
        let action_matches = self
            .actions
            .iter()
            .any(|pattern| pattern == "*" || glob(&pattern.to_ascii_lowercase(), &request.action.to_ascii_lowercase()));
        if action_matches == self.not_action {
            return false;
        }
        let resource_matches = self.resources.iter().any(|pattern| glob(pattern, &request.resource));
        if resource_matches == self.not_resource {
            return false;
        }
        self.conditions.iter().all(|condition| condition.holds(request))
    }
}

impl Condition {
    fn holds(&self, request: &Request<'_>) -> bool {
        let actual: Option<String> = match self.key.as_str() {
            "aws:securetransport" => Some(request.secure_transport.to_string()),
            "aws:principalaccount" => request.principal.map(|principal| principal.account_id.clone()),
            "aws:principalarn" => request.principal.map(|principal| principal.arn.clone()),
            "aws:username" => request.principal.map(|principal| principal.name.clone()),
            "s3:prefix" => request.prefix.map(str::to_owned),
            _ => None,
        };
        let Some(actual) = actual else {
            // An absent key satisfies only the negated operators, as in IAM.
            return matches!(self.operator.as_str(), "StringNotEquals" | "StringNotLike");
        };
        match self.operator.as_str() {
            "Bool" => self.values.iter().any(|value| value.eq_ignore_ascii_case(&actual)),
            "StringEquals" => self.values.contains(&actual),
            "StringNotEquals" => !self.values.contains(&actual),
            "StringLike" | "ArnLike" => self.values.iter().any(|pattern| glob(pattern, &actual)),
            "StringNotLike" => !self.values.iter().any(|pattern| glob(pattern, &actual)),
            _ => false,
        }
    }
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(at) = star {
            p = at + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(policy: Option<&str>, acl: &str, block: Option<PublicAccessBlock>) -> Bucket {
        let mut bucket: Bucket = serde_json::from_value(serde_json::json!({
            "name": "site", "owner": "000000000000", "region": "us-east-1", "created_unix_ms": 0
        }))
        .unwrap();
        bucket.policy = policy.map(str::to_owned);
        bucket.acl = acl.to_owned();
        bucket.public_access_block = block;
        bucket.owner_account = Some("000000000000".into());
        bucket
    }

    fn anonymous(action: &'static str, resource: &str) -> Request<'static> {
        Request {
            principal: None,
            owner: None,
            action,
            resource: resource.into(),
            secure_transport: false,
            prefix: None,
        }
    }

    const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;

    #[test]
    fn a_public_read_policy_lets_anyone_read_objects_and_nothing_else() {
        let site = bucket(Some(PUBLIC_READ), "private", None);
        assert_eq!(evaluate(&site, &anonymous("s3:GetObject", "arn:aws:s3:::site/index.html")), Access::Allowed);
        assert_eq!(evaluate(&site, &anonymous("s3:PutObject", "arn:aws:s3:::site/index.html")), Access::NotGranted);
        assert_eq!(evaluate(&site, &anonymous("s3:ListBucket", "arn:aws:s3:::site")), Access::NotGranted);
        // RestrictPublicBuckets takes the public grant away.
        let blocked = bucket(Some(PUBLIC_READ), "private", Some(PublicAccessBlock::ALL));
        assert_eq!(evaluate(&blocked, &anonymous("s3:GetObject", "arn:aws:s3:::site/index.html")), Access::NotGranted);
    }

    #[test]
    fn an_explicit_deny_beats_the_owner() {
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::site/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        let site = bucket(Some(deny), "private", None);
        let mut request = anonymous("s3:GetObject", "arn:aws:s3:::site/a");
        request.owner = Some("000000000000");
        assert_eq!(evaluate(&site, &request), Access::Denied);
        request.secure_transport = true;
        assert_eq!(evaluate(&site, &request), Access::Allowed);
    }

    #[test]
    fn canned_acls_grant_reads_unless_ignored() {
        let site = bucket(None, "public-read", None);
        assert_eq!(evaluate(&site, &anonymous("s3:ListBucket", "arn:aws:s3:::site")), Access::Allowed);
        let ignored = bucket(None, "public-read", Some(PublicAccessBlock::ALL));
        assert_eq!(evaluate(&ignored, &anonymous("s3:ListBucket", "arn:aws:s3:::site")), Access::NotGranted);
        assert!(object_acl_allows(&site, Some("public-read"), &anonymous("s3:GetObject", "arn:aws:s3:::site/a")));
    }

    #[test]
    fn policies_are_checked_when_put() {
        assert!(Policy::parse(PUBLIC_READ, "site").is_ok());
        assert!(Policy::parse(PUBLIC_READ, "other").is_err(), "a resource of another bucket");
        assert!(Policy::parse("not json", "site").is_err());
        let unknown = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        assert_eq!(Policy::parse(unknown, "site").unwrap_err().code, "MalformedPolicy");
        assert!(Policy::parse(PUBLIC_READ, "site").unwrap().is_public());
    }

    #[test]
    fn wildcards() {
        assert!(glob("s3:get*", "s3:getobject"));
        assert!(glob("arn:aws:s3:::site/*", "arn:aws:s3:::site/a/b"));
        assert!(!glob("arn:aws:s3:::site/*", "arn:aws:s3:::site"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
    }
}
