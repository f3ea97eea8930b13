//! Sandboxes built ahead of need. Making a sandbox (a uid, a cgroup, a
//! network namespace, two stages of the nubo executable, the namespaces
//! and the shared part of the root) takes longer than starting a python
//! runtime, and none of it depends on the function. So a few are kept
//! built and waiting on their standard input ([`super::init`]); a cold
//! start takes one, gives it its function, and another is built to replace
//! it, as Lambda keeps execution environments provisioned ahead of the
//! invocations that will need them.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

use tokio::{io::AsyncWriteExt, process::ChildStdin};

use super::{Assignment, Prepared};

/// A sandbox whose stages are running and waiting for a function.
/// Dropping it kills them (and its cgroup goes with its [`Prepared`]).
#[derive(Debug)]
pub struct Shell {
    /// The sandbox's first stage; its standard output and error become the
    /// runtime's.
    pub child: tokio::process::Child,
    stdin: Option<ChildStdin>,
    pub prepared: Prepared,
    /// The directory its root is built on; kept until the sandbox ends.
    pub root: tempfile::TempDir,
}

impl Shell {
    pub(super) fn new(mut child: tokio::process::Child, prepared: Prepared, root: tempfile::TempDir) -> Self {
        let stdin = child.stdin.take();
        Self { child, stdin, prepared, root }
    }

    /// Whether its stages are still running (a sandbox whose build failed
    /// has exited).
    fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Gives the sandbox its function: it adds the function's mounts,
    /// enters its root and becomes the runtime.
    pub async fn assign(&mut self, assignment: &Assignment) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(assignment).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut stdin = self.stdin.take().ok_or_else(|| std::io::Error::other("the sandbox was already assigned"))?;
        stdin.write_all(&line).await?;
        stdin.flush().await
    }
}

/// The waiting sandboxes.
#[derive(Debug)]
pub(super) struct Pool {
    target: usize,
    shells: Mutex<Vec<Shell>>,
    refilling: AtomicBool,
    stopped: AtomicBool,
}

impl Pool {
    pub(super) fn new(target: usize) -> Self {
        Self { target, shells: Mutex::default(), refilling: AtomicBool::new(false), stopped: AtomicBool::new(false) }
    }

    fn shells(&self) -> std::sync::MutexGuard<'_, Vec<Shell>> {
        self.shells.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The oldest waiting sandbox that is still alive.
    pub(super) fn take(&self) -> Option<Shell> {
        let mut shells = self.shells();
        while !shells.is_empty() {
            let mut shell = shells.remove(0);
            if shell.is_alive() {
                return Some(shell);
            }
            tracing::warn!(status = ?shell.child.try_wait(), "a standby function sandbox had exited");
        }
        None
    }

    pub(super) fn put(&self, shell: Shell) {
        // Checked under the lock `stop` clears the pool under, so no shell
        // is kept after it.
        let mut shells = self.shells();
        if !self.stopped.load(Ordering::Acquire) {
            shells.push(shell);
        }
    }

    /// Whether another sandbox should be built.
    pub(super) fn wanted(&self) -> bool {
        !self.stopped.load(Ordering::Acquire) && self.shells().len() < self.target
    }

    /// Claims the one refill; `false` if one is running or none is needed.
    pub(super) fn start_refill(&self) -> bool {
        self.wanted() && !self.refilling.swap(true, Ordering::AcqRel)
    }

    fn end_refill(&self) {
        self.refilling.store(false, Ordering::Release);
    }

    /// Kills the waiting sandboxes and removes their cgroups, waiting for
    /// it, since this is the end of the service.
    pub(super) async fn stop(&self) {
        let shells = {
            let mut shells = self.shells();
            self.stopped.store(true, Ordering::Release);
            std::mem::take(&mut *shells)
        };
        for mut shell in shells {
            let _ = shell.child.start_kill();
            if let Some(group) = shell.prepared.group.take() {
                group.remove_now().await;
            }
        }
    }
}

/// The refill in progress; dropping it ends the refill, so a build that
/// panics does not leave the pool unrefilled for good.
pub(super) struct RefillClaim<'a>(pub(super) &'a Pool);

impl Drop for RefillClaim<'_> {
    fn drop(&mut self) {
        self.0.end_refill();
    }
}
