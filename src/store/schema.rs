//! The store's schema: the words records are written with and read back by (a run's status, a
//! model's and a task's state) and the values they hold, one table for writer and reader.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// How the run ended (or that it has not yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Ok,
    Failed,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// What a run that says it runs, while no process holds its folder, is said to have met: it
/// is read (and, once resumed, recorded) as interrupted.
pub const KILLED: &str =
    "its process ended while it ran (killed?): nothing holds its folder any more";

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

/// One metric's value and standard error; a value that is not a number is kept as `None`. Over
/// repeats, the value is their mean, the error their standard deviation, and `repeats` how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub value: Option<f64>,
    pub stderr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u32>,
}
