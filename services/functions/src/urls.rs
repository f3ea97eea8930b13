//! Function URLs: a dedicated HTTP endpoint per function (or alias),
//! answered by the gateway on its user-API port, by host
//! (`{urlId}.lambda-url.{region}.localhost`) or, with no DNS, by path
//! (`/lambda-url/{urlId}/...`), with payload 2.0 events. This module keeps
//! their configuration; the gateway asks for it over gRPC.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{LambdaError, Result},
    lambda::Lambda,
    model::{LATEST, lambda_timestamp},
    registry::URLS,
};

/// A function URL as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionUrl {
    pub url_id: String,
    pub function: String,
    /// `""` for the unqualified function.
    pub qualifier: String,
    pub auth_type: String,
    pub cors: Option<Value>,
    pub invoke_mode: String,
    pub created: String,
    pub modified: String,
}

/// Create/UpdateFunctionUrlConfig's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlInput {
    pub auth_type: Option<String>,
    pub cors: Option<Value>,
    pub invoke_mode: Option<String>,
}

impl Lambda {
    /// The base of function URLs: the gateway's user-API address.
    fn url_of(&self, url: &FunctionUrl) -> String {
        let base = self.url_base.trim_end_matches('/');
        let (scheme, authority) = base.split_once("://").unwrap_or(("http", base));
        let port = authority.rsplit_once(':').map(|(_, port)| format!(":{port}")).unwrap_or_default();
        format!("{scheme}://{}.lambda-url.{}.localhost{port}/", url.url_id, self.region)
    }

    fn url_value(&self, url: &FunctionUrl) -> Value {
        let mut arn = format!("arn:aws:lambda:{}:{}:function:{}", self.region, self.account_id, url.function);
        if !url.qualifier.is_empty() {
            arn = format!("{arn}:{}", url.qualifier);
        }
        let mut value = json!({
            "FunctionUrl": self.url_of(url),
            "FunctionArn": arn,
            "AuthType": url.auth_type,
            "CreationTime": url.created,
            "LastModifiedTime": url.modified,
            "InvokeMode": url.invoke_mode,
        });
        if let Some(cors) = &url.cors {
            value["Cors"] = cors.clone();
        }
        value
    }

    fn check_url_input(input: &UrlInput) -> Result<()> {
        if let Some(auth) = input.auth_type.as_deref().filter(|auth| !["NONE", "AWS_IAM"].contains(auth)) {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{auth}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
            )));
        }
        if let Some(mode) = input.invoke_mode.as_deref().filter(|mode| *mode != "BUFFERED") {
            return Err(LambdaError::InvalidParameterValue(format!(
                "InvokeMode {mode} is not supported by nubo; function URLs answer in BUFFERED mode."
            )));
        }
        if input.cors.as_ref().is_some_and(|cors| !cors.is_object()) {
            return Err(LambdaError::InvalidParameterValue("Cors must be an object".into()));
        }
        Ok(())
    }

    fn url_not_found(&self, function: &str, qualifier: &str) -> LambdaError {
        let target = if qualifier.is_empty() { function.to_owned() } else { format!("{function}:{qualifier}") };
        LambdaError::ResourceNotFound(format!("The resource you requested does not exist. (function URL of {target})"))
    }

    pub async fn create_url(&self, reference: &str, qualifier: Option<&str>, input: UrlInput) -> Result<Value> {
        Self::check_url_input(&input)?;
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        let qualifier = qualifier.filter(|qualifier| *qualifier != LATEST).unwrap_or_default().to_owned();
        if qualifier.bytes().all(|byte| byte.is_ascii_digit()) && !qualifier.is_empty() {
            return Err(LambdaError::InvalidParameterValue(
                "Function URLs are attached to the unqualified function or to an alias, not to a version.".into(),
            ));
        }
        if !qualifier.is_empty() {
            self.get_alias(&function.name, &qualifier).await?;
        }
        if function.settings.urls.contains_key(&qualifier) {
            return Err(LambdaError::Conflict(format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
                function.arn(&self.region, &self.account_id)
            )));
        }
        let Some(auth_type) = input.auth_type else {
            return Err(LambdaError::Validation(
                "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null".into(),
            ));
        };
        let now = lambda_timestamp(chrono::Utc::now());
        let url = FunctionUrl {
            url_id: uuid::Uuid::new_v4().simple().to_string(),
            function: function.name.clone(),
            qualifier: qualifier.clone(),
            auth_type,
            cors: input.cors,
            invoke_mode: input.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
            created: now.clone(),
            modified: now,
        };
        self.registry.put_as(URLS, &url.url_id, &url, 0).await?;
        function.settings.urls.insert(qualifier, url.url_id.clone());
        self.registry.put(&function, latest.version).await?;
        Ok(self.url_value(&url))
    }

    async fn stored_url(&self, reference: &str, qualifier: Option<&str>) -> Result<(FunctionUrl, u64)> {
        let function = self.latest(reference).await?.function;
        let qualifier = qualifier.filter(|qualifier| *qualifier != LATEST).unwrap_or_default();
        let id = function.settings.urls.get(qualifier).ok_or_else(|| self.url_not_found(&function.name, qualifier))?;
        self.registry
            .get_as::<FunctionUrl>(URLS, id)
            .await?
            .ok_or_else(|| self.url_not_found(&function.name, qualifier))
    }

    pub async fn get_url(&self, reference: &str, qualifier: Option<&str>) -> Result<Value> {
        Ok(self.url_value(&self.stored_url(reference, qualifier).await?.0))
    }

    pub async fn update_url(&self, reference: &str, qualifier: Option<&str>, input: UrlInput) -> Result<Value> {
        Self::check_url_input(&input)?;
        let (mut url, version) = self.stored_url(reference, qualifier).await?;
        if let Some(auth_type) = input.auth_type {
            url.auth_type = auth_type;
        }
        if let Some(cors) = input.cors {
            url.cors = Some(cors);
        }
        if let Some(mode) = input.invoke_mode {
            url.invoke_mode = mode;
        }
        url.modified = lambda_timestamp(chrono::Utc::now());
        if self.registry.put_as(URLS, &url.url_id, &url, version).await?.is_none() {
            return Err(LambdaError::Conflict("The function URL was changed meanwhile; try again.".into()));
        }
        Ok(self.url_value(&url))
    }

    pub async fn delete_url(&self, reference: &str, qualifier: Option<&str>) -> Result<()> {
        let (url, _) = self.stored_url(reference, qualifier).await?;
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        function.settings.urls.remove(&url.qualifier);
        self.registry.put(&function, latest.version).await?;
        self.registry.delete_as(URLS, &url.url_id).await?;
        Ok(())
    }

    pub async fn list_urls(&self, reference: &str) -> Result<Vec<Value>> {
        let function = self.latest(reference).await?.function;
        let mut listed = Vec::new();
        for id in function.settings.urls.values() {
            if let Some((url, _)) = self.registry.get_as::<FunctionUrl>(URLS, id).await? {
                listed.push(self.url_value(&url));
            }
        }
        Ok(listed)
    }

    /// What a URL id serves, for the gateway.
    pub async fn url_by_id(&self, url_id: &str) -> Result<FunctionUrl> {
        self.registry
            .get_as::<FunctionUrl>(URLS, url_id)
            .await?
            .map(|(url, _)| url)
            .ok_or_else(|| LambdaError::ResourceNotFound(format!("No function URL {url_id}")))
    }
}
