//! The suite's own record beside the models' folders: `<output-dir>/<run-id>/suite.json` (each
//! model's name, status, folder, times, failures and tasks) and `summary.md` (models by tasks,
//! one value per cell), written when the suite starts and again after every model, and the same
//! table on stdout at the end. Its status words are the schema's, which `read` reads back with
//! this same type.
//!
//! A run id's record holds every model any suite of that run id asked for: each write merges
//! this suite's models into what the file holds, under a lock, so a second suite (other models,
//! or the same ones again) adds to the record and two at once lose nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::layout::{SUITE_LOCK, SUITE_RECORD, SUMMARY};
use super::schema::{MetricValue, ModelStatus, Status, TaskState};
use crate::util::atomic::{read_state, write_atomic, write_json};
use crate::util::file_lock::FileLock;
use crate::util::table;
use crate::util::time::now;

/// `suite.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteRecord {
    pub run_id: String,
    pub status: Status,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub models: Vec<ModelEntry>,
}

/// One model of the suite.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelEntry {
    /// `model.name` as the run config writes it (a Hub repo id or a path), as in `run.json`.
    pub model: String,
    pub config: PathBuf,
    /// The model's run folder, relative to the run id's folder (its name); records written
    /// before held it absolute, and are read by its name alike.
    pub folder: PathBuf,
    pub status: ModelStatus,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub failures: Vec<String>,
    /// Each run task: `pending`, `done`, `failed`, `interrupted`, `not run`.
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskState>,
    /// Each run task's primary metric and its value, for the summary's table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, Cell>,
    /// The node's devices its server holds (or held), when the suite shared them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}

impl ModelEntry {
    /// The model's short name, its folder's: what the tables and messages call it.
    pub fn short_name(&self) -> &str {
        self.folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.model)
    }

    /// The model's run folder, inside the run id's folder `dir` wherever that is now.
    pub fn folder_in(&self, dir: &Path) -> PathBuf {
        dir.join(self.short_name())
    }

    /// This entry, with what `earlier` (the same model's entry, from an earlier write) knew of
    /// tasks this one does not name.
    fn over(mut self, earlier: ModelEntry) -> ModelEntry {
        for (task, state) in earlier.tasks {
            if self.tasks.contains_key(&task) {
                continue;
            }
            if let Some(cell) = earlier.values.get(&task) {
                self.values.insert(task.clone(), cell.clone());
            }
            self.tasks.insert(task, state);
        }
        self
    }
}

/// One cell of the summary: a task's primary metric for a model (`value`, `stderr`: numbers
/// or null).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    pub metric: String,
    #[serde(flatten)]
    pub value: MetricValue,
}

impl SuiteRecord {
    /// The record of the run id's folder `dir`, when it holds a readable one.
    pub fn read(dir: &Path) -> Option<SuiteRecord> {
        read_state(&dir.join(SUITE_RECORD))
    }

    /// Merges this suite's models into `dir`'s `suite.json` (the run id's folder) under its
    /// lock, and writes it and `summary.md`; returns the whole record written.
    pub fn write(&self, dir: &Path) -> anyhow::Result<SuiteRecord> {
        let lock = dir.join(SUITE_LOCK);
        let _held =
            FileLock::acquire(&lock).with_context(|| format!("cannot lock {}", lock.display()))?;
        let merged = match SuiteRecord::read(dir) {
            Some(earlier) => self.clone().over(earlier),
            None => self.clone(),
        };
        write_json(&dir.join(SUITE_RECORD), &merged)?;
        let markdown = format!(
            "# Suite {} ({})\n\n{}\n",
            merged.run_id,
            merged.status.as_str(),
            merged.markdown_table()
        );
        write_atomic(&dir.join(SUMMARY), markdown.as_bytes())?;
        Ok(merged)
    }

    /// This record over `earlier` of the same run id: the models of both, in the order they
    /// were first asked for, each model's entry this record's where it has one.
    fn over(self, earlier: SuiteRecord) -> SuiteRecord {
        let mut models: Vec<ModelEntry> = earlier.models;
        for entry in self.models {
            match models
                .iter()
                .position(|m| m.short_name() == entry.short_name())
            {
                Some(at) => {
                    let before = models.remove(at);
                    models.insert(at, entry.over(before));
                }
                None => models.push(entry),
            }
        }
        SuiteRecord {
            started_at: earlier.started_at.min(self.started_at),
            models,
            ..self
        }
    }

    /// Ends the suite.
    pub fn finish(&mut self, status: Status) {
        self.status = status;
        self.finished_at = Some(now());
    }

    /// The run tasks of every model, in the order they first appear.
    fn task_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for model in &self.models {
            for task in model.tasks.keys() {
                if !names.contains(&task.as_str()) {
                    names.push(task);
                }
            }
        }
        names
    }

    /// Models by tasks: a cell is the task's primary metric, or what became of the task.
    fn rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let tasks = self.task_names();
        let mut header = vec!["model".to_owned(), "status".to_owned()];
        header.extend(tasks.iter().map(|t| (*t).to_owned()));
        let rows = self
            .models
            .iter()
            .map(|m| {
                let mut row = vec![m.short_name().to_owned(), m.status.to_string()];
                row.extend(tasks.iter().map(|t| cell(m, t)));
                row
            })
            .collect();
        (header, rows)
    }

    /// The table for the terminal.
    pub fn table(&self) -> String {
        let (header, rows) = self.rows();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        table::render(&header, &rows)
    }

    fn markdown_table(&self) -> String {
        let (header, rows) = self.rows();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        table::markdown(&header, &rows)
    }
}

/// `metric value ± stderr`, or the task's state when it has no value.
fn cell(model: &ModelEntry, task: &str) -> String {
    let valued = model
        .values
        .get(task)
        .and_then(|c| Some((c, c.value.value?)));
    match (valued, model.tasks.get(task)) {
        (Some((cell, value)), _) => {
            format!("{} {}", cell.metric, table::value(value, cell.value.stderr))
        }
        (None, Some(state)) => state.to_string(),
        (None, None) => "-".to_owned(),
    }
}
