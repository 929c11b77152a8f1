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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value as Json};
use serde_saphyr::Spanned;

use crate::layer::{Layer, LayerError, SourceRef};
use crate::yaml::{self, GenerationMapping, YamlError};

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
    pub description: Option<String>,
    /// A folder with its own lm-eval installation (`<path>/.venv/bin/lm_eval`), as the Python
    /// tool used; absolute paths may not exist on this machine.
    pub lm_eval_path: Option<PathBuf>,
    /// Passed to lm-eval as `--include_path` so it finds task YAML outside its own tree.
    pub include_path: Option<PathBuf>,
    pub tokenizer_backend: Option<String>,
    /// The task's `defaults`, with the run's `task_defaults` applied over them.
    pub defaults: Map<String, Json>,
    /// `output.subdirectory`: the folder the task's files are kept in.
    pub output_subdirectory: Option<String>,
    /// The task's own `generation:` block as a layer, checked when the file was read.
    pub generation: Option<Layer>,
    /// The file the task was defined in (its own file, or the run config for inline tasks).
    pub defined_in: PathBuf,
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
    #[error("{path}: cannot read: {message}")]
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

        let model = check_model(&raw.model, dir, &origin)?;
        let provider = match &raw.vllm {
            Some(vllm) => load_provider(vllm, dir, &origin)?,
            None => None,
        };
        let task_defaults = raw.task_defaults.unwrap_or_default();
        let mut tasks = Vec::new();
        let mut seen = BTreeSet::new();
        for item in &raw.tasks {
            let task = load_task(item, dir, path, &task_defaults)?;
            if !seen.insert(task.name.clone()) {
                return Err(ConfigError::Invalid {
                    origin,
                    line: Some(item.referenced.line()),
                    key: "tasks".into(),
                    problem: format!("task `{}` is listed twice", task.name),
                });
            }
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

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunConfig {
    model: RawModel,
    #[serde(default)]
    vllm: Option<RawVllm>,
    #[serde(default)]
    tasks: Vec<Spanned<TaskItem>>,
    #[serde(default)]
    task_defaults: Option<Map<String, Json>>,
    #[serde(default)]
    use_chat_completions: Option<bool>,
    #[serde(default)]
    generation: Option<GenerationMapping>,
    #[serde(default)]
    require_sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: Spanned<String>,
    #[serde(default)]
    revision: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVllm {
    #[serde(default)]
    provider_config: Option<Spanned<String>>,
    #[serde(default)]
    overrides: Option<Map<String, Json>>,
}

/// An entry of `tasks:`: a task file name or an inline task.
#[derive(Debug)]
enum TaskItem {
    Name(String),
    Inline(Box<RawTask>),
}

/// Hand-written rather than `#[serde(untagged)]`: untagged enums buffer the input, which loses
/// the line numbers of the keys inside and turns every mistake into "did not match any
/// variant". Dispatching on the YAML node keeps both.
impl<'de> Deserialize<'de> for TaskItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TaskItem;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a task file name or a task mapping")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TaskItem, E> {
                Ok(TaskItem::Name(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<TaskItem, A::Error> {
                RawTask::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|raw| TaskItem::Inline(Box::new(raw)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A task file (`tasks/NAME.yaml`) or an inline task mapping.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    task_name: Option<String>,
    #[serde(default)]
    lm_eval_path: Option<String>,
    #[serde(default)]
    include_path: Option<String>,
    #[serde(default)]
    tokenizer_backend: Option<String>,
    #[serde(default)]
    defaults: Option<Map<String, Json>>,
    #[serde(default)]
    output: Option<RawOutput>,
    #[serde(default)]
    generation: Option<GenerationMapping>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    #[serde(default)]
    subdirectory: Option<String>,
}

/// `model.name`: a model directory when written as a path (`/`, `./`, `../`, `~/`), else a Hub
/// repository id checked like huggingface_hub's `validate_repo_id`.
fn check_model(raw: &RawModel, dir: &Path, origin: &str) -> Result<Model, ConfigError> {
    let name = raw.name.value.trim().to_owned();
    let invalid = |problem: String| ConfigError::Invalid {
        origin: origin.to_owned(),
        line: Some(raw.name.referenced.line()),
        key: "model.name".into(),
        problem,
    };
    let location = if looks_like_path(&name) {
        let path = expand_path(&name, dir);
        if !path.is_dir() {
            return Err(invalid(format!(
                "`{name}` is written as a path but {} is not a directory",
                path.display()
            )));
        }
        // The real folder, so every consumer and record names the same path.
        ModelLocation::Local {
            dir: path.canonicalize().unwrap_or(path),
        }
    } else {
        check_repo_id(&name).map_err(invalid)?;
        ModelLocation::Hub {
            repo_id: name.clone(),
        }
    };
    Ok(Model {
        name,
        revision: raw.revision.clone(),
        location,
    })
}

fn looks_like_path(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with("./")
        || name.starts_with("../")
        || name.starts_with("~/")
}

/// Resolves a path written in a config file: `~/` is the home directory, relative paths are
/// relative to the file's folder. The result is absolute, because processes may run in
/// another folder (lm-eval runs in a task's folder).
pub fn expand_path(written: &str, dir: &Path) -> PathBuf {
    if let Some(rest) = written.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let path = dir.join(written);
    std::path::absolute(&path).unwrap_or(path)
}

/// A Hub repo id: `name` or `namespace/name`, each part of letters, digits, `-`, `_`, `.`, at
/// most 96 characters, not starting or ending with `-` or `.`, without `--` or `..`.
pub fn check_repo_id(id: &str) -> Result<(), String> {
    let parts: Vec<&str> = id.split('/').collect();
    if id.is_empty() {
        return Err("is empty; expected a Hub repo id like `org/name` or a path".into());
    }
    if id.contains("..") || id.contains("--") {
        return Err(format!(
            "`{id}` is not a Hub repo id: `..` and `--` are not allowed"
        ));
    }
    if parts.len() > 2 {
        return Err(format!(
            "`{id}` is not a Hub repo id (`org/name`); write a local model directory as a path \
             starting with `/`, `./` or `../`"
        ));
    }
    for part in parts {
        let valid_chars = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if part.is_empty()
            || part.len() > 96
            || !valid_chars
            || part.starts_with(['-', '.'])
            || part.ends_with(['-', '.'])
        {
            return Err(format!(
                "`{id}` is not a Hub repo id: each part must be 1-96 letters, digits, `-`, `_` \
                 or `.`, not starting or ending with `-` or `.`"
            ));
        }
    }
    Ok(())
}

/// Finds `<folder>/<name>.yaml` (or `.yml`, or `name` itself when it has an extension) in the
/// start folder and each of its ancestors, the way the Python tool's layout nests them.
fn find_upwards(start: &Path, folder: &str, name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let file_names: Vec<String> = if name.ends_with(".yaml") || name.ends_with(".yml") {
        vec![name.to_owned()]
    } else {
        vec![format!("{name}.yaml"), format!("{name}.yml")]
    };
    let mut looked = Vec::new();
    // Canonicalize so `..` walks the real tree; fall back to the path as given.
    let start = start.canonicalize().unwrap_or_else(|_| start.to_owned());
    for dir in start.ancestors() {
        for file_name in &file_names {
            let candidate = dir.join(folder).join(file_name);
            if candidate.is_file() {
                return Ok(candidate);
            }
            looked.push(candidate);
        }
    }
    Err(looked)
}

fn load_provider(raw: &RawVllm, dir: &Path, origin: &str) -> Result<Option<Provider>, ConfigError> {
    let overrides = raw.overrides.clone().unwrap_or_default();
    let Some(name) = &raw.provider_config else {
        if overrides.is_empty() {
            return Ok(None);
        }
        // Overrides alone are a complete provider written inline.
        return Ok(Some(Provider {
            name: "inline".into(),
            path: PathBuf::from(origin),
            settings: overrides,
        }));
    };
    let path = find_upwards(dir, "providers", &name.value).map_err(|looked_for| {
        ConfigError::NotFound {
            origin: format!("{origin}:{}", name.referenced.line()),
            what: "provider config",
            name: name.value.clone(),
            looked_for,
        }
    })?;
    let text = read(&path)?;
    let mut settings: Map<String, Json> = if text.trim().is_empty() {
        Map::new()
    } else {
        yaml::from_str(&text, &path.display().to_string())?
    };
    settings.extend(overrides);
    Ok(Some(Provider {
        name: name.value.clone(),
        path,
        settings,
    }))
}

fn load_task(
    item: &Spanned<TaskItem>,
    dir: &Path,
    config_path: &Path,
    task_defaults: &Map<String, Json>,
) -> Result<Task, ConfigError> {
    let origin = config_path.display().to_string();
    let line = item.referenced.line();
    let (raw, defined_in) = match &item.value {
        TaskItem::Name(name) => {
            let path =
                find_upwards(dir, "tasks", name).map_err(|looked_for| ConfigError::NotFound {
                    origin: format!("{origin}:{line}"),
                    what: "task",
                    name: name.clone(),
                    looked_for,
                })?;
            let text = read(&path)?;
            let mut raw: RawTask = yaml::from_str(&text, &path.display().to_string())?;
            raw.name.get_or_insert_with(|| name.clone());
            (raw, path)
        }
        TaskItem::Inline(raw) => {
            if raw.name.is_none() {
                return Err(ConfigError::Invalid {
                    origin,
                    line: Some(line),
                    key: "tasks".into(),
                    problem: "an inline task needs a `name`".into(),
                });
            }
            ((**raw).clone(), config_path.to_owned())
        }
    };
    let name = raw.name.unwrap_or_default();
    let generation = generation_layer(
        raw.generation.as_ref(),
        SourceRef::new("task", name.clone()),
        &defined_in.display().to_string(),
    )?;
    let task_dir = parent_dir(&defined_in).to_owned();
    let mut defaults = raw.defaults.unwrap_or_default();
    defaults.extend(task_defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Task {
        task_name: raw.task_name.unwrap_or_else(|| name.clone()),
        name,
        description: raw.description,
        lm_eval_path: raw.lm_eval_path.map(|p| expand_path(&p, &task_dir)),
        include_path: raw.include_path.map(|p| expand_path(&p, &task_dir)),
        tokenizer_backend: raw.tokenizer_backend,
        defaults,
        output_subdirectory: raw.output.and_then(|o| o.subdirectory),
        generation,
        defined_in,
    })
}
