//! Children in their own process groups: spawning one (with its output in a log file and, on
//! Linux, a parent-death signal), signalling the whole group, telling when the group is empty,
//! and the guard that kills the group on every path that forgets to stop it (errors, panics).
//!
//! Nothing here finds processes by name: a group is known by the id of the child benchy
//! spawned, and only that group is ever signalled.

use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use benchy_core::ProcessSpec;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

use super::keeper::Keeper;
use crate::util::atomic::write_atomic;
use crate::util::bad_input::bad_input;
use crate::util::procfs;

/// How often a stopping group is checked for members.
const EMPTY_POLL: Duration = Duration::from_millis(20);

/// The signal a child gets when benchy dies without stopping it (SIGKILLed, say). SIGTERM
/// rather than SIGKILL: vLLM's API server stops its EngineCore and worker processes when it is
/// terminated, but a SIGKILLed API server leaves them running, reparented to init (measured
/// with vLLM 0.32.0: `kill -KILL` of the API server alone leaves `VLLM::EngineCore` and
/// `VLLM::Worker` alive).
#[cfg(target_os = "linux")]
const PARENT_DEATH_SIGNAL: Signal = Signal::SIGTERM;

/// A spawned child, leader of its own process group, with a [`Keeper`] beside it. Dropping it
/// without [`GroupChild::stop`] having emptied the group sends SIGKILL to the whole group.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
    pgid: Pid,
    status: Option<ExitStatus>,
    /// Set once the group was seen empty: from then on its id may be reused and is never
    /// signalled again.
    gone: bool,
    /// Stops the group if benchy dies; dismissed once the group is empty.
    keeper: Option<Keeper>,
}

impl GroupChild {
    /// Starts `spec` in a new process group with stdin closed and stdout and stderr appended to
    /// `log`. A program that cannot be started at all (not found, not executable) is bad input.
    ///
    /// Call this on the thread that runs the current-thread runtime (`block_on`): Linux sends
    /// the parent-death signal when the *thread* that forked exits, and that thread lives as
    /// long as benchy.
    pub fn spawn(spec: &ProcessSpec, log: &Path) -> Result<GroupChild> {
        for (path, text) in &spec.files {
            write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {} for {}", path.display(), spec.name))?;
        }
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open the log file {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, &v.value)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own group: a Ctrl-C at the terminal reaches benchy alone, and benchy stops the
            // group as a whole, grandchildren included.
            .process_group(0);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        #[cfg(target_os = "linux")]
        set_parent_death_signal(&mut command);
        let child = command.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => bad_input(format!(
                "cannot start {} `{}`: {e}; check the program its backend was given (for a \
                 server, `command` in the provider config)",
                spec.name, spec.program
            )),
            _ => anyhow::Error::new(e).context(format!("cannot start `{}`", spec.program)),
        })?;
        let pid = child.id().context("the child has no process id")?;
        let pgid = Pid::from_raw(pid as i32);
        tracing::debug!(name = %spec.name, pid, command = %spec.display_command(), "spawned");
        // The keeper is benchy itself (`benchy __keep`); a unit test's binary is the test
        // harness, so the keeper is left to the CLI tests there.
        let keeper = if cfg!(test) {
            None
        } else {
            Keeper::spawn(pgid, Duration::from_secs_f64(spec.stop_grace_secs))
                .map_err(|e| tracing::warn!("no keeper for {}: {e}", spec.name))
                .ok()
        };
        Ok(GroupChild {
            child,
            pgid,
            status: None,
            gone: false,
            keeper,
        })
    }

    /// The leader's process id, which is also the group's id.
    pub fn pid(&self) -> u32 {
        self.pgid.as_raw() as u32
    }

    /// Waits for the leader to exit (cancel-safe, as `tokio::process::Child::wait`).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self.child.wait().await?;
        self.status = Some(status);
        Ok(status)
    }

    /// The leader's exit status if it has exited (reaping it).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Sends `signal` to every process of the group.
    pub fn signal_group(&self, signal: Signal) {
        if self.gone {
            return;
        }
        match killpg(self.pgid, signal) {
            Ok(()) => tracing::debug!(pgid = self.pgid.as_raw(), %signal, "signalled group"),
            Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(pgid = self.pgid.as_raw(), %signal, "killpg failed: {e}"),
        }
    }

    /// Whether any live (not zombie) process is left in the group; reaps the leader on the way.
    pub fn group_alive(&mut self) -> bool {
        if self.gone {
            return false;
        }
        self.try_status();
        let alive = group_has_live_members(self.pgid);
        if !alive && self.status.is_some() {
            self.gone = true;
            self.keeper = None;
        }
        alive
    }

    /// Stops the group: SIGTERM to all of it, up to `grace` for it to empty, then SIGKILL.
    /// `kill_now` resolving (a second Ctrl-C) skips the rest of the grace. Returns the leader's
    /// exit status.
    pub async fn stop(
        &mut self,
        grace: Duration,
        kill_now: impl Future<Output = ()>,
    ) -> io::Result<ExitStatus> {
        stop_all(&mut [&mut *self], grace, kill_now).await;
        self.wait().await
    }
}

/// Stops several groups at once, so their graces run together rather than one after another:
/// SIGTERM to each, up to `grace` for all to empty, then SIGKILL to those left. Every leader is
/// reaped before this returns.
pub async fn stop_all(
    children: &mut [&mut GroupChild],
    grace: Duration,
    kill_now: impl Future<Output = ()>,
) {
    let mut alive: Vec<usize> = (0..children.len())
        .filter(|&i| children[i].group_alive())
        .collect();
    if !alive.is_empty() {
        for &i in &alive {
            children[i].signal_group(Signal::SIGTERM);
        }
        let emptied = tokio::select! {
            emptied = wait_empty(children, &alive, grace) => emptied,
            () = kill_now => false,
        };
        if !emptied {
            alive.retain(|&i| children[i].group_alive());
            for &i in &alive {
                tracing::debug!(pgid = children[i].pgid.as_raw(), "grace over: SIGKILL");
                children[i].signal_group(Signal::SIGKILL);
            }
            // SIGKILL cannot be ignored; this only covers the kernel's teardown.
            wait_empty(children, &alive, Duration::from_secs(10)).await;
        }
    }
    for child in children.iter_mut() {
        let _ = child.wait().await;
    }
}

/// Waits up to `limit` for the groups `which` to have no live member; true when they emptied.
async fn wait_empty(children: &mut [&mut GroupChild], which: &[usize], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !which.iter().any(|&i| children[i].group_alive()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(EMPTY_POLL).await;
    }
}

impl Drop for GroupChild {
    /// The guard: an error path or a panic that never called `stop` still leaves nothing
    /// running.
    fn drop(&mut self) {
        if !self.gone && group_has_live_members(self.pgid) {
            tracing::debug!(pgid = self.pgid.as_raw(), "dropped while running: SIGKILL");
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
    }
}

/// Arranges, in the forked child before `exec`, for the child to get [`PARENT_DEATH_SIGNAL`]
/// when benchy dies.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_parent_death_signal(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // operations are allowed. It makes two system calls (prctl, getppid) and builds an
    // `io::Error` from a raw errno, which does not allocate; it touches no lock and no memory
    // shared with the parent.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(PARENT_DEATH_SIGNAL).map_err(io::Error::from)?;
            // If benchy died between fork and prctl, the signal will never come: the child has
            // been reparented already. Refuse to exec an orphan.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// Whether the group has a live member. `/proc` is read so that zombies (already dead, waiting
/// for a parent to reap them) do not count; where it cannot be read, `kill(-pgid, 0)`.
pub fn group_has_live_members(pgid: Pid) -> bool {
    procfs::live_group_members(pgid.as_raw())
        .map_or_else(|_| killpg(pgid, None).is_ok(), |m| !m.is_empty())
}

#[cfg(test)]
mod tests {

    use benchy_core::Role;

    use super::*;
    use crate::runner::runtime;

    fn sh(script: &str) -> ProcessSpec {
        ProcessSpec {
            stop_grace_secs: 1.0,
            ..ProcessSpec::new(
                "t",
                Role::Job,
                "sh",
                vec!["-c".into(), script.into()],
                "t.log",
            )
        }
    }

    #[test]
    fn dropping_a_running_child_kills_its_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime().unwrap();
        let pgid = rt.block_on(async {
            let child = GroupChild::spawn(
                &sh("sleep 100 & sleep 100 & echo ready; wait"),
                &dir.path().join("log"),
            )
            .unwrap();
            let pgid = child.pgid;
            while std::fs::read_to_string(dir.path().join("log"))
                .unwrap_or_default()
                .is_empty()
            {
                sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(procfs::live_group_members(pgid.as_raw()).unwrap().len(), 3);
            drop(child);
            pgid
        });
        drop(rt);
        let emptied = crate::util::poll::eventually(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || !group_has_live_members(pgid),
        );
        assert!(emptied, "the group outlived its guard");
    }

    #[test]
    fn the_child_leads_a_new_group_with_closed_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let status = runtime().unwrap().block_on(async {
            let mut child =
                GroupChild::spawn(&sh("ps -o pgid= -p $$; cat; echo err >&2"), &log).unwrap();
            let pid = child.pid();
            let status = child.wait().await.unwrap();
            (pid, status)
        });
        let text = std::fs::read_to_string(&log).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap().trim(),
            status.0.to_string(),
            "pgid = pid"
        );
        assert_eq!(
            lines.next(),
            Some("err"),
            "stdin was empty, stderr went to the log"
        );
        assert!(status.1.success());
    }
}
