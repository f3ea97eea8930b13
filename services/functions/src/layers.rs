//! Layers: versioned zips published once and added to functions (up to
//! five, in order). A function pins layer versions by ARN; its
//! environments see them merged under `/opt` in that order (a later layer's
//! file wins), with `/opt/python`, the runtime's site-packages under it,
//! `/opt/nodejs/node_modules`, `/opt/bin` and `/opt/lib` on the runtime's
//! paths, as on Lambda.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{LambdaError, Result},
    lambda::{CodeInput, Lambda},
    model::lambda_timestamp,
};

/// The data namespaces of layer versions (`{name}/{version:010}`) and of
/// each layer's version counter (`{name}`).
const LAYER_VERSIONS: &str = "layer-versions.v1";
const LAYERS: &str = "layers.v1";
/// Lambda's limit on layers per function.
pub const MAX_LAYERS: usize = 5;

/// A published layer version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerVersion {
    pub name: String,
    pub version: u64,
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license: Option<String>,
    pub code_sha256: String,
    pub code_size: u64,
    pub bucket: String,
    pub key: String,
    pub created: String,
}

/// A layer as a function pins it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionLayer {
    pub arn: String,
    pub code_size: u64,
    /// Hex SHA-256 of the zip: the key of its unpacked tree.
    pub sha256_hex: String,
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    last_version: u64,
}

/// PublishLayerVersion's request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishLayerInput {
    pub content: CodeInput,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub compatible_runtimes: Vec<String>,
    #[serde(default)]
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
}

fn valid_layer_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn version_key(name: &str, version: u64) -> String {
    format!("{name}/{version:010}")
}

impl Lambda {
    fn layer_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:layer:{name}", self.region, self.account_id)
    }

    fn layer_not_found(&self, arn: &str) -> LambdaError {
        LambdaError::ResourceNotFound(format!("Layer version {arn} does not exist."))
    }

    pub async fn publish_layer_version(&self, name: &str, input: PublishLayerInput) -> Result<LayerVersion> {
        if !valid_layer_name(name) {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{name}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
            )));
        }
        for runtime in &input.compatible_runtimes {
            crate::model::validate_runtime(runtime)?;
        }
        // The version number first: a crash after it only skips a number.
        let version = loop {
            let (counter, record) = self.registry.get_as::<Counter>(LAYERS, name).await?.unwrap_or_default();
            let next = Counter { last_version: counter.last_version + 1 };
            if self.registry.put_as(LAYERS, name, &next, record).await?.is_some() {
                break next.last_version;
            }
        };
        let (base64, size, bucket, key) =
            self.store_package(&format!("layers/{name}/{version}"), input.content).await?;
        let layer = LayerVersion {
            name: name.to_owned(),
            version,
            description: input.description,
            compatible_runtimes: input.compatible_runtimes,
            compatible_architectures: input.compatible_architectures,
            license: input.license_info,
            code_sha256: base64,
            code_size: size,
            bucket,
            key,
            created: lambda_timestamp(chrono::Utc::now()),
        };
        self.registry.put_as(LAYER_VERSIONS, &version_key(name, version), &layer, 0).await?;
        Ok(layer)
    }

    pub async fn layer_version(&self, name: &str, version: u64) -> Result<LayerVersion> {
        let arn = format!("{}:{version}", self.layer_arn(name));
        match self.registry.get_as::<LayerVersion>(LAYER_VERSIONS, &version_key(name, version)).await? {
            Some((layer, _)) => Ok(layer),
            None => Err(self.layer_not_found(&arn)),
        }
    }

    pub async fn list_layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>> {
        let mut versions = self.registry.list_as::<LayerVersion>(LAYER_VERSIONS, &format!("{name}/")).await?;
        // Newest first, as Lambda lists them.
        versions.reverse();
        Ok(versions)
    }

    /// Every layer with its newest version.
    pub async fn list_layers(&self) -> Result<Vec<LayerVersion>> {
        let mut newest: Vec<LayerVersion> = Vec::new();
        for layer in self.registry.list_as::<LayerVersion>(LAYER_VERSIONS, "").await? {
            match newest.last_mut() {
                Some(last) if last.name == layer.name => *last = layer,
                _ => newest.push(layer),
            }
        }
        Ok(newest)
    }

    /// Deletes a layer version; functions that pinned it keep their copy.
    pub async fn delete_layer_version(&self, name: &str, version: u64) -> Result<()> {
        self.registry.delete_as(LAYER_VERSIONS, &version_key(name, version)).await?;
        Ok(())
    }

    /// Resolves the layer version ARNs a function asks for.
    pub(crate) async fn function_layers(&self, arns: &[String]) -> Result<Vec<FunctionLayer>> {
        if arns.len() > MAX_LAYERS {
            return Err(LambdaError::InvalidParameterValue(format!("Cannot reference more than {MAX_LAYERS} layers.")));
        }
        let mut layers = Vec::with_capacity(arns.len());
        for arn in arns {
            let parts: Vec<&str> = arn.split(':').collect();
            let (name, version) = match parts.as_slice() {
                ["arn", _, "lambda", region, account, "layer", name, version]
                    if *region == self.region && *account == self.account_id =>
                {
                    (*name, version.parse::<u64>().map_err(|_| self.layer_not_found(arn))?)
                }
                _ => {
                    return Err(LambdaError::Validation(format!(
                        "1 validation error detected: Value '[{arn}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+]"
                    )));
                }
            };
            let layer = self.layer_version(name, version).await?;
            layers.push(FunctionLayer {
                arn: arn.clone(),
                code_size: layer.code_size,
                sha256_hex: crate::lambda::sha_hex(&layer.code_sha256),
                bucket: layer.bucket,
                key: layer.key,
            });
        }
        Ok(layers)
    }

    /// The `LayerVersion` shapes of the Lambda API.
    pub fn layer_version_value(&self, layer: &LayerVersion) -> Value {
        let mut value = json!({
            "LayerArn": self.layer_arn(&layer.name),
            "LayerVersionArn": format!("{}:{}", self.layer_arn(&layer.name), layer.version),
            "Description": layer.description,
            "CreatedDate": layer.created,
            "Version": layer.version,
            "CompatibleRuntimes": layer.compatible_runtimes,
            "CompatibleArchitectures": layer.compatible_architectures,
            "Content": {
                "Location": format!("s3://{}/{}", layer.bucket, layer.key),
                "CodeSha256": layer.code_sha256,
                "CodeSize": layer.code_size,
            },
        });
        if let Some(license) = &layer.license {
            value["LicenseInfo"] = license.clone().into();
        }
        value
    }
}
