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
//! nubo must be root to build it (a rootless host would need user
//! namespaces; not done yet). Without it, or where a step is refused,
//! environments run as before: their own process group, a cleared
//! environment and a private `TMPDIR`, and the start-up line says so.

pub mod cgroup;
pub mod init;
pub mod network;
pub mod seccomp;

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};

pub use init::{Spec, enter_if_asked};

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
    /// The executable that runs [`init`]'s stages (it calls
    /// [`enter_if_asked`] first thing): the nubo binary sets itself. Not
    /// configurable; a process that runs the services in-process without
    /// one (a test harness) has no sandbox.
    #[serde(skip)]
    pub entry_point: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self { enabled: true, first_uid: 200_000, uid_count: 4096, entry_point: None }
    }
}

/// The protections this host gives environments.
#[derive(Debug)]
pub struct Sandbox {
    entry_point: PathBuf,
    cgroups: Option<cgroup::Hierarchy>,
    network: bool,
    uids: UidPool,
}

impl Sandbox {
    /// Finds what the host allows, tries a sandbox once, and logs one line
    /// saying which protections are active. `None`: no sandbox at all.
    pub fn detect(settings: &Settings, scratch: &Path) -> Option<Arc<Self>> {
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
        let sandbox =
            Self { entry_point, cgroups, network, uids: UidPool::new(settings.first_uid, settings.uid_count) };
        if let Err(why) = sandbox.probe(scratch) {
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
        Some(Arc::new(sandbox))
    }

    /// Runs `true` in a sandbox with no network, so a host that refuses a
    /// step is found at start-up rather than at the first invocation.
    fn probe(&self, scratch: &Path) -> Result<(), String> {
        let io = |error: std::io::Error| error.to_string();
        std::fs::create_dir_all(scratch).map_err(io)?;
        let trial = tempfile::Builder::new().prefix("probe-").tempdir_in(scratch).map_err(io)?;
        for directory in ["root", "code", "runtime"] {
            std::fs::create_dir(trial.path().join(directory)).map_err(io)?;
        }
        let spec = Spec {
            network: None,
            cgroups: Vec::new(),
            root: trial.path().join("root"),
            code: trial.path().join("code"),
            runtime: trial.path().join("runtime"),
            opt: None,
            tmp_mb: 1,
            uid: self.uids.first,
            hostname: "localhost".into(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "test -d /var/task && ! test -w /".into()],
        };
        let output = std::process::Command::new(&self.entry_point)
            .arg(init::STAGE_ONE)
            .arg(serde_json::to_string(&spec).map_err(|error| error.to_string())?)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .map_err(io)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()))
        }
    }

    pub fn has_network(&self) -> bool {
        self.network
    }

    /// Makes what one environment needs before its runtime starts: a uid,
    /// a cgroup, a network namespace with its listeners.
    pub fn prepare(
        &self,
        environment: &str,
        memory_mb: u32,
        relays: &[(u16, SocketAddr)],
    ) -> std::io::Result<Prepared> {
        let uid = self.uids.lease().ok_or_else(|| std::io::Error::other("every sandbox uid is in use"))?;
        let group = self.cgroups.as_ref().map(|cgroups| cgroups.create(environment, memory_mb)).transpose()?;
        let namespace = if self.network { Some(network::Namespace::new(relays)?) } else { None };
        Ok(Prepared { uid, group, namespace })
    }

    /// The command that builds the sandbox `spec` describes and runs its
    /// program there.
    pub fn command(&self, spec: &Spec) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.entry_point);
        command.arg(init::STAGE_ONE).arg(serde_json::to_string(spec).unwrap_or_default());
        command
    }
}

/// What [`Sandbox::prepare`] made for one environment.
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
