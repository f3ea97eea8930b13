//! The two stages that put a runtime in its sandbox, run by the nubo
//! executable itself (`nubo __sandbox <spec>`), so that every step is a
//! plain system call of a fresh single-threaded process rather than code
//! squeezed between `fork` and `exec` of a multi-threaded one.
//!
//! Stage one runs as root in the host's namespaces: it joins the
//! environment's cgroups and network namespace, makes new mount, pid, ipc
//! and uts namespaces, starts stage two, and waits for it, so nubo keeps a
//! child it can wait on and kill. Stage two is pid 1 of the new pid
//! namespace: it builds a root of read-only host system directories,
//! `/proc` and a minimal `/dev`, and compiles its seccomp filter. That much
//! needs no function, so nubo builds sandboxes ahead of need and keeps
//! them waiting (see [`super::standby`]). Once given an [`Assignment`] on
//! its standard input, stage two adds the function's code at `/var/task`,
//! nubo's bootstraps at `/var/runtime`, its layers at `/opt` and a private
//! `/tmp`, pivots into the root, drops to the environment's uid, forbids
//! new privileges, installs the filter and becomes the runtime. When it
//! exits, the kernel kills whatever else runs in the namespace.

use std::{
    io::BufRead,
    os::unix::{fs::symlink, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::CloneFlags,
    unistd::{Gid, Uid},
};
use serde::{Deserialize, Serialize};

/// The argument that starts stage one.
pub const STAGE_ONE: &str = "__sandbox";
/// The argument that starts stage two.
const STAGE_TWO: &str = "__sandbox-init";

/// How to build one sandbox, before any function is given to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// The network namespace to join, as a path to open.
    pub network: Option<String>,
    /// `cgroup.procs` files to join.
    pub cgroups: Vec<PathBuf>,
    /// An empty directory the new root is built on.
    pub root: PathBuf,
    pub uid: u32,
}

/// The function a waiting sandbox becomes, sent as one line of JSON on its
/// standard input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    /// The function's unpacked code, at `/var/task`.
    pub code: PathBuf,
    /// nubo's bootstraps, at `/var/runtime`.
    pub runtime: PathBuf,
    /// The function's layers, merged, at `/opt`.
    #[serde(default)]
    pub opt: Option<PathBuf>,
    /// The size of `/tmp`.
    pub tmp_mb: u32,
    pub hostname: String,
    /// The runtime, with paths as seen inside.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The runtime's whole environment.
    pub env: Vec<(String, String)>,
}

/// The host directories every environment sees, read-only, at the same
/// place (symbolic links, as merged-/usr systems have, are copied).
const SYSTEM_DIRECTORIES: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"];

/// The devices a runtime may open.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Runs a sandbox stage if the command line asks for one. The nubo binary
/// calls this first thing in `main`.
pub fn enter_if_asked() -> Option<ExitCode> {
    let mut arguments = std::env::args();
    let stage = arguments.nth(1)?;
    if stage != STAGE_ONE && stage != STAGE_TWO {
        return None;
    }
    let spec = match arguments.next().map(|spec| serde_json::from_str::<Spec>(&spec)) {
        Some(Ok(spec)) => spec,
        _ => return Some(fail("reading the sandbox spec", "missing or malformed")),
    };
    Some(if stage == STAGE_ONE { stage_one(&spec) } else { stage_two(&spec) })
}

fn fail(step: &str, error: impl std::fmt::Display) -> ExitCode {
    eprintln!("nubo sandbox: {step}: {error}");
    ExitCode::from(127)
}

macro_rules! step {
    ($what:expr, $result:expr) => {
        if let Err(error) = $result {
            return fail($what, error);
        }
    };
}

fn stage_one(spec: &Spec) -> ExitCode {
    let pid = std::process::id().to_string();
    for procs in &spec.cgroups {
        step!("joining the cgroup", std::fs::write(procs, &pid));
    }
    if let Some(network) = &spec.network {
        let namespace = match std::fs::File::open(network) {
            Ok(namespace) => namespace,
            Err(error) => return fail("opening the network namespace", error),
        };
        step!("joining the network namespace", nix::sched::setns(namespace, CloneFlags::CLONE_NEWNET));
    }
    step!(
        "making namespaces",
        nix::sched::unshare(
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS
        )
    );
    // Nothing mounted from here on may reach the host's mount table, while
    // the host's unmounts still reach this copy of it: a sandbox waiting
    // for its function must not keep a host filesystem busy.
    step!(
        "making mounts one-way",
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
    );
    let spec_json = match serde_json::to_string(spec) {
        Ok(json) => json,
        Err(error) => return fail("writing the spec", error),
    };
    let status = match Command::new("/proc/self/exe").arg(STAGE_TWO).arg(spec_json).status() {
        Ok(status) => status,
        Err(error) => return fail("starting the environment", error),
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        // The shell's convention, which the environment reports.
        (None, Some(signal)) => ExitCode::from(128u8.saturating_add(signal as u8)),
        (None, None) => ExitCode::FAILURE,
    }
}

fn stage_two(spec: &Spec) -> ExitCode {
    // If stage one is killed, so is this namespace's init, and with it
    // everything in the namespace.
    step!("setting the parent-death signal", nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL));
    step!("building the root", build_root(&spec.root));
    let filters = match super::seccomp::compile() {
        Ok(filters) => filters,
        Err(error) => return fail("compiling the seccomp filter", error),
    };
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        // nubo let go of this sandbox without using it.
        Ok(0) => return ExitCode::SUCCESS,
        Ok(_) => {}
        Err(error) => return fail("reading the assignment", error),
    }
    let assignment: Assignment = match serde_json::from_str(&line) {
        Ok(assignment) => assignment,
        Err(error) => return fail("reading the assignment", error),
    };
    step!("adding the function", add_function(&spec.root, &assignment));
    step!("entering the root", pivot(&spec.root));
    step!("setting the hostname", nix::unistd::sethostname(&assignment.hostname));
    step!("entering /var/task", std::env::set_current_dir("/var/task"));
    let (uid, gid) = (Uid::from_raw(spec.uid), Gid::from_raw(spec.uid));
    step!("dropping groups", nix::unistd::setgroups(&[]));
    step!("setting the gid", nix::unistd::setresgid(gid, gid, gid));
    step!("setting the uid", nix::unistd::setresuid(uid, uid, uid));
    // The kernel clears the parent-death signal when the uid changes.
    step!("setting the parent-death signal", nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL));
    step!("forbidding new privileges", nix::sys::prctl::set_no_new_privs());
    step!("installing the seccomp filter", filters.install());
    let error = Command::new(&assignment.program)
        .args(&assignment.args)
        .env_clear()
        .envs(assignment.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .exec();
    fail(&format!("starting {}", assignment.program.display()), error)
}

fn bind(source: &Path, target: &Path, read_only: bool) -> nix::Result<()> {
    mount(Some(source), target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)?;
    if read_only {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
        mount(None::<&str>, target, None::<&str>, flags, None::<&str>)?;
    }
    Ok(())
}

fn tmpfs(target: &Path, options: &str) -> nix::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(Some("tmpfs"), target, Some("tmpfs"), flags, Some(options))
}

fn io(what: &str) -> impl Fn(std::io::Error) -> String {
    let what = what.to_owned();
    move |error| format!("{what}: {error}")
}

fn sys(what: &str) -> impl Fn(nix::Error) -> String {
    let what = what.to_owned();
    move |error| format!("{what}: {error}")
}

/// The part of the root every function shares.
fn build_root(root: &Path) -> Result<(), String> {
    let at = |relative: &str| root.join(relative);
    tmpfs(root, "mode=755,size=1m").map_err(sys("mounting the root"))?;
    for directory in SYSTEM_DIRECTORIES {
        let host = Path::new("/").join(directory);
        let Ok(metadata) = std::fs::symlink_metadata(&host) else { continue };
        if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(&host).map_err(io(directory))?;
            symlink(target, at(directory)).map_err(io(directory))?;
        } else if metadata.is_dir() {
            std::fs::create_dir(at(directory)).map_err(io(directory))?;
            bind(&host, &at(directory), true).map_err(sys(directory))?;
        }
    }
    for directory in ["var/task", "var/runtime", "opt", "tmp", "proc", "dev"] {
        std::fs::create_dir_all(at(directory)).map_err(io(directory))?;
    }
    let proc_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), &at("proc"), Some("proc"), proc_flags, None::<&str>).map_err(sys("/proc"))?;
    tmpfs(&at("dev"), "mode=755,size=64k").map_err(sys("/dev"))?;
    for device in DEVICES {
        let host = Path::new("/dev").join(device);
        if host.exists() {
            let target = at("dev").join(device);
            std::fs::write(&target, b"").map_err(io(device))?;
            bind(&host, &target, false).map_err(sys(device))?;
        }
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, at("dev").join(link)).map_err(io(link))?;
    }
    std::fs::create_dir(at("dev/shm")).map_err(io("/dev/shm"))?;
    tmpfs(&at("dev/shm"), "mode=1777,size=64m").map_err(sys("/dev/shm"))?;
    Ok(())
}

/// The part of the root that is the function's.
fn add_function(root: &Path, assignment: &Assignment) -> Result<(), String> {
    let at = |relative: &str| root.join(relative);
    bind(&assignment.code, &at("var/task"), true).map_err(sys("/var/task"))?;
    bind(&assignment.runtime, &at("var/runtime"), true).map_err(sys("/var/runtime"))?;
    if let Some(opt) = &assignment.opt {
        bind(opt, &at("opt"), true).map_err(sys("/opt"))?;
    }
    tmpfs(&at("tmp"), &format!("mode=1777,size={}m", assignment.tmp_mb.max(1))).map_err(sys("/tmp"))
}

/// Makes `root` the root of this mount namespace, detaches the old one,
/// and makes the new root itself read-only.
fn pivot(root: &Path) -> Result<(), String> {
    let old = root.join(".old");
    std::fs::create_dir(&old).map_err(|error| format!("{}: {error}", old.display()))?;
    nix::unistd::pivot_root(root, &old).map_err(|error| format!("pivot_root: {error}"))?;
    std::env::set_current_dir("/").map_err(|error| error.to_string())?;
    umount2("/.old", MntFlags::MNT_DETACH).map_err(|error| format!("detaching the host's root: {error}"))?;
    std::fs::remove_dir("/.old").map_err(|error| error.to_string())?;
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
    mount(None::<&str>, "/", None::<&str>, flags, Some("mode=755")).map_err(|error| format!("read-only root: {error}"))
}
