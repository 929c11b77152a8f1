//! The backend trait: a backend turns the resolved parameters and the run config into process
//! specs (`plan`), and later turns what those processes wrote into results (`collect`). It
//! never spawns anything itself.
//!
//! Everything here is plain data that crosses the plugin boundary as JSON: a backend sees a
//! [`RunView`] (the run config with its resolved parameters per task), never the host's types.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::diagnostic::Diagnostic;
use crate::merge::Resolved;
use crate::process::ProcessSpec;
use crate::run_config::{ModelLocation, RunConfig, Task};

/// The run as a backend sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub config_path: PathBuf,
    pub model: ModelView,
    pub provider: Option<ProviderView>,
    pub use_chat_completions: bool,
    /// The parameters of the run without any task's own block: what a server started for the
    /// whole run takes as its defaults.
    #[serde(default)]
    pub resolved: Resolved,
    pub tasks: Vec<TaskView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelView {
    /// `model.name` as written.
    pub name: String,
    pub revision: Option<String>,
    /// The model directory when `model.name` is a path.
    pub local_dir: Option<PathBuf>,
    /// The last path part of the name: the served model name and the results folder.
    pub short_name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderView {
    pub name: String,
    pub path: PathBuf,
    /// The provider file's values with `vllm.overrides` applied, as written.
    pub settings: Map<String, Json>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub name: String,
    pub task_name: String,
    pub lm_eval_path: Option<PathBuf>,
    pub include_path: Option<PathBuf>,
    pub tokenizer_backend: Option<String>,
    /// The task's `defaults` with the run's `task_defaults` over them.
    pub defaults: Map<String, Json>,
    pub output_folder: String,
    /// The parameters resolved for this task, every key with its source.
    pub resolved: Resolved,
}

impl RunView {
    /// The view of `config` with `run` the run's parameters and `resolved(task)` each task's.
    pub fn new(
        config: &RunConfig,
        run: Resolved,
        mut resolved: impl FnMut(&Task) -> Resolved,
    ) -> RunView {
        RunView {
            config_path: config.path.clone(),
            model: ModelView {
                name: config.model.name.clone(),
                revision: config.model.revision.clone(),
                local_dir: match &config.model.location {
                    ModelLocation::Local { dir } => Some(dir.clone()),
                    ModelLocation::Hub { .. } => None,
                },
                short_name: config.model.short_name(),
            },
            provider: config.provider.as_ref().map(|p| ProviderView {
                name: p.name.clone(),
                path: p.path.clone(),
                settings: p.settings.clone(),
            }),
            use_chat_completions: config.use_chat_completions,
            resolved: run,
            tasks: config
                .tasks
                .iter()
                .map(|task| TaskView {
                    name: task.name.clone(),
                    task_name: task.task_name.clone(),
                    lm_eval_path: task.lm_eval_path.clone(),
                    include_path: task.include_path.clone(),
                    tokenizer_backend: task.tokenizer_backend.clone(),
                    defaults: task.defaults.clone(),
                    output_folder: task.output_folder().to_owned(),
                    resolved: resolved(task),
                })
                .collect(),
        }
    }
}

/// A running server as the jobs see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The OpenAI-compatible API root on loopback, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The served model name (what `/v1/models` lists).
    pub model: String,
    /// The server's maximum context length, when known.
    pub max_model_len: Option<u64>,
}

/// Options of this run that shape the processes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The folder this run's outputs go to (`<output-dir>/<run-id>/<model>`).
    pub run_dir: PathBuf,
    /// Examples per task (a count, or a fraction below 1).
    pub limit: Option<f64>,
    pub log_samples: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub run: RunView,
    /// The server jobs talk to; `None` when the backend is asked to plan the server itself.
    pub server: Option<ServerInfo>,
    pub options: RunOptions,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Commands that must succeed before anything starts (is the executable there, does it know
    /// these tasks); a failure is bad input, exit code 2.
    #[serde(default)]
    pub checks: Vec<ProcessSpec>,
    /// The processes of the run: a server, or jobs.
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    /// For a server: what jobs will see once it is ready (its port is filled in by the host).
    #[serde(default)]
    pub server: Option<ServerInfo>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
    /// Facts to keep in the run record (versions requested, settings accepted but unused).
    #[serde(default)]
    pub record: Map<String, Json>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectRequest {
    pub run: RunView,
    pub outcomes: Vec<ProcessOutcome>,
}

/// How one planned process ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessOutcome {
    pub name: String,
    pub tasks: Vec<String>,
    /// `None` when it was killed by a signal or never started.
    pub exit_code: Option<i32>,
    pub output_dir: Option<PathBuf>,
    pub log_file: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Collected {
    pub results: Vec<TaskResult>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

/// The results of one evaluated task (an lm-eval task or subtask of a run task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The run task it belongs to.
    pub task: String,
    /// The backend's own name for it (an lm-eval subtask, say).
    pub name: String,
    pub sampling: Sampling,
    pub metrics: Vec<Metric>,
    /// The generation parameters the backend sent for it, in the backend's own names.
    #[serde(default)]
    pub sent_generation: Option<Map<String, Json>>,
    /// What the backend's tool recorded as used (lm-eval's `configs.<task>.generation_kwargs`),
    /// compared by the host with `sent_generation`.
    #[serde(default)]
    pub recorded_generation: Option<Map<String, Json>>,
}

/// Whether a task generates text (and so uses the sampling parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// It generates text: every request carries the resolved parameters.
    Generate,
    /// It only scores log-likelihoods (multiple choice): requests carry no sampling parameters.
    LoglikelihoodOnly,
    /// A group's aggregate over its subtasks.
    Aggregate,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    /// lm-eval's filter (`none`, `strict-match`...).
    pub filter: Option<String>,
    pub value: Json,
    pub stderr: Option<f64>,
}

/// Why a backend failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum BackendError {
    /// The run config or options are wrong for this backend (exit code 2, before anything runs).
    #[error("{0}")]
    Input(String),
    /// The backend could not do its work (exit code 1).
    #[error("{0}")]
    Failed(String),
}

/// A backend: describes processes and reads their outputs.
pub trait Backend: Send + Sync {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError>;
    fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError>;
}
