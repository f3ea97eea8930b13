//! A function's configuration as stored and as the Lambda API shows it,
//! with the validation rules of CreateFunction and UpdateFunctionConfiguration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::LambdaError;

/// The runtimes nubo runs. Each maps to an interpreter (or none, for the
/// `provided` family) and a bootstrap that speaks the Runtime API.
pub const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "provided.al2023",
    "provided.al2",
];

/// Runtimes AWS has retired for creation and update.
const RETIRED_RUNTIMES: &[&str] = &[
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "provided",
];

/// Environment variables Lambda sets itself and refuses to let users set.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// The family of a runtime, which decides how an environment starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFamily {
    Python,
    Node,
    Provided,
}

pub fn runtime_family(runtime: &str) -> Option<RuntimeFamily> {
    if !RUNTIMES.contains(&runtime) {
        return None;
    }
    Some(if runtime.starts_with("python") {
        RuntimeFamily::Python
    } else if runtime.starts_with("nodejs") {
        RuntimeFamily::Node
    } else {
        RuntimeFamily::Provided
    })
}

/// A function as stored in the data service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub description: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    pub architectures: Vec<String>,
    pub ephemeral_storage_mb: u32,
    /// Base64 SHA-256 of the deployment package, as the Lambda API shows it.
    pub code_sha256: String,
    pub code_size: u64,
    /// Where the package lives in the storage service.
    pub code_bucket: String,
    pub code_key: String,
    /// ISO-8601 with milliseconds and a `+0000` offset, as Lambda writes it.
    pub last_modified: String,
    /// Changes with every update; environments of an older revision retire.
    pub revision_id: String,
    pub tags: BTreeMap<String, String>,
    /// `$LATEST`, or the number of a published version.
    #[serde(default = "latest")]
    pub version: String,
    /// The layer versions it runs with, in order.
    #[serde(default)]
    pub layers: Vec<crate::layers::FunctionLayer>,
    /// What the function itself keeps (on its `$LATEST` record only): the
    /// versions published, its reserved concurrency, its resource policy.
    #[serde(default)]
    pub settings: FunctionSettings,
}

fn latest() -> String {
    LATEST.to_owned()
}

/// The unpublished version every function has.
pub const LATEST: &str = "$LATEST";

/// A function's settings that are not part of a version's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionSettings {
    /// The number of the last version published (versions count from 1).
    pub last_version: u64,
    /// The revision of `$LATEST` that version was published from, so
    /// publishing an unchanged function returns that version again.
    pub last_published_revision: Option<String>,
    pub reserved_concurrency: Option<u32>,
    /// Resource-policy statements by qualifier (`""`: the function itself).
    pub policy: BTreeMap<String, Vec<Value>>,
    /// Changes with every change of the policy.
    pub policy_revision: String,
    /// Asynchronous-invocation settings by qualifier (`""`: `$LATEST`).
    #[serde(default)]
    pub event_invoke: BTreeMap<String, crate::events::EventInvokeConfig>,
    /// Function URL ids by qualifier (`""`: the unqualified function).
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
}

/// The settings CreateFunction and UpdateFunctionConfiguration accept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigurationInput {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<EnvironmentInput>,
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    /// Layer version ARNs; resolved by [`crate::lambda::Lambda`], since
    /// they name stored layers.
    pub layers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentInput {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorageInput {
    pub size: i64,
}

/// A function name, or the name part of an ARN or partial ARN, with its
/// qualifier if one was given (`name:alias`, `arn:...:function:name:1`).
pub fn parse_function_reference(reference: &str) -> Result<(String, Option<String>), LambdaError> {
    let parts: Vec<&str> = reference.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        ["arn", _, "lambda", _, _, "function", name] => (*name, None),
        ["arn", _, "lambda", _, _, "function", name, qualifier] => (*name, Some(*qualifier)),
        [_, "function", name] => (*name, None),
        [_, "function", name, qualifier] => (*name, Some(*qualifier)),
        _ => return Err(invalid_name(reference)),
    };
    if !valid_name(name) {
        return Err(invalid_name(reference));
    }
    Ok((name.to_owned(), qualifier.filter(|q| !q.is_empty()).map(str::to_owned)))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid_name(reference: &str) -> LambdaError {
    LambdaError::Validation(format!(
        "1 validation error detected: Value '{reference}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

pub fn validate_runtime(runtime: &str) -> Result<(), LambdaError> {
    if RETIRED_RUNTIMES.contains(&runtime) {
        return Err(LambdaError::InvalidParameterValue(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
        )));
    }
    if runtime_family(runtime).is_none() {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
            RUNTIMES.join(", ")
        )));
    }
    Ok(())
}

fn validate_handler(handler: &str) -> Result<(), LambdaError> {
    let valid =
        !handler.is_empty() && handler.len() <= 128 && handler.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if valid {
        Ok(())
    } else {
        Err(LambdaError::Validation(format!(
            "1 validation error detected: Value '{handler}' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+"
        )))
    }
}

impl Function {
    /// Applies configuration changes, validating each the way Lambda does.
    pub fn apply(&mut self, input: ConfigurationInput) -> Result<(), LambdaError> {
        if let Some(runtime) = input.runtime {
            validate_runtime(&runtime)?;
            self.runtime = runtime;
        }
        if let Some(handler) = input.handler {
            validate_handler(&handler)?;
            self.handler = handler;
        }
        if let Some(role) = input.role {
            self.role = role;
        }
        if let Some(description) = input.description {
            if description.len() > 256 {
                return Err(LambdaError::Validation(
                    "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256".into(),
                ));
            }
            self.description = description;
        }
        if let Some(timeout) = input.timeout {
            if !(1..=900).contains(&timeout) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value {}",
                    if timeout < 1 { "greater than or equal to 1" } else { "less than or equal to 900" }
                )));
            }
            self.timeout_secs = timeout as u32;
        }
        if let Some(memory) = input.memory_size {
            if !(128..=10240).contains(&memory) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have value {}",
                    if memory < 128 { "greater than or equal to 128" } else { "less than or equal to 10240" }
                )));
            }
            self.memory_mb = memory as u32;
        }
        if let Some(storage) = input.ephemeral_storage {
            if !(512..=10240).contains(&storage.size) {
                return Err(LambdaError::InvalidParameterValue(
                    "Ephemeral storage size must be between 512 and 10240 MB".into(),
                ));
            }
            self.ephemeral_storage_mb = storage.size as u32;
        }
        if let Some(environment) = input.environment {
            let reserved: Vec<&str> = environment
                .variables
                .keys()
                .map(String::as_str)
                .filter(|key| RESERVED_VARIABLES.contains(key))
                .collect();
            if !reserved.is_empty() {
                return Err(LambdaError::InvalidParameterValue(format!(
                    "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
                    reserved.join(", ")
                )));
            }
            if let Some(key) = environment.variables.keys().find(|key| !valid_variable_name(key)) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (got '{key}')"
                )));
            }
            let size: usize = environment.variables.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > 4096 {
                return Err(LambdaError::InvalidParameterValue(
                    "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.".into(),
                ));
            }
            self.environment = environment.variables;
        }
        Ok(())
    }

    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:lambda:{region}:{account}:function:{}", self.name)
    }

    /// The ARN of this version: qualified unless it is `$LATEST`.
    pub fn version_arn(&self, region: &str, account: &str) -> String {
        if self.version == LATEST {
            self.arn(region, account)
        } else {
            format!("{}:{}", self.arn(region, account), self.version)
        }
    }

    /// Environments are pooled per version: each runs its own code.
    pub fn pool_key(&self) -> String {
        if self.version == LATEST { self.name.clone() } else { format!("{}:{}", self.name, self.version) }
    }

    /// The `FunctionConfiguration` shape of the Lambda API.
    pub fn configuration(&self, region: &str, account: &str) -> Value {
        let mut configuration = json!({
            "FunctionName": self.name,
            "FunctionArn": self.version_arn(region, account),
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout_secs,
            "MemorySize": self.memory_mb,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": self.version,
            "TracingConfig": { "Mode": "PassThrough" },
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": self.architectures,
            "EphemeralStorage": { "Size": self.ephemeral_storage_mb },
            "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
            "RuntimeVersionConfig": { "RuntimeVersionArn": format!("arn:aws:lambda:{region}::runtime:{}", self.runtime) },
            "LoggingConfig": { "LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", self.name) },
        });
        if !self.environment.is_empty() {
            configuration["Environment"] = json!({ "Variables": self.environment });
        }
        if !self.layers.is_empty() {
            let layers: Vec<Value> =
                self.layers.iter().map(|layer| json!({ "Arn": layer.arn, "CodeSize": layer.code_size })).collect();
            configuration["Layers"] = layers.into();
        }
        configuration
    }
}

fn valid_variable_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Lambda's timestamp format: `2024-01-31T12:00:00.000+0000`.
pub fn lambda_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_names_and_qualifiers() {
        assert_eq!(parse_function_reference("echo").unwrap(), ("echo".into(), None));
        assert_eq!(parse_function_reference("echo:prod").unwrap(), ("echo".into(), Some("prod".into())));
        assert_eq!(
            parse_function_reference("arn:aws:lambda:us-east-1:000000000000:function:echo").unwrap(),
            ("echo".into(), None)
        );
        assert_eq!(
            parse_function_reference("arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST").unwrap(),
            ("echo".into(), Some("$LATEST".into()))
        );
        assert_eq!(parse_function_reference("000000000000:function:echo").unwrap(), ("echo".into(), None));
        for bad in ["", "a b", "x".repeat(65).as_str(), "arn:aws:s3:::bucket", "a:b:c:d"] {
            assert!(matches!(parse_function_reference(bad), Err(LambdaError::Validation(_))), "{bad}");
        }
    }

    #[test]
    fn runtimes_are_checked_against_what_nubo_runs() {
        assert!(validate_runtime("python3.12").is_ok());
        assert!(validate_runtime("provided.al2023").is_ok());
        let LambdaError::InvalidParameterValue(message) = validate_runtime("cobol85").unwrap_err() else { panic!() };
        assert!(message.starts_with("Value cobol85 at 'runtime' failed to satisfy constraint"), "{message}");
        let LambdaError::InvalidParameterValue(message) = validate_runtime("python3.7").unwrap_err() else { panic!() };
        assert!(message.contains("no longer supported"), "{message}");
    }

    fn function() -> Function {
        Function {
            name: "f".into(),
            runtime: "python3.12".into(),
            role: String::new(),
            handler: "app.handler".into(),
            description: String::new(),
            timeout_secs: 3,
            memory_mb: 128,
            environment: BTreeMap::new(),
            architectures: vec!["x86_64".into()],
            ephemeral_storage_mb: 512,
            code_sha256: String::new(),
            code_size: 0,
            code_bucket: String::new(),
            code_key: String::new(),
            last_modified: String::new(),
            revision_id: String::new(),
            tags: BTreeMap::new(),
            version: LATEST.into(),
            layers: Vec::new(),
            settings: FunctionSettings::default(),
        }
    }

    #[test]
    fn configuration_limits_are_enforced() {
        let mut f = function();
        assert!(f.apply(ConfigurationInput { timeout: Some(0), ..Default::default() }).is_err());
        assert!(f.apply(ConfigurationInput { timeout: Some(901), ..Default::default() }).is_err());
        assert!(f.apply(ConfigurationInput { memory_size: Some(64), ..Default::default() }).is_err());
        let reserved = EnvironmentInput { variables: [("AWS_REGION".to_string(), "x".to_string())].into() };
        let error = f.apply(ConfigurationInput { environment: Some(reserved), ..Default::default() }).unwrap_err();
        assert!(error.to_string().contains("AWS_REGION"));
        f.apply(ConfigurationInput { timeout: Some(30), memory_size: Some(256), ..Default::default() }).unwrap();
        assert_eq!((f.timeout_secs, f.memory_mb), (30, 256));
    }
}
