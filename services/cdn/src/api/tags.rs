//! TagResource, UntagResource and ListTagsForResource, on distributions
//! by ARN. Keys and values are checked as CloudFront checks them: keys of
//! 1 to 128 and values of at most 256 letters, digits, spaces and
//! `_ . : / = + - @`, at most 50 tags on a resource.

use actix_web::{HttpResponse, http::StatusCode};

use super::{Call, CloudFront, answer, check, errors, no_content};
use crate::model::{Kind, Node, Tag};
use errors::Result;

const MAX_TAGS: usize = 50;

fn invalid_tagging(message: impl Into<String>) -> nubo_host::front::AwsError {
    errors::bad("InvalidTagging", message)
}

fn valid_tag_text(text: &str, min: usize, max: usize) -> bool {
    let length = text.chars().count();
    (min..=max).contains(&length) && text.chars().all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

/// The tags of a `<Tags><Items><Tag>` element, checked.
pub fn read_tags(tags: &Node) -> Result<Vec<Tag>> {
    let items = tags.child("Items").map_or(&[][..], |items| items.children.as_slice());
    let mut read = Vec::with_capacity(items.len());
    for tag in items {
        let key = check::required_text(tag, "Key")?.to_owned();
        let value = tag.text_of("Value").unwrap_or_default().to_owned();
        if !valid_tag_text(&key, 1, 128) || !valid_tag_text(&value, 0, 256) {
            return Err(invalid_tagging(format!("The tag '{key}' has a key or value that is not valid.")));
        }
        read.push(Tag { key, value });
    }
    if read.len() > MAX_TAGS {
        return Err(invalid_tagging(format!("A resource can have at most {MAX_TAGS} tags.")));
    }
    Ok(read)
}

/// The distribution a `Resource` ARN names, which must exist.
async fn resource(api: &CloudFront, call: &Call<'_>) -> Result<String> {
    let arn = call.parameter("Resource").filter(|arn| !arn.is_empty()).ok_or_else(|| check::missing("Resource"))?;
    let id = arn
        .strip_prefix("arn:aws:cloudfront::")
        .and_then(|rest| rest.split_once(":distribution/"))
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| errors::invalid_argument(format!("The parameter Resource is not a distribution ARN: {arn}")))?;
    match api.store.get(Kind::Distribution, id).await {
        Ok(_) => Ok(api.distribution_arn(id)),
        Err(crate::store::StoreError::NotFound(..)) => {
            Err(nubo_host::front::AwsError::new(404, "NoSuchResource", "The specified resource does not exist."))
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn tag(api: &CloudFront, call: &Call<'_>) -> Result<HttpResponse> {
    let arn = resource(api, call).await?;
    let tags = read_tags(&call.document("Tags")?)?;
    let existing = api.store.tags(&arn).await?;
    let total = existing.iter().filter(|old| !tags.iter().any(|new| new.key == old.key)).count() + tags.len();
    if total > MAX_TAGS {
        return Err(invalid_tagging(format!("A resource can have at most {MAX_TAGS} tags.")));
    }
    api.store.change_tags(&arn, &tags, &[]).await?;
    Ok(no_content())
}

pub async fn untag(api: &CloudFront, call: &Call<'_>) -> Result<HttpResponse> {
    let arn = resource(api, call).await?;
    let keys = call.document("TagKeys")?;
    let keys: Vec<String> =
        keys.child("Items").map_or_else(Vec::new, |items| items.children.iter().map(|key| key.text.clone()).collect());
    api.store.change_tags(&arn, &[], &keys).await?;
    Ok(no_content())
}

pub async fn list(api: &CloudFront, call: &Call<'_>) -> Result<HttpResponse> {
    let arn = resource(api, call).await?;
    let tags = api.store.tags(&arn).await?;
    let mut items = Node::new("Items");
    items.children = tags
        .into_iter()
        .map(|tag| Node::new("Tag").with(Node::leaf("Key", tag.key)).with(Node::leaf("Value", tag.value)))
        .collect();
    Ok(answer(StatusCode::OK, &Node::new("Tags").with(items), None, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::xml;

    #[test]
    fn tags_are_checked_as_cloudfront_checks_them() {
        let tags = |body: &str| read_tags(&xml::parse(body.as_bytes(), "Tags").unwrap());
        let read =
            tags("<Tags><Items><Tag><Key>team</Key><Value>web</Value></Tag><Tag><Key>empty</Key></Tag></Items></Tags>")
                .unwrap();
        assert_eq!(
            read,
            vec![Tag { key: "team".into(), value: "web".into() }, Tag { key: "empty".into(), value: String::new() }]
        );
        assert_eq!(tags("<Tags><Items><Tag><Key></Key></Tag></Items></Tags>").unwrap_err().code, "InvalidTagging");
        assert_eq!(tags("<Tags><Items><Tag><Key>a#b</Key></Tag></Items></Tags>").unwrap_err().code, "InvalidTagging");
        let many: String = (0..51).map(|n| format!("<Tag><Key>k{n}</Key></Tag>")).collect();
        assert_eq!(tags(&format!("<Tags><Items>{many}</Items></Tags>")).unwrap_err().code, "InvalidTagging");
        assert!(tags("<Tags/>").unwrap().is_empty());
    }
}
