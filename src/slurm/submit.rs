//! Submitting a suite: every model checked and planned as its local run would be, the job script
//! written, `sbatch` given it, the submission recorded, and (with `--wait`) the array followed.
//! A script sbatch refuses leaves nothing behind: no job, no folder benchy made for it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use super::script::{Arg, JobScript};
use super::submission::{ArrayTask, PlannedModel, Submission};
use super::{Executor, follow, queue};
use crate::runner::Runner;
use crate::runner::client::{ClientOutput, run_client};
use crate::store::layout;
use crate::store::run_lock::{create_dirs, remove_empty};
use crate::util::atomic::write_atomic;
use crate::util::bad_input::bad_input;
use crate::util::secrets;
use crate::util::stdio::{errln, outln};
use crate::util::table::counted;
use crate::util::time::now;

/// How long sbatch may take to answer.
const SBATCH_LIMIT: Duration = Duration::from_secs(120);
/// sbatch's flags; the script goes on its standard input. The environment is exported even
/// where a site's `SBATCH_EXPORT` says otherwise: it is how secrets reach the array tasks.
const SBATCH_ARGS: [&str; 2] = ["--parsable", "--export=ALL"];

/// The Slurm commands benchy runs, found before anything is submitted.
#[derive(Debug)]
pub struct Tools {
    pub sbatch: PathBuf,
    pub squeue: PathBuf,
    pub scancel: PathBuf,
}

impl Tools {
    /// Finds them; one missing is bad input.
    pub fn find() -> Result<Tools> {
        Ok(Tools {
            sbatch: queue::program("sbatch")?,
            squeue: queue::program("squeue")?,
            scancel: queue::program("scancel")?,
        })
    }
}

/// A suite's job array, ready to submit: its script and what the submission record will say.
#[derive(Debug)]
pub struct Job {
    pub script: String,
    run_id: String,
    /// `<output-dir>/<run-id>`.
    run_dir: PathBuf,
    /// What every array task runs, as the record shows it.
    command: Vec<String>,
    /// In array-index order.
    models: Vec<PlannedModel>,
}

impl Job {
    /// The record of this job once sbatch gave it `job_id`.
    fn submitted(self, job_id: String, tools: &Tools) -> Submission {
        let folder = super::folder(&self.run_dir);
        let models = self.models.into_iter().zip(0..);
        Submission {
            run_id: self.run_id,
            submitted_at: now(),
            script: folder.join(layout::JOB_SCRIPT),
            logs: folder.join(layout::SLURM_LOGS),
            sbatch: std::iter::once(tools.sbatch.display().to_string())
                .chain(SBATCH_ARGS.map(str::to_owned))
                .collect(),
            command: self.command,
            models: models
                .map(|(model, index)| ArrayTask {
                    job_id: job_id.clone(),
                    index,
                    model,
                })
                .collect(),
            job_id,
            earlier_jobs: Vec::new(),
        }
    }
}

impl Executor {
    /// The job array of `models` (each checked and planned as its local run would be) of run
    /// `run_id`, kept in `run_dir`, each array task running `command` (its model's run config
    /// where [`Arg::Config`] stands); one whose script would hold a secret is refused.
    pub fn job(
        &self,
        models: Vec<PlannedModel>,
        command: Vec<Arg>,
        run_id: &str,
        run_dir: &Path,
    ) -> Result<Job> {
        check_folder_names(&models)?;
        Ok(Job {
            script: self.script(run_dir, run_id, &models, &command)?,
            run_id: run_id.to_owned(),
            run_dir: run_dir.to_owned(),
            command: command.iter().map(Arg::shown).collect(),
            models,
        })
    }

    /// The job script for `models`; one that would hold a secret is refused.
    fn script(
        &self,
        run_dir: &Path,
        run_id: &str,
        models: &[PlannedModel],
        command: &[Arg],
    ) -> Result<String> {
        let script = JobScript {
            options: &self.options,
            requeue: self.requeue,
            name: format!("benchy-{run_id}"),
            folder: super::folder(run_dir),
            workdir: std::env::current_dir()?,
            configs: models.iter().map(|m| m.config.clone()).collect(),
            command: command.to_vec(),
        }
        .render()?;
        refuse_secrets(&script)?;
        Ok(script)
    }

    /// Submits the job, records the submission, prints the job id, and follows the array with
    /// `--wait` (or when a Ctrl-C came while sbatch answered: what it queued is cancelled).
    pub async fn submit(&self, job: Job, tools: &Tools, runner: &Runner) -> Result<ExitCode> {
        let job_id = sbatch(tools, &job.run_dir, &job.script).await?;
        let (script, run_dir) = (job.script.clone(), job.run_dir.clone());
        let mut submission = job.submitted(job_id, tools);
        record(&mut submission, &run_dir, &script)?;
        outln!("{}", submission.job_id);
        announce(&submission, &run_dir);
        if self.wait || runner.interrupts_seen() > 0 {
            follow::follow(runner, tools, &submission, &run_dir).await
        } else {
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A model named after the Slurm executor's own folder would share it: bad input.
fn check_folder_names(models: &[PlannedModel]) -> Result<()> {
    match models.iter().find(|m| m.short_name() == super::FOLDER) {
        Some(model) => Err(bad_input(format!(
            "{}: a model named `{}` would share its folder with the Slurm executor's own",
            model.config.display(),
            super::FOLDER
        ))),
        None => Ok(()),
    }
}

/// A script that would hold a secret benchy knows of (a token given with `--set`, a value of a
/// credential's environment variable) is refused: secrets reach array tasks through the
/// environment only.
fn refuse_secrets(script: &str) -> Result<()> {
    if secrets::mask(script) == script {
        return Ok(());
    }
    Err(bad_input(
        "the job script would hold a secret (a flag's value); \
         nothing was submitted. Array tasks inherit the environment sbatch is run in: export \
         the credential there instead (OPENAI_API_KEY for a server's key, HF_TOKEN for the Hub)",
    ))
}

/// Runs sbatch with the script on its standard input (so the job script on disk is written
/// only for a job that exists) and the environment exported, making the `slurm/` folder the
/// logs go to first; the job id. A refusal removes the folders made for it.
async fn sbatch(tools: &Tools, run_dir: &Path, script: &str) -> Result<String> {
    let created = create_dirs(&super::folder(run_dir))?;
    let answer = run_client(
        &tools.sbatch,
        &SBATCH_ARGS.map(str::to_owned),
        Some(script),
        SBATCH_LIMIT,
    )
    .await;
    let job_id = answer.and_then(|output| job_id(&output));
    if job_id.is_err() {
        remove_empty(&created);
    }
    job_id
}

/// The job id `sbatch --parsable` printed (`12`, or `12;cluster`); a refusal is bad input in
/// sbatch's own words.
fn job_id(output: &ClientOutput) -> Result<String> {
    if !output.success() {
        return Err(bad_input(format!(
            "sbatch refused the job ({}); nothing was submitted:\n{}",
            output.exit(),
            output.stderr.trim_end()
        )));
    }
    let id = output.stdout.trim().split(';').next().unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("sbatch answered no job id: {}", output.stdout.trim());
    }
    Ok(id.to_owned())
}

/// Keeps the job script and the submission record, with what earlier submissions of this run
/// id recorded.
fn record(submission: &mut Submission, run_dir: &Path, script: &str) -> Result<()> {
    match Submission::read(run_dir) {
        Ok(Some(earlier)) => submission.after(earlier),
        Ok(None) => {}
        Err(err) => errln!("warning: {err:#}; replaced by this submission's record"),
    }
    write_atomic(&submission.script, script.as_bytes())?;
    submission.write(run_dir)
}

/// What was submitted, on stderr (stdout holds the job id alone, for scripts).
fn announce(submission: &Submission, run_dir: &Path) {
    let count = submission.current().count();
    let last = count.saturating_sub(1);
    errln!(
        "Submitted job {} to Slurm: {} of run {}, array tasks 0-{last}; script, logs and \
         submission.json in {}\n`benchy status {}` shows where they stand",
        submission.job_id,
        counted(count, "model"),
        submission.run_id,
        super::folder(run_dir).display(),
        run_dir.display()
    );
}
