//! CreateInvalidation, GetInvalidation and ListInvalidations.
//!
//! A path is exact (every query string and header variant of it goes) or
//! ends in `*`, CloudFront's only wildcard; `CallerReference` makes a
//! retried batch answer the batch it made. A batch is `Completed` once
//! every live replica has applied it to its own memory tier and to Redis
//! (`crate::sync`).

use actix_web::{HttpResponse, http::StatusCode};

use super::{Call, CloudFront, answer, check, errors, list_node, paginate};
use crate::model::{Invalidation, Kind, Node};
use errors::Result;

/// CloudFront's limits: paths in one batch, characters in one path.
const MAX_PATHS: usize = 3000;
const MAX_PATH_LENGTH: usize = 4000;

/// The paths of a batch, or why CloudFront would refuse them.
pub fn check_paths(paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Err(errors::invalid_argument("The invalidation batch must name at least one path."));
    }
    if paths.len() > MAX_PATHS {
        return Err(nubo_host::front::AwsError::new(
            413,
            "BatchTooLarge",
            "Invalidation batch specified is too large.",
        ));
    }
    for path in paths {
        let wildcard_inside = path.find('*').is_some_and(|at| at + 1 != path.len());
        if !path.starts_with('/')
            || path.len() > MAX_PATH_LENGTH
            || wildcard_inside
            || path.chars().any(char::is_control)
        {
            return Err(errors::invalid_argument(format!(
                "Your request contains one or more invalid invalidation paths: '{path}' (a path begins with / and may end with *, the only wildcard)."
            )));
        }
    }
    Ok(())
}

pub async fn create(api: &CloudFront, distribution: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let batch = call.document("InvalidationBatch")?;
    check::quantities(&batch)?;
    let reference = check::required_text(&batch, "CallerReference")?.trim().to_owned();
    if reference.is_empty() {
        return Err(check::missing("CallerReference"));
    }
    check::required(&batch, "Paths")?;
    let paths = check::texts(&batch, "Paths");
    check_paths(&paths)?;
    let (invalidation, existed) = api.store.create_invalidation(distribution, &reference, paths).await?;
    api.changed();
    let status = if existed { status(api, &invalidation, false).await? } else { "InProgress" };
    let location = format!(
        "https://cloudfront.amazonaws.com/2020-05-31/distribution/{distribution}/invalidation/{}",
        invalidation.id
    );
    Ok(answer(StatusCode::CREATED, &document(&invalidation, status), None, Some(location)))
}

pub async fn get(api: &CloudFront, distribution: &str, id: &str) -> Result<HttpResponse> {
    api.store.get(Kind::Distribution, distribution).await?;
    let invalidation = api.store.invalidation(distribution, id).await?;
    let status = status(api, &invalidation, true).await?;
    Ok(answer(StatusCode::OK, &document(&invalidation, status), None, None))
}

pub async fn list(api: &CloudFront, distribution: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let (marker, size) = call.page()?;
    api.store.get(Kind::Distribution, distribution).await?;
    let mut invalidations = api.store.invalidations(Some(distribution)).await?;
    // Newest first, as CloudFront lists them.
    invalidations.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
    let (page, next) = paginate(invalidations, |invalidation| invalidation.id.as_str(), marker.as_deref(), size);
    let deployed = api.deployed().await?;
    let items: Vec<Node> = page
        .iter()
        .map(|invalidation| {
            Node::new("InvalidationSummary")
                .with(Node::leaf("Id", &invalidation.id))
                .with(Node::leaf("CreateTime", &invalidation.created))
                .with(Node::leaf(
                    "Status",
                    if invalidation.generation <= deployed { "Completed" } else { "InProgress" },
                ))
        })
        .collect();
    let mut list = Node::new("InvalidationList").with(Node::leaf("Marker", marker.unwrap_or_default()));
    if let Some(next) = &next {
        list.children.push(Node::leaf("NextMarker", next));
    }
    list.children.push(Node::leaf("MaxItems", size.to_string()));
    list.children.push(Node::leaf("IsTruncated", next.is_some().to_string()));
    list.children.extend(list_node("", items).children);
    Ok(answer(StatusCode::OK, &list, None, None))
}

async fn status(api: &CloudFront, invalidation: &Invalidation, wait: bool) -> Result<&'static str> {
    Ok(if api.is_deployed(invalidation.generation, wait).await? { "Completed" } else { "InProgress" })
}

fn document(invalidation: &Invalidation, status: &str) -> Node {
    let paths: Vec<Node> = invalidation.paths.iter().map(|path| Node::leaf("Path", path)).collect();
    Node::new("Invalidation")
        .with(Node::leaf("Id", &invalidation.id))
        .with(Node::leaf("Status", status))
        .with(Node::leaf("CreateTime", &invalidation.created))
        .with(
            Node::new("InvalidationBatch")
                .with(list_node("Paths", paths))
                .with(Node::leaf("CallerReference", &invalidation.caller_reference)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_begin_with_a_slash_and_end_with_the_only_wildcard() {
        let paths = |list: &[&str]| check_paths(&list.iter().map(|path| (*path).to_owned()).collect::<Vec<_>>());
        assert!(paths(&["/*"]).is_ok());
        assert!(paths(&["/index.html", "/images/*", "/app*"]).is_ok());
        assert_eq!(paths(&[]).unwrap_err().code, "InvalidArgument");
        assert_eq!(paths(&["index.html"]).unwrap_err().code, "InvalidArgument");
        assert_eq!(paths(&["/images/*.jpg"]).unwrap_err().code, "InvalidArgument");
        let many: Vec<String> = (0..3001).map(|n| format!("/{n}")).collect();
        assert_eq!(check_paths(&many).unwrap_err().code, "BatchTooLarge");
    }
}
