//! TagResource, UntagResource and GetTags on the resources API Gateway
//! tags: APIs (`arn:aws:apigateway:{region}::/apis/{id}`), their stages
//! (`.../apis/{id}/stages/{name}`) and custom domain names
//! (`.../domainnames/{name}`). Tags live on the resource's own record.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use crate::{
    error::{GatewayError, Result},
    management::{Management, not_found, update},
};

#[derive(Debug, PartialEq, Eq)]
enum Resource {
    Api(String),
    Stage(String, String),
    Domain(String),
}

fn resource_of(arn: &str) -> Result<Resource> {
    let invalid = || GatewayError::BadRequest(format!("Invalid resource ARN {arn}"));
    let path =
        arn.strip_prefix("arn:").and_then(|rest| rest.split_once("::/")).map(|(_, path)| path).ok_or_else(invalid)?;
    let segments: Vec<&str> = path.split('/').collect();
    Ok(match segments.as_slice() {
        ["apis", id] => Resource::Api((*id).to_owned()),
        ["apis", id, "stages", stage] => Resource::Stage((*id).to_owned(), (*stage).to_owned()),
        ["domainnames", name] => Resource::Domain(name.to_ascii_lowercase()),
        _ => return Err(invalid()),
    })
}

/// Runs `change` on the tags of the resource `arn` names.
async fn with_tags<T>(
    management: &Management,
    arn: &str,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<T>,
) -> Result<T> {
    match resource_of(arn)? {
        Resource::Api(id) => update(&management.apis, &id, |api| change(&mut api.tags)).await,
        Resource::Stage(id, name) => {
            update(&management.apis, &id, |api| {
                let stage = api
                    .stages
                    .iter_mut()
                    .find(|stage| stage.stage_name == name)
                    .ok_or_else(|| not_found("Stage", &name))?;
                change(&mut stage.tags)
            })
            .await
        }
        Resource::Domain(name) => management.domains.update(&name, |domain| change(&mut domain.tags)).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct TagInput {
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// API Gateway's limit of tags on one resource.
const MAX_TAGS: usize = 50;

pub async fn tag(management: &Management, arn: &str, input: TagInput) -> Result<HttpResponse> {
    for key in input.tags.keys() {
        if key.is_empty() || key.len() > 128 || key.starts_with("aws:") {
            return Err(GatewayError::BadRequest(format!("Invalid tag key {key}")));
        }
    }
    with_tags(management, arn, |tags| {
        tags.extend(input.tags);
        if tags.len() > MAX_TAGS {
            return Err(GatewayError::BadRequest(format!("A resource can have at most {MAX_TAGS} tags")));
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({})))
}

pub async fn untag(management: &Management, arn: &str, query: &str) -> Result<HttpResponse> {
    let keys: Vec<String> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name == "tagKeys")
        .map(|(_, value)| nubo_host::sigv4::percent_decode(&value.replace('+', " ")))
        .collect();
    with_tags(management, arn, |tags| {
        for key in &keys {
            tags.remove(key);
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn get(management: &Management, arn: &str) -> Result<HttpResponse> {
    let tags = match resource_of(arn)? {
        Resource::Api(id) => management.apis.get(&id).await?.api.tags,
        Resource::Stage(id, name) => {
            let api = management.apis.get(&id).await?.api;
            api.stage(&name).ok_or_else(|| not_found("Stage", &name))?.tags.clone()
        }
        Resource::Domain(name) => management.domains.get(&name).await?.0.tags,
    };
    Ok(HttpResponse::Ok().json(json!({ "tags": tags })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_apis_stages_and_domains() {
        assert_eq!(resource_of("arn:aws:apigateway:us-east-1::/apis/abc").unwrap(), Resource::Api("abc".into()));
        assert_eq!(
            resource_of("arn:aws:apigateway:us-east-1::/apis/abc/stages/prod").unwrap(),
            Resource::Stage("abc".into(), "prod".into())
        );
        assert_eq!(
            resource_of("arn:aws:apigateway:us-east-1::/domainnames/API.example.com").unwrap(),
            Resource::Domain("api.example.com".into())
        );
        assert!(resource_of("arn:aws:apigateway:us-east-1::/restapis").is_err());
        assert!(resource_of("nonsense").is_err());
    }
}
