//! The Slurm executor: a suite becomes one job array with one array task per model, each running
//! `benchy eval` for its model's run config (same run id, output folder and flags) on whatever
//! node Slurm gives it. benchy checks everything here first, as for a local run, writes the job
//! script and the record of the submission into `<output-dir>/<run-id>/slurm/`, submits with
//! `sbatch`, and either returns with the job id or follows the array (`--wait`). The scheduler is
//! Slurm's: benchy never schedules anything itself.

mod follow;
pub mod queue;
mod script;
pub mod standing;
pub mod submission;
pub mod submit;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::settings::slurm_keys::{self, SlurmOptions};
use crate::settings::{ExecutorKind, Settings, read_executor_file};
use crate::util::bad_input::bad_input;
pub use script::Arg;
pub use submission::{PlannedModel, PlannedTask};

/// The folder of a run id's folder that holds the job script, the array tasks' logs and
/// `submission.json`.
pub use crate::store::layout::SLURM as FOLDER;

/// What a user asked of the executor for one `benchy eval`: `--executor`, `--executor-config`,
/// `--wait`, `--requeue`.
#[derive(Clone, Debug, Default)]
pub struct ExecutorOptions {
    pub kind: Option<ExecutorKind>,
    /// A TOML file of executor settings, over those of the settings files.
    pub config: Option<PathBuf>,
    pub wait: bool,
    pub requeue: bool,
}

/// The Slurm executor, as chosen for one `benchy eval`.
#[derive(Debug)]
pub struct Executor {
    options: SlurmOptions,
    /// `--requeue`, or the `requeue` setting.
    requeue: bool,
    wait: bool,
}

impl Executor {
    /// The Slurm executor when `--executor`, else `--executor-config`'s `kind`, else the
    /// settings' `[executor] kind` says `slurm`; `None` for a local run. The Slurm-only flags on
    /// a local run are bad input (they would silently do nothing).
    /// `rerun` is `--rerun`, which requeueing would undo.
    pub fn chosen(
        args: &ExecutorOptions,
        rerun: bool,
        settings: &Settings,
    ) -> Result<Option<Executor>> {
        let executor = match &args.config {
            Some(file) => read_executor_file(file)?.over(settings.executor.clone()),
            None => settings.executor.clone(),
        };
        let kind = args
            .kind
            .or(executor.kind.map(|k| k.value))
            .unwrap_or_default();
        if kind == ExecutorKind::Local {
            let slurm_only = [
                ("--wait", args.wait),
                ("--requeue", args.requeue),
                ("--executor-config", args.config.is_some()),
            ];
            if let Some((flag, _)) = slurm_only.iter().find(|(_, given)| *given) {
                return Err(bad_input(format!(
                    "{flag} is for the Slurm executor: add --executor slurm (or set `kind = \
                     \"slurm\"` in [executor] or in the --executor-config file)"
                )));
            }
            return Ok(None);
        }
        let requeue_setting = matches!(
            executor.slurm.get("requeue").map(|s| &s.value),
            Some(slurm_keys::Value::Flag(true))
        );
        let requeue = args.requeue || requeue_setting;
        if requeue && rerun {
            return Err(bad_input(
                "--rerun with requeueing: an array task Slurm requeues would run every task of its \
                 model again instead of what is missing; submit with --rerun and without \
                 requeueing (--requeue, or `requeue = true` in the executor settings)",
            ));
        }
        Ok(Some(Executor {
            options: executor.slurm,
            requeue,
            wait: args.wait,
        }))
    }
}

/// `<run-id folder>/slurm`.
pub fn folder(run_dir: &Path) -> PathBuf {
    run_dir.join(FOLDER)
}
