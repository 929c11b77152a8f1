//! `benchy eval`: the main job. Check everything, start the server, run the tasks with every
//! request carrying the resolved parameters, stop the server, verify what lm-eval recorded as
//! used against what was sent, and keep the results with a record of exactly what ran.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};
use benchy_core::backend::{CollectRequest, Collected, RunOptions, ServerInfo};
use benchy_core::process::PORT_PLACEHOLDER;
use benchy_core::{Backend, BackendError, PlanRequest, ProcessSpec, Registry, RunView};

use crate::cli::EvalArgs;
use crate::failure::{BadInput, bad_input};
use crate::outputs::{self, Check, ProcessRecord, RunFolder, RunRecord, ServerRecord, Status};
use crate::planning::{ServerPlan, plan, run_view, served_names, server_plan};
use crate::resolution::{Resolution, resolve};
use crate::runner::jobs::{EndedEarly, JobPolicy, JobsReport};
use crate::runner::server::{RunningServer, server_root};
use crate::runner::{self, Interrupted, Runner};

pub fn run(args: &EvalArgs, registry: &Registry) -> Result<ExitCode> {
    // Sources may block on the network: resolve before the runtime starts.
    let resolution = resolve(&args.resolve, registry)?;
    for diagnostic in &resolution.diagnostics {
        eprintln!("{diagnostic}");
    }
    let view = run_view(&resolution, &selected_tasks(&resolution, &args.tasks)?);
    if view.tasks.is_empty() {
        return Err(bad_input(format!(
            "{}: no tasks to run; list them under `tasks:`",
            resolution.config.path.display()
        )));
    }
    if let Some(limit) = args.limit
        && !(limit > 0.0 && limit.is_finite())
    {
        return Err(bad_input(format!(
            "--limit {limit}: must be a count or a fraction above 0"
        )));
    }
    let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
    check_run_id(&run_id)?;
    let run_dir = std::path::absolute(args.output_dir.join(&run_id).join(&view.model.short_name))?;
    if !args.dry_run && run_dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(bad_input(format!(
            "{} already holds a run; choose another --run-id or --output-dir",
            run_dir.display()
        )));
    }
    let options = RunOptions {
        run_dir: run_dir.clone(),
        limit: args.limit,
        log_samples: args.log_samples,
    };
    let backend = registry
        .backend(&args.backend)
        .map_err(|e| bad_input(e.to_string()))?;

    let server = match &args.server.server_url {
        Some(_) => None,
        None => Some(server_plan(registry, &view, &options)?),
    };
    let template = match (&server, &args.server.server_url) {
        (Some(server), _) => server
            .template()
            .cloned()
            .context("the server plan has no address")?,
        (None, Some(url)) => ServerInfo {
            base_url: format!("{}/v1", server_root(url)),
            model: view.model.short_name.clone(),
            max_model_len: None,
        },
        (None, None) => unreachable!("a server is planned or given"),
    };
    // Planned now, against the server as it will be, so every check runs before anything starts.
    let job_plan = plan(
        backend.as_ref(),
        &PlanRequest {
            run: view.clone(),
            server: Some(template),
            options: options.clone(),
        },
    )?;
    for diagnostic in server
        .iter()
        .flat_map(|s| &s.plan.diagnostics)
        .chain(&job_plan.diagnostics)
    {
        eprintln!("{diagnostic}");
    }
    if args.dry_run {
        print!(
            "{}",
            dry_run(
                &resolution,
                &run_dir,
                server.as_ref(),
                &job_plan.checks,
                &job_plan.processes
            )
        );
        return Ok(ExitCode::SUCCESS);
    }

    let mut record = RunRecord {
        benchy_version: env!("CARGO_PKG_VERSION"),
        run_id,
        model: view.model.name.clone(),
        config: resolution.config.path.clone(),
        backend: args.backend.clone(),
        status: Status::Running,
        started_at: now(),
        finished_at: None,
        failures: Vec::new(),
        failed_tasks: Vec::new(),
        sources: resolution
            .source_layers
            .iter()
            .map(outputs::layer_record)
            .collect(),
        server: None,
        versions: lm_eval_versions(&job_plan.record),
        checks: Vec::new(),
        processes: Vec::new(),
        backends: [(args.backend.clone(), job_plan.record.clone())]
            .into_iter()
            .chain(server.iter().map(|s| {
                (
                    crate::planning::SERVER_BACKEND.to_owned(),
                    s.plan.record.clone(),
                )
            }))
            .collect(),
        verification: Vec::new(),
        notes: resolution.diagnostics.clone(),
    };
    let run = Run {
        args,
        resolution: &resolution,
        view: &view,
        options,
        backend: backend.as_ref(),
        server: server.as_ref(),
        checks: &job_plan.checks,
        folder: RunFolder { dir: run_dir },
    };
    runner::runtime()?.block_on(run.execute(&mut record))
}

/// Everything a run needs once it has been planned.
struct Run<'a> {
    args: &'a EvalArgs,
    resolution: &'a Resolution,
    view: &'a RunView,
    options: RunOptions,
    backend: &'a dyn Backend,
    server: Option<&'a ServerPlan>,
    checks: &'a [ProcessSpec],
    folder: RunFolder,
}

impl Run<'_> {
    async fn execute(&self, record: &mut RunRecord) -> Result<ExitCode> {
        let runner = Runner::new()?;
        self.check(&runner, record).await?;

        self.folder.write_inputs(self.resolution, self.view)?;
        self.folder.write_record(record)?;
        let mut collected = None;
        let outcome = self.serve_and_run(&runner, record, &mut collected).await;
        record.finished_at = Some(now());
        record.status = match &outcome {
            Ok(()) if record.failures.is_empty() => Status::Ok,
            Err(err) if err.is::<Interrupted>() => Status::Interrupted,
            _ => Status::Failed,
        };
        if let Err(err) = &outcome {
            record.failures.push(format!("{err:#}"));
        }
        if let Some(collected) = &collected {
            let table =
                self.folder
                    .write_results(&self.view.model.short_name, record, collected)?;
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

    /// Runs the backend's checks (lm-eval knows every task, the executable runs) before anything
    /// starts; a failure is bad input and its output is shown.
    async fn check(&self, runner: &Runner, record: &mut RunRecord) -> Result<()> {
        if self.checks.is_empty() {
            return Ok(());
        }
        let logs = tempfile::tempdir()?;
        let policy = JobPolicy {
            parallel: 1,
            stop_on_failure: true,
        };
        let report = runner
            .run_jobs(self.checks, policy, logs.path(), None)
            .await?;
        record.checks = self
            .checks
            .iter()
            .zip(&report.outcomes)
            .map(|(spec, outcome)| ProcessRecord::planned(spec, &self.folder.dir).ended(outcome))
            .collect();
        if let Some(EndedEarly::Interrupted(signal)) = report.ended_early {
            return Err(Interrupted(signal).into());
        }
        for (outcome, spec) in report.outcomes.iter().zip(self.checks) {
            if outcome.started && !outcome.succeeded() {
                let output = std::fs::read_to_string(&outcome.log).unwrap_or_default();
                return Err(BadInput(format!(
                    "{} failed ({}) for task(s) {}:\n  $ {}\n{}",
                    spec.name,
                    outcome.status,
                    spec.tasks.join(", "),
                    spec.display_command(),
                    indent(output.trim_end())
                ))
                .into());
            }
            if !outcome.started {
                return Err(bad_input(format!(
                    "{}: cannot run {}: {}",
                    spec.name, spec.program, outcome.status
                )));
            }
        }
        // The checks passed: their logs join the run's folder, which exists from now on.
        std::fs::create_dir_all(&self.folder.dir)?;
        for outcome in &report.outcomes {
            if let Some(name) = outcome.log.file_name() {
                std::fs::copy(&outcome.log, self.folder.dir.join(name))?;
            }
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
        let jobs = plan(
            self.backend,
            &PlanRequest {
                run: self.view.clone(),
                server: Some(server.info.clone()),
                options: self.options.clone(),
            },
        );
        let jobs = match jobs {
            Ok(plan) => plan.processes,
            Err(err) => {
                server.stop().await;
                return Err(err);
            }
        };
        record.processes = jobs
            .iter()
            .map(|spec| ProcessRecord::planned(spec, &self.folder.dir))
            .collect();
        self.folder.write_record(record)?;

        let policy = JobPolicy {
            parallel: usize::from(self.args.jobs),
            stop_on_failure: false,
        };
        let report = runner
            .run_jobs(&jobs, policy, &self.folder.dir, Some(&mut server))
            .await;
        let server_ended = server.try_exited();
        server.stop().await;
        if let Some(s) = record.server.as_mut() {
            s.ended = server_ended
                .clone()
                .or_else(|| s.launched.then(|| "stopped by benchy".to_owned()));
            s.stopped_at = s.launched.then(now);
        }
        let report = report?;
        self.note_outcomes(&jobs, &report, record);
        *collected = Some(self.collect(&report, record));
        self.verify(record, collected.as_ref().expect("just collected"));
        match report.ended_early {
            Some(EndedEarly::Interrupted(signal)) => Err(Interrupted(signal).into()),
            Some(EndedEarly::ServerExited(status)) => {
                let tail = server
                    .log
                    .as_deref()
                    .map(runner::log_tail::format_tail)
                    .unwrap_or_default();
                // `execute` records the error, tail and all, among the run's failures
                Err(anyhow::anyhow!(
                    "the server exited during the run ({status})\n{tail}"
                ))
            }
            Some(EndedEarly::JobFailed(_)) | None => Ok(()),
        }
    }

    async fn start_server(&self, runner: &Runner, record: &mut RunRecord) -> Result<RunningServer> {
        let server = match (self.server, &self.args.server.server_url) {
            (Some(plan), _) => {
                record.server = Some(ServerRecord {
                    launched: true,
                    command: Some(plan.spec.display_command()),
                    log: Some(self.folder.path(&plan.spec.log_file)),
                    ..ServerRecord::default()
                });
                self.folder.write_record(record)?;
                runner
                    .start_server(&plan.spec, plan.template(), &self.folder.dir)
                    .await
            }
            (None, Some(url)) => {
                record.server = Some(ServerRecord {
                    url: Some(url.clone()),
                    ..ServerRecord::default()
                });
                let names = served_names(&self.resolution.config.model);
                runner.attach_server(url, &names).await
            }
            (None, None) => unreachable!("a server is planned or given"),
        };
        let server = server.inspect_err(|e| {
            if let Some(s) = record.server.as_mut() {
                s.ended = Some(format!("did not become ready: {e:#}"));
            }
        })?;
        if let Some(s) = record.server.as_mut() {
            s.started_at = Some(outputs::stamp(server.started_at));
            s.ready_at = Some(outputs::stamp(server.ready_at));
            s.url = Some(server.info.base_url.clone());
            s.model = Some(server.info.model.clone());
            s.max_model_len = server.info.max_model_len;
            s.version.clone_from(&server.version);
        }
        if let Some(version) = &server.version {
            record
                .versions
                .insert("vllm".to_owned(), version.as_str().into());
        }
        eprintln!("Serving {} at {}", server.info.model, server.info.base_url);
        Ok(server)
    }

    fn note_outcomes(&self, jobs: &[ProcessSpec], report: &JobsReport, record: &mut RunRecord) {
        record.processes = jobs
            .iter()
            .zip(&report.outcomes)
            .map(|(spec, outcome)| ProcessRecord::planned(spec, &self.folder.dir).ended(outcome))
            .collect();
        for outcome in &report.outcomes {
            if !outcome.succeeded() {
                record
                    .failures
                    .push(format!("{}: {}", outcome.name, outcome.status));
                for task in &outcome.tasks {
                    if !record.failed_tasks.contains(task) {
                        record.failed_tasks.push(task.clone());
                    }
                }
            }
        }
    }

    /// What the backend reads from its processes' outputs; its failure is recorded, not fatal,
    /// so the record is still written.
    fn collect(&self, report: &JobsReport, record: &mut RunRecord) -> Collected {
        let request = CollectRequest {
            run: self.view.clone(),
            outcomes: report
                .outcomes
                .iter()
                .map(|o| o.to_process_outcome())
                .collect(),
        };
        match self.backend.collect(&request) {
            Ok(collected) => collected,
            Err(BackendError::Input(message) | BackendError::Failed(message)) => {
                record
                    .failures
                    .push(format!("reading the results: {message}"));
                Collected::default()
            }
        }
    }

    /// Compares what lm-eval recorded with what was sent, and marks tasks without results.
    fn verify(&self, record: &mut RunRecord, collected: &Collected) {
        for diagnostic in &collected.diagnostics {
            eprintln!("{diagnostic}");
        }
        record.notes.extend(collected.diagnostics.iter().cloned());
        record.verification = outputs::verify(collected);
        for v in record.verification.iter().filter(|v| v.failed()) {
            record.failures.push(format!(
                "{}: what lm-eval recorded differs from what was sent: {}",
                v.name,
                v.differences.join("; ")
            ));
            if !record.failed_tasks.contains(&v.task) {
                record.failed_tasks.push(v.task.clone());
            }
        }
        for task in &self.view.tasks {
            let has_results = collected.results.iter().any(|r| r.task == task.name);
            if !has_results && !record.failed_tasks.contains(&task.name) {
                record.failures.push(format!("{}: no results", task.name));
                record.failed_tasks.push(task.name.clone());
            }
        }
        for v in &record.verification {
            match v.status {
                Check::Verified => {
                    eprintln!("{}: lm-eval recorded exactly the parameters sent", v.name);
                }
                Check::NoSamplingParameters => eprintln!(
                    "{}: scored by log-likelihood; no sampling parameters were sent",
                    v.name
                ),
                Check::Differs | Check::NotRecorded => {
                    eprintln!("{}: {}", v.name, v.differences.join("; "));
                }
            }
        }
    }
}

/// The lm-eval versions the plan found beside its executables (one, unless tasks bring their
/// own `lm_eval_path`).
fn lm_eval_versions(
    record: &serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<String, serde_json::Value> {
    let versions: Vec<serde_json::Value> = record
        .get("lm_eval")
        .and_then(|e| e.as_object())
        .into_iter()
        .flat_map(|executables| executables.values())
        .filter_map(|e| e.get("version").cloned())
        .filter(|v| !v.is_null())
        .collect();
    match versions.as_slice() {
        [] => BTreeMap::new(),
        [one] => BTreeMap::from([("lm_eval".to_owned(), one.clone())]),
        many => BTreeMap::from([("lm_eval".to_owned(), serde_json::Value::from(many.to_vec()))]),
    }
}

/// `--task` names must be tasks of the run config.
fn selected_tasks(resolution: &Resolution, names: &[String]) -> Result<Vec<String>> {
    for name in names {
        if !resolution.tasks.iter().any(|t| &t.name == name) {
            let known: Vec<&str> = resolution.tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(bad_input(format!(
                "--task {name}: not a task of {}; its tasks: {}",
                resolution.config.path.display(),
                known.join(", ")
            )));
        }
    }
    Ok(names.to_vec())
}

fn default_run_id() -> String {
    jiff::ZonedDateTime::now()
        .strftime("%Y%m%d_%H%M%S")
        .to_string()
}

fn now() -> String {
    outputs::stamp(std::time::SystemTime::now())
}

/// A run id names one folder: no separators, no `..`.
fn check_run_id(id: &str) -> Result<()> {
    let valid = !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\\', '\0']);
    if valid {
        Ok(())
    } else {
        Err(bad_input(format!(
            "--run-id {id:?}: must be a single folder name"
        )))
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--dry-run`: the resolved parameters with their sources, and the exact commands.
fn dry_run(
    resolution: &Resolution,
    run_dir: &std::path::Path,
    server: Option<&ServerPlan>,
    checks: &[ProcessSpec],
    jobs: &[ProcessSpec],
) -> String {
    let mut out = super::explain::explain_table(resolution);
    out += "\nCommands (nothing was started):\n";
    if let Some(server) = server {
        let port = server
            .spec
            .listen
            .as_ref()
            .and_then(|l| l.preferred_port)
            .map_or_else(
                || "a free port".to_owned(),
                |p| format!("{p} when free, else a free port"),
            );
        out += &format!(
            "\n  server ({PORT_PLACEHOLDER}: {port}):\n    $ {}\n",
            server.spec.display_command()
        );
    }
    for check in checks {
        out += &format!(
            "\n  check before starting ({}):\n    $ {}\n",
            check.name,
            check.display_command()
        );
    }
    for job in jobs {
        let cwd = job
            .cwd
            .as_ref()
            .map(|c| format!(" in {}", c.display()))
            .unwrap_or_default();
        out += &format!(
            "\n  {} (task(s) {}){cwd}:\n    $ {}\n",
            job.name,
            job.tasks.join(", "),
            job.display_command()
        );
    }
    out += &format!("\nOutputs would go to {}\n", run_dir.display());
    out
}
