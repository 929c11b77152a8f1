//! `<output-dir>/<run-id>/slurm/submission.json`: what was submitted, for `benchy status` and for
//! people reading the run later. The job id, each array task's model (its index, run config,
//! model folder and tasks), the command every array task runs and the `sbatch` command line.
//! A later submission under the same run id (the missing models again, or the next part of a
//! suite too large for one array) replaces it, keeping the earlier job ids and the models only
//! earlier submissions ran, each with the array task that ran it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use benchy_core::source::read_text_file;
use serde::{Deserialize, Serialize};

use crate::util::atomic::write_json;

use crate::store::layout::SUBMISSION as FILE;

/// The largest submission record read (a thousand models' entries are a few hundred KB).
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A model of the suite, checked and planned as its local run would be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedModel {
    /// The run config, absolute.
    pub config: PathBuf,
    /// `model.name` as written.
    pub model: String,
    /// The model's run folder, relative to the run id's folder (its name), so the record reads
    /// the same wherever the run is moved.
    pub folder: PathBuf,
    pub tasks: Vec<PlannedTask>,
}

/// A task of a planned model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedTask {
    /// The name the run config uses.
    pub name: String,
    /// Its folder (where its completion record is written), relative to the model's folder.
    pub folder: PathBuf,
}

impl PlannedModel {
    /// The model's folder name: its short name.
    pub fn short_name(&self) -> String {
        self.folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// One array task: a model, the array that ran it and its index there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArrayTask {
    pub job_id: String,
    pub index: u32,
    #[serde(flatten)]
    pub model: PlannedModel,
}

impl ArrayTask {
    /// `12_3`: how Slurm names the array task.
    pub fn id(&self) -> String {
        format!("{}_{}", self.job_id, self.index)
    }
}

/// The record of a submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub run_id: String,
    /// The array's job id, as `sbatch --parsable` printed it.
    pub job_id: String,
    pub submitted_at: String,
    /// The job script, as submitted.
    pub script: PathBuf,
    /// The array tasks' log files (`%A` the array's job id, `%a` the task's index).
    pub logs: PathBuf,
    /// The `sbatch` command line (the script goes on its standard input).
    pub sbatch: Vec<String>,
    /// What every array task runs, `$config` standing for its model's run config.
    pub command: Vec<String>,
    /// Every model of the run id: this submission's in array-index order, then those only
    /// earlier submissions ran.
    pub models: Vec<ArrayTask>,
    /// The job ids of earlier submissions of this run id, oldest first.
    #[serde(default)]
    pub earlier_jobs: Vec<String>,
}

impl Submission {
    /// The record in the run id's folder `run_dir`, if there is one; one that cannot be read
    /// is an error naming it.
    pub fn read(run_dir: &Path) -> Result<Option<Submission>> {
        let path = super::folder(run_dir).join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = read_text_file(&path, MAX_BYTES)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let submission = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a submission record", path.display()))?;
        Ok(Some(submission))
    }

    /// Writes the record (atomically) into the run id's folder `run_dir`.
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        write_json(&super::folder(run_dir).join(FILE), self)
    }

    /// Takes in what the run id's earlier submission recorded: its job ids, and the models
    /// this submission does not run again.
    pub fn after(&mut self, earlier: Submission) {
        self.earlier_jobs = earlier.earlier_jobs;
        self.earlier_jobs.push(earlier.job_id);
        let kept = earlier.models.into_iter().filter(|old| {
            !self
                .models
                .iter()
                .any(|m| m.model.folder == old.model.folder)
        });
        self.models.extend(kept.collect::<Vec<_>>());
    }

    /// The array tasks of this submission's own job.
    pub fn current(&self) -> impl Iterator<Item = &ArrayTask> {
        self.models.iter().filter(|t| t.job_id == self.job_id)
    }

    /// Every job that ran one of the run id's models, each once.
    pub fn jobs(&self) -> Vec<&str> {
        let mut jobs: Vec<&str> = Vec::new();
        for task in &self.models {
            if !jobs.contains(&task.job_id.as_str()) {
                jobs.push(&task.job_id);
            }
        }
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(job: &str, index: u32, model: &str) -> ArrayTask {
        let model = PlannedModel {
            config: PathBuf::from(format!("/c/{model}.yaml")),
            model: model.to_owned(),
            folder: PathBuf::from(format!("/out/r/{model}")),
            tasks: Vec::new(),
        };
        ArrayTask {
            job_id: job.to_owned(),
            index,
            model,
        }
    }

    fn submission(job: &str, models: Vec<ArrayTask>) -> Submission {
        Submission {
            run_id: "r".into(),
            job_id: job.into(),
            submitted_at: String::new(),
            script: PathBuf::new(),
            logs: PathBuf::new(),
            sbatch: Vec::new(),
            command: Vec::new(),
            models,
            earlier_jobs: Vec::new(),
        }
    }

    #[test]
    fn a_later_submission_keeps_the_models_only_earlier_ones_ran() {
        let first = submission("7", vec![task("7", 0, "a"), task("7", 1, "b")]);
        let mut second = submission("9", vec![task("9", 0, "b"), task("9", 1, "c")]);
        second.after(first);
        let ids: Vec<String> = second.models.iter().map(ArrayTask::id).collect();
        assert_eq!(ids, ["9_0", "9_1", "7_0"]);
        assert_eq!(second.earlier_jobs, ["7"]);
        assert_eq!(second.jobs(), ["9", "7"]);
        assert_eq!(second.current().count(), 2);
    }
}
