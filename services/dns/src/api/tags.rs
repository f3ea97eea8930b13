//! Tags: ChangeTagsForResource, ListTagsForResource and
//! ListTagsForResources, for hosted zones and health checks.

use actix_web::HttpResponse;

use super::{Call, errors::Result, input, invalid, ok, operation::trim_id, render, xml::Xml};
use crate::store::{ResourceType, Zones};

fn resource_type(given: &str) -> Result<ResourceType> {
    ResourceType::parse(given).ok_or_else(|| invalid(format!("Invalid resource type: {given}")))
}

/// A resource id without the prefix of its type (`/hostedzone/`).
fn resource_id(kind: ResourceType, id: &str) -> &str {
    trim_id(id, kind.as_str())
}

pub async fn change(zones: &Zones, kind: &str, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let kind = resource_type(kind)?;
    let changes = input::change_tags(call.body)?;
    zones.change_tags(kind, resource_id(kind, id), changes.add, changes.remove).await?;
    ok(Xml::document("ChangeTagsForResourceResponse"))
}

pub async fn list(zones: &Zones, kind: &str, id: &str) -> Result<HttpResponse> {
    let kind = resource_type(kind)?;
    let id = resource_id(kind, id);
    let tags = zones.tags(kind, id).await?;
    let mut xml = Xml::document("ListTagsForResourceResponse");
    render::tag_set(&mut xml, kind.as_str(), id, &tags);
    ok(xml)
}

pub async fn list_many(zones: &Zones, kind: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let kind = resource_type(kind)?;
    let ids = input::resource_ids(call.body)?;
    let mut xml = Xml::document("ListTagsForResourcesResponse");
    xml.open("ResourceTagSets");
    for id in &ids {
        let id = resource_id(kind, id);
        let tags = zones.tags(kind, id).await?;
        render::tag_set(&mut xml, kind.as_str(), id, &tags);
    }
    xml.close();
    ok(xml)
}
