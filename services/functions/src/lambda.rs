//! The Lambda operations, independent of the protocol that carries them:
//! the HTTP front ([`crate::api`]) and the gRPC adapter ([`crate::grpc`])
//! both call [`Lambda`].

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    code::{self, CodeCache},
    error::{LambdaError, Result},
    invoker::{Invoked, Invoker},
    model::{ConfigurationInput, Function, lambda_timestamp, parse_function_reference},
    registry::{Registry, Versioned},
};

/// Lambda's limit on a synchronous request payload (6 MB).
pub const MAX_REQUEST_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda's limit on an asynchronous request payload (1 MB since 2025).
pub const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;

/// CreateFunction's request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    pub function_name: String,
    pub code: CodeInput,
    #[serde(flatten)]
    pub configuration: ConfigurationInput,
    #[serde(default)]
    pub package_type: Option<String>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub publish: bool,
}

/// A deployment package: inline zip or an object in storage.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "ImageUri")]
    pub image_uri: Option<String>,
}

/// How a caller wants a function invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// What Invoke answers.
#[derive(Debug)]
pub enum InvokeOutcome {
    Completed(Invoked),
    Queued,
    DryRun,
}

#[derive(Debug, Clone)]
pub struct Lambda {
    region: String,
    account_id: String,
    registry: Registry,
    code: CodeCache,
    invoker: Invoker,
}

impl Lambda {
    pub fn new(region: String, account_id: String, registry: Registry, code: CodeCache, invoker: Invoker) -> Self {
        Self { region, account_id, registry, code, invoker }
    }

    pub fn invoker(&self) -> &Invoker {
        &self.invoker
    }

    fn not_found(&self, name: &str) -> LambdaError {
        LambdaError::FunctionNotFound(format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account_id))
    }

    async fn load(&self, reference: &str) -> Result<Versioned> {
        let (name, qualifier) = parse_function_reference(reference)?;
        // An ARN of another region or account names no function here.
        if let Some(arn) = reference.strip_prefix("arn:") {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.get(2) != Some(&self.region.as_str()) || parts.get(3) != Some(&self.account_id.as_str()) {
                return Err(LambdaError::FunctionNotFound(reference.to_owned()));
            }
        }
        if let Some(qualifier) = qualifier.filter(|q| q != "$LATEST") {
            return Err(self.not_found(&format!("{name}:{qualifier}")));
        }
        self.registry.get(&name).await?.ok_or_else(|| self.not_found(&name))
    }

    pub fn arn(&self, function: &Function) -> String {
        function.arn(&self.region, &self.account_id)
    }

    /// The `FunctionConfiguration` shape of a function, for the API front.
    pub fn configuration(&self, function: &Function) -> Value {
        function.configuration(&self.region, &self.account_id)
    }

    /// Decodes, validates and stores a package; returns its digest fields.
    async fn store_package(&self, name: &str, input: CodeInput) -> Result<(String, u64, String, String)> {
        if input.image_uri.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "nubo runs Zip packages; container images are not supported".into(),
            ));
        }
        let package = match (input.zip_file, input.s3_bucket, input.s3_key) {
            (Some(zip), None, None) => {
                base64::engine::general_purpose::STANDARD.decode(zip.as_bytes()).map_err(|_| {
                    LambdaError::InvalidParameterValue(
                        "Could not unzip uploaded file. Please check your file, then try to upload again.".into(),
                    )
                })?
            }
            (None, Some(bucket), Some(key)) => self.registry.fetch_package(&bucket, &key).await?,
            _ => {
                return Err(LambdaError::InvalidParameterValue(
                    "Please provide a source for function code: either ZipFile, or S3Bucket and S3Key.".into(),
                ));
            }
        };
        code::validate(&package)?;
        let (hex, base64) = code::digest(&package);
        let size = package.len() as u64;
        let package = Bytes::from(package);
        // Unpack now so the first invocation does not pay for it.
        self.code.insert(&hex, package.clone()).await?;
        let (bucket, key) = self.registry.put_package(name, &hex, package.to_vec()).await?;
        Ok((base64, size, bucket, key))
    }

    pub async fn create_function(&self, input: CreateFunctionInput) -> Result<Function> {
        let (name, qualifier) = parse_function_reference(&input.function_name)?;
        if qualifier.is_some() {
            return Err(LambdaError::InvalidParameterValue("FunctionName must not carry a qualifier".into()));
        }
        if input.package_type.as_deref().is_some_and(|t| t != "Zip") {
            return Err(LambdaError::InvalidParameterValue(
                "nubo runs Zip packages; container images are not supported".into(),
            ));
        }
        let configuration = input.configuration;
        let Some(runtime) = configuration.runtime.clone() else {
            return Err(LambdaError::InvalidParameterValue(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
            ));
        };
        if configuration.role.as_deref().is_none_or(str::is_empty) {
            return Err(LambdaError::Validation(
                "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null".into(),
            ));
        }
        if configuration.handler.is_none() {
            return Err(LambdaError::InvalidParameterValue(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
            ));
        }
        let mut function = Function {
            name: name.clone(),
            runtime,
            role: String::new(),
            handler: String::new(),
            description: String::new(),
            timeout_secs: 3,
            memory_mb: 128,
            environment: BTreeMap::new(),
            architectures: input.architectures.unwrap_or_else(|| vec!["x86_64".into()]),
            ephemeral_storage_mb: 512,
            code_sha256: String::new(),
            code_size: 0,
            code_bucket: String::new(),
            code_key: String::new(),
            last_modified: String::new(),
            revision_id: uuid::Uuid::new_v4().to_string(),
            tags: input.tags,
        };
        function.apply(configuration)?;
        if self.registry.get(&name).await?.is_some() {
            return Err(LambdaError::FunctionExists(name));
        }
        let (sha, size, bucket, key) = self.store_package(&name, input.code).await?;
        function.code_sha256 = sha;
        function.code_size = size;
        function.code_bucket = bucket;
        function.code_key = key;
        function.last_modified = lambda_timestamp(chrono::Utc::now());
        self.registry.put(&function, 0).await?;
        tracing::info!(function = %name, runtime = %function.runtime, "function created");
        Ok(function)
    }

    pub async fn get_function(&self, reference: &str) -> Result<Function> {
        Ok(self.load(reference).await?.function)
    }

    /// One page of functions in name order, and the marker of the next.
    pub async fn list_functions(
        &self,
        marker: Option<&str>,
        max_items: Option<u32>,
    ) -> Result<(Vec<Function>, Option<String>)> {
        let limit = max_items.unwrap_or(50).clamp(1, 50);
        self.registry.list(marker.unwrap_or(""), limit).await
    }

    pub async fn update_configuration(
        &self,
        reference: &str,
        input: ConfigurationInput,
        revision: Option<&str>,
    ) -> Result<Function> {
        let Versioned { mut function, version } = self.load(reference).await?;
        check_revision(&function, revision)?;
        function.apply(input)?;
        function.last_modified = lambda_timestamp(chrono::Utc::now());
        function.revision_id = uuid::Uuid::new_v4().to_string();
        self.registry.put(&function, version).await?;
        self.invoker.retire(&function.name);
        Ok(function)
    }

    pub async fn update_code(&self, reference: &str, code: CodeInput, revision: Option<&str>) -> Result<Function> {
        let Versioned { mut function, version } = self.load(reference).await?;
        check_revision(&function, revision)?;
        let (sha, size, bucket, key) = self.store_package(&function.name, code).await?;
        let previous = (function.code_bucket.clone(), function.code_key.clone());
        function.code_sha256 = sha;
        function.code_size = size;
        function.code_bucket = bucket;
        function.code_key = key;
        function.last_modified = lambda_timestamp(chrono::Utc::now());
        function.revision_id = uuid::Uuid::new_v4().to_string();
        self.registry.put(&function, version).await?;
        self.invoker.retire(&function.name);
        if previous != (function.code_bucket.clone(), function.code_key.clone()) {
            self.registry.delete_package(&previous.0, &previous.1).await;
        }
        Ok(function)
    }

    pub async fn delete_function(&self, reference: &str) -> Result<()> {
        let function = self.load(reference).await?;
        self.registry.delete(&function).await?;
        self.invoker.retire(&function.function.name);
        tracing::info!(function = %function.function.name, "function deleted");
        Ok(())
    }

    pub async fn invoke(
        &self,
        reference: &str,
        invocation_type: InvocationType,
        payload: Bytes,
        client_context: Option<String>,
        tail_logs: bool,
    ) -> Result<InvokeOutcome> {
        let limit = if invocation_type == InvocationType::Event { MAX_EVENT_PAYLOAD } else { MAX_REQUEST_PAYLOAD };
        if payload.len() > limit {
            return Err(LambdaError::RequestTooLarge(format!(
                "Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )));
        }
        let payload = if payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(&payload).map_err(|error| {
                LambdaError::InvalidRequestContent(format!("Could not parse payload into json: {error}"))
            })?;
            payload
        };
        let function = self.load(reference).await?.function;
        match invocation_type {
            InvocationType::DryRun => Ok(InvokeOutcome::DryRun),
            InvocationType::RequestResponse => {
                Ok(InvokeOutcome::Completed(self.run(&function, payload, client_context, tail_logs).await?))
            }
            InvocationType::Event => {
                let lambda = self.clone();
                tokio::spawn(async move {
                    match lambda.run(&function, payload, None, false).await {
                        Ok(invoked) if invoked.function_error.is_some() => {
                            tracing::warn!(function = %function.name, request_id = %invoked.request_id, "asynchronous invocation failed");
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(function = %function.name, %error, "asynchronous invocation not run")
                        }
                    }
                });
                Ok(InvokeOutcome::Queued)
            }
        }
    }

    async fn run(
        &self,
        function: &Function,
        payload: Bytes,
        client_context: Option<String>,
        tail_logs: bool,
    ) -> Result<Invoked> {
        let hex = sha_hex(&function.code_sha256);
        let code_dir = async || self.code.get(&hex, &function.code_bucket, &function.code_key).await;
        self.invoker.invoke(function, code_dir, payload, client_context, tail_logs).await
    }
}

fn check_revision(function: &Function, revision: Option<&str>) -> Result<()> {
    match revision {
        Some(revision) if revision != function.revision_id => Err(LambdaError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
        )),
        _ => Ok(()),
    }
}

/// The hex form of a base64 SHA-256, for the code cache's keys.
fn sha_hex(base64_sha: &str) -> String {
    hex::encode(base64::engine::general_purpose::STANDARD.decode(base64_sha).unwrap_or_default())
}
