//! One execution environment: a runtime process in its own process group
//! and, where the host allows, its own sandbox ([`crate::sandbox`]), with
//! a private `/tmp`, a cleared environment holding only the standard
//! `AWS_LAMBDA_*` variables and the function's own, and its own Runtime API
//! listener. Dropping an environment kills its whole process group.

use std::{
    net::SocketAddr,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::{
    io::BufReader,
    process::Command,
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

use crate::{
    code::Code,
    logs::{LogShipper, read_line_capped},
    model::{Function, RuntimeFamily, runtime_family},
    runtime_api::{self, Channel, Invocation, InvocationInput, Reply},
    sandbox::{Assignment, Sandbox, Shell, UidLease, cgroup::Group, network},
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
struct Confinement {
    group: Option<Group>,
    _uid: UidLease,
    /// Keeps the network namespace while the environment lives.
    _network: Option<OwnedFd>,
}

/// A started runtime.
struct Started {
    child: tokio::process::Child,
    /// When the runtime was started (for its Init Duration).
    created: Instant,
    confinement: Option<Confinement>,
    /// Its root (sandboxed) or its `TMPDIR`, removed when it ends.
    directory: tempfile::TempDir,
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

/// A runtime's environment variables, in the order set; setting one again
/// replaces it.
#[derive(Debug, Default)]
struct Variables(Vec<(String, String)>);

impl Variables {
    fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        match self.0.iter_mut().find(|(existing, _)| existing == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
        self
    }
}

/// Puts a function's layers, merged at `opt`, on its runtime's paths, as
/// Lambda's runtimes do.
fn layer_paths(variables: &mut Variables, function: &Function, opt: &Path, path: &str) {
    let at = |relative: &str| opt.join(relative).to_string_lossy().into_owned();
    match runtime_family(&function.runtime) {
        Some(RuntimeFamily::Python) => {
            let site = at(&format!("python/lib/{}/site-packages", function.runtime));
            variables.set("PYTHONPATH", format!("{}:{site}", at("python")));
        }
        Some(RuntimeFamily::Node) => {
            variables.set("NODE_PATH", format!("{}:{}", at("nodejs/node_modules"), at("nodejs")));
        }
        _ => {}
    }
    variables.set("PATH", format!("{}:{path}", at("bin"))).set("LD_LIBRARY_PATH", at("lib"));
}

/// The program that runs a function's runtime and its arguments, with
/// paths as the runtime sees them.
fn runtime_command(
    launcher: &Launcher,
    function: &Function,
    code_dir: &Path,
    runtime_dir: &Path,
) -> (PathBuf, Vec<String>) {
    let bootstrap = |relative: &str| runtime_dir.join(relative).to_string_lossy().into_owned();
    match runtime_family(&function.runtime) {
        Some(RuntimeFamily::Python) => {
            (which(&launcher.python, &launcher.path), vec![bootstrap("python/bootstrap.py")])
        }
        Some(RuntimeFamily::Node) => (which(&launcher.node, &launcher.path), vec![bootstrap("node/bootstrap.mjs")]),
        Some(RuntimeFamily::Provided) | None => (code_dir.join("bootstrap"), Vec::new()),
    }
}

/// `program` looked up in `path`, as the runtime's `execvp` would; the
/// sandbox needs it absolute, since it runs it after changing its root.
pub(crate) fn which(program: &str, path: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    path.split(':')
        .map(|directory| Path::new(directory).join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
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
                Self::start_sandboxed(launcher, sandbox, function, code, &log_stream, &channel, &mut tasks).await
            }
            None => Self::start_unconfined(launcher, function, code, &log_stream, &channel, &mut tasks).await,
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

    /// The variables every runtime gets, as Lambda sets them, then the
    /// function's own, then its layers' paths, credentials and endpoint.
    /// `task`, `runtime`, `tmp` and `opt` are paths as the runtime sees them.
    fn variables(
        launcher: &Launcher,
        function: &Function,
        log_stream: &str,
        runtime_api: &str,
        paths: [&Path; 3],
        opt: Option<&Path>,
        endpoint_url: Option<String>,
    ) -> Variables {
        let [task, runtime, tmp] = paths.map(|path| path.to_string_lossy().into_owned());
        let mut variables = Variables::default();
        variables
            .set("PATH", &launcher.path)
            .set("LANG", "en_US.UTF-8")
            .set("TZ", ":UTC")
            .set("TMPDIR", &tmp)
            .set("HOME", &tmp)
            .set("PYTHONUNBUFFERED", "1")
            .set("LAMBDA_TASK_ROOT", task)
            .set("LAMBDA_RUNTIME_DIR", runtime)
            .set("_HANDLER", &function.handler)
            .set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", function.runtime))
            .set("AWS_LAMBDA_FUNCTION_NAME", &function.name)
            .set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function.memory_mb.to_string())
            .set("AWS_LAMBDA_FUNCTION_VERSION", &function.version)
            .set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .set("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", function.name))
            .set("AWS_LAMBDA_LOG_STREAM_NAME", log_stream)
            .set("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .set("AWS_REGION", &launcher.region)
            .set("AWS_DEFAULT_REGION", &launcher.region);
        for (name, value) in &function.environment {
            variables.set(name, value);
        }
        if let Some(opt) = opt {
            layer_paths(&mut variables, function, opt, &launcher.path);
        }
        if let Some((key, secret)) = &launcher.function_credentials {
            variables.set("AWS_ACCESS_KEY_ID", key).set("AWS_SECRET_ACCESS_KEY", secret);
        }
        if let Some(endpoint_url) = endpoint_url {
            variables.set("AWS_ENDPOINT_URL", endpoint_url);
        }
        variables
    }

    /// Starts the runtime in a sandbox (a waiting one, see
    /// [`crate::sandbox::standby`]; if that one died while it waited, one
    /// built now). `tasks` holds nothing yet.
    async fn start_sandboxed(
        launcher: &Launcher,
        sandbox: &Arc<Sandbox>,
        function: &Function,
        code: &Code,
        log_stream: &str,
        channel: &Arc<Channel>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> std::io::Result<Started> {
        let shell = sandbox.shell().await?;
        match Self::start_in(shell, launcher, sandbox, function, code, log_stream, channel, tasks).await {
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::warn!(function = %function.name, "a waiting sandbox had stopped; starting the runtime in a new one");
                for task in tasks.drain(..) {
                    task.abort();
                }
                let shell = sandbox.build_now().await?;
                Self::start_in(shell, launcher, sandbox, function, code, log_stream, channel, tasks).await
            }
            started => started,
        }
    }

    /// Gives `shell` its function and serves its Runtime API. The
    /// environment's life is counted from the moment the sandbox is given
    /// its function.
    #[allow(clippy::too_many_arguments)]
    async fn start_in(
        mut shell: Shell,
        launcher: &Launcher,
        sandbox: &Sandbox,
        function: &Function,
        code: &Code,
        log_stream: &str,
        channel: &Arc<Channel>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> std::io::Result<Started> {
        if let Some(group) = &shell.prepared.group {
            group.limit_memory(function.memory_mb)?;
        }
        let (listener, runtime_api, network) = match shell.prepared.namespace.take() {
            Some(namespace) => {
                for (listener, target) in namespace.relays {
                    tasks.push(tokio::spawn(network::relay(listener, target)));
                }
                namespace.runtime_api.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(namespace.runtime_api)?;
                (listener, format!("127.0.0.1:{}", network::RUNTIME_API_PORT), Some(namespace.file))
            }
            None => {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
                let address = listener.local_addr()?.to_string();
                (listener, address, None)
            }
        };
        tasks.push(tokio::spawn(runtime_api::serve(listener, channel.clone())));
        // Inside a network namespace the endpoint is reached through its
        // relay on the loopback, whatever host name it has outside.
        let endpoint_url = match (&launcher.endpoint, sandbox.has_network()) {
            (Some(address), true) => Some(format!("http://127.0.0.1:{}", address.port())),
            _ => launcher.endpoint_url.clone(),
        };
        let (task, runtime) = (Path::new("/var/task"), Path::new("/var/runtime"));
        let opt = code.opt.as_ref().map(|_| Path::new("/opt"));
        let variables = Self::variables(
            launcher,
            function,
            log_stream,
            &runtime_api,
            [task, runtime, Path::new("/tmp")],
            opt,
            endpoint_url,
        );
        let (program, args) = runtime_command(launcher, function, task, runtime);
        let assignment = Assignment {
            code: code.task.clone(),
            runtime: launcher.bootstrap_dir.clone(),
            opt: code.opt.clone(),
            tmp_mb: function.ephemeral_storage_mb.max(1),
            hostname: "localhost".into(),
            program,
            args,
            env: variables.0,
        };
        let created = Instant::now();
        shell.assign(&assignment).await?;
        let confinement =
            Confinement { group: shell.prepared.group.take(), _uid: shell.prepared.uid, _network: network };
        Ok(Started { child: shell.child, created, confinement: Some(confinement), directory: shell.root })
    }

    /// Starts the runtime as nubo's own user, in its own process group with
    /// a private `TMPDIR`.
    async fn start_unconfined(
        launcher: &Launcher,
        function: &Function,
        code: &Code,
        log_stream: &str,
        channel: &Arc<Channel>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> std::io::Result<Started> {
        std::fs::create_dir_all(&launcher.scratch_dir)?;
        let tmp = tempfile::Builder::new().prefix("env-").tempdir_in(&launcher.scratch_dir)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?.to_string();
        tasks.push(tokio::spawn(runtime_api::serve(listener, channel.clone())));
        let code_dir = code.task.as_path();
        let variables = Self::variables(
            launcher,
            function,
            log_stream,
            &address,
            [code_dir, &launcher.bootstrap_dir, tmp.path()],
            code.opt.as_deref(),
            launcher.endpoint_url.clone(),
        );
        let (program, args) = runtime_command(launcher, function, code_dir, &launcher.bootstrap_dir);
        let created = Instant::now();
        let child = Command::new(program)
            .args(args)
            .current_dir(code_dir)
            .env_clear()
            .envs(variables.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        Ok(Started { child, created, confinement: None, directory: tmp })
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
