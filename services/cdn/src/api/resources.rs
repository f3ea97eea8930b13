//! Create, Get, GetConfig, Update, Delete and List for everything but
//! distributions: the cache, origin request and response headers
//! policies (managed ones included, listed and read by their AWS ids,
//! never changed), public keys, key groups and origin access controls.
//! They differ only in their check, their document shapes, and what may
//! be using them when one is deleted.

use actix_web::{HttpResponse, http::StatusCode};

use super::{
    Call, CloudFront, answer, distribution_config, errors, keys, list_node, managed, no_content, paginate, policies,
};
use crate::model::{Kind, Node, Resource};
use errors::Result;

/// The ETag of every managed policy: they never change.
const MANAGED_ETAG: &str = "E23ZP02F085DFQ";

/// The path segment of a kind's collection, for `Location`.
fn segment(kind: Kind) -> &'static str {
    match kind {
        Kind::CachePolicy => "cache-policy",
        Kind::OriginRequestPolicy => "origin-request-policy",
        Kind::ResponseHeadersPolicy => "response-headers-policy",
        Kind::PublicKey => "public-key",
        Kind::KeyGroup => "key-group",
        Kind::OriginAccessControl => "origin-access-control",
        Kind::Distribution => "distribution",
    }
}

/// The resource's own element (`CachePolicy`, ...).
fn element(kind: Kind) -> &'static str {
    kind.config_element().strip_suffix("Config").unwrap_or(kind.config_element())
}

/// The managed resources of `kind`, by id.
fn managed_of(kind: Kind) -> Vec<(&'static str, Node)> {
    match kind {
        Kind::CachePolicy => managed::cache_policies(),
        Kind::OriginRequestPolicy => managed::origin_request_policies(),
        Kind::ResponseHeadersPolicy => managed::response_headers_policies(),
        _ => Vec::new(),
    }
}

fn managed_resource(kind: Kind, id: &str) -> Option<Resource> {
    managed_of(kind).into_iter().find(|(known, _)| *known == id).map(|(id, config)| as_managed(id, config))
}

fn as_managed(id: &str, config: Node) -> Resource {
    Resource {
        id: id.to_owned(),
        config,
        etag: MANAGED_ETAG.to_owned(),
        created: managed::LAST_MODIFIED.to_owned(),
        last_modified: managed::LAST_MODIFIED.to_owned(),
        generation: 0,
    }
}

/// `config` checked as its kind requires.
fn check(kind: Kind, config: Node) -> Result<Node> {
    match kind {
        Kind::CachePolicy => policies::check_cache_policy(config),
        Kind::OriginRequestPolicy => policies::check_origin_request_policy(config),
        Kind::ResponseHeadersPolicy => policies::check_response_headers_policy(config),
        Kind::PublicKey => keys::check_public_key(config),
        Kind::KeyGroup => keys::check_key_group(config),
        Kind::OriginAccessControl => keys::check_origin_access_control(config),
        Kind::Distribution => Err(errors::internal()),
    }
}

/// The `Name` that must be unique among the resources of `kind`.
fn unique_name(kind: Kind, config: &Node) -> Option<String> {
    match kind {
        Kind::PublicKey | Kind::Distribution => None,
        _ => config.text_of("Name").map(|name| name.trim().to_owned()),
    }
}

/// The resource's document (`<CachePolicy><Id/>...<CachePolicyConfig/>`).
fn render(kind: Kind, resource: &Resource) -> Node {
    let mut node = Node::new(element(kind)).with(Node::leaf("Id", &resource.id));
    match kind {
        Kind::PublicKey => node.children.push(Node::leaf("CreatedTime", &resource.created)),
        Kind::OriginAccessControl => {}
        _ => node.children.push(Node::leaf("LastModifiedTime", &resource.last_modified)),
    }
    node.with(resource.config.clone())
}

/// One item of a List answer.
fn summary(kind: Kind, resource: &Resource, managed: bool) -> Node {
    let config = &resource.config;
    let text = |name: &str| Node::leaf(name, config.text_of(name).unwrap_or_default());
    match kind {
        Kind::CachePolicy | Kind::OriginRequestPolicy | Kind::ResponseHeadersPolicy => {
            Node::new(format!("{}Summary", element(kind)))
                .with(Node::leaf("Type", if managed { "managed" } else { "custom" }))
                .with(render(kind, resource))
        }
        Kind::PublicKey => Node::new("PublicKeySummary")
            .with(Node::leaf("Id", &resource.id))
            .with(text("Name"))
            .with(Node::leaf("CreatedTime", &resource.created))
            .with(text("EncodedKey"))
            .with(text("Comment")),
        Kind::KeyGroup => Node::new("KeyGroupSummary").with(render(kind, resource)),
        Kind::OriginAccessControl => Node::new("OriginAccessControlSummary")
            .with(Node::leaf("Id", &resource.id))
            .with(text("Description"))
            .with(text("Name"))
            .with(text("SigningProtocol"))
            .with(text("SigningBehavior"))
            .with(text("OriginAccessControlOriginType")),
        Kind::Distribution => Node::new("DistributionSummary"),
    }
}

fn location(kind: Kind, id: &str) -> String {
    format!("https://cloudfront.amazonaws.com/2020-05-31/{}/{id}", segment(kind))
}

pub async fn create(api: &CloudFront, kind: Kind, call: &Call<'_>) -> Result<HttpResponse> {
    let config = check(kind, call.document(kind.config_element())?)?;
    if kind == Kind::KeyGroup {
        keys_exist(api, &config).await?;
    }
    let id = kind.new_id();
    let name = unique_name(kind, &config);
    if let Some(name) = &name {
        if managed_of(kind).iter().any(|(_, managed)| managed.text_of("Name") == Some(name.as_str())) {
            return Err(crate::store::StoreError::NameTaken(kind, name.clone()).into());
        }
        api.store.claim_name(kind, name, &id).await?;
    }
    let caller_reference = config.text_of("CallerReference").map(|reference| reference.trim().to_owned());
    let created = match api.store.create_as(kind, id.clone(), config, caller_reference.as_deref()).await {
        Ok(created) => created,
        Err(error) => {
            if let Some(name) = &name {
                api.store.release_name(kind, name, &id).await;
            }
            return Err(error.into());
        }
    };
    api.changed();
    let resource = created.resource;
    Ok(answer(StatusCode::CREATED, &render(kind, &resource), Some(&resource.etag), Some(location(kind, &resource.id))))
}

pub async fn get(api: &CloudFront, kind: Kind, id: &str, config_only: bool) -> Result<HttpResponse> {
    let resource = match managed_resource(kind, id) {
        Some(resource) => resource,
        None => api.store.get(kind, id).await?,
    };
    let node = if config_only { resource.config.clone() } else { render(kind, &resource) };
    Ok(answer(StatusCode::OK, &node, Some(&resource.etag), None))
}

pub async fn update(api: &CloudFront, kind: Kind, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    if managed_resource(kind, id).is_some() {
        return Err(errors::bad("IllegalUpdate", "A managed policy cannot be updated."));
    }
    let if_match = call.if_match()?;
    let config = check(kind, call.document(kind.config_element())?)?;
    let old = api.store.get(kind, id).await?;
    if kind == Kind::PublicKey {
        let changed = |name: &str| old.config.text_of(name).map(str::trim) != config.text_of(name).map(str::trim);
        if changed("EncodedKey") || changed("Name") || changed("CallerReference") {
            return Err(errors::bad(
                "CannotChangeImmutablePublicKeyFields",
                "You can't change the value of a public key: only its Comment can be updated.",
            ));
        }
    }
    if kind == Kind::KeyGroup {
        keys_exist(api, &config).await?;
    }
    let (old_name, new_name) = (unique_name(kind, &old.config), unique_name(kind, &config));
    let renamed = new_name.clone().filter(|name| Some(name) != old_name.as_ref());
    if let Some(name) = &renamed {
        if managed_of(kind).iter().any(|(_, managed)| managed.text_of("Name") == Some(name.as_str())) {
            return Err(crate::store::StoreError::NameTaken(kind, name.clone()).into());
        }
        api.store.claim_name(kind, name, id).await?;
    }
    let (_, resource) = match api.store.update(kind, id, &if_match, config).await {
        Ok(updated) => updated,
        Err(error) => {
            if let Some(name) = &renamed {
                api.store.release_name(kind, name, id).await;
            }
            return Err(error.into());
        }
    };
    if let (Some(_), Some(old_name)) = (&renamed, &old_name) {
        api.store.release_name(kind, old_name, id).await;
    }
    api.changed();
    Ok(answer(StatusCode::OK, &render(kind, &resource), Some(&resource.etag), None))
}

pub async fn delete(api: &CloudFront, kind: Kind, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    if managed_resource(kind, id).is_some() {
        return Err(errors::bad("IllegalDelete", "A managed policy cannot be deleted."));
    }
    let if_match = call.if_match()?;
    let resource = api.store.get(kind, id).await?;
    if resource.etag != if_match {
        return Err(crate::store::StoreError::PreconditionFailed.into());
    }
    if in_use(api, kind, id).await? {
        return Err(errors::in_use(kind));
    }
    let removed = api.store.delete(kind, id, &if_match, |_| Ok(())).await?;
    if let Some(name) = unique_name(kind, &removed.config) {
        api.store.release_name(kind, &name, id).await;
    }
    api.changed();
    Ok(no_content())
}

pub async fn list(api: &CloudFront, kind: Kind, call: &Call<'_>) -> Result<HttpResponse> {
    let (marker, size) = call.page()?;
    let wanted = call.parameter("Type");
    if let Some(wanted) = wanted {
        super::check::one_of("Type", wanted, &["managed", "custom"])?;
    }
    let mut all: Vec<(Resource, bool)> = Vec::new();
    if wanted != Some("custom") {
        all.extend(managed_of(kind).into_iter().map(|(id, config)| (as_managed(id, config), true)));
    }
    if wanted != Some("managed") {
        all.extend(api.store.list(kind).await?.into_iter().map(|resource| (resource, false)));
    }
    let (page, next) = paginate(all, |(resource, _)| resource.id.as_str(), marker.as_deref(), size);
    let items: Vec<Node> = page.iter().map(|(resource, managed)| summary(kind, resource, *managed)).collect();
    let quantity = list_node("", items);
    let mut list = Node::new(format!("{}List", element(kind)));
    if kind == Kind::OriginAccessControl {
        list.children.push(Node::leaf("Marker", marker.clone().unwrap_or_default()));
    }
    if let Some(next) = &next {
        list.children.push(Node::leaf("NextMarker", next));
    }
    list.children.push(Node::leaf("MaxItems", size.to_string()));
    if kind == Kind::OriginAccessControl {
        list.children.push(Node::leaf("IsTruncated", next.is_some().to_string()));
    }
    list.children.extend(quantity.children);
    Ok(answer(StatusCode::OK, &list, None, None))
}

/// Every public key a key group config names must exist.
async fn keys_exist(api: &CloudFront, config: &Node) -> Result<()> {
    for key in keys::key_ids(config) {
        api.store.get(Kind::PublicKey, &key).await?;
    }
    Ok(())
}

/// Whether anything still names `id` of `kind`: a distribution (policies,
/// key groups, origin access controls) or a key group (public keys).
async fn in_use(api: &CloudFront, kind: Kind, id: &str) -> Result<bool> {
    if kind == Kind::PublicKey {
        let groups = api.store.list(Kind::KeyGroup).await?;
        return Ok(groups.iter().any(|group| keys::key_ids(&group.config).iter().any(|key| key == id)));
    }
    let distributions = api.store.list(Kind::Distribution).await?;
    Ok(distributions.iter().any(|distribution| {
        let references = distribution_config::references(&distribution.config);
        let named = match kind {
            Kind::CachePolicy => &references.cache_policies,
            Kind::OriginRequestPolicy => &references.origin_request_policies,
            Kind::ResponseHeadersPolicy => &references.response_headers_policies,
            Kind::KeyGroup => &references.key_groups,
            Kind::OriginAccessControl => &references.origin_access_controls,
            Kind::PublicKey | Kind::Distribution => return false,
        };
        named.contains(id)
    }))
}

/// Whether `id` names a managed policy of `kind`, or a stored resource.
pub async fn exists(api: &CloudFront, kind: Kind, id: &str) -> Result<bool> {
    if managed_resource(kind, id).is_some() {
        return Ok(true);
    }
    match api.store.get(kind, id).await {
        Ok(_) => Ok(true),
        Err(crate::store::StoreError::NotFound(..)) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_each_kinds_shape() {
        let resource = Resource {
            id: "K1".into(),
            config: Node::new("PublicKeyConfig").with(Node::leaf("Name", "signer")),
            etag: "E1".into(),
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-01-01T00:00:00.000Z".into(),
            generation: 1,
        };
        let node = render(Kind::PublicKey, &resource);
        assert_eq!(node.name, "PublicKey");
        assert_eq!(node.text_of("CreatedTime"), Some("2026-01-01T00:00:00.000Z"));
        assert_eq!(summary(Kind::PublicKey, &resource, false).text_of("Name"), Some("signer"));
        let policy = as_managed("658327ea-f89d-4fab-a63d-7e88639e58f6", Node::new("CachePolicyConfig"));
        let summary = summary(Kind::CachePolicy, &policy, true);
        assert_eq!(summary.name, "CachePolicySummary");
        assert_eq!(summary.text_of("Type"), Some("managed"));
        assert_eq!(summary.child("CachePolicy").and_then(|p| p.text_of("Id")), Some(policy.id.as_str()));
        assert_eq!(element(Kind::OriginAccessControl), "OriginAccessControl");
    }
}
