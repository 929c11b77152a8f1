//! Jobs: processes that run to completion (an lm-eval run per task), up to N at a time, each
//! with its exit code collected. A failure (with [`JobPolicy::stop_on_failure`]), the server
//! exiting, or Ctrl-C stops every running job's group; whatever the jobs already wrote stays
//! where they wrote it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

/// How one job ended.
#[derive(Clone, Debug, PartialEq)]
pub struct JobOutcome {
    pub name: String,
    pub tasks: Vec<String>,
    /// `None` when it was killed by a signal, timed out, or never started.
    pub exit_code: Option<i32>,
    /// The ending in words: `exit code 0`, `killed by SIGTERM`, `not started`.
    pub status: String,
    pub started: bool,
    /// When it was spawned and when it was seen to end (wall clock), for the run record.
    pub started_at: Option<SystemTime>,
    pub ended_at: Option<SystemTime>,
    pub timed_out: bool,
    pub log: PathBuf,
    pub output_dir: Option<PathBuf>,
}

impl JobOutcome {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The outcome as a backend's `collect` takes it.
    pub fn to_process_outcome(&self) -> ProcessOutcome {
        ProcessOutcome {
            name: self.name.clone(),
            tasks: self.tasks.clone(),
            exit_code: self.exit_code,
            output_dir: self.output_dir.clone(),
            log_file: self.log.clone(),
        }
    }
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
    pub outcomes: Vec<JobOutcome>,
    pub ended_early: Option<EndedEarly>,
}

struct Running {
    index: usize,
    child: GroupChild,
    deadline: Option<Instant>,
    progress: Progress,
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
        let mut outcomes: Vec<JobOutcome> = jobs
            .iter()
            .map(|spec| JobOutcome {
                name: spec.name.clone(),
                tasks: spec.tasks.clone(),
                exit_code: None,
                status: "not started".to_owned(),
                started: false,
                started_at: None,
                ended_at: None,
                timed_out: false,
                log: log_dir.join(&spec.log_file),
                output_dir: spec.output_dir.clone(),
            })
            .collect();
        let mut next = 0;
        let mut running: Vec<Running> = Vec::new();
        let mut ended_early = None;
        loop {
            while ended_early.is_none()
                && running.len() < policy.parallel.max(1)
                && next < jobs.len()
            {
                let spec = &jobs[next];
                let outcome = &mut outcomes[next];
                next += 1;
                match GroupChild::spawn(spec, &outcome.log) {
                    Ok(child) => {
                        outcome.started = true;
                        outcome.started_at = Some(SystemTime::now());
                        outcome.status = "running".to_owned();
                        self.console.line(&format!(
                            "{}: started (pid {}); log: {}",
                            spec.name,
                            child.pid(),
                            outcome.log.display()
                        ));
                        running.push(Running {
                            index: next - 1,
                            child,
                            deadline: spec
                                .timeout_secs
                                .map(|s| Instant::now() + Duration::from_secs_f64(s)),
                            progress: self.console.process(&spec.name, "running"),
                        });
                    }
                    Err(e) => {
                        outcome.status = format!("cannot start: {e:#}");
                        if policy.stop_on_failure {
                            ended_early = Some(EndedEarly::JobFailed(spec.name.clone()));
                        }
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            sleep(JOB_POLL).await;

            if ended_early.is_none() {
                if let Some(signal) = self.interrupts.first() {
                    ended_early = Some(EndedEarly::Interrupted(signal));
                } else if let Some(server) = server.as_deref_mut()
                    && let Some(status) = server.try_exited()
                {
                    ended_early = Some(EndedEarly::ServerExited(status));
                }
            }
            if ended_early.is_some() {
                self.stop_jobs(&mut running, jobs, &mut outcomes).await;
                continue;
            }

            let mut i = 0;
            while i < running.len() {
                let job = &mut running[i];
                let spec = &jobs[job.index];
                let timed_out = job.deadline.is_some_and(|d| Instant::now() >= d);
                let status = job.child.try_status();
                if status.is_none() && !timed_out {
                    job.progress.update(latest_line(&outcomes[job.index].log));
                    i += 1;
                    continue;
                }
                let mut job = running.swap_remove(i);
                // The leader is done (or out of time): stop whatever it left in its group.
                let grace = Duration::from_secs_f64(spec.stop_grace_secs);
                let status = job.child.stop(grace, self.kill_now()).await;
                let outcome = &mut outcomes[job.index];
                outcome.timed_out = timed_out && status.as_ref().is_ok_and(|s| s.code().is_none());
                outcome.exit_code = if outcome.timed_out {
                    None
                } else {
                    status.as_ref().ok().and_then(|s| s.code())
                };
                outcome.ended_at = Some(SystemTime::now());
                outcome.status = if outcome.timed_out {
                    format!(
                        "timed out after {} s",
                        spec.timeout_secs.unwrap_or_default()
                    )
                } else {
                    describe_status(status)
                };
                drop(job.progress);
                self.console
                    .line(&format!("{}: {}", outcome.name, outcome.status));
                if !outcome.succeeded() && policy.stop_on_failure {
                    ended_early = Some(EndedEarly::JobFailed(outcome.name.clone()));
                }
            }
        }
        Ok(JobsReport {
            outcomes,
            ended_early,
        })
    }

    /// Stops every running job at once and records how each ended.
    async fn stop_jobs(
        &self,
        running: &mut Vec<Running>,
        jobs: &[ProcessSpec],
        outcomes: &mut [JobOutcome],
    ) {
        let grace = running
            .iter()
            .map(|j| Duration::from_secs_f64(jobs[j.index].stop_grace_secs))
            .max()
            .unwrap_or_default();
        if !running.is_empty() {
            self.console.line(&format!(
                "stopping {} running job{} (SIGTERM, then SIGKILL after {} s; press Ctrl-C again \
                 to kill now)",
                running.len(),
                if running.len() == 1 { "" } else { "s" },
                grace.as_secs_f64()
            ));
        }
        let mut children: Vec<&mut GroupChild> = running.iter_mut().map(|j| &mut j.child).collect();
        stop_all(&mut children, grace, self.kill_now()).await;
        for mut job in running.drain(..) {
            let status = job.child.wait().await;
            let outcome = &mut outcomes[job.index];
            outcome.exit_code = status.as_ref().ok().and_then(|s| s.code());
            outcome.ended_at = Some(SystemTime::now());
            outcome.status = format!("stopped ({})", describe_status(status));
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
        let log = std::fs::read_to_string(&report.outcomes[2].log).unwrap();
        assert_eq!(log, "output of c\n");
        // never more than two at once, and the third did run while others were running
        let mut running = 0;
        let mut most = 0;
        for line in std::fs::read_to_string(trace).unwrap().lines() {
            running += if line == "start" { 1 } else { -1 };
            most = most.max(running);
        }
        assert_eq!(most, 2);
        let outcome = report.outcomes[1].to_process_outcome();
        assert_eq!(
            (outcome.exit_code, outcome.tasks),
            (Some(3), vec!["b".to_owned()])
        );
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
        assert!(!never.started);
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
        assert!(outcome.timed_out);
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
        assert!(!report.outcomes[1].started);
    }
}
