//! Where a run stands, model by task (see [`crate::results::standing`]): a run submitted to
//! Slurm is read with its `submission.json` and the scheduler's states of its array; any other
//! run from its records alone.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::results::find::run_folder;
use crate::results::standing::ModelStanding;
use crate::runner;
use crate::slurm::queue::{self, Queues};
use crate::slurm::standing::of_submission;
use crate::slurm::submission::Submission;
use crate::store::layout::SUBMISSION;
use crate::store::read::{Found, warn};
use crate::util::bad_input::bad_input;
use crate::util::stdio::errln;

/// A run and how its models stand.
#[derive(Debug)]
pub struct RunStanding {
    /// The run id's folder, absolute.
    pub dir: PathBuf,
    /// The Slurm job that runs it, when it was submitted.
    pub job: Option<String>,
    pub models: Vec<ModelStanding>,
}

/// How the run `run` names (a folder, or a run id under `output_dir`; the newest run there when
/// `None`) stands; a run that does not exist, or holds no model, is bad input.
pub fn standing(run: Option<&str>, output_dir: &Path) -> Result<RunStanding> {
    let dir = locate(run, output_dir)?;
    let found = Found::read(std::slice::from_ref(&dir));
    warn(&found.warnings);
    let submission = Submission::read(&dir).unwrap_or_else(|err| {
        errln!("warning: {err:#}; the run is read from its records alone");
        None
    });
    let models: Vec<ModelStanding> = match &submission {
        Some(submission) => of_submission(submission, &found, &scheduler(submission)),
        None => found
            .runs
            .iter()
            .map(|run| ModelStanding::of(run.short_name.clone(), Some(run), &[], None, None))
            .collect(),
    };
    if models.is_empty() {
        return Err(bad_input(format!(
            "{}: no run in it (no model folder, suite.json or Slurm submission)",
            dir.display()
        )));
    }
    Ok(RunStanding {
        dir,
        job: submission.map(|s| s.job_id),
        models,
    })
}

/// The run-id folder `run` names (a folder, or a run id under `output_dir`), or the newest
/// run there; one that does not exist is bad input.
fn locate(run: Option<&str>, output_dir: &Path) -> Result<PathBuf> {
    let dir = match run {
        Some(run) => run_folder(run, output_dir)?,
        None => newest(output_dir)?,
    };
    Ok(std::path::absolute(dir)?)
}

/// The most recently changed folder in `output_dir` that holds a run (a model's records, a
/// suite's, or a Slurm submission); each newer one that holds none is named and skipped (the
/// folder a run killed before its first record left, a stray folder).
fn newest(output_dir: &Path) -> Result<PathBuf> {
    let mut folders: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(output_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    folders.sort_by(|a, b| b.cmp(a));
    for (_, dir) in folders {
        if holds_run(&dir) {
            return Ok(dir);
        }
        errln!("note: {} holds no run; skipped", dir.display());
    }
    Err(bad_input(format!(
        "no run in {}: name one (`benchy status RUN`) or --output-dir",
        output_dir.display()
    )))
}

/// Whether a run id's folder holds a run: a model's records, a suite's, or a submission.
fn holds_run(dir: &Path) -> bool {
    !Found::read(&[dir.to_owned()]).runs.is_empty()
        || crate::slurm::folder(dir).join(SUBMISSION).is_file()
}

/// The scheduler's view of every array that ran one of the run's models; none, said once, when
/// it cannot be asked.
fn scheduler(submission: &Submission) -> Queues {
    let asked = queue::program("squeue").and_then(|squeue| {
        runner::runtime()?.block_on(async {
            let mut queues = Queues::new();
            for job in submission.jobs() {
                queues.insert(job.to_owned(), queue::poll(&squeue, job).await?);
            }
            Ok(queues)
        })
    });
    asked.unwrap_or_else(|err| {
        let first = err.to_string();
        let first = first.lines().next().unwrap_or_default();
        errln!("note: the scheduler cannot be asked ({first}); the run records alone say");
        Queues::new()
    })
}
