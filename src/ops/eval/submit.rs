//! A suite on the Slurm executor: checked here as its local run would be (the same checks, so
//! a bad task name stops it before anything is queued), then submitted as one job array whose
//! array tasks each run `benchy eval` of one model.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Suite;
use super::model::Model;
use crate::plugin::Registry;
use crate::plugin::catalog::Origin;
use crate::runner::{self, Runner};
use crate::slurm::submit::Tools;
use crate::slurm::{Arg, Executor, PlannedModel, PlannedTask};
use crate::util::stdio::out;

impl Suite<'_> {
    /// Shows the job script with `--dry-run`; else runs the suite's checks and submits.
    pub(super) fn submit(&self, slurm: &Executor, registry: &Registry) -> Result<ExitCode> {
        let models = self.models.iter().map(planned).collect::<Result<_>>()?;
        let job = slurm.job(
            models,
            self.array_command(registry)?,
            &self.run_id,
            &self.dir,
        )?;
        if self.args.dry_run {
            out!("{}", job.script);
            return Ok(ExitCode::SUCCESS);
        }
        let tools = Tools::find()?;
        runner::runtime()?.block_on(async {
            let runner = Runner::new()?;
            self.run_checks(&runner, &self.decisions()).await?;
            slurm.submit(job, &tools, &runner).await
        })
    }
}

impl Suite<'_> {
    /// What every array task runs: this benchy's `eval` of its model, with this suite's run id,
    /// output folder, plugin files and options.
    fn array_command(&self, registry: &Registry) -> Result<Vec<Arg>> {
        let benchy = std::env::current_exe().context("cannot tell where benchy is")?;
        let output_dir = self.dir.parent().context("a run folder has a parent")?;
        Ok(self.args.array_command(
            benchy.display().to_string(),
            flagged_plugins(registry)?,
            &self.run_id,
            output_dir.display().to_string(),
        ))
    }
}

/// The plugin libraries `--plugin` named, absolute (an array task may start elsewhere).
fn flagged_plugins(registry: &Registry) -> Result<Vec<String>> {
    let flagged = registry.plugins().files().iter();
    let flagged = flagged.filter(|f| f.origin() == Origin::Flag);
    let paths = flagged.map(|f| std::path::absolute(f.path()).map(|p| p.display().to_string()));
    Ok(paths.collect::<std::io::Result<_>>()?)
}

/// What the submission records of a model: where its run config is and what it will write.
fn planned(model: &Model) -> Result<PlannedModel> {
    let tasks = model.view.tasks.iter().map(|task| PlannedTask {
        name: task.name.clone(),
        folder: PathBuf::from(&task.output_folder),
    });
    Ok(PlannedModel {
        config: std::path::absolute(&model.resolution.config.path)?,
        model: model.view.model.name.clone(),
        folder: PathBuf::from(model.short_name()),
        tasks: tasks.collect(),
    })
}
