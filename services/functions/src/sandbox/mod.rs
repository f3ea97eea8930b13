//! Execution environments' sandbox, built from what the host allows and
//! said in one line at start-up. With every protection an environment:
//! - runs as a uid of its own, from a configured range, with no
//!   capabilities, `no_new_privs` and a seccomp filter ([`seccomp`]);
//! - has mount, pid, ipc and uts namespaces of its own, and a root made of
//!   read-only host system directories, its code at `/var/task`, nubo's
//!   bootstraps at `/var/runtime` and a private `/tmp` sized by
//!   `EphemeralStorage` ([`init`]): no other function's code, no state
//!   directory;
//! - has a network namespace whose loopback holds its Runtime API and
//!   relays to nubo's public endpoints, so the internal plane and other
//!   environments are unreachable ([`network`]);
//! - is held to its `MemorySize` and to Lambda's 1,024 processes by a
//!   cgroup, which also measures its peak memory and counts OOM kills
//!   ([`cgroup`]).
//!
//! All of that but the function's own mounts is built before a function
//! needs it: a few sandboxes wait, ready, for the next cold start
//! ([`standby`]), which then costs little more than the runtime's own
//! start.
//!
//! nubo must be root to build it (a rootless host would need user
//! namespaces; not done yet). Without it, or where a step is refused,
//! environments run as before: their own process group, a cleared
//! environment and a private `TMPDIR`, and the start-up line says so.

pub mod cgroup;
pub mod init;
pub mod network;
pub mod seccomp;
pub mod standby;

use std::{
    collections::BTreeSet,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};

pub use init::{Assignment, Spec, enter_if_asked};
pub use standby::Shell;

/// How long after a cold start takes a standby sandbox its replacement is
/// built: building one competes for the CPU and the kernel's mount locks
/// with the runtime that just started, which should have them to itself.
const REFILL_DELAY: Duration = Duration::from_millis(200);

/// The `[functions.sandbox]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Sandbox environments where the host allows it.
    pub enabled: bool,
    /// Environments run as uids `first_uid ..= first_uid + uid_count - 1`,
    /// one each; none of them should own files on the host.
    pub first_uid: u32,
    pub uid_count: u32,
    /// Sandboxes kept built and waiting for a function, so a cold start
    /// does not wait for one to be made.
    pub standby: usize,
    /// The executable that runs [`init`]'s stages (it calls
    /// [`enter_if_asked`] first thing): the nubo binary sets itself. Not
    /// configurable; a process that runs the services in-process without
    /// one (a test harness) has no sandbox.
    #[serde(skip)]
    pub entry_point: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self { enabled: true, first_uid: 200_000, uid_count: 4096, standby: 2, entry_point: None }
    }
}

/// The protections this host gives environments, and the sandboxes built
/// ahead of need.
#[derive(Debug)]
pub struct Sandbox {
    entry_point: PathBuf,
    cgroups: Option<cgroup::Hierarchy>,
    network: bool,
    uids: UidPool,
    /// Where each sandbox's root is built.
    scratch: PathBuf,
    /// The relays every network namespace gets: a port of its loopback and
    /// the address outside it reaches.
    relays: Vec<(u16, SocketAddr)>,
    standby: standby::Pool,
}

impl Sandbox {
    /// Finds what the host allows, tries a sandbox once, and logs one line
    /// saying which protections are active. `None`: no sandbox at all.
    /// Sandboxes are built under `scratch`, with a relay on their loopback
    /// per entry of `relays`.
    pub fn detect(settings: &Settings, scratch: &Path, relays: Vec<(u16, SocketAddr)>) -> Option<Arc<Self>> {
        let off = |why: &str| {
            tracing::warn!("function sandbox: off ({why}); environments run as nubo's user in its namespaces");
            None
        };
        if !settings.enabled {
            return off("functions.sandbox.enabled = false");
        }
        let Some(entry_point) = settings.entry_point.clone() else {
            return off("this executable cannot enter a sandbox");
        };
        if !nix::unistd::geteuid().is_root() {
            return off("nubo is not root");
        }
        let mut skipped = Vec::new();
        let cgroups = cgroup::Hierarchy::detect("nubo")
            .map_err(|why| skipped.push(format!("memory and process limits ({why})")))
            .ok();
        let network = match network::Namespace::new(&[]) {
            Ok(_) => true,
            Err(error) => {
                skipped.push(format!("network namespace ({error}): functions share the host's network"));
                false
            }
        };
        let sandbox = Self {
            entry_point,
            cgroups,
            network,
            uids: UidPool::new(settings.first_uid, settings.uid_count),
            scratch: scratch.to_owned(),
            relays,
            // Each waiting sandbox holds a uid; most must stay for the
            // environments themselves.
            standby: standby::Pool::new(settings.standby.min(settings.uid_count as usize / 2)),
        };
        if let Err(why) = sandbox.probe() {
            return off(&format!("a trial environment failed: {why}"));
        }
        let mut active = vec![
            format!("own uid per environment (from {})", settings.first_uid),
            "mount+pid+ipc+uts namespaces".to_owned(),
            "read-only root with /var/task and a private /tmp".to_owned(),
        ];
        if sandbox.network {
            active.push("network namespace (Runtime API and nubo's endpoints only)".to_owned());
        }
        if let Some(cgroups) = &sandbox.cgroups {
            active.push(cgroups.describe().to_owned());
        }
        active.push("seccomp, no_new_privs".to_owned());
        skipped.push("user namespace (nubo is root: environments drop to their own uid instead)".to_owned());
        tracing::info!("function sandbox: {}; not used: {}", active.join(", "), skipped.join("; "));
        let sandbox = Arc::new(sandbox);
        sandbox.refill(Duration::ZERO);
        Some(sandbox)
    }

    /// Runs a test in a sandbox with no network and no cgroup, so a host
    /// that refuses a step is found at start-up rather than at the first
    /// invocation.
    fn probe(&self) -> Result<(), String> {
        let io = |error: std::io::Error| error.to_string();
        std::fs::create_dir_all(&self.scratch).map_err(io)?;
        let trial = tempfile::Builder::new().prefix("probe-").tempdir_in(&self.scratch).map_err(io)?;
        for directory in ["root", "code", "runtime"] {
            std::fs::create_dir(trial.path().join(directory)).map_err(io)?;
        }
        let spec = Spec { network: None, cgroups: Vec::new(), root: trial.path().join("root"), uid: self.uids.first };
        let assignment = Assignment {
            code: trial.path().join("code"),
            runtime: trial.path().join("runtime"),
            opt: None,
            tmp_mb: 1,
            hostname: "localhost".into(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "test -d /var/task && ! test -w / && test -w /tmp".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        };
        let mut child = std::process::Command::new(&self.entry_point)
            .arg(init::STAGE_ONE)
            .arg(serde_json::to_string(&spec).map_err(|error| error.to_string())?)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io)?;
        let mut line = serde_json::to_vec(&assignment).map_err(|error| error.to_string())?;
        line.push(b'\n');
        if let Some(mut stdin) = child.stdin.take() {
            // A stage that failed early has closed its end; its output says why.
            let _ = stdin.write_all(&line);
        }
        let output = child.wait_with_output().map_err(io)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()))
        }
    }

    pub fn has_network(&self) -> bool {
        self.network
    }

    /// A sandbox waiting for a function: one built ahead of need if there
    /// is one (and another is then built to replace it), else one built now
    /// on a blocking thread.
    pub async fn shell(self: &Arc<Self>) -> std::io::Result<Shell> {
        let shell = self.standby.take();
        self.refill(REFILL_DELAY);
        match shell {
            Some(shell) => Ok(shell),
            None => self.build_now().await,
        }
    }

    /// A sandbox built now, on a blocking thread.
    pub async fn build_now(self: &Arc<Self>) -> std::io::Result<Shell> {
        let sandbox = self.clone();
        tokio::task::spawn_blocking(move || sandbox.build())
            .await
            .map_err(|error| std::io::Error::other(format!("the sandbox build stopped: {error}")))?
    }

    /// Builds standby sandboxes, off the caller's thread and from `after`
    /// on, until there are as many as configured.
    fn refill(self: &Arc<Self>, after: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if !self.standby.start_refill() {
            return;
        }
        let sandbox = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tokio::task::spawn_blocking(move || sandbox.refill_now()).await;
        });
    }

    /// The refill itself, on a blocking thread, holding the refill claim.
    fn refill_now(&self) {
        loop {
            {
                // Gives the claim back however this block is left.
                let _claim = standby::RefillClaim(&self.standby);
                while self.standby.wanted() {
                    match self.build() {
                        Ok(shell) => self.standby.put(shell),
                        Err(error) => {
                            tracing::warn!(%error, "a standby function sandbox could not be built");
                            return;
                        }
                    }
                }
            }
            // A sandbox taken after the last check and before the claim was
            // given back would otherwise not be replaced.
            if !self.standby.start_refill() {
                return;
            }
        }
    }

    /// Drops the waiting sandboxes and builds no more.
    pub async fn stop(&self) {
        self.standby.stop().await;
    }

    /// Makes a uid, a cgroup and a network namespace with its listeners,
    /// and starts the sandbox's stages, which build what every function
    /// shares and then wait for their [`Assignment`].
    fn build(&self) -> std::io::Result<Shell> {
        let uid = self.uids.lease().ok_or_else(|| std::io::Error::other("every sandbox uid is in use"))?;
        std::fs::create_dir_all(&self.scratch)?;
        let root = tempfile::Builder::new().prefix("env-").tempdir_in(&self.scratch)?;
        let name = root.path().file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let group = self.cgroups.as_ref().map(|cgroups| cgroups.create(&name)).transpose()?;
        let namespace = if self.network { Some(network::Namespace::new(&self.relays)?) } else { None };
        let spec = Spec {
            network: namespace.as_ref().map(network::Namespace::path),
            cgroups: group.as_ref().map(cgroup::Group::procs_files).unwrap_or_default(),
            root: root.path().to_owned(),
            uid: uid.uid,
        };
        let mut command = tokio::process::Command::new(&self.entry_point);
        command
            .arg(init::STAGE_ONE)
            .arg(serde_json::to_string(&spec).map_err(std::io::Error::other)?)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = command.spawn()?;
        Ok(Shell::new(child, Prepared { uid, group, namespace }, root))
    }
}

/// What a sandbox holds on the host: its uid, cgroup and network.
#[derive(Debug)]
pub struct Prepared {
    pub uid: UidLease,
    pub group: Option<cgroup::Group>,
    pub namespace: Option<network::Namespace>,
}

/// The uids environments run as, one per live environment.
#[derive(Debug)]
struct UidPool {
    first: u32,
    count: u32,
    used: Arc<Mutex<BTreeSet<u32>>>,
}

impl UidPool {
    fn new(first: u32, count: u32) -> Self {
        Self { first, count: count.max(1), used: Arc::default() }
    }

    fn lease(&self) -> Option<UidLease> {
        let mut used = self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let uid = (self.first..self.first.saturating_add(self.count)).find(|uid| !used.contains(uid))?;
        used.insert(uid);
        Some(UidLease { uid, used: self.used.clone() })
    }
}

/// A uid held by one environment until it is dropped.
#[derive(Debug)]
pub struct UidLease {
    pub uid: u32,
    used: Arc<Mutex<BTreeSet<u32>>>,
}

impl Drop for UidLease {
    fn drop(&mut self) {
        self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_leased_once_and_given_back() {
        let pool = UidPool::new(1000, 2);
        let first = pool.lease().unwrap();
        let second = pool.lease().unwrap();
        assert_eq!((first.uid, second.uid), (1000, 1001));
        assert!(pool.lease().is_none());
        drop(first);
        assert_eq!(pool.lease().unwrap().uid, 1000);
    }
}
