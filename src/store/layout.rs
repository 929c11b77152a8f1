//! The run folder's layout: every name benchy gives a file or folder of a run, in one place, for
//! the writers and the readers alike.
//!
//! ```text
//! <output-dir>/<run-id>/            a run id's folder
//!     suite.json, summary.md        the suite's record (a suite of several models)
//!     .suite.lock                   held while a suite merges its models into suite.json
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
//!
//! Whatever a record says of the run folder's own contents, it says relative to the folder
//! ([`relative_json`]), so a run moved or copied elsewhere reads as it did.

use std::path::Path;

use serde_json::Value as Json;

/// A model's run record.
pub const RUN_RECORD: &str = "run.json";
/// The run config as it took effect.
pub const RUN_CONFIG: &str = "run_config.yaml";
/// The model's own generation config, as the highest source that read one found it.
pub const MODEL_GENERATION_CONFIG: &str = "generation_config.json";
/// The name of repeat `index` (from 1) of a task, or of its folder: `gen.repeat-2`.
pub fn repeat_name(task: &str, index: u32) -> String {
    format!("{task}.repeat-{index}")
}

/// The model's chat template, as a source read it.
pub const MODEL_CHAT_TEMPLATE: &str = "chat_template.jinja";
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
/// The lock a suite holds while it merges its models into [`SUITE_RECORD`].
pub const SUITE_LOCK: &str = ".suite.lock";
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

/// The fields of a record that name something of the run folder's own (a log, a task's
/// outputs, an earlier attempt's folder): `object.field`, `*` standing for each item of a list.
const FOLDER_PATHS: [&str; 7] = [
    "options.run_dir",
    "server.log",
    "processes.*.log_file",
    "processes.*.output_dir",
    "checks.*.log_file",
    "checks.*.output_dir",
    "attempts.*.outputs",
];

/// A run record (`run.json` as JSON) with the paths of [`FOLDER_PATHS`] written relative to the
/// model's folder `dir`, so that the folder reads the same wherever it is moved or copied.
pub fn relative_paths(mut record: Json, dir: &Path) -> Json {
    for path in FOLDER_PATHS {
        let steps: Vec<&str> = path.split('.').collect();
        relative_at(&mut record, &steps, dir);
    }
    record
}

fn relative_at(value: &mut Json, steps: &[&str], dir: &Path) {
    match steps {
        [] => {
            if let Some(relative) = value
                .as_str()
                .and_then(|p| Path::new(p).strip_prefix(dir).ok())
            {
                let shown = relative.display().to_string();
                *value = Json::String(if shown.is_empty() {
                    ".".to_owned()
                } else {
                    shown
                });
            }
        }
        ["*", rest @ ..] => {
            for item in value.as_array_mut().into_iter().flatten() {
                relative_at(item, rest, dir);
            }
        }
        [field, rest @ ..] => {
            if let Some(inner) = value.get_mut(*field) {
                relative_at(inner, rest, dir);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_folders_own_paths_become_relative_and_nothing_else_changes() {
        let record = json!({
            "config": "/c/run.yaml",
            "server": {"log": "/out/r/m/server.log", "command": "/out/r/m/x --y /out/r/m/z"},
            "processes": [{"log_file": "/out/r/m/lm-eval.log", "output_dir": "/out/r/m/gen"}],
            "checks": [{"log_file": "/tmp/check-1.log"}],
            "attempts": [{"outputs": "/out/r/m/.attempts/1", "status": "ok"}]
        });
        assert_eq!(
            relative_paths(record, Path::new("/out/r/m")),
            json!({
                "config": "/c/run.yaml",
                "server": {"log": "server.log", "command": "/out/r/m/x --y /out/r/m/z"},
                "processes": [{"log_file": "lm-eval.log", "output_dir": "gen"}],
                "checks": [{"log_file": "/tmp/check-1.log"}],
                "attempts": [{"outputs": ".attempts/1", "status": "ok"}]
            })
        );
    }
}
