//! `benchy eval`: the main job, for one model or a suite of them. Check everything for every
//! model, then for each model in turn: start its server, run the tasks that are not done yet
//! with every request carrying the resolved parameters, stop the server, verify what the task
//! backend's tool recorded as used against what was sent, and keep the results with a record of
//! exactly what ran.
//!
//! The task backend plans twice, as the contract says: before anything starts, against the
//! server as it will be (`--dry-run` shows those processes, and the suite's checks come from one
//! such plan over every model's tasks), and once the server is ready, against the server as it
//! is (those are the jobs that run).

mod answers;
mod checks;
mod devices;
mod dry_run;
mod execute;
mod model;
pub mod options;
mod packing;
mod preflight;
mod rendering;
mod repeats;
mod submit;
mod suite;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

use crate::envs::EnvStore;
use crate::ops::questions::BackendAnswers;
use crate::plugin::Registry;
use crate::runner;
use crate::settings::{Jobs, Settings};
use crate::slurm::Executor;
use crate::util::stdio::out;
use model::Model;
pub use options::EvalOptions;

pub fn run(args: &EvalOptions, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    // Chosen first: bad executor settings are refused before any run config is read.
    let executor = Executor::chosen(&args.executor, args.rerun, settings)?;
    let suite = Suite::prepare(args, registry, settings)?;
    if args.check {
        return runner::runtime()?.block_on(suite.check_only());
    }
    if let Some(slurm) = executor {
        return suite.submit(&slurm, registry);
    }
    if args.dry_run {
        out!("{}", suite.dry_run());
        return Ok(ExitCode::SUCCESS);
    }
    runner::runtime()?.block_on(suite.execute())
}

/// A suite (one model or many) that has been checked and planned, before anything starts.
struct Suite<'a> {
    args: &'a EvalOptions,
    /// How many of a model's jobs run at once: `--jobs`, else the `jobs` setting.
    jobs: Jobs,
    /// The Python environments benchy builds (a server's, when it asks for one).
    envs: EnvStore,
    run_id: String,
    /// `<output-dir>/<run-id>`, absolute: the models' folders and the suite's record.
    dir: PathBuf,
    /// In the order the run configs were given.
    models: Vec<Model>,
    /// The task backend's questions, answered before anything started.
    answers: BackendAnswers,
    /// How the response cache is used, where, and its size limit.
    cache_config: crate::cache::Config,
    /// The response cache, opened when the suite starts (never for a dry run or a check).
    cache: Option<Arc<crate::cache::Cache>>,
    /// The node's devices, when the user named them (`--gpus`, the `gpus` setting); else the
    /// node is asked when the suite runs.
    devices: Option<devices::NodeDevices>,
}
