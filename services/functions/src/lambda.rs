//! The Lambda operations, independent of the protocol that carries them:
//! the HTTP front ([`crate::api`]) and the gRPC adapter ([`crate::grpc`])
//! both call [`Lambda`].

use std::{collections::BTreeMap, sync::Arc};

use base64::Engine as _;
use bytes::Bytes;
use nubo_proto::clients::ItemsClient;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    code::{self, Code, CodeCache},
    error::{LambdaError, Result},
    events::Queue,
    invoker::{InvokeRequest, Invoked, Invoker},
    mappings::Followers,
    model::{ConfigurationInput, Function, FunctionSettings, LATEST, lambda_timestamp, parse_function_reference},
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
    /// Accepted for asynchronous invocation, with its request id.
    Queued(String),
    DryRun,
}

#[derive(Debug, Clone)]
pub struct Lambda {
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) registry: Registry,
    code: CodeCache,
    pub(crate) invoker: Invoker,
    pub(crate) queue: Arc<Queue>,
    pub(crate) followers: Arc<(Followers, ItemsClient)>,
    /// The gateway's user-API address, which function URLs are under.
    pub(crate) url_base: String,
    /// Signs and checks GetFunction's `Code.Location`.
    pub(crate) code_urls: crate::code_url::CodeUrls,
}

impl Lambda {
    pub fn new(
        region: String,
        account_id: String,
        registry: Registry,
        code: CodeCache,
        invoker: Invoker,
        queue: Arc<Queue>,
        items: ItemsClient,
    ) -> Self {
        Self {
            region,
            account_id,
            registry,
            code,
            invoker,
            queue,
            followers: Followers::new(items),
            url_base: "http://127.0.0.1:8080".into(),
            // Replaced by the cluster's key (`with_code_urls`) where several
            // replicas must agree on it.
            code_urls: crate::code_url::CodeUrls::new(&uuid::Uuid::new_v4().to_string()),
        }
    }

    /// Function URLs are answered under `base` (the gateway's user APIs).
    pub fn with_url_base(mut self, base: String) -> Self {
        self.url_base = base;
        self
    }

    /// Package URLs signed with a key derived from `cluster_secret`.
    pub fn with_code_urls(mut self, cluster_secret: &str) -> Self {
        self.code_urls = crate::code_url::CodeUrls::new(cluster_secret);
        self
    }

    pub(crate) fn objects(&self) -> &nubo_proto::clients::ObjectsClient {
        self.code.objects()
    }

    pub fn invoker(&self) -> &Invoker {
        &self.invoker
    }

    /// Refuses an ARN of another region or account: it names no function
    /// here.
    pub(crate) fn check_arn(&self, reference: &str) -> Result<()> {
        if let Some(arn) = reference.strip_prefix("arn:") {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.get(2) != Some(&self.region.as_str()) || parts.get(3) != Some(&self.account_id.as_str()) {
                return Err(LambdaError::FunctionNotFound(reference.to_owned()));
            }
        }
        Ok(())
    }

    /// The `$LATEST` record of the function a reference names, for the
    /// operations that change a function.
    pub(crate) async fn latest(&self, reference: &str) -> Result<Versioned> {
        let (name, qualifier) = parse_function_reference(reference)?;
        self.check_arn(reference)?;
        if let Some(qualifier) = qualifier.filter(|q| q != LATEST) {
            return Err(self.function_not_found(&name, Some(&qualifier)));
        }
        self.registry.get(&name).await?.ok_or_else(|| self.function_not_found(&name, None))
    }

    pub fn arn(&self, function: &Function) -> String {
        function.arn(&self.region, &self.account_id)
    }

    /// The `FunctionConfiguration` shape of a function, for the API front.
    pub fn configuration(&self, function: &Function) -> Value {
        function.configuration(&self.region, &self.account_id)
    }

    /// Decodes, validates and stores a package; returns its digest fields.
    pub(crate) async fn store_package(&self, name: &str, input: CodeInput) -> Result<(String, u64, String, String)> {
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
            version: LATEST.into(),
            layers: Vec::new(),
            settings: FunctionSettings::default(),
        };
        if let Some(layers) = &configuration.layers {
            function.layers = self.function_layers(layers).await?;
        }
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

    /// The version a reference names (an alias's primary version).
    pub async fn get_function(&self, reference: &str) -> Result<Function> {
        self.resolve(reference).await
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
        let Versioned { mut function, version } = self.latest(reference).await?;
        check_revision(&function, revision)?;
        if let Some(layers) = &input.layers {
            function.layers = self.function_layers(layers).await?;
        }
        function.apply(input)?;
        function.last_modified = lambda_timestamp(chrono::Utc::now());
        function.revision_id = uuid::Uuid::new_v4().to_string();
        self.registry.put(&function, version).await?;
        self.invoker.retire(&function.pool_key());
        Ok(function)
    }

    pub async fn update_code(&self, reference: &str, code: CodeInput, revision: Option<&str>) -> Result<Function> {
        let Versioned { mut function, version } = self.latest(reference).await?;
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
        self.invoker.retire(&function.pool_key());
        // Published versions keep running the code they were published with.
        if previous != (function.code_bucket.clone(), function.code_key.clone())
            && !self.package_in_use(&function.name, &previous.1).await?
        {
            self.registry.delete_package(&previous.0, &previous.1).await;
        }
        Ok(function)
    }

    /// Deletes a version's package unless `$LATEST` or another version
    /// still runs it.
    pub(crate) async fn release_package(&self, version: &Function) {
        let latest = self.registry.get(&version.name).await.ok().flatten();
        if latest.is_some_and(|latest| latest.function.code_key == version.code_key) {
            return;
        }
        if self.package_in_use(&version.name, &version.code_key).await.unwrap_or(true) {
            return;
        }
        self.registry.delete_package(&version.code_bucket, &version.code_key).await;
    }

    /// Deletes a function with its versions and aliases or, qualified by a
    /// version number, that version alone.
    pub async fn delete_function(&self, reference: &str) -> Result<()> {
        let (name, qualifier) = parse_function_reference(reference)?;
        if let Some(qualifier) = qualifier {
            self.check_arn(reference)?;
            return self.delete_version(&name, &qualifier).await;
        }
        let function = self.latest(reference).await?;
        let versions = self.delete_versions_and_aliases(&name).await?;
        for url in function.function.settings.urls.values() {
            self.registry.delete_as(crate::registry::URLS, url).await?;
        }
        self.registry.delete(&function).await?;
        self.invoker.retire(&function.function.pool_key());
        let mut packages: Vec<(String, String)> =
            versions.into_iter().map(|version| (version.code_bucket, version.code_key)).collect();
        packages.sort();
        packages.dedup();
        for (bucket, key) in packages.iter().filter(|(_, key)| *key != function.function.code_key) {
            self.registry.delete_package(bucket, key).await;
        }
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
        match invocation_type {
            InvocationType::DryRun => {
                self.resolve(reference).await?;
                Ok(InvokeOutcome::DryRun)
            }
            InvocationType::RequestResponse => {
                let (function, request) = self.prepare(reference, payload, client_context, tail_logs, None).await?;
                Ok(InvokeOutcome::Completed(self.run(&function, request).await?))
            }
            InvocationType::Event => {
                // The function must exist when the event is accepted.
                self.resolve(reference).await?;
                Ok(InvokeOutcome::Queued(self.enqueue(reference, payload).await?))
            }
        }
    }

    /// Runs an invocation now, for the asynchronous queue.
    pub(crate) async fn invoke_now(&self, reference: &str, payload: Bytes, request_id: &str) -> Result<Invoked> {
        let (function, request) = self.prepare(reference, payload, None, false, Some(request_id.to_owned())).await?;
        self.run(&function, request).await
    }

    /// Picks the version a reference runs and what the invoker needs.
    async fn prepare(
        &self,
        reference: &str,
        payload: Bytes,
        client_context: Option<String>,
        tail_logs: bool,
        request_id: Option<String>,
    ) -> Result<(Function, InvokeRequest)> {
        let function = self.resolve_for_invoke(reference).await?;
        let reserved_concurrency = if function.version == LATEST {
            function.settings.reserved_concurrency
        } else {
            let latest = self.registry.get_cached(&function.name).await?;
            latest.and_then(|latest| latest.function.settings.reserved_concurrency)
        };
        let invoked_arn = match parse_function_reference(reference)?.1 {
            Some(qualifier) => format!("{}:{qualifier}", function.arn(&self.region, &self.account_id)),
            None => function.arn(&self.region, &self.account_id),
        };
        let request =
            InvokeRequest { payload, client_context, tail_logs, invoked_arn, reserved_concurrency, request_id };
        Ok((function, request))
    }

    async fn run(&self, function: &Function, request: InvokeRequest) -> Result<Invoked> {
        let hex = sha_hex(&function.code_sha256);
        let code = async || {
            let task = self.code.get(&hex, &function.code_bucket, &function.code_key).await?;
            let opt = self.code.merged_layers(&function.layers).await?;
            Ok(Code { task, opt })
        };
        self.invoker.invoke(function, code, request).await
    }
}

pub(crate) fn check_revision(function: &Function, revision: Option<&str>) -> Result<()> {
    match revision {
        Some(revision) if revision != function.revision_id => Err(LambdaError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
        )),
        _ => Ok(()),
    }
}

/// The hex form of a base64 SHA-256, for the code cache's keys.
pub(crate) fn sha_hex(base64_sha: &str) -> String {
    hex::encode(base64::engine::general_purpose::STANDARD.decode(base64_sha).unwrap_or_default())
}
