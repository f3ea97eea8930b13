//! Versions and aliases. A published version is an immutable snapshot of
//! `$LATEST` (code and configuration) numbered from 1; an alias names one
//! version, or two with a weight for the second, and invocations through
//! it are split between them by that weight.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{LambdaError, Result},
    lambda::Lambda,
    model::{Function, LATEST, lambda_timestamp, parse_function_reference},
    registry::{ALIASES, VERSIONS, Versioned},
};

/// An alias as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub function: String,
    pub name: String,
    pub version: String,
    pub description: String,
    /// The second version and the share of invocations it gets.
    pub additional: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// CreateAlias's and UpdateAlias's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingInput>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingInput {
    #[serde(default)]
    pub additional_version_weights: BTreeMap<String, f64>,
}

/// PublishVersion's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishInput {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

fn version_key(name: &str, version: u64) -> String {
    format!("{name}/{version:010}")
}

fn alias_key(function: &str, alias: &str) -> String {
    format!("{function}/{alias}")
}

fn is_version(qualifier: &str) -> bool {
    !qualifier.is_empty() && qualifier.bytes().all(|byte| byte.is_ascii_digit())
}

fn valid_alias_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !is_version(name)
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

impl Lambda {
    pub(crate) fn function_not_found(&self, name: &str, qualifier: Option<&str>) -> LambdaError {
        let qualified = qualifier.map_or_else(|| name.to_owned(), |qualifier| format!("{name}:{qualifier}"));
        LambdaError::FunctionNotFound(format!(
            "arn:aws:lambda:{}:{}:function:{qualified}",
            self.region, self.account_id
        ))
    }

    fn alias_arn(&self, function: &str, alias: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{function}:{alias}", self.region, self.account_id)
    }

    /// A published version of a function.
    pub async fn version(&self, name: &str, version: &str) -> Result<Function> {
        let number: u64 = version.parse().map_err(|_| self.function_not_found(name, Some(version)))?;
        match self.registry.get_as::<Function>(VERSIONS, &version_key(name, number)).await? {
            Some((function, _)) => Ok(function),
            None => Err(self.function_not_found(name, Some(version))),
        }
    }

    /// The version a reference names: `$LATEST` when unqualified, a
    /// version, or what an alias points to (its primary version; see
    /// [`Lambda::resolve_for_invoke`] for the weighted pick).
    pub async fn resolve(&self, reference: &str) -> Result<Function> {
        self.resolve_with(reference, false, |alias| alias.version.clone()).await
    }

    /// As [`Lambda::resolve`], with an alias's weights applied: each call
    /// picks the alias's additional version with its weight's probability.
    /// It reads through the registry's read cache.
    pub async fn resolve_for_invoke(&self, reference: &str) -> Result<Function> {
        self.resolve_with(reference, true, |alias| {
            let draw: f64 = rand::random();
            let mut threshold = 0.0;
            for (version, weight) in &alias.additional {
                threshold += weight;
                if draw < threshold {
                    return version.clone();
                }
            }
            alias.version.clone()
        })
        .await
    }

    async fn resolve_with(&self, reference: &str, cached: bool, pick: impl Fn(&Alias) -> String) -> Result<Function> {
        let (name, qualifier) = parse_function_reference(reference)?;
        self.check_arn(reference)?;
        let latest = async || {
            if !cached {
                return Ok(self.latest(&name).await?.function);
            }
            let latest = self.registry.get_cached(&name).await?;
            latest.map(|latest| latest.function).ok_or_else(|| self.function_not_found(&name, None))
        };
        let version = async |version: &str| {
            if !cached {
                return self.version(&name, version).await;
            }
            let number: u64 = version.parse().map_err(|_| self.function_not_found(&name, Some(version)))?;
            let snapshot = self.registry.get_as_cached::<Function>(VERSIONS, &version_key(&name, number)).await?;
            snapshot.ok_or_else(|| self.function_not_found(&name, Some(version)))
        };
        match qualifier.as_deref() {
            None | Some(LATEST) => latest().await,
            Some(number) if is_version(number) => version(number).await,
            Some(alias_name) => {
                let key = alias_key(&name, alias_name);
                let alias = if cached {
                    self.registry.get_as_cached::<Alias>(ALIASES, &key).await?
                } else {
                    self.registry.get_as::<Alias>(ALIASES, &key).await?.map(|(alias, _)| alias)
                };
                let Some(alias) = alias else { return Err(self.function_not_found(&name, Some(alias_name))) };
                let picked = pick(&alias);
                if picked == LATEST { latest().await } else { version(&picked).await }
            }
        }
    }

    /// Publishes `$LATEST` as a new version, or returns the last version
    /// if `$LATEST` has not changed since it was published.
    pub async fn publish_version(&self, name: &str, input: PublishInput) -> Result<Function> {
        let Versioned { mut function, version: record } = self.latest(name).await?;
        if let Some(sha) = input.code_sha256.as_deref().filter(|sha| *sha != function.code_sha256) {
            return Err(LambdaError::InvalidParameterValue(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                function.code_sha256
            )));
        }
        crate::lambda::check_revision(&function, input.revision_id.as_deref())?;
        if function.settings.last_published_revision.as_deref() == Some(function.revision_id.as_str()) {
            return self.version(name, &function.settings.last_version.to_string()).await;
        }
        let number = function.settings.last_version + 1;
        let mut snapshot = function.clone();
        snapshot.version = number.to_string();
        snapshot.settings = Default::default();
        snapshot.last_modified = lambda_timestamp(chrono::Utc::now());
        if let Some(description) = input.description {
            snapshot.description = description;
        }
        // The version is written before `$LATEST` counts it: a crash in
        // between leaves a version that the next publish overwrites with
        // the same content, never a number used twice.
        let key = version_key(name, number);
        let left_over = self.registry.get_as::<Function>(VERSIONS, &key).await?.map_or(0, |(_, record)| record);
        if self.registry.put_as(VERSIONS, &key, &snapshot, left_over).await?.is_none() {
            return Err(in_progress(&function.name));
        }
        function.settings.last_version = number;
        function.settings.last_published_revision = Some(function.revision_id.clone());
        self.registry.put(&function, record).await?;
        tracing::info!(function = %name, version = number, "version published");
        Ok(snapshot)
    }

    /// `$LATEST` and every published version, in order, one page at a time.
    pub async fn list_versions(
        &self,
        name: &str,
        marker: Option<&str>,
        max_items: Option<u32>,
    ) -> Result<(Vec<Function>, Option<String>)> {
        let latest = self.latest(name).await?.function;
        let mut all = vec![latest];
        all.extend(self.registry.list_as::<Function>(VERSIONS, &format!("{name}/")).await?);
        Ok(page(all, |function| function.version.clone(), marker, max_items))
    }

    fn check_routing(version: &str, additional: &BTreeMap<String, f64>) -> Result<()> {
        if additional.len() > 1 {
            return Err(LambdaError::InvalidParameterValue(
                "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
            ));
        }
        for (extra, weight) in additional {
            if !(0.0..=1.0).contains(weight) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{{{extra}={weight}}}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
                )));
            }
            if version == LATEST || extra == LATEST {
                return Err(LambdaError::InvalidParameterValue(
                    "$LATEST is not supported for an alias pointing to more than 1 version".into(),
                ));
            }
            if extra == version {
                return Err(LambdaError::InvalidParameterValue(format!(
                    "Invalid function version {extra}. Function version {extra} is already included in routing configuration."
                )));
            }
        }
        Ok(())
    }

    /// Checks that every version an alias would point to exists.
    async fn check_versions(&self, function: &str, version: &str, additional: &BTreeMap<String, f64>) -> Result<()> {
        for version in std::iter::once(version).chain(additional.keys().map(String::as_str)) {
            if version == LATEST {
                continue;
            }
            if !is_version(version) {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{version}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"
                )));
            }
            self.version(function, version).await?;
        }
        Ok(())
    }

    pub async fn create_alias(&self, function: &str, input: AliasInput) -> Result<Alias> {
        let function = self.latest(function).await?.function.name;
        let name = input.name.unwrap_or_default();
        if !valid_alias_name(&name) {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            )));
        }
        let version = input.function_version.unwrap_or_default();
        let additional = input.routing_config.map(|routing| routing.additional_version_weights).unwrap_or_default();
        Self::check_routing(&version, &additional)?;
        self.check_versions(&function, &version, &additional).await?;
        let alias = Alias {
            function: function.clone(),
            name: name.clone(),
            version,
            description: input.description.unwrap_or_default(),
            additional,
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        match self.registry.put_as(ALIASES, &alias_key(&function, &name), &alias, 0).await? {
            Some(_) => Ok(alias),
            None => Err(LambdaError::Conflict(format!("Alias already exists: {}", self.alias_arn(&function, &name)))),
        }
    }

    async fn stored_alias(&self, function: &str, name: &str) -> Result<(Alias, u64)> {
        let function = self.latest(function).await?.function.name;
        self.registry.get_as::<Alias>(ALIASES, &alias_key(&function, name)).await?.ok_or_else(|| {
            LambdaError::ResourceNotFound(format!("Alias not found: {}", self.alias_arn(&function, name)))
        })
    }

    pub async fn get_alias(&self, function: &str, name: &str) -> Result<Alias> {
        Ok(self.stored_alias(function, name).await?.0)
    }

    pub async fn update_alias(&self, function: &str, name: &str, input: AliasInput) -> Result<Alias> {
        let (mut alias, record) = self.stored_alias(function, name).await?;
        if input.revision_id.as_deref().is_some_and(|revision| revision != alias.revision_id) {
            return Err(LambdaError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
            ));
        }
        if let Some(version) = input.function_version {
            alias.version = version;
        }
        if let Some(description) = input.description {
            alias.description = description;
        }
        if let Some(routing) = input.routing_config {
            alias.additional = routing.additional_version_weights;
        }
        Self::check_routing(&alias.version, &alias.additional)?;
        self.check_versions(&alias.function, &alias.version, &alias.additional).await?;
        alias.revision_id = uuid::Uuid::new_v4().to_string();
        match self.registry.put_as(ALIASES, &alias_key(&alias.function, name), &alias, record).await? {
            Some(_) => Ok(alias),
            None => Err(in_progress(&self.alias_arn(&alias.function, name))),
        }
    }

    pub async fn delete_alias(&self, function: &str, name: &str) -> Result<()> {
        let function = self.latest(function).await?.function.name;
        // Deleting an alias that does not exist succeeds, as on Lambda.
        self.registry.delete_as(ALIASES, &alias_key(&function, name)).await?;
        Ok(())
    }

    pub async fn list_aliases(
        &self,
        function: &str,
        version: Option<&str>,
        marker: Option<&str>,
        max_items: Option<u32>,
    ) -> Result<(Vec<Alias>, Option<String>)> {
        let function = self.latest(function).await?.function.name;
        let aliases: Vec<Alias> = self
            .registry
            .list_as::<Alias>(ALIASES, &format!("{function}/"))
            .await?
            .into_iter()
            .filter(|alias| {
                version.is_none_or(|version| alias.version == version || alias.additional.contains_key(version))
            })
            .collect();
        Ok(page(aliases, |alias| alias.name.clone(), marker, max_items))
    }

    /// The aliases of a function that point at `version`.
    pub(crate) async fn aliases_of(&self, function: &str, version: &str) -> Result<Vec<String>> {
        let aliases = self.registry.list_as::<Alias>(ALIASES, &format!("{function}/")).await?;
        Ok(aliases
            .into_iter()
            .filter(|alias| alias.version == version || alias.additional.contains_key(version))
            .map(|alias| alias.name)
            .collect())
    }

    /// Deletes one published version; refused while an alias points to it.
    pub(crate) async fn delete_version(&self, function: &str, version: &str) -> Result<()> {
        if version == LATEST {
            return Err(LambdaError::InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            ));
        }
        let snapshot = self.version(function, version).await?;
        let aliases = self.aliases_of(function, version).await?;
        if !aliases.is_empty() {
            return Err(LambdaError::Conflict(format!(
                "Unable to delete version because the following aliases reference it: [{}]",
                aliases.join(", ")
            )));
        }
        let number: u64 = version.parse().unwrap_or_default();
        self.registry.delete_as(VERSIONS, &version_key(function, number)).await?;
        self.invoker.retire(&snapshot.pool_key());
        self.release_package(&snapshot).await;
        Ok(())
    }

    /// Deletes every version and alias of a function that is being deleted.
    pub(crate) async fn delete_versions_and_aliases(&self, function: &str) -> Result<Vec<Function>> {
        let versions = self.registry.list_as::<Function>(VERSIONS, &format!("{function}/")).await?;
        for version in &versions {
            let number: u64 = version.version.parse().unwrap_or_default();
            self.registry.delete_as(VERSIONS, &version_key(function, number)).await?;
            self.invoker.retire(&version.pool_key());
        }
        for alias in self.registry.list_as::<Alias>(ALIASES, &format!("{function}/")).await? {
            self.registry.delete_as(ALIASES, &alias_key(function, &alias.name)).await?;
        }
        Ok(versions)
    }

    /// Whether any published version still runs the package at `key`.
    pub(crate) async fn package_in_use(&self, function: &str, key: &str) -> Result<bool> {
        let versions = self.registry.list_as::<Function>(VERSIONS, &format!("{function}/")).await?;
        Ok(versions.iter().any(|version| version.code_key == key))
    }

    /// The `AliasConfiguration` shape of the Lambda API.
    pub fn alias_configuration(&self, alias: &Alias) -> Value {
        let mut configuration = json!({
            "AliasArn": self.alias_arn(&alias.function, &alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        });
        if !alias.additional.is_empty() {
            configuration["RoutingConfig"] = json!({ "AdditionalVersionWeights": alias.additional });
        }
        configuration
    }
}

fn in_progress(resource: &str) -> LambdaError {
    LambdaError::Conflict(format!(
        "The operation cannot be performed at this time. An update is in progress for resource: {resource}"
    ))
}

/// One page of `items` (in order) after `marker`, the key of the last
/// item of the previous page, and the marker of the next page.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    max_items: Option<u32>,
) -> (Vec<T>, Option<String>) {
    let limit = max_items.unwrap_or(50).clamp(1, 10_000) as usize;
    let start = marker.and_then(|marker| items.iter().position(|item| key(item) == marker)).map_or(0, |at| at + 1);
    let mut page: Vec<T> = items.into_iter().skip(start).take(limit + 1).collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(&key)
    } else {
        None
    };
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_continue_after_their_marker() {
        let items: Vec<u32> = (1..=5).collect();
        let (first, next) = page(items.clone(), u32::to_string, None, Some(2));
        assert_eq!((first, next.as_deref()), (vec![1, 2], Some("2")));
        let (second, next) = page(items.clone(), u32::to_string, Some("2"), Some(2));
        assert_eq!((second, next.as_deref()), (vec![3, 4], Some("4")));
        let (last, next) = page(items, u32::to_string, Some("4"), Some(2));
        assert_eq!((last, next), (vec![5], None));
    }

    #[test]
    fn alias_names_are_not_version_numbers() {
        assert!(valid_alias_name("prod"));
        assert!(valid_alias_name("v2-live_1"));
        assert!(!valid_alias_name("12"));
        assert!(!valid_alias_name(""));
        assert!(!valid_alias_name("a:b"));
    }
}
