//! The suite's own record beside the models' folders: `<output-dir>/<run-id>/suite.json` (each
//! model's name, status, folder, times, failures and tasks) and `summary.md` (models by tasks,
//! one value per cell), written when the suite starts and again after every model, and the same
//! table on stdout at the end. Its status words are the schema's, which `read` reads back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::layout::{SUITE_RECORD, SUMMARY};
use super::schema::{MetricValue, ModelStatus, Status, TaskState};
use crate::util::atomic::{write_atomic, write_json};
use crate::util::table;
use crate::util::time::now;

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
        write_json(&dir.join(SUITE_RECORD), self)?;
        let markdown = format!(
            "# Suite {} ({})\n\n{}\n",
            self.run_id,
            self.status.as_str(),
            self.markdown_table()
        );
        write_atomic(&dir.join(SUMMARY), markdown.as_bytes())
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
