//! Runs invocations on execution environments: reuses a warm environment
//! of the function's current revision when one is idle, starts one on
//! demand up to the per-function and global limits (beyond them the caller
//! gets `TooManyRequestsException`), retires environments that failed,
//! timed out or belong to an older revision, and reaps idle ones.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;

use crate::{
    code::Code,
    environment::{Environment, Launcher, Outcome},
    error::{LambdaError, Result},
    model::Function,
    runtime_api::{InvocationInput, Reply},
};

/// Limits on environments.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Environments across all functions on this host.
    pub max_environments: usize,
    /// Environments of one function.
    pub max_per_function: usize,
    /// An environment idle this long is stopped.
    pub idle_timeout: Duration,
}

/// One invocation as the invoker runs it.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub payload: Bytes,
    pub client_context: Option<String>,
    pub tail_logs: bool,
    /// The ARN the caller named (qualified by the alias or version it used).
    pub invoked_arn: String,
    /// The function's reserved concurrency, shared by all its versions.
    pub reserved_concurrency: Option<u32>,
    /// The id an asynchronous invocation was acknowledged with; a new one
    /// otherwise.
    pub request_id: Option<String>,
}

/// Why an invocation was throttled, as Lambda's `Reason` says it.
pub const RESERVED_LIMIT: &str = "ReservedFunctionConcurrentInvocationLimitExceeded";
pub const ACCOUNT_LIMIT: &str = "ConcurrentInvocationLimitExceeded";

/// The result of a synchronous invocation, as the Lambda API returns it.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub request_id: String,
    pub payload: Bytes,
    /// `Some("Unhandled")` when the function failed.
    pub function_error: Option<String>,
    /// Base64 of the invocation's last 4 KB of log, when asked for.
    pub log_result: Option<String>,
    /// The version that ran (an alias picks one).
    pub executed_version: String,
}

#[derive(Default)]
struct Pool {
    revision_id: String,
    idle: Vec<Environment>,
    /// Environments of this function alive now, busy or idle.
    live: usize,
}

#[derive(Default)]
struct Pools {
    /// By [`Function::pool_key`]: each version has its own environments.
    by_function: HashMap<String, Pool>,
    live: usize,
    /// Invocations running now, by function name (all versions).
    running: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct Invoker {
    launcher: Arc<Launcher>,
    limits: Limits,
    pools: Arc<Mutex<Pools>>,
}

impl std::fmt::Debug for Invoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoker").field("limits", &self.limits).finish_non_exhaustive()
    }
}

enum Acquired {
    Warm(Box<Environment>),
    /// A slot was reserved; the caller starts the environment.
    Cold,
}

impl Invoker {
    pub fn new(launcher: Launcher, limits: Limits) -> Self {
        Self { launcher: Arc::new(launcher), limits, pools: Arc::default() }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        // A panic while holding the lock cannot leave the pools half
        // updated in a way that matters more than stopping service.
        self.pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn acquire(&self, function: &Function, reserved: Option<u32>) -> Result<Acquired> {
        let mut pools = self.lock();
        let pools = &mut *pools;
        let running = pools.running.get(&function.name).copied().unwrap_or(0);
        if reserved.is_some_and(|reserved| running >= reserved) {
            return Err(LambdaError::TooManyRequests(RESERVED_LIMIT));
        }
        let acquired = Self::acquire_environment(pools, &self.limits, function)?;
        *pools.running.entry(function.name.clone()).or_default() += 1;
        Ok(acquired)
    }

    fn acquire_environment(pools: &mut Pools, limits: &Limits, function: &Function) -> Result<Acquired> {
        let pool = pools.by_function.entry(function.pool_key()).or_default();
        if pool.revision_id != function.revision_id {
            // The function changed: its idle environments run old code.
            let stale = pool.idle.len();
            pool.idle.clear();
            pool.live = pool.live.saturating_sub(stale);
            pools.live = pools.live.saturating_sub(stale);
            pool.revision_id = function.revision_id.clone();
        }
        while let Some(environment) = pool.idle.pop() {
            if environment.is_alive() {
                return Ok(Acquired::Warm(Box::new(environment)));
            }
            pool.live = pool.live.saturating_sub(1);
            pools.live = pools.live.saturating_sub(1);
        }
        if pool.live >= limits.max_per_function || pools.live >= limits.max_environments {
            return Err(LambdaError::TooManyRequests(ACCOUNT_LIMIT));
        }
        pool.live += 1;
        pools.live += 1;
        Ok(Acquired::Cold)
    }

    /// Returns an environment to its pool, or retires it.
    fn release(&self, function: &Function, environment: Option<Environment>) {
        let mut pools = self.lock();
        let pools = &mut *pools;
        if let Some(running) = pools.running.get_mut(&function.name) {
            *running = running.saturating_sub(1);
        }
        let Some(pool) = pools.by_function.get_mut(&function.pool_key()) else {
            pools.live = pools.live.saturating_sub(1);
            return;
        };
        match environment {
            Some(environment) if environment.revision_id == pool.revision_id && environment.is_alive() => {
                pool.idle.push(environment);
            }
            _ => {
                pool.live = pool.live.saturating_sub(1);
                pools.live = pools.live.saturating_sub(1);
            }
        }
    }

    /// Stops every idle environment of one version of a function (by its
    /// [`Function::pool_key`]), deleted or updated.
    pub fn retire(&self, function: &str) {
        let mut pools = self.lock();
        let pools = &mut *pools;
        if let Some(pool) = pools.by_function.get_mut(function) {
            let stopped = pool.idle.len();
            pool.idle.clear();
            pool.live = pool.live.saturating_sub(stopped);
            pools.live = pools.live.saturating_sub(stopped);
            pool.revision_id.clear();
        }
    }

    /// Stops every idle environment; busy ones stop when their invocation
    /// task ends with the process.
    pub fn stop_all(&self) {
        let mut pools = self.lock();
        let stopped: usize = pools.by_function.values().map(|pool| pool.idle.len()).sum();
        pools.by_function.clear();
        pools.live = pools.live.saturating_sub(stopped);
    }

    /// Stops environments idle for longer than the idle timeout.
    pub fn reap_idle(&self) {
        let mut pools = self.lock();
        let pools = &mut *pools;
        let timeout = self.limits.idle_timeout;
        for pool in pools.by_function.values_mut() {
            let before = pool.idle.len();
            pool.idle.retain(|environment| environment.last_used.elapsed() < timeout && environment.is_alive());
            let stopped = before - pool.idle.len();
            pool.live = pool.live.saturating_sub(stopped);
            pools.live = pools.live.saturating_sub(stopped);
        }
    }

    /// Invokes `function` synchronously.
    pub async fn invoke(
        &self,
        function: &Function,
        code: impl AsyncFnOnce() -> Result<Code>,
        request: InvokeRequest,
    ) -> Result<Invoked> {
        let InvokeRequest { payload, client_context, tail_logs, invoked_arn, reserved_concurrency, request_id } =
            request;
        let acquired = self.acquire(function, reserved_concurrency)?;
        let slot = Slot { invoker: self, function, returned: false };
        let warm = match acquired {
            // A warm environment whose runtime did not come back for more
            // work is dropped; the slot it held starts a fresh one.
            Acquired::Warm(environment) if environment.settled().await => Some(*environment),
            _ => None,
        };
        let mut environment = match warm {
            Some(environment) => environment,
            None => {
                let code = code().await?;
                Environment::spawn(&self.launcher, function, &code).await.map_err(|error| {
                    LambdaError::Service(format!("cannot start the {} runtime: {error}", function.runtime))
                })?
            }
        };

        let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timeout = Duration::from_secs(u64::from(function.timeout_secs));
        let started = Instant::now();
        let deadline_unix_ms = chrono::Utc::now().timestamp_millis() + timeout.as_millis() as i64;
        let input = InvocationInput {
            request_id: request_id.clone(),
            payload,
            deadline_unix_ms,
            function_arn: invoked_arn,
            client_context,
            trace_id: format!(
                "Root=1-{:08x}-{}",
                chrono::Utc::now().timestamp(),
                &uuid::Uuid::new_v4().simple().to_string()[..24]
            ),
        };
        let first_invocation = !environment.warm;
        let environment_stream = environment.log_stream.clone();
        let ship = |line: String| {
            if let Some(logs) = &self.launcher.logs {
                logs.line(&function.name, &environment_stream, line);
            }
        };
        ship(format!("START RequestId: {request_id} Version: {}", function.version));
        if tail_logs {
            environment.start_log_capture();
        }
        let outcome = environment.invoke(input, tokio::time::Instant::from_std(started + timeout)).await;
        // Like Lambda, Duration counts from when the runtime took the
        // invocation: a cold start's init phase is reported apart.
        let duration = environment.ready_at().map_or(started, |ready| ready.max(started)).elapsed();

        let (payload, function_error, reusable) = match outcome {
            Outcome::Replied(Reply::Response(body)) => (body, None, true),
            Outcome::Replied(Reply::Error { body, .. }) => (body, Some("Unhandled".to_owned()), true),
            Outcome::InitFailed(body) => (body, Some("Unhandled".to_owned()), false),
            Outcome::Exited(status) if environment.ran_out_of_memory() => (
                error_document(
                    "Runtime.OutOfMemory",
                    &format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
                ),
                Some("Unhandled".to_owned()),
                false,
            ),
            Outcome::Exited(status) => (
                error_document(
                    "Runtime.ExitError",
                    &format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
                ),
                Some("Unhandled".to_owned()),
                false,
            ),
            Outcome::TimedOut => (
                error_document(
                    "Sandbox.Timedout",
                    &format!(
                        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                        timeout.as_secs_f64()
                    ),
                ),
                Some("Unhandled".to_owned()),
                false,
            ),
        };

        let report = report_line(&request_id, duration, function.memory_mb, environment.max_memory_mb(), {
            if first_invocation { environment.init_duration() } else { None }
        });
        tracing::info!(target: "nubo::function", function = %function.name, "{report}");
        ship(format!("END RequestId: {request_id}"));
        ship(report.clone());
        let log_result = if tail_logs {
            let lines = environment.take_log_capture().await;
            Some(tail(&request_id, &function.version, &lines, &report))
        } else {
            None
        };
        slot.give_back(reusable.then_some(environment));
        Ok(Invoked { request_id, payload, function_error, log_result, executed_version: function.version.clone() })
    }
}

/// A reserved environment slot. It is given back when dropped too, so a
/// caller that gives up mid-invocation (a gateway timeout, a client gone)
/// cannot leak it; the environment, dropped with the future, is killed.
struct Slot<'a> {
    invoker: &'a Invoker,
    function: &'a Function,
    returned: bool,
}

impl Slot<'_> {
    fn give_back(mut self, environment: Option<Environment>) {
        self.returned = true;
        self.invoker.release(self.function, environment);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.returned {
            self.invoker.release(self.function, None);
        }
    }
}

fn error_document(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// The REPORT line Lambda writes after every invocation.
fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u32,
    max_memory_mb: Option<u64>,
    init: Option<Duration>,
) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {millis:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {} MB\t",
        millis.ceil().max(1.0) as u64,
        max_memory_mb.unwrap_or(0),
    );
    if let Some(init) = init {
        line.push_str(&format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0));
    }
    line
}

/// The log of one invocation as `X-Amz-Log-Result` carries it: base64 of
/// its last 4 KB, framed by START, END and REPORT lines.
fn tail(request_id: &str, version: &str, lines: &[String], report: &str) -> String {
    let mut log = format!("START RequestId: {request_id} Version: {version}\n");
    for line in lines {
        log.push_str(line);
        log.push('\n');
    }
    log.push_str(&format!("END RequestId: {request_id}\n{report}\n"));
    let bytes = log.as_bytes();
    let start = bytes.len().saturating_sub(4096);
    base64::engine::general_purpose::STANDARD.encode(&bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_have_the_lambda_fields() {
        let line = report_line("id", Duration::from_micros(1500), 128, Some(40), Some(Duration::from_millis(80)));
        assert!(line.starts_with("REPORT RequestId: id\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 80.00 ms"), "{line}");
    }

    #[test]
    fn tails_keep_the_last_four_kilobytes() {
        let lines = vec!["x".repeat(10_000)];
        let encoded = tail("id", "$LATEST", &lines, "REPORT RequestId: id");
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(decoded.len(), 4096);
        assert!(String::from_utf8(decoded).unwrap().ends_with("REPORT RequestId: id\n"));
    }
}
