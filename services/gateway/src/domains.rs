//! Custom domain names and their API mappings (CreateDomainName,
//! CreateApiMapping and their Get/Update/Delete): one record per domain
//! (`gateway.domains.v1/{name}`) holding its mappings, so a mapping change
//! is one compare-and-set. A user-API request whose `Host` is a custom
//! domain goes to the API and stage of the mapping whose key is the
//! longest prefix of its path ([`Domains::route`]).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use actix_web::HttpResponse;
use nubo_proto::{ErrorCode, clients::RecordsClient};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{GatewayError, Result},
    management::{Management, Operation, not_found, parse_json, required},
    model::{new_id, timestamp},
    revalidating::Revalidating,
};

const NAMESPACE: &str = "gateway.domains.v1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainName {
    pub domain_name: String,
    pub created_date: String,
    /// As given, `domainNameConfigurations` members.
    #[serde(default)]
    pub configurations: Vec<Value>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub mappings: Vec<ApiMapping>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiMapping {
    pub api_mapping_id: String,
    pub api_id: String,
    pub stage: String,
    /// A path prefix without its slashes; empty maps the domain's root.
    pub api_mapping_key: String,
}

impl ApiMapping {
    fn to_json(&self) -> Value {
        json!({
            "apiMappingId": self.api_mapping_id,
            "apiId": self.api_id,
            "stage": self.stage,
            "apiMappingKey": self.api_mapping_key,
        })
    }
}

impl DomainName {
    pub fn to_json(&self, region: &str) -> Value {
        let configurations: Vec<Value> =
            if self.configurations.is_empty() { vec![json!({})] } else { self.configurations.clone() }
                .into_iter()
                .map(|mut configuration| {
                    configuration["apiGatewayDomainName"] =
                        json!(format!("d-{}.execute-api.{region}.amazonaws.com", domain_hash(&self.domain_name)));
                    configuration["domainNameStatus"] = json!("AVAILABLE");
                    configuration["endpointType"] =
                        configuration.get("endpointType").cloned().unwrap_or(json!("REGIONAL"));
                    configuration["securityPolicy"] =
                        configuration.get("securityPolicy").cloned().unwrap_or(json!("TLS_1_2"));
                    configuration["hostedZoneId"] = json!("Z1UJRXOUMOOFQ8");
                    configuration
                })
                .collect();
        json!({
            "domainName": self.domain_name,
            "apiMappingSelectionExpression": "$request.basepath",
            "domainNameConfigurations": configurations,
            "tags": self.tags,
        })
    }

    /// The mapping a request path takes and the path left for routes.
    pub fn mapping_for<'a>(&'a self, path: &'a str) -> Option<(&'a ApiMapping, &'a str)> {
        let trimmed = path.trim_start_matches('/');
        self.mappings
            .iter()
            .filter_map(|mapping| {
                let key = mapping.api_mapping_key.as_str();
                if key.is_empty() {
                    return Some((mapping, path));
                }
                let rest = trimmed.strip_prefix(key)?;
                (rest.is_empty() || rest.starts_with('/'))
                    .then_some((mapping, if rest.is_empty() { "/" } else { rest }))
            })
            .max_by_key(|(mapping, _)| mapping.api_mapping_key.len())
    }
}

/// A stable id for the regional name, as API Gateway shows one per domain.
fn domain_hash(name: &str) -> String {
    let sum = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    format!("{:010x}", sum & 0xff_ffff_ffff)
}

#[derive(Debug, Clone)]
pub struct Domains {
    records: RecordsClient,
    cache: Revalidating<String, DomainName>,
}

impl Domains {
    pub fn new(records: RecordsClient) -> Self {
        Self { records, cache: Revalidating::new(10_000, Duration::from_secs(1)) }
    }

    fn missing(name: &str) -> GatewayError {
        GatewayError::NotFound(format!("Invalid domain name identifier specified {name}"))
    }

    pub async fn get(&self, name: &str) -> Result<(DomainName, u64)> {
        let record = self.records.get(NAMESPACE, name).await?.ok_or_else(|| Self::missing(name))?;
        let domain = serde_json::from_slice(&record.value)
            .map_err(|error| GatewayError::Service(format!("stored domain name {name} is unreadable: {error}")))?;
        Ok((domain, record.version))
    }

    async fn put(&self, domain: &DomainName, expected_version: u64) -> Result<()> {
        let value = serde_json::to_vec(domain).map_err(|error| GatewayError::Service(error.to_string()))?;
        let written = self.records.put(NAMESPACE, &domain.domain_name, value, Some(expected_version)).await;
        self.cache.invalidate(&domain.domain_name);
        match written {
            Ok(_) => Ok(()),
            Err(error) if error.code == ErrorCode::ConditionFailed && expected_version == 0 => Err(
                GatewayError::Conflict(format!("The domain name you provided already exists: {}", domain.domain_name)),
            ),
            Err(error) if error.code == ErrorCode::ConditionFailed => Err(GatewayError::Conflict(format!(
                "Unable to complete operation due to concurrent modification of domain name {}. Please try again later.",
                domain.domain_name
            ))),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads a domain, applies `change`, writes it back with compare-and-set.
    pub async fn update<T>(&self, name: &str, change: impl FnOnce(&mut DomainName) -> Result<T>) -> Result<T> {
        let (mut domain, version) = self.get(name).await?;
        let result = change(&mut domain)?;
        self.put(&domain, version).await?;
        Ok(result)
    }

    async fn list(&self) -> Result<Vec<DomainName>> {
        let records = self.records.list_all(NAMESPACE, "").await?;
        Ok(records.iter().filter_map(|record| serde_json::from_slice(&record.value).ok()).collect())
    }

    /// The domain a request's host names, from the cache when known.
    pub async fn for_request(&self, host: &str) -> Option<Arc<DomainName>> {
        let name = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        let domains = self.clone();
        let key = name.clone();
        let found = self
            .cache
            .get(&name, move || async move {
                match domains.get(&key).await {
                    Ok((domain, version)) => Ok((version, Some(domain))),
                    Err(GatewayError::NotFound(_)) => Ok((0, None)),
                    Err(error) => Err(error),
                }
            })
            .await;
        found.unwrap_or_else(|error| {
            tracing::warn!(host = %name, %error, "cannot look up a custom domain name");
            None
        })
    }
}

pub fn parse_operation(method: &str, rest: &str) -> Option<Operation> {
    let segments: Vec<String> =
        rest.split('/').filter(|s| !s.is_empty()).map(nubo_host::sigv4::percent_decode).collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let owned = |value: &str| value.to_owned();
    Some(match (method, s.as_slice()) {
        ("POST", []) => Operation::CreateDomainName,
        ("GET", []) => Operation::GetDomainNames,
        ("GET", [name]) => Operation::GetDomainName(owned(name)),
        ("DELETE", [name]) => Operation::DeleteDomainName(owned(name)),
        ("POST", [name, "apimappings"]) => Operation::CreateApiMapping(owned(name)),
        ("GET", [name, "apimappings"]) => Operation::GetApiMappings(owned(name)),
        ("GET", [name, "apimappings", id]) => Operation::GetApiMapping(owned(name), owned(id)),
        ("PATCH", [name, "apimappings", id]) => Operation::UpdateApiMapping(owned(name), owned(id)),
        ("DELETE", [name, "apimappings", id]) => Operation::DeleteApiMapping(owned(name), owned(id)),
        _ => return None,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDomainNameInput {
    domain_name: Option<String>,
    #[serde(default)]
    domain_name_configurations: Vec<Value>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiMappingInput {
    api_id: Option<String>,
    stage: Option<String>,
    api_mapping_key: Option<String>,
}

fn valid_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').count() >= 2
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        })
}

fn valid_mapping_key(key: &str) -> bool {
    key.len() <= 300
        && !key.starts_with('/')
        && !key.ends_with('/')
        && !key.contains("//")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
}

/// Checks that a mapping's API and stage exist.
async fn check_target(management: &Management, api_id: &str, stage: &str) -> Result<()> {
    let api = management.apis.get(api_id).await?.api;
    if api.stage(stage).is_none() {
        return Err(GatewayError::BadRequest(format!("Invalid stage identifier specified {stage}")));
    }
    Ok(())
}

pub async fn handle(management: &Management, operation: Operation, body: &[u8]) -> Result<HttpResponse> {
    let domains = &management.domains;
    let region = &management.region;
    match operation {
        Operation::CreateDomainName => {
            let input: CreateDomainNameInput = parse_json(body)?;
            let name = required(input.domain_name, "domainName")?.to_ascii_lowercase();
            if !valid_domain(&name) {
                return Err(GatewayError::BadRequest(format!("Invalid domain name {name}")));
            }
            let domain = DomainName {
                domain_name: name,
                created_date: timestamp(),
                configurations: input.domain_name_configurations,
                tags: input.tags,
                mappings: Vec::new(),
            };
            domains.put(&domain, 0).await?;
            Ok(HttpResponse::Created().json(domain.to_json(region)))
        }
        Operation::GetDomainNames => {
            let all = domains.list().await?;
            Ok(HttpResponse::Ok().json(json!({ "items": all.iter().map(|d| d.to_json(region)).collect::<Vec<_>>() })))
        }
        Operation::GetDomainName(name) => {
            Ok(HttpResponse::Ok().json(domains.get(&name.to_ascii_lowercase()).await?.0.to_json(region)))
        }
        Operation::DeleteDomainName(name) => {
            let name = name.to_ascii_lowercase();
            let existed = domains.records.delete(NAMESPACE, &name, None).await?;
            domains.cache.invalidate(&name);
            if existed { Ok(HttpResponse::NoContent().finish()) } else { Err(Domains::missing(&name)) }
        }
        Operation::CreateApiMapping(name) => {
            let input: ApiMappingInput = parse_json(body)?;
            let api_id = required(input.api_id, "apiId")?;
            let stage = required(input.stage, "stage")?;
            let key = input.api_mapping_key.unwrap_or_default();
            if !valid_mapping_key(&key) {
                return Err(GatewayError::BadRequest(format!("Invalid API mapping key {key}")));
            }
            check_target(management, &api_id, &stage).await?;
            let mapping = domains
                .update(&name.to_ascii_lowercase(), |domain| {
                    if domain.mappings.iter().any(|mapping| mapping.api_mapping_key == key) {
                        return Err(GatewayError::Conflict(format!(
                            "ApiMapping key {key} already exists for domain name {}",
                            domain.domain_name
                        )));
                    }
                    let mapping =
                        ApiMapping { api_mapping_id: new_id()[..6].to_owned(), api_id, stage, api_mapping_key: key };
                    domain.mappings.push(mapping.clone());
                    Ok(mapping)
                })
                .await?;
            Ok(HttpResponse::Created().json(mapping.to_json()))
        }
        Operation::GetApiMappings(name) => {
            let (domain, _) = domains.get(&name.to_ascii_lowercase()).await?;
            Ok(HttpResponse::Ok()
                .json(json!({ "items": domain.mappings.iter().map(ApiMapping::to_json).collect::<Vec<_>>() })))
        }
        Operation::GetApiMapping(name, id) => {
            let (domain, _) = domains.get(&name.to_ascii_lowercase()).await?;
            let mapping = domain
                .mappings
                .iter()
                .find(|mapping| mapping.api_mapping_id == id)
                .ok_or_else(|| not_found("ApiMapping", &id))?;
            Ok(HttpResponse::Ok().json(mapping.to_json()))
        }
        Operation::UpdateApiMapping(name, id) => {
            let input: ApiMappingInput = parse_json(body)?;
            let (domain, _) = domains.get(&name.to_ascii_lowercase()).await?;
            let current = domain
                .mappings
                .iter()
                .find(|mapping| mapping.api_mapping_id == id)
                .ok_or_else(|| not_found("ApiMapping", &id))?;
            let api_id = input.api_id.unwrap_or_else(|| current.api_id.clone());
            let stage = input.stage.unwrap_or_else(|| current.stage.clone());
            if let Some(key) = &input.api_mapping_key
                && !valid_mapping_key(key)
            {
                return Err(GatewayError::BadRequest(format!("Invalid API mapping key {key}")));
            }
            check_target(management, &api_id, &stage).await?;
            let mapping = domains
                .update(&domain.domain_name, |domain| {
                    if let Some(key) = &input.api_mapping_key
                        && domain.mappings.iter().any(|m| &m.api_mapping_key == key && m.api_mapping_id != id)
                    {
                        return Err(GatewayError::Conflict(format!("ApiMapping key {key} already exists")));
                    }
                    let mapping = domain
                        .mappings
                        .iter_mut()
                        .find(|mapping| mapping.api_mapping_id == id)
                        .ok_or_else(|| not_found("ApiMapping", &id))?;
                    mapping.api_id = api_id;
                    mapping.stage = stage;
                    if let Some(key) = input.api_mapping_key {
                        mapping.api_mapping_key = key;
                    }
                    Ok(mapping.clone())
                })
                .await?;
            Ok(HttpResponse::Ok().json(mapping.to_json()))
        }
        Operation::DeleteApiMapping(name, id) => {
            domains
                .update(&name.to_ascii_lowercase(), |domain| {
                    let before = domain.mappings.len();
                    domain.mappings.retain(|mapping| mapping.api_mapping_id != id);
                    if domain.mappings.len() == before { Err(not_found("ApiMapping", &id)) } else { Ok(()) }
                })
                .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(GatewayError::NotFound("The resource you requested does not exist.".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(key: &str) -> ApiMapping {
        ApiMapping {
            api_mapping_id: key.into(),
            api_id: format!("api-{key}"),
            stage: "$default".into(),
            api_mapping_key: key.into(),
        }
    }

    #[test]
    fn the_longest_mapping_key_wins() {
        let domain =
            DomainName { mappings: vec![mapping(""), mapping("v1"), mapping("v1/orders")], ..Default::default() };
        assert_eq!(
            domain.mapping_for("/v1/orders/7").map(|(m, rest)| (m.api_id.as_str(), rest)),
            Some(("api-v1/orders", "/7"))
        );
        assert_eq!(domain.mapping_for("/v1").map(|(m, rest)| (m.api_id.as_str(), rest)), Some(("api-v1", "/")));
        assert_eq!(domain.mapping_for("/v10/x").map(|(m, rest)| (m.api_id.as_str(), rest)), Some(("api-", "/v10/x")));
        let rootless = DomainName { mappings: vec![mapping("v1")], ..Default::default() };
        assert!(rootless.mapping_for("/other").is_none());
    }

    #[test]
    fn names_and_keys_are_checked() {
        assert!(valid_domain("api.example.com"));
        assert!(!valid_domain("localhost"));
        assert!(!valid_domain("bad..name"));
        assert!(valid_mapping_key("v1/orders"));
        assert!(!valid_mapping_key("/v1"));
        assert!(!valid_mapping_key("a b"));
    }
}
