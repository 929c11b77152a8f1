//! One model of a suite, checked and planned before anything starts: its resolved parameters,
//! its server, its jobs as planned against the server as it will be, its run folder, and for
//! each task what decides its numbers (the fingerprint resume compares).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use benchy_core::backend::{RunOptions, TaskView};
use benchy_core::{Backend, Plan, RunView};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::repeats;
use crate::ops::budget;
use crate::ops::planning::{plan_jobs, run_view};
use crate::ops::questions::BackendAnswers;
use crate::ops::server::Server;
use crate::plugin::Registry;
use crate::plugin::builtins::DEFAULT_TASK_BACKEND;
use crate::plugin::manifest::Kind;
use crate::resolution::Resolution;
use crate::run_config::{ModelLocation, RunConfig};
use crate::runner::server::RunningServer;
use crate::runner::server_url::ServerUrl;
use crate::store::completion::{self, Completion, Decision, Inputs};
use crate::store::repeats::Repeated;
use crate::store::run_folder::RunFolder;
use crate::store::schema::TaskState;
use crate::util::bad_input::bad_input;
use crate::util::notes;

/// What every model of a suite is planned with.
pub(super) struct Planning<'a> {
    pub registry: &'a Registry,
    pub server_url: Option<&'a ServerUrl>,
    /// The suite's options, `run_dir` its folder `<output-dir>/<run-id>`; each model gets them
    /// with its own folder in that one.
    pub options: &'a RunOptions,
    /// The task backend's questions answered so far, shared by the suite's models.
    pub answers: &'a RefCell<BackendAnswers>,
    /// `--repeats`, over the run configs'.
    pub repeats: Option<u32>,
}

/// The task backend that runs a model's tasks, and the name it was chosen by.
pub(super) struct TaskBackend {
    pub name: String,
    pub backend: Arc<dyn Backend>,
}

impl TaskBackend {
    /// `--backend`, else the run config's `backend:`, else the default.
    pub fn choose(flag: Option<&str>, config: &RunConfig, registry: &Registry) -> Result<Self> {
        let (name, written_at) = match (flag, &config.backend) {
            (Some(name), _) => (name, None),
            (None, Some((name, at))) => (name.as_str(), Some(at)),
            (None, None) => (DEFAULT_TASK_BACKEND, None),
        };
        let backend =
            registry
                .backend(Kind::TaskBackend, name)
                .map_err(|error| match written_at {
                    Some(at) => bad_input(format!("{at}: backend: {error}")),
                    None => anyhow::Error::from(error),
                })?;
        Ok(TaskBackend {
            name: name.to_owned(),
            backend,
        })
    }
}

/// `items` grouped by the task backend each goes with, in the order the backends first come.
pub(super) fn by_backend<'b, T>(
    items: impl IntoIterator<Item = (&'b TaskBackend, T)>,
) -> Vec<(&'b TaskBackend, Vec<T>)> {
    let mut groups: Vec<(&TaskBackend, Vec<T>)> = Vec::new();
    for (backend, item) in items {
        match groups.iter_mut().find(|(b, _)| b.name == backend.name) {
            Some((_, of)) => of.push(item),
            None => groups.push((backend, vec![item])),
        }
    }
    groups
}

/// A model's tasks, each with what resume decided for it.
pub(super) type Decisions<'m> = Vec<(&'m TaskView, Decision)>;

/// A model of the suite, before anything starts.
pub(super) struct Model {
    pub resolution: Resolution,
    /// The task backend that runs its tasks.
    pub backend: TaskBackend,
    /// The run as backends see it, with the tasks `--task` selected.
    pub view: RunView,
    /// Every task of the run config, selected or not, each repeated task as its repeats: what
    /// the folder's results hold, since a run of some tasks keeps what the others finished.
    pub all_tasks: Vec<TaskView>,
    /// Every task of the run config as written (its inputs keep these).
    pub config_tasks: Vec<TaskView>,
    /// The tasks that run as repeats.
    pub repeated: Vec<Repeated>,
    pub options: RunOptions,
    pub server: Server,
    /// The task backend's plan against the server as it will be: its diagnostics, what
    /// `--dry-run` shows, the versions it found (the checks are planned once for the suite).
    pub job_plan: Plan,
    pub folder: RunFolder,
    /// Each task's inputs (what decides its numbers), by task name.
    pub inputs: BTreeMap<String, Inputs>,
}

impl Model {
    /// Plans the model of `resolution` with the tasks named in `only` (all when empty).
    pub fn prepare(
        resolution: Resolution,
        backend: TaskBackend,
        only: &[String],
        planning: &Planning,
    ) -> Result<Model> {
        let mut view = run_view(&resolution, only);
        let config_tasks = run_view(&resolution, &[]).tasks;
        let options = RunOptions {
            run_dir: planning.options.run_dir.join(&view.model.short_name),
            ..planning.options.clone()
        };
        let server = Server::plan(planning.registry, &view, &options, planning.server_url)?;
        let template = server.template(&view)?;
        if let Some(max_len) = template.max_model_len {
            budget::check(&view, max_len, "the provider's max_model_len")?;
        }
        let plan = |view: &RunView| {
            planning
                .answers
                .borrow_mut()
                .plan(&options.home, |answers| {
                    plan_jobs(&backend.backend, view, &template, &options, answers)
                })
        };
        let mut job_plan = plan(&view)?;
        let counts = repeat_counts(&resolution, planning.repeats);
        let count = |name: &str| counts.get(name).copied().unwrap_or(1);
        let mut all_tasks = config_tasks.clone();
        let mut repeated = Vec::new();
        if counts.values().any(|k| *k > 1) {
            let all = RunView {
                tasks: config_tasks.clone(),
                ..view.clone()
            };
            let kinds = plan(&all)?.task_kinds;
            let (tasks, of, notes) = repeats::expand(view.tasks, count, &kinds)?;
            notes::print(&notes);
            view.tasks = tasks;
            (all_tasks, repeated, _) = repeats::expand(config_tasks.clone(), count, &kinds)?;
            repeats::check_any_repeats(&of, true)?;
            job_plan = plan(&view)?;
        }
        let folder = RunFolder {
            dir: options.run_dir.clone(),
        };
        let mut model = Model {
            resolution,
            backend,
            view,
            all_tasks,
            config_tasks,
            repeated,
            options,
            server,
            job_plan,
            folder,
            inputs: BTreeMap::new(),
        };
        model.inputs = model.task_inputs();
        Ok(model)
    }

    /// Each task's state by `state` of its runs (a repeated task's repeats folded into it).
    pub fn states(&self, state: impl Fn(&TaskView) -> TaskState) -> BTreeMap<String, TaskState> {
        let states = self.view.tasks.iter().map(|t| (t.name.clone(), state(t)));
        repeats::fold_states(states.collect(), &self.repeated)
            .into_iter()
            .collect()
    }

    /// The model's short name, which its folder has.
    pub fn short_name(&self) -> &str {
        &self.view.model.short_name
    }

    /// The versions of what will run, as the plans know them before anything starts.
    pub fn planned_versions(&self) -> BTreeMap<String, String> {
        let mut versions = self.job_plan.versions.clone();
        if let Some(server) = self.server.launched() {
            versions.extend(server.plan.versions.clone());
        }
        versions
    }

    /// What each task's folder says of it now, and so whether it runs.
    pub fn decisions(&self, rerun: bool) -> Decisions<'_> {
        self.view
            .tasks
            .iter()
            .map(|task| {
                let done = completion::read(&self.folder.path(&task.output_folder));
                (
                    task,
                    completion::decide(done, &self.inputs[&task.name], rerun),
                )
            })
            .collect()
    }

    /// The finished tasks of the folder that `--task` left out: they stay as they are, their
    /// results among the model's.
    pub fn kept(&self) -> Vec<Completion> {
        let selected = |t: &TaskView| self.view.tasks.iter().any(|s| s.name == t.name);
        self.all_tasks
            .iter()
            .filter(|t| !selected(t))
            .filter_map(|t| completion::read(&self.folder.path(&t.output_folder)).ok()?)
            .filter(|c| c.status == completion::OK)
            .collect()
    }

    fn task_inputs(&self) -> BTreeMap<String, Inputs> {
        let model = self.identity();
        let server = self.server.identity();
        let versions = json!(self.planned_versions());
        let options = json!({
            "backend": self.backend.name,
            "limit": self.options.limit,
            "chat": self.view.use_chat_completions,
        });
        self.view
            .tasks
            .iter()
            .map(|task| {
                let generation: Map<String, Json> = task
                    .resolved
                    .params
                    .iter()
                    .map(|(key, p)| (key.to_string(), p.value.to_json()))
                    .collect();
                let values = json!({
                    "model": model,
                    "generation": generation,
                    "mode": task.mode,
                    "task": task_settings(task),
                    "options": options,
                    "versions": versions,
                    "server": server,
                });
                let sources = task
                    .resolved
                    .params
                    .iter()
                    .map(|(key, p)| (key.to_string(), p.source.to_string()))
                    .collect();
                let values = values.as_object().cloned().unwrap_or_default();
                (task.name.clone(), Inputs { values, sources })
            })
            .collect()
    }

    /// The model as its files are: the Hub name with the commit a source read its files at, or
    /// a local folder with a hash of its files.
    pub fn identity(&self) -> Json {
        let config = &self.resolution.config.model;
        let read_at = self
            .resolution
            .source_layers
            .iter()
            .filter_map(|l| l.artifact.as_ref())
            .find(|a| a.model_file)
            .and_then(|a| a.revision.clone());
        let files = match &config.location {
            ModelLocation::Local { dir } => Some(folder_hash(dir)),
            ModelLocation::Hub { .. } => None,
        };
        json!({
            "name": config.name,
            "revision": config.revision,
            "read_at": read_at,
            "files": files,
        })
    }
}

impl Model {
    /// The model's identity when it names the files exactly (the commit a source read them
    /// at, a pinned commit, or a local folder's hash): what a cached answer may be filed under.
    pub fn exact_identity(&self) -> Option<Json> {
        let identity = self.identity();
        let commit = identity["revision"]
            .as_str()
            .is_some_and(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
        let exact = commit || !identity["read_at"].is_null() || !identity["files"].is_null();
        exact.then_some(identity)
    }

    /// The server as it answers: its backend, version and what of it changes answers (its
    /// backend says), or an attached server's address and version; with the model's chat
    /// template, which the server renders.
    pub fn server_identity(&self, server: &RunningServer) -> Json {
        let template = self
            .resolution
            .chat_template
            .as_ref()
            .map(|t| format!("{:x}", Sha256::digest(t.text.as_bytes())));
        match self.server.launched() {
            Some(plan) => json!({
                "backend": plan.backend,
                "version": server.version,
                "output": plan.plan.output_identity,
                "template": template,
            }),
            None => json!({
                "url": server.info.base_url,
                "model": server.info.model,
                "version": server.version,
                "template": template,
            }),
        }
    }
}

/// How many times each task of `resolution` runs: `--repeats`, else its own `repeats:`, else
/// the run config's, else once.
fn repeat_counts(resolution: &Resolution, flag: Option<u32>) -> BTreeMap<String, u32> {
    let config = &resolution.config;
    config
        .tasks
        .iter()
        .map(|t| {
            let k = flag.or(t.repeats).or(config.repeats).unwrap_or(1);
            (t.name.clone(), k)
        })
        .collect()
}

/// The task's settings that decide its numbers.
fn task_settings(task: &TaskView) -> Json {
    let mut settings = json!({
        "task_name": task.task_name,
        "include_path": task.include_path,
        "lm_eval_path": task.lm_eval_path,
        "tokenizer_backend": task.tokenizer_backend,
        "defaults": task.defaults,
    });
    // Only where set, so that the inputs of a task without them read as they always did.
    if let Some(inspect_task) = &task.inspect_task {
        settings["inspect_task"] = json!(inspect_task);
    }
    if !task.task_args.is_empty() {
        settings["task_args"] = json!(task.task_args);
    }
    settings
}

/// The largest file of a local model folder whose contents are hashed; bigger ones (weights)
/// count by name and size, which is what a swap of weights changes without reading gigabytes.
const HASHED_FILE_MAX: u64 = 64 * 1024 * 1024;

/// A hash of a local model folder's files: small files by contents, large ones by size.
fn folder_hash(dir: &Path) -> String {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut hash = Sha256::new();
    for entry in entries {
        let size = entry.metadata().map(|m| m.len()).unwrap_or_default();
        hash.update(entry.file_name().as_encoded_bytes());
        hash.update(size.to_le_bytes());
        if size <= HASHED_FILE_MAX
            && let Ok(bytes) = std::fs::read(entry.path())
        {
            hash.update(&bytes);
        }
    }
    format!("{:x}", hash.finalize())
}
