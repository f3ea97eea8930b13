//! Route 53 health checks: their definitions as data records, and the
//! checker every dns replica runs.
//!
//! Route 53 probes from many regions and calls a target healthy while more
//! than 18% of its checkers see it so. A nubo replica is one checker: it
//! probes every health check itself at the check's interval (HTTP, HTTPS
//! and their string-matching forms, TCP), applies the failure threshold
//! (that many consecutive failures make a healthy target unhealthy, that
//! many successes the reverse), and hands the result to its authority,
//! which answers failover and multivalue record sets with it. Replicas
//! judge alone; for targets every replica reaches alike that is the same
//! verdict, give or take one interval.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use nubo_proto::{RemoteError, clients::RecordsClient};
use serde::{Deserialize, Serialize};

use crate::authority::Authority;

/// Namespace of health checks, keyed by id.
pub const HEALTH_CHECKS: &str = "dns.health.v1";
/// Namespace mapping a CreateHealthCheck `CallerReference` to its id.
pub const HEALTH_CALLERS: &str = "dns.health-callers.v1";

/// How long a probe may take: Route 53 gives a target four seconds to
/// accept the connection and two more to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the checker rereads the list of health checks.
const RELOAD_EVERY: Duration = Duration::from_secs(2);
/// Route 53 reads at most the first 5,120 bytes of a body for a string match.
const SEARCH_WINDOW: usize = 5120;

/// A health check as CreateHealthCheck made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub id: String,
    pub caller_reference: String,
    pub config: HealthCheckConfig,
    /// Starts at 1; UpdateHealthCheck would raise it.
    pub version: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<crate::model::Tag>,
}

/// Route 53's `HealthCheckConfig`, the members nubo acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    /// `HTTP`, `HTTPS`, `HTTP_STR_MATCH`, `HTTPS_STR_MATCH` or `TCP`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_string: Option<String>,
    /// Seconds between probes: 10 or 30.
    pub request_interval: u32,
    /// Consecutive results that change the status: 1 to 10.
    pub failure_threshold: u32,
    #[serde(default)]
    pub inverted: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub measure_latency: bool,
}

impl HealthCheckConfig {
    /// Checks the config as CreateHealthCheck does; the message is its
    /// `InvalidInput`.
    pub fn validate(&self) -> Result<(), String> {
        let kinds = ["HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"];
        if !kinds.contains(&self.kind.as_str()) {
            return Err(format!("Health check type {} is not supported; nubo runs {}", self.kind, kinds.join(", ")));
        }
        if self.ip_address.is_none() && self.fqdn.is_none() {
            return Err("Either IPAddress or FullyQualifiedDomainName must be specified".into());
        }
        if let Some(address) = &self.ip_address
            && address.parse::<std::net::IpAddr>().is_err()
        {
            return Err(format!("Invalid IP address: {address}"));
        }
        if self.kind == "TCP" && self.port.is_none() {
            return Err("Port is required for TCP health checks".into());
        }
        if self.kind.ends_with("_STR_MATCH") && self.search_string.as_deref().is_none_or(str::is_empty) {
            return Err("SearchString is required for string matching health checks".into());
        }
        if self.search_string.as_ref().is_some_and(|search| search.len() > 255) {
            return Err("SearchString must be at most 255 characters".into());
        }
        if ![10, 30].contains(&self.request_interval) {
            return Err("RequestInterval must be 10 or 30".into());
        }
        if !(1..=10).contains(&self.failure_threshold) {
            return Err("FailureThreshold must be between 1 and 10".into());
        }
        if self.resource_path.as_ref().is_some_and(|path| path.len() > 255) {
            return Err("ResourcePath must be at most 255 characters".into());
        }
        Ok(())
    }

    pub fn tls(&self) -> bool {
        self.kind.starts_with("HTTPS")
    }

    fn default_port(&self) -> u16 {
        self.port.unwrap_or(if self.tls() { 443 } else { 80 })
    }
}

/// What the last probe of a check saw, for GetHealthCheckStatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub ip_address: String,
    /// Route 53's wording: `Success: HTTP Status Code 200, OK`,
    /// `Failure: Connection refused`.
    pub status: String,
    /// RFC 3339.
    pub checked_at: String,
}

/// A check's running state on this replica.
#[derive(Debug, Clone)]
struct Tracked {
    check: HealthCheck,
    healthy: bool,
    /// Consecutive probe results against the current status.
    streak: u32,
    next_probe: Instant,
    observation: Option<Observation>,
}

/// The checker: health checks probed on their schedule, their verdicts
/// handed to the authority.
#[derive(Clone)]
pub struct Checker {
    records: RecordsClient,
    authority: Arc<Authority>,
    tracked: Arc<Mutex<HashMap<String, Tracked>>>,
    http: reqwest::Client,
}

impl Checker {
    pub fn new(records: RecordsClient, authority: Arc<Authority>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CONNECT_TIMEOUT + RESPONSE_TIMEOUT)
            // Route 53 does not validate the target's certificate.
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { records, authority, tracked: Arc::default(), http }
    }

    /// The last observation of a check on this replica, if it was probed.
    pub fn observation(&self, id: &str) -> Option<Observation> {
        self.lock().get(id).and_then(|tracked| tracked.observation.clone())
    }

    /// Starts tracking a check at once (a replica that made it need not
    /// wait for its next reload).
    pub fn track(&self, check: HealthCheck) {
        let mut tracked = self.lock();
        tracked.entry(check.id.clone()).or_insert_with(|| Tracked::new(check));
    }

    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
        self.publish();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tracked>> {
        self.tracked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Probes every check when it is due until `shutdown`.
    pub async fn run(&self, shutdown: nubo_host::Shutdown) {
        let mut reloaded: Option<Instant> = None;
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => return,
            }
            if reloaded.is_none_or(|at| at.elapsed() >= RELOAD_EVERY) {
                match self.reload().await {
                    Ok(()) => reloaded = Some(Instant::now()),
                    Err(error) => tracing::debug!(%error, "health checks could not be listed; trying again"),
                }
            }
            let due: Vec<HealthCheck> = {
                let now = Instant::now();
                let mut tracked = self.lock();
                tracked
                    .values_mut()
                    .filter(|tracked| tracked.next_probe <= now)
                    .map(|tracked| {
                        tracked.next_probe =
                            now + Duration::from_secs(u64::from(tracked.check.config.request_interval));
                        tracked.check.clone()
                    })
                    .collect()
            };
            for check in due {
                let checker = self.clone();
                tokio::spawn(async move {
                    let (ip_address, outcome) = checker.probe(&check.config).await;
                    checker.record(&check.id, ip_address, outcome);
                });
            }
        }
    }

    /// Brings the tracked set in line with data: new checks start
    /// healthy, as Route 53's do until they have data.
    async fn reload(&self) -> Result<(), RemoteError> {
        let mut checks = BTreeMap::new();
        let mut after = String::new();
        loop {
            let (page, next) = self.records.list(HEALTH_CHECKS, "", &after, 1000).await?;
            for record in page {
                if let Ok(check) = serde_json::from_slice::<HealthCheck>(&record.value) {
                    checks.insert(check.id.clone(), check);
                }
            }
            match next {
                Some(key) => after = key,
                None => break,
            }
        }
        {
            let mut tracked = self.lock();
            tracked.retain(|id, _| checks.contains_key(id));
            for (id, check) in checks {
                match tracked.get_mut(&id) {
                    Some(existing) => existing.check = check,
                    None => {
                        tracked.insert(id, Tracked::new(check));
                    }
                }
            }
        }
        self.publish();
        Ok(())
    }

    /// One probe: the address probed and `Ok(success text)` or
    /// `Err(failure text)`.
    async fn probe(&self, config: &HealthCheckConfig) -> (String, Result<String, String>) {
        let port = config.default_port();
        let address = match target(config, port).await {
            Ok(address) => address,
            Err(why) => return (config.ip_address.clone().unwrap_or_default(), Err(why)),
        };
        let shown = address.ip().to_string();
        if config.kind == "TCP" {
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await;
            let outcome = match connected {
                Ok(Ok(_)) => Ok("Success: TCP connection established".to_owned()),
                Ok(Err(error)) => Err(format!("Failure: {}", connection_failure(&error))),
                Err(_) => Err("Failure: Connection timed out".to_owned()),
            };
            return (shown, outcome);
        }
        let scheme = if config.tls() { "https" } else { "http" };
        let path = config.resource_path.as_deref().unwrap_or("/");
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        let host = config.fqdn.clone().unwrap_or_else(|| shown.clone());
        let url = match address {
            SocketAddr::V4(_) => format!("{scheme}://{shown}:{port}{path}"),
            SocketAddr::V6(_) => format!("{scheme}://[{shown}]:{port}{path}"),
        };
        let request =
            self.http.get(url).header("host", host).header("user-agent", "Amazon-Route53-Health-Check-Service (nubo)");
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let reason = status.canonical_reason().unwrap_or("");
                if !(status.is_success() || status.is_redirection()) {
                    Err(format!("Failure: HTTP Status Code {}, {reason}", status.as_u16()))
                } else if let Some(search) =
                    config.search_string.as_deref().filter(|_| config.kind.ends_with("_STR_MATCH"))
                {
                    let body = response.bytes().await.unwrap_or_default();
                    let window = &body[..body.len().min(SEARCH_WINDOW)];
                    if window.windows(search.len().max(1)).any(|part| part == search.as_bytes()) {
                        Ok(format!("Success: HTTP Status Code {}, {reason}. Resolved IP: {shown}", status.as_u16()))
                    } else {
                        Err("Failure: Search string not found in the response body".to_owned())
                    }
                } else {
                    Ok(format!("Success: HTTP Status Code {}, {reason}", status.as_u16()))
                }
            }
            Err(error) if error.is_timeout() => Err("Failure: Connection timed out".to_owned()),
            Err(error) => Err(format!("Failure: {}", request_failure(&error))),
        };
        (shown, outcome)
    }

    /// Applies one probe's result under the failure threshold.
    fn record(&self, id: &str, ip_address: String, outcome: Result<String, String>) {
        let changed = {
            let mut tracked = self.lock();
            let Some(tracked) = tracked.get_mut(id) else { return };
            let succeeded = outcome.is_ok();
            let status = outcome.unwrap_or_else(|failure| failure);
            tracked.observation = Some(Observation {
                ip_address,
                status,
                checked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            if succeeded == tracked.healthy {
                tracked.streak = 0;
                false
            } else {
                tracked.streak += 1;
                if tracked.streak >= tracked.check.config.failure_threshold {
                    tracked.healthy = succeeded;
                    tracked.streak = 0;
                    true
                } else {
                    false
                }
            }
        };
        if changed {
            self.publish();
        }
    }

    /// Hands every check's verdict (disabled: healthy; inverted: the
    /// opposite of what the probes say) to the authority.
    fn publish(&self) {
        let verdicts: BTreeMap<String, bool> = self
            .lock()
            .iter()
            .map(|(id, tracked)| {
                let config = &tracked.check.config;
                (id.clone(), config.disabled || (tracked.healthy != config.inverted))
            })
            .collect();
        self.authority.set_health(verdicts);
    }
}

impl Tracked {
    fn new(check: HealthCheck) -> Self {
        Self { check, healthy: true, streak: 0, next_probe: Instant::now(), observation: None }
    }
}

/// Health checks as data records.
#[derive(Clone)]
pub struct HealthChecks {
    records: RecordsClient,
    checker: Checker,
}

/// Why a health check call failed, as Route 53 names it.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("No health check exists with the specified ID {0}")]
    NoSuchHealthCheck(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("A health check with the caller reference {0} already exists with a different configuration")]
    HealthCheckAlreadyExists(String),
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

impl HealthChecks {
    pub fn new(records: RecordsClient, checker: Checker) -> Self {
        Self { records, checker }
    }

    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// CreateHealthCheck: the same caller reference with the same config
    /// returns the existing check (Route 53's idempotency), with another
    /// config `HealthCheckAlreadyExists`. The bool says whether it is new.
    pub async fn create(
        &self,
        caller_reference: &str,
        config: HealthCheckConfig,
    ) -> Result<(HealthCheck, bool), HealthError> {
        config.validate().map_err(HealthError::InvalidInput)?;
        if caller_reference.is_empty() || caller_reference.len() > 64 {
            return Err(HealthError::InvalidInput("CallerReference must be 1 to 64 characters".into()));
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        // The reference is claimed first, so two racing creates make one check.
        let id = match self.records.put(HEALTH_CALLERS, caller_reference, fresh.clone().into_bytes(), Some(0)).await {
            Ok(_) => fresh,
            Err(error) if error.code == nubo_proto::ErrorCode::ConditionFailed => {
                let claimed = self.records.get(HEALTH_CALLERS, caller_reference).await?;
                claimed.map(|record| String::from_utf8_lossy(&record.value).into_owned()).unwrap_or_default()
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(existing) = self.find(&id).await? {
            if existing.config == config {
                return Ok((existing, false));
            }
            return Err(HealthError::HealthCheckAlreadyExists(caller_reference.into()));
        }
        // Claimed but never written (a crash in between): finish it now.
        let check = HealthCheck {
            id: id.clone(),
            caller_reference: caller_reference.into(),
            config,
            version: 1,
            tags: Vec::new(),
        };
        let value = serde_json::to_vec(&check).map_err(|error| RemoteError::internal("dns", error.to_string()))?;
        self.records.put(HEALTH_CHECKS, &id, value, None).await?;
        self.checker.track(check.clone());
        Ok((check, true))
    }

    async fn find(&self, id: &str) -> Result<Option<HealthCheck>, HealthError> {
        let Some(record) = self.records.get(HEALTH_CHECKS, id).await? else { return Ok(None) };
        serde_json::from_slice(&record.value)
            .map(Some)
            .map_err(|error| HealthError::Remote(RemoteError::internal("dns", error.to_string())))
    }

    pub async fn get(&self, id: &str) -> Result<HealthCheck, HealthError> {
        self.find(id).await?.ok_or_else(|| HealthError::NoSuchHealthCheck(id.into()))
    }

    /// Every health check, by id.
    pub async fn list(&self) -> Result<Vec<HealthCheck>, HealthError> {
        let mut checks = Vec::new();
        let mut after = String::new();
        loop {
            let (page, next) = self.records.list(HEALTH_CHECKS, "", &after, 1000).await?;
            checks.extend(page.iter().filter_map(|record| serde_json::from_slice::<HealthCheck>(&record.value).ok()));
            match next {
                Some(key) => after = key,
                None => return Ok(checks),
            }
        }
    }

    pub async fn delete(&self, id: &str) -> Result<(), HealthError> {
        let check = self.get(id).await?;
        self.records.delete(HEALTH_CHECKS, id, None).await?;
        self.records.delete(HEALTH_CALLERS, &check.caller_reference, None).await?;
        self.checker.forget(id);
        Ok(())
    }
}

/// The socket address a check probes: its IP address, or its name resolved.
async fn target(config: &HealthCheckConfig, port: u16) -> Result<SocketAddr, String> {
    if let Some(address) = config.ip_address.as_deref().and_then(|address| address.parse().ok()) {
        return Ok(SocketAddr::new(address, port));
    }
    let name = config.fqdn.as_deref().ok_or("Failure: No address to check")?;
    let mut addresses = tokio::net::lookup_host((name, port))
        .await
        .map_err(|error| format!("Failure: DNS resolution failed for {name}: {error}"))?;
    addresses.next().ok_or_else(|| format!("Failure: DNS resolution failed for {name}"))
}

fn connection_failure(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused",
        std::io::ErrorKind::TimedOut => "Connection timed out",
        _ => "Connection failed",
    }
}

fn request_failure(error: &reqwest::Error) -> String {
    if error.is_connect() {
        let refused = std::error::Error::source(error)
            .and_then(|source| source.to_string().contains("refused").then_some(()))
            .is_some();
        if refused { "Connection refused".into() } else { "Connection failed".into() }
    } else {
        format!("The request failed: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: &str) -> HealthCheckConfig {
        HealthCheckConfig {
            kind: kind.into(),
            ip_address: Some("127.0.0.1".into()),
            port: Some(8080),
            resource_path: None,
            fqdn: None,
            search_string: None,
            request_interval: 30,
            failure_threshold: 3,
            inverted: false,
            disabled: false,
            measure_latency: false,
        }
    }

    #[test]
    fn configs_are_checked_as_create_health_check_does() {
        assert!(config("HTTP").validate().is_ok());
        assert!(config("TCP").validate().is_ok());
        assert!(config("CALCULATED").validate().is_err());
        assert!(HealthCheckConfig { request_interval: 15, ..config("HTTP") }.validate().is_err());
        assert!(HealthCheckConfig { failure_threshold: 11, ..config("HTTP") }.validate().is_err());
        assert!(HealthCheckConfig { port: None, ..config("TCP") }.validate().is_err());
        assert!(config("HTTP_STR_MATCH").validate().is_err(), "a string match needs its string");
        assert!(HealthCheckConfig { ip_address: Some("not-an-ip".into()), ..config("HTTP") }.validate().is_err());
        assert!(HealthCheckConfig { ip_address: None, ..config("HTTP") }.validate().is_err());
    }
}
