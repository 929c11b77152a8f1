//! SIGINT and SIGTERM sent to benchy: caught once for the whole run and counted, so every wait
//! can end on the first one (stop gracefully) and a stop can end on the next one (kill now).

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A signal benchy was asked to stop with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    Int,
    Term,
}

impl StopSignal {
    /// The exit code a shell reports for a process ended by this signal: 128 + its number.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Int => 130,
            StopSignal::Term => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Int => "SIGINT",
            StopSignal::Term => "SIGTERM",
        }
    }
}

/// What has been caught so far.
#[derive(Clone, Copy, Debug, Default)]
struct Caught {
    first: Option<StopSignal>,
    count: u32,
}

/// The run's view of SIGINT and SIGTERM. Cloning shares the same count.
#[derive(Clone, Debug)]
pub struct Interrupts {
    caught: watch::Receiver<Caught>,
}

/// benchy was interrupted: everything it started has been stopped. Its exit code is 130 for
/// SIGINT and 143 for SIGTERM.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}; stopped everything benchy started", .0.name())]
pub struct Interrupted(pub StopSignal);

impl Interrupts {
    /// Starts catching SIGINT and SIGTERM; from now on they no longer end benchy by themselves.
    /// Call it inside the runtime, before starting any process.
    pub fn catch() -> Result<Interrupts> {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(Caught::default());
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    Some(()) = int.recv() => StopSignal::Int,
                    Some(()) = term.recv() => StopSignal::Term,
                    else => break,
                };
                tracing::debug!(signal = got.name(), "caught");
                tx.send_modify(|c| {
                    c.first.get_or_insert(got);
                    c.count += 1;
                });
            }
        });
        Ok(Interrupts { caught: rx })
    }

    /// How many signals were caught so far.
    pub fn count(&self) -> u32 {
        self.caught.borrow().count
    }

    /// The first signal caught, if any.
    pub fn first(&self) -> Option<StopSignal> {
        self.caught.borrow().first
    }

    /// Resolves when more than `seen` signals have been caught, with the first one.
    pub async fn after(&self, seen: u32) -> StopSignal {
        let mut rx = self.caught.clone();
        match rx.wait_for(|c| c.count > seen).await {
            Ok(caught) => caught.first.unwrap_or(StopSignal::Int),
            // The catching task only ends with the runtime; never resolve then.
            Err(_) => std::future::pending().await,
        }
    }
}
