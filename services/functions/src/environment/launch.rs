//! How an environment's runtime is started: the variables Lambda gives
//! it, the program that runs it, and the two ways it is started, in a
//! sandbox given its function or as nubo's own user.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Instant,
};

use tokio::{process::Command, task::JoinHandle};

use super::{Confinement, Launcher};
use crate::{
    code::Code,
    model::{Function, RuntimeFamily, runtime_family},
    runtime_api::{self, Channel},
    sandbox::{Assignment, Sandbox, Shell, network},
};

/// A started runtime.
pub(super) struct Started {
    pub(super) child: tokio::process::Child,
    /// When the runtime was started (for its Init Duration).
    pub(super) created: Instant,
    pub(super) confinement: Option<Confinement>,
    /// Its root (sandboxed) or its `TMPDIR`, removed when it ends.
    pub(super) directory: tempfile::TempDir,
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
pub(super) async fn start_sandboxed(
    launcher: &Launcher,
    sandbox: &Arc<Sandbox>,
    function: &Function,
    code: &Code,
    log_stream: &str,
    channel: &Arc<Channel>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> std::io::Result<Started> {
    let shell = sandbox.shell().await?;
    match start_in(shell, launcher, sandbox, function, code, log_stream, channel, tasks).await {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            tracing::warn!(function = %function.name, "a waiting sandbox had stopped; starting the runtime in a new one");
            for task in tasks.drain(..) {
                task.abort();
            }
            let shell = sandbox.build_now().await?;
            start_in(shell, launcher, sandbox, function, code, log_stream, channel, tasks).await
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
    let variables =
        variables(launcher, function, log_stream, &runtime_api, [task, runtime, Path::new("/tmp")], opt, endpoint_url);
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
    let confinement = Confinement { group: shell.prepared.group.take(), _uid: shell.prepared.uid, _network: network };
    Ok(Started { child: shell.child, created, confinement: Some(confinement), directory: shell.root })
}

/// Starts the runtime as nubo's own user, in its own process group with
/// a private `TMPDIR`.
pub(super) async fn start_unconfined(
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
    let variables = variables(
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
