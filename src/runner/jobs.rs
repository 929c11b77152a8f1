//! Jobs: processes that run to completion (an evaluator's run over some tasks), up to N at a
//! time, each with its exit code collected. A failure (with [`JobPolicy::stop_on_failure`]),
//! the server exiting, or Ctrl-C stops every running job's group; whatever the jobs already
//! wrote stays where they wrote it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use benchy_core::ProcessSpec;
use benchy_core::backend::ProcessOutcome;
use tokio::time::{Instant, sleep};

use super::group::{GroupChild, stop_all};
use super::interrupt::StopSignal;
use super::log_tail::latest_line;
use super::progress::Progress;
use super::server::RunningServer;
use super::{Runner, describe_status};
use crate::util::secrets;
use crate::util::table::counted;
use crate::util::time::now;

/// How often running jobs are checked (exit, timeout, progress line); a job's end is noticed
/// within this, which is nothing next to a job's minutes.
const JOB_POLL: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobPolicy {
    /// How many jobs run at once (at least 1).
    pub parallel: usize,
    /// Stop the other jobs, and start no more, once one fails.
    pub stop_on_failure: bool,
}

/// Why jobs were stopped before all of them ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndedEarly {
    Interrupted(StopSignal),
    /// A job failed and the policy stops the rest.
    JobFailed(String),
    /// The server the jobs talk to exited.
    ServerExited(String),
}

/// Every job's outcome, in the order given, and why the run ended early, if it did.
#[derive(Clone, Debug, PartialEq)]
pub struct JobsReport {
    pub outcomes: Vec<ProcessOutcome>,
    pub ended_early: Option<EndedEarly>,
}

/// The status of a job that never started.
const NOT_STARTED: &str = "not started";
/// What the status of a job the runner stopped (an interrupt, another's failure) starts with.
const STOPPED: &str = "stopped";

/// Whether the runner cut the job short, stopping it or never starting it, rather than the job
/// ending on its own.
pub fn cut_short(outcome: &ProcessOutcome) -> bool {
    outcome.status == NOT_STARTED || outcome.status.starts_with(STOPPED)
}

/// How a process that has not run yet is recorded: its command (secrets masked), its log in
/// `log_dir`, status `not started`. The runner fills in the rest as it runs.
pub fn planned(spec: &ProcessSpec, log_dir: &Path) -> ProcessOutcome {
    ProcessOutcome {
        name: spec.name.clone(),
        tasks: spec.tasks.clone(),
        command: secrets::shown_command(spec),
        cwd: spec.cwd.clone(),
        exit_code: None,
        status: NOT_STARTED.to_owned(),
        started_at: None,
        finished_at: None,
        log_file: log_dir.join(&spec.log_file),
        output_dir: spec.output_dir.clone(),
    }
}

struct Running {
    index: usize,
    child: GroupChild,
    deadline: Option<Instant>,
    progress: Progress,
}

/// The state of one `run_jobs` call.
struct Batch<'a> {
    jobs: &'a [ProcessSpec],
    policy: JobPolicy,
    outcomes: Vec<ProcessOutcome>,
    next: usize,
    running: Vec<Running>,
    ended_early: Option<EndedEarly>,
}

impl Runner {
    /// Runs `jobs` with their logs in `log_dir`, `policy.parallel` at a time, watching `server`
    /// (if any) so that its death stops the jobs instead of letting them fail one request at a
    /// time. Never returns with a job still running.
    pub async fn run_jobs(
        &self,
        jobs: &[ProcessSpec],
        policy: JobPolicy,
        log_dir: &Path,
        mut server: Option<&mut RunningServer>,
    ) -> Result<JobsReport> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let mut batch = Batch {
            jobs,
            policy,
            outcomes: jobs.iter().map(|spec| planned(spec, log_dir)).collect(),
            next: 0,
            running: Vec::new(),
            ended_early: None,
        };
        loop {
            self.start_more(&mut batch);
            if batch.running.is_empty() {
                break;
            }
            sleep(JOB_POLL).await;
            if batch.ended_early.is_none() {
                batch.ended_early = self.reason_to_stop(server.as_deref_mut());
            }
            if batch.ended_early.is_some() {
                self.stop_jobs(&mut batch).await;
            } else {
                self.reap_finished(&mut batch).await;
            }
        }
        Ok(JobsReport {
            outcomes: batch.outcomes,
            ended_early: batch.ended_early,
        })
    }

    /// Starts jobs until `parallel` run or none is left (or the batch is ending).
    fn start_more(&self, batch: &mut Batch<'_>) {
        while batch.ended_early.is_none()
            && batch.running.len() < batch.policy.parallel.max(1)
            && batch.next < batch.jobs.len()
        {
            let index = batch.next;
            batch.next += 1;
            let spec = &batch.jobs[index];
            let outcome = &mut batch.outcomes[index];
            match GroupChild::spawn(spec, &outcome.log_file) {
                Ok(child) => {
                    outcome.started_at = Some(now());
                    outcome.status = "running".to_owned();
                    self.console.line(&format!(
                        "{}: started (pid {}); log: {}",
                        spec.name,
                        child.pid(),
                        outcome.log_file.display()
                    ));
                    batch.running.push(Running {
                        index,
                        child,
                        deadline: spec
                            .timeout_secs
                            .map(|s| Instant::now() + Duration::from_secs_f64(s)),
                        progress: self.console.process(&spec.name, "running"),
                    });
                }
                Err(e) => {
                    outcome.status = format!("cannot start: {e:#}");
                    if batch.policy.stop_on_failure {
                        batch.ended_early = Some(EndedEarly::JobFailed(spec.name.clone()));
                    }
                }
            }
        }
    }

    /// Ctrl-C, or the server the jobs talk to exiting.
    fn reason_to_stop(&self, server: Option<&mut RunningServer>) -> Option<EndedEarly> {
        if let Some(signal) = self.interrupts.first() {
            return Some(EndedEarly::Interrupted(signal));
        }
        server?.try_exited().map(EndedEarly::ServerExited)
    }

    /// Records every job that has ended (or run out of time), stopping what it left in its
    /// group; updates the others' progress lines.
    async fn reap_finished(&self, batch: &mut Batch<'_>) {
        let mut i = 0;
        while i < batch.running.len() {
            let job = &mut batch.running[i];
            let timed_out = job.deadline.is_some_and(|d| Instant::now() >= d);
            let status = job.child.try_status();
            if status.is_none() && !timed_out {
                job.progress
                    .update(latest_line(&batch.outcomes[job.index].log_file));
                i += 1;
                continue;
            }
            let mut job = batch.running.swap_remove(i);
            let spec = &batch.jobs[job.index];
            // The leader is done (or out of time): stop whatever it left in its group.
            let grace = Duration::from_secs_f64(spec.stop_grace_secs);
            let status = job.child.stop(grace, self.kill_now()).await;
            let outcome = &mut batch.outcomes[job.index];
            let timed_out = timed_out && status.as_ref().is_ok_and(|s| s.code().is_none());
            outcome.exit_code = status
                .as_ref()
                .ok()
                .and_then(|s| s.code())
                .filter(|_| !timed_out);
            outcome.finished_at = Some(now());
            outcome.status = if timed_out {
                format!(
                    "timed out after {} s",
                    spec.timeout_secs.unwrap_or_default()
                )
            } else {
                describe_status(status)
            };
            drop(job.progress);
            if outcome.succeeded() {
                self.console.tasks_done(outcome.tasks.len());
            }
            self.console
                .line(&format!("{}: {}", outcome.name, outcome.status));
            if !outcome.succeeded() && batch.policy.stop_on_failure {
                batch.ended_early = Some(EndedEarly::JobFailed(outcome.name.clone()));
            }
        }
    }

    /// Stops every running job at once and records how each ended.
    async fn stop_jobs(&self, batch: &mut Batch<'_>) {
        let grace = batch
            .running
            .iter()
            .map(|j| Duration::from_secs_f64(batch.jobs[j.index].stop_grace_secs))
            .max()
            .unwrap_or_default();
        let count = batch.running.len();
        if count > 0 {
            self.console.line(&format!(
                "stopping {} (SIGTERM, then SIGKILL after {} s; press Ctrl-C again to kill now)",
                counted(count, "running job"),
                grace.as_secs_f64()
            ));
        }
        let mut children: Vec<&mut GroupChild> =
            batch.running.iter_mut().map(|j| &mut j.child).collect();
        stop_all(&mut children, grace, self.kill_now()).await;
        for mut job in batch.running.drain(..) {
            let status = job.child.wait().await;
            let outcome = &mut batch.outcomes[job.index];
            outcome.exit_code = status.as_ref().ok().and_then(|s| s.code());
            outcome.finished_at = Some(now());
            outcome.status = format!("{STOPPED} ({})", describe_status(status));
        }
    }

    /// Resolves on the next signal after the ones already caught: "kill now".
    fn kill_now(&self) -> impl Future<Output = ()> + '_ {
        let seen = self.interrupts.count();
        async move {
            self.interrupts.after(seen).await;
        }
    }
}

#[cfg(test)]
mod tests {

    use benchy_core::Role;

    use super::*;
    use crate::runner::group::group_has_live_members;
    use crate::runner::runtime;

    fn job(name: &str, script: &str) -> ProcessSpec {
        ProcessSpec {
            stop_grace_secs: 0.5,
            tasks: vec![name.into()],
            ..ProcessSpec::new(
                name,
                Role::Job,
                "sh",
                vec!["-c".into(), script.into()],
                format!("{name}.log"),
            )
        }
    }

    /// The pid a job's shell wrote to `file`: its group's id.
    fn pid_in(file: &Path) -> nix::unistd::Pid {
        let pid = std::fs::read_to_string(file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        nix::unistd::Pid::from_raw(pid)
    }

    fn run(jobs: &[ProcessSpec], policy: JobPolicy, dir: &Path) -> JobsReport {
        runtime()
            .unwrap()
            .block_on(async {
                let runner = Runner::new()?;
                runner.run_jobs(jobs, policy, dir, None).await
            })
            .unwrap()
    }

    #[test]
    fn jobs_run_n_at_a_time_and_each_exit_code_is_collected() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace");
        let step = |name: &str, code: i32| {
            job(
                name,
                &format!(
                    "echo start >> {t}; echo output of {name}; sleep 0.3; echo end >> {t}; exit {code}",
                    t = trace.display()
                ),
            )
        };
        let jobs = [step("a", 0), step("b", 3), step("c", 0)];
        let policy = JobPolicy {
            parallel: 2,
            stop_on_failure: false,
        };
        let report = run(&jobs, policy, dir.path());
        let codes: Vec<_> = report.outcomes.iter().map(|o| o.exit_code).collect();
        assert_eq!(codes, [Some(0), Some(3), Some(0)]);
        assert_eq!(report.ended_early, None);
        assert_eq!(report.outcomes[1].status, "exit code 3");
        let log = std::fs::read_to_string(&report.outcomes[2].log_file).unwrap();
        assert_eq!(log, "output of c\n");
        // never more than two at once, and the third did run while others were running
        let mut running = 0;
        let mut most = 0;
        for line in std::fs::read_to_string(trace).unwrap().lines() {
            running += if line == "start" { 1 } else { -1 };
            most = most.max(running);
        }
        assert_eq!(most, 2);
        let outcome = &report.outcomes[1];
        assert_eq!(
            (outcome.exit_code, outcome.tasks.clone()),
            (Some(3), vec!["b".to_owned()])
        );
        assert!(outcome.started_at.is_some() && outcome.finished_at.is_some());
    }

    #[test]
    fn a_failure_stops_the_running_jobs_and_starts_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("stubborn.pid");
        let jobs = [
            job("fails", "sleep 0.3; exit 1"),
            job(
                "stubborn",
                &format!(
                    "echo $$ > {}; trap '' TERM; sleep 100 & wait",
                    pid_file.display()
                ),
            ),
            job("never", "exit 0"),
        ];
        let policy = JobPolicy {
            parallel: 2,
            stop_on_failure: true,
        };
        let report = run(&jobs, policy, dir.path());
        assert_eq!(
            report.ended_early,
            Some(EndedEarly::JobFailed("fails".into()))
        );
        let [fails, stubborn, never] = &report.outcomes[..] else {
            panic!()
        };
        assert_eq!(fails.exit_code, Some(1));
        assert_eq!(stubborn.exit_code, None);
        assert_eq!(stubborn.status, "stopped (killed by SIGKILL)");
        assert!(never.started_at.is_none());
        assert_eq!(never.status, "not started");
        assert!(!group_has_live_members(pid_in(&pid_file)));
    }

    #[test]
    fn a_job_past_its_timeout_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut slow = job("slow", "sleep 100");
        slow.timeout_secs = Some(0.3);
        let policy = JobPolicy {
            parallel: 1,
            stop_on_failure: false,
        };
        let report = run(&[slow], policy, dir.path());
        let outcome = &report.outcomes[0];
        assert_eq!(outcome.exit_code, None);
        assert_eq!(outcome.status, "timed out after 0.3 s");
    }

    #[test]
    fn what_a_finished_job_leaves_in_its_group_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("leader.pid");
        let jobs = [job(
            "leaves-a-child",
            &format!(
                "echo $$ > {}; (trap '' TERM; sleep 100) & exit 0",
                pid_file.display()
            ),
        )];
        let policy = JobPolicy {
            parallel: 1,
            stop_on_failure: true,
        };
        let report = run(&jobs, policy, dir.path());
        assert_eq!(report.outcomes[0].exit_code, Some(0));
        assert!(!group_has_live_members(pid_in(&pid_file)));
    }

    #[test]
    fn a_program_that_cannot_start_is_an_outcome_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let mut missing = job("missing", "");
        missing.program = "/nonexistent/benchy-job".into();
        let policy = JobPolicy {
            parallel: 1,
            stop_on_failure: true,
        };
        let report = run(&[missing, job("after", "exit 0")], policy, dir.path());
        assert!(
            report.outcomes[0].status.starts_with("cannot start: "),
            "{:?}",
            report.outcomes[0]
        );
        assert_eq!(
            report.ended_early,
            Some(EndedEarly::JobFailed("missing".into()))
        );
        assert!(report.outcomes[1].started_at.is_none());
    }
}
