//! A run's folder, `<output-dir>/<run-id>/<model>/`, in the Python tool's layout: what ran
//! (`run_config.yaml`, `generation_config.json`, `resolved_generation.json`, `run.json`), the
//! logs, each task's folder of the evaluator's files, and what came out (`results.json`,
//! `summary.md`). Every file is written atomically, with secrets masked.

use std::path::{Path, PathBuf};

use anyhow::Result;
use benchy_core::RunView;
use benchy_core::source::file_kind;
use serde_json::{Map, Value as Json, json};

use super::layout::{
    ATTEMPTS, LOCK, MODEL_CHAT_TEMPLATE, MODEL_GENERATION_CONFIG, RESOLVED, RESULTS, RUN_CONFIG,
    RUN_RECORD, SUMMARY, relative_paths,
};
use super::run_record::{LayerRecord, RunRecord};
use super::summary;
use crate::resolution::Resolution;
use crate::util::atomic::{read_state, write_atomic, write_json};

/// The run's folder.
#[derive(Debug)]
pub struct RunFolder {
    pub dir: PathBuf,
}

impl RunFolder {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Why a run folder cannot be made at `dir`, found without making anything: each path on
    /// the way must be a folder (or not exist yet), and the deepest existing one must take new
    /// entries (tried with a temporary file, removed at once).
    pub fn check_creatable(dir: &Path) -> Result<(), String> {
        for path in dir.ancestors() {
            if std::fs::symlink_metadata(path).is_err() {
                continue; // made by the run (or a path through a file, found further up)
            }
            let metadata = match std::fs::metadata(path) {
                Ok(metadata) => metadata,
                Err(e) => {
                    let target = std::fs::read_link(path).unwrap_or_default();
                    let why = match e.kind() {
                        std::io::ErrorKind::NotFound => "which does not exist".to_owned(),
                        _ => format!("which cannot be followed ({e})"),
                    };
                    return Err(format!(
                        "{} is a link to {}, {why}",
                        path.display(),
                        target.display()
                    ));
                }
            };
            if !metadata.is_dir() {
                return Err(format!(
                    "{} is {}, not a folder",
                    path.display(),
                    file_kind(&metadata)
                ));
            }
            return tempfile::Builder::new()
                .prefix(".benchy-write-check-")
                .tempfile_in(path)
                .map(drop)
                .map_err(|e| format!("nothing can be created in {}: {e}", path.display()));
        }
        Ok(())
    }

    /// Moves the outputs of an earlier attempt out of the way, into `.attempts/<n>/`: every
    /// entry but the lock, the earlier attempts and `keep` (the folders of tasks done before,
    /// which stay as they are). Nothing is deleted. Returns that folder and the attempt's
    /// `run.json`, when there was an attempt.
    pub fn set_aside(&self, keep: &[&str]) -> Result<Option<(PathBuf, Json)>> {
        let entries: Vec<std::ffi::OsString> = std::fs::read_dir(&self.dir)?
            .flatten()
            .map(|e| e.file_name())
            .filter(|name| name != LOCK && name != ATTEMPTS && !keep.iter().any(|k| name == *k))
            .collect();
        if entries.is_empty() {
            return Ok(None);
        }
        let attempts = self.path(ATTEMPTS);
        let number = std::fs::read_dir(&attempts)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let target = attempts.join(number.to_string());
        std::fs::create_dir_all(&target)?;
        for name in entries {
            std::fs::rename(self.dir.join(&name), target.join(&name))?;
        }
        let record = read_state(&target.join(RUN_RECORD)).unwrap_or(Json::Null);
        Ok(Some((target, record)))
    }

    /// What the run is about to do: the effective config, the model's own file and every
    /// resolved value with its source.
    pub fn write_inputs(&self, resolution: &Resolution, view: &RunView) -> Result<()> {
        write_atomic(
            &self.path(RUN_CONFIG),
            effective_config(resolution, view).as_bytes(),
        )?;
        // The model's own file: the highest-precedence layer that says it carries one.
        let model_file = resolution
            .source_layers
            .iter()
            .rev()
            .filter_map(|l| l.artifact.as_ref())
            .find(|a| a.model_file);
        if let Some(artifact) = model_file {
            write_atomic(
                &self.path(MODEL_GENERATION_CONFIG),
                artifact.text.as_bytes(),
            )?;
        }
        if let Some(template) = &resolution.chat_template {
            write_atomic(&self.path(MODEL_CHAT_TEMPLATE), template.text.as_bytes())?;
        }
        write_json(&self.path(RESOLVED), &resolved_json(resolution, view))
    }

    /// `run.json`, its paths inside the folder written relative to it.
    pub fn write_record(&self, record: &RunRecord) -> Result<()> {
        let record = relative_paths(serde_json::to_value(record)?, &self.dir);
        write_json(&self.path(RUN_RECORD), &record)
    }

    /// `results.json` and `summary.md` (`results` in the form of `results.json`); returns the
    /// results table for the terminal.
    pub fn write_results(&self, model: &str, record: &RunRecord, results: &Json) -> Result<String> {
        write_json(&self.path(RESULTS), results)?;
        let markdown = summary::summary_markdown(model, record, results);
        write_atomic(&self.path(SUMMARY), markdown.as_bytes())?;
        Ok(summary::results_table(results))
    }

    /// Copies a check's log (written before the folder existed) into the folder.
    pub fn keep_log(&self, log: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        if let Some(name) = log.file_name() {
            std::fs::copy(log, self.dir.join(name))?;
        }
        Ok(())
    }
}

/// The run config as it takes effect: the provider's values with the overrides applied, every
/// task expanded from its file, and the run's own generation block. YAML, like its input.
fn effective_config(resolution: &Resolution, view: &RunView) -> String {
    let config_task = |name: &str| resolution.config.tasks.iter().find(|t| t.name == name);
    let primary_metric = |name: &str| config_task(name).and_then(|t| t.primary_metric.clone());
    let hub_dataset = |name: &str| config_task(name).and_then(|t| t.hub_dataset.clone());
    let tasks: Vec<Json> = view
        .tasks
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "task_name": t.task_name,
                "lm_eval_path": t.lm_eval_path,
                "include_path": t.include_path,
                "tokenizer_backend": t.tokenizer_backend,
                "inspect_task": t.inspect_task,
                "task_args": t.task_args,
                "defaults": t.defaults,
                "output": {"subdirectory": t.output_folder, "primary_metric": primary_metric(&t.name)},
                "mode": t.mode.as_ref().map(|m| &m.name),
                "hub_dataset": hub_dataset(&t.name).map(|(id, _)| id),
                "hub_dataset_revision": hub_dataset(&t.name).and_then(|(_, r)| r),
            })
        })
        .collect();
    let config = json!({
        "model": {"name": view.model.name, "revision": view.model.revision},
        "vllm": view.provider.as_ref().map(|p| json!({
            "provider_config": p.name,
            "provider_file": p.path,
            "backend": p.backend,
            "settings": p.settings,
        })),
        "use_chat_completions": view.use_chat_completions,
        "tasks": tasks,
    });
    let header = format!(
        "# The effective run config of {} (provider values with overrides applied, tasks \
         expanded).\n# The resolved generation parameters are in resolved_generation.json.\n",
        view.config_path.display()
    );
    header + &serde_saphyr::to_string(&config).unwrap_or_default()
}

/// Every key's value and source, for the run and for each task, plus the layers and what
/// normalization and the sources had to say.
fn resolved_json(resolution: &Resolution, view: &RunView) -> Json {
    let tasks: Map<String, Json> = view
        .tasks
        .iter()
        .map(|t| {
            let mut resolved = t.resolved.to_json();
            if let Some(mode) = &t.mode {
                resolved["mode"] = json!(mode);
            }
            (t.name.clone(), resolved)
        })
        .collect();
    let mut modes: Vec<&benchy_core::Layer> = Vec::new();
    for mode in resolution.tasks.iter().filter_map(|t| t.mode.as_ref()) {
        if !modes.iter().any(|l| l.source == mode.mode.layer.source) {
            modes.push(&mode.mode.layer);
        }
    }
    let layers: Vec<LayerRecord> = resolution
        .source_layers
        .iter()
        .chain(modes)
        .chain(resolution.config.generation.iter())
        .chain(resolution.cli_layer.iter())
        .map(LayerRecord::from)
        .collect();
    json!({
        "resolved": resolution.run.to_json(),
        "tasks": tasks,
        "layers": layers,
        "notes": resolution.diagnostics,
        "chat_template": resolution.chat_template.as_ref().map(|t| &t.origin),
    })
}
