//! What decides a run's numbers besides the model: its generation parameters (value and source
//! of every key, run-wide and where a task's own set differs) and the settings around them
//! (the task backend, the version of every tool the backends and the server recorded,
//! `--limit`, few-shot, chat mode, the mode a thinking model ran in, the server's context
//! length). The leaderboard keeps runs
//! whose setups agree in one row and tells rows apart by where they differ; `compare` lists
//! where two runs differ. Values compare as written; sources only say where a value came from.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use crate::store::read::{Param, StoredRun};

/// Whether an item is a generation parameter or a setting around them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Parameter,
    Setting,
}

/// An item's name, and the task it is for (`None`: the whole run).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Key {
    pub kind: Kind,
    pub task: Option<String>,
    pub name: String,
}

impl Key {
    fn run(kind: Kind, name: &str) -> Key {
        Key {
            kind,
            task: None,
            name: name.to_owned(),
        }
    }

    /// `temperature`, or `gen: top_k` for a task's own value.
    pub fn label(&self) -> String {
        match &self.task {
            Some(task) => format!("{task}: {}", self.name),
            None => self.name.clone(),
        }
    }
}

/// An item's value as text, and its source when it is a parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Item {
    /// `0.7 (hf:org/model@3f2a...)`, or the value alone.
    pub fn shown(&self) -> String {
        match &self.source {
            Some(source) => format!("{} ({source})", self.value),
            None => self.value.clone(),
        }
    }
}

/// Where a task's set removes a key the run's set has.
const NONE: &str = "(none)";

/// A run's setup: every item, and the tasks it covers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Setup {
    items: BTreeMap<Key, Item>,
    tasks: BTreeSet<String>,
}

impl Setup {
    pub fn of(run: &StoredRun) -> Setup {
        let mut setup = Setup::default();
        for (name, param) in &run.params {
            setup.put(Key::run(Kind::Parameter, name), param_item(param));
        }
        for task in &run.tasks {
            setup.tasks.insert(task.name.clone());
            setup.task_params(run, &task.name);
            if let Some(shots) = &task.num_fewshot {
                let key = Key {
                    task: Some(task.name.clone()),
                    ..Key::run(Kind::Setting, "few-shot")
                };
                setup.put(key, plain(text(shots)));
            }
        }
        setup.modes(run);
        for (tool, version) in &run.versions {
            setup.put(
                Key::run(Kind::Setting, &format!("{tool} version")),
                plain(version.clone()),
            );
        }
        let settings = [
            ("task backend", run.backend.clone()),
            ("limit", run.limit.map(|l| l.to_string())),
            ("chat completions", run.chat.map(|c| c.to_string())),
            ("max model length", run.max_model_len.map(|l| l.to_string())),
        ];
        for (name, value) in settings {
            if let Some(value) = value {
                setup.put(Key::run(Kind::Setting, name), plain(value));
            }
        }
        setup
    }

    /// The mode the run's tasks ran in: one setting when they share it, else one per task, so
    /// two modes of one model are two setups.
    fn modes(&mut self, run: &StoredRun) {
        let modes: BTreeSet<Option<&String>> = run.tasks.iter().map(|t| t.mode.as_ref()).collect();
        if let [Some(mode)] = modes.iter().collect::<Vec<_>>().as_slice() {
            self.put(Key::run(Kind::Setting, "mode"), plain((*mode).clone()));
            return;
        }
        if modes.len() < 2 {
            return;
        }
        for task in &run.tasks {
            let key = Key {
                task: Some(task.name.clone()),
                ..Key::run(Kind::Setting, "mode")
            };
            let mode = task.mode.clone().unwrap_or_else(|| NONE.to_owned());
            self.put(key, plain(mode));
        }
    }

    /// The keys where `task`'s own set differs from the run's.
    fn task_params(&mut self, run: &StoredRun, task: &str) {
        let Some(own) = run.task_params.get(task) else {
            return;
        };
        let key = |name: &str| Key {
            task: Some(task.to_owned()),
            ..Key::run(Kind::Parameter, name)
        };
        for (name, param) in own {
            if run.params.get(name).map(|p| &p.value) != Some(&param.value) {
                self.put(key(name), param_item(param));
            }
        }
        for name in run.params.keys().filter(|n| !own.contains_key(*n)) {
            self.put(key(name), plain(NONE.to_owned()));
        }
    }

    fn put(&mut self, key: Key, item: Item) {
        self.items.insert(key, item);
    }

    /// `key`'s item; a task without a value of its own for a parameter has the run's.
    pub fn get(&self, key: &Key) -> Option<&Item> {
        self.items.get(key).or_else(|| match (&key.task, key.kind) {
            (Some(_), Kind::Parameter) => self.items.get(&Key {
                task: None,
                ..key.clone()
            }),
            _ => None,
        })
    }

    /// Whether `key` means anything for this setup: a run-wide key always, a task's key when
    /// the setup covers the task.
    fn covers(&self, key: &Key) -> bool {
        key.task.as_ref().is_none_or(|t| self.tasks.contains(t))
    }

    /// The keys where two setups disagree, among those both cover.
    pub fn differences(&self, other: &Setup) -> Vec<Key> {
        let keys: BTreeSet<&Key> = self.items.keys().chain(other.items.keys()).collect();
        keys.into_iter()
            .filter(|k| self.covers(k) && other.covers(k))
            .filter(|k| self.get(k).map(|i| &i.value) != other.get(k).map(|i| &i.value))
            .cloned()
            .collect()
    }

    /// Whether two runs may share a row: their setups agree, or one of them recorded none (a
    /// suite's model not started yet), so nothing says they differ.
    pub fn agrees(&self, other: &Setup) -> bool {
        self.items.is_empty() || other.items.is_empty() || self.differences(other).is_empty()
    }

    /// Takes in the tasks `other` covers that this setup does not (their setups agree), and
    /// all of `other` when this one recorded nothing.
    pub fn absorb(&mut self, other: &Setup) {
        if self.items.is_empty() {
            self.items = other.items.clone();
        }
        for (key, item) in &other.items {
            if key.task.as_ref().is_some_and(|t| !self.tasks.contains(t)) {
                self.items.insert(key.clone(), item.clone());
            }
        }
        self.tasks.extend(other.tasks.iter().cloned());
    }
}

fn param_item(param: &Param) -> Item {
    Item {
        value: text(&param.value),
        source: Some(param.source.clone()),
    }
}

fn plain(value: String) -> Item {
    Item {
        value,
        source: None,
    }
}

/// A JSON value as a person reads it: strings without quotes, the rest as JSON.
pub fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::store::read::{ModelStatus, StoredTask, TaskState};

    fn param(value: Json, source: &str) -> Param {
        Param {
            value,
            source: source.into(),
        }
    }

    fn run(temperature: f64, tasks: &[&str]) -> StoredRun {
        let params = BTreeMap::from([(
            "temperature".to_owned(),
            param(json!(temperature), "file:a.json"),
        )]);
        StoredRun {
            dir: PathBuf::from("/runs/r/m"),
            run_id: "r".into(),
            model: "org/m".into(),
            short_name: "m".into(),
            recorded: true,
            status: ModelStatus::Ok,
            started_at: None,
            failures: Vec::new(),
            backend: None,
            limit: Some(2.0),
            chat: Some(false),
            versions: BTreeMap::from([("lm_eval".to_owned(), "0.4.13".to_owned())]),
            max_model_len: None,
            startup: None,
            devices: Vec::new(),
            task_params: tasks
                .iter()
                .map(|t| (t.to_string(), params.clone()))
                .collect(),
            params,
            tasks: tasks
                .iter()
                .map(|t| StoredTask {
                    name: t.to_string(),
                    task_name: None,
                    primary_metric: None,
                    num_fewshot: None,
                    mode: None,
                    answers: None,
                    datasets: Default::default(),
                    hub_dataset: None,
                    finished_at: None,
                    state: TaskState::Done,
                    results: Vec::new(),
                })
                .collect(),
            verification: Vec::new(),
            audit: None,
        }
    }

    #[test]
    fn a_differing_temperature_is_the_only_difference() {
        let a = Setup::of(&run(0.7, &["gen"]));
        let b = Setup::of(&run(0.6, &["gen"]));
        let keys = a.differences(&b);
        assert_eq!(keys, [Key::run(Kind::Parameter, "temperature")]);
        assert_eq!(a.get(&keys[0]).unwrap().shown(), "0.7 (file:a.json)");
        assert!(Setup::of(&run(0.7, &["mc"])).differences(&a).is_empty());
    }

    #[test]
    fn a_task_that_overrides_a_key_differs_only_for_that_task() {
        let plain_run = run(0.7, &["gen", "mc"]);
        let mut overriding = plain_run.clone();
        overriding
            .task_params
            .get_mut("gen")
            .unwrap()
            .insert("temperature".into(), param(json!(0.0), "task:gen"));
        let keys = Setup::of(&plain_run).differences(&Setup::of(&overriding));
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].label(), "gen: temperature");
        // the task without its own value has the run's
        let b = Setup::of(&overriding);
        let mc = Key {
            task: Some("mc".into()),
            ..keys[0].clone()
        };
        assert_eq!(b.get(&mc).unwrap().value, "0.7");
    }

    #[test]
    fn settings_are_items_too_and_absorbing_adds_tasks() {
        let mut a = run(0.7, &["gen"]);
        a.limit = None;
        let mut setup = Setup::of(&a);
        let b = Setup::of(&run(0.7, &["mc"]));
        assert_eq!(setup.differences(&b)[0].label(), "limit");
        setup.absorb(&b);
        assert!(setup.covers(&Key {
            task: Some("mc".into()),
            ..Key::run(Kind::Setting, "few-shot")
        }));
    }

    /// No tool is named here: whatever versions a backend or the server recorded are items.
    #[test]
    fn every_recorded_version_is_a_setting_whatever_the_tool() {
        let mut a = run(0.7, &["gen"]);
        a.versions.insert("inspect_ai".into(), "0.3.285".into());
        let mut b = a.clone();
        b.versions.insert("inspect_ai".into(), "0.3.286".into());
        b.versions.insert("server".into(), "1.2".into());
        let keys = Setup::of(&a).differences(&Setup::of(&b));
        let labels: Vec<String> = keys.iter().map(Key::label).collect();
        assert_eq!(labels, ["inspect_ai version", "server version"]);
        assert_eq!(Setup::of(&b).get(&keys[0]).unwrap().value, "0.3.286");
    }
}
