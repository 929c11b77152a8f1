//! Reading runs back, in one place: a model's run folder (`run.json`, `results.json`,
//! `resolved_generation.json`, `run_config.yaml`, each task's `completion.json`) and a run-id
//! folder's `suite.json`, into one [`StoredRun`] each. Every file is optional: a missing one
//! leaves its part empty, and one that cannot be read or parsed (a crash mid-write, a hand
//! edit) is named in a warning while the rest of the run is still shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchy_core::source::read_existing_file;
use benchy_source_yaml::yaml;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// The most any one of these files may hold; real ones are kilobytes.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

use super::layout::{COMPLETION, RESOLVED, RESULTS, RUN_CONFIG, RUN_RECORD, SUITE_RECORD};
use super::run_lock::RunLock;
pub use super::run_record::TaskAnswers;
use super::schema::KILLED;
pub use super::schema::{MetricValue, ModelStatus, TaskState};
use super::suite_record::{ModelEntry, SuiteRecord};
use crate::runner::startup::StartupLedger;
use crate::util::stdio::errln;
pub use benchy_core::backend::DatasetRef;

/// The state `word` names, if any.
fn parse<T: DeserializeOwned>(word: &str) -> Option<T> {
    serde_json::from_value(Json::String(word.to_owned())).ok()
}

/// An evaluated task's metrics, in the order the results file lists them (`metric,filter`).
pub type Metrics = Vec<(String, MetricValue)>;

/// A resolved generation parameter: its value and where it came from.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Param {
    pub value: Json,
    pub source: String,
}

/// Resolved parameters by key.
pub type Params = BTreeMap<String, Param>;

/// One task of a run: what its config says and what came out.
#[derive(Clone, Debug)]
pub struct StoredTask {
    /// The run task's name (the run config's).
    pub name: String,
    /// The evaluated task whose result stands for the run task (an lm-eval group, say).
    pub task_name: Option<String>,
    /// `output.primary_metric`: `metric,filter` or a bare metric name.
    pub primary_metric: Option<String>,
    pub num_fewshot: Option<Json>,
    /// The mode it ran in, when it had one.
    pub mode: Option<String>,
    /// What its answers said, when it generated text and the wire was audited.
    pub answers: Option<TaskAnswers>,
    /// Its datasets by evaluated task, as its tool named them, and the Hub dataset the run
    /// config says it stands for (`hub_dataset`, with its revision).
    pub datasets: BTreeMap<String, DatasetRef>,
    pub hub_dataset: Option<(String, Option<String>)>,
    /// When it finished, as its completion record says.
    pub finished_at: Option<String>,
    pub state: TaskState,
    /// Evaluated task -> metrics, in the results file's order.
    pub results: Vec<(String, Metrics)>,
}

impl StoredTask {
    /// The evaluated task that stands for the run task: `task_name`, else the run task's own
    /// name, else the only (or first) one evaluated.
    pub fn standing(&self) -> Option<&(String, Metrics)> {
        let named = |name: &str| self.results.iter().find(|(n, _)| n == name);
        self.task_name
            .as_deref()
            .and_then(named)
            .or_else(|| named(&self.name))
            .or_else(|| self.results.first())
    }
}

/// One verification verdict, as `run.json` keeps it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Verdict {
    pub task: String,
    pub name: String,
    pub status: String,
    pub differences: Vec<String>,
}

/// A model's run as read back from its folder (and its suite's record).
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// The model's run folder.
    pub dir: PathBuf,
    pub run_id: String,
    /// The model as the run config names it (`org/name`, or a local path).
    pub model: String,
    /// The folder's name: the model's short name.
    pub short_name: String,
    /// Whether the model's folder holds a record of a run (its `run.json` or results): a model
    /// a suite only lists has none.
    pub recorded: bool,
    pub status: ModelStatus,
    pub started_at: Option<String>,
    pub failures: Vec<String>,
    pub backend: Option<String>,
    pub limit: Option<f64>,
    pub chat: Option<bool>,
    /// Tool versions by tool, as the backends recorded them, the server's own included (under
    /// `server` when no backend recorded it).
    pub versions: BTreeMap<String, String>,
    pub max_model_len: Option<u64>,
    /// The launched server's start-up in one line, with its share of the model's wall time.
    pub startup: Option<String>,
    /// The node's devices its server held, when a suite shared them out.
    pub devices: Vec<String>,
    /// The run's resolved parameters, and each task's.
    pub params: Params,
    pub task_params: BTreeMap<String, Params>,
    pub tasks: Vec<StoredTask>,
    pub verification: Vec<Verdict>,
    /// The wire audit's verdict, when the run had one.
    pub audit: Option<String>,
}

impl StoredRun {
    pub fn task(&self, name: &str) -> Option<&StoredTask> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// What reading found: the runs, and a warning per file that could not be used.
#[derive(Debug, Default)]
pub struct Found {
    pub runs: Vec<StoredRun>,
    pub warnings: Vec<String>,
}

impl Found {
    /// Reads every run under `paths` (model run folders, run-id folders or output folders),
    /// each folder once, oldest run first. A path that is no folder is an error for the caller.
    pub fn read(paths: &[PathBuf]) -> Found {
        let mut found = Found::default();
        let mut seen = Vec::new();
        for path in paths {
            found.walk(path, 2, &mut seen);
        }
        found.runs.sort_by(|a, b| {
            (&a.started_at, &a.run_id, &a.short_name).cmp(&(
                &b.started_at,
                &b.run_id,
                &b.short_name,
            ))
        });
        found
    }

    /// Reads `dir` as a model's run folder, or looks `depth` levels below it for them; a
    /// run-id folder's `suite.json` adds its models, those without a folder yet included.
    fn walk(&mut self, dir: &Path, depth: u8, seen: &mut Vec<PathBuf>) {
        if !first_visit(dir, seen) {
            return;
        }
        if is_run_folder(dir) {
            let run = self.read_run(dir, None);
            self.runs.push(run);
            return;
        }
        self.read_suite(dir, seen);
        if depth > 0 {
            for child in subfolders(dir) {
                self.walk(&child, depth - 1, seen);
            }
        }
    }

    /// The models of the run-id folder `dir`'s `suite.json`, when it has one.
    fn read_suite(&mut self, dir: &Path, seen: &mut Vec<PathBuf>) {
        let Some(suite) = self.optional::<SuiteRecord>(&dir.join(SUITE_RECORD)) else {
            return;
        };
        for model in &suite.models {
            // by its name inside this run id's folder, wherever the folder was moved or copied
            let folder = model.folder_in(dir);
            if first_visit(&folder, seen) {
                let in_suite = InSuite {
                    run_id: &suite.run_id,
                    started_at: &suite.started_at,
                    model,
                };
                let run = self.read_run(&folder, Some(in_suite));
                self.runs.push(run);
            }
        }
    }

    /// One model's run folder, with what its suite says of it.
    fn read_run(&mut self, dir: &Path, suite: Option<InSuite>) -> StoredRun {
        let record: Option<Record> = self.optional(&dir.join(RUN_RECORD));
        let config: Option<Config> = self.optional_yaml(&dir.join(RUN_CONFIG));
        let resolved: Option<Resolved> = self.optional(&dir.join(RESOLVED));
        let results: Option<Map<String, Json>> = self.optional(&dir.join(RESULTS));
        let record = record.unwrap_or_default();
        let config = config.unwrap_or_default();
        let resolved = resolved.unwrap_or_default();
        let mut failures = failures(&record, suite);
        let status = match record
            .status
            .or_else(|| suite.map(|s| s.model.status))
            .unwrap_or(ModelStatus::Unknown)
        {
            // Nothing holds the folder: the run that said so was killed before it could say more.
            ModelStatus::Running if !RunLock::is_held(dir) => {
                failures.push(KILLED.to_owned());
                ModelStatus::Interrupted
            }
            status => status,
        };
        let short_name = folder_name(dir);
        let model = record
            .model
            .clone()
            .or_else(|| config.model.as_ref().and_then(|m| m.name.clone()))
            .or_else(|| suite.map(|s| s.model.model.clone()))
            .unwrap_or_else(|| short_name.clone());
        let mut versions = record.versions.clone();
        if let Some(version) = record.server.as_ref().and_then(|s| s.version.clone())
            && !versions.values().any(|v| *v == version)
        {
            versions.insert("server".into(), version);
        }
        let tasks = self.read_tasks(dir, &record, &config, results.as_ref(), suite, status);
        let recorded = record.status.is_some() || results.is_some();
        StoredRun {
            dir: dir.to_owned(),
            run_id: record
                .run_id
                .clone()
                .or_else(|| suite.map(|s| s.run_id.to_owned()))
                .unwrap_or_else(|| parent_name(dir)),
            model,
            short_name,
            recorded,
            status,
            started_at: record
                .started_at
                .clone()
                .or_else(|| suite.map(InSuite::started_at)),
            failures,
            backend: record.backend.clone(),
            limit: record.options.as_ref().and_then(|o| o.limit),
            chat: config.use_chat_completions,
            versions,
            max_model_len: record.server.as_ref().and_then(|s| s.max_model_len),
            startup: startup_line(&record),
            devices: record
                .server
                .as_ref()
                .and_then(|s| s.devices.clone())
                .unwrap_or_default(),
            params: resolved.resolved,
            task_params: resolved.tasks,
            tasks,
            verification: record.verification,
            audit: record.audit.and_then(|a| a.verdict),
        }
    }

    /// The run's tasks, in the config's order, then any others the results or suite name.
    fn read_tasks(
        &mut self,
        dir: &Path,
        record: &Record,
        config: &Config,
        results: Option<&Map<String, Json>>,
        suite: Option<InSuite>,
        status: ModelStatus,
    ) -> Vec<StoredTask> {
        let mut names: Vec<String> = config.tasks.iter().map(|t| t.name.clone()).collect();
        let others = results
            .into_iter()
            .flat_map(|r| r.keys())
            .chain(suite.into_iter().flat_map(|s| s.model.tasks.keys()));
        for name in others {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
            .into_iter()
            .map(|name| {
                let task = config.tasks.iter().find(|t| t.name == name);
                let folder = task
                    .and_then(|t| t.output.as_ref())
                    .and_then(|o| o.subdirectory.clone())
                    .unwrap_or_else(|| name.clone());
                let completion: Option<Completion> =
                    self.optional(&dir.join(folder).join(COMPLETION));
                let evaluated = match results.and_then(|r| r.get(&name)) {
                    Some(evaluated) => evaluated_metrics(evaluated),
                    None => completion
                        .as_ref()
                        .map(|c| evaluated_metrics(&c.results))
                        .unwrap_or_default(),
                };
                let said = completion
                    .as_ref()
                    .and_then(|c| parse(&c.status))
                    .or_else(|| suite.and_then(|s| s.model.tasks.get(&name)).copied());
                let failed = record.failed_tasks.contains(&name);
                StoredTask {
                    state: task_state(failed, said, !evaluated.is_empty(), status),
                    task_name: task.and_then(|t| t.task_name.clone()),
                    primary_metric: task
                        .and_then(|t| t.output.as_ref())
                        .and_then(|o| o.primary_metric.clone()),
                    num_fewshot: task.and_then(|t| t.defaults.get("num_fewshot").cloned()),
                    mode: task.and_then(|t| t.mode.clone()),
                    answers: record
                        .answers
                        .get(&name)
                        .cloned()
                        .or_else(|| completion.as_ref().and_then(|c| c.answers.clone())),
                    datasets: record
                        .datasets
                        .get(&name)
                        .cloned()
                        .or_else(|| completion.as_ref().map(|c| c.datasets.clone()))
                        .unwrap_or_default(),
                    hub_dataset: task.and_then(|t| {
                        let id = t.hub_dataset.clone()?;
                        Some((id, t.hub_dataset_revision.clone()))
                    }),
                    finished_at: completion.as_ref().and_then(|c| c.finished_at.clone()),
                    name,
                    results: evaluated,
                }
            })
            .collect()
    }

    /// A JSON file that may be missing; unreadable or malformed: a warning and `None`.
    fn optional<T: DeserializeOwned>(&mut self, path: &Path) -> Option<T> {
        let text = self.text(path)?;
        serde_json::from_str(&text)
            .map_err(|e| self.warn(path, &format!("not readable as JSON ({e}); left out")))
            .ok()
    }

    /// The same for a YAML file, read as benchy reads every YAML file.
    fn optional_yaml<T: DeserializeOwned>(&mut self, path: &Path) -> Option<T> {
        let text = self.text(path)?;
        yaml::from_str(&text, &path.display().to_string())
            .map_err(|e| {
                let at = e.position.map(|(l, c)| format!("line {l} column {c}: "));
                let problem = format!("{}{}", at.unwrap_or_default(), e.message);
                self.warn(path, &format!("not readable as YAML ({problem}); left out"));
            })
            .ok()
    }

    /// The text of a file that may be missing; unreadable: a warning and `None`.
    fn text(&mut self, path: &Path) -> Option<String> {
        let bytes = read_existing_file(path, MAX_FILE_BYTES)
            .map_err(|e| self.warn(path, &format!("{e}; left out")))
            .ok()??;
        String::from_utf8(bytes)
            .map_err(|e| self.warn(path, &format!("not UTF-8 text ({e}); left out")))
            .ok()
    }

    fn warn(&mut self, path: &Path, problem: &str) {
        self.warnings.push(format!("{}: {problem}", path.display()));
    }
}

/// Each warning of a read, a line on stderr.
pub fn warn(warnings: &[String]) {
    for warning in warnings {
        errln!("warning: {warning}");
    }
}

/// Why the run failed, one line each: the record's, then those only its suite recorded.
fn failures(record: &Record, suite: Option<InSuite>) -> Vec<String> {
    let mut lines = record.failures.clone();
    for failure in suite.into_iter().flat_map(|s| &s.model.failures) {
        if !lines.contains(failure) {
            lines.push(failure.clone());
        }
    }
    lines
}

/// What a task's state is, from the most specific word on it down to the run's status.
fn task_state(
    failed: bool,
    said: Option<TaskState>,
    has_results: bool,
    run: ModelStatus,
) -> TaskState {
    if failed {
        return TaskState::Failed;
    }
    if let Some(state) = said.filter(|s| *s != TaskState::Done || has_results) {
        return state;
    }
    if has_results {
        return TaskState::Done;
    }
    match run {
        ModelStatus::Interrupted => TaskState::Interrupted,
        ModelStatus::Running => TaskState::Running,
        ModelStatus::Pending => TaskState::Pending,
        ModelStatus::NotRun => TaskState::NotRun,
        ModelStatus::Failed => TaskState::Failed,
        ModelStatus::Ok | ModelStatus::Unknown => TaskState::NoResults,
    }
}

/// `{evaluated task: {metric: {"value", "stderr"}}}` (a run task's entry of `results.json`) in
/// its own order; what is not of that shape is left out.
pub fn evaluated_metrics(evaluated: &Json) -> Vec<(String, Metrics)> {
    let number = |v: Option<&Json>| v.and_then(Json::as_f64).filter(|x| x.is_finite());
    let Some(evaluated) = evaluated.as_object() else {
        return Vec::new();
    };
    evaluated
        .iter()
        .filter_map(|(name, metrics)| {
            let metrics: Metrics = metrics
                .as_object()?
                .iter()
                .map(|(key, m)| {
                    let value = MetricValue {
                        value: number(m.get("value")),
                        stderr: number(m.get("stderr")),
                        repeats: m
                            .get("repeats")
                            .and_then(Json::as_array)
                            .map(|r| r.len() as u32),
                    };
                    (key.clone(), value)
                })
                .collect();
            Some((name.clone(), metrics))
        })
        .collect()
}

/// Whether `dir` is met for the first time (by its canonical path, when it exists).
fn first_visit(dir: &Path, seen: &mut Vec<PathBuf>) -> bool {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    if seen.contains(&canonical) {
        return false;
    }
    seen.push(canonical);
    true
}

/// A model's run folder holds its record or its effective config.
fn is_run_folder(dir: &Path) -> bool {
    dir.join(RUN_RECORD).is_file() || dir.join(RUN_CONFIG).is_file()
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parent_name(dir: &Path) -> String {
    dir.parent().map(folder_name).unwrap_or_default()
}

/// The launched server's start-up as the run record keeps it, in one line.
fn startup_line(record: &Record) -> Option<String> {
    let ledger = record.server.as_ref()?.startup.as_ref()?;
    Some(ledger.describe(record.started_at.as_deref(), record.finished_at.as_deref()))
}

/// The parts of `run.json` read back (see `run_record.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Record {
    status: Option<ModelStatus>,
    run_id: Option<String>,
    model: Option<String>,
    backend: Option<String>,
    options: Option<Options>,
    started_at: Option<String>,
    finished_at: Option<String>,
    failures: Vec<String>,
    failed_tasks: Vec<String>,
    server: Option<Server>,
    versions: BTreeMap<String, String>,
    verification: Vec<Verdict>,
    audit: Option<Audit>,
    answers: BTreeMap<String, TaskAnswers>,
    datasets: BTreeMap<String, BTreeMap<String, DatasetRef>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Options {
    limit: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Server {
    version: Option<String>,
    max_model_len: Option<u64>,
    startup: Option<StartupLedger>,
    devices: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Audit {
    verdict: Option<String>,
}

/// `resolved_generation.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Resolved {
    resolved: Params,
    tasks: BTreeMap<String, Params>,
}

/// The parts of `run_config.yaml` read back (see `run_folder.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Config {
    model: Option<ConfigModel>,
    use_chat_completions: Option<bool>,
    tasks: Vec<ConfigTask>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigModel {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigTask {
    name: String,
    task_name: Option<String>,
    defaults: Map<String, Json>,
    output: Option<ConfigOutput>,
    mode: Option<String>,
    hub_dataset: Option<String>,
    hub_dataset_revision: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigOutput {
    subdirectory: Option<String>,
    primary_metric: Option<String>,
}

/// `<task folder>/completion.json`, a task's completion record (its status a word, as
/// `resume.rs` writes it).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Completion {
    status: String,
    results: Json,
    answers: Option<TaskAnswers>,
    datasets: BTreeMap<String, DatasetRef>,
    finished_at: Option<String>,
}

/// What a suite says of one of its models, and the suite's run id and start.
#[derive(Clone, Copy)]
struct InSuite<'s> {
    run_id: &'s str,
    started_at: &'s str,
    model: &'s ModelEntry,
}

impl InSuite<'_> {
    /// When the model started, else when its suite did: a model not started yet is ordered
    /// with its suite, after the runs before it.
    fn started_at(self) -> String {
        let started = self.model.started_at.as_deref();
        started.unwrap_or(self.started_at).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_no_warning_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r1/m");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("run.json"),
            r#"{"status": "ok", "model": "org/m"}"#,
        )
        .unwrap();
        std::fs::write(run.join("run_config.yaml"), "tasks: [\n").unwrap();
        let found = Found::read(&[dir.path().to_owned()]);
        assert_eq!(found.runs.len(), 1);
        assert_eq!(found.runs[0].status, ModelStatus::Ok);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        let warning = &found.warnings[0];
        assert!(
            warning.contains("run_config.yaml: not readable as YAML (line "),
            "{warning}"
        );
    }
}
