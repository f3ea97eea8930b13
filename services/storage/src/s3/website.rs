//! Static website hosting: the configuration (Put/Get/DeleteBucketWebsite)
//! and the website endpoint, `{bucket}.s3-website.localhost` (and the
//! regional `{bucket}.s3-website-{region}.localhost`), served with S3's
//! website semantics: anonymous GET and HEAD only, the index document for
//! `/` and `/dir/`, a 302 adding the slash a directory is missing, routing
//! rules and redirect-all, the error document with the error's status,
//! and errors as HTML pages, never XML.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    S3, access,
    buckets::{update, xml_response},
    errors::{self, S3Result},
    objects::read_segments,
    xml::{self, Xml},
};
use crate::catalog::{Bucket, ObjectRecord, Version, objects_of};
use nubo_host::front::AwsError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Website {
    pub index_suffix: Option<String>,
    pub error_key: Option<String>,
    pub redirect_all: Option<Redirect>,
    pub routing_rules: Vec<RoutingRule>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Redirect {
    pub host_name: Option<String>,
    pub protocol: Option<String>,
    pub replace_key_prefix_with: Option<String>,
    pub replace_key_with: Option<String>,
    pub http_redirect_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoutingRule {
    pub key_prefix_equals: Option<String>,
    pub error_code_equals: Option<String>,
    pub redirect: Redirect,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WebsiteConfiguration {
    index_document: Option<IndexDocument>,
    error_document: Option<ErrorDocument>,
    redirect_all_requests_to: Option<RedirectXml>,
    routing_rules: Option<RoutingRulesXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDocument {
    suffix: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument {
    key: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RedirectXml {
    host_name: Option<String>,
    protocol: Option<String>,
    replace_key_prefix_with: Option<String>,
    replace_key_with: Option<String>,
    http_redirect_code: Option<String>,
}

impl From<RedirectXml> for Redirect {
    fn from(xml: RedirectXml) -> Self {
        Redirect {
            host_name: xml.host_name,
            protocol: xml.protocol,
            replace_key_prefix_with: xml.replace_key_prefix_with,
            replace_key_with: xml.replace_key_with,
            http_redirect_code: xml.http_redirect_code,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RoutingRulesXml {
    #[serde(rename = "RoutingRule", default)]
    rules: Vec<RoutingRuleXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoutingRuleXml {
    condition: Option<ConditionXml>,
    redirect: RedirectXml,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConditionXml {
    key_prefix_equals: Option<String>,
    http_error_code_returned_equals: Option<String>,
}

pub async fn put(s3: &S3, call: &mut super::Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: WebsiteConfiguration = xml::parse(&body)?;
    let website = Website {
        index_suffix: configuration.index_document.map(|index| index.suffix),
        error_key: configuration.error_document.map(|error| error.key),
        redirect_all: configuration.redirect_all_requests_to.map(Redirect::from),
        routing_rules: configuration
            .routing_rules
            .map(|rules| rules.rules)
            .unwrap_or_default()
            .into_iter()
            .map(|rule| RoutingRule {
                key_prefix_equals: rule.condition.as_ref().and_then(|condition| condition.key_prefix_equals.clone()),
                error_code_equals: rule.condition.and_then(|condition| condition.http_error_code_returned_equals),
                redirect: rule.redirect.into(),
            })
            .collect(),
    };
    match (&website.redirect_all, &website.index_suffix) {
        (Some(redirect), _) if redirect.host_name.is_none() => return Err(xml::malformed().into()),
        (Some(_), _) => {}
        (None, None) => {
            return Err(errors::invalid_argument(
                "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
                "IndexDocument",
                "",
            )
            .into());
        }
        (None, Some(suffix)) if suffix.is_empty() || suffix.contains('/') => {
            return Err(errors::invalid_argument(
                "The IndexDocument Suffix is not well formed",
                "IndexDocument",
                suffix,
            )
            .into());
        }
        (None, Some(_)) => {}
    }
    update(s3, &bucket.name, |stored| stored.website = Some(website.clone())).await?;
    Ok(HttpResponse::Ok().finish())
}

fn redirect_xml(xml: &mut Xml, redirect: &Redirect) {
    xml.optional("HostName", redirect.host_name.as_deref())
        .optional("HttpRedirectCode", redirect.http_redirect_code.as_deref())
        .optional("Protocol", redirect.protocol.as_deref())
        .optional("ReplaceKeyPrefixWith", redirect.replace_key_prefix_with.as_deref())
        .optional("ReplaceKeyWith", redirect.replace_key_with.as_deref());
}

pub fn get(bucket: &Bucket) -> S3Result<HttpResponse> {
    let Some(website) = &bucket.website else { return Err(no_website(&bucket.name).into()) };
    let mut xml = Xml::document("WebsiteConfiguration");
    if let Some(redirect) = &website.redirect_all {
        xml.open("RedirectAllRequestsTo");
        redirect_xml(&mut xml, redirect);
        xml.close();
    }
    if let Some(suffix) = &website.index_suffix {
        xml.open("IndexDocument").element("Suffix", suffix).close();
    }
    if let Some(key) = &website.error_key {
        xml.open("ErrorDocument").element("Key", key).close();
    }
    if !website.routing_rules.is_empty() {
        xml.open("RoutingRules");
        for rule in &website.routing_rules {
            xml.open("RoutingRule");
            if rule.key_prefix_equals.is_some() || rule.error_code_equals.is_some() {
                xml.open("Condition")
                    .optional("HttpErrorCodeReturnedEquals", rule.error_code_equals.as_deref())
                    .optional("KeyPrefixEquals", rule.key_prefix_equals.as_deref())
                    .close();
            }
            xml.open("Redirect");
            redirect_xml(&mut xml, &rule.redirect);
            xml.close().close();
        }
        xml.close();
    }
    Ok(xml_response(xml))
}

pub async fn delete(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.website = None).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn no_website(bucket: &str) -> AwsError {
    AwsError::new(404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration")
        .with("BucketName", bucket)
}

/// The bucket a website endpoint's `Host` names.
pub fn website_bucket(host: &str) -> Option<String> {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    let name = name.strip_suffix(".localhost")?;
    // `{bucket}.s3-website`, `{bucket}.s3-website-{region}`, `{bucket}.s3-website.{region}`.
    let at = name.rfind(".s3-website")?;
    let bucket = &name[..at];
    let rest = &name[at + ".s3-website".len()..];
    let well_formed = rest.is_empty()
        || rest.strip_prefix('-').or_else(|| rest.strip_prefix('.')).is_some_and(|region| {
            !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    (!bucket.is_empty() && well_formed).then(|| bucket.to_owned())
}

/// An error page as the website endpoint renders one.
fn error_page(status: u16, code: &str, message: &str, extra: &[(&str, &str)]) -> HttpResponse {
    let title =
        format!("{status} {}", StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""));
    let mut items = format!("<li>Code: {}</li>\n<li>Message: {}</li>\n", escape(code), escape(message));
    for (name, value) in extra {
        items.push_str(&format!("<li>{}: {}</li>\n", escape(name), escape(value)));
    }
    items.push_str(&format!("<li>RequestId: {}</li>\n", nubo_host::front::request_id()));
    let body = format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{items}</ul>\n<hr/>\n</body>\n</html>\n"
    );
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// Where a redirect sends a request for `key`.
fn redirect_response(
    request: &HttpRequest,
    redirect: &Redirect,
    key: &str,
    matched_prefix: Option<&str>,
) -> HttpResponse {
    let info = request.connection_info();
    let protocol = redirect.protocol.clone().unwrap_or_else(|| info.scheme().to_owned());
    let host = redirect.host_name.clone().unwrap_or_else(|| info.host().to_owned());
    let new_key = match (&redirect.replace_key_with, &redirect.replace_key_prefix_with, matched_prefix) {
        (Some(replacement), _, _) => replacement.clone(),
        (None, Some(replacement), Some(prefix)) => format!("{replacement}{}", key.strip_prefix(prefix).unwrap_or(key)),
        _ => key.to_owned(),
    };
    let code = redirect.http_redirect_code.as_deref().and_then(|code| code.parse::<u16>().ok()).unwrap_or(301);
    HttpResponse::build(StatusCode::from_u16(code).unwrap_or(StatusCode::MOVED_PERMANENTLY))
        .insert_header(("Location", format!("{protocol}://{host}/{}", nubo_host::sigv4::uri_encode(&new_key, false))))
        .finish()
}

/// Serves a website request for `bucket`.
pub async fn serve(s3: &S3, request: &HttpRequest, bucket_name: &str) -> S3Result<HttpResponse> {
    serve_path(s3, request, bucket_name, request.uri().path(), "").await
}

/// The website endpoint's own listener: a bucket named by the `Host`
/// (`{bucket}.s3-website.localhost:9080`), or, for clients without DNS,
/// by the path's first segment (`http://127.0.0.1:9080/{bucket}/`),
/// where redirects keep that prefix.
pub fn routes(routes: &mut actix_web::web::ServiceConfig, s3: S3) {
    routes.app_data(actix_web::web::Data::new(s3)).default_service(actix_web::web::to(endpoint));
}

async fn endpoint(request: HttpRequest, s3: actix_web::web::Data<S3>) -> HttpResponse {
    let host = request.headers().get("host").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let served = match website_bucket(host) {
        Some(bucket) => serve_path(&s3, &request, &bucket, request.uri().path(), "").await,
        None => {
            let path = request.uri().path().trim_start_matches('/');
            let (bucket, rest) = path.split_once('/').map_or((path, None), |(bucket, rest)| (bucket, Some(rest)));
            match rest {
                _ if bucket.is_empty() => {
                    Ok(error_page(404, "NoSuchBucket", "The specified bucket does not exist", &[]))
                }
                // `/{bucket}`: the site's root is `/{bucket}/`.
                None => Ok(HttpResponse::Found().insert_header(("Location", format!("/{bucket}/"))).finish()),
                Some(rest) => {
                    let base = format!("/{bucket}");
                    let bucket = percent_decode(bucket);
                    serve_path(&s3, &request, &bucket, &format!("/{rest}"), &base).await
                }
            }
        }
    };
    served.unwrap_or_else(|error| error_page(500, "InternalError", &error.0.message, &[]))
}

fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&nubo_host::sigv4::percent_decode_bytes(text.as_bytes())).into_owned()
}

/// Serves `raw_path` of `bucket_name`'s website; `base` is what the
/// request's path has before it (a path-based bucket), kept in redirects.
async fn serve_path(
    s3: &S3,
    request: &HttpRequest,
    bucket_name: &str,
    raw_path: &str,
    base: &str,
) -> S3Result<HttpResponse> {
    nubo_host::front::name_operation(request, "WebsiteGet");
    let method = request.method().as_str();
    if method != "GET" && method != "HEAD" {
        return Ok(error_page(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            &[("Method", method), ("ResourceType", "OBJECT")],
        ));
    }
    let Some(bucket) = s3.catalog.bucket(bucket_name).await? else {
        return Ok(error_page(
            404,
            "NoSuchBucket",
            "The specified bucket does not exist",
            &[("BucketName", bucket_name)],
        ));
    };
    let Some(website) = bucket.website.clone() else {
        let error = no_website(bucket_name);
        return Ok(error_page(404, &error.code, &error.message, &[("BucketName", bucket_name)]));
    };
    let decoded = percent_decode(raw_path);
    let key = decoded.strip_prefix('/').unwrap_or(&decoded).to_owned();
    if let Some(redirect) = &website.redirect_all {
        return Ok(redirect_response(request, redirect, &key, None));
    }
    let index = website.index_suffix.clone().unwrap_or_else(|| "index.html".into());
    let wanted = if key.is_empty() || key.ends_with('/') { format!("{key}{index}") } else { key.clone() };
    for rule in &website.routing_rules {
        if rule.error_code_equals.is_none()
            && let Some(prefix) = &rule.key_prefix_equals
            && key.starts_with(prefix.as_str())
        {
            return Ok(redirect_response(request, &rule.redirect, &key, Some(prefix)));
        }
    }
    let head_only = method == "HEAD";
    match lookup(s3, &bucket, &wanted).await? {
        Found::Object(version) => {
            if let Some(location) = &version.headers.website_redirect {
                return Ok(HttpResponse::MovedPermanently().insert_header(("Location", location.as_str())).finish());
            }
            Ok(object_response(s3, &version, StatusCode::OK, head_only))
        }
        found => {
            // `/dir` where `dir/index.html` exists: add the slash.
            if !key.is_empty()
                && !key.ends_with('/')
                && matches!(lookup(s3, &bucket, &format!("{key}/{index}")).await?, Found::Object(_))
            {
                return Ok(HttpResponse::Found().insert_header(("Location", format!("{base}{raw_path}/"))).finish());
            }
            let (status, code, message) = match found {
                Found::Denied => (403, "AccessDenied", "Access Denied"),
                _ => (404, "NoSuchKey", "The specified key does not exist."),
            };
            for rule in &website.routing_rules {
                if rule.error_code_equals.as_deref() == Some(&status.to_string())
                    && rule.key_prefix_equals.as_ref().is_none_or(|prefix| key.starts_with(prefix.as_str()))
                {
                    return Ok(redirect_response(request, &rule.redirect, &key, rule.key_prefix_equals.as_deref()));
                }
            }
            if let Some(error_key) = &website.error_key
                && let Found::Object(document) = lookup(s3, &bucket, error_key).await?
            {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
                return Ok(object_response(s3, &document, status, head_only));
            }
            Ok(error_page(status, code, message, &[("Key", &wanted)]))
        }
    }
}

enum Found {
    Object(Box<Version>),
    Missing,
    Denied,
}

/// An object of the website as an anonymous reader may see it.
async fn lookup(s3: &S3, bucket: &Bucket, key: &str) -> S3Result<Found> {
    let request = access::Request {
        principal: None,
        owner: None,
        action: "s3:GetObject",
        resource: format!("arn:aws:s3:::{}/{key}", bucket.name),
        secure_transport: false,
        prefix: None,
    };
    let granted = access::evaluate(bucket, &request);
    if granted == access::Access::Denied {
        return Ok(Found::Denied);
    }
    let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), key).await?;
    let Some(version) = stored.and_then(|stored| stored.value.current().cloned()) else {
        // Without s3:ListBucket, a missing key reads as denied, as in S3.
        let may_list = access::evaluate(
            bucket,
            &access::Request { action: "s3:ListBucket", resource: format!("arn:aws:s3:::{}", bucket.name), ..request },
        );
        return Ok(if may_list == access::Access::Allowed { Found::Missing } else { Found::Denied });
    };
    if granted == access::Access::Allowed || access::object_acl_allows(bucket, version.acl.as_deref(), &request) {
        Ok(Found::Object(Box::new(version)))
    } else {
        Ok(Found::Denied)
    }
}

fn object_response(s3: &S3, version: &Version, status: StatusCode, head_only: bool) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header(("ETag", version.etag.as_str()))
        .insert_header(("Last-Modified", xml::http_date(version.last_modified_unix_ms)))
        .content_type(version.headers.content_type.clone().unwrap_or_else(|| "binary/octet-stream".into()));
    for (name, value) in [
        ("Cache-Control", &version.headers.cache_control),
        ("Content-Encoding", &version.headers.content_encoding),
        ("Content-Disposition", &version.headers.content_disposition),
        ("Content-Language", &version.headers.content_language),
        ("Expires", &version.headers.expires),
    ] {
        if let Some(value) = value {
            response.insert_header((name, value.as_str()));
        }
    }
    if head_only {
        return response.body(actix_web::body::SizedStream::new(
            version.size,
            futures::stream::empty::<Result<Bytes, crate::blobs::BlobError>>(),
        ));
    }
    response
        .body(actix_web::body::SizedStream::new(version.size, read_segments(s3, &version.segments, 0..version.size)))
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<WebsiteConfiguration>(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_hosts_name_their_bucket() {
        assert_eq!(website_bucket("site.s3-website.localhost:9000").as_deref(), Some("site"));
        assert_eq!(website_bucket("my.site.s3-website-us-east-1.localhost").as_deref(), Some("my.site"));
        assert_eq!(website_bucket("site.s3-website.eu-west-1.localhost").as_deref(), Some("site"));
        assert_eq!(website_bucket("site.s3.localhost"), None);
        assert_eq!(website_bucket("s3-website.localhost"), None);
    }
}
