//! Resolution: loads the run config, asks each `--source` for its layer, adds the run's, the
//! task's and the `--set` layers in precedence order, and merges them per task.

use anyhow::Result;
use benchy_core::env_vars::{EnvVars, env_flag};
use benchy_core::{
    Diagnostic, Layer, ModelLocation, ModelRef, Registry, Resolved, RunConfig, SourceError,
    SourceRef, SourceRequest, merge, normalize,
};
use serde_json::Value as Json;

use crate::cli::ResolveArgs;
use crate::failure::bad_input;

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
}

#[derive(Debug)]
pub struct TaskResolution {
    pub name: String,
    pub resolved: Resolved,
}

/// Runs every step up to the merged parameters. Errors in the user's input come back as
/// [`crate::failure::BadInput`].
pub fn resolve(args: &ResolveArgs, registry: &Registry) -> Result<Resolution> {
    let config = RunConfig::load(&args.config).map_err(|e| bad_input(e.to_string()))?;
    let cli_layer = parse_sets(&args.sets)?;

    let offline = args.offline || env_flag(EnvVars::HF_HUB_OFFLINE);
    let specs: Vec<String> = if args.sources.is_empty() {
        vec!["hf".to_owned()]
    } else {
        args.sources.clone()
    };
    // Check every scheme before asking any source, so a typo costs no network request.
    let sources = specs
        .iter()
        .map(|spec| {
            let (scheme, argument) = SourceRequest::parse_spec(spec);
            let source = registry
                .source(&scheme)
                .map_err(|e| bad_input(format!("--source {spec}: {e}")))?;
            Ok((spec, scheme, argument, source))
        })
        .collect::<Result<Vec<_>>>()?;

    let base_dir = std::env::current_dir()?;
    let mut diagnostics = Vec::new();
    let mut source_layers = Vec::new();
    for (spec, scheme, argument, source) in sources {
        let request = SourceRequest {
            spec: spec.clone(),
            scheme: scheme.clone(),
            argument,
            model: model_ref(&config),
            base_dir: base_dir.clone(),
            offline,
        };
        match source.resolve(&request) {
            Ok(reply) => {
                diagnostics.extend(reply.diagnostics);
                if let Some(layer) = reply.layer {
                    diagnostics.extend(layer.diagnostics.iter().cloned());
                    source_layers.push(layer);
                }
            }
            Err(SourceError::Input(message)) => return Err(bad_input(message)),
            Err(SourceError::Unavailable(message)) => {
                if args.require_sources.contains(&scheme) {
                    anyhow::bail!(
                        "--source {spec}: {message} (required by --require-source {scheme})"
                    );
                }
                if config.require_sources.contains(&scheme) {
                    anyhow::bail!(
                        "--source {spec}: {message} (required by `require_sources` in {})",
                        config.path.display()
                    );
                }
                diagnostics.push(Diagnostic::warning(format!(
                    "--source {spec}: {message}; continuing without this layer"
                )));
            }
        }
    }

    let base: Vec<&Layer> = source_layers
        .iter()
        .chain(config.generation.as_ref())
        .collect();
    let run = normalize(merge(base.iter().copied().chain(cli_layer.as_ref())));
    let mut tasks = Vec::new();
    for task in &config.tasks {
        let resolved = normalize(merge(
            base.iter()
                .copied()
                .chain(task.generation.as_ref())
                .chain(cli_layer.as_ref()),
        ));
        tasks.push(TaskResolution {
            name: task.name.clone(),
            resolved,
        });
    }
    diagnostics.extend(run.notes.iter().cloned());
    Ok(Resolution {
        config,
        source_layers,
        cli_layer,
        run,
        tasks,
        diagnostics,
    })
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

/// The `--set KEY=VALUE` flags as one layer; each value is read as a YAML scalar or flow
/// sequence, so `0.7` is a number, `true` a boolean, `[a, b]` a list and `null` a removal.
fn parse_sets(sets: &[String]) -> Result<Option<Layer>> {
    if sets.is_empty() {
        return Ok(None);
    }
    let mut items = Vec::new();
    for set in sets {
        let Some((key, raw)) = set.split_once('=') else {
            return Err(bad_input(format!(
                "--set {set}: expected KEY=VALUE, as in --set temperature=0.2"
            )));
        };
        let key = key.trim();
        if key.is_empty() || raw.trim().is_empty() {
            return Err(bad_input(format!(
                "--set {set}: expected KEY=VALUE with both parts (use KEY=null to remove a key)"
            )));
        }
        let value: Json = benchy_core::yaml::from_str(raw, &format!("--set {set}"))
            .map_err(|e| bad_input(e.to_string()))?;
        items.push((key.to_owned(), value, None));
    }
    Layer::from_mapping(SourceRef::bare("cli"), "--set", items)
        .map(Some)
        .map_err(|e| bad_input(e.to_string()))
}

/// The layers of `resolution` that apply to the run, for showing precedence.
pub fn describe_layers(resolution: &Resolution) -> Vec<String> {
    let mut names: Vec<String> = resolution
        .source_layers
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
