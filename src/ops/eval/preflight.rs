//! Before anything starts: every run config of the suite loaded, its parameters resolved (a few
//! models at a time, since a Hub lookup waits on the network), every model planned, and the
//! flags checked. Bad input anywhere stops the suite here, naming the file.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use benchy_core::backend::{RunOptions, ServerInfo, TaskView};
use benchy_core::process::PORT_PLACEHOLDER;

use super::checks::in_config;
use super::model::{Model, Planning, TaskBackend, by_backend};
use super::{EvalOptions, Suite};
use crate::envs::EnvStore;
use crate::ops::planning::{plan_jobs, run_view};
use crate::ops::questions::BackendAnswers;
use crate::plugin::Registry;
use crate::resolution::{Resolution, resolve};
use crate::run_config::inputs;
use crate::run_config::unsafe_path_part;
use crate::settings::Settings;
use crate::store::layout::default_run_id;
use crate::store::run_folder::RunFolder;
use crate::util::bad_input::bad_input;
use crate::util::env_vars::benchy_home;
use crate::util::notes;
use crate::util::stdio::errln;

/// How many models' parameters are resolved at once: enough to hide the Hub's latency, few
/// enough to stay polite to it.
const RESOLVING_AT_ONCE: usize = 4;

impl<'a> Suite<'a> {
    /// Resolves, checks and plans everything that can be before anything starts.
    pub(super) fn prepare(
        args: &'a EvalOptions,
        registry: &Registry,
        settings: &Settings,
    ) -> Result<Suite<'a>> {
        let limit = checked_limit(args.limit)?;
        let configs = inputs::expand(&args.configs)?;
        let (run_id, dir) = suite_dir(args, settings)?;
        let resolutions = resolve_all(&configs, args, registry, settings)?;
        check_task_names(&resolutions, &args.tasks)?;
        let backends = resolutions
            .iter()
            .map(|r| TaskBackend::choose(args.backend.as_deref(), &r.config, registry))
            .collect::<Result<Vec<_>>>()?;
        let options = RunOptions {
            run_dir: dir.clone(),
            limit,
            log_samples: args.log_samples,
            home: benchy_home(),
            max_concurrent: Some(settings.concurrency_cap()),
        };
        let answers = RefCell::new(ask_once(&backends, &resolutions, &options)?);
        let planning = Planning {
            registry,
            server_url: args.server_url.as_ref(),
            options: &options,
            answers: &answers,
            repeats: args.repeats,
        };
        let mut models = Vec::new();
        for (resolution, backend) in resolutions.into_iter().zip(backends) {
            let selected = |t: &crate::resolution::TaskResolution| args.tasks.contains(&t.name);
            if !args.tasks.is_empty() && !resolution.tasks.iter().any(selected) {
                errln!(
                    "{}: none of the --task names is a task of it; left out",
                    resolution.config.path.display()
                );
                continue;
            }
            let model = Model::prepare(resolution, backend, &args.tasks, &planning)?;
            print_plan_notes(&model, configs.len());
            models.push(model);
        }
        distinct_folders(&models)?;
        Ok(Suite {
            args,
            jobs: args.jobs.unwrap_or_else(|| settings.jobs().value),
            envs: EnvStore::new(&options.home),
            run_id,
            dir,
            models,
            answers: answers.into_inner(),
            cache_config: crate::cache::Config {
                mode: cache_mode(args, settings),
                dir: settings.cache_dir().value,
                limit: settings.cache_size().value,
            },
            cache: None,
            devices: super::devices::given(args.gpus.as_deref(), settings.gpus.as_ref())?,
        })
    }
}

/// `--cache`, else (with `--rerun`, which wants new answers) write only, else the `cache`
/// setting.
fn cache_mode(args: &EvalOptions, settings: &Settings) -> crate::cache::Mode {
    match (args.cache, args.rerun) {
        (Some(mode), _) => mode,
        (None, true) => crate::cache::Mode::Write,
        (None, false) => settings.cache().value,
    }
}

/// Each task backend's questions about every task of the suite it runs, asked once for all of
/// them (an evaluator that takes seconds to start is asked once, not once per model); each
/// model's plan then finds its answers among them. The plan is against no server yet: only its
/// questions count here.
fn ask_once(
    backends: &[TaskBackend],
    resolutions: &[Resolution],
    options: &RunOptions,
) -> Result<BackendAnswers> {
    let mut answers = BackendAnswers::default();
    for (backend, of) in by_backend(backends.iter().zip(resolutions)) {
        let mut view = run_view(of[0], &[]);
        view.tasks = suite_tasks(&of, resolutions.len() > 1);
        let server = ServerInfo {
            base_url: format!("http://127.0.0.1:{PORT_PLACEHOLDER}/v1"),
            model: view.model.short_name.clone(),
            max_model_len: None,
            capacity: None,
        };
        answers.plan(&options.home, |known| {
            plan_jobs(&backend.backend, &view, &server, options, known)
        })?;
    }
    Ok(answers)
}

/// Every task of the suite: a single model's by their names (what an error about them says),
/// several models' each named `task (run config)`, as the checks name them, so a name is unique
/// and a failure says where to look.
fn suite_tasks(resolutions: &[&Resolution], several: bool) -> Vec<TaskView> {
    let views = resolutions.iter().map(|r| (*r, run_view(r, &[]).tasks));
    if !several {
        return views.flat_map(|(_, tasks)| tasks).collect();
    }
    views
        .flat_map(|(resolution, tasks)| {
            let config = &resolution.config.path;
            tasks.into_iter().map(move |task| in_config(task, config))
        })
        .collect()
}

/// Every run config's parameters, in the order given, [`RESOLVING_AT_ONCE`] at a time; the
/// first error in that order stops the suite. Each model's notes are printed as it resolves.
fn resolve_all(
    configs: &[PathBuf],
    args: &EvalOptions,
    registry: &Registry,
    settings: &Settings,
) -> Result<Vec<Resolution>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<Resolution>>>> =
        configs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..RESOLVING_AT_ONCE.min(configs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(config) = configs.get(i) else { break };
                    let resolved = resolve(config, &args.resolve, registry, settings);
                    *results[i].lock().expect("not poisoned") = Some(resolved);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            let resolution = slot
                .into_inner()
                .expect("not poisoned")
                .expect("resolved")?;
            notes::print_about(
                subject(&resolution, configs.len()).as_deref(),
                &resolution.diagnostics,
            );
            Ok(resolution)
        })
        .collect()
}

/// What a note about `resolution`'s model names, in a suite of `models`: its run config.
fn subject(resolution: &Resolution, models: usize) -> Option<String> {
    (models > 1).then(|| resolution.config.path.display().to_string())
}

/// What the model's backends said of their plans.
fn print_plan_notes(model: &Model, models: usize) {
    notes::print_about(
        subject(&model.resolution, models).as_deref(),
        model
            .server
            .launched()
            .into_iter()
            .flat_map(|s| &s.plan.diagnostics)
            .chain(&model.job_plan.diagnostics),
    );
}

/// `--task` names must each be a task of some model of the suite.
fn check_task_names(resolutions: &[Resolution], names: &[String]) -> Result<()> {
    for name in names {
        let known = |r: &&Resolution| r.tasks.iter().any(|t| &t.name == name);
        if !resolutions.iter().any(|r| known(&r)) {
            let mut tasks: Vec<&str> = Vec::new();
            for task in resolutions.iter().flat_map(|r| &r.tasks) {
                if !tasks.contains(&task.name.as_str()) {
                    tasks.push(&task.name);
                }
            }
            let configs: Vec<String> = resolutions
                .iter()
                .map(|r| r.config.path.display().to_string())
                .collect();
            return Err(bad_input(format!(
                "--task {name}: not a task of {}; its tasks: {}",
                configs.join(", "),
                tasks.join(", ")
            )));
        }
    }
    for resolution in resolutions {
        if resolution.tasks.is_empty() {
            return Err(bad_input(format!(
                "{}: no tasks to run; list them under `tasks:`",
                resolution.config.path.display()
            )));
        }
    }
    Ok(())
}

/// Two run configs of one model would share its folder: refused, naming both.
fn distinct_folders(models: &[Model]) -> Result<()> {
    for (i, model) in models.iter().enumerate() {
        if let Some(other) = models[..i]
            .iter()
            .find(|m| m.folder.dir == model.folder.dir)
        {
            return Err(bad_input(format!(
                "{} and {} are both runs of {}, which would share the folder {}; run them \
                 under different --run-id values",
                other.resolution.config.path.display(),
                model.resolution.config.path.display(),
                model.short_name(),
                model.folder.dir.display()
            )));
        }
    }
    Ok(())
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

/// The run id and `<output-dir>/<run-id>`, absolute, checked to be a folder benchy can make
/// (nothing is created yet). The output dir is `--output-dir`, else the `output_dir` setting.
fn suite_dir(args: &EvalOptions, settings: &Settings) -> Result<(String, PathBuf)> {
    let output_dir = settings.output_dir_or(args.output_dir.as_deref());
    let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
    if let Some(why) = unsafe_path_part(&run_id) {
        return Err(bad_input(format!(
            "--run-id {run_id:?}: {why}; it names one folder"
        )));
    }
    let dir = std::path::absolute(output_dir.join(&run_id))?;
    creatable(&output_dir, &dir)?;
    Ok((run_id, dir))
}

fn creatable(output_dir: &Path, dir: &Path) -> Result<()> {
    RunFolder::check_creatable(dir).map_err(|why| {
        bad_input(format!(
            "--output-dir {}: the run folder {} cannot be made there: {why}",
            output_dir.display(),
            dir.display()
        ))
    })
}
