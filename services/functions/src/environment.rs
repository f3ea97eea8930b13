//! One execution environment: a runtime process in its own process group
//! and, where the host allows, its own sandbox ([`crate::sandbox`]), with
//! a private `/tmp`, a cleared environment holding only the standard
//! `AWS_LAMBDA_*` variables and the function's own, and its own Runtime API
//! listener. Dropping an environment kills its whole process group.

use std::{
    net::SocketAddr,
    os::fd::OwnedFd,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::{
    io::BufReader,
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

mod launch;

use launch::Started;
pub(crate) use launch::which;

use crate::{
    code::Code,
    logs::{LogShipper, read_line_capped},
    model::Function,
    runtime_api::{Channel, Invocation, InvocationInput, Reply},
    sandbox::{Sandbox, UidLease, cgroup::Group},
};

/// The most of one invocation's output kept for its `Tail` (which shows
/// the last 4 KB of it).
const MAX_CAPTURE_BYTES: usize = 1024 * 1024;

/// How environments are started on this host.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub region: String,
    pub account_id: String,
    /// Where nubo's bootstraps for interpreted runtimes are written.
    pub bootstrap_dir: PathBuf,
    /// Parent of every environment's private `/tmp`.
    pub scratch_dir: PathBuf,
    pub python: String,
    pub node: String,
    /// `PATH` inside environments.
    pub path: String,
    /// Credentials handed to functions, so SDK calls from a handler work.
    pub function_credentials: Option<(String, String)>,
    /// `AWS_ENDPOINT_URL` inside environments, pointing SDKs at nubo.
    pub endpoint_url: Option<String>,
    /// Where the host allows one, the sandbox environments run in.
    pub sandbox: Option<Arc<Sandbox>>,
    /// The address `endpoint_url` names, which a sandboxed environment
    /// reaches through a relay on the same port of its own loopback.
    pub endpoint: Option<SocketAddr>,
    /// Where functions' log lines are kept.
    pub logs: Option<LogShipper>,
}

/// An environment's confinement, released when it is dropped (the cgroup
/// kills what is left in it).
#[derive(Debug)]
pub(crate) struct Confinement {
    group: Option<Group>,
    _uid: UidLease,
    /// Keeps the network namespace while the environment lives.
    _network: Option<OwnedFd>,
}

/// How an invocation on an environment ended.
#[derive(Debug)]
pub enum Outcome {
    Replied(Reply),
    /// The runtime reported an init error; the body is its error document.
    InitFailed(Bytes),
    /// The process exited mid-invocation.
    Exited(String),
    TimedOut,
}

pub struct Environment {
    pub id: String,
    pub revision_id: String,
    /// Its CloudWatch log stream, as `AWS_LAMBDA_LOG_STREAM_NAME` says.
    pub log_stream: String,
    pub created: Instant,
    pub last_used: Instant,
    /// Whether an invocation already ran (the next REPORT has no init time).
    pub warm: bool,
    invocations: mpsc::Sender<Invocation>,
    channel: Arc<Channel>,
    exited: watch::Receiver<Option<String>>,
    pid: Option<u32>,
    log: Arc<Mutex<Option<Vec<String>>>>,
    tasks: Vec<JoinHandle<()>>,
    confinement: Option<Confinement>,
    _tmp: tempfile::TempDir,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment").field("id", &self.id).field("pid", &self.pid).finish_non_exhaustive()
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        // Once the leader is reaped its pid may be reused: only signal a
        // group whose leader is still ours.
        if let Some(pid) = self.pid.filter(|_| self.is_alive()) {
            // The runtime leads its own process group (see `spawn`), so this
            // also ends anything the function started.
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// How an exit status reads in Lambda's `Runtime exited with error: ...`.
/// A sandboxed runtime's status comes through the sandbox's first stage,
/// which reports a death by signal N as exit status 128 + N.
fn exit_reason(status: std::process::ExitStatus, sandboxed: bool) -> String {
    use std::os::unix::process::ExitStatusExt;
    let signal = match (status.code(), status.signal()) {
        (Some(code), _) if sandboxed && code > 128 => code - 128,
        (Some(code), _) => return format!("exit status {code}"),
        (None, Some(signal)) => signal,
        (None, None) => return "exit status unknown".to_owned(),
    };
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(nix::sys::signal::Signal::SIGKILL) => "signal: killed".to_owned(),
        Ok(nix::sys::signal::Signal::SIGSEGV) => "signal: segmentation fault".to_owned(),
        Ok(nix::sys::signal::Signal::SIGABRT) => "signal: aborted".to_owned(),
        Ok(nix::sys::signal::Signal::SIGTERM) => "signal: terminated".to_owned(),
        _ => format!("signal: {signal}"),
    }
}

impl Environment {
    /// Starts the runtime for `function` with its code (and layers) in `code`.
    pub async fn spawn(launcher: &Launcher, function: &Function, code: &Code) -> std::io::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (channel, invocations) = Channel::new();
        let log_stream = format!("{}/[{}]{id}", chrono::Utc::now().format("%Y/%m/%d"), function.version);
        let mut tasks = Vec::new();
        let started = match &launcher.sandbox {
            Some(sandbox) => {
                launch::start_sandboxed(launcher, sandbox, function, code, &log_stream, &channel, &mut tasks).await
            }
            None => launch::start_unconfined(launcher, function, code, &log_stream, &channel, &mut tasks).await,
        };
        let Started { mut child, created, confinement, directory: tmp } = match started {
            Ok(started) => started,
            Err(error) => {
                for task in &tasks {
                    task.abort();
                }
                return Err(error);
            }
        };
        let sandboxed = confinement.is_some();
        let pid = child.id();

        let log = Arc::new(Mutex::new(None::<Vec<String>>));
        let sink = || LogSink {
            function: function.name.clone(),
            stream: log_stream.clone(),
            capture: log.clone(),
            shipper: launcher.logs.clone(),
        };
        if let Some(stdout) = child.stdout.take() {
            tasks.push(tokio::spawn(forward_log(BufReader::new(stdout), sink())));
        }
        if let Some(stderr) = child.stderr.take() {
            tasks.push(tokio::spawn(forward_log(BufReader::new(stderr), sink())));
        }
        let (exit_sender, exited) = watch::channel(None);
        tasks.push(tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => exit_reason(status, sandboxed),
                Err(error) => format!("wait failed: {error}"),
            };
            exit_sender.send_replace(Some(status));
        }));
        tracing::debug!(function = %function.name, environment = %id, ?pid, "environment started");
        Ok(Self {
            id,
            revision_id: function.revision_id.clone(),
            log_stream,
            created,
            last_used: Instant::now(),
            warm: false,
            invocations,
            channel,
            exited,
            pid,
            log,
            tasks,
            confinement,
            _tmp: tmp,
        })
    }

    pub fn is_alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Whether the runtime is back in `invocation/next`, waiting at most a
    /// second for it: after answering, a runtime may exit instead (AWS's
    /// clients do after a 413), and must not be handed the next invocation.
    pub async fn settled(&self) -> bool {
        let mut polling = self.channel.polling.subscribe();
        let mut exited = self.exited.clone();
        tokio::select! {
            biased;
            Ok(_) = exited.wait_for(Option::is_some) => false,
            Ok(_) = polling.wait_for(|polling| *polling) => self.is_alive(),
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        }
    }

    /// When the runtime first asked for work, if it has.
    pub fn ready_at(&self) -> Option<Instant> {
        self.channel.ready_at.get().copied()
    }

    /// How long the runtime took to start and ask for its first invocation.
    pub fn init_duration(&self) -> Option<Duration> {
        self.channel.ready_at.get().map(|ready| ready.duration_since(self.created))
    }

    /// Starts collecting the runtime's log lines for a `Tail` response.
    pub fn start_log_capture(&self) {
        if let Ok(mut log) = self.log.lock() {
            *log = Some(Vec::new());
        }
    }

    /// The lines collected since `start_log_capture`. The runtime wrote
    /// them before replying, but the pipe readers may still be behind: wait
    /// until no line has arrived for a few milliseconds (at most 50 ms).
    pub async fn take_log_capture(&self) -> Vec<String> {
        let count = || self.log.lock().ok().and_then(|log| log.as_ref().map(Vec::len)).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(50);
        let mut seen = count();
        loop {
            tokio::time::sleep(Duration::from_millis(3)).await;
            let now = count();
            if now == seen || Instant::now() > deadline {
                break;
            }
            seen = now;
        }
        self.log.lock().ok().and_then(|mut log| log.take()).unwrap_or_default()
    }

    /// Whether the kernel killed a process of the environment for going
    /// past its memory size.
    pub fn ran_out_of_memory(&self) -> bool {
        self.group().is_some_and(|group| group.oom_kills() > 0)
    }

    fn group(&self) -> Option<&Group> {
        self.confinement.as_ref()?.group.as_ref()
    }

    /// Peak memory of the environment, in MB: its cgroup's when it has
    /// one, else the runtime process's peak resident set.
    pub fn max_memory_mb(&self) -> Option<u64> {
        if let Some(peak) = self.group().and_then(Group::peak_memory_mb) {
            return Some(peak);
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb.div_ceil(1024))
    }

    /// Runs one invocation, waiting at most until `deadline`.
    pub async fn invoke(&mut self, input: InvocationInput, deadline: tokio::time::Instant) -> Outcome {
        self.last_used = Instant::now();
        let (reply_sender, reply) = oneshot::channel();
        let invocation = Invocation { input, reply: reply_sender };
        let mut init_error = self.channel.init_error.subscribe();
        let mut exited = self.exited.clone();
        if self.invocations.send(invocation).await.is_err() {
            return Outcome::Exited("the runtime api stopped".into());
        }
        // Biased: a runtime that reports an init error then exits must be
        // reported by its error, not by its exit.
        let outcome = tokio::select! {
            biased;
            reply = reply => match reply {
                Ok(reply) => Outcome::Replied(reply),
                Err(_) => Outcome::Exited("the runtime dropped the invocation".into()),
            },
            Ok(error) = init_error.wait_for(Option::is_some) => Outcome::InitFailed(error.clone().unwrap_or_default()),
            Ok(status) = exited.wait_for(Option::is_some) => Outcome::Exited(status.clone().unwrap_or_default()),
            _ = tokio::time::sleep_until(deadline) => Outcome::TimedOut,
        };
        self.warm = true;
        self.last_used = Instant::now();
        outcome
    }
}

/// Where one environment's output goes.
struct LogSink {
    function: String,
    stream: String,
    capture: Arc<Mutex<Option<Vec<String>>>>,
    shipper: Option<LogShipper>,
}

async fn forward_log<R: tokio::io::AsyncRead + Unpin>(mut reader: BufReader<R>, sink: LogSink) {
    while let Some(line) = read_line_capped(&mut reader).await {
        tracing::info!(target: "nubo::function", function = %sink.function, "{line}");
        if let Ok(mut capture) = sink.capture.lock()
            && let Some(captured) = capture.as_mut()
        {
            captured.push(line.clone());
            // Bounded: the oldest lines go first, as only the tail is shown.
            let mut size: usize = captured.iter().map(String::len).sum();
            while size > MAX_CAPTURE_BYTES && captured.len() > 1 {
                size -= captured.remove(0).len();
            }
        }
        if let Some(shipper) = &sink.shipper {
            shipper.line(&sink.function, &sink.stream, line);
        }
    }
}
