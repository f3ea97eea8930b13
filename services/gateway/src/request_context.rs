//! The `$context` variables of one user-API request, as access log formats
//! and parameter mappings name them (`$context.requestId`,
//! `$context.identity.sourceIp`, `$context.integrationLatency`, ...).

/// What is known of a request, filled in as it is served.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub account_id: String,
    pub api_id: String,
    pub stage: String,
    pub domain_name: String,
    pub http_method: String,
    /// The path as the client sent it, stage included.
    pub path: String,
    pub protocol: String,
    pub route_key: String,
    pub source_ip: String,
    pub user_agent: String,
    pub request_time: chrono::DateTime<chrono::Utc>,
    /// The status sent to the client.
    pub status: u16,
    pub response_length: usize,
    pub response_latency_ms: u64,
    /// The integration's own status and latency, when it answered.
    pub integration_status: Option<u16>,
    pub integration_latency_ms: Option<u64>,
    pub integration_error: String,
    /// The gateway's own error message (`Not Found`, `Too Many Requests`).
    pub error_message: String,
    /// The request's `Origin`, for CORS (no `$context` variable).
    pub origin: Option<String>,
}

impl RequestContext {
    /// The value of `$context.{name}`, or `None` when it has none.
    pub fn get(&self, name: &str) -> Option<String> {
        let text = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        match name {
            "requestId" | "extendedRequestId" => text(&self.request_id),
            "accountId" => text(&self.account_id),
            "apiId" => text(&self.api_id),
            "stage" => text(&self.stage),
            "domainName" => text(&self.domain_name),
            "domainPrefix" => self.domain_name.split('.').next().and_then(text),
            "httpMethod" => text(&self.http_method),
            "path" => text(&self.path),
            "protocol" => text(&self.protocol),
            "routeKey" => text(&self.route_key),
            "identity.sourceIp" => text(&self.source_ip),
            "identity.userAgent" => text(&self.user_agent),
            "requestTime" => Some(self.request_time.format("%d/%b/%Y:%H:%M:%S +0000").to_string()),
            "requestTimeEpoch" => Some(self.request_time.timestamp_millis().to_string()),
            "status" => (self.status != 0).then(|| self.status.to_string()),
            "responseLength" => Some(self.response_length.to_string()),
            "responseLatency" => Some(self.response_latency_ms.to_string()),
            "integrationStatus" | "integration.status" | "integration.integrationStatus" => {
                self.integration_status.map(|status| status.to_string())
            }
            "integrationLatency" | "integration.latency" => self.integration_latency_ms.map(|ms| ms.to_string()),
            "integrationErrorMessage" | "integration.error" => text(&self.integration_error),
            "error.message" => text(&self.error_message),
            "error.messageString" => (!self.error_message.is_empty()).then(|| format!("\"{}\"", self.error_message)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_read_what_is_known() {
        let context = RequestContext {
            request_id: "rid".into(),
            domain_name: "abc.execute-api.localhost".into(),
            status: 200,
            integration_status: Some(201),
            ..RequestContext::default()
        };
        assert_eq!(context.get("requestId").as_deref(), Some("rid"));
        assert_eq!(context.get("domainPrefix").as_deref(), Some("abc"));
        assert_eq!(context.get("status").as_deref(), Some("200"));
        assert_eq!(context.get("integration.status").as_deref(), Some("201"));
        assert_eq!(context.get("integrationLatency"), None);
        assert_eq!(context.get("nonsense"), None);
    }
}
