//! Bucket CORS: the rules (Put/Get/DeleteBucketCors), the preflight
//! `OPTIONS` answered from them, and the headers added to actual
//! responses whose `Origin` a rule allows.

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{HeaderName, HeaderValue},
};
use serde::{Deserialize, Serialize};

use super::{
    Call, S3,
    access::glob,
    buckets::{update, xml_response},
    errors::{self, S3Result},
    xml::{self, Xml},
};
use crate::catalog::Bucket;
use nubo_host::front::AwsError;

const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct CorsConfiguration {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<CorsRuleXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CorsRuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    max_age_seconds: Option<u32>,
}

pub async fn put(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: CorsConfiguration = xml::parse(&body)?;
    if configuration.rules.is_empty() || configuration.rules.len() > 100 {
        return Err(xml::malformed().into());
    }
    let mut rules = Vec::with_capacity(configuration.rules.len());
    for rule in configuration.rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err(xml::malformed().into());
        }
        if let Some(method) = rule.allowed_methods.iter().find(|method| !METHODS.contains(&method.as_str())) {
            return Err(errors::invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
            ))
            .into());
        }
        for origin in &rule.allowed_origins {
            if origin.matches('*').count() > 1 {
                return Err(errors::invalid_request(format!(
                    "AllowedOrigin \"{origin}\" can not have more than one wildcard."
                ))
                .into());
            }
        }
        rules.push(CorsRule {
            id: rule.id,
            allowed_origins: rule.allowed_origins,
            allowed_methods: rule.allowed_methods,
            allowed_headers: rule.allowed_headers,
            expose_headers: rule.expose_headers,
            max_age_seconds: rule.max_age_seconds,
        });
    }
    update(s3, &bucket.name, |stored| stored.cors = Some(rules.clone())).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn get(bucket: &Bucket) -> S3Result<HttpResponse> {
    let Some(rules) = &bucket.cors else {
        return Err(AwsError::new(404, "NoSuchCORSConfiguration", "The CORS configuration does not exist")
            .with("BucketName", bucket.name.as_str())
            .into());
    };
    let mut xml = Xml::document("CORSConfiguration");
    for rule in rules {
        xml.open("CORSRule");
        xml.optional("ID", rule.id.as_deref());
        for header in &rule.allowed_headers {
            xml.element("AllowedHeader", header);
        }
        for method in &rule.allowed_methods {
            xml.element("AllowedMethod", method);
        }
        for origin in &rule.allowed_origins {
            xml.element("AllowedOrigin", origin);
        }
        for header in &rule.expose_headers {
            xml.element("ExposeHeader", header);
        }
        if let Some(age) = rule.max_age_seconds {
            xml.element("MaxAgeSeconds", &age.to_string());
        }
        xml.close();
    }
    Ok(xml_response(xml))
}

pub async fn delete(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.cors = None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The first rule that allows `origin` to use `method` with `headers`.
fn matching<'a>(rules: &'a [CorsRule], origin: &str, method: &str, headers: &[String]) -> Option<&'a CorsRule> {
    rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|allowed| glob(allowed, origin))
            && rule.allowed_methods.iter().any(|allowed| allowed == method)
            && headers.iter().all(|header| {
                rule.allowed_headers
                    .iter()
                    .any(|allowed| glob(&allowed.to_ascii_lowercase(), &header.to_ascii_lowercase()))
            })
    })
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

fn insert(response: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(HeaderName::from_static(name), value);
    }
}

/// The CORS headers a matching rule gives a response.
fn allow(response: &mut HttpResponse, rule: &CorsRule, origin: &str) {
    let any = rule.allowed_origins.iter().any(|allowed| allowed == "*");
    insert(response, "access-control-allow-origin", if any { "*" } else { origin });
    insert(response, "access-control-allow-methods", &rule.allowed_methods.join(", "));
    if !any {
        insert(response, "access-control-allow-credentials", "true");
    }
    if !rule.expose_headers.is_empty() {
        insert(response, "access-control-expose-headers", &rule.expose_headers.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        insert(response, "access-control-max-age", &age.to_string());
    }
    insert(response, "vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
}

fn forbidden(message: &str) -> AwsError {
    AwsError::new(403, "AccessForbidden", message)
}

/// Answers a preflight `OPTIONS` from the bucket's rules, as S3 does
/// (unsigned: browsers never sign one).
pub async fn preflight(s3: &S3, request: &HttpRequest, bucket: &str) -> S3Result<HttpResponse> {
    let Some(origin) = header(request, "origin") else {
        return Err(AwsError::new(400, "BadRequest", "Insufficient information. Origin request header needed.").into());
    };
    let Some(method) = header(request, "access-control-request-method") else {
        return Err(AwsError::new(400, "BadRequest", "Invalid Access-Control-Request-Method: null").into());
    };
    let stored = s3.catalog.bucket(bucket).await?.ok_or_else(|| errors::no_such_bucket(bucket))?;
    let Some(rules) = &stored.cors else {
        return Err(forbidden("CORSResponse: CORS is not enabled for this bucket.")
            .with("Method", method.as_str())
            .into());
    };
    let headers: Vec<String> = header(request, "access-control-request-headers")
        .map(|list| list.split(',').map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()).collect())
        .unwrap_or_default();
    let Some(rule) = matching(rules, &origin, &method, &headers) else {
        return Err(forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
        .with("Method", method.as_str())
        .with("ResourceType", "OBJECT")
        .into());
    };
    let mut response = HttpResponse::Ok().finish();
    allow(&mut response, rule, &origin);
    if !headers.is_empty() {
        insert(&mut response, "access-control-allow-headers", &headers.join(", "));
    }
    Ok(response)
}

/// Adds the CORS headers to an actual response whose `Origin` and method
/// a rule of the bucket allows.
pub fn decorate(bucket: &Bucket, request: &HttpRequest, response: &mut HttpResponse) {
    let (Some(rules), Some(origin)) = (&bucket.cors, header(request, "origin")) else { return };
    if let Some(rule) = matching(rules, &origin, request.method().as_str(), &[]) {
        allow(response, rule, &origin);
    }
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<CorsConfiguration>(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_origin_method_and_headers() {
        let rules = vec![CorsRule {
            id: None,
            allowed_origins: vec!["https://*.example.com".into()],
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_headers: vec!["*".into()],
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(300),
        }];
        assert!(matching(&rules, "https://app.example.com", "PUT", &["content-type".into()]).is_some());
        assert!(matching(&rules, "https://evil.test", "PUT", &[]).is_none());
        assert!(matching(&rules, "https://app.example.com", "DELETE", &[]).is_none());
    }
}
