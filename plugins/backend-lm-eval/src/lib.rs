//! The lm-eval backend: runs the run's tasks with lm-evaluation-harness against the server,
//! with every resolved sampling parameter in `--gen_kwargs` and only connection settings in
//! `--model_args`, then reads lm-eval's results and what it recorded as used.

mod executable;
mod expectation;
mod gen_kwargs;
mod jobs;
mod results;
mod routes;
mod samples;
mod settings;
mod task_types;
mod thinking;

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use benchy_core::backend::{
    Backend, CollectRequest, Collected, Plan, PlanRequest, RunView, Sampling, TaskView,
};
use benchy_core::process::{ProcessSpec, Role};
use benchy_core::{BackendError, Diagnostic, Key, ParamValue};

use executable::locate;
use task_types::TaskTypes;

#[derive(Debug, Default)]
pub struct LmEvalBackend;

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    task_backends: ["lm-eval" => LmEvalBackend],
}

impl Backend for LmEvalBackend {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        let server = request.server.as_ref().ok_or_else(|| {
            BackendError::input(
                "lm-eval is a task backend: it runs tasks against a server and cannot launch \
                 one; set the provider config's `backend` to a server backend",
            )
        })?;
        let home = &request.options.home;
        let types = TaskTypes::read(&request.answers);
        let questions = routes::questions(&request.run, |t| locate(t, home), &types)?;
        if !questions.is_empty() {
            return Ok(Plan {
                questions,
                ..Plan::default()
            });
        }
        let jobs = jobs::group(&request.run, |task| locate(task, home), &types)?;
        chat_stops_fit(&jobs)?;
        let mut plan = Plan {
            checks: validation_checks(&jobs),
            task_kinds: task_kinds(&request.run, |t| locate(t, home), &types)?,
            ..Plan::default()
        };
        let mut in_flight = Map::new();
        for job in &jobs {
            plan.diagnostics.extend(route_note(job, &request.run));
            let concurrency = job.concurrency(request, server);
            plan.diagnostics.push(Diagnostic::info(format!(
                "lm-eval[{}]: {} requests in flight (num_concurrent): {}",
                job.slug(),
                concurrency.requests,
                concurrency.source
            )));
            in_flight.insert(job.slug(), json!(concurrency));
            plan.processes
                .push(job.spec(request, server, &mut plan.diagnostics));
            if let Some(stops) = job.route.answer_stops() {
                for task in &job.tasks {
                    plan.diagnostics
                        .extend(thinking::notes(task, &job.lm_eval, &types, stops));
                }
            }
        }
        record_executables(&jobs, &mut plan);
        plan.record
            .insert("num_concurrent".into(), Json::Object(in_flight));
        if request
            .run
            .tasks
            .iter()
            .any(|t| t.resolved.get(&Key::Seed).is_none())
        {
            // lm_eval/models/api_models.py: `seed=1234` is a model argument's default and goes
            // into every request body, so it is part of what runs even when no layer sets it.
            plan.diagnostics.push(Diagnostic::info(
                "lm-eval sends seed 1234 (its default) with every request of tasks whose \
                 parameters set no seed; set `seed` to choose it",
            ));
        }
        Ok(plan)
    }

    fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError> {
        let mut collected = Collected::default();
        for outcome in &request.outcomes {
            let Some(dir) = &outcome.output_dir else {
                continue;
            };
            let Some(file) = results::find_results_file(dir) else {
                if outcome.exit_code == Some(0) {
                    collected.diagnostics.push(Diagnostic::warning(format!(
                        "{}: exited 0 but wrote no results_*.json under {}",
                        outcome.name,
                        dir.display()
                    )));
                }
                continue;
            };
            let results = results::read(&request.run, outcome, &file, &mut collected.diagnostics)?;
            results::place_files(&request.run, outcome, &file, &results)?;
            collected.results.extend(results);
        }
        Ok(collected)
    }
}

/// How each task scores, where lm-eval said.
fn task_kinds(
    run: &RunView,
    locate: impl Fn(&TaskView) -> Result<executable::LmEval, BackendError>,
    types: &TaskTypes,
) -> Result<BTreeMap<String, Sampling>, BackendError> {
    let mut kinds = BTreeMap::new();
    for task in &run.tasks {
        if let Some(leaves) = routes::leaves(task, types, &locate(task)?)? {
            let kind = if leaves.iter().any(task_types::Leaf::generates) {
                Sampling::Generate
            } else {
                Sampling::LoglikelihoodOnly
            };
            kinds.insert(task.name.clone(), kind);
        }
    }
    Ok(kinds)
}

/// Which way a job's requests go, when that depended on a mode or on chat requests.
fn route_note(job: &jobs::Job<'_>, run: &RunView) -> Option<Diagnostic> {
    let chat = run.use_chat_completions;
    if !job.tasks.iter().any(|t| routes::depends_on_types(t, chat)) {
        return None;
    }
    let route = match job.route.mode() {
        Some(mode) => format!(
            "chat completions in mode `{}`, its switch in every request",
            mode.name
        ),
        None if job.route.is_chat() => "chat completions".to_owned(),
        None => "completions: its tasks only score log-likelihoods".to_owned(),
    };
    Some(Diagnostic::info(format!(
        "lm-eval[{}]: {route}",
        job.slug()
    )))
}

/// The most stop strings lm-eval's chat requests carry: `LocalChatCompletion._create_payload`
/// sends `stop[:4]` (lm_eval/models/openai_completions.py, 0.4.13), the OpenAI API's limit.
const CHAT_STOPS: usize = 4;

/// On the chat route, a task's resolved stop strings must fit in what lm-eval sends: more would
/// be cut silently, and the audit would fail the run only afterwards. (A thinking mode sends
/// none.)
fn chat_stops_fit(jobs: &[jobs::Job<'_>]) -> Result<(), BackendError> {
    let chat = jobs
        .iter()
        .filter(|j| j.route.is_chat() && j.route.answer_stops().is_none());
    for task in chat.flat_map(|j| &j.tasks) {
        if let Some(ParamValue::Strings(stops)) = task.resolved.get(&Key::Stop)
            && stops.len() > CHAT_STOPS
        {
            let source = task
                .resolved
                .params
                .get(&Key::Stop)
                .map(|p| p.source.to_string())
                .unwrap_or_default();
            return Err(BackendError::input(format!(
                "task `{}`: {} stop strings (from {source}), but lm-eval's chat requests carry at \
                 most {CHAT_STOPS} (`stop[:4]` in LocalChatCompletion._create_payload, \
                 lm_eval/models/openai_completions.py): give at most {CHAT_STOPS}, or use \
                 completions (`use_chat_completions: false`)",
                task.name,
                stops.len()
            )));
        }
    }
    Ok(())
}

/// Which lm-eval runs the jobs, where it came from and its version: the version into the plan's
/// `versions` (one, or every distinct one when tasks bring their own `lm_eval_path`), the rest
/// into its record.
fn record_executables(jobs: &[jobs::Job<'_>], plan: &mut Plan) {
    let mut executables = BTreeMap::new();
    let mut versions: Vec<String> = Vec::new();
    for job in jobs {
        let program = job.lm_eval.program.display().to_string();
        let version = executable::version(&job.lm_eval.program);
        if let Some(v) = &version
            && !versions.contains(v)
        {
            versions.push(v.clone());
        }
        executables
            .entry(program)
            .or_insert_with(|| json!({"origin": job.lm_eval.origin, "version": version}));
    }
    if !versions.is_empty() {
        plan.versions.insert("lm_eval".into(), versions.join(", "));
    }
    plan.record.insert("lm_eval".into(), json!(executables));
}

/// `lm_eval validate` once per lm-eval, folder and include path: every task name must exist
/// before anything starts (it exits 1 listing the missing ones, lm_eval/_cli/validate.py).
fn validation_checks(jobs: &[jobs::Job<'_>]) -> Vec<ProcessSpec> {
    type CheckKey<'a> = (&'a executable::LmEval, Option<&'a std::path::PathBuf>);
    let mut groups: Vec<(CheckKey<'_>, Vec<&str>, Vec<String>)> = Vec::new();
    // lm-eval was asked about these tasks already, which found any name it does not know
    for job in jobs.iter().filter(|j| !j.asked) {
        let key = (&job.lm_eval, job.include_path.as_ref());
        let index = match groups.iter().position(|(k, _, _)| *k == key) {
            Some(index) => index,
            None => {
                groups.push((key, Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        let (_, names, tasks) = &mut groups[index];
        for task in &job.tasks {
            if !names.contains(&task.task_name.as_str()) {
                names.push(&task.task_name);
            }
            tasks.push(task.name.clone());
        }
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(i, ((lm_eval, include), names, tasks))| {
            let mut args = vec!["validate".to_owned(), "--tasks".to_owned(), names.join(",")];
            if let Some(include) = include {
                args.extend(["--include_path".to_owned(), include.display().to_string()]);
            }
            ProcessSpec {
                cwd: lm_eval.cwd.clone(),
                timeout_secs: Some(300.0),
                // lm-eval answers from its own task registry (its program's installation) and
                // the task files under the include path
                depends_on: include.into_iter().cloned().collect(),
                tasks,
                ..ProcessSpec::new(
                    "lm-eval validate",
                    Role::Check,
                    lm_eval.program.display().to_string(),
                    args,
                    format!("check-lm-eval-{}.log", i + 1),
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
