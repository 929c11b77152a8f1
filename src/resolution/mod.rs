//! Resolution: loads the run config, asks each `--source` for its layer, adds the run's, the
//! task's and the `--set` layers in precedence order, and merges them per task. The sources are
//! the `--source` flags, else the `sources` setting, else the default source.

pub mod explain;
pub mod modes;
pub(crate) mod sets;
pub mod template;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use benchy_core::{
    Artifact, ConfigSource, Diagnostic, Layer, ModelRef, Resolved, SourceError, SourceRequest,
    merge, normalize,
};

use crate::plugin::Registry;
use crate::run_config::modes::ChosenMode;
use crate::run_config::{ModelLocation, RunConfig};
use crate::settings::Settings;
use crate::util::bad_input::bad_input;
use crate::util::env_vars::{EnvVars, env_flag};
use modes::ResolvedMode;

/// The layers of a run and what they resolve to.
#[derive(Debug)]
pub struct Resolution {
    pub config: RunConfig,
    /// The `--source` layers that produced one, in order (the run config's and the tasks' own
    /// blocks are in `config`).
    pub source_layers: Vec<Layer>,
    /// The `--set` flags.
    pub cli_layer: Option<Layer>,
    /// The parameters of the run without any task's own block.
    pub run: Resolved,
    /// Each task's parameters (the run's plus its own block), in the run config's order.
    pub tasks: Vec<TaskResolution>,
    /// What sources and normalization had to say.
    pub diagnostics: Vec<Diagnostic>,
    /// The model's chat template, when a source read it.
    pub chat_template: Option<Artifact>,
    /// The run's mode: `--mode`, else the run config's `mode:`.
    pub mode: Option<ResolvedMode>,
}

#[derive(Debug)]
pub struct TaskResolution {
    pub name: String,
    pub resolved: Resolved,
    /// The task's mode: `--mode`, else its own `mode:`, else the run's.
    pub mode: Option<ResolvedMode>,
}

/// What the user asked of a resolution: `--source`, `--set`, `--offline`, `--require-source`.
#[derive(Clone, Debug, Default)]
pub struct ResolveOptions {
    /// Source specs, in order; none: the `sources` setting, else the default source.
    pub sources: Vec<String>,
    /// `KEY=VALUE`, on top of every other layer.
    pub sets: Vec<String>,
    /// No network requests: sources use their caches only.
    pub offline: bool,
    /// Source schemes whose failure stops the run.
    pub require_sources: Vec<String>,
    /// `--mode`: the mode every task runs in, over the run config's choices.
    pub mode: Option<String>,
}

/// A `--source` spec with the source that answers it.
struct Spec {
    spec: String,
    scheme: String,
    argument: Option<String>,
    source: Arc<dyn ConfigSource>,
    /// What a relative path in the argument is relative to: the working directory for a flag,
    /// the settings file's folder for the `sources` setting.
    base_dir: PathBuf,
}

/// Runs every step up to the merged parameters. Errors in the user's input are bad input (exit
/// code 2); a required source that cannot answer fails the command.
pub fn resolve(
    config: &Path,
    options: &ResolveOptions,
    registry: &Registry,
    settings: &Settings,
) -> Result<Resolution> {
    let config = RunConfig::load(config)?;
    let cli_layer = sets::parse_sets(&options.sets)?;
    let flag = options.mode.as_ref().map(|name| ChosenMode {
        name: name.clone(),
        chosen_by: "--mode".into(),
    });
    let mode = modes::resolve_choice(&config, flag.as_ref().or(config.mode.as_ref()), false)?;
    let specs = source_specs(&options.sources, registry, settings)?;
    let mut diagnostics = config.notes.clone();
    let mut source_layers = Vec::new();
    let mut chat_template = None;
    for spec in specs {
        let Some(reply) = ask(&spec, &config, options, settings, &mut diagnostics)? else {
            continue;
        };
        if let Some(layer) = reply.layer {
            diagnostics.extend(layer.diagnostics.iter().cloned());
            source_layers.push(layer);
        }
        chat_template = chat_template.or(reply.chat_template);
    }
    let merged = |mode: Option<&ResolvedMode>, task: Option<&Layer>| {
        let layers = modes::with_mode(&source_layers, mode);
        normalize(merge(
            layers
                .into_iter()
                .chain(config.generation.as_ref())
                .chain(task)
                .chain(cli_layer.as_ref()),
        ))
    };
    let run = merged(mode.as_ref(), None);
    let mut tasks = Vec::new();
    for task in &config.tasks {
        let by_task = flag.is_none() && task.mode.is_some();
        let choice = flag
            .as_ref()
            .or(task.mode.as_ref())
            .or(config.mode.as_ref());
        let mode = modes::resolve_choice(&config, choice, by_task)?;
        tasks.push(TaskResolution {
            name: task.name.clone(),
            resolved: merged(mode.as_ref(), task.generation.as_ref()),
            mode,
        });
    }
    diagnostics.extend(run.notes.iter().cloned());
    diagnostics.extend(task_notes(&run, &tasks));
    let resolution = Resolution {
        config,
        source_layers,
        cli_layer,
        run,
        tasks,
        diagnostics,
        chat_template,
        mode,
    };
    modes::check_against_template(&resolution)?;
    let note = modes::switch_note(&resolution);
    Ok(Resolution {
        diagnostics: resolution.diagnostics.into_iter().chain(note).collect(),
        ..resolution
    })
}

/// What normalizing a task's own set said beyond the run's (a task's temperature a run-wide
/// `do_sample: false` replaced, say), each note naming its task.
fn task_notes<'a>(
    run: &'a Resolved,
    tasks: &'a [TaskResolution],
) -> impl Iterator<Item = Diagnostic> + 'a {
    tasks.iter().flat_map(move |task| {
        task.resolved
            .notes
            .iter()
            .filter(|note| !run.notes.contains(note))
            .map(|note| Diagnostic {
                level: note.level,
                message: format!("task {}: {}", task.name, note.message),
            })
    })
}

/// Every `--source` (when none is given, the `sources` setting's, else the default source) with
/// its source, checked before any is asked, so a typo costs no network request.
fn source_specs(sources: &[String], registry: &Registry, settings: &Settings) -> Result<Vec<Spec>> {
    let cwd = std::env::current_dir()?;
    let (specs, given_by, base_dir) = match &settings.sources {
        _ if !sources.is_empty() => (sources.to_vec(), String::new(), cwd),
        Some(setting) => (
            setting.value.clone(),
            format!(" (the `sources` setting, {})", setting.origin),
            setting.origin.dir().unwrap_or(cwd),
        ),
        None => (settings.sources().value, String::new(), cwd),
    };
    specs
        .into_iter()
        .map(|spec| {
            let (scheme, argument) = SourceRequest::parse_spec(&spec);
            let source = registry
                .source(&scheme)
                .map_err(|e| bad_input(format!("--source {spec}{given_by}: {e}")))?;
            Ok(Spec {
                spec,
                scheme,
                argument,
                source,
                base_dir: base_dir.clone(),
            })
        })
        .collect()
}

/// One source's answer; an unavailable source is a warning unless it is required.
fn ask(
    spec: &Spec,
    config: &RunConfig,
    options: &ResolveOptions,
    settings: &Settings,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<benchy_core::SourceReply>> {
    let request = SourceRequest {
        spec: spec.spec.clone(),
        scheme: spec.scheme.clone(),
        argument: spec.argument.clone(),
        model: model_ref(config),
        base_dir: spec.base_dir.clone(),
        offline: options.offline || env_flag(EnvVars::HF_HUB_OFFLINE),
    };
    match spec.source.resolve(&request) {
        Ok(mut reply) => {
            diagnostics.append(&mut reply.diagnostics);
            Ok(Some(reply))
        }
        Err(SourceError::Unavailable(problem)) => {
            let setting = settings.require_sources();
            let required_by = if options.require_sources.contains(&spec.scheme) {
                Some(format!("--require-source {}", spec.scheme))
            } else if config.require_sources.contains(&spec.scheme) {
                Some(format!("`require_sources` in {}", config.path.display()))
            } else if setting.value.contains(&spec.scheme) {
                Some(format!("the `require_sources` setting, {}", setting.origin))
            } else {
                None
            };
            if let Some(by) = required_by {
                anyhow::bail!("--source {}: {problem} (required by {by})", spec.spec);
            }
            diagnostics.push(Diagnostic::warning(format!(
                "--source {}: {problem}; continuing without this layer",
                spec.spec
            )));
            Ok(None)
        }
        Err(input) => Err(input.into()),
    }
}

fn model_ref(config: &RunConfig) -> ModelRef {
    ModelRef {
        name: config.model.name.clone(),
        revision: config.model.revision.clone(),
        local_dir: match &config.model.location {
            ModelLocation::Local { dir } => Some(dir.clone()),
            ModelLocation::Hub { .. } => None,
        },
    }
}

/// The layers of `resolution` that apply to the run, for showing precedence.
pub fn describe_layers(resolution: &Resolution) -> Vec<String> {
    let mut names: Vec<String> =
        modes::with_mode(&resolution.source_layers, resolution.mode.as_ref())
            .iter()
            .map(|l| l.source.to_string())
            .collect();
    names.extend(
        resolution
            .config
            .generation
            .iter()
            .map(|l| l.source.to_string()),
    );
    if resolution
        .config
        .tasks
        .iter()
        .any(|t| t.generation.is_some())
    {
        names.push("task:<name>".to_owned());
    }
    names.extend(resolution.cli_layer.iter().map(|l| l.source.to_string()));
    names
}
