//! One model's attempt, once everything is checked: start its server, run the tasks not done
//! yet, stop the server, verify, and keep the results (with those of the tasks done before)
//! and a completion record for every task that finished. `run.json` is written as it goes, and
//! nothing is left running.

use anyhow::Result;
use benchy_core::backend::{CollectRequest, Collected, ProcessOutcome};
use benchy_core::{ProcessSpec, RunView};
use serde_json::{Map, Value as Json};

use super::Suite;
use super::checks::Checked;
use super::model::Model;
use super::{answers, rendering};
use crate::cache::key::Scope;
use crate::ops::budget;
use crate::ops::planning::{plan_jobs, served_names};
use crate::ops::questions::settled;
use crate::ops::server::Starting;
use crate::proof::wire_audit::{AuditMode, CacheUse, JobAudits, WireAudit};
use crate::runner::jobs::{EndedEarly, JobPolicy, JobsReport};
use crate::runner::server::RunningServer;
use crate::runner::{self, Interrupted, Runner};
use crate::store::completion::{self, Completion};
use crate::store::layout::WIRE_AUDIT;
use crate::store::repeats;
use crate::store::run_record::{AuditRecord, LayerRecord, RunRecord, ServerRecord, Status};
use crate::store::summary;
use crate::util::atomic::write_json;
use crate::util::notes;
use crate::util::secrets;
use crate::util::stdio::{errln, outln};
use crate::util::time::now;

/// One attempt at a model's tasks that are not done.
pub(super) struct Attempt<'s, 'a> {
    pub suite: &'s Suite<'a>,
    pub model: &'s Model,
    /// The model's run with only the tasks this attempt runs.
    pub view: RunView,
    /// The node's devices its server runs on, when a suite shares them out.
    pub devices: Option<Vec<String>>,
    /// The tasks done before, with their records.
    pub done: Vec<Completion>,
    pub runner: &'s Runner,
}

impl Attempt<'_, '_> {
    /// The record as the attempt starts.
    pub fn new_record(&self, attempts: Vec<Json>) -> RunRecord {
        let model = self.model;
        let mut backends = std::collections::BTreeMap::new();
        backends.insert(
            self.model.backend.name.clone(),
            model.job_plan.record.clone(),
        );
        if let Some(server) = model.server.launched() {
            backends.insert(server.backend.clone(), server.plan.record.clone());
        }
        RunRecord {
            benchy_version: env!("CARGO_PKG_VERSION"),
            run_id: self.suite.run_id.clone(),
            model: model.view.model.name.clone(),
            config: model.resolution.config.path.clone(),
            backend: self.model.backend.name.clone(),
            options: model.options.clone(),
            status: Status::Running,
            started_at: now(),
            finished_at: None,
            failures: Vec::new(),
            failed_tasks: Vec::new(),
            sources: model
                .resolution
                .source_layers
                .iter()
                .map(LayerRecord::from)
                .collect(),
            server: None,
            checks: Vec::new(),
            questions: self.suite.answers.records.clone(),
            processes: Vec::new(),
            versions: model.planned_versions(),
            backends,
            verification: Vec::new(),
            audit: None,
            modes: Vec::new(),
            answers: Default::default(),
            repeats: Vec::new(),
            datasets: Default::default(),
            samples: Default::default(),
            notes: model.resolution.diagnostics.clone(),
            done_before: self.done.iter().map(|c| c.task.clone()).collect(),
            attempts,
        }
    }

    /// Runs the attempt; the results of the model (those done before included), or the error
    /// that ended it, either way with the record written.
    pub async fn execute(&self, record: &mut RunRecord, checked: &Checked) -> (Json, Result<()>) {
        let mut collected = None;
        let outcome = match self.start(record, checked) {
            Ok(()) => self.serve_and_run(record, &mut collected).await,
            Err(err) => Err(err),
        };
        self.finish(record, outcome, collected.as_ref())
    }

    /// The folder's inputs and first record, with the suite's checks and their logs.
    fn start(&self, record: &mut RunRecord, checked: &Checked) -> Result<()> {
        let folder = &self.model.folder;
        for outcome in &checked.outcomes {
            let mut outcome = outcome.clone();
            folder.keep_log(&outcome.log_file)?;
            let name = outcome.log_file.file_name().unwrap_or_default().to_owned();
            outcome.log_file = folder.dir.join(name);
            record.checks.push(outcome);
        }
        record.notes.extend(checked.notes.iter().cloned());
        let all = RunView {
            tasks: self.model.config_tasks.clone(),
            ..self.model.view.clone()
        };
        folder.write_inputs(&self.model.resolution, &all)?;
        folder.write_record(record)
    }

    /// Ends the record, writes the results, then a completion record for every task that
    /// finished: in that order, so a task counted done always has its results kept.
    fn finish(
        &self,
        record: &mut RunRecord,
        outcome: Result<()>,
        collected: Option<&Collected>,
    ) -> (Json, Result<()>) {
        record.finished_at = Some(now());
        record.status = match &outcome {
            Ok(()) if record.failures.is_empty() => Status::Ok,
            Err(err) if err.is::<Interrupted>() => Status::Interrupted,
            _ => Status::Failed,
        };
        if let Err(err) = &outcome {
            record.failures.push(format!("{err:#}"));
        }
        let new = collected.map_or_else(
            || Json::Object(Map::new()),
            |c| summary::results_json(&c.results),
        );
        let results = with_done(self.model, &self.done, &new);
        let written = self
            .write_outputs(record, &results)
            .and_then(|()| self.write_completions(record, &new));
        let kept = format!("outputs kept in {}", self.model.folder.dir.display());
        let ended = match (outcome, written) {
            (_, Err(err)) => Err(err.context(kept)),
            (Ok(()), Ok(())) if record.status == Status::Ok => {
                errln!("{kept}");
                Ok(())
            }
            (Ok(()), Ok(())) => Err(anyhow::anyhow!(
                "the run failed:\n  {}\n{kept}",
                record.failures.join("\n  ")
            )),
            (Err(err), Ok(())) => Err(err.context(kept)),
        };
        (results, ended)
    }

    /// `results.json`, `summary.md` and `run.json`; the results table on stdout.
    fn write_outputs(&self, record: &RunRecord, results: &Json) -> Result<()> {
        let folder = &self.model.folder;
        let has_results = results.as_object().is_some_and(|r| !r.is_empty());
        if has_results {
            let table = folder.write_results(self.model.short_name(), record, results)?;
            outln!("{table}");
        }
        folder.write_record(record)
    }

    /// A completion record for every task of this attempt that finished with verified results.
    fn write_completions(&self, record: &RunRecord, new: &Json) -> Result<()> {
        if record.status == Status::Interrupted {
            return Ok(());
        }
        for task in &self.view.tasks {
            let Some(results) = new.get(&task.name) else {
                continue;
            };
            if record.failed_tasks.contains(&task.name) {
                continue;
            }
            let job = record
                .processes
                .iter()
                .find(|p| p.tasks.contains(&task.name));
            let inputs = self.model.inputs[&task.name].clone();
            let completion = Completion {
                task: task.name.clone(),
                status: completion::OK.to_owned(),
                started_at: job.and_then(|j| j.started_at.clone()),
                finished_at: job.and_then(|j| j.finished_at.clone()).unwrap_or_else(now),
                fingerprint: inputs.fingerprint(),
                inputs,
                results: results.clone(),
                answers: record.answers.get(&task.name).cloned(),
                datasets: record.datasets.get(&task.name).cloned().unwrap_or_default(),
            };
            completion::write(&self.model.folder.path(&task.output_folder), &completion)?;
        }
        Ok(())
    }

    /// Starts (or attaches to) the server, runs the jobs, stops the server, collects and
    /// verifies. Failures of tasks are recorded in `record` (the run goes on); errors that end
    /// the run early are returned after the server is stopped and partial results are kept.
    async fn serve_and_run(
        &self,
        record: &mut RunRecord,
        collected: &mut Option<Collected>,
    ) -> Result<()> {
        let folder = &self.model.folder;
        let mut server = self.start_server(record).await?;
        let started = match server.info.max_model_len {
            Some(max_len) => budget::check(&self.view, max_len, "as the server reports it"),
            None => Ok(()),
        };
        if started.is_ok() {
            record.modes = rendering::modes(&self.view, &server.info).await;
            rendering::say_ignored(record);
        }
        let started = match started {
            Ok(()) => self.start_jobs_audit(&server).await,
            Err(err) => Err(err),
        };
        let (jobs, audits) = match started {
            Ok(started) => started,
            Err(err) => {
                server.stop().await;
                return Err(err);
            }
        };
        record.processes = jobs
            .iter()
            .map(|spec| runner::jobs::planned(spec, &folder.dir))
            .collect();
        folder.write_record(record)?;
        let policy = JobPolicy {
            parallel: self.suite.jobs.at_once(jobs.len()),
            stop_on_failure: false,
        };
        let report = self
            .runner
            .run_jobs(&jobs, policy, &folder.dir, Some(&mut server))
            .await;
        let mut audited = Vec::new();
        if let Some(audits) = audits {
            let audit = audits.finish(self.suite.args.audit).await;
            self.keep_audit(&audit, record)?;
            audited = audit.jobs;
        }
        self.stop_server(&mut server, record).await;
        let report = report?;
        note_failed_jobs(&report, record);
        record.processes = report.outcomes.clone();
        let results = self.collect(&report, record);
        // A task an interrupt cut short has no results, and did not fail for it.
        let cut_short = interrupted_tasks(&report);
        let tasks: Vec<String> = self
            .view
            .tasks
            .iter()
            .map(|t| t.name.clone())
            .filter(|t| !cut_short.contains(t))
            .collect();
        for line in record.verify(&results, &tasks, &self.model.backend.name) {
            errln!("{}", secrets::mask(&line));
        }
        let repeated = &self.model.repeated;
        record.answers = answers::per_task(&audited, &results, &self.view);
        answers::with_repeats(&mut record.answers, repeated, &self.done);
        notes::print(&answers::lines(&record.answers, repeated));
        record.note_repeats(repeated);
        record.note_evaluated(&results, repeated);
        *collected = Some(results);
        ended_early(report.ended_early, &server)
    }

    /// The jobs as planned against the ready server, each routed through its auditing proxy
    /// (unless `--audit off`).
    async fn start_jobs_audit(
        &self,
        server: &RunningServer,
    ) -> Result<(Vec<ProcessSpec>, Option<JobAudits>)> {
        let options = &self.model.options;
        let answers = &self.suite.answers.known;
        let plan = plan_jobs(
            &self.model.backend.backend,
            &self.view,
            &server.info,
            options,
            answers,
        )?;
        let mut jobs = settled(plan, answers)?.processes;
        let audits = match self.suite.args.audit {
            AuditMode::Off => None,
            AuditMode::On | AuditMode::Warn => {
                let cache = self.cache_use(server);
                Some(JobAudits::start(&mut jobs, &server.info.base_url, cache).await?)
            }
        };
        Ok((jobs, audits))
    }

    /// The response cache for this model's jobs, scoped to the model's files and the server;
    /// none when the cache is off, or when the model is known by its name alone (a Hub model
    /// no source read at a commit could be other files than the answers were given for).
    fn cache_use(&self, server: &RunningServer) -> Option<CacheUse> {
        let cache = self.suite.cache.as_ref()?;
        let Some(model) = self.model.exact_identity() else {
            self.runner.say(&format!(
                "note: the response cache is not used for {}: no source read its files at a \
                 commit (use the `hf` source, or pin model.revision to a commit)",
                self.model.view.model.name
            ));
            return None;
        };
        Some(CacheUse {
            cache: cache.clone(),
            scope: Scope::new(&model, &self.model.server_identity(server)),
            model: self.model.view.model.name.clone(),
            run: self.suite.run_id.clone(),
        })
    }

    /// `wire_audit.json`, the verdicts in the record and on stderr, and (with `--audit on`) a
    /// failed task for every job whose requests deviated.
    fn keep_audit(&self, audit: &WireAudit, record: &mut RunRecord) -> Result<()> {
        write_json(&self.model.folder.path(WIRE_AUDIT), audit)?;
        for job in &audit.jobs {
            self.runner
                .say(&format!("{}: wire audit: {}", job.name, job.verdict));
            if let Some(cache) = job.cache.as_ref().filter(|c| c.unfiled > 0) {
                self.runner.say(&format!(
                    "warning: {}: {} answers could not be kept in the response cache ({})",
                    job.name,
                    cache.unfiled,
                    cache.unfiled_why.as_deref().unwrap_or("unknown")
                ));
            }
            let Some(failure) = job.failure() else {
                continue;
            };
            if audit.mode == AuditMode::Warn {
                self.runner.say(&format!("warning: {failure}"));
                continue;
            }
            record.fail_tasks(&job.tasks, failure);
        }
        record.audit = Some(AuditRecord::from(audit));
        Ok(())
    }

    async fn start_server(&self, record: &mut RunRecord) -> Result<RunningServer> {
        let (model, folder) = (self.model, &self.model.folder);
        let names = served_names(&model.resolution.config.model);
        let started = model
            .server
            .start(
                &self.suite.envs,
                self.runner,
                &folder.dir,
                &names,
                self.devices.as_deref(),
                |starting| {
                    record.server = Some(match starting {
                        Starting::Launch {
                            backend,
                            spec,
                            envs,
                        } => {
                            record.note_environments(backend, envs);
                            ServerRecord {
                                launched: true,
                                backend: Some(backend.to_owned()),
                                command: Some(secrets::shown_command(spec)),
                                log: Some(folder.path(&spec.log_file)),
                                devices: self.devices.clone(),
                                ..ServerRecord::default()
                            }
                        }
                        Starting::Attach(url) => ServerRecord {
                            url: Some(url.root().to_owned()),
                            ..ServerRecord::default()
                        },
                    });
                    folder.write_record(record)
                },
            )
            .await;
        let Some(server_record) = record.server.as_mut() else {
            return started;
        };
        let server = started.inspect_err(|e| {
            server_record.ended = Some(format!("did not become ready: {e:#}"));
        })?;
        server_record.ready(&server);
        if let (Some(version), Some(plan)) = (&server.version, model.server.launched()) {
            record
                .versions
                .insert(plan.spec.name.clone(), version.clone());
        }
        self.runner.say(&format!(
            "Serving {} at {}",
            server.info.model, server.info.base_url
        ));
        Ok(server)
    }

    /// Stops the server (when benchy launched it) and records how it ended.
    async fn stop_server(&self, server: &mut RunningServer, record: &mut RunRecord) {
        let died = server.try_exited();
        server.stop().await;
        if let Some(s) = record.server.as_mut() {
            s.ended = died.or_else(|| s.launched.then(|| "stopped by benchy".to_owned()));
            s.stopped_at = s.launched.then(now);
        }
    }

    /// What the backend reads from its processes' outputs; its failure is recorded, not fatal,
    /// so the record is still written.
    fn collect(&self, report: &JobsReport, record: &mut RunRecord) -> Collected {
        let request = CollectRequest {
            run: self.view.clone(),
            options: self.model.options.clone(),
            outcomes: report.outcomes.clone(),
        };
        let collected = self
            .model
            .backend
            .backend
            .collect(&request)
            .unwrap_or_else(|error| {
                record
                    .failures
                    .push(format!("reading the results: {error}"));
                Collected::default()
            });
        notes::print(&collected.diagnostics);
        record.notes.extend(collected.diagnostics.iter().cloned());
        collected
    }
}

/// Every job that did not succeed fails the tasks it covered.
/// The tasks of the jobs an interrupt stopped, or never let start.
fn interrupted_tasks(report: &JobsReport) -> Vec<String> {
    if !matches!(report.ended_early, Some(EndedEarly::Interrupted(_))) {
        return Vec::new();
    }
    let cut_short = report
        .outcomes
        .iter()
        .filter(|o| runner::jobs::cut_short(o));
    cut_short.flat_map(|o| o.tasks.iter().cloned()).collect()
}

/// Every job that did not succeed fails its tasks; those an interrupt cut short did not fail:
/// they were interrupted.
fn note_failed_jobs(report: &JobsReport, record: &mut RunRecord) {
    let cut_short = interrupted_tasks(report);
    let failed =
        |o: &&ProcessOutcome| !o.succeeded() && !o.tasks.iter().all(|t| cut_short.contains(t));
    for outcome in report.outcomes.iter().filter(failed) {
        record.fail_tasks(
            &outcome.tasks,
            format!("{}: {}", outcome.name, outcome.status),
        );
    }
}

/// The error a run that ended early ends with (the record keeps it among the failures).
fn ended_early(ended: Option<EndedEarly>, server: &RunningServer) -> Result<()> {
    match ended {
        Some(EndedEarly::Interrupted(signal)) => Err(Interrupted(signal).into()),
        Some(EndedEarly::ServerExited(status)) => {
            let tail = server
                .log
                .as_deref()
                .map(runner::log_tail::format_tail)
                .unwrap_or_default();
            Err(anyhow::anyhow!(
                "the server exited during the run ({status})\n{tail}"
            ))
        }
        Some(EndedEarly::JobFailed(_)) | None => Ok(()),
    }
}

/// `new` (in the form of `results.json`) after the results of the tasks `done` before (those
/// `--task` left out included), in the run config's order.
pub(super) fn with_done(model: &Model, done: &[Completion], new: &Json) -> Json {
    let mut merged = Map::new();
    for task in &model.all_tasks {
        let done = done.iter().find(|c| c.task == task.name);
        if let Some(value) = new.get(&task.name).or(done.map(|c| &c.results)) {
            merged.insert(task.name.clone(), value.clone());
        }
    }
    Json::Object(repeats::combine(merged, &model.repeated))
}
