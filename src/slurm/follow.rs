//! `--wait`: following a submitted array until every array task has ended, polling `squeue`
//! with back-off (one second after a change, growing to half a minute while nothing moves: a
//! thousand-model array runs for days, and a controller serves many users) and saying each
//! model's change of state in a line. At the end the models are judged by their run records,
//! as `benchy status` judges them: exit 0 when every task of every model is done, 1 otherwise.
//! Ctrl-C (or SIGTERM) cancels the array with `scancel` and waits until Slurm has stopped it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use tokio::time::{Instant, sleep};

use super::queue::{self, Queue, Queues};
use super::standing::of_submission;
use super::submission::Submission;
use super::submit::Tools;
use crate::results::standing::{self, ModelStanding, Scheduled};
use crate::runner::{Interrupted, Runner, StopSignal};
use crate::store::read::{Found, warn};
use crate::util::stdio::outln;

/// The first wait between two polls, and the wait after a poll that saw a change.
const FIRST_POLL: Duration = Duration::from_secs(1);
/// The longest wait between two polls.
const LONGEST_POLL: Duration = Duration::from_secs(30);
/// How long a cancelled array may take to stop (Slurm's KillWait is 30 s by default).
const CANCEL_WAIT: Duration = Duration::from_secs(120);

/// Follows `submission`'s array to its end, or cancels it on a signal.
pub async fn follow(
    runner: &Runner,
    tools: &Tools,
    submission: &Submission,
    run_dir: &Path,
) -> Result<ExitCode> {
    let mut shown: BTreeMap<u32, String> = BTreeMap::new();
    let mut delay = FIRST_POLL;
    loop {
        let polled = tokio::select! {
            polled = queue::poll(&tools.squeue, &submission.job_id) => polled,
            signal = runner.interrupted(0) => return cancel(runner, tools, submission, signal).await,
        };
        match polled {
            Ok(queue) if ended(submission, &queue) => {
                say_changes(runner, submission, &queue, &mut shown);
                return judge(submission, run_dir, &queue);
            }
            Ok(queue) => {
                let changed = say_changes(runner, submission, &queue, &mut shown);
                delay = if changed { FIRST_POLL } else { longer(delay) };
            }
            Err(err) => {
                runner.say(&format!("warning: {err:#}; asking again"));
                delay = longer(delay);
            }
        }
        tokio::select! {
            () = sleep(delay) => {}
            signal = runner.interrupted(0) => return cancel(runner, tools, submission, signal).await,
        }
    }
}

fn longer(delay: Duration) -> Duration {
    delay.mul_f64(1.5).min(LONGEST_POLL)
}

/// Whether every array task of the submission's job has ended.
fn ended(submission: &Submission, queue: &Queue) -> bool {
    submission
        .current()
        .all(|t| queue.scheduled(t.index) == Scheduled::Ended)
}

/// A line for each model whose state changed since the last poll; whether any did.
fn say_changes(
    runner: &Runner,
    submission: &Submission,
    queue: &Queue,
    shown: &mut BTreeMap<u32, String>,
) -> bool {
    let mut changed = false;
    for task in submission.current() {
        let state = queue.tasks.get(&task.index).map_or_else(
            || "not listed (cancelled before it started, or forgotten)".to_owned(),
            |t| t.state.to_lowercase(),
        );
        if shown.get(&task.index) != Some(&state) {
            runner.say(&format!(
                "{} {}: {state}",
                task.id(),
                task.model.short_name()
            ));
            shown.insert(task.index, state);
            changed = true;
        }
    }
    changed
}

/// Every model of the run as it stands once the array has ended: the table on stdout; exit 0
/// when every task of the models this submission ran is done, else an error naming those that
/// are not.
fn judge(submission: &Submission, run_dir: &Path, queue: &Queue) -> Result<ExitCode> {
    let found = Found::read(&[run_dir.to_owned()]);
    warn(&found.warnings);
    let queues = Queues::from([(submission.job_id.clone(), queue.clone())]);
    let models = of_submission(submission, &found, &queues);
    outln!("\n{}", standing::report(&models));
    let current: Vec<String> = submission.current().map(|t| t.model.short_name()).collect();
    let ran: Vec<&ModelStanding> = models
        .iter()
        .filter(|m| current.contains(&m.model))
        .collect();
    let unfinished: Vec<&str> = ran
        .iter()
        .filter(|m| !m.done())
        .map(|m| m.model.as_str())
        .collect();
    if unfinished.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::bail!(
        "{} of {} models did not finish every task: {}; their logs: {}",
        unfinished.len(),
        ran.len(),
        unfinished.join(", "),
        submission.logs.display()
    )
}

/// Cancels the array and waits (a second signal: no longer) until Slurm lists nothing of it
/// as pending or running; then benchy ends as interrupted.
async fn cancel(
    runner: &Runner,
    tools: &Tools,
    submission: &Submission,
    signal: StopSignal,
) -> Result<ExitCode> {
    let job = &submission.job_id;
    runner.say(&format!(
        "{}: cancelling job {job} (scancel {job})",
        signal.name()
    ));
    queue::cancel(&tools.scancel, job).await?;
    let seen = runner.interrupts_seen();
    let deadline = Instant::now() + CANCEL_WAIT;
    loop {
        if let Ok(queue) = queue::poll(&tools.squeue, job).await
            && ended(submission, &queue)
        {
            break;
        }
        if Instant::now() >= deadline {
            runner.say(&format!(
                "warning: job {job} still has array tasks after {} s; `squeue -j {job}` shows \
                 them",
                CANCEL_WAIT.as_secs()
            ));
            break;
        }
        tokio::select! {
            () = sleep(FIRST_POLL) => {}
            _ = runner.interrupted(seen) => break,
        }
    }
    Err(Interrupted(signal).into())
}
