//! Memory and process limits for one environment, through whichever cgroup
//! version the host has: the unified (v2) hierarchy when it has the memory
//! controller, else the v1 `memory` and `pids` hierarchies. Each
//! environment gets a group of its own under nubo's, nested below the
//! group nubo itself runs in, so a host's limit on nubo still binds its
//! functions.

use std::{
    io,
    path::{Path, PathBuf},
    time::Duration,
};

/// Lambda's limit on processes and threads in one environment.
pub const MAX_PROCESSES: u32 = 1024;

/// Where nubo's environment groups live on this host.
#[derive(Debug, Clone)]
pub enum Hierarchy {
    /// cgroup v2, with the memory and pids controllers enabled below it.
    Unified(PathBuf),
    /// cgroup v1: the parent in the memory hierarchy and, where mounted,
    /// in the pids hierarchy.
    Legacy { memory: PathBuf, pids: Option<PathBuf> },
}

impl Hierarchy {
    /// Finds the cgroup mounts and makes nubo's parent group under the
    /// group this process runs in. `Err` says why there is none.
    pub fn detect(parent_name: &str) -> Result<Self, String> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").map_err(|error| format!("mountinfo: {error}"))?;
        let own =
            std::fs::read_to_string("/proc/self/cgroup").map_err(|error| format!("/proc/self/cgroup: {error}"))?;
        let mut unified = None;
        let mut memory = None;
        let mut pids = None;
        for line in mounts.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(separator) = fields.iter().position(|field| *field == "-") else { continue };
            let (Some(root), Some(mount_point), Some(kind), Some(options)) =
                (fields.get(3), fields.get(4), fields.get(separator + 1), fields.get(separator + 3))
            else {
                continue;
            };
            let at = |controller: &str| own_group(&own, controller).map(|group| joined(mount_point, root, &group));
            match *kind {
                "cgroup2" => unified = unified.or_else(|| at("")),
                "cgroup" if options.split(',').any(|option| option == "memory") => memory = at("memory"),
                "cgroup" if options.split(',').any(|option| option == "pids") => pids = at("pids"),
                _ => {}
            }
        }
        let unified = match unified.filter(|path| has_controllers(path)) {
            Some(own) => match delegate(&own, parent_name) {
                Ok(parent) => {
                    sweep(&parent);
                    return Ok(Self::Unified(parent));
                }
                Err(why) => Some(why),
            },
            None => None,
        };
        let Some(memory) = memory else {
            return Err(unified.unwrap_or_else(|| "no memory controller is mounted".to_owned()));
        };
        let memory = memory.join(parent_name);
        make_group(&memory)?;
        let pids = pids.map(|pids| pids.join(parent_name)).filter(|pids| make_group(pids).is_ok());
        sweep(&memory);
        if let Some(pids) = &pids {
            sweep(pids);
        }
        Ok(Self::Legacy { memory, pids })
    }

    /// What the start-up line says of it.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Unified(_) => "cgroup v2 memory+pids",
            Self::Legacy { pids: Some(_), .. } => "cgroup v1 memory+pids",
            Self::Legacy { pids: None, .. } => "cgroup v1 memory (no pids controller)",
        }
    }

    /// Makes the group of one environment, limited to Lambda's process
    /// count; its memory limit is set when its function is known.
    pub fn create(&self, name: &str) -> io::Result<Group> {
        let (memory, pids, unified) = match self {
            Self::Unified(parent) => (parent.join(name), None, true),
            Self::Legacy { memory, pids } => (memory.join(name), pids.as_ref().map(|pids| pids.join(name)), false),
        };
        std::fs::create_dir(&memory)?;
        let mut group = Group { paths: vec![memory.clone()], unified };
        let pids = match pids {
            Some(pids) => {
                std::fs::create_dir(&pids)?;
                group.paths.push(pids.clone());
                pids
            }
            None => memory,
        };
        if unified || group.paths.len() > 1 {
            std::fs::write(pids.join("pids.max"), MAX_PROCESSES.to_string())?;
        }
        Ok(group)
    }
}

/// Makes nubo's parent group below `own` with the memory and pids
/// controllers enabled for its children. A v2 group that holds processes
/// cannot hand controllers down (the no-internal-processes rule), so the
/// parent holds none itself; enabling them in `own` works where `own` is
/// the root or a delegated group nubo alone runs in.
fn delegate(own: &Path, parent_name: &str) -> Result<PathBuf, String> {
    let enable = |group: &Path| {
        std::fs::write(group.join("cgroup.subtree_control"), "+memory +pids")
            .map_err(|error| format!("cgroup v2 at {}: {error}", group.display()))
    };
    let parent = own.join(parent_name);
    make_group(&parent)?;
    if !has_controllers(&parent) {
        enable(own)?;
    }
    enable(&parent)?;
    Ok(parent)
}

fn has_controllers(path: &Path) -> bool {
    std::fs::read_to_string(path.join("cgroup.controllers"))
        .map(|controllers| {
            let controllers: Vec<&str> = controllers.split_whitespace().collect();
            controllers.contains(&"memory") && controllers.contains(&"pids")
        })
        .unwrap_or(false)
}

fn make_group(path: &Path) -> Result<(), String> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

/// This process's group in the hierarchy holding `controller` (`""` for v2).
fn own_group(own: &str, controller: &str) -> Option<String> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|name| name == controller)
        };
        matches.then(|| path.to_owned())
    })
}

/// The directory of `group` under a mount of the hierarchy rooted at `root`.
fn joined(mount_point: &str, root: &str, group: &str) -> PathBuf {
    let relative = group.strip_prefix(root).unwrap_or(group).trim_start_matches('/');
    Path::new(mount_point).join(relative)
}

/// One environment's group (one directory per v1 hierarchy). Dropping it
/// kills what runs in it and removes it.
#[derive(Debug)]
pub struct Group {
    paths: Vec<PathBuf>,
    unified: bool,
}

impl Group {
    /// The `cgroup.procs` files a process writes its pid to, to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.paths.iter().map(|path| path.join("cgroup.procs")).collect()
    }

    fn memory(&self) -> &Path {
        &self.paths[0]
    }

    /// Holds the group to `memory_mb`, swap included.
    pub fn limit_memory(&self, memory_mb: u32) -> io::Result<()> {
        let bytes = (u64::from(memory_mb) * 1024 * 1024).to_string();
        if self.unified {
            std::fs::write(self.memory().join("memory.max"), &bytes)?;
            // Swap would let a function run past its memory size.
            let _ = std::fs::write(self.memory().join("memory.swap.max"), "0");
        } else {
            // The memory limit first: v1 keeps it at most the memory+swap
            // limit, which starts unlimited.
            std::fs::write(self.memory().join("memory.limit_in_bytes"), &bytes)?;
            let _ = std::fs::write(self.memory().join("memory.memsw.limit_in_bytes"), &bytes);
        }
        Ok(())
    }

    /// Peak memory of the group, in MB.
    pub fn peak_memory_mb(&self) -> Option<u64> {
        let file = if self.unified { "memory.peak" } else { "memory.max_usage_in_bytes" };
        let bytes: u64 = std::fs::read_to_string(self.memory().join(file)).ok()?.trim().parse().ok()?;
        Some(bytes.div_ceil(1024 * 1024))
    }

    /// How many times the kernel killed a process of the group for memory.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.unified { "memory.events" } else { "memory.oom_control" };
        std::fs::read_to_string(self.memory().join(file))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| line.strip_prefix("oom_kill ").and_then(|count| count.trim().parse().ok()))
            })
            .unwrap_or(0)
    }

    /// Kills what runs in the group and removes it, waiting for it: at the
    /// end of the service, when no task would be left to finish the job.
    pub async fn remove_now(mut self) {
        let paths = std::mem::take(&mut self.paths);
        if !try_remove(&paths, self.unified) {
            remove(paths, self.unified).await;
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let paths = std::mem::take(&mut self.paths);
        if paths.is_empty() || try_remove(&paths, self.unified) {
            return;
        }
        // Killed processes take a moment to leave the group.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(remove(paths, self.unified));
        }
    }
}

fn kill_all(paths: &[PathBuf], unified: bool) {
    if unified
        && let Some(memory) = paths.first()
        && std::fs::write(memory.join("cgroup.kill"), "1").is_ok()
    {
        return;
    }
    for path in paths {
        let Ok(pids) = std::fs::read_to_string(path.join("cgroup.procs")) else { continue };
        for pid in pids.lines().filter_map(|pid| pid.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Kills what is in a group's directories and removes them; `false` while
/// a process is still leaving.
fn try_remove(paths: &[PathBuf], unified: bool) -> bool {
    kill_all(paths, unified);
    paths.iter().all(|path| match std::fs::remove_dir(path) {
        Ok(()) => true,
        Err(error) => error.kind() == io::ErrorKind::NotFound,
    })
}

/// Removes a group's directories, waiting a little for killed processes
/// to leave them.
async fn remove(paths: Vec<PathBuf>, unified: bool) {
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if try_remove(&paths, unified) {
            return;
        }
    }
    warn_left(&paths);
}

fn warn_left(paths: &[PathBuf]) {
    if let Some(path) = paths.first() {
        tracing::warn!(group = %path.display(), "an environment's cgroup could not be removed");
    }
}

/// Removes the empty groups a previous run left under `parent` (one that
/// stopped before its environments' groups were gone). A group with
/// processes refuses; one younger than a minute may be another nubo's on
/// the same host, about to be joined, and is not tried.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let old = |entry: &std::fs::DirEntry| {
        entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > Duration::from_secs(60)))
    };
    for entry in entries.flatten() {
        let is_group = entry.file_type().is_ok_and(|kind| kind.is_dir());
        if is_group && entry.file_name().to_string_lossy().starts_with("env-") && old(&entry) {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_below_the_mount_root() {
        let own = "9:name=systemd:/\n4:memory:/process_api/abc\n8:pids:/\n0::/user.slice/x\n";
        assert_eq!(own_group(own, "memory").as_deref(), Some("/process_api/abc"));
        assert_eq!(own_group(own, "").as_deref(), Some("/user.slice/x"));
        assert_eq!(
            joined("/sys/fs/cgroup/memory", "/", "/process_api/abc"),
            Path::new("/sys/fs/cgroup/memory/process_api/abc")
        );
        // A container sees its own group as the mount's root.
        assert_eq!(joined("/sys/fs/cgroup", "/docker/1", "/docker/1"), Path::new("/sys/fs/cgroup"));
    }
}
