//! The suite, run: every model's folder taken, the checks run once, then the models one after
//! another, each with its own server stopped before the next starts (or side by side on a
//! node's devices, see `packing.rs`). A model that fails does not stop the next; Ctrl-C stops
//! the running ones and starts no other. With more than one
//! model, the suite's record (`suite.json`, `summary.md`) is kept beside the models' folders
//! and its table printed at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use anyhow::Result;
use benchy_core::backend::TaskView;
use serde_json::Value as Json;

use super::Suite;
use super::checks::Checked;
use super::devices::Pool;
use super::execute::{Attempt, with_done};
use super::model::{Decisions, Model};
use crate::cache::Cache;
use crate::results::leaderboard::primary_metric;
use crate::runner::{Runner, Stage};
use crate::store::completion::{Completion, Decision};
use crate::store::layout::SUITE_RECORD;
use crate::store::read::evaluated_metrics;
use crate::store::run_lock::RunLock;
use crate::store::run_record::{RunRecord, Status, attempts_before};
use crate::store::schema::{ModelStatus, TaskState};
use crate::store::suite_record::{Cell, ModelEntry, SuiteRecord};
use crate::util::stdio::{errln, outln};
use crate::util::time::now;

/// What became of one model.
pub(super) struct ModelOutcome {
    pub(super) status: ModelStatus,
    /// Each run task: done, failed, interrupted or not run.
    tasks: BTreeMap<String, TaskState>,
    /// The model's results, in the form of `results.json`.
    results: Json,
    /// Why it did not end well.
    error: Option<anyhow::Error>,
}

impl Suite<'_> {
    pub(super) async fn execute(mut self) -> Result<ExitCode> {
        let packing = self.packing()?;
        let runner = Runner::new()?;
        let (cache, notes) = Cache::open(&self.cache_config);
        crate::util::notes::print(&notes);
        self.cache = cache.map(Arc::new);
        // Held for the whole suite: a second run on any of these folders is refused at once.
        let _locks = self
            .models
            .iter()
            .map(|m| RunLock::acquire(&m.folder.dir))
            .collect::<Result<Vec<_>, _>>()?;
        // Read once the folders are held, so no other run changes them before their models run.
        let decisions = self.decisions();
        let checked = self.run_checks(&runner, &decisions).await?;
        if let [model] = self.models.as_slice() {
            let decisions = decisions.into_iter().next().unwrap_or_default();
            let need = model.server.device_need();
            let devices = packing.and_then(|d| Pool::new(&d).take(need?));
            let outcome = self
                .run_model(model, decisions, &runner, &checked, devices)
                .await;
            return outcome.error.map_or(Ok(ExitCode::SUCCESS), Err);
        }
        let mut record = self.new_record();
        record.write(&self.dir)?;
        let interrupted = match packing {
            Some(devices) => {
                self.run_packed(&devices, &runner, &checked, decisions, &mut record)
                    .await?
            }
            None => {
                self.run_in_turn(&runner, &checked, decisions, &mut record)
                    .await?
            }
        };
        self.run_ended(record, &runner, interrupted)
    }

    /// Every model in turn, with the suite's record kept as it goes; the error of an interrupt,
    /// which starts no other model.
    async fn run_in_turn(
        &self,
        runner: &Runner,
        checked: &Checked,
        decisions: Vec<Decisions<'_>>,
        record: &mut SuiteRecord,
    ) -> Result<Option<anyhow::Error>> {
        let since = Instant::now();
        for (i, (model, decisions)) in self.models.iter().zip(decisions).enumerate() {
            self.note_start(record, i, None)?;
            let done = decisions.iter().filter(|(_, d)| d.is_done()).count();
            runner.set_stage(Some(self.stage(i, model, done, since)));
            let outcome = self
                .run_model(model, decisions, runner, checked, None)
                .await;
            runner.set_stage(None);
            if let Some(interrupt) = self.note_end(record, i, outcome)? {
                return Ok(Some(interrupt));
            }
        }
        Ok(None)
    }

    /// A model's entry says it runs (on `devices`, when the node's are shared out).
    pub(super) fn note_start(
        &self,
        record: &mut SuiteRecord,
        i: usize,
        devices: Option<&[String]>,
    ) -> Result<()> {
        let entry = &mut record.models[i];
        entry.status = ModelStatus::Running;
        entry.started_at = Some(now());
        entry.devices = devices.map(<[String]>::to_vec).unwrap_or_default();
        record.write(&self.dir).map(drop)
    }

    /// A model's entry says what became of it; the error of an interrupt, when it was one.
    pub(super) fn note_end(
        &self,
        record: &mut SuiteRecord,
        i: usize,
        mut outcome: ModelOutcome,
    ) -> Result<Option<anyhow::Error>> {
        let interrupt = (outcome.status == ModelStatus::Interrupted).then(|| {
            let error = outcome.error.take();
            error.unwrap_or_else(|| anyhow::anyhow!("interrupted"))
        });
        note_outcome(&mut record.models[i], &self.models[i], outcome);
        record.write(&self.dir)?;
        Ok(interrupt)
    }

    /// The suite's end: its record's status, and the error saying which models did not finish.
    fn run_ended(
        &self,
        mut record: SuiteRecord,
        runner: &Runner,
        interrupted: Option<anyhow::Error>,
    ) -> Result<ExitCode> {
        if let Some(error) = interrupted {
            self.end(&mut record, runner, Status::Interrupted)?;
            return Err(error);
        }
        let failed: Vec<&str> = record
            .models
            .iter()
            .filter(|m| m.status != ModelStatus::Ok)
            .map(ModelEntry::short_name)
            .collect();
        if failed.is_empty() {
            self.end(&mut record, runner, Status::Ok)?;
            return Ok(ExitCode::SUCCESS);
        }
        let message = format!(
            "{} of {} models did not finish: {}",
            failed.len(),
            record.models.len(),
            failed.join(", ")
        );
        self.end(&mut record, runner, Status::Failed)?;
        Err(anyhow::anyhow!(message))
    }

    /// Ends the suite's record, writes it and prints its table.
    fn end(&self, record: &mut SuiteRecord, runner: &Runner, status: Status) -> Result<()> {
        for entry in &mut record.models {
            if entry.status == ModelStatus::Pending {
                entry.status = ModelStatus::NotRun;
            }
        }
        record.finish(status);
        let merged = record.write(&self.dir)?;
        outln!("{}", merged.table());
        runner.say(&format!(
            "the suite's record: {}",
            self.dir.join(SUITE_RECORD).display()
        ));
        Ok(())
    }

    fn new_record(&self) -> SuiteRecord {
        SuiteRecord {
            run_id: self.run_id.clone(),
            status: Status::Running,
            started_at: now(),
            finished_at: None,
            models: self
                .models
                .iter()
                .map(|m| ModelEntry {
                    model: m.view.model.name.clone(),
                    config: m.resolution.config.path.clone(),
                    folder: PathBuf::from(m.short_name()),
                    status: ModelStatus::Pending,
                    started_at: None,
                    finished_at: None,
                    failures: Vec::new(),
                    tasks: m
                        .view
                        .tasks
                        .iter()
                        .map(|t| (t.name.clone(), TaskState::Pending))
                        .collect(),
                    values: BTreeMap::new(),
                    devices: Vec::new(),
                })
                .collect(),
        }
    }

    fn stage(&self, i: usize, model: &Model, done: usize, since: Instant) -> Stage {
        Stage {
            model: i + 1,
            models: self.models.len(),
            name: model.short_name().to_owned(),
            tasks_done: done,
            tasks: model.view.tasks.len(),
            since,
        }
    }

    /// One model: its tasks done before are skipped (saying so), the others run in one
    /// attempt, with what an earlier attempt left moved aside first: the folders of the tasks
    /// that run again and the model's own files, never another task's folder (a task done
    /// before, or one `--task` left out, stays as it is).
    pub(super) async fn run_model(
        &self,
        model: &Model,
        decisions: Decisions<'_>,
        runner: &Runner,
        checked: &Checked,
        devices: Option<Vec<String>>,
    ) -> ModelOutcome {
        let (mut done, mut to_run) = (Vec::new(), Vec::new());
        for (task, decision) in decisions {
            say_decision(runner, task, &decision);
            match decision {
                Decision::Done(completion) => done.push(*completion),
                _ => to_run.push(task.clone()),
            }
        }
        done.extend(model.kept());
        let runs_again = |t: &&TaskView| to_run.iter().any(|r| r.name == t.name);
        let keep: Vec<&str> = model
            .all_tasks
            .iter()
            .filter(|t| !runs_again(t))
            .map(|t| t.output_folder.as_str())
            .collect();
        if to_run.is_empty() {
            runner.say(&format!(
                "{}: every task is done; no server started",
                model.short_name()
            ));
            return ModelOutcome::all_done(model, &done);
        }
        let attempt = Attempt {
            suite: self,
            model,
            view: benchy_core::RunView {
                tasks: to_run,
                ..model.view.clone()
            },
            done,
            runner,
            devices,
        };
        let previous = match model.folder.set_aside(&keep) {
            Ok(previous) => previous,
            Err(err) => return ModelOutcome::failed(model, err),
        };
        let mut record = attempt.new_record(attempts_before(previous));
        let (results, ended) = attempt.execute(&mut record, checked).await;
        ModelOutcome::of(model, &attempt, &record, results, ended)
    }
}

/// `task: done, skipped`, or why it runs again.
fn say_decision(runner: &Runner, task: &TaskView, decision: &Decision) {
    let why = match decision {
        Decision::Done(c) => format!("done, skipped (finished {})", c.finished_at),
        Decision::Changed(changes) => {
            format!(
                "changed since it ran, running again: {}",
                changes.join("; ")
            )
        }
        Decision::Rerun => "done before, running again (--rerun)".to_owned(),
        Decision::Unreadable(why) => {
            format!("its completion record is unusable, running again: {why}")
        }
        Decision::Run => return,
    };
    runner.say(&format!("{}: {why}", task.name));
}

impl ModelOutcome {
    fn all_done(model: &Model, done: &[Completion]) -> ModelOutcome {
        ModelOutcome {
            status: ModelStatus::Ok,
            tasks: model.states(|_| TaskState::Done),
            results: with_done(model, done, &Json::Null),
            error: None,
        }
    }

    fn failed(model: &Model, error: anyhow::Error) -> ModelOutcome {
        ModelOutcome {
            status: ModelStatus::Failed,
            tasks: model.states(|_| TaskState::NotRun),
            results: Json::Null,
            error: Some(error),
        }
    }

    fn of(
        model: &Model,
        attempt: &Attempt,
        record: &RunRecord,
        results: Json,
        ended: Result<()>,
    ) -> ModelOutcome {
        let interrupted = record.status == Status::Interrupted;
        let state = |task: &TaskView| {
            let state = if attempt.done.iter().any(|c| c.task == task.name) {
                TaskState::Done
            } else if record.failed_tasks.contains(&task.name) {
                TaskState::Failed
            } else if interrupted {
                TaskState::Interrupted
            } else if record.status == Status::Ok || results.get(&task.name).is_some() {
                TaskState::Done
            } else {
                TaskState::NotRun
            };
            (task.name.clone(), state)
        };
        ModelOutcome {
            status: match record.status {
                Status::Ok => ModelStatus::Ok,
                Status::Interrupted => ModelStatus::Interrupted,
                Status::Failed | Status::Running => ModelStatus::Failed,
            },
            tasks: model.states(|t| state(t).1),
            results,
            error: ended.err(),
        }
    }
}

/// Puts what became of a model into its suite entry.
fn note_outcome(entry: &mut ModelEntry, model: &Model, outcome: ModelOutcome) {
    entry.status = outcome.status;
    entry.finished_at = Some(now());
    if let Some(error) = &outcome.error {
        errln!("{}: {error:#}", model.short_name());
        entry.failures.push(format!("{error:#}"));
    }
    entry.values = model
        .view
        .tasks
        .iter()
        .filter_map(|task| Some((task.name.clone(), cell(model, task, &outcome.results)?)))
        .collect();
    entry.tasks = outcome.tasks;
}

/// The task's primary metric, chosen as the leaderboard chooses it (the run config's
/// `output.primary_metric`, else the first metric with a number) from the evaluated task that
/// stands for the run task.
fn cell(model: &Model, task: &TaskView, results: &Json) -> Option<Cell> {
    let evaluated = evaluated_metrics(results.get(&task.name)?);
    let (_, metrics) = evaluated
        .iter()
        .find(|(name, _)| *name == task.task_name)
        .or_else(|| evaluated.first())?;
    let wanted = model
        .resolution
        .config
        .tasks
        .iter()
        .find(|t| t.name == task.name)
        .and_then(|t| t.primary_metric.as_deref());
    let (metric, value) = primary_metric(metrics, wanted)?;
    Some(Cell {
        metric: metric.clone(),
        value: *value,
    })
}
