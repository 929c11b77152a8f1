//! The runner: the only place in benchy that spawns, signals and reaps processes. Backends
//! describe processes ([`benchy_core::ProcessSpec`]); the runner starts each in its own process
//! group, sends its output to a log file, waits for servers to be ready and jobs to finish, and
//! stops every group it started (SIGTERM, the spec's grace, SIGKILL) on success, failure,
//! timeout, panic or Ctrl-C.
//!
//! It runs inside a current-thread tokio runtime built by the command ([`runtime`]); sources
//! that block on the network are resolved before the runtime starts.

pub mod client;
mod group;
mod interrupt;
pub mod jobs;
pub mod keeper;
mod listener;
pub mod log_tail;
pub(crate) mod port;
mod progress;
pub(crate) mod readiness;
pub mod server;
pub mod server_url;
pub mod startup;

use std::process::ExitStatus;

use anyhow::Result;

use crate::util::stdio::errln;
use interrupt::Interrupts;
pub use interrupt::{Interrupted, StopSignal};
use progress::Console;
pub use progress::Stage;

/// The run's process supervisor: the signals benchy catches and the console it reports on.
#[derive(Debug)]
pub struct Runner {
    interrupts: Interrupts,
    console: Console,
}

impl Runner {
    /// Catches SIGINT and SIGTERM from now on. Call inside the runtime, before any process
    /// starts.
    pub fn new() -> Result<Runner> {
        Ok(Runner {
            interrupts: Interrupts::catch()?,
            console: Console::detect(),
        })
    }

    /// Prints one line on stderr, above any live progress lines.
    pub fn say(&self, text: &str) {
        self.console.line(text);
    }

    /// Sets (or clears) where the suite is: every line says it from now on.
    pub fn set_stage(&self, stage: Option<Stage>) {
        self.console.set_stage(stage);
    }

    /// How many SIGINT and SIGTERM were caught so far.
    pub fn interrupts_seen(&self) -> u32 {
        self.interrupts.count()
    }

    /// Resolves when more than `seen` SIGINT or SIGTERM were caught, with the first one: for a
    /// wait that is not on a process of benchy's (a scheduler's queue).
    pub async fn interrupted(&self, seen: u32) -> StopSignal {
        self.interrupts.after(seen).await
    }
}

/// The runtime the runner runs in. Current-thread on purpose: every child is spawned from the
/// main thread, which lives as long as benchy, and Linux's parent-death signal follows the
/// thread that forked.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// benchy's own log records (what the runner does with processes, signals and probes) on
/// stderr, at the level `BENCHY_LOG` names; none when it is unset.
pub fn init_logging() {
    use std::io::IsTerminal;

    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let Some(level) = std::env::var_os(crate::util::env_vars::EnvVars::BENCHY_LOG) else {
        return;
    };
    let level = level.to_string_lossy();
    match level.trim().parse::<tracing::Level>() {
        Ok(level) => tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .finish()
            // benchy's records only, not those of the HTTP client underneath
            .with(Targets::new().with_target("benchy", level))
            .init(),
        Err(_) => errln!(
            "warning: BENCHY_LOG={level} is not a level (error, warn, info, debug, trace); no log"
        ),
    }
}

/// An exit status in words: `exit code 1`, `killed by SIGKILL`.
fn describe_status(status: std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
                Ok(signal) => format!("killed by {signal}"),
                Err(_) => format!("killed by signal {signal}"),
            },
            (None, None) => status.to_string(),
        },
        Err(e) => format!("cannot wait for it: {e}"),
    }
}
