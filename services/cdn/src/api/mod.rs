//! The CloudFront API (restXml, `2020-05-31`), written with the host's
//! front kit: a request is a CloudFront call when its path is under
//! `/2020-05-31/` and its SigV4 scope names `cloudfront` ([`is_api_call`]);
//! it is named as its [`Operation`], SigV4-checked once (a global service
//! signed in `us-east-1`), dispatched by one `match` to its family
//! ([`distributions`], [`invalidations`], [`tags`], and [`resources`] for
//! policies, public keys, key groups and origin access controls), and a
//! failure is rendered once, in CloudFront's error shape.
//!
//! A change answers `InProgress`, as CloudFront's do. It is `Deployed`
//! (an invalidation `Completed`) once every live replica has applied the
//! generation that published it; a Get of a change still in progress
//! waits up to [`DEPLOY_WAIT`] for that, so a waiter's first poll, which
//! SDKs make at once and then repeat only after a minute, sees it
//! deployed.

pub mod check;
pub mod distribution_config;
mod distributions;
pub mod errors;
mod invalidations;
pub mod keys;
pub mod managed;
pub mod operation;
pub mod policies;
mod resources;
mod tags;
pub mod xml;

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use nubo_host::front::{AwsError, AwsFront, Operation as _, Protocol, name_operation, request_id};

use crate::{model::Node, store::Store, sync::Sync};
use errors::Result;
pub use operation::Operation;

/// The largest request body read: a distribution config at CloudFront's
/// limits is well below it.
const MAX_BODY: usize = 1024 * 1024;
/// How long a Get of a change in progress waits for every replica.
pub const DEPLOY_WAIT: Duration = Duration::from_secs(3);
/// How often it looks meanwhile.
const DEPLOY_POLL: Duration = Duration::from_millis(20);
/// The page size of the List operations when `MaxItems` is not given,
/// and the largest one taken.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Whether `request` is a CloudFront API call: under `/2020-05-31/` and
/// signed (header or query) with a credential scope for `cloudfront`.
/// Everything else on the port is a viewer's.
pub fn is_api_call(request: &HttpRequest) -> bool {
    if !request.path().starts_with("/2020-05-31/") {
        return false;
    }
    let header = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|header| header.split("Credential=").nth(1))
        .map(|rest| rest.split(',').next().unwrap_or(rest).trim().to_owned());
    let query = || {
        request
            .query_string()
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
            .map(nubo_host::sigv4::percent_decode)
    };
    header.or_else(query).is_some_and(|credential| credential.split('/').nth(3) == Some("cloudfront"))
}

/// The CloudFront front; cheap to clone.
#[derive(Clone)]
pub struct CloudFront {
    front: AwsFront,
    store: Store,
    sync: Sync,
    account_id: String,
}

impl std::fmt::Debug for CloudFront {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CloudFront")
    }
}

/// What an operation reads of its request.
pub struct Call<'r> {
    pub request: &'r HttpRequest,
    pub query: Vec<(String, String)>,
    /// The body, signature checked and content encoding undone.
    pub body: &'r [u8],
}

impl Call<'_> {
    pub fn parameter(&self, name: &str) -> Option<&str> {
        operation::parameter(&self.query, name)
    }

    /// The `If-Match` an update or delete must carry.
    pub fn if_match(&self) -> Result<String> {
        self.request
            .headers()
            .get("if-match")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.trim().trim_matches('"').to_owned())
            .filter(|value| !value.is_empty())
            .ok_or_else(errors::missing_if_match)
    }

    /// The body as a document whose root is `root`.
    pub fn document(&self, root: &str) -> Result<Node> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(errors::bad(
                "MissingBody",
                "This operation requires a body. Ensure that the body is present and the Content-Type header is set.",
            ));
        }
        xml::parse(self.body, root)
    }

    /// `Marker` and `MaxItems` of a List operation.
    pub fn page(&self) -> Result<(Option<String>, usize)> {
        let marker = self.parameter("Marker").filter(|marker| !marker.is_empty()).map(str::to_owned);
        let size = match self.parameter("MaxItems") {
            None | Some("") => DEFAULT_PAGE,
            Some(given) => given
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|size| *size > 0)
                .ok_or_else(|| {
                    errors::invalid_argument(format!("MaxItems must be a positive integer, not '{given}'."))
                })?
                .min(MAX_PAGE),
        };
        Ok((marker, size))
    }
}

impl CloudFront {
    pub fn new(context: &nubo_host::Context, store: Store, sync: Sync) -> Self {
        // CloudFront is global and signed in us-east-1; SDKs pointed at an
        // endpoint sign with their own region, so nubo's is taken too.
        let mut policy = nubo_host::sigv4::Policy::hashed("cloudfront", "us-east-1", 5);
        if context.region != "us-east-1" {
            policy.regions.push(context.region.clone());
        }
        let protocol = Protocol::RestXml { namespace: xml::NAMESPACE };
        Self {
            front: AwsFront::new(protocol, policy, context.credentials.clone(), MAX_BODY),
            store,
            sync,
            account_id: context.account_id.clone(),
        }
    }

    /// Answers one API call (one for which [`is_api_call`] holds).
    pub async fn handle(&self, request: &HttpRequest, payload: web::Payload) -> HttpResponse {
        let query = operation::query(request.query_string());
        let operation = Operation::parse(request.method().as_str(), request.path(), &query);
        if let Some(operation) = &operation {
            name_operation(request, operation.name());
        }
        let signed = match self.front.authenticate(request, payload).await {
            Ok(signed) => signed,
            Err(refused) => return self.front.error(&refused),
        };
        let Some(operation) = operation else {
            let message = format!("{} {} is not a CloudFront operation nubo serves", request.method(), request.path());
            return self.front.error(&AwsError::new(400, "InvalidAction", message));
        };
        let call = Call { request, query, body: &signed.body };
        match self.dispatch(operation, &call).await {
            Ok(response) => response,
            Err(failure) => self.front.error(&failure),
        }
    }

    async fn dispatch(&self, operation: Operation, call: &Call<'_>) -> Result<HttpResponse> {
        match operation {
            Operation::CreateDistribution => distributions::create(self, call, false).await,
            Operation::CreateDistributionWithTags => distributions::create(self, call, true).await,
            Operation::ListDistributions => distributions::list(self, call).await,
            Operation::GetDistribution(id) => distributions::get(self, &id).await,
            Operation::GetDistributionConfig(id) => distributions::get_config(self, &id).await,
            Operation::UpdateDistribution(id) => distributions::update(self, &id, call).await,
            Operation::DeleteDistribution(id) => distributions::delete(self, &id, call).await,
            Operation::CreateInvalidation(id) => invalidations::create(self, &id, call).await,
            Operation::ListInvalidations(id) => invalidations::list(self, &id, call).await,
            Operation::GetInvalidation(id, invalidation) => invalidations::get(self, &id, &invalidation).await,
            Operation::TagResource => tags::tag(self, call).await,
            Operation::UntagResource => tags::untag(self, call).await,
            Operation::ListTagsForResource => tags::list(self, call).await,
            Operation::Create(kind) => resources::create(self, kind, call).await,
            Operation::List(kind) => resources::list(self, kind, call).await,
            Operation::Get(kind, id) => resources::get(self, kind, &id, false).await,
            Operation::GetConfig(kind, id) => resources::get(self, kind, &id, true).await,
            Operation::Update(kind, id) => resources::update(self, kind, &id, call).await,
            Operation::Delete(kind, id) => resources::delete(self, kind, &id, call).await,
        }
    }

    /// The ARN of distribution `id`.
    fn distribution_arn(&self, id: &str) -> String {
        format!("arn:aws:cloudfront::{}:distribution/{id}", self.account_id)
    }

    /// The generation every live replica has applied (this one included).
    async fn deployed(&self) -> Result<u64> {
        let own = self.sync.applied();
        let others = self.store.deployed_generation(self.sync.replica()).await?;
        Ok(others.map_or(own, |others| others.min(own)))
    }

    /// Whether `generation` is applied everywhere, waiting up to
    /// [`DEPLOY_WAIT`] for it when `wait`.
    async fn is_deployed(&self, generation: u64, wait: bool) -> Result<bool> {
        let deadline = Instant::now() + DEPLOY_WAIT;
        if self.sync.applied() < generation {
            self.sync.poke();
        }
        loop {
            if self.deployed().await? >= generation {
                return Ok(true);
            }
            if !wait || Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(DEPLOY_POLL).await;
        }
    }

    /// Tells this replica's sync that something changed, so it is served
    /// here at once rather than at the next look.
    fn changed(&self) {
        self.sync.poke();
    }
}

/// A successful answer: `node` as the document, with an `ETag` and a
/// `Location` when given.
fn answer(status: StatusCode, node: &Node, etag: Option<&str>, location: Option<String>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type("text/xml").insert_header(("x-amzn-RequestId", request_id()));
    if let Some(etag) = etag {
        response.insert_header(("ETag", etag.to_owned()));
    }
    if let Some(location) = location {
        response.insert_header(("Location", location));
    }
    response.body(xml::Xml::of(node))
}

/// A 204 with no body (deletes, tagging).
fn no_content() -> HttpResponse {
    HttpResponse::NoContent().insert_header(("x-amzn-RequestId", request_id())).finish()
}

/// The page of `items` after `marker` (the id of the last item of the
/// page before; an id not among them starts after the ids before it),
/// at most `size` long, and the marker of the page after, if any.
fn paginate<T>(items: Vec<T>, id: impl Fn(&T) -> &str, marker: Option<&str>, size: usize) -> (Vec<T>, Option<String>) {
    let start = match marker {
        None => 0,
        Some(marker) => match items.iter().position(|item| id(item) == marker) {
            Some(at) => at + 1,
            None => items.iter().position(|item| id(item) > marker).unwrap_or(items.len()),
        },
    };
    let mut page: Vec<T> = items.into_iter().skip(start).collect();
    let next = (page.len() > size).then(|| id(&page[size - 1]).to_owned());
    page.truncate(size);
    (page, next)
}

/// `<Name>` with `Quantity` and, when any, `Items`.
fn list_node(name: &str, items: Vec<Node>) -> Node {
    let mut list = Node::new(name).with(Node::leaf("Quantity", items.len().to_string()));
    if !items.is_empty() {
        let mut holder = Node::new("Items");
        holder.children = items;
        list.children.push(holder);
    }
    list
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn api_calls_are_cloudfront_signed_calls_under_the_version() {
        let signed = |service: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
            )
        };
        let call = |path: &str, authorization: Option<String>| {
            let mut request = TestRequest::get().uri(path);
            if let Some(authorization) = authorization {
                request = request.insert_header(("authorization", authorization));
            }
            is_api_call(&request.to_http_request())
        };
        assert!(call("/2020-05-31/distribution", Some(signed("cloudfront"))));
        assert!(!call("/2020-05-31/distribution", None), "an unsigned viewer request");
        assert!(!call("/2020-05-31/distribution", Some(signed("s3"))));
        assert!(!call("/index.html", Some(signed("cloudfront"))));
        let presigned =
            "/2020-05-31/distribution?X-Amz-Credential=test%2F20260101%2Fus-east-1%2Fcloudfront%2Faws4_request";
        assert!(call(presigned, None));
    }

    #[test]
    fn pages_follow_their_markers() {
        let ids = vec!["a", "b", "c", "d", "e"];
        let page = |marker: Option<&str>, size| paginate(ids.clone(), |id| id, marker, size);
        assert_eq!(page(None, 2), (vec!["a", "b"], Some("b".to_owned())));
        assert_eq!(page(Some("b"), 2), (vec!["c", "d"], Some("d".to_owned())));
        assert_eq!(page(Some("d"), 2), (vec!["e"], None));
        assert_eq!(page(Some("bb"), 10), (vec!["c", "d", "e"], None));
        assert_eq!(page(None, 5), (ids.clone(), None));
    }
}
