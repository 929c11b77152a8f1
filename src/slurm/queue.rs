//! What the scheduler says of an array, and the one thing benchy asks of it besides submitting:
//! cancelling. `squeue -r -t all` gives every array task's state, finished ones included for as
//! long as Slurm keeps them (`MinJobAge`, 300 s by default). `sacct` is not asked: without
//! slurmdbd it has nothing to say, and the run records on disk are what judges a model anyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};

use crate::results::standing::Scheduled;
use crate::runner::client::run_client;
use crate::util::bad_input::bad_input;

/// How long a Slurm client command may take (one blocks about 10 s when the controller is
/// unreachable before it gives up by itself).
const CLIENT_LIMIT: Duration = Duration::from_secs(120);

/// A Slurm client program, found on `PATH`.
pub fn program(name: &str) -> Result<PathBuf> {
    benchy_core::python::find_on_path(name).ok_or_else(|| {
        bad_input(format!(
            "`{name}` is not on PATH: the Slurm executor runs Slurm's own commands (sbatch, \
             squeue, scancel). Run benchy where they are (a cluster's login node), or install \
             them (`make setup` does here)"
        ))
    })
}

/// One array task as `squeue` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedTask {
    /// Slurm's state, as printed: `PENDING`, `RUNNING`, `COMPLETED`...
    pub state: String,
}

impl QueuedTask {
    pub fn scheduled(&self) -> Scheduled {
        match self.state.as_str() {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
            | "RESV_DEL_HOLD" => Scheduled::Waiting,
            "RUNNING" | "COMPLETING" | "SUSPENDED" | "STOPPED" | "SIGNALING" | "STAGE_OUT"
            | "RESIZING" => Scheduled::Active,
            _ => Scheduled::Ended,
        }
    }
}

/// An array's tasks by index. A task the scheduler no longer lists (cancelled while it was
/// still pending, or forgotten after `MinJobAge`) is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Queue {
    pub tasks: BTreeMap<u32, QueuedTask>,
}

impl Queue {
    /// Where array task `index` is.
    pub fn scheduled(&self, index: u32) -> Scheduled {
        self.tasks
            .get(&index)
            .map_or(Scheduled::Ended, QueuedTask::scheduled)
    }

    /// Reads `squeue -h -r -t all -o '%K|%T'` lines. A pending remainder may still print
    /// as a range (`2-5`, `2-5%1`): every index in it has that state.
    fn parse(text: &str) -> Queue {
        let mut tasks = BTreeMap::new();
        for line in text.lines() {
            let mut fields = line.trim().split('|');
            let (Some(indexes), Some(state)) = (fields.next(), fields.next()) else {
                continue;
            };
            let state = state.trim();
            for index in expand_indexes(indexes) {
                let task = QueuedTask {
                    state: state.to_owned(),
                };
                tasks.insert(index, task);
            }
        }
        Queue { tasks }
    }
}

/// Arrays as the scheduler lists them, by job id.
pub type Queues = BTreeMap<String, Queue>;

/// `3`, `2-5`, `2-5%1`, `1,3-4` as the indexes they name.
fn expand_indexes(text: &str) -> Vec<u32> {
    let text = text.split('%').next().unwrap_or_default();
    text.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) => (a..=b).collect(),
                _ => Vec::new(),
            },
            None => part.parse().into_iter().collect(),
        })
        .collect()
}

/// The array `job_id` as the scheduler lists it now; an empty queue when the scheduler no
/// longer knows the job at all.
pub async fn poll(squeue: &Path, job_id: &str) -> Result<Queue> {
    let args = ["-h", "-r", "-t", "all", "-j", job_id, "-o", "%K|%T"].map(str::to_owned);
    let output = run_client(squeue, &args, None, CLIENT_LIMIT).await?;
    if output.success() {
        return Ok(Queue::parse(&output.stdout));
    }
    if output.stderr.contains("Invalid job id") {
        return Ok(Queue::default());
    }
    bail!(
        "squeue -j {job_id} failed ({}): {}",
        output.exit(),
        output.stderr.trim()
    )
}

/// Cancels the whole array `job_id` (every task, pending or running).
pub async fn cancel(scancel: &Path, job_id: &str) -> Result<()> {
    let output = run_client(scancel, &[job_id.to_owned()], None, CLIENT_LIMIT).await?;
    if !output.success() {
        bail!(
            "scancel {job_id} failed ({}): {}",
            output.exit(),
            output.stderr.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_task_states_and_a_missing_task_has_ended() {
        // as Slurm 22.05 prints them: a pending remainder, a running and a cancelled task
        let queue = Queue::parse("2-3%1|PENDING\n0|RUNNING\n1|CANCELLED\n");
        assert_eq!(queue.scheduled(0), Scheduled::Active);
        assert_eq!(queue.tasks[&1].state, "CANCELLED");
        assert_eq!(queue.scheduled(1), Scheduled::Ended);
        assert_eq!(queue.scheduled(2), Scheduled::Waiting);
        assert_eq!(queue.scheduled(3), Scheduled::Waiting);
        assert_eq!(queue.scheduled(4), Scheduled::Ended);
        assert_eq!(expand_indexes("1,3-4"), [1, 3, 4]);
        assert_eq!(Queue::parse("garbage\n"), Queue::default());
    }
}
