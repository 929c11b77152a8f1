//! The run folder's layout: every name benchy gives a file or folder of a run, in one place, for
//! the writers and the readers alike.
//!
//! ```text
//! <output-dir>/<run-id>/            a run id's folder
//!     suite.json, summary.md        the suite's record (a suite of several models)
//!     slurm/                        the Slurm executor's job script, logs, submission.json
//!     <model>/                      a model's run folder
//!         .lock                     held while a run writes the folder
//!         run_config.yaml           the run config as it took effect
//!         generation_config.json    the model's own file, as a source read it
//!         resolved_generation.json  every resolved value with its source
//!         run.json                  the record of the run
//!         wire_audit.json           what the auditing proxies saw
//!         results.json, summary.md  what came out
//!         <task>/completion.json    a finished task's record, beside its evaluator's files
//!         .attempts/<n>/            what earlier attempts left
//! ```

/// A model's run record.
pub const RUN_RECORD: &str = "run.json";
/// The run config as it took effect.
pub const RUN_CONFIG: &str = "run_config.yaml";
/// The model's own generation config, as the highest source that read one found it.
pub const MODEL_GENERATION_CONFIG: &str = "generation_config.json";
/// Every resolved value with its source, the run's and each task's.
pub const RESOLVED: &str = "resolved_generation.json";
/// A model's results: run task -> evaluated task -> metric -> value and stderr.
pub const RESULTS: &str = "results.json";
/// A model's results for people, and a suite's table of models by tasks.
pub const SUMMARY: &str = "summary.md";
/// What the auditing proxies saw of every job's requests.
pub const WIRE_AUDIT: &str = "wire_audit.json";
/// A finished task's record, in the task's folder.
pub const COMPLETION: &str = "completion.json";
/// A suite's record, in the run id's folder.
pub const SUITE_RECORD: &str = "suite.json";
/// Where the outputs of earlier attempts are kept, inside a model's folder.
pub const ATTEMPTS: &str = ".attempts";
/// The lock a run holds on a model's folder.
pub const LOCK: &str = ".lock";
/// The Slurm executor's folder in the run id's folder.
pub const SLURM: &str = "slurm";
/// The record of a Slurm submission, in [`SLURM`].
pub const SUBMISSION: &str = "submission.json";
/// The job script of a Slurm submission, in [`SLURM`].
pub const JOB_SCRIPT: &str = "job.sh";
/// The array tasks' logs, in [`SLURM`] (sbatch fills in the job id and the index).
pub const SLURM_LOGS: &str = "%A_%a.log";
/// What `benchy results --out DIR` writes, the Python tool's files.
pub const LEADERBOARD_JSON: &str = "leaderboard_table.json";
pub const LEADERBOARD_CSV: &str = "leaderboard_table.csv";

/// A run id when none is given: the local time, `YYYYMMDD_HHMMSS`.
pub fn default_run_id() -> String {
    jiff::ZonedDateTime::now()
        .strftime("%Y%m%d_%H%M%S")
        .to_string()
}
