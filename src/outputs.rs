//! A run's folder, `<output-dir>/<run-id>/<model>/`, in the Python tool's layout: what ran
//! (`run_config.yaml`, `generation_config.json`, `resolved_generation.json`, `run.json`), the
//! logs, each task's folder of lm-eval files, and what came out (`results.json`, `summary.md`).
//! Every file is written atomically; `run.json` is written when the run starts and rewritten as
//! it goes, so an interrupted or failed run still says what happened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use benchy_core::backend::{Collected, Sampling, TaskResult};
use benchy_core::verify::compare;
use benchy_core::{Diagnostic, Layer, ProcessSpec, RunView};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::atomic::{write_atomic, write_json};
use crate::resolution::Resolution;
use crate::runner::jobs::JobOutcome;
use crate::table;

/// How the run ended (or that it has not yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Ok,
    Failed,
    Interrupted,
}

/// `run.json`.
#[derive(Debug, Serialize)]
pub struct RunRecord {
    pub benchy_version: &'static str,
    pub run_id: String,
    pub model: String,
    pub config: PathBuf,
    pub backend: String,
    pub status: Status,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why the run failed, one line each.
    pub failures: Vec<String>,
    /// The run tasks without complete, verified results.
    pub failed_tasks: Vec<String>,
    /// The `--source` layers that answered, with the revision and file they read.
    pub sources: Vec<Json>,
    pub server: Option<ServerRecord>,
    /// The checks that ran before anything started (lm-eval knows the tasks).
    pub checks: Vec<ProcessRecord>,
    pub processes: Vec<ProcessRecord>,
    /// The versions of what ran: `lm_eval` (from its installation), `vllm` (the server's own
    /// `/version`).
    pub versions: BTreeMap<String, Json>,
    /// What each backend wanted kept (versions, settings accepted but unused).
    pub backends: BTreeMap<String, Map<String, Json>>,
    pub verification: Vec<Verification>,
    pub notes: Vec<Diagnostic>,
}

#[derive(Debug, Default, Serialize)]
pub struct ServerRecord {
    /// `false` for `--server-url`: benchy neither started nor stopped it.
    pub launched: bool,
    pub started_at: Option<String>,
    pub ready_at: Option<String>,
    pub stopped_at: Option<String>,
    pub command: Option<String>,
    pub url: Option<String>,
    pub model: Option<String>,
    pub max_model_len: Option<u64>,
    pub version: Option<String>,
    pub log: Option<PathBuf>,
    /// How it ended, when benchy stopped it or it died.
    pub ended: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProcessRecord {
    pub name: String,
    pub tasks: Vec<String>,
    /// The exact command line, secrets as `***`.
    pub command: String,
    pub cwd: Option<PathBuf>,
    pub exit_code: Option<i32>,
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub log: PathBuf,
}

impl ProcessRecord {
    pub fn planned(spec: &ProcessSpec, log_dir: &Path) -> ProcessRecord {
        ProcessRecord {
            name: spec.name.clone(),
            tasks: spec.tasks.clone(),
            command: spec.display_command(),
            cwd: spec.cwd.clone(),
            exit_code: None,
            status: "not started".to_owned(),
            started_at: None,
            finished_at: None,
            log: log_dir.join(&spec.log_file),
        }
    }

    /// The record of how the process ran.
    pub fn ended(mut self, outcome: &JobOutcome) -> ProcessRecord {
        self.exit_code = outcome.exit_code;
        self.status.clone_from(&outcome.status);
        self.started_at = outcome.started_at.map(stamp);
        self.finished_at = outcome.ended_at.map(stamp);
        self
    }
}

/// A wall-clock time as RFC 3339 (UTC), the form every time in the record takes.
pub fn stamp(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time).map_or_else(|_| String::new(), |t| t.to_string())
}

/// How what a task's tool recorded compares with what benchy sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Check {
    /// Every key sent was recorded with the same value.
    #[serde(rename = "verified")]
    Verified,
    #[serde(rename = "differs")]
    Differs,
    /// A generating task without a record of what it used.
    #[serde(rename = "not recorded")]
    NotRecorded,
    /// A log-likelihood task: its requests carry no sampling parameters.
    #[serde(rename = "no sampling parameters")]
    NoSamplingParameters,
}

/// What a task's tool recorded as used, against what benchy sent.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub task: String,
    pub name: String,
    pub status: Check,
    pub sent: Option<Map<String, Json>>,
    pub recorded: Option<Map<String, Json>>,
    pub differences: Vec<String>,
}

impl Verification {
    pub fn failed(&self) -> bool {
        matches!(self.status, Check::Differs | Check::NotRecorded)
    }
}

/// Compares, for each generating task, what was sent with what the tool recorded.
pub fn verify(collected: &Collected) -> Vec<Verification> {
    collected
        .results
        .iter()
        .filter(|r| r.sampling != Sampling::Aggregate)
        .map(|r| {
            let (status, differences) =
                match (&r.sampling, &r.sent_generation, &r.recorded_generation) {
                    (Sampling::LoglikelihoodOnly, _, _) => {
                        (Check::NoSamplingParameters, Vec::new())
                    }
                    (_, Some(sent), Some(recorded)) => {
                        let differences: Vec<String> = compare(sent, recorded)
                            .iter()
                            .map(ToString::to_string)
                            .collect();
                        (
                            if differences.is_empty() {
                                Check::Verified
                            } else {
                                Check::Differs
                            },
                            differences,
                        )
                    }
                    _ => (
                        Check::NotRecorded,
                        vec![
                            "the tool recorded no generation parameters for a generating task"
                                .into(),
                        ],
                    ),
                };
            Verification {
                task: r.task.clone(),
                name: r.name.clone(),
                status,
                sent: r.sent_generation.clone(),
                recorded: r.recorded_generation.clone(),
                differences,
            }
        })
        .collect()
}

/// The run's folder.
#[derive(Debug)]
pub struct RunFolder {
    pub dir: PathBuf,
}

impl RunFolder {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// What the run is about to do: the effective config, the model's own file and every
    /// resolved value with its source.
    pub fn write_inputs(&self, resolution: &Resolution, view: &RunView) -> Result<()> {
        write_atomic(
            &self.path("run_config.yaml"),
            effective_config(view).as_bytes(),
        )?;
        let hf_artifact = resolution
            .source_layers
            .iter()
            .filter(|l| l.source.kind == "hf")
            .find_map(|l| l.artifact.as_ref());
        if let Some(artifact) = hf_artifact {
            write_atomic(
                &self.path("generation_config.json"),
                artifact.text.as_bytes(),
            )?;
        }
        write_json(
            &self.path("resolved_generation.json"),
            &resolved_json(resolution, view),
        )
    }

    pub fn write_record(&self, record: &RunRecord) -> Result<()> {
        write_json(&self.path("run.json"), record)
    }

    /// `results.json` (task -> metric -> value and stderr) and `summary.md`; returns the table.
    pub fn write_results(
        &self,
        model: &str,
        record: &RunRecord,
        collected: &Collected,
    ) -> Result<String> {
        write_json(
            &self.path("results.json"),
            &results_json(&collected.results),
        )?;
        let table = results_table(&collected.results);
        let summary = format!(
            "# {} — run {}\n\nStatus: {}\n\n{}\n{}",
            model,
            record.run_id,
            serde_json::to_value(record.status)?
                .as_str()
                .unwrap_or_default(),
            markdown_table(&collected.results),
            sampling_note(&record.verification)
        );
        write_atomic(&self.path("summary.md"), summary.as_bytes())?;
        Ok(table)
    }
}

/// The run config as it takes effect: the provider's values with the overrides applied, every
/// task expanded from its file, and the run's own generation block. YAML, like its input.
fn effective_config(view: &RunView) -> String {
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
                "defaults": t.defaults,
                "output": {"subdirectory": t.output_folder},
            })
        })
        .collect();
    let config = json!({
        "model": {"name": view.model.name, "revision": view.model.revision},
        "vllm": view.provider.as_ref().map(|p| json!({
            "provider_config": p.name,
            "provider_file": p.path,
            "settings": redact_secrets(&p.settings),
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

/// Where a layer came from: its source, and the file and revision it read.
pub fn layer_record(layer: &Layer) -> Json {
    json!({
        "source": layer.source.to_string(),
        "revision": layer.artifact.as_ref().and_then(|a| a.revision.clone()),
        "file": layer.artifact.as_ref().map(|a| a.origin.clone()),
    })
}

/// Settings whose name says they hold a secret (`hf_token`, an `api_key`, a `password`...)
/// written as `***`: they reach processes through the environment only, never a file.
fn redact_secrets(settings: &Map<String, Json>) -> Map<String, Json> {
    settings
        .iter()
        .map(|(key, value)| {
            let name = key.to_ascii_lowercase();
            let secret = ["token", "secret", "password", "api_key"]
                .iter()
                .any(|word| name.contains(word));
            let shown = if secret && !value.is_null() && value != "" {
                json!("***")
            } else {
                value.clone()
            };
            (key.clone(), shown)
        })
        .collect()
}

/// Every key's value and source, for the run and for each task, plus the layers and what
/// normalization and the sources had to say.
fn resolved_json(resolution: &Resolution, view: &RunView) -> Json {
    let tasks: Map<String, Json> = view
        .tasks
        .iter()
        .map(|t| (t.name.clone(), t.resolved.to_json()))
        .collect();
    let layers: Vec<Json> = resolution
        .source_layers
        .iter()
        .chain(resolution.config.generation.iter())
        .chain(resolution.cli_layer.iter())
        .map(|l| {
            let mut record = layer_record(l);
            record["ignored"] = json!(l.ignored);
            record
        })
        .collect();
    json!({
        "resolved": resolution.run.to_json(),
        "tasks": tasks,
        "layers": layers,
        "notes": resolution.diagnostics,
    })
}

fn metric_key(metric: &benchy_core::backend::Metric) -> String {
    match &metric.filter {
        Some(filter) => format!("{},{filter}", metric.name),
        None => metric.name.clone(),
    }
}

fn results_json(results: &[TaskResult]) -> Json {
    let mut out = Map::new();
    for result in results {
        let metrics: Map<String, Json> = result
            .metrics
            .iter()
            .map(|m| (metric_key(m), json!({"value": m.value, "stderr": m.stderr})))
            .collect();
        out.insert(result.name.clone(), Json::Object(metrics));
    }
    Json::Object(out)
}

fn rows(results: &[TaskResult]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for result in results {
        for metric in &result.metrics {
            let value = match metric.value.as_f64() {
                Some(v) => format!("{v:.4}"),
                None => metric.value.to_string(),
            };
            let stderr = metric
                .stderr
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.4}"));
            rows.push(vec![result.name.clone(), metric_key(metric), value, stderr]);
        }
    }
    rows
}

const HEADER: [&str; 4] = ["task", "metric", "value", "± stderr"];

fn results_table(results: &[TaskResult]) -> String {
    table::render(&HEADER, &rows(results))
}

fn markdown_table(results: &[TaskResult]) -> String {
    let mut out = format!("| {} |\n|---|---|---:|---:|\n", HEADER.join(" | "));
    for row in rows(results) {
        out += &format!("| {} |\n", row.join(" | "));
    }
    out
}

/// One line per kind of task: generating tasks carried the resolved parameters (verified),
/// log-likelihood tasks carried none.
fn sampling_note(verification: &[Verification]) -> String {
    let named = |status: Check| -> Vec<&str> {
        verification
            .iter()
            .filter(|v| v.status == status)
            .map(|v| v.name.as_str())
            .collect()
    };
    let mut out = String::new();
    let verified = named(Check::Verified);
    if !verified.is_empty() {
        out += &format!(
            "\nGeneration parameters verified against lm-eval's record: {}.\n",
            verified.join(", ")
        );
    }
    let loglikelihood = named(Check::NoSamplingParameters);
    if !loglikelihood.is_empty() {
        out += &format!(
            "\nScored by log-likelihood, so no sampling parameters were sent: {}.\n",
            loglikelihood.join(", ")
        );
    }
    out
}
