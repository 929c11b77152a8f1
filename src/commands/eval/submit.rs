//! A suite on the Slurm executor: checked here as its local run would be (the same checks, so
//! a bad task name stops it before anything is queued), then submitted as one job array whose
//! array tasks each run `benchy eval` of one model.

use std::process::ExitCode;

use anyhow::Result;

use super::Suite;
use super::model::Model;
use crate::plugin::Registry;
use crate::runner::{self, Runner};
use crate::slurm::submit::Tools;
use crate::slurm::{Executor, PlannedModel, PlannedTask};

impl Suite<'_> {
    /// Shows the job script with `--dry-run`; else runs the suite's checks and submits.
    pub(super) fn submit(&self, slurm: &Executor, registry: &Registry) -> Result<ExitCode> {
        let models = self.models.iter().map(planned).collect::<Result<_>>()?;
        let job = slurm.job(models, self.args, registry, &self.run_id, &self.dir)?;
        if self.args.dry_run {
            print!("{}", job.script);
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

/// What the submission records of a model: where its run config is and what it will write.
fn planned(model: &Model) -> Result<PlannedModel> {
    let tasks = model.view.tasks.iter().map(|task| PlannedTask {
        name: task.name.clone(),
        folder: model.folder.dir.join(&task.output_folder),
    });
    Ok(PlannedModel {
        config: std::path::absolute(&model.resolution.config.path)?,
        model: model.view.model.name.clone(),
        folder: model.folder.dir.clone(),
        tasks: tasks.collect(),
    })
}
