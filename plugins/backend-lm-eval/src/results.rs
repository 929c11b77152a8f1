//! Reading what lm-eval wrote: its results file (metrics, each task's output type and the
//! `generation_kwargs` it used) and placing its files in each run task's folder.
//!
//! Shapes relied on (lm-eval 0.4.13): `results.<task>` holds `"<metric>,<filter>"` values and
//! `"<metric>_stderr,<filter>"` (a number or the string "N/A"), lm_eval/evaluator_utils.py;
//! `configs.<task>.output_type` and, for `generate_until` tasks only, `generation_kwargs`
//! (lm_eval/evaluator.py: CLI gen_kwargs are applied to generate tasks alone); `group_subtasks`
//! maps a group to its members.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use benchy_core::backend::{
    DatasetRef, Metric, ProcessOutcome, RunView, Sampling, TaskResult, TaskView,
};
use benchy_core::source::read_text_file;
use benchy_core::{BackendError, Diagnostic};

use crate::gen_kwargs::sent;
use crate::routes::depends_on_types;

/// Keys of a `results.<task>` entry that are not metrics.
const NOT_METRICS: &[&str] = &["alias", "name", "sample_len", " "];

/// The newest `results_*.json` lm-eval wrote under `dir` (it nests them in a folder named after
/// the model), if any.
pub fn find_results_file(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("results_") && n.ends_with(".json"))
        })
        .collect();
    // lm-eval names files by an ISO timestamp, so the greatest name is the newest.
    found.sort();
    found.pop()
}

/// Every file under `dir`; links are not followed, so a link loop cannot make it endless.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The most of a results file that is read: lm-eval's hold metrics and task configs, a few
/// hundred kilobytes even for large groups.
const MAX_RESULTS_BYTES: u64 = 64 * 1024 * 1024;

/// The results of one finished lm-eval process, split by run task.
pub fn read(
    run: &RunView,
    outcome: &ProcessOutcome,
    results_file: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<TaskResult>, BackendError> {
    let text = read_text_file(results_file, MAX_RESULTS_BYTES)
        .map_err(|e| BackendError::failed(format!("{}: {e}", results_file.display())))?;
    let doc: Json = serde_json::from_str(&text).map_err(|e| {
        BackendError::failed(format!(
            "{}: not lm-eval results JSON: {e}",
            results_file.display()
        ))
    })?;
    let empty = Map::new();
    let object = |key: &str| doc.get(key).and_then(Json::as_object).unwrap_or(&empty);
    let (results, configs, groups) = (
        object("results"),
        object("configs"),
        object("group_subtasks"),
    );

    let tasks: Vec<&TaskView> = outcome
        .tasks
        .iter()
        .filter_map(|name| run.tasks.iter().find(|t| &t.name == name))
        .collect();
    let mut out = Vec::new();
    for (name, entry) in results {
        let owner = tasks
            .iter()
            .find(|t| members(&t.task_name, groups).contains(name.as_str()))
            .or(tasks.first().filter(|_| tasks.len() == 1));
        let Some(owner) = owner else {
            diagnostics.push(Diagnostic::warning(format!(
                "{}: results for `{name}` match none of the tasks {}",
                results_file.display(),
                outcome.tasks.join(", ")
            )));
            continue;
        };
        let config = configs.get(name);
        let sampling = match config
            .and_then(|c| c.get("output_type"))
            .and_then(Json::as_str)
        {
            Some("generate_until") => Sampling::Generate,
            Some(_) => Sampling::LoglikelihoodOnly,
            None => Sampling::Aggregate,
        };
        let generates = sampling == Sampling::Generate;
        let mut metrics = metrics(entry);
        if let Some(dir) = results_file.parent() {
            crate::samples::scores(dir, name, &mut metrics);
        }
        out.push(TaskResult {
            task: owner.name.clone(),
            name: name.clone(),
            sampling,
            metrics,
            sent_generation: generates
                .then(|| sent(owner, depends_on_types(owner, run.use_chat_completions))),
            recorded_generation: config
                .and_then(|c| c.get("generation_kwargs"))
                .and_then(Json::as_object)
                .cloned(),
            dataset: config.and_then(dataset),
            samples: doc
                .pointer(&format!(
                    "/n-samples/{}/effective",
                    name.replace('~', "~0").replace('/', "~1")
                ))
                .and_then(Json::as_u64),
        });
    }
    Ok(out)
}

/// The dataset an lm-eval task's config names: `dataset_path`, `dataset_name`, and the revision
/// of its `dataset_kwargs`.
fn dataset(config: &Json) -> Option<DatasetRef> {
    let text = |v: &Json| v.as_str().map(str::to_owned);
    Some(DatasetRef {
        path: text(config.get("dataset_path")?)?,
        name: config.get("dataset_name").and_then(text),
        revision: config
            .get("dataset_kwargs")
            .and_then(|k| k.get("revision"))
            .and_then(text),
    })
}

/// A task name and, when it is a group, every task under it.
fn members<'a>(name: &'a str, groups: &'a Map<String, Json>) -> BTreeSet<&'a str> {
    let mut found = BTreeSet::from([name]);
    let mut pending = vec![name];
    while let Some(next) = pending.pop() {
        for sub in groups
            .get(next)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(sub) = sub.as_str()
                && found.insert(sub)
            {
                pending.push(sub);
            }
        }
    }
    found
}

fn metrics(entry: &Json) -> Vec<Metric> {
    let Some(entry) = entry.as_object() else {
        return Vec::new();
    };
    entry
        .iter()
        .filter(|(key, _)| !NOT_METRICS.contains(&key.as_str()))
        .filter_map(|(key, value)| {
            let (metric, filter) = key.split_once(',')?;
            if metric.ends_with("_stderr") {
                return None;
            }
            let stderr = entry
                .get(&format!("{metric}_stderr,{filter}"))
                .and_then(Json::as_f64);
            Some(Metric {
                name: metric.to_owned(),
                filter: Some(filter.to_owned()),
                value: value.clone(),
                stderr,
                samples: Vec::new(),
            })
        })
        .collect()
}

/// A job that covered several run tasks wrote into the first task's folder; give every other
/// task its own copy of the results file and its own samples files, at the same relative
/// paths, so each task's folder holds lm-eval's files for it.
pub fn place_files(
    run: &RunView,
    outcome: &ProcessOutcome,
    results_file: &Path,
    results: &[TaskResult],
) -> Result<(), BackendError> {
    let Some(job_dir) = &outcome.output_dir else {
        return Ok(());
    };
    let Some(run_dir) = job_dir.parent() else {
        return Ok(());
    };
    let io = |what: &str, path: &Path, e: std::io::Error| {
        BackendError::failed(format!("{what} {}: {e}", path.display()))
    };
    for name in outcome.tasks.iter().skip(1) {
        let Some(task) = run.tasks.iter().find(|t| &t.name == name) else {
            continue;
        };
        let task_dir = run_dir.join(&task.output_folder);
        let relative = results_file.strip_prefix(job_dir).unwrap_or(results_file);
        let target = task_dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("cannot create", parent, e))?;
        }
        std::fs::copy(results_file, &target).map_err(|e| io("cannot copy to", &target, e))?;
        // samples_<lm-eval task>_<timestamp>.jsonl of this task's members move to its folder
        let owned: Vec<&str> = results
            .iter()
            .filter(|r| &r.task == name)
            .map(|r| r.name.as_str())
            .collect();
        for file in walk(job_dir) {
            let Some(file_name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let belongs = owned
                .iter()
                .any(|sub| file_name.starts_with(&format!("samples_{sub}_")));
            if belongs {
                let relative = file.strip_prefix(job_dir).unwrap_or(&file);
                let target = task_dir.join(relative);
                std::fs::rename(&file, &target).map_err(|e| io("cannot move to", &target, e))?;
            }
        }
    }
    Ok(())
}
