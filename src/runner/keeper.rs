//! The keeper: a small process of benchy's own, started beside each child, that stops the
//! child's process group if benchy dies without doing so (SIGKILLed, say).
//!
//! The child's own parent-death signal is not enough for vLLM: its API server swallows SIGTERM
//! while it waits for the engine's handshake (a `KeyboardInterrupt` caught in `zmq_socket_ctx`,
//! vllm/utils/network_utils.py), so a SIGTERMed server that is still loading goes on loading
//! and serves for ever; and a SIGKILLed API server leaves its EngineCore and worker running.
//! The keeper gets SIGTERM when benchy dies and then does what benchy would have done: SIGTERM to
//! the group, the grace, SIGKILL to the group. It lives in its own process group, so stopping
//! the child's group or a Ctrl-C at the terminal never reaches it; benchy dismisses it (SIGKILL
//! and reap) once the child's group is empty.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal, killpg};
use nix::unistd::{Pid, getppid};

use super::group::group_has_live_members;
use crate::util::poll;

/// The hidden subcommand that runs a keeper.
pub const SUBCOMMAND: &str = "__keep";

/// The signals a keeper takes as "benchy is gone": the parent-death signal, and a terminal's
/// hang-up. They are blocked from before `exec` so none is lost before the keeper waits.
fn watched() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set
}

/// A running keeper; dropping it dismisses it.
#[derive(Debug)]
pub struct Keeper {
    child: Child,
}

impl Keeper {
    /// Starts a keeper for the group `pgid`, which stops it with `grace` if benchy dies.
    pub fn spawn(pgid: Pid, grace: Duration) -> io::Result<Keeper> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args([
                SUBCOMMAND,
                &pgid.as_raw().to_string(),
                &grace.as_millis().to_string(),
                &std::process::id().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        prepare_keeper(&mut command);
        let child = command.spawn()?;
        tracing::debug!(pid = child.id(), pgid = pgid.as_raw(), "keeper started");
        Ok(Keeper { child })
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In the forked keeper before `exec`: block the watched signals (the mask survives `exec`),
/// then ask for SIGTERM when benchy dies.
#[allow(unsafe_code)]
fn prepare_keeper(command: &mut Command) {
    let parent = nix::unistd::getpid();
    let set = watched();
    // SAFETY: runs between fork and exec; pthread_sigmask, prctl and getppid are
    // async-signal-safe system calls, `set` was built before the fork, and the errors are made
    // from raw errno values without allocating.
    unsafe {
        command.pre_exec(move || {
            set.thread_block().map_err(io::Error::from)?;
            #[cfg(target_os = "linux")]
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from)?;
            if getppid() != parent {
                return Err(io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// The keeper's life: wait until benchy is gone, then stop the group. `parent` is benchy's pid,
/// to notice a death that came before the wait.
pub fn run(pgid: i32, grace_ms: u64, parent: i32) -> ExitCode {
    let pgid = Pid::from_raw(pgid);
    let set = watched();
    // Blocked already (inherited); blocking again makes the keeper correct on its own.
    let _ = set.thread_block();
    // Only benchy's death counts: a stray signal while benchy lives is ignored.
    while getppid().as_raw() == parent {
        let _ = set.wait();
    }
    if !group_has_live_members(pgid) {
        return ExitCode::SUCCESS;
    }
    let _ = killpg(pgid, Signal::SIGTERM);
    let emptied = poll::eventually(
        Duration::from_millis(grace_ms),
        Duration::from_millis(50),
        || !group_has_live_members(pgid),
    );
    if !emptied {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    ExitCode::SUCCESS
}
