//! `run.json`: the record of one model's run. What ran (the config, the sources and the
//! revisions they read, every process's command line, exit code and times, the tools' versions),
//! how it ended, and what was verified. It is written when the run starts and again as it goes,
//! so an interrupted or failed run still says what happened.

use std::collections::BTreeMap;
use std::path::PathBuf;

use benchy_core::backend::{ProcessOutcome, RunOptions};
use benchy_core::{Diagnostic, Layer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::repeats::Repeated;
use super::schema::KILLED;
pub use super::schema::Status;
use crate::envs::EnvInfo;
use crate::proof::audit::Answers;
use crate::proof::rendered::Rendered;
use crate::proof::verification::Verification;
use crate::proof::wire_audit::{AuditMode, WireAudit};
use crate::runner::server::RunningServer;
use crate::runner::startup::StartupLedger;
use crate::util::time::stamp;
use benchy_core::backend::{Collected, DatasetRef, Sampling};

#[derive(Debug, Serialize)]
pub struct RunRecord {
    pub benchy_version: &'static str,
    pub run_id: String,
    pub model: String,
    pub config: PathBuf,
    /// The task backend that ran the tasks.
    pub backend: String,
    /// The options that shape what ran (`--limit`, `--log-samples`).
    pub options: RunOptions,
    pub status: Status,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why the run failed, one line each.
    pub failures: Vec<String>,
    /// The run tasks without complete, verified results.
    pub failed_tasks: Vec<String>,
    /// The `--source` layers that answered, with the revision and file they read.
    pub sources: Vec<LayerRecord>,
    pub server: Option<ServerRecord>,
    /// The checks that ran before anything started (the evaluator knows the tasks).
    pub checks: Vec<ProcessOutcome>,
    /// What the task backend asked before it planned (which tasks generate text), once for the
    /// whole suite.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<QuestionRecord>,
    pub processes: Vec<ProcessOutcome>,
    /// The versions of what ran, by tool: what the backends found (`lm_eval`) and what the
    /// server says of itself (under its process's name, `vllm`).
    pub versions: BTreeMap<String, String>,
    /// What each backend wanted kept (executables, settings accepted but unused).
    pub backends: BTreeMap<String, Map<String, Json>>,
    pub verification: Vec<Verification>,
    /// What the auditing proxies saw of every job's requests (`None` with `--audit off`); the
    /// whole audit is in `wire_audit.json`.
    pub audit: Option<AuditRecord>,
    /// The modes the tasks ran in, each with its switch and what the server rendered in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<ModeRecord>,
    /// What each generating task's answers said, from the wire audit.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, TaskAnswers>,
    /// The tasks that ran as repeats, each repeat's name and seed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<Repeated>,
    /// Each task's datasets, by evaluated task, as its tool named them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, BTreeMap<String, DatasetRef>>,
    /// How many samples each task (each repeat) scored, by evaluated task, where its tool said.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub samples: BTreeMap<String, BTreeMap<String, u64>>,
    pub notes: Vec<Diagnostic>,
    /// The run tasks done in an earlier attempt with the same inputs, not run in this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub done_before: Vec<String>,
    /// The earlier attempts of this run, oldest first: each one's `run.json` as it was, with
    /// `outputs` naming the folder its outputs were moved to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Json>,
}

/// A question the task backend asked before it planned.
#[derive(Clone, Debug, Serialize)]
pub struct QuestionRecord {
    pub name: String,
    /// Its command line, a script argument shown as `<script>`.
    pub command: String,
    /// The tasks it was about.
    pub tasks: Vec<String>,
    /// Answered from an earlier run's answer to the same command and files, not asked now.
    pub remembered: bool,
}

/// What a task's answers said, and where its token budget came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskAnswers {
    #[serde(flatten)]
    pub counts: Answers,
    /// The budget's source: the resolved `max_new_tokens`'s, or `the task's own`.
    pub budget_source: String,
    /// Tasks whose answers these are too: they shared one process.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    /// How many answers came from the response cache, and the runs that first got them.
    #[serde(skip_serializing_if = "is_zero")]
    pub from_cache: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cached_from: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A mode of the run: what chose it, its switch and preset's source, the tasks that ran in it,
/// and the prompt the server rendered for a sample request in it.
#[derive(Debug, Serialize)]
pub struct ModeRecord {
    pub name: String,
    pub defined_in: String,
    pub chosen_by: String,
    pub tasks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_template_kwargs: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    pub thinks: bool,
    /// What the server rendered for a sample request in the mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<Rendered>,
    /// Why the server could not be asked to render it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_rendered: Option<String>,
}

/// The wire audit's verdicts, the run's and each job's.
#[derive(Debug, Serialize)]
pub struct AuditRecord {
    pub mode: AuditMode,
    pub verdict: String,
    pub jobs: Vec<JobVerdict>,
}

#[derive(Debug, Serialize)]
pub struct JobVerdict {
    pub name: String,
    pub verdict: String,
}

impl RunRecord {
    /// The repeated tasks, and each one as failed when one of its repeats failed (what reads
    /// the record back knows the task, not its repeats).
    /// What `collected` says of each evaluated task besides its numbers: the datasets, under
    /// their run task (a repeat's under its task), and the samples scored, under the task or
    /// repeat that scored them.
    pub fn note_evaluated(&mut self, collected: &Collected, repeated: &[Repeated]) {
        for result in &collected.results {
            if let Some(samples) = result.samples {
                self.samples
                    .entry(result.task.clone())
                    .or_default()
                    .insert(result.name.clone(), samples);
            }
            let Some(dataset) = &result.dataset else {
                continue;
            };
            let task = repeated
                .iter()
                .find(|r| r.repeats.contains(&result.task))
                .map_or(&result.task, |r| &r.task);
            self.datasets
                .entry(task.clone())
                .or_default()
                .insert(result.name.clone(), dataset.clone());
        }
    }

    pub fn note_repeats(&mut self, repeated: &[Repeated]) {
        for task in repeated {
            let failed = task.repeats.iter().any(|r| self.failed_tasks.contains(r));
            if failed && !self.failed_tasks.contains(&task.task) {
                self.failed_tasks.push(task.task.clone());
            }
        }
        self.repeats = repeated.to_vec();
    }

    /// Verifies every evaluated task (a group's aggregate has nothing of its own to verify) into
    /// this record: each verdict is kept, a failed one fails its task, and a task of the run without
    /// any result fails too. Returns the verdicts' lines, for the terminal.
    pub fn verify(
        &mut self,
        collected: &Collected,
        tasks: &[String],
        backend: &str,
    ) -> Vec<String> {
        self.verification = collected
            .results
            .iter()
            .filter(|r| r.sampling != Sampling::Aggregate)
            .map(Verification::of)
            .collect();
        let failed: Vec<Verification> = self
            .verification
            .iter()
            .filter(|v| v.failed())
            .cloned()
            .collect();
        for v in failed {
            self.fail_task(
                &v.task,
                format!(
                    "{}: what {backend} recorded differs from what was sent: {}",
                    v.name,
                    v.differences.join("; ")
                ),
            );
        }
        for task in tasks {
            let has_results = collected.results.iter().any(|r| &r.task == task);
            if !has_results && !self.failed_tasks.contains(task) {
                self.fail_task(task, format!("{task}: no results"));
            }
        }
        self.verification.iter().map(|v| v.line(backend)).collect()
    }

    /// Records that `task` failed and why (once per task in `failed_tasks`).
    pub fn fail_task(&mut self, task: &str, why: String) {
        self.fail_tasks(&[task.to_owned()], why);
    }

    /// Records the Python environments `backend`'s processes ran from: under the backend's
    /// name, and each checked module's version among the versions of what ran.
    pub fn note_environments(&mut self, backend: &str, envs: &[EnvInfo]) {
        if envs.is_empty() {
            return;
        }
        for env in envs {
            if let (Some(module), Some(version)) = (&env.module, &env.version) {
                self.versions.insert(module.clone(), version.clone());
            }
        }
        self.backends
            .entry(backend.to_owned())
            .or_default()
            .insert("environments".into(), serde_json::json!(envs));
    }

    /// Records one failure of `tasks` (a job that covered them), each once in `failed_tasks`.
    pub fn fail_tasks(&mut self, tasks: &[String], why: String) {
        self.failures.push(why);
        for task in tasks {
            if !self.failed_tasks.contains(task) {
                self.failed_tasks.push(task.clone());
            }
        }
    }
}

/// The attempts before this one: those the previous `run.json` kept, then the previous one
/// itself (`outputs` names where its outputs went).
pub fn attempts_before(previous: Option<(PathBuf, Json)>) -> Vec<Json> {
    let Some((outputs, record)) = previous else {
        return Vec::new();
    };
    let mut record = match record {
        Json::Object(map) => map,
        _ => Map::new(),
    };
    // The folder is ours now: an attempt that still says it runs was killed.
    if record.get("status").and_then(Json::as_str) == Some(Status::Running.as_str()) {
        record.insert("status".into(), Json::from(Status::Interrupted.as_str()));
        let failures = record
            .entry("failures")
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Some(list) = failures.as_array_mut() {
            list.push(Json::from(KILLED));
        }
    }
    let mut attempts = match record.remove("attempts") {
        Some(Json::Array(older)) => older,
        _ => Vec::new(),
    };
    record.insert(
        "outputs".into(),
        Json::String(outputs.display().to_string()),
    );
    attempts.push(Json::Object(record));
    attempts
}

impl From<&WireAudit> for AuditRecord {
    fn from(audit: &WireAudit) -> AuditRecord {
        AuditRecord {
            mode: audit.mode,
            verdict: audit.verdict.clone(),
            jobs: audit
                .jobs
                .iter()
                .map(|j| JobVerdict {
                    name: j.name.clone(),
                    verdict: j.verdict.clone(),
                })
                .collect(),
        }
    }
}

/// The server of the run.
#[derive(Debug, Default, Serialize)]
pub struct ServerRecord {
    /// `false` for `--server-url`: benchy neither started nor stopped it.
    pub launched: bool,
    /// The server backend that planned it, when benchy launched it.
    pub backend: Option<String>,
    pub started_at: Option<String>,
    pub ready_at: Option<String>,
    pub stopped_at: Option<String>,
    /// The command line, secrets as `***`.
    pub command: Option<String>,
    /// Where clients reached it, its served model name and context length (once ready).
    pub url: Option<String>,
    pub model: Option<String>,
    pub max_model_len: Option<u64>,
    pub version: Option<String>,
    pub log: Option<PathBuf>,
    /// The node's devices it ran on, when a suite shared them out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
    /// Its start, phase by phase, when benchy launched it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupLedger>,
    /// How it ended, when benchy stopped it or it died.
    pub ended: Option<String>,
}

impl ServerRecord {
    /// What the record says of a server once it is ready.
    pub fn ready(&mut self, server: &RunningServer) {
        self.started_at = Some(stamp(server.started_at));
        self.ready_at = Some(stamp(server.ready_at));
        self.url = Some(server.info.base_url.clone());
        self.model = Some(server.info.model.clone());
        self.max_model_len = server.info.max_model_len;
        self.version.clone_from(&server.version);
        self.startup.clone_from(&server.startup);
    }
}

/// Where a layer came from: its source, and the file and revision it read.
#[derive(Debug, Serialize)]
pub struct LayerRecord {
    pub source: String,
    pub revision: Option<String>,
    pub file: Option<String>,
    /// Keys the source read but does not resolve (not sampling parameters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

impl From<&Layer> for LayerRecord {
    fn from(layer: &Layer) -> LayerRecord {
        LayerRecord {
            source: layer.source.to_string(),
            revision: layer.artifact.as_ref().and_then(|a| a.revision.clone()),
            file: layer.artifact.as_ref().map(|a| a.origin.clone()),
            ignored: layer.ignored.clone(),
        }
    }
}
