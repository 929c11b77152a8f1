//! The suite's checks, run once before anything starts: the package index has what every
//! environment not yet built asks for (each environment once), and the task backend knows every
//! task that will run. The task backend is asked for the checks of one view holding every
//! model's tasks, so an evaluator that takes seconds to start is asked once per suite, not once
//! per model; a check that passed before with nothing it depends on changed is not run again.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use benchy_core::backend::ProcessOutcome;
use benchy_core::backend::TaskView;
use benchy_core::{Diagnostic, ProcessSpec, RunView};
use tempfile::TempDir;

use super::Suite;
use super::model::{Decisions, Model, by_backend};
use crate::ops::check_cache::CheckCache;
use crate::ops::planning::plan_jobs;
use crate::ops::questions::settled;
use crate::runner::jobs::{self, EndedEarly, JobPolicy};
use crate::runner::log_tail::format_tail;
use crate::runner::{Interrupted, Runner};
use crate::util::bad_input::{BadInput, bad_input};
use crate::util::env_vars::benchy_home;
use crate::util::stdio::outln;
use crate::util::table::counted;

/// How many checks run at once: they are short, and independent of each other.
const CHECKS_AT_ONCE: usize = 2;

/// The checks that passed.
pub(super) struct Checked {
    /// Holds their logs until each model's folder has taken a copy.
    _logs: TempDir,
    /// The checks that ran.
    pub outcomes: Vec<ProcessOutcome>,
    /// What each model's record says of the checks not run again.
    pub notes: Vec<Diagnostic>,
}

impl Suite<'_> {
    /// `--check`: the checks alone, and what they covered.
    pub(super) async fn check_only(&self) -> Result<ExitCode> {
        let runner = Runner::new()?;
        let checked = self.run_checks(&runner, &self.decisions()).await?;
        let tasks: usize = self.models.iter().map(|m| m.view.tasks.len()).sum();
        // lm-eval's answers about its tasks check them too
        let (asked, remembered) = self.answers.counts();
        outln!(
            "checked {} and {}: {} ran, {} passed before and were not run again; nothing was \
             started",
            counted(self.models.len(), "model"),
            counted(tasks, "task"),
            counted(checked.outcomes.len() + asked, "check"),
            checked.notes.len() + remembered
        );
        Ok(ExitCode::SUCCESS)
    }

    /// Every model's decisions, read once: the checks and the runs both go by them.
    pub(super) fn decisions(&self) -> Vec<Decisions<'_>> {
        let rerun = self.args.rerun;
        self.models.iter().map(|m| m.decisions(rerun)).collect()
    }

    /// Runs the checks of the tasks that will run; a failure is bad input, with its output
    /// shown.
    pub(super) async fn run_checks(
        &self,
        runner: &Runner,
        decisions: &[Decisions<'_>],
    ) -> Result<Checked> {
        let logs = tempfile::tempdir()?;
        let cache = CheckCache::new(&benchy_home());
        let (remembered, task_checks): (Vec<_>, Vec<_>) = self
            .task_checks(decisions)?
            .into_iter()
            .map(|check| (cache.mark(&check), check))
            .partition(|(mark, _)| mark.passed());
        let mut checks = self.environment_checks(logs.path())?;
        checks.extend(task_checks.iter().map(|(_, check)| check.clone()));
        let notes: Vec<Diagnostic> = remembered.iter().map(|(_, c)| remembered_note(c)).collect();
        crate::util::notes::print(&notes);
        let policy = JobPolicy {
            parallel: CHECKS_AT_ONCE,
            stop_on_failure: true,
        };
        let report = runner.run_jobs(&checks, policy, logs.path(), None).await?;
        if let Some(EndedEarly::Interrupted(signal)) = report.ended_early {
            return Err(Interrupted(signal).into());
        }
        // The checks stopped because another failed say nothing of their own.
        let stopped = jobs::cut_short;
        for (outcome, spec) in report.outcomes.iter().zip(&checks) {
            if !stopped(outcome) {
                check_passed(outcome, spec)?;
            }
        }
        task_checks.iter().for_each(|(mark, _)| mark.remember());
        Ok(Checked {
            _logs: logs,
            outcomes: report.outcomes,
            notes,
        })
    }

    /// One availability check per environment that a model's server needs and that is not
    /// built yet; their requirement files go in `dir`.
    fn environment_checks(&self, dir: &Path) -> Result<Vec<ProcessSpec>> {
        let mut checks: Vec<ProcessSpec> = Vec::new();
        for server in self.models.iter().filter_map(|m| m.server.launched()) {
            for check in server.environment_checks(&self.envs, dir)? {
                if !checks.iter().any(|c| c.log_file == check.log_file) {
                    checks.push(check);
                }
            }
        }
        Ok(checks)
    }

    /// Each task backend's checks of every task it will run, asked once for the whole suite:
    /// each task is named `task (run config)` so a failure says where to look.
    pub(super) fn task_checks(&self, decisions: &[Decisions<'_>]) -> Result<Vec<ProcessSpec>> {
        let models = self.models.iter().zip(decisions);
        let mut checks = Vec::new();
        for (_, of) in by_backend(models.map(|(m, d)| (&m.backend, (m, d)))) {
            let tasks: Vec<TaskView> = of
                .iter()
                .flat_map(|(model, decisions)| {
                    let config = &model.resolution.config.path;
                    decisions
                        .iter()
                        .filter(|(_, decision)| !decision.is_done())
                        .map(move |(task, _)| in_config((*task).clone(), config))
                })
                .collect();
            if !tasks.is_empty() {
                checks.extend(self.checks_of(of[0].0, tasks)?);
            }
        }
        Ok(checks)
    }

    /// The checks `model`'s task backend plans for `tasks`.
    fn checks_of(&self, model: &Model, tasks: Vec<TaskView>) -> Result<Vec<ProcessSpec>> {
        let view = RunView {
            tasks,
            ..model.view.clone()
        };
        let template = model.server.template(&view)?;
        let plan = plan_jobs(
            &model.backend.backend,
            &view,
            &template,
            &model.options,
            &self.answers.known,
        )?;
        Ok(settled(plan, &self.answers.known)?.checks)
    }
}

/// `task` named `task (run config)`, so that among a suite's tasks it is unique and says where
/// it comes from.
pub(super) fn in_config(task: TaskView, config: &Path) -> TaskView {
    TaskView {
        name: format!("{} ({})", task.name, config.display()),
        ..task
    }
}

fn remembered_note(check: &ProcessSpec) -> Diagnostic {
    Diagnostic::info(format!(
        "{}: passed before with the same program, arguments and files; not run again",
        check.name
    ))
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
        format_tail(Path::new(&outcome.log_file))
    ))
    .into())
}
