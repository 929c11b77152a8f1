//! The backend trait: a backend turns the resolved parameters and the run config into process
//! specs (`plan`), and later turns what those processes wrote into results (`collect`). It
//! never spawns anything itself: the host runs what it describes.
//!
//! Two kinds of backend exist, told apart by what the host asks: a *server backend* (chosen by
//! the provider config's `backend`, `vllm` when absent) is asked with `server: None` and plans
//! the one process that serves the model; a *task backend* (`--backend`, `lm-eval` by default)
//! is asked with the server the jobs talk to and plans the jobs. A backend asked for the kind it
//! is not answers [`BackendError::Input`] saying so.
//!
//! Everything here is plain data that crosses the plugin boundary as JSON: a backend sees a
//! [`RunView`] (the run config with its resolved parameters per task), never the host's types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::diagnostic::Diagnostic;
use crate::environment::PythonEnv;
use crate::merge::Resolved;
use crate::problem::Problem;
use crate::process::ProcessSpec;

/// The run as a backend sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// The run config (the model file) as given on the command line.
    pub config_path: PathBuf,
    pub model: ModelView,
    /// The provider config with the model file's overrides applied; `None` when the run config
    /// names none.
    pub provider: Option<ProviderView>,
    /// Send chat requests (the model's chat template) rather than plain completions.
    pub use_chat_completions: bool,
    /// The parameters of the run without any task's own block: what a server started for the
    /// whole run takes as its defaults.
    #[serde(default)]
    pub resolved: Resolved,
    /// The tasks to run, in the run config's order.
    pub tasks: Vec<TaskView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelView {
    /// `model.name` as written: a Hub repo id or a path.
    pub name: String,
    /// `model.revision`: a branch, tag or commit of a Hub repo.
    pub revision: Option<String>,
    /// The model directory (absolute) when `model.name` is a path.
    pub local_dir: Option<PathBuf>,
    /// The last path part of the name: the served model name and the results folder.
    pub short_name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderView {
    /// The provider's name as the run config gives it (`vllm_single_card`), or `inline`.
    pub name: String,
    /// The provider file; relative paths in its settings are relative to its folder.
    pub path: PathBuf,
    /// The server backend that reads these settings (the file's `backend` key, `vllm` when
    /// absent).
    #[serde(default)]
    pub backend: String,
    /// The provider file's values with `vllm.overrides` applied, as written, without
    /// `backend`. The server backend checks them.
    pub settings: Map<String, Json>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// The name the run config uses for the task.
    pub name: String,
    /// The evaluator's own task (or group) name; `name` unless the task file says otherwise.
    pub task_name: String,
    /// A folder with its own evaluator installation (the Python tool's `lm_eval_path`).
    pub lm_eval_path: Option<PathBuf>,
    /// A folder of task definitions the evaluator should also search.
    pub include_path: Option<PathBuf>,
    /// How the evaluator tokenizes (`remote`, `huggingface`, `none`), when the task says.
    pub tokenizer_backend: Option<String>,
    /// An inspect task (`inspect_task`): `/abs/FILE.py@NAME`, `/abs/FILE.py`, or a registered
    /// task's name.
    #[serde(default)]
    pub inspect_task: Option<String>,
    /// The evaluator task's own arguments (`task_args`), as written.
    #[serde(default)]
    pub task_args: Map<String, Json>,
    /// The task's `defaults` with the run's `task_defaults` over them, as written; the task
    /// backend checks them.
    pub defaults: Map<String, Json>,
    /// The task's folder inside the run folder (`output.subdirectory`, else its name): a single
    /// path part.
    pub output_folder: String,
    /// The parameters resolved for this task, every key with its source; normalized (the
    /// temperature is explicit). [`Resolved::openai_params`] gives them in the API's names. A
    /// mode's template switch is its `chat_template_kwargs`.
    pub resolved: Resolved,
    /// The mode the task runs in (a thinking model's preset and template switch), when one was
    /// chosen: its requests go over chat completions.
    #[serde(default)]
    pub mode: Option<ModeView>,
}

/// A mode of a model: a preset of generation parameters with the chat template's switch, chosen
/// for a task. Its parameters and switch are already in the task's resolved set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeView {
    pub name: String,
    /// Where the mode is defined, for messages: `run.yaml:12`, or a catalog file.
    pub defined_in: String,
    /// What chose it, for messages: `--mode`, or the file and line of a `mode:` key.
    pub chosen_by: String,
    /// The task itself asked for the mode (its own `mode:`), rather than the run: a task that
    /// cannot run in a mode is then an error rather than left on its usual route.
    #[serde(default)]
    pub by_task: bool,
    /// The system prompt every request of the mode starts with (families switched there, as
    /// Magistral), when it has one.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The model reasons before it answers in this mode: no request may carry a stop string,
    /// which would end generation inside the reasoning; the task's stop strings apply to the
    /// answer after it.
    pub thinks: bool,
    /// The text that closes the reasoning in an answer the server did not split (`</think>`).
    pub think_end: String,
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
    /// How many requests the server batches at once, when its backend knows (vLLM's
    /// `max_num_seqs`): jobs keep that many in flight unless their tasks say otherwise.
    #[serde(default)]
    pub capacity: Option<Capacity>,
}

/// A number of requests in flight, and where it comes from (for `--dry-run` and the record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub requests: u64,
    /// `the provider's max_num_seqs (configs/providers/tiny_cpu.yaml)`, say.
    pub source: String,
}

/// Options of this run that shape the processes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The folder this run's outputs go to (`<output-dir>/<run-id>/<model>`), absolute. Process
    /// specs name their logs relative to it; jobs write their outputs inside it.
    pub run_dir: PathBuf,
    /// Examples per task (a count, or a fraction below 1).
    pub limit: Option<f64>,
    /// Keep every request and answer.
    pub log_samples: bool,
    /// benchy's home folder (`BENCHY_HOME`, default `~/.cache/benchy`), where `make setup` and
    /// `benchy envs` keep Python environments.
    #[serde(default)]
    pub home: PathBuf,
    /// The most requests one job keeps in flight when its task sets no number (the
    /// `max_concurrent` setting), with where it is set.
    #[serde(default)]
    pub max_concurrent: Option<Capacity>,
}

impl RunOptions {
    /// Requests in flight for a job whose task sets no number: the server's capacity, capped by
    /// [`RunOptions::max_concurrent`]; the cap alone when the capacity is not known.
    pub fn requests_in_flight(&self, server: &ServerInfo) -> Option<Capacity> {
        match (&server.capacity, &self.max_concurrent) {
            (Some(capacity), Some(cap)) if cap.requests < capacity.requests => Some(Capacity {
                requests: cap.requests,
                source: format!(
                    "{}, below the server's capacity {} ({})",
                    cap.source, capacity.requests, capacity.source
                ),
            }),
            (Some(capacity), _) => Some(capacity.clone()),
            (None, Some(cap)) => Some(Capacity {
                requests: cap.requests,
                source: format!("{}; the server's capacity is not known", cap.source),
            }),
            (None, None) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub run: RunView,
    /// The server jobs talk to; `None` when a server backend is asked to plan the server.
    pub server: Option<ServerInfo>,
    pub options: RunOptions,
    /// What the backend's [`Plan::questions`] printed, by question name, each parsed as JSON:
    /// the backend is asked again with them until it asks nothing new.
    #[serde(default)]
    pub answers: BTreeMap<String, Json>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Commands whose output the backend needs to plan (which of these tasks generate text?):
    /// the host runs each one not yet in [`PlanRequest::answers`], before anything starts, reads
    /// its standard output as one JSON document and asks for the plan again with it. A question
    /// that fails is bad input, as a failed check is.
    #[serde(default)]
    pub questions: Vec<ProcessSpec>,
    /// Commands that must succeed before anything starts (is the executable there, does it know
    /// these tasks); a failure is bad input, exit code 2.
    #[serde(default)]
    pub checks: Vec<ProcessSpec>,
    /// The processes of the run: one server (role `server`), or jobs (role `job`).
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    /// For a server: what jobs will see once it is ready (the host fills in its port).
    #[serde(default)]
    pub server: Option<ServerInfo>,
    /// Python environments the processes run from (`{env:<name>}` in their specs), built by
    /// benchy before the processes start.
    #[serde(default)]
    pub environments: Vec<PythonEnv>,
    /// What the user should know about the plan, printed before anything starts.
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
    /// The versions of the tools the processes run, by tool (`lm_eval` -> `0.4.13`), as far as
    /// the backend can tell without running them; kept in the run record.
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// Other facts to keep in the run record (executables chosen, settings accepted but
    /// unused), under the backend's name.
    #[serde(default)]
    pub record: Map<String, Json>,
    /// How each task scores, by task name, where the backend knows before it runs: a task that
    /// only scores log-likelihoods does not sample, so the host never repeats it.
    #[serde(default)]
    pub task_kinds: BTreeMap<String, Sampling>,
    /// For a server: what of it decides its answers besides the model (its data type, context
    /// length, quantization, chat template, default parameters; not what only changes its
    /// speed). Two servers with equal identities answer a request alike: a response cache files
    /// answers under it.
    #[serde(default)]
    pub output_identity: Map<String, Json>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectRequest {
    pub run: RunView,
    /// The same options the plan was made with; `options.run_dir` is the run folder.
    pub options: RunOptions,
    /// How each planned job ended, in the plan's order.
    pub outcomes: Vec<ProcessOutcome>,
}

/// How one planned process ran: what the run record keeps of it and what `collect` reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessOutcome {
    /// The spec's name (`lm-eval[gen+mc]`).
    pub name: String,
    /// The run tasks it covered.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// The command line as it may be shown (secrets as `***`).
    pub command: String,
    /// The folder it ran in, when not benchy's own.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// `None` when it was killed by a signal, timed out, or never started.
    pub exit_code: Option<i32>,
    /// The ending in words: `exit code 0`, `killed by SIGTERM`, `timed out after 60 s`, `not
    /// started`, `cannot start: ...`.
    pub status: String,
    /// When it was spawned and when it was seen to end (RFC 3339, UTC); `None` if it never
    /// started or has not ended.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Its stdout and stderr.
    #[serde(rename = "log")]
    pub log_file: PathBuf,
    /// The folder it wrote its outputs to (the spec's `output_dir`).
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
}

impl ProcessOutcome {
    /// Exit code 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Collected {
    pub results: Vec<TaskResult>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

/// The results of one evaluated task (an evaluator's task or subtask of a run task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The run task it belongs to.
    pub task: String,
    /// The backend's own name for it (an lm-eval subtask, say).
    pub name: String,
    pub sampling: Sampling,
    pub metrics: Vec<Metric>,
    /// The generation parameters the backend sent for it, in the names its tool uses.
    #[serde(default)]
    pub sent_generation: Option<Map<String, Json>>,
    /// What the backend's tool recorded as used (lm-eval's `configs.<task>.generation_kwargs`),
    /// in the same names; the host compares it with `sent_generation` key by key. `None` for a
    /// generating task makes the task "not recorded", which fails the run.
    #[serde(default)]
    pub recorded_generation: Option<Map<String, Json>>,
    /// The dataset it was evaluated on, as its tool names it, when it says.
    #[serde(default)]
    pub dataset: Option<DatasetRef>,
    /// How many samples were scored, when its tool says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
}

/// A task's dataset: a Hugging Face Hub id (`openai/gsm8k`) or whatever else the tool loads from
/// (a loader name such as `json`), its configuration and its revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetRef {
    pub path: String,
    pub name: Option<String>,
    pub revision: Option<String>,
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
    /// The evaluator's filter (lm-eval's `none`, `strict-match`...), if it has such a notion.
    pub filter: Option<String>,
    pub value: Json,
    pub stderr: Option<f64>,
    /// Each sample's score, in the evaluator's order of samples, when it kept them (lm-eval's
    /// `--log_samples`): what `pass@k` over repeats needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
}

/// Why a backend failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackendError {
    /// The run config or options are wrong for this backend (exit code 2, before anything runs).
    #[error("{0}")]
    Input(Box<Problem>),
    /// The backend could not do its work (exit code 1).
    #[error("{0}")]
    Failed(Box<Problem>),
}

impl BackendError {
    /// Bad input, described by `message` alone.
    pub fn input(message: impl Into<String>) -> BackendError {
        BackendError::Input(Box::new(Problem::new(message)))
    }

    /// A failure, described by `message` alone.
    pub fn failed(message: impl Into<String>) -> BackendError {
        BackendError::Failed(Box::new(Problem::new(message)))
    }

    pub fn problem(&self) -> &Problem {
        match self {
            BackendError::Input(p) | BackendError::Failed(p) => p,
        }
    }

    /// The same error, reported by `reporter` (a plugin's label).
    pub fn reported_by(self, reporter: &str) -> BackendError {
        match self {
            BackendError::Input(p) => BackendError::Input(Box::new((*p).reported_by(reporter))),
            BackendError::Failed(p) => BackendError::Failed(Box::new((*p).reported_by(reporter))),
        }
    }
}

/// A backend: describes processes and reads their outputs.
pub trait Backend: Send + Sync {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError>;
    fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError>;
}
