//! Health checks: CreateHealthCheck, GetHealthCheck, ListHealthChecks,
//! GetHealthCheckCount, GetHealthCheckStatus, DeleteHealthCheck.

use actix_web::{HttpResponse, http::StatusCode};
use nubo_host::front::AwsError;
use serde::Deserialize;

use super::{Call, errors::Failure, errors::Result, invalid, max_items, ok, reply, xml, xml::Xml};
use crate::health::{HealthCheck, HealthCheckConfig, HealthChecks, HealthError};

/// Route 53's page of health checks.
const PAGE: u32 = 100;

impl From<HealthError> for Failure {
    fn from(error: HealthError) -> Self {
        let message = error.to_string();
        match error {
            HealthError::NoSuchHealthCheck(_) => Failure::Aws(AwsError::new(404, "NoSuchHealthCheck", message)),
            HealthError::InvalidInput(_) => Failure::Aws(AwsError::new(400, "InvalidInput", message)),
            HealthError::HealthCheckAlreadyExists(_) | HealthError::CallerReferenceDeleted(_) => {
                Failure::Aws(AwsError::new(409, "HealthCheckAlreadyExists", message))
            }
            HealthError::TooManyHealthChecks => Failure::Aws(AwsError::new(400, "TooManyHealthChecks", message)),
            // Route 53's name for "a request on this is still in flight";
            // the SDKs retry it.
            HealthError::Conflict(_) => Failure::Aws(AwsError::new(400, "PriorRequestNotComplete", message)),
            HealthError::Remote(remote) => crate::store::StoreError::Remote(remote).into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateHealthCheckRequest {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "CallerReference")]
    caller_reference: Option<String>,
    #[serde(rename = "HealthCheckConfig")]
    config: Option<ConfigInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigInput {
    #[serde(rename = "IPAddress")]
    ip_address: Option<String>,
    #[serde(rename = "Port")]
    port: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "ResourcePath")]
    resource_path: Option<String>,
    #[serde(rename = "FullyQualifiedDomainName")]
    fqdn: Option<String>,
    #[serde(rename = "SearchString")]
    search_string: Option<String>,
    #[serde(rename = "RequestInterval")]
    request_interval: Option<String>,
    #[serde(rename = "FailureThreshold")]
    failure_threshold: Option<String>,
    #[serde(rename = "MeasureLatency")]
    measure_latency: Option<String>,
    #[serde(rename = "Inverted")]
    inverted: Option<String>,
    #[serde(rename = "Disabled")]
    disabled: Option<String>,
    /// Kept and reported back; nubo's checker connects by address.
    #[serde(rename = "EnableSNI")]
    enable_sni: Option<String>,
    /// Accepted: a nubo replica is its only checker region.
    #[serde(rename = "Regions")]
    _regions: Option<Regions>,
}

#[derive(Debug, Deserialize)]
struct Regions {
    #[serde(rename = "Region", default)]
    _region: Vec<String>,
}

fn number<T: std::str::FromStr>(name: &str, given: Option<&str>, default: T) -> Result<T> {
    match given {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| invalid(format!("Invalid value for {name}: '{text}'"))),
    }
}

fn flag(name: &str, given: Option<&str>) -> Result<bool> {
    Ok(optional_flag(name, given)?.unwrap_or(false))
}

fn optional_flag(name: &str, given: Option<&str>) -> Result<Option<bool>> {
    match given.map(str::trim) {
        None => Ok(None),
        Some("false") => Ok(Some(false)),
        Some("true") => Ok(Some(true)),
        Some(other) => Err(invalid(format!("Invalid value for {name}: '{other}'"))),
    }
}

fn parse_create(body: &[u8]) -> Result<(String, HealthCheckConfig)> {
    let request: CreateHealthCheckRequest = xml::parse(body, "CreateHealthCheckRequest")?;
    let caller_reference =
        request.caller_reference.ok_or_else(|| xml::missing("CreateHealthCheckRequest", "CallerReference"))?;
    let given = request.config.ok_or_else(|| xml::missing("CreateHealthCheckRequest", "HealthCheckConfig"))?;
    let kind = given.kind.ok_or_else(|| xml::missing("HealthCheckConfig", "Type"))?;
    let config = HealthCheckConfig {
        kind: kind.trim().to_owned(),
        ip_address: given.ip_address.map(|address| address.trim().to_owned()),
        port: given.port.as_deref().map(|port| number("Port", Some(port), 0u16)).transpose()?,
        resource_path: given.resource_path,
        fqdn: given.fqdn.map(|name| name.trim().trim_end_matches('.').to_owned()),
        search_string: given.search_string,
        request_interval: number("RequestInterval", given.request_interval.as_deref(), 30)?,
        failure_threshold: number("FailureThreshold", given.failure_threshold.as_deref(), 3)?,
        inverted: flag("Inverted", given.inverted.as_deref())?,
        disabled: flag("Disabled", given.disabled.as_deref())?,
        measure_latency: flag("MeasureLatency", given.measure_latency.as_deref())?,
        enable_sni: optional_flag("EnableSNI", given.enable_sni.as_deref())?,
    };
    Ok((caller_reference, config))
}

fn render_check(xml: &mut Xml, check: &HealthCheck) {
    let config = &check.config;
    xml.open("HealthCheck");
    xml.element("Id", &check.id).element("CallerReference", &check.caller_reference);
    xml.open("HealthCheckConfig");
    xml.optional("IPAddress", config.ip_address.as_deref());
    if let Some(port) = config.port {
        xml.element("Port", &port.to_string());
    }
    xml.element("Type", &config.kind);
    xml.optional("ResourcePath", config.resource_path.as_deref());
    xml.optional("FullyQualifiedDomainName", config.fqdn.as_deref());
    xml.optional("SearchString", config.search_string.as_deref());
    xml.element("RequestInterval", &config.request_interval.to_string());
    xml.element("FailureThreshold", &config.failure_threshold.to_string());
    xml.boolean("MeasureLatency", config.measure_latency);
    xml.boolean("Inverted", config.inverted);
    xml.boolean("Disabled", config.disabled);
    xml.boolean("EnableSNI", config.sni());
    xml.close();
    xml.element("HealthCheckVersion", &check.version.to_string());
    xml.close();
}

pub async fn create(checks: &HealthChecks, call: &Call<'_>) -> Result<HttpResponse> {
    let (caller_reference, config) = parse_create(call.body)?;
    let (check, created) = checks.create(&caller_reference, config).await?;
    let mut xml = Xml::document("CreateHealthCheckResponse");
    render_check(&mut xml, &check);
    // Route 53 answers a repeated request (same reference, same config)
    // with the check it made, as 201 again.
    let _ = created;
    let info = call.request.connection_info();
    let location = format!("{}://{}/2013-04-01/healthcheck/{}", info.scheme(), info.host(), check.id);
    let mut response = reply(StatusCode::CREATED, xml);
    if let Ok(location) = actix_web::http::header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(actix_web::http::header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get(checks: &HealthChecks, id: &str) -> Result<HttpResponse> {
    let check = checks.get(id).await?;
    let mut xml = Xml::document("GetHealthCheckResponse");
    render_check(&mut xml, &check);
    ok(xml)
}

pub async fn list(checks: &HealthChecks, call: &Call<'_>) -> Result<HttpResponse> {
    let (max_text, max) = max_items(call, PAGE)?;
    let marker = call.parameter("marker").unwrap_or_default().to_owned();
    let mut all = checks.list().await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let start = all.iter().position(|check| check.id.as_str() >= marker.as_str()).unwrap_or(all.len());
    let page: Vec<&HealthCheck> = all[start..].iter().take(max).collect();
    let next = all.get(start + max).map(|check| check.id.clone());
    let mut xml = Xml::document("ListHealthChecksResponse");
    xml.open("HealthChecks");
    for check in page {
        render_check(&mut xml, check);
    }
    xml.close();
    xml.element("Marker", &marker);
    xml.boolean("IsTruncated", next.is_some());
    xml.optional("NextMarker", next.as_deref());
    xml.element("MaxItems", &max_text);
    ok(xml)
}

pub async fn count(checks: &HealthChecks) -> Result<HttpResponse> {
    let count = checks.count().await?;
    let mut xml = Xml::document("GetHealthCheckCountResponse");
    xml.element("HealthCheckCount", &count.to_string());
    ok(xml)
}

/// GetHealthCheckStatus: this replica is the one checker, so one
/// observation, once it has probed.
pub async fn status(checks: &HealthChecks, id: &str) -> Result<HttpResponse> {
    let check = checks.get(id).await?;
    let mut xml = Xml::document("GetHealthCheckStatusResponse");
    xml.open("HealthCheckObservations");
    if let Some(observation) = checks.checker().observation(&check.id) {
        xml.open("HealthCheckObservation");
        xml.element("Region", "us-east-1").element("IPAddress", &observation.ip_address);
        xml.open("StatusReport");
        xml.element("Status", &observation.status).element("CheckedTime", &xml::timestamp(&observation.checked_at));
        xml.close();
        xml.close();
    }
    xml.close();
    ok(xml)
}

pub async fn delete(checks: &HealthChecks, id: &str) -> Result<HttpResponse> {
    checks.delete(id).await?;
    ok(Xml::document("DeleteHealthCheckResponse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_request_reads_route53s_config() {
        let body = format!(
            "<CreateHealthCheckRequest xmlns=\"{}\"><CallerReference>r1</CallerReference><HealthCheckConfig>\
             <IPAddress>127.0.0.1</IPAddress><Port>8080</Port><Type>HTTP</Type><ResourcePath>/health</ResourcePath>\
             <RequestInterval>10</RequestInterval><FailureThreshold>1</FailureThreshold></HealthCheckConfig>\
             </CreateHealthCheckRequest>",
            xml::NAMESPACE
        );
        let (reference, config) = parse_create(body.as_bytes()).unwrap();
        assert_eq!(reference, "r1");
        assert_eq!((config.port, config.request_interval, config.failure_threshold), (Some(8080), 10, 1));
        assert!(config.validate().is_ok());
        let missing = b"<CreateHealthCheckRequest><CallerReference>r</CallerReference></CreateHealthCheckRequest>";
        assert!(parse_create(missing).is_err());
        let bad = b"<CreateHealthCheckRequest><CallerReference>r</CallerReference><HealthCheckConfig><Type>HTTP</Type>\
                    <Port>eighty</Port></HealthCheckConfig></CreateHealthCheckRequest>";
        assert!(parse_create(bad).is_err());
    }
}
