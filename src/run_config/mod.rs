//! Run configs: the model file a user passes with `-c`, the provider file it names and the task
//! files it lists, read into one checked [`RunConfig`].
//!
//! The format is the Python tool's, accepted unchanged: `model.name`, `vllm.provider_config`
//! (a file in a `providers/` folder beside or above the model file's folder), `vllm.overrides`
//! (replace provider values), `tasks` (names of files in a `tasks/` folder found the same way),
//! `task_defaults` (replace every task's `defaults`), `use_chat_completions`. benchy extends it
//! in the same style: a top-level `generation:` mapping, `model.revision`, `require_sources`,
//! and tasks given inline as mappings.
//!
//! Paths in these files are relative to the file they are written in. Absolute paths may
//! belong to another machine (the Python tool's files carry `/home/...`): they are kept as
//! written here and checked by the command that needs them.

pub mod catalog;
pub mod inputs;
mod lookup;
mod model;
pub mod modes;
mod provider;
mod raw;
mod task;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use benchy_core::Diagnostic;
use benchy_core::layer::{Layer, LayerError, SourceRef};
use benchy_core::source::read_text_file;
use benchy_source_yaml::yaml::{self, GenerationMapping, YamlError};
use serde_json::{Map, Value as Json};

use modes::{ChosenMode, Mode};
use raw::RawRunConfig;
use serde_saphyr::Spanned;

use crate::util::secrets;

/// A run config with its provider and tasks resolved.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The model file as given on the command line.
    pub path: PathBuf,
    pub model: Model,
    pub provider: Option<Provider>,
    pub tasks: Vec<Task>,
    /// Send chat requests (`local-chat-completions` plus `--apply_chat_template`).
    pub use_chat_completions: bool,
    /// The run's own `generation:` block as a layer, checked when the file was read.
    pub generation: Option<Layer>,
    /// Source kinds whose failure must stop the run instead of warning (e.g. `[hf]`).
    pub require_sources: Vec<String>,
    /// What reading it had to say without failing (a file found that everyone may write).
    pub notes: Vec<Diagnostic>,
    /// The mode every task runs in unless it chooses its own (`mode:`).
    pub mode: Option<ChosenMode>,
    /// The run config's own modes (`modes:`); [`RunConfig::modes`] adds the catalog's.
    pub modes: Vec<Mode>,
    /// `repeats:`: how many times each generating task runs.
    pub repeats: Option<u32>,
    /// `backend:`: the task backend that runs the tasks unless `--backend` names one, with the
    /// file and line it is written on.
    pub backend: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// `model.name` as written.
    pub name: String,
    /// `model.revision`: a branch, tag or commit of a Hub repo.
    pub revision: Option<String>,
    pub location: ModelLocation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelLocation {
    /// A Hub repository id, `org/name` (or a bare `name`).
    Hub { repo_id: String },
    /// A model directory on this machine.
    Local { dir: PathBuf },
}

impl Model {
    /// The last path part of `model.name`: the folder results are kept under.
    pub fn short_name(&self) -> String {
        let trimmed = self.name.trim_end_matches('/');
        trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
    }
}

/// A provider file after `vllm.overrides` were applied to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub name: String,
    pub path: PathBuf,
    /// The server backend that reads the settings: the file's `backend` key, else the default.
    pub backend: String,
    /// The effective settings, as written (the backend that launches the server checks them).
    pub settings: Map<String, Json>,
}

/// One task of a run.
#[derive(Clone, Debug)]
pub struct Task {
    /// The name the run config uses (and the default output folder).
    pub name: String,
    /// The lm-eval task (or group) to run; defaults to `name`.
    pub task_name: String,
    /// A folder with its own lm-eval installation (`<path>/.venv/bin/lm_eval`), as the Python
    /// tool used; absolute paths may not exist on this machine.
    pub lm_eval_path: Option<PathBuf>,
    /// Passed to lm-eval as `--include_path` so it finds task YAML outside its own tree.
    pub include_path: Option<PathBuf>,
    pub tokenizer_backend: Option<String>,
    /// `inspect_task`: an inspect task, its file made absolute (`/dir/FILE.py@NAME`), or a
    /// registered task's name as written.
    pub inspect_task: Option<String>,
    /// `task_args`: the evaluator task's own arguments.
    pub task_args: Map<String, Json>,
    /// The task's `defaults`, with the run's `task_defaults` applied over them.
    pub defaults: Map<String, Json>,
    /// `output.subdirectory`: the folder the task's files are kept in.
    pub output_subdirectory: Option<String>,
    /// `output.primary_metric`: the metric that stands for the task in tables and leaderboards
    /// (`exact_match,strict-match`, or a metric name alone); its first metric when absent.
    pub primary_metric: Option<String>,
    /// The task's own `generation:` block as a layer, checked when the file was read.
    pub generation: Option<Layer>,
    /// The task's own mode, over the run config's.
    pub mode: Option<ChosenMode>,
    /// The task's own `repeats:`, over the run config's.
    pub repeats: Option<u32>,
    /// `hub_dataset` (`org/name`) and `hub_dataset_revision`: the Hub dataset a task on local
    /// files stands for, in exported results.
    pub hub_dataset: Option<(String, Option<String>)>,
}

impl Task {
    /// The folder the task's outputs are kept in.
    pub fn output_folder(&self) -> &str {
        self.output_subdirectory.as_deref().unwrap_or(&self.name)
    }
}

/// A run config that cannot be used. Every variant names the file (and line or key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{origin}{}: `{key}`: {problem}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        origin: String,
        line: Option<u64>,
        key: String,
        problem: String,
    },
    #[error("{origin}: {what} `{name}` not found; looked for {}", looked_for.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound {
        origin: String,
        what: &'static str,
        name: String,
        looked_for: Vec<PathBuf>,
    },
    #[error(
        "{origin}: {what} `{name}`: {why}; benchy uses a file it finds only when no other user \
         can change it (as git refuses a repository another user owns): check the file, then \
         chown it or copy it into a folder of your own"
    )]
    Untrusted {
        origin: String,
        what: &'static str,
        name: String,
        why: String,
    },
    #[error(transparent)]
    Generation(#[from] LayerError),
}

impl RunConfig {
    /// Reads the model file at `path`, its provider file and task files, and checks them.
    pub fn load(path: &Path) -> Result<RunConfig, ConfigError> {
        let text = read(path)?;
        let origin = path.display().to_string();
        let raw: RawRunConfig = yaml::from_str(&text, &origin)?;
        let dir = parent_dir(path);

        let model = model::check_model(&raw.model, dir, &origin)?;
        let mut notes = Vec::new();
        let provider = match &raw.vllm {
            Some(vllm) => provider::load_provider(vllm, dir, &origin, &mut notes)?,
            None => None,
        };
        // Secrets are secret wherever they were written, from the moment they are read.
        if let Some(provider) = &provider {
            secrets::register_settings(&provider.settings);
        }
        let task_defaults = raw.task_defaults.unwrap_or_default();
        let mut tasks = Vec::new();
        let mut seen = BTreeSet::new();
        for item in &raw.tasks {
            let task = task::load_task(item, (dir, path), &task_defaults, &mut notes)?;
            if !seen.insert(task.name.clone()) {
                return Err(ConfigError::Invalid {
                    origin,
                    line: Some(item.referenced.line()),
                    key: "tasks".into(),
                    problem: format!("task `{}` is listed twice", task.name),
                });
            }
            secrets::register_settings(&task.defaults);
            tasks.push(task);
        }
        // Read as layers now, so a bad value stops every command before it starts.
        let generation = generation_layer(
            raw.generation.as_ref(),
            SourceRef::new("config", origin.clone()),
            &origin,
        )?;
        Ok(RunConfig {
            path: path.to_owned(),
            model,
            provider,
            tasks,
            use_chat_completions: raw.use_chat_completions.unwrap_or(false),
            generation,
            require_sources: raw.require_sources,
            notes,
            mode: modes::chosen(raw.mode.as_ref(), &origin),
            modes: modes::read_modes(&raw.modes, &origin)?,
            repeats: repeats(raw.repeats.as_ref(), &origin)?,
            backend: raw
                .backend
                .as_ref()
                .map(|b| (b.value.clone(), format!("{origin}:{}", b.referenced.line()))),
        })
    }
}

/// A `generation:` block as a user layer; `None` when there is none or it is empty.
fn generation_layer(
    mapping: Option<&GenerationMapping>,
    source: SourceRef,
    origin: &str,
) -> Result<Option<Layer>, LayerError> {
    match mapping {
        Some(mapping) if !mapping.is_empty() => {
            yaml::mapping_layer(mapping, source, origin).map(Some)
        }
        _ => Ok(None),
    }
}

/// The most repeats a task may have: enough for pass@k at any k people report, few enough that a
/// typo (`repeats: 1000`) is caught before it costs a thousand runs.
pub const MAX_REPEATS: u32 = 64;

/// A `repeats:` value: a whole number from 1 to [`MAX_REPEATS`].
fn repeats(raw: Option<&Spanned<Json>>, origin: &str) -> Result<Option<u32>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match raw.value.as_u64() {
        Some(n) if (1..=u64::from(MAX_REPEATS)).contains(&n) => Ok(Some(n as u32)),
        _ => Err(ConfigError::Invalid {
            origin: origin.to_owned(),
            line: Some(raw.referenced.line()),
            key: "repeats".into(),
            problem: format!(
                "{} is not a number of repeats: give a whole number from 1 to {MAX_REPEATS}",
                raw.value
            ),
        }),
    }
}

/// The most a run config, provider or task file may hold: real ones are a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A config file's text: a regular file of at most [`MAX_CONFIG_BYTES`].
fn read(path: &Path) -> Result<String, ConfigError> {
    read_text_file(path, MAX_CONFIG_BYTES).map_err(|message| ConfigError::Read {
        path: path.to_owned(),
        message,
    })
}

/// A name used as one folder or file name (a task's folder, a served model name): not empty,
/// not `.` or `..`, no separator, no control character, at most 255 bytes. `None` when it is
/// fine, else why not.
pub fn unsafe_path_part(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("is `.` or `..`")
    } else if name.contains(['/', '\\']) {
        Some("holds a path separator")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else if name.len() > 255 {
        Some("is longer than 255 bytes")
    } else {
        None
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
