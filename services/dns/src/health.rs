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
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use ipnet::IpNet;
use nubo_proto::{ErrorCode, RemoteError, clients::RecordsClient};
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
/// Route 53's default quota of health checks per account.
pub const MAX_HEALTH_CHECKS: usize = 200;
/// Probes one replica runs at once. A check due while all are taken waits
/// for its next interval: a slow target must not let the checker open
/// connections without bound.
const MAX_CONCURRENT_PROBES: usize = 32;
/// Attempts at CreateHealthCheck's claim-then-write before giving up as a
/// conflict (a claim can only vanish if it is removed behind our back).
const CREATE_ATTEMPTS: usize = 3;

/// Networks health checks may probe by default besides public addresses:
/// loopback, because `nubo up` runs every service on one host and Route 53
/// users test failover against servers of their own there. Loopback also
/// reaches nubo's own ports (its APIs, data plane and metrics); an
/// operator sharing the host with untrusted callers should empty the list.
pub const DEFAULT_PROBE_ALLOW: [&str; 2] = ["127.0.0.0/8", "::1/128"];

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
    /// `EnableSNI` as given; absent, Route 53's default (see [`Self::sni`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_sni: Option<bool>,
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

    /// `EnableSNI` as GetHealthCheck reports it: the value given, else true
    /// for the HTTPS kinds and false for the others, as Route 53 documents.
    pub fn sni(&self) -> bool {
        self.enable_sni.unwrap_or_else(|| self.tls())
    }

    fn default_port(&self) -> u16 {
        self.port.unwrap_or(if self.tls() { 443 } else { 80 })
    }
}

/// Which addresses health checks may probe (SPEC §4: the checker must not
/// reach nubo's internal plane nor become a scanner of the networks around
/// it). Public addresses are probed; the networks listed are probed too;
/// every other non-public address is refused, at CreateHealthCheck for an
/// `IPAddress` and again at each probe for the address a name resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTargets {
    allow: Vec<IpNet>,
}

impl Default for ProbeTargets {
    fn default() -> Self {
        Self::new(&DEFAULT_PROBE_ALLOW.map(str::to_owned)).unwrap_or(Self { allow: Vec::new() })
    }
}

impl ProbeTargets {
    /// The `[dns] health_check_allow` list: addresses or networks.
    pub fn new(allow: &[String]) -> Result<Self, String> {
        Ok(Self { allow: crate::networks::parse("health_check_allow", allow)? })
    }

    /// `Ok` when `address` may be probed, else what kind of address it is.
    pub fn check(&self, address: IpAddr) -> Result<(), &'static str> {
        let address = canonical(address);
        if self.allow.iter().any(|network| network.contains(&address)) {
            return Ok(());
        }
        match non_public(address) {
            Some(kind) => Err(kind),
            None => Ok(()),
        }
    }

    /// CreateHealthCheck's check of a config's address (an `IPAddress`,
    /// or a `FullyQualifiedDomainName` that is an address literal); the
    /// message is its `InvalidInput`. A name is checked when it is probed.
    pub fn check_config(&self, config: &HealthCheckConfig) -> Result<(), String> {
        let literals = [config.ip_address.as_deref(), config.fqdn.as_deref()];
        for address in literals.into_iter().flatten().filter_map(|text| text.parse::<IpAddr>().ok()) {
            if let Err(kind) = self.check(address) {
                return Err(format!(
                    "Invalid IP address: {address} is {kind}; health checks probe public addresses \
                     (and the networks the dns service's health_check_allow lists)"
                ));
            }
        }
        Ok(())
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, or NAT64's
/// `64:ff9b::a.b.c.d`) is judged as the IPv4 address it reaches.
fn canonical(address: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = address else { return address };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let segments = v6.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., high, low] = segments;
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        return IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d));
    }
    address
}

/// What kind of non-public address `address` is, if it is one. Documentation
/// ranges (192.0.2.0/24, 2001:db8::/32, …) stay probe-able: nothing answers
/// there, and tests use them.
fn non_public(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => {
            let [first, second, ..] = v4.octets();
            if v4.is_unspecified() || first == 0 {
                Some("an unspecified (this-network) address")
            } else if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                // 169.254.169.254 is the cloud metadata service.
                Some("a link-local address")
            } else if first == 100 && second & 0xc0 == 64 {
                Some("a shared (carrier-grade NAT) address")
            } else if v4.is_multicast() {
                Some("a multicast address")
            } else if first >= 240 {
                Some("a reserved or broadcast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some("an unspecified address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique local (private) address")
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
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
    prober: Prober,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Checker {
    /// A checker probing what [`ProbeTargets::default`] allows.
    pub fn new(records: RecordsClient, authority: Arc<Authority>) -> Self {
        Self {
            records,
            authority,
            tracked: Arc::default(),
            prober: Prober::new(ProbeTargets::default()),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_PROBES)),
        }
    }

    /// The same checker probing what `targets` allows.
    pub fn with_targets(mut self, targets: ProbeTargets) -> Self {
        self.prober = Prober::new(targets);
        self
    }

    pub fn targets(&self) -> &ProbeTargets {
        &self.prober.targets
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
            let mut due = Vec::new();
            {
                let now = Instant::now();
                let mut tracked = self.lock();
                for tracked in tracked.values_mut().filter(|tracked| tracked.next_probe <= now) {
                    // Due or not probed, the check's next turn is an interval away.
                    tracked.next_probe = now + Duration::from_secs(u64::from(tracked.check.config.request_interval));
                    match self.permits.clone().try_acquire_owned() {
                        Ok(permit) => due.push((tracked.check.clone(), permit)),
                        Err(_) => {
                            tracing::debug!(id = %tracked.check.id, "every probe slot is busy; probing next interval")
                        }
                    }
                }
            }
            for (check, permit) in due {
                let checker = self.clone();
                tokio::spawn(async move {
                    let (ip_address, outcome) = checker.prober.probe(&check.config).await;
                    drop(permit);
                    checker.record(&check.id, ip_address, outcome);
                });
            }
        }
    }

    /// Brings the tracked set in line with data: new checks start
    /// healthy, as Route 53's do until they have data.
    async fn reload(&self) -> Result<(), RemoteError> {
        let checks: BTreeMap<String, HealthCheck> = self
            .records
            .list_all(HEALTH_CHECKS, "")
            .await?
            .iter()
            .filter_map(|record| serde_json::from_slice::<HealthCheck>(&record.value).ok())
            .map(|check| (check.id.clone(), check))
            .collect();
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

/// What probes a target: an HTTP client that follows no redirect and uses
/// no proxy (the address checked is the one connected to), and the
/// addresses it may reach.
#[derive(Clone)]
pub struct Prober {
    http: reqwest::Client,
    targets: Arc<ProbeTargets>,
}

impl Prober {
    pub fn new(targets: ProbeTargets) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CONNECT_TIMEOUT + RESPONSE_TIMEOUT)
            // Route 53 does not validate the target's certificate.
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { http, targets: Arc::new(targets) }
    }

    /// One probe: the address probed and `Ok(success text)` or
    /// `Err(failure text)`.
    pub async fn probe(&self, config: &HealthCheckConfig) -> (String, Result<String, String>) {
        let port = config.default_port();
        let address = match target(config, port, &self.targets).await {
            Ok(address) => address,
            Err((shown, why)) => return (shown, Err(why)),
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
                    let mut response = response;
                    if window_contains(&mut response, search.as_bytes()).await {
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
    #[error("The caller reference {0} belonged to a health check that was deleted; use another")]
    CallerReferenceDeleted(String),
    #[error("The maximum number of health checks ({MAX_HEALTH_CHECKS}) has been reached")]
    TooManyHealthChecks,
    /// Another request changed the caller reference as this one used it.
    #[error("Another request for the caller reference {0} is in progress; try again")]
    Conflict(String),
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
    /// config `HealthCheckAlreadyExists`, and so does a reference a deleted
    /// check used, whatever the config (Route 53 documents both). The bool
    /// says whether the check is new.
    pub async fn create(
        &self,
        caller_reference: &str,
        config: HealthCheckConfig,
    ) -> Result<(HealthCheck, bool), HealthError> {
        config.validate().map_err(HealthError::InvalidInput)?;
        self.checker.targets().check_config(&config).map_err(HealthError::InvalidInput)?;
        if caller_reference.is_empty() || caller_reference.len() > 64 {
            return Err(HealthError::InvalidInput("CallerReference must be 1 to 64 characters".into()));
        }
        for _ in 0..CREATE_ATTEMPTS {
            if let Some(done) = self.try_create(caller_reference, &config).await? {
                return Ok(done);
            }
        }
        Err(HealthError::Conflict(caller_reference.into()))
    }

    /// One attempt: the reference claimed (or its claim read), then the
    /// check written under the claimed id. `None` when a record changed
    /// under us and the attempt should start over.
    async fn try_create(
        &self,
        caller_reference: &str,
        config: &HealthCheckConfig,
    ) -> Result<Option<(HealthCheck, bool)>, HealthError> {
        // The reference is claimed first, so two racing creates agree on one id.
        let fresh = Claim { id: uuid::Uuid::new_v4().to_string(), deleted: false };
        let id = match self.records.put(HEALTH_CALLERS, caller_reference, fresh.encode()?, Some(0)).await {
            Ok(_) => fresh.id,
            Err(error) if error.code == ErrorCode::ConditionFailed => {
                let Some(record) = self.records.get(HEALTH_CALLERS, caller_reference).await? else {
                    // Claimed a moment ago and gone now: never make a
                    // check without an id; start over.
                    return Ok(None);
                };
                let claim = Claim::decode(&record.value);
                if claim.deleted {
                    return Err(HealthError::CallerReferenceDeleted(caller_reference.into()));
                }
                if claim.id.is_empty() {
                    return Err(HealthError::Remote(RemoteError::internal("dns", "a health check claim has no id")));
                }
                claim.id
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(existing) = self.find(&id).await? {
            return self.same_or_refused(existing, caller_reference, config).map(Some);
        }
        // Claimed but not written yet (a racing create, or a crash in
        // between): write it now, unless the quota is reached. The claim
        // stays, so a retry under the quota finishes it.
        if self.count().await? >= MAX_HEALTH_CHECKS {
            return Err(HealthError::TooManyHealthChecks);
        }
        let check = HealthCheck {
            id: id.clone(),
            caller_reference: caller_reference.into(),
            config: config.clone(),
            version: 1,
            tags: Vec::new(),
        };
        let value = serde_json::to_vec(&check).map_err(|error| RemoteError::internal("dns", error.to_string()))?;
        // Only if absent: of two creates racing here, one writes and the
        // other answers with what it wrote.
        match self.records.put(HEALTH_CHECKS, &id, value, Some(0)).await {
            Ok(_) => {
                self.checker.track(check.clone());
                Ok(Some((check, true)))
            }
            Err(error) if error.code == ErrorCode::ConditionFailed => match self.find(&id).await? {
                Some(existing) => self.same_or_refused(existing, caller_reference, config).map(Some),
                None => Ok(None),
            },
            Err(error) => Err(error.into()),
        }
    }

    fn same_or_refused(
        &self,
        existing: HealthCheck,
        caller_reference: &str,
        config: &HealthCheckConfig,
    ) -> Result<(HealthCheck, bool), HealthError> {
        if existing.config == *config {
            Ok((existing, false))
        } else {
            Err(HealthError::HealthCheckAlreadyExists(caller_reference.into()))
        }
    }

    /// How many health checks exist.
    pub async fn count(&self) -> Result<usize, HealthError> {
        Ok(self.list().await?.len())
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
        let records = self.records.list_all(HEALTH_CHECKS, "").await?;
        Ok(records.iter().filter_map(|record| serde_json::from_slice::<HealthCheck>(&record.value).ok()).collect())
    }

    /// DeleteHealthCheck. The caller reference is kept, marked deleted, so
    /// it cannot make another check: it is marked first, so a delete cut
    /// short leaves the check in place rather than a reference that would
    /// make it again.
    pub async fn delete(&self, id: &str) -> Result<(), HealthError> {
        let check = self.get(id).await?;
        let tombstone = Claim { id: id.into(), deleted: true };
        self.records.put(HEALTH_CALLERS, &check.caller_reference, tombstone.encode()?, None).await?;
        self.records.delete(HEALTH_CHECKS, id, None).await?;
        self.checker.forget(id);
        Ok(())
    }
}

/// A caller reference's record: the id of the check it made, and whether
/// that check was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claim {
    id: String,
    #[serde(default)]
    deleted: bool,
}

impl Claim {
    fn encode(&self) -> Result<Vec<u8>, RemoteError> {
        serde_json::to_vec(self).map_err(|error| RemoteError::internal("dns", error.to_string()))
    }

    /// Earlier releases stored the bare id.
    fn decode(value: &[u8]) -> Self {
        serde_json::from_slice(value)
            .unwrap_or_else(|_| Claim { id: String::from_utf8_lossy(value).into_owned(), deleted: false })
    }
}

/// The socket address a check probes: its IP address, or its name resolved
/// (the first address, as a client would connect to). An address the
/// targets refuse is a failed probe, never a connection; on failure, the
/// address to report with it.
async fn target(config: &HealthCheckConfig, port: u16, targets: &ProbeTargets) -> Result<SocketAddr, (String, String)> {
    let given = config.ip_address.clone().unwrap_or_default();
    let address = match config.ip_address.as_deref().and_then(|address| address.parse::<IpAddr>().ok()) {
        Some(address) => SocketAddr::new(address, port),
        None => {
            let name = config.fqdn.as_deref().ok_or((given.clone(), "Failure: No address to check".to_owned()))?;
            let mut addresses = tokio::net::lookup_host((name, port))
                .await
                .map_err(|error| (given.clone(), format!("Failure: DNS resolution failed for {name}: {error}")))?;
            addresses.next().ok_or_else(|| (given.clone(), format!("Failure: DNS resolution failed for {name}")))?
        }
    };
    match targets.check(address.ip()) {
        Ok(()) => Ok(address),
        Err(kind) => Err((
            address.ip().to_string(),
            format!("Failure: the resolved address {} is not allowed ({kind})", address.ip()),
        )),
    }
}

/// Whether the first [`SEARCH_WINDOW`] bytes of the body hold `needle`:
/// read a chunk at a time and no further than the window, stopping at the
/// first match.
async fn window_contains(response: &mut reqwest::Response, needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let mut window: Vec<u8> = Vec::with_capacity(SEARCH_WINDOW);
    while window.len() < SEARCH_WINDOW {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            // The end of the body, or a read that failed or timed out.
            Ok(None) | Err(_) => return false,
        };
        let room = SEARCH_WINDOW - window.len();
        // Only the new bytes and the tail a match may straddle need looking at.
        let from = window.len().saturating_sub(needle.len() - 1);
        window.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
        if window[from..].windows(needle.len()).any(|part| part == needle) {
            return true;
        }
    }
    false
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
            enable_sni: None,
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

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn probes_reach_public_addresses_and_loopback_by_default() {
        let targets = ProbeTargets::default();
        for allowed in ["8.8.8.8", "127.0.0.1", "127.1.2.3", "::1", "2606:4700::1111", "192.0.2.10", "2001:db8::1"] {
            assert_eq!(targets.check(ip(allowed)), Ok(()), "{allowed}");
        }
        for refused in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.251",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(targets.check(ip(refused)).is_err(), "{refused}");
        }
        assert_eq!(targets.check(ip("::ffff:127.0.0.1")), Ok(()), "mapped loopback is loopback");
        assert!(targets.check(ip("100.128.0.1")).is_ok(), "just past the shared range");
    }

    #[test]
    fn listed_networks_are_probed_and_an_empty_list_refuses_loopback() {
        let targets = ProbeTargets::new(&["10.1.0.0/16".into(), "fd00::7".into()]).expect("a valid list");
        assert_eq!(targets.check(ip("10.1.2.3")), Ok(()));
        assert_eq!(targets.check(ip("fd00::7")), Ok(()));
        assert!(targets.check(ip("10.2.0.1")).is_err());
        assert!(targets.check(ip("127.0.0.1")).is_err(), "loopback is allowed only while listed");
        assert!(ProbeTargets::new(&["not-a-network".into()]).is_err());
    }

    #[test]
    fn create_refuses_a_non_public_ip_address() {
        let targets = ProbeTargets::default();
        assert!(targets.check_config(&config("HTTP")).is_ok());
        let metadata = HealthCheckConfig { ip_address: Some("169.254.169.254".into()), ..config("HTTP") };
        let message = targets.check_config(&metadata).expect_err("the metadata address is refused");
        assert!(message.contains("169.254.169.254 is a link-local address"), "{message}");
        let literal = HealthCheckConfig { ip_address: None, fqdn: Some("10.0.0.8".into()), ..config("HTTP") };
        assert!(targets.check_config(&literal).is_err(), "an address written as the name");
        let named = HealthCheckConfig { ip_address: None, fqdn: Some("example.com".into()), ..config("HTTP") };
        assert!(targets.check_config(&named).is_ok(), "a name is checked when it is resolved");
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_refused_address_fails_without_connecting() {
        // Nothing listens on port 9; a connection would say "refused".
        let named =
            HealthCheckConfig { ip_address: None, fqdn: Some("localhost".into()), port: Some(9), ..config("TCP") };
        let prober = Prober::new(ProbeTargets::new(&[]).expect("an empty list"));
        let (shown, outcome) = prober.probe(&named).await;
        let failure = outcome.expect_err("loopback is not listed");
        assert!(failure.starts_with("Failure: the resolved address"), "{failure}");
        assert!(failure.contains("is not allowed (a loopback address)"), "{failure}");
        assert!(ip(&shown).is_loopback(), "{shown}");
    }

    /// Serves one HTTP response whose body is `before`, then `needle`, then
    /// (when `endless`) filler until the client goes away.
    async fn serve_body(before: usize, needle: &'static str, endless: bool) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let head = if endless {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned()
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", before + needle.len())
            };
            let mut body = head.into_bytes();
            body.extend(std::iter::repeat_n(b'x', before));
            body.extend(needle.as_bytes());
            if stream.write_all(&body).await.is_err() {
                return;
            }
            while endless && stream.write_all(&[b'x'; 4096]).await.is_ok() {}
        });
        port
    }

    async fn match_probe(port: u16) -> Result<String, String> {
        let check =
            HealthCheckConfig { search_string: Some("NEEDLE".into()), port: Some(port), ..config("HTTP_STR_MATCH") };
        Prober::new(ProbeTargets::default()).probe(&check).await.1
    }

    #[tokio::test]
    async fn a_string_match_reads_the_first_5120_bytes_only() {
        let inside = match_probe(serve_body(SEARCH_WINDOW - 6, "NEEDLE", false).await).await;
        assert!(inside.is_ok(), "a match ending at the window's last byte: {inside:?}");
        let straddling = match_probe(serve_body(SEARCH_WINDOW - 3, "NEEDLE", false).await).await;
        assert_eq!(straddling, Err("Failure: Search string not found in the response body".to_owned()));
        let started = Instant::now();
        let endless = match_probe(serve_body(SEARCH_WINDOW, "", true).await).await;
        assert_eq!(endless, Err("Failure: Search string not found in the response body".to_owned()));
        assert!(started.elapsed() < CONNECT_TIMEOUT, "an endless body is not read to the timeout");
    }

    #[test]
    fn caller_claims_read_the_old_bare_id_form() {
        assert_eq!(Claim::decode(b"abc"), Claim { id: "abc".into(), deleted: false });
        let tombstone = Claim { id: "abc".into(), deleted: true };
        assert_eq!(Claim::decode(&tombstone.encode().expect("json")), tombstone);
    }

    #[test]
    fn sni_defaults_to_the_https_kinds() {
        assert!(config("HTTPS").sni());
        assert!(!config("HTTP").sni());
        assert!(!HealthCheckConfig { enable_sni: Some(false), ..config("HTTPS_STR_MATCH") }.sni());
    }
}
