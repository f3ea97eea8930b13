//! CreateDistribution(WithTags), GetDistribution(Config),
//! UpdateDistribution, DeleteDistribution and ListDistributions.
//!
//! A distribution's CNAMEs are reserved before it is written and given
//! up after it no longer names them, so two distributions never answer
//! for one host. Its config must name policies, key groups and origin
//! access controls that exist; an update must carry the current ETag in
//! `If-Match`, and a delete is refused until the distribution is
//! disabled, as CloudFront does.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, http::StatusCode};
use nubo_host::front::AwsError;

use super::{
    Call, CloudFront, answer, check,
    distribution_config::{self, References},
    errors::{self, Result},
    keys, list_node, no_content, paginate, resources, tags,
};
use crate::{
    model::{self, Kind, Node, Resource},
    store::StoreError,
};

/// The members of a config a `DistributionSummary` repeats.
const SUMMARY_MEMBERS: &[&str] = &[
    "Aliases",
    "Origins",
    "OriginGroups",
    "DefaultCacheBehavior",
    "CacheBehaviors",
    "CustomErrorResponses",
    "Comment",
    "PriceClass",
    "Enabled",
    "ViewerCertificate",
    "Restrictions",
    "WebACLId",
    "HttpVersion",
    "IsIPV6Enabled",
    "Staging",
];

pub async fn create(api: &CloudFront, call: &Call<'_>, with_tags: bool) -> Result<HttpResponse> {
    let (config, tags) = if with_tags {
        let document = call.document("DistributionConfigWithTags")?;
        let config = check::required(&document, "DistributionConfig")?.clone();
        let tags = tags::read_tags(check::required(&document, "Tags")?)?;
        (config, tags)
    } else {
        (call.document("DistributionConfig")?, Vec::new())
    };
    let checked = distribution_config::check(config)?;
    references_exist(api, &checked.references).await?;
    let reference = checked.config.text_of("CallerReference").unwrap_or_default().trim().to_owned();
    // A reference used before names the distribution it made: the CNAMEs
    // are claimed for that one, which already holds its own.
    let id = match api.store.caller_reference(Kind::Distribution, &reference).await? {
        Some(earlier) => earlier,
        None => Kind::Distribution.new_id(),
    };
    let claimed = api.store.claim_aliases(&id, &checked.aliases).await?;
    let created = match api.store.create_as(Kind::Distribution, id.clone(), checked.config, Some(&reference)).await {
        Ok(created) => created,
        Err(error) => {
            api.store.release_aliases(&id, &claimed).await;
            return Err(error.into());
        }
    };
    if created.existed {
        api.store.release_aliases(&id, &claimed).await;
    } else if !tags.is_empty() {
        api.store.change_tags(&api.distribution_arn(&created.resource.id), &tags, &[]).await?;
    }
    api.changed();
    let resource = created.resource;
    let status = if created.existed { status(api, &resource, false).await? } else { "InProgress" };
    let node = distribution(api, &resource, status).await?;
    let location = format!("https://cloudfront.amazonaws.com/2020-05-31/distribution/{}", resource.id);
    Ok(answer(StatusCode::CREATED, &node, Some(&resource.etag), Some(location)))
}

pub async fn get(api: &CloudFront, id: &str) -> Result<HttpResponse> {
    let resource = api.store.get(Kind::Distribution, id).await?;
    let status = status(api, &resource, true).await?;
    Ok(answer(StatusCode::OK, &distribution(api, &resource, status).await?, Some(&resource.etag), None))
}

pub async fn get_config(api: &CloudFront, id: &str) -> Result<HttpResponse> {
    let resource = api.store.get(Kind::Distribution, id).await?;
    Ok(answer(StatusCode::OK, &resource.config, Some(&resource.etag), None))
}

pub async fn update(api: &CloudFront, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let if_match = call.if_match()?;
    let config = call.document("DistributionConfig")?;
    let old = api.store.get(Kind::Distribution, id).await?;
    if old.etag != if_match {
        return Err(StoreError::PreconditionFailed.into());
    }
    let checked = distribution_config::check(config)?;
    for immutable in ["CallerReference", "Staging"] {
        let text = |config: &Node| config.text_of(immutable).map(|text| text.trim().to_owned());
        if text(&old.config) != text(&checked.config) {
            return Err(errors::bad("IllegalUpdate", format!("The {immutable} of a distribution cannot be changed.")));
        }
    }
    references_exist(api, &checked.references).await?;
    let before: BTreeSet<String> = distribution_config::aliases(&old.config).into_iter().collect();
    let added: Vec<String> = checked.aliases.iter().filter(|alias| !before.contains(*alias)).cloned().collect();
    let removed: Vec<String> = before.iter().filter(|alias| !checked.aliases.contains(alias)).cloned().collect();
    let claimed = api.store.claim_aliases(id, &added).await?;
    let (_, resource) = match api.store.update(Kind::Distribution, id, &if_match, checked.config).await {
        Ok(updated) => updated,
        Err(error) => {
            api.store.release_aliases(id, &claimed).await;
            return Err(error.into());
        }
    };
    api.store.release_aliases(id, &removed).await;
    api.changed();
    Ok(answer(StatusCode::OK, &distribution(api, &resource, "InProgress").await?, Some(&resource.etag), None))
}

pub async fn delete(api: &CloudFront, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let if_match = call.if_match()?;
    let removed = api
        .store
        .delete(Kind::Distribution, id, &if_match, |old| {
            if old.config.flag("Enabled") { Err(StoreError::InUse(Kind::Distribution)) } else { Ok(()) }
        })
        .await?;
    api.store.release_aliases(id, &distribution_config::aliases(&removed.config)).await;
    api.store.drop_tags(&api.distribution_arn(id)).await;
    api.changed();
    Ok(no_content())
}

pub async fn list(api: &CloudFront, call: &Call<'_>) -> Result<HttpResponse> {
    let (marker, size) = call.page()?;
    let distributions = api.store.list(Kind::Distribution).await?;
    let (page, next) = paginate(distributions, |resource| resource.id.as_str(), marker.as_deref(), size);
    let deployed = api.deployed().await?;
    let items: Vec<Node> = page
        .iter()
        .map(|resource| {
            let status = if resource.generation <= deployed { "Deployed" } else { "InProgress" };
            summary(api, resource, status)
        })
        .collect();
    let mut list = Node::new("DistributionList").with(Node::leaf("Marker", marker.unwrap_or_default()));
    if let Some(next) = &next {
        list.children.push(Node::leaf("NextMarker", next));
    }
    list.children.push(Node::leaf("MaxItems", size.to_string()));
    list.children.push(Node::leaf("IsTruncated", next.is_some().to_string()));
    list.children.extend(list_node("", items).children);
    Ok(answer(StatusCode::OK, &list, None, None))
}

/// `Deployed` once every replica serves this version, else `InProgress`
/// (waiting a moment for it when `wait`).
async fn status(api: &CloudFront, resource: &Resource, wait: bool) -> Result<&'static str> {
    Ok(if api.is_deployed(resource.generation, wait).await? { "Deployed" } else { "InProgress" })
}

/// The `Distribution` document.
async fn distribution(api: &CloudFront, resource: &Resource, status: &str) -> Result<Node> {
    let deployed = api.deployed().await?;
    let in_progress = api
        .store
        .pending_invalidations(Some(&resource.id))
        .await?
        .iter()
        .filter(|invalidation| invalidation.generation > deployed)
        .count();
    Ok(Node::new("Distribution")
        .with(Node::leaf("Id", &resource.id))
        .with(Node::leaf("ARN", api.distribution_arn(&resource.id)))
        .with(Node::leaf("Status", status))
        .with(Node::leaf("LastModifiedTime", &resource.last_modified))
        .with(Node::leaf("InProgressInvalidationBatches", in_progress.to_string()))
        .with(Node::leaf("DomainName", model::domain_name(&resource.id)))
        .with(Node::new("ActiveTrustedSigners").with(Node::leaf("Enabled", "false")).with(Node::leaf("Quantity", "0")))
        .with(active_key_groups(api, &resource.config).await?)
        .with(resource.config.clone()))
}

/// The key groups the distribution's behaviors trust, with their keys.
async fn active_key_groups(api: &CloudFront, config: &Node) -> Result<Node> {
    let mut groups = Vec::new();
    for id in distribution_config::references(config).key_groups {
        let Ok(group) = api.store.get(Kind::KeyGroup, &id).await else { continue };
        let keys: Vec<Node> =
            keys::key_ids(&group.config).into_iter().map(|key| Node::leaf("KeyPairId", key)).collect();
        groups.push(Node::new("KeyGroup").with(Node::leaf("KeyGroupId", id)).with(list_node("KeyPairIds", keys)));
    }
    let mut node = list_node("ActiveTrustedKeyGroups", groups);
    let enabled = node.child("Quantity").is_some_and(|quantity| quantity.text != "0");
    node.children.insert(0, Node::leaf("Enabled", enabled.to_string()));
    Ok(node)
}

fn summary(api: &CloudFront, resource: &Resource, status: &str) -> Node {
    let mut node = Node::new("DistributionSummary")
        .with(Node::leaf("Id", &resource.id))
        .with(Node::leaf("ARN", api.distribution_arn(&resource.id)))
        .with(Node::leaf("ETag", &resource.etag))
        .with(Node::leaf("Status", status))
        .with(Node::leaf("LastModifiedTime", &resource.last_modified))
        .with(Node::leaf("DomainName", model::domain_name(&resource.id)));
    for member in SUMMARY_MEMBERS {
        if let Some(child) = resource.config.child(member) {
            node.children.push(child.clone());
        }
    }
    node
}

/// Every policy, key group and origin access control `references`
/// names must exist (a managed policy counts).
async fn references_exist(api: &CloudFront, references: &References) -> Result<()> {
    let checks: [(Kind, &BTreeSet<String>, u16, &'static str, &str); 5] = [
        (Kind::CachePolicy, &references.cache_policies, 404, "NoSuchCachePolicy", "The cache policy does not exist."),
        (
            Kind::OriginRequestPolicy,
            &references.origin_request_policies,
            404,
            "NoSuchOriginRequestPolicy",
            "The origin request policy does not exist.",
        ),
        (
            Kind::ResponseHeadersPolicy,
            &references.response_headers_policies,
            404,
            "NoSuchResponseHeadersPolicy",
            "The response headers policy does not exist.",
        ),
        (
            Kind::KeyGroup,
            &references.key_groups,
            400,
            "TrustedKeyGroupDoesNotExist",
            "The specified key group does not exist.",
        ),
        (
            Kind::OriginAccessControl,
            &references.origin_access_controls,
            404,
            "NoSuchOriginAccessControl",
            "The origin access control does not exist.",
        ),
    ];
    for (kind, ids, status, code, message) in checks {
        for id in ids {
            if !resources::exists(api, kind, id).await? {
                return Err(AwsError::new(status, code, format!("{message} ({id})")));
            }
        }
    }
    Ok(())
}
