//! `<output-dir>/<run-id>/slurm/submission.json`: what was submitted, for `benchy status` and for
//! people reading the run later. The job id, each array task's model (its index, run config,
//! model folder and tasks), the command every array task runs and the `sbatch` command line.
//! A resubmission of the run id replaces it and keeps the earlier job ids.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use benchy_core::source::read_text_file;
use serde::{Deserialize, Serialize};

use crate::atomic::write_json;

/// The file's name in the run id's `slurm/` folder.
pub const FILE: &str = "submission.json";

/// The largest submission record read (a thousand models' entries are a few hundred KB).
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A model of the suite, checked and planned as its local run would be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedModel {
    /// The run config, absolute.
    pub config: PathBuf,
    /// `model.name` as written.
    pub model: String,
    /// The model's run folder, `<output-dir>/<run-id>/<model>`, absolute.
    pub folder: PathBuf,
    pub tasks: Vec<PlannedTask>,
}

/// A task of a planned model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedTask {
    /// The name the run config uses.
    pub name: String,
    /// Its folder in the model's run folder (where its completion record is written).
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

/// One array task: a model and its index in the array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArrayTask {
    pub index: u32,
    #[serde(flatten)]
    pub model: PlannedModel,
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
    /// Every model, in array-index order.
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

    /// `12_3`: how Slurm names the array task of model `index`.
    pub fn task_id(&self, index: u32) -> String {
        format!("{}_{index}", self.job_id)
    }
}
