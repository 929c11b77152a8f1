//! `benchy status [RUN]`: where a run stands, model by task (see [`crate::results::standing`]).
//! A run submitted to Slurm is read with its `submission.json` and the scheduler's states of
//! its array; any other run from its records alone. `--missing` lists what is not done and
//! exits 1 when anything is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use super::results::run_folder;
use crate::cli::StatusArgs;
use crate::failure::{bad_input, exit};
use crate::results::read::{Found, warn};
use crate::results::standing::{self, ModelStanding, Standing};
use crate::runner;
use crate::settings::Settings;
use crate::slurm::queue::{self, Queues};
use crate::slurm::standing::of_submission;
use crate::slurm::submission::Submission;
use crate::table;

pub fn run(args: &StatusArgs, settings: &Settings) -> Result<ExitCode> {
    let output_dir = settings.output_dir_or(args.output_dir.as_deref());
    let run_dir = locate(args.run.as_deref(), &output_dir)?;
    let found = Found::read(std::slice::from_ref(&run_dir));
    warn(&found.warnings);
    let submission = Submission::read(&run_dir).unwrap_or_else(|err| {
        eprintln!("warning: {err:#}; the run is read from its records alone");
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
            run_dir.display()
        )));
    }
    let job = submission
        .as_ref()
        .map(|s| format!(" (Slurm job {})", s.job_id))
        .unwrap_or_default();
    println!("Run {}{job}\n", run_dir.display());
    if args.missing {
        return Ok(missing(&models));
    }
    println!("{}", standing::report(&models));
    Ok(ExitCode::SUCCESS)
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

/// The most recently changed folder in `output_dir`.
fn newest(output_dir: &Path) -> Result<PathBuf> {
    let runs = std::fs::read_dir(output_dir)
        .into_iter()
        .flatten()
        .flatten();
    let newest = runs
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max();
    newest.map(|(_, dir)| dir).ok_or_else(|| {
        bad_input(format!(
            "no run in {}: name one (`benchy status RUN`) or --output-dir",
            output_dir.display()
        ))
    })
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
        eprintln!("note: the scheduler cannot be asked ({first}); the run records alone say");
        Queues::new()
    })
}

/// Every task that is not done, a line each; exit 1 when there is one.
fn missing(models: &[ModelStanding]) -> ExitCode {
    let rows: Vec<Vec<String>> = models
        .iter()
        .flat_map(|m| {
            let open = m.tasks.iter().filter(|(_, s)| *s != Standing::Done);
            open.map(|(task, s)| vec![m.model.clone(), task.clone(), s.word().to_owned()])
        })
        .collect();
    if rows.is_empty() {
        let models = table::counted(models.len(), "model");
        println!("Nothing missing: every task of {models} is done");
        return ExitCode::SUCCESS;
    }
    print!("{}", table::render(&["model", "task", "standing"], &rows));
    ExitCode::from(exit::FAILED)
}
