//! Resume by fingerprint. Every task that finishes writes a completion record in its folder: its
//! status, times, results, and a fingerprint over everything that decides its numbers (the
//! model and the revision its files were read at, the task's resolved generation parameters,
//! the evaluator's task and settings, the limit, chat or completions, the tools' versions and
//! the server's command). A run that finds a record with the same fingerprint does not run the
//! task again; a changed fingerprint runs it again and says what changed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::util::atomic::{read_state_checked, write_json};

use benchy_core::backend::DatasetRef;

use super::layout::COMPLETION;
use super::run_record::TaskAnswers;

/// What decides a task's numbers, and where each generation value came from (the sources are
/// shown when something changed; they do not change numbers, so they are not fingerprinted).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// `model`, `generation` (values), `task`, `options`, `versions`, `server`.
    pub values: Map<String, Json>,
    /// Each generation key's source.
    pub sources: BTreeMap<String, String>,
}

/// A finished task's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub task: String,
    /// `ok`: only finished, verified tasks get a record.
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: String,
    pub fingerprint: String,
    pub inputs: Inputs,
    /// The task's entry of `results.json` (evaluated task -> metric -> value and stderr).
    pub results: Json,
    /// What its answers said, when it generated text and the wire was audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<TaskAnswers>,
    /// Its datasets, by evaluated task, as its tool named them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, DatasetRef>,
}

/// What a run does with a task.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Done in an earlier run with the same fingerprint: skipped, its record kept.
    Done(Box<Completion>),
    /// To run: never finished, or failed or interrupted before.
    Run,
    /// Done before, and asked again (`--rerun`).
    Rerun,
    /// To run again: its fingerprint changed; what changed, one item each.
    Changed(Vec<String>),
    /// To run again: its completion record is there but cannot be read; why.
    Unreadable(String),
}

impl Decision {
    pub fn is_done(&self) -> bool {
        matches!(self, Decision::Done(_))
    }
}

impl Inputs {
    /// The fingerprint: SHA-256 of the values as canonical JSON (keys sorted).
    pub fn fingerprint(&self) -> String {
        let mut canonical = Json::Object(self.values.clone());
        canonical.sort_all_objects();
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        format!("{digest:x}")
    }

    /// What differs from `before`, as `temperature 0.7 -> 0.6 (hf:..@3f2a -> hf:..@9c1b)` for a
    /// generation value and `versions.vllm "0.31.0" -> "0.32.0"` for the rest.
    pub fn changes_since(&self, before: &Inputs) -> Vec<String> {
        let mut changes = Vec::new();
        let empty = Json::Object(Map::new());
        for (part, now) in &self.values {
            let was = before.values.get(part).unwrap_or(&empty);
            if part == "generation" {
                changes.extend(self.generation_changes(before, was, now));
            } else {
                diff(part, was, now, &mut changes);
            }
        }
        changes
    }

    fn generation_changes(&self, before: &Inputs, was: &Json, now: &Json) -> Vec<String> {
        let keys: std::collections::BTreeSet<&String> =
            object_keys(was).chain(object_keys(now)).collect();
        keys.into_iter()
            .filter(|k| was.get(k.as_str()) != now.get(k.as_str()))
            .map(|key| {
                let show = |v: Option<&Json>| v.map_or_else(|| "unset".to_owned(), Json::to_string);
                let source = |inputs: &Inputs| {
                    inputs
                        .sources
                        .get(key.as_str())
                        .cloned()
                        .unwrap_or_else(|| "-".into())
                };
                format!(
                    "{key} {} -> {} ({} -> {})",
                    show(was.get(key.as_str())),
                    show(now.get(key.as_str())),
                    source(before),
                    source(self)
                )
            })
            .collect()
    }
}

fn object_keys(value: &Json) -> impl Iterator<Item = &String> {
    value.as_object().into_iter().flat_map(|m| m.keys())
}

/// The leaves that differ between `was` and `now`, as `path old -> new`.
fn diff(path: &str, was: &Json, now: &Json, out: &mut Vec<String>) {
    match (was, now) {
        (Json::Object(a), Json::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let null = Json::Null;
                let (x, y) = (a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null));
                diff(&format!("{path}.{key}"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path} {a} -> {b}")),
        _ => {}
    }
}

/// The status word of a finished task's record.
pub const OK: &str = "ok";

/// The record in a task's folder, if there is one; why, when there is one that cannot be read
/// (a copy cut short, a hand edit).
pub fn read(task_dir: &Path) -> Result<Option<Completion>, String> {
    let path = task_dir.join(COMPLETION);
    read_state_checked(&path).map_err(|why| format!("{}: {why}", path.display()))
}

/// Writes the record (atomically: a record is there whole or not at all).
pub fn write(task_dir: &Path, completion: &Completion) -> anyhow::Result<()> {
    write_json(&task_dir.join(COMPLETION), completion)
}

/// Whether a task with `inputs` runs, given what its folder holds.
pub fn decide(
    existing: Result<Option<Completion>, String>,
    inputs: &Inputs,
    rerun: bool,
) -> Decision {
    let existing = match existing {
        Ok(existing) => existing,
        Err(why) => return Decision::Unreadable(why),
    };
    match existing {
        Some(done) if done.status == OK => {
            if rerun {
                Decision::Rerun
            } else if done.fingerprint == inputs.fingerprint() {
                Decision::Done(Box::new(done))
            } else {
                Decision::Changed(inputs.changes_since(&done.inputs))
            }
        }
        _ => Decision::Run,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn inputs(temperature: f64, source: &str, vllm: &str) -> Inputs {
        let values = json!({
            "model": {"name": "org/m", "revision": "3f2a"},
            "generation": {"temperature": temperature, "top_k": 20},
            "task": {"task_name": "latam_es", "defaults": {"num_fewshot": 5}},
            "versions": {"vllm": vllm},
        });
        Inputs {
            values: values.as_object().unwrap().clone(),
            sources: BTreeMap::from([
                ("temperature".into(), source.into()),
                ("top_k".into(), "hf:org/m@3f2a".into()),
            ]),
        }
    }

    fn done(inputs: &Inputs) -> Completion {
        Completion {
            task: "spanish".into(),
            status: "ok".into(),
            started_at: None,
            finished_at: "t".into(),
            fingerprint: inputs.fingerprint(),
            inputs: inputs.clone(),
            results: json!({}),
            answers: None,
            datasets: BTreeMap::new(),
        }
    }

    #[test]
    fn the_fingerprint_ignores_key_order_and_sources() {
        let a = inputs(0.7, "hf:org/m@3f2a", "0.32.0");
        let mut b = inputs(0.7, "yaml:other.yaml", "0.32.0");
        b.values = b.values.into_iter().rev().collect();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(
            a.fingerprint(),
            inputs(0.6, "hf:org/m@3f2a", "0.32.0").fingerprint()
        );
    }

    #[test]
    fn a_finished_task_is_done_and_a_changed_one_says_what_changed() {
        let before = inputs(0.7, "hf:org/m@3f2a", "0.31.0");
        let record = done(&before);
        assert_eq!(
            decide(Ok(Some(record.clone())), &before, false),
            Decision::Done(Box::new(record.clone()))
        );
        assert_eq!(
            decide(Ok(Some(record.clone())), &before, true),
            Decision::Rerun
        );
        assert_eq!(decide(Ok(None), &before, false), Decision::Run);
        let now = inputs(0.6, "hf:org/m@9c1b", "0.32.0");
        assert_eq!(
            decide(Ok(Some(record.clone())), &now, false),
            Decision::Changed(vec![
                "temperature 0.7 -> 0.6 (hf:org/m@3f2a -> hf:org/m@9c1b)".into(),
                "versions.vllm \"0.31.0\" -> \"0.32.0\"".into(),
            ])
        );
        let mut failed = record.clone();
        failed.status = "failed".into();
        assert_eq!(decide(Ok(Some(failed)), &before, false), Decision::Run);
    }
}
