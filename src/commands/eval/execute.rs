//! The run itself, once everything is planned: the checks, the server, the jobs, the results
//! and their verification, with `run.json` written as it goes and nothing left running.

use std::process::ExitCode;

use anyhow::Result;
use benchy_core::ProcessSpec;
use benchy_core::backend::{CollectRequest, Collected, ProcessOutcome};

use super::{Eval, run_id_of};
use crate::failure::{BadInput, bad_input};
use crate::notes;
use crate::planning::{plan_jobs, served_names};
use crate::run_record::{AuditRecord, LayerRecord, RunRecord, ServerRecord, Status, now};
use crate::runner::jobs::{EndedEarly, JobPolicy, JobsReport};
use crate::runner::server::RunningServer;
use crate::runner::{self, Interrupted, Runner};
use crate::secrets;
use crate::verification::verify_into;
use crate::wire_audit::{AuditMode, JobAudits, WireAudit};

impl Eval<'_> {
    /// The record as the run starts.
    pub(super) fn new_record(&self) -> RunRecord {
        let mut backends = std::collections::BTreeMap::new();
        backends.insert(self.backend_name.clone(), self.job_plan.record.clone());
        let mut versions = self.job_plan.versions.clone();
        if let Some(server) = &self.server {
            backends.insert(server.backend.clone(), server.plan.record.clone());
            versions.extend(server.plan.versions.clone());
        }
        RunRecord {
            benchy_version: env!("CARGO_PKG_VERSION"),
            run_id: run_id_of(&self.folder.dir),
            model: self.view.model.name.clone(),
            config: self.resolution.config.path.clone(),
            backend: self.backend_name.clone(),
            options: self.options.clone(),
            status: Status::Running,
            started_at: now(),
            finished_at: None,
            failures: Vec::new(),
            failed_tasks: Vec::new(),
            sources: self
                .resolution
                .source_layers
                .iter()
                .map(LayerRecord::from)
                .collect(),
            server: None,
            checks: Vec::new(),
            processes: Vec::new(),
            versions,
            backends,
            verification: Vec::new(),
            audit: None,
            notes: self.resolution.diagnostics.clone(),
        }
    }

    pub(super) async fn execute(&self, record: &mut RunRecord) -> Result<ExitCode> {
        let runner = Runner::new()?;
        self.check(&runner, record).await?;
        self.folder.write_inputs(&self.resolution, &self.view)?;
        self.folder.write_record(record)?;
        let mut collected = None;
        let outcome = self.serve_and_run(&runner, record, &mut collected).await;
        self.finish(record, outcome, collected.as_ref())
    }

    /// Ends the record and writes the results; the exit code, or the error that ended the run.
    fn finish(
        &self,
        record: &mut RunRecord,
        outcome: Result<()>,
        collected: Option<&Collected>,
    ) -> Result<ExitCode> {
        record.finished_at = Some(now());
        record.status = match &outcome {
            Ok(()) if record.failures.is_empty() => Status::Ok,
            Err(err) if err.is::<Interrupted>() => Status::Interrupted,
            _ => Status::Failed,
        };
        if let Err(err) = &outcome {
            record.failures.push(format!("{err:#}"));
        }
        if let Some(collected) = collected {
            let model = &self.view.model.short_name;
            let table = self.folder.write_results(model, record, collected)?;
            if !collected.results.is_empty() {
                println!("{table}");
            }
        }
        self.folder.write_record(record)?;
        let kept = format!("outputs kept in {}", self.folder.dir.display());
        match outcome {
            Ok(()) if record.status == Status::Ok => {
                eprintln!("{kept}");
                Ok(ExitCode::SUCCESS)
            }
            Ok(()) => Err(anyhow::anyhow!(
                "the run failed:\n  {}\n{kept}",
                record.failures.join("\n  ")
            )),
            Err(err) => Err(err.context(kept)),
        }
    }

    /// Runs the backend's checks (the evaluator knows every task, its executable runs) before
    /// anything starts; a failure is bad input and its output is shown.
    async fn check(&self, runner: &Runner, record: &mut RunRecord) -> Result<()> {
        let logs = tempfile::tempdir()?;
        let mut checks = match &self.server {
            Some(server) => server.environment_checks(&self.envs, logs.path())?,
            None => Vec::new(),
        };
        checks.extend(self.job_plan.checks.iter().cloned());
        if checks.is_empty() {
            return Ok(());
        }
        let checks = &checks;
        let policy = JobPolicy {
            parallel: 1,
            stop_on_failure: true,
        };
        let report = runner.run_jobs(checks, policy, logs.path(), None).await?;
        if let Some(EndedEarly::Interrupted(signal)) = report.ended_early {
            return Err(Interrupted(signal).into());
        }
        for (outcome, spec) in report.outcomes.iter().zip(checks) {
            check_passed(outcome, spec)?;
        }
        // The checks passed: their logs join the run's folder, which exists from now on.
        record.checks = report.outcomes;
        for outcome in &mut record.checks {
            self.folder.keep_log(&outcome.log_file)?;
            outcome.log_file = self
                .folder
                .dir
                .join(outcome.log_file.file_name().unwrap_or_default());
        }
        Ok(())
    }

    /// Starts (or attaches to) the server, runs the jobs, stops the server, collects and
    /// verifies. Failures of tasks are recorded in `record` (the run goes on); errors that end
    /// the run early are returned after the server is stopped and partial results are kept.
    async fn serve_and_run(
        &self,
        runner: &Runner,
        record: &mut RunRecord,
        collected: &mut Option<Collected>,
    ) -> Result<()> {
        let mut server = self.start_server(runner, record).await?;
        let started = self.start_jobs_audit(&server).await;
        let (jobs, audits) = match started {
            Ok(started) => started,
            Err(err) => {
                server.stop().await;
                return Err(err);
            }
        };
        record.processes = jobs
            .iter()
            .map(|spec| runner::jobs::planned(spec, &self.folder.dir))
            .collect();
        self.folder.write_record(record)?;
        let policy = JobPolicy {
            parallel: usize::from(self.jobs),
            stop_on_failure: false,
        };
        let report = runner
            .run_jobs(&jobs, policy, &self.folder.dir, Some(&mut server))
            .await;
        if let Some(audits) = audits {
            self.keep_audit(audits.finish(self.args.audit).await, record)?;
        }
        self.stop_server(&mut server, record).await;
        let report = report?;
        note_failed_jobs(&report, record);
        record.processes = report.outcomes.clone();
        *collected = Some(self.collect(&report, record));
        let lines = verify_into(
            record,
            collected.as_ref().expect("just collected"),
            &self
                .view
                .tasks
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>(),
            &self.backend_name,
        );
        for line in lines {
            eprintln!("{}", secrets::mask(&line));
        }
        ended_early(report.ended_early, &server)
    }

    /// The jobs as planned against the ready server, each routed through its auditing proxy
    /// (unless `--audit off`).
    async fn start_jobs_audit(
        &self,
        server: &RunningServer,
    ) -> Result<(Vec<ProcessSpec>, Option<JobAudits>)> {
        let mut jobs = plan_jobs(&self.backend, &self.view, &server.info, &self.options)?.processes;
        let audits = match self.args.audit {
            AuditMode::Off => None,
            AuditMode::On | AuditMode::Warn => {
                Some(JobAudits::start(&mut jobs, &server.info.base_url).await?)
            }
        };
        Ok((jobs, audits))
    }

    /// `wire_audit.json`, the verdicts in the record and on stderr, and (with `--audit on`) a
    /// failed task for every job whose requests deviated.
    fn keep_audit(&self, audit: WireAudit, record: &mut RunRecord) -> Result<()> {
        crate::atomic::write_json(&self.folder.path("wire_audit.json"), &audit)?;
        for job in &audit.jobs {
            eprintln!("{}: wire audit: {}", job.name, job.verdict);
            let Some(failure) = job.failure() else {
                continue;
            };
            if audit.mode == AuditMode::Warn {
                eprintln!("warning: {failure}");
                continue;
            }
            record.fail_tasks(&job.tasks, failure);
        }
        record.audit = Some(AuditRecord::from(&audit));
        Ok(())
    }

    async fn start_server(&self, runner: &Runner, record: &mut RunRecord) -> Result<RunningServer> {
        let started = match (&self.server, &self.server_url) {
            (Some(plan), _) => {
                let (spec, envs) = plan.prepare(&self.envs, runner).await?;
                record.note_environments(&plan.backend, &envs);
                record.server = Some(ServerRecord {
                    launched: true,
                    backend: Some(plan.backend.clone()),
                    command: Some(secrets::shown_command(&spec)),
                    log: Some(self.folder.path(&spec.log_file)),
                    ..ServerRecord::default()
                });
                self.folder.write_record(record)?;
                runner
                    .start_server(&spec, plan.template(), &self.folder.dir)
                    .await
            }
            (None, Some(url)) => {
                record.server = Some(ServerRecord {
                    url: Some(url.root().to_owned()),
                    ..ServerRecord::default()
                });
                let names = served_names(&self.resolution.config.model);
                runner.attach_server(url, &names).await
            }
            (None, None) => unreachable!("a server is planned or given"),
        };
        let server_record = record.server.as_mut().expect("set above");
        let server = started.inspect_err(|e| {
            server_record.ended = Some(format!("did not become ready: {e:#}"));
        })?;
        server_record.ready(&server);
        if let (Some(version), Some(plan)) = (&server.version, &self.server) {
            record
                .versions
                .insert(plan.spec.name.clone(), version.clone());
        }
        eprintln!("Serving {} at {}", server.info.model, server.info.base_url);
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
            options: self.options.clone(),
            outcomes: report.outcomes.clone(),
        };
        let collected = self.backend.collect(&request).unwrap_or_else(|error| {
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

/// A check that failed is bad input: its command and output are shown.
fn check_passed(outcome: &ProcessOutcome, spec: &ProcessSpec) -> Result<()> {
    if outcome.started_at.is_none() {
        return Err(bad_input(format!(
            "{}: cannot run {}: {}",
            spec.name, spec.program, outcome.status
        )));
    }
    if outcome.succeeded() {
        return Ok(());
    }
    let output = std::fs::read_to_string(&outcome.log_file).unwrap_or_default();
    let tasks = if spec.tasks.is_empty() {
        String::new()
    } else {
        format!(" for task(s) {}", spec.tasks.join(", "))
    };
    Err(BadInput(format!(
        "{} failed ({}){tasks}:\n  $ {}\n{}",
        spec.name,
        outcome.status,
        outcome.command,
        indent(output.trim_end())
    ))
    .into())
}

/// Every job that did not succeed fails the tasks it covered.
fn note_failed_jobs(report: &JobsReport, record: &mut RunRecord) {
    for outcome in report.outcomes.iter().filter(|o| !o.succeeded()) {
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

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
