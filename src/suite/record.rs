//! The suite's own record beside the models' folders: `<output-dir>/<run-id>/suite.json` (each
//! model's name, status, folder, times, failures and tasks) and `summary.md` (models by tasks,
//! one value per cell), written when the suite starts and again after every model, and the same
//! table on stdout at the end. Its status words are the ones `results::read` reads back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::atomic::{write_atomic, write_json};
use crate::results::read::MetricValue;
use crate::run_record::{Status, now};
use crate::table;

/// `suite.json`.
#[derive(Debug, Serialize)]
pub struct SuiteRecord {
    pub run_id: String,
    pub status: Status,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub models: Vec<ModelEntry>,
}

/// One model of the suite.
#[derive(Debug, Serialize)]
pub struct ModelEntry {
    /// `model.name` as the run config writes it (a Hub repo id or a path), as in `run.json`.
    pub model: String,
    pub config: PathBuf,
    /// The model's run folder (absolute).
    pub folder: PathBuf,
    pub status: ModelStatus,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub failures: Vec<String>,
    /// Each run task: `pending`, `done`, `failed`, `interrupted`, `not run`.
    pub tasks: BTreeMap<String, TaskState>,
    /// Each run task's primary metric and its value, for the summary's table.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, Cell>,
}

impl ModelEntry {
    /// The model's short name, its folder's: what the tables and messages call it.
    pub fn short_name(&self) -> &str {
        self.folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.model)
    }
}

/// Where a model is in the suite, and how a run read back stands: the words of `suite.json`
/// and `run.json` (`ok`, `failed`, `interrupted`, `running`), one table for writer and reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    Pending,
    Running,
    Ok,
    Failed,
    Interrupted,
    #[serde(rename = "not run")]
    NotRun,
    /// Read back only: no readable record, or a word this benchy does not know.
    #[serde(other)]
    Unknown,
}

/// How one task of a model stands: the words of `suite.json`, and of `completion.json`
/// (`ok`), one table for writer and reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Finished with results.
    #[serde(alias = "ok")]
    Done,
    /// Failed (it may still have results: a verification or audit failure keeps them).
    Failed,
    Interrupted,
    /// Read back only: its run is running.
    Running,
    Pending,
    #[serde(rename = "not run")]
    NotRun,
    /// Read back only: nothing says it failed, yet there are no results (an unreadable
    /// `results.json`).
    #[serde(rename = "no results")]
    NoResults,
}

/// A state as its word: its serde name, so the words are written in one place.
fn word(state: impl Serialize) -> String {
    match serde_json::to_value(state) {
        Ok(Json::String(word)) => word,
        _ => String::new(),
    }
}

impl std::fmt::Display for ModelStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&word(self))
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&word(self))
    }
}

/// One cell of the summary: a task's primary metric for a model (`value`, `stderr`: numbers
/// or null).
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub metric: String,
    #[serde(flatten)]
    pub value: MetricValue,
}

impl SuiteRecord {
    /// Writes `suite.json` and `summary.md` into `dir` (the run id's folder).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_json(&dir.join("suite.json"), self)?;
        let markdown = format!(
            "# Suite {} ({})\n\n{}\n",
            self.run_id,
            self.status.as_str(),
            self.markdown_table()
        );
        write_atomic(&dir.join("summary.md"), markdown.as_bytes())
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
