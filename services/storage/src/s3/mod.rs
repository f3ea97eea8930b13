//! The S3 REST API front, written with the host's front kit. A request is
//! addressed ([`request::target`]), its head checked against S3's signing
//! rules (payload markers, streaming bodies, presigned URLs, 15 minutes of
//! skew) before any byte of the body is read, parsed into one
//! [`Operation`], and dispatched by one `match` to its family: [`buckets`],
//! [`objects`], [`listing`], [`multipart`]. A failure is rendered once, in
//! S3's XML error shape, with its `Resource` and request id.

pub mod access;
mod buckets;
mod checksums;
pub mod conditions;
pub mod cors;
pub mod errors;
pub mod lifecycle;
mod listing;
mod multipart;
pub mod notifications;
mod objects;
mod permissions;
mod post;
pub mod request;
mod sigv2;
pub mod website;
pub mod xml;

use std::sync::{Arc, atomic::AtomicBool};

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt as _, stream::BoxStream};
use nubo_host::{
    front::{AwsError, Operation as _, Protocol, name_operation, request_head, sendable_body},
    sigv4::{AuthError, BodyError, Credentials, Payload, Policy, Principal, RequestHead, verified_stream},
};

use crate::{
    blobs::Blobs,
    catalog::{Bucket, Catalog, owner_of},
};
use errors::{S3Error, S3Result};
use nubo_proto::clients::FunctionsClient;
use request::{Operation, Query, Target};

/// The largest XML request body read (a DeleteObjects of 1,000 long keys).
const MAX_XML_BODY: usize = 2 * 1024 * 1024;

/// Everything the S3 front needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct S3 {
    pub policy: Policy,
    pub credentials: Credentials,
    pub region: String,
    pub catalog: Catalog,
    pub blobs: Blobs,
    /// Where event notifications are delivered.
    pub functions: Option<FunctionsClient>,
}

impl S3 {
    pub fn new(
        context: &nubo_host::Context,
        catalog: Catalog,
        blobs: Blobs,
        functions: Option<FunctionsClient>,
    ) -> Self {
        Self {
            policy: Policy::s3(&context.region),
            credentials: context.credentials.clone(),
            region: context.region.clone(),
            catalog,
            blobs,
            functions,
        }
    }
}

pub fn routes(routes: &mut web::ServiceConfig, s3: S3) {
    routes.app_data(web::Data::new(s3)).default_service(web::to(handle));
}

async fn handle(request: HttpRequest, payload: web::Payload, s3: web::Data<S3>) -> HttpResponse {
    match serve(&request, payload, &s3).await {
        Ok(response) => response,
        Err(S3Error(error, mut headers)) => {
            let resource = request.uri().path().to_owned();
            let error = if error.extra.contains_key("Resource") { error } else { error.with("Resource", resource) };
            if error.code == "InvalidRange"
                && let Some(size) = error.extra.get("ActualObjectSize").and_then(|size| size.as_str())
            {
                headers.push(("content-range", format!("bytes */{size}")));
            }
            let mut response = Protocol::S3.render(&error);
            for (name, value) in headers {
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&value) {
                    response.headers_mut().insert(actix_web::http::header::HeaderName::from_static(name), value);
                }
            }
            response
        }
    }
}

/// One request on its way through an operation: who made it (no one, for
/// an anonymous request), what it addresses, and its body, still unread.
pub struct Call<'r> {
    pub request: &'r HttpRequest,
    pub head: RequestHead<'r>,
    pub principal: Option<Principal>,
    pub query: Query,
    pub target: Target,
    signed: Payload,
    payload: Option<web::Payload>,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let principal = self.principal.as_ref().map(|principal| principal.arn.as_str());
        f.debug_struct("Call").field("target", &self.target).field("principal", &principal).finish()
    }
}

impl Call<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.headers().get(name).and_then(|value| value.to_str().ok())
    }

    pub fn bucket_name(&self) -> &str {
        self.target.bucket.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.target.key.as_deref().unwrap_or_default()
    }

    /// The owner of what this caller creates; anonymous callers own nothing.
    pub fn owner(&self) -> Option<String> {
        self.principal.as_ref().map(owner_of)
    }

    /// The caller, for operations no anonymous request may make.
    pub fn signed_principal(&self) -> S3Result<&Principal> {
        self.principal.as_ref().ok_or_else(|| errors::access_denied().into())
    }

    /// Whether the request came over TLS (`aws:SecureTransport`): the
    /// listener's own knowledge, never a forwarded header a client sets.
    pub fn secure(&self) -> bool {
        self.request.app_config().secure()
    }

    /// The body as verified bytes: a signed digest checked as it streams,
    /// `aws-chunked` framing undone and its signatures and trailer checked.
    /// An error item means the body broke its promise: discard everything.
    pub fn body_stream(&mut self) -> S3Result<BoxStream<'static, Result<Bytes, BodyError>>> {
        let Some(payload) = self.payload.take() else {
            return Ok(futures::stream::empty().boxed());
        };
        let body = sendable_body(payload, Arc::new(AtomicBool::new(false)));
        verified_stream(&self.signed, &self.head, body).map_err(|error| auth_error(&AuthError::Body(error)))
    }

    /// The whole (small) body, verified, for the operations that take XML.
    pub async fn body(&mut self) -> S3Result<Bytes> {
        let mut stream = self.body_stream()?;
        let mut body = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| auth_error(&AuthError::Body(error)))?;
            if body.len() + chunk.len() > MAX_XML_BODY {
                return Err(Protocol::S3.too_large(MAX_XML_BODY).into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

pub fn auth_error(auth: &AuthError) -> S3Error {
    S3Error::from(Protocol::S3.auth_error(auth))
}

async fn serve(request: &HttpRequest, payload: web::Payload, s3: &S3) -> S3Result<HttpResponse> {
    let host = request.headers().get("host").and_then(|value| value.to_str().ok());
    if let Some(bucket) = host.and_then(website::website_bucket) {
        return website::serve(s3, request, &bucket).await;
    }
    let target = request::target(host, request.uri().path())
        .map_err(|_| AwsError::new(400, "InvalidURI", "Couldn't parse the specified URI."))?;
    let query = Query::parse(request.uri().query().unwrap_or(""));
    let operation = Operation::parse(
        request.method().as_str(),
        &target,
        &query,
        request.headers().contains_key("x-amz-copy-source"),
    );
    name_operation(request, operation.name());
    match operation {
        // Browsers send these unsigned: the preflight is answered from the
        // bucket's CORS rules, the form upload carries its own signature.
        Operation::Preflight => {
            return cors::preflight(s3, request, target.bucket.as_deref().unwrap_or_default()).await;
        }
        Operation::PostObject => {
            return post::upload(s3, request, payload, target.bucket.as_deref().unwrap_or_default()).await;
        }
        _ => {}
    }

    // The head is checked before any byte of the body is read, as S3 does;
    // a request with no signature at all is anonymous.
    let head = request_head(request).map_err(|error| auth_error(&error))?;
    let now = chrono::Utc::now();
    let host_bucket = host.and_then(request::host_bucket);
    let (principal, signed) = match sigv2::verify(request, host_bucket, &s3.credentials, now) {
        Some(verified) => (Some(verified?), Payload::Unsigned),
        None => match s3.credentials.verify(&s3.policy, &head, None, now) {
            Ok(verified) => (Some(verified.principal), verified.payload),
            Err(AuthError::Missing) => (None, Payload::Unsigned),
            Err(error) => return Err(auth_error(&error)),
        },
    };
    let mut call = Call { request, head, principal, query, target, signed, payload: Some(payload) };
    if let Some(key) = &call.target.key
        && key.len() > 1024
    {
        return Err(AwsError::new(400, "KeyTooLongError", "Your key is too long")
            .with("MaxSizeAllowed", 1024)
            .with("Size", key.len())
            .into());
    }
    tracing::debug!(operation = operation.name(), call = ?call, "s3 request");
    dispatch(s3, operation, &mut call).await
}

/// One `match`: each operation to its family.
async fn dispatch(s3: &S3, operation: Operation, call: &mut Call<'_>) -> S3Result<HttpResponse> {
    use Operation::*;
    let bucket = match operation {
        ListBuckets => return buckets::list(s3, call).await,
        CreateBucket => return buckets::create(s3, call).await,
        Unsupported(what) => return Err(errors::not_implemented(what).into()),
        _ => s3.bucket(call).await?,
    };
    let object_acl_needed = authorize(call, &bucket, operation)?;
    let mut response = match operation {
        HeadBucket => buckets::head(s3, &bucket),
        DeleteBucket => buckets::delete(s3, &bucket).await,
        GetBucketLocation => buckets::location(s3, &bucket),
        PutBucketTagging => buckets::put_tagging(s3, call, &bucket).await,
        GetBucketTagging => buckets::get_tagging(&bucket),
        DeleteBucketTagging => buckets::delete_tagging(s3, &bucket).await,
        PutBucketOwnershipControls => buckets::put_ownership(s3, call, &bucket).await,
        GetBucketOwnershipControls => buckets::get_ownership(&bucket),
        DeleteBucketOwnershipControls => buckets::delete_ownership(s3, &bucket).await,
        PutBucketVersioning => buckets::put_versioning(s3, call, &bucket).await,
        GetBucketVersioning => buckets::get_versioning(&bucket),
        PutBucketPolicy => permissions::put_policy(s3, call, &bucket).await,
        GetBucketPolicy => permissions::get_policy(&bucket),
        DeleteBucketPolicy => permissions::delete_policy(s3, &bucket).await,
        GetBucketPolicyStatus => permissions::policy_status(&bucket),
        PutBucketAcl => permissions::put_bucket_acl(s3, call, &bucket).await,
        GetBucketAcl => permissions::get_bucket_acl(&bucket),
        PutObjectAcl => permissions::put_object_acl(s3, call, &bucket).await,
        GetObjectAcl => permissions::get_object_acl(s3, call, &bucket).await,
        PutPublicAccessBlock => permissions::put_public_access_block(s3, call, &bucket).await,
        GetPublicAccessBlock => permissions::get_public_access_block(&bucket),
        DeletePublicAccessBlock => permissions::delete_public_access_block(s3, &bucket).await,
        PutBucketCors => cors::put(s3, call, &bucket).await,
        GetBucketCors => cors::get(&bucket),
        DeleteBucketCors => cors::delete(s3, &bucket).await,
        PutBucketWebsite => website::put(s3, call, &bucket).await,
        GetBucketWebsite => website::get(&bucket),
        DeleteBucketWebsite => website::delete(s3, &bucket).await,
        PutBucketLifecycleConfiguration => lifecycle::put(s3, call, &bucket).await,
        GetBucketLifecycleConfiguration => lifecycle::get(&bucket),
        DeleteBucketLifecycle => lifecycle::delete(s3, &bucket).await,
        PutBucketNotificationConfiguration => notifications::put(s3, call, &bucket).await,
        GetBucketNotificationConfiguration => notifications::get(&bucket),
        GetBucketEncryption => buckets::get_encryption(),
        PutBucketEncryption => buckets::put_encryption(call).await,
        DeleteBucketEncryption => Ok(HttpResponse::NoContent().finish()),
        ListObjects => listing::list_objects(s3, call, &bucket, false).await,
        ListObjectsV2 => listing::list_objects(s3, call, &bucket, true).await,
        ListObjectVersions => listing::list_versions(s3, call, &bucket).await,
        ListMultipartUploads => multipart::list_uploads(s3, call, &bucket).await,
        DeleteObjects => objects::delete_many(s3, call, &bucket).await,
        PutObject => objects::put(s3, call, &bucket).await,
        CopyObject => objects::copy(s3, call, &bucket).await,
        GetObject => objects::get(s3, call, &bucket, false, object_acl_needed).await,
        HeadObject => objects::get(s3, call, &bucket, true, object_acl_needed).await,
        DeleteObject => objects::delete(s3, call, &bucket).await,
        GetObjectAttributes => objects::attributes(s3, call, &bucket).await,
        PutObjectTagging => objects::put_tagging(s3, call, &bucket).await,
        GetObjectTagging => objects::get_tagging(s3, call, &bucket).await,
        DeleteObjectTagging => objects::delete_tagging(s3, call, &bucket).await,
        CreateMultipartUpload => multipart::create(s3, call, &bucket).await,
        UploadPart => multipart::upload_part(s3, call, &bucket, false).await,
        UploadPartCopy => multipart::upload_part(s3, call, &bucket, true).await,
        CompleteMultipartUpload => multipart::complete(s3, call, &bucket).await,
        AbortMultipartUpload => multipart::abort(s3, call, &bucket).await,
        ListParts => multipart::list_parts(s3, call, &bucket).await,
        ListBuckets | CreateBucket | Unsupported(_) | Preflight | PostObject => {
            Err(errors::not_implemented(operation.name()).into())
        }
    }?;
    cors::decorate(&bucket, call.request, &mut response);
    Ok(response)
}

/// Whether the caller may run `operation` on `bucket`: `Ok(true)` when
/// only the object's own ACL can still grant it (a read nothing else
/// granted), `AccessDenied` when nothing can.
fn authorize(call: &Call<'_>, bucket: &Bucket, operation: Operation) -> S3Result<bool> {
    if operation == Operation::DeleteObjects {
        // Each key is authorized on its own (`objects::delete_many`).
        return Ok(false);
    }
    let owner = call.owner();
    let resource = match &call.target.key {
        Some(key) => format!("arn:aws:s3:::{}/{key}", bucket.name),
        None => format!("arn:aws:s3:::{}", bucket.name),
    };
    let request = access::Request {
        principal: call.principal.as_ref(),
        owner: owner.as_deref(),
        action: access::action_of(operation, call.query.has("versionId")),
        resource,
        secure_transport: call.secure(),
        prefix: call.query.get("prefix"),
    };
    match access::evaluate(bucket, &request) {
        access::Access::Allowed => Ok(false),
        access::Access::NotGranted if matches!(operation, Operation::GetObject | Operation::HeadObject) => Ok(true),
        access::Access::NotGranted | access::Access::Denied => Err(errors::access_denied().into()),
    }
}

impl S3 {
    /// The addressed bucket.
    async fn bucket(&self, call: &Call<'_>) -> S3Result<Bucket> {
        let name = call.bucket_name();
        Ok(self.catalog.bucket(name).await?.ok_or_else(|| errors::no_such_bucket(name))?)
    }

    /// A bucket by name that the caller may read from (a copy's source).
    async fn readable_bucket(&self, call: &Call<'_>, name: &str, key: &str) -> S3Result<Bucket> {
        let bucket = self.catalog.bucket(name).await?.ok_or_else(|| errors::no_such_bucket(name))?;
        let owner = call.owner();
        let request = access::Request {
            principal: call.principal.as_ref(),
            owner: owner.as_deref(),
            action: "s3:GetObject",
            resource: format!("arn:aws:s3:::{name}/{key}"),
            secure_transport: call.secure(),
            prefix: None,
        };
        if access::evaluate(&bucket, &request) != access::Access::Allowed {
            return Err(errors::access_denied().into());
        }
        Ok(bucket)
    }
}

/// Runs every parser the S3 front applies to untrusted input on `input`:
/// addressing, queries and operations, ranges, policies, form-upload
/// policy documents and every XML body. For the fuzz target
/// (`services/storage/fuzz`): none may panic, whatever the bytes.
#[doc(hidden)]
pub fn parse_untrusted(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let (host, rest) = text.split_once('\n').unwrap_or(("", &text));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if let Ok(target) = request::target(Some(host), path) {
        let query = Query::parse(query);
        for method in ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"] {
            let _ = Operation::parse(method, &target, &query, false);
        }
    }
    let _ = website::website_bucket(host);
    for size in [0, 1, 10, u64::MAX] {
        let _ = conditions::range(Some(&text), size);
    }
    let _ = access::Policy::parse(&text, "bucket");
    post::parse_untrusted(&text);
    buckets::parse_untrusted(input);
    objects::parse_untrusted(input);
    multipart::parse_untrusted(input);
    cors::parse_untrusted(input);
    website::parse_untrusted(input);
    lifecycle::parse_untrusted(input);
    notifications::parse_untrusted(input);
    permissions::parse_untrusted(input);
}
