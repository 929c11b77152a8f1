//! `benchy eval`: the main job. Check everything, start the server, run the tasks with every
//! request carrying the resolved parameters, stop the server, verify what the task backend's
//! tool recorded as used against what was sent, and keep the results with a record of exactly
//! what ran.
//!
//! The task backend plans twice, as the contract says: before anything starts, against the
//! server as it will be (its checks run then, and `--dry-run` shows its processes), and once
//! the server is ready, against the server as it is (those are the jobs that run).

mod dry_run;
mod execute;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use benchy_core::backend::{RunOptions, ServerInfo};
use benchy_core::{Backend, Plan, RunView};

use crate::cli::EvalArgs;
use crate::env_vars::benchy_home;
use crate::envs::EnvStore;
use crate::failure::bad_input;
use crate::notes;
use crate::planning::{ServerPlan, plan_jobs, run_view};
use crate::plugin::Registry;
use crate::resolution::{Resolution, resolve};
use crate::run_config::unsafe_path_part;
use crate::run_folder::{RunFolder, default_run_id};
use crate::run_lock::RunLock;
use crate::runner;
use crate::server_url::ServerUrl;
use crate::settings::Settings;
use crate::slurm::{PlannedModel, PlannedTask};

pub fn run(args: &EvalArgs, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    // A suite for another executor: each model is checked and planned here, then runs there.
    if let Some(slurm) = crate::slurm::Executor::chosen(args, settings)? {
        let configs = crate::suite::inputs::expand(&args.resolve.configs)?;
        let plan = |model: &EvalArgs| planned_model(model, registry, settings);
        return slurm.submit(&configs, args, registry, settings, &plan);
    }
    let eval = Eval::prepare(args, registry, settings)?;
    if args.dry_run {
        print!("{}", eval.dry_run());
        return Ok(ExitCode::SUCCESS);
    }
    // Held for the whole run: a second run on this folder is refused at once.
    let _lock = RunLock::acquire(&eval.folder.dir)?;
    eval.folder.check_unused()?;
    let mut record = eval.new_record();
    runner::runtime()?.block_on(eval.execute(&mut record))
}

/// One model of a suite (`args` name its run config alone), checked and planned as its local
/// run would be, for an executor that runs it elsewhere.
fn planned_model(
    args: &EvalArgs,
    registry: &Registry,
    settings: &Settings,
) -> Result<PlannedModel> {
    let eval = Eval::prepare(args, registry, settings)?;
    let tasks = eval.view.tasks.iter().map(|task| PlannedTask {
        name: task.name.clone(),
        folder: eval.folder.dir.join(&task.output_folder),
    });
    Ok(PlannedModel {
        config: eval.resolution.config.path.clone(),
        model: eval.view.model.name.clone(),
        folder: eval.folder.dir.clone(),
        tasks: tasks.collect(),
    })
}

/// A run that has been checked and planned, before anything starts.
struct Eval<'a> {
    args: &'a EvalArgs,
    resolution: Resolution,
    view: RunView,
    options: RunOptions,
    /// The task backend, and its name as `--backend` gave it.
    backend_name: String,
    backend: Arc<dyn Backend>,
    /// How many jobs run at once: `--jobs`, else the `jobs` setting.
    jobs: u16,
    /// The server benchy launches; `None` with `--server-url`.
    server: Option<ServerPlan>,
    /// `--server-url`, checked.
    server_url: Option<ServerUrl>,
    /// The task backend's plan against the server as it will be: its checks and diagnostics,
    /// what `--dry-run` shows, the versions it found.
    job_plan: Plan,
    folder: RunFolder,
    /// The Python environments benchy builds (the server's, when it asks for one).
    envs: EnvStore,
}

impl<'a> Eval<'a> {
    /// Resolves, checks and plans everything that can be before anything starts.
    fn prepare(args: &'a EvalArgs, registry: &Registry, settings: &Settings) -> Result<Eval<'a>> {
        let limit = checked_limit(args.limit)?;
        let server_url = args.server.checked_url()?;
        // Sources may block on the network: resolve before the runtime starts.
        let resolution = resolve(
            args.resolve.single_config("eval")?,
            &args.resolve,
            registry,
            settings,
        )?;
        notes::print(&resolution.diagnostics);
        let view = run_view(&resolution, &selected_tasks(&resolution, &args.tasks)?);
        if view.tasks.is_empty() {
            return Err(bad_input(format!(
                "{}: no tasks to run; list them under `tasks:`",
                resolution.config.path.display()
            )));
        }
        let options = RunOptions {
            run_dir: run_dir(args, settings, &view)?,
            limit,
            log_samples: args.log_samples,
            home: benchy_home(),
        };
        let backend = registry.backend(&args.backend)?;
        let server = match &server_url {
            Some(_) => None,
            None => Some(ServerPlan::new(registry, &view, &options)?),
        };
        let template = server_template(server.as_ref(), server_url.as_ref(), &view)?;
        let job_plan = plan_jobs(&backend, &view, &template, &options)?;
        notes::print(
            server
                .iter()
                .flat_map(|s| &s.plan.diagnostics)
                .chain(&job_plan.diagnostics),
        );
        let folder = RunFolder {
            dir: options.run_dir.clone(),
        };
        Ok(Eval {
            envs: EnvStore::new(&options.home),
            args,
            resolution,
            view,
            options,
            backend_name: args.backend.clone(),
            backend,
            jobs: args.jobs.unwrap_or_else(|| settings.jobs().value),
            server,
            server_url,
            job_plan,
            folder,
        })
    }
}

/// The server as the jobs will see it: the launched server's template (its port still a
/// placeholder), or the `--server-url` one.
fn server_template(
    server: Option<&ServerPlan>,
    server_url: Option<&ServerUrl>,
    view: &RunView,
) -> Result<ServerInfo> {
    match (server, server_url) {
        (Some(server), _) => server
            .template()
            .cloned()
            .with_context(|| format!("the server backend `{}` planned no address", server.backend)),
        (None, Some(url)) => Ok(ServerInfo {
            base_url: url.api_base(),
            model: view.model.short_name.clone(),
            max_model_len: None,
        }),
        (None, None) => unreachable!("a server is planned or given"),
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

/// The largest `--limit` count: above 2^53 a float no longer holds every whole number, so the
/// count passed on would not be the one given.
const MAX_LIMIT: f64 = 9_007_199_254_740_992.0;

/// `--limit`: a whole count of examples, or a fraction above 0 and below 1.
fn checked_limit(limit: Option<f64>) -> Result<Option<f64>> {
    let Some(limit) = limit else {
        return Ok(None);
    };
    let why = if !(limit > 0.0 && limit.is_finite()) {
        "must be a count, or a fraction above 0 and below 1"
    } else if limit > 1.0 && limit.fract() != 0.0 {
        "a fraction must be below 1, and a count a whole number"
    } else if limit > MAX_LIMIT {
        "is larger than any count of examples (at most 2^53)"
    } else {
        return Ok(Some(limit));
    };
    Err(bad_input(format!("--limit {limit}: {why}")))
}

/// `<output-dir>/<run-id>/<model>`, absolute, checked to be a folder benchy can make (nothing is
/// created yet). The output dir is `--output-dir`, else the `output_dir` setting.
fn run_dir(args: &EvalArgs, settings: &Settings, view: &RunView) -> Result<PathBuf> {
    let output_dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| settings.output_dir().value);
    let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
    if let Some(why) = unsafe_path_part(&run_id) {
        return Err(bad_input(format!(
            "--run-id {run_id:?}: {why}; it names one folder"
        )));
    }
    let dir = std::path::absolute(output_dir.join(&run_id).join(&view.model.short_name))?;
    RunFolder::check_creatable(&dir).map_err(|why| {
        bad_input(format!(
            "--output-dir {}: the run folder {} cannot be made there: {why}",
            output_dir.display(),
            dir.display()
        ))
    })?;
    Ok(dir)
}

/// The run id of a run folder (its parent folder's name).
fn run_id_of(dir: &std::path::Path) -> String {
    dir.parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
