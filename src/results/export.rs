//! `benchy export hf-eval-results`: runs' results as the Hugging Face Hub's evaluation results
//! of a model repository (<https://huggingface.co/docs/hub/eval-results>): one
//! `.eval_results/<task>.yaml` per finished task, a list of one result holding the benchmark
//! dataset (`id`, `task_id`, `revision`), the `value`, the `date` and `notes` that carry what the
//! number was made with: the resolved parameters with their sources, the mode, the repeats, and
//! the run. Ready for a pull request to the model's repository. A task whose dataset is no Hub
//! id (a task on local files without `hub_dataset:`) is left out and named, never invented.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json, json};

use super::leaderboard::primary_metric;
use crate::store::read::{StoredRun, StoredTask, TaskState};

/// What an export wrote, and each task left out with why.
#[derive(Debug, Default)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    pub left_out: Vec<String>,
}

/// The results files of every finished task of `runs` under `out/<model>/.eval_results/`; a
/// later run of a model replaces an earlier one's files.
pub fn hf_eval_results(runs: &[StoredRun], out: &Path) -> std::io::Result<Exported> {
    let mut exported = Exported::default();
    for run in runs {
        let dir = out.join(&run.short_name).join(".eval_results");
        for task in run.tasks.iter().filter(|t| t.state == TaskState::Done) {
            match result(run, task) {
                Ok((file, result)) => {
                    let path = dir.join(format!("{file}.yaml"));
                    let text = serde_saphyr::to_string(&json!([result]))
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    crate::util::atomic::write_atomic(&path, text.as_bytes())
                        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
                    exported.files.push(path);
                }
                Err(why) => exported
                    .left_out
                    .push(format!("{} {}: {why}", run.short_name, task.name)),
            }
        }
    }
    Ok(exported)
}

/// One task's result, and the file name it goes in; why not, when it cannot be exported.
fn result(run: &StoredRun, task: &StoredTask) -> Result<(String, Json), String> {
    let (evaluated, metrics) = task.standing().ok_or("no results")?;
    let (metric, value) =
        primary_metric(metrics, task.primary_metric.as_deref()).ok_or("no metric value")?;
    let number = value.value.ok_or("no metric value")?;
    let known = task.datasets.get(evaluated);
    let (id, revision) = match (&task.hub_dataset, known) {
        (Some((id, revision)), _) => (id.clone(), revision.clone()),
        (None, Some(dataset)) if is_hub_id(&dataset.path) => {
            (dataset.path.clone(), dataset.revision.clone())
        }
        (None, Some(dataset)) => {
            return Err(format!(
                "its dataset `{}` is no Hub dataset id; give the task `hub_dataset: org/name`",
                dataset.path
            ));
        }
        (None, None) => return Err("no dataset recorded; give the task `hub_dataset`".into()),
    };
    let mut dataset = Map::new();
    dataset.insert("id".into(), json!(id));
    dataset.insert("task_id".into(), json!(evaluated));
    if let Some(revision) = revision {
        dataset.insert("revision".into(), json!(revision));
    }
    let date = task
        .finished_at
        .clone()
        .or_else(|| run.started_at.clone())
        .map(|t| t.chars().take(10).collect::<String>());
    let mut result = json!({"dataset": dataset, "value": number});
    if let Some(date) = date {
        result["date"] = json!(date);
    }
    result["notes"] = json!(notes(run, task, metric, value.repeats, value.stderr));
    Ok((task.name.clone(), result))
}

/// What the number was made with, in one line.
fn notes(
    run: &StoredRun,
    task: &StoredTask,
    metric: &str,
    repeats: Option<u32>,
    spread: Option<f64>,
) -> String {
    let params = run.task_params.get(&task.name).unwrap_or(&run.params);
    let values: Vec<String> = params
        .iter()
        .map(|(key, p)| format!("{key}={} ({})", p.value, p.source))
        .collect();
    let mut notes = format!(
        "benchy {}, run {}; metric {metric}",
        env!("CARGO_PKG_VERSION"),
        run.run_id
    );
    if let Some(k) = repeats {
        let spread = spread.map_or_else(String::new, |s| format!(" ± {s:.4}"));
        notes += &format!("; mean of {k} repeats{spread} (standard deviation)");
    }
    if let Some(mode) = &task.mode {
        notes += &format!("; mode {mode}");
    }
    notes + &format!("; generation parameters: {}", values.join(", "))
}

/// Whether `path` is a Hub dataset id: `org/name`, not a loader (`json`) or a local path.
fn is_hub_id(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        && !path.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_org_and_name_is_a_hub_id() {
        assert!(is_hub_id("openai/gsm8k"));
        assert!(is_hub_id("cais/mmlu"));
        assert!(!is_hub_id("json"));
        assert!(!is_hub_id("/data/x"));
        assert!(!is_hub_id("./a/b"));
        assert!(!is_hub_id("a/b/c"));
    }
}
