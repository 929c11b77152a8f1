//! The inspect backend: runs each task's inspect_ai task (`inspect_task`) against the server,
//! with every resolved sampling parameter in its generate config (inspect's own fields, and
//! `extra_body` for what inspect does not send over an OpenAI-compatible API: `top_k`, `min_p`,
//! `repetition_penalty`, the chat template's switch), then reads inspect's log: each scorer's
//! metrics, the generate config it recorded and every raw request it logged.

mod executable;
mod expectation;
mod generate;
mod jobs;
mod results;
mod tasks;

use serde_json::{Map, Value as Json, json};

use benchy_core::backend::{
    Backend, Capacity, CollectRequest, Collected, Plan, PlanRequest, Sampling, ServerInfo, TaskView,
};
use benchy_core::{BackendError, Diagnostic};

use executable::{Inspect, locate};
use tasks::Known;

#[derive(Debug, Default)]
pub struct InspectBackend;

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    task_backends: ["inspect" => InspectBackend],
}

impl Backend for InspectBackend {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        let server = request.server.as_ref().ok_or_else(|| {
            BackendError::input(
                "inspect is a task backend: it runs tasks against a server and cannot launch \
                 one; set the provider config's `backend` to a server backend",
            )
        })?;
        let inspect = locate(&request.options.home)?;
        let tasks = request
            .run
            .tasks
            .iter()
            .map(|task| Ok((task, fits(task)?)))
            .collect::<Result<Vec<_>, BackendError>>()?;
        let known = Known::read(&request.answers);
        let mut unasked: Vec<&str> = Vec::new();
        let mut asking_for = Vec::new();
        for (task, spec) in &tasks {
            if known.of(&inspect, spec).is_none() {
                if !unasked.contains(spec) {
                    unasked.push(spec);
                }
                asking_for.push(task.name.clone());
            }
        }
        if !unasked.is_empty() {
            return Ok(Plan {
                questions: vec![tasks::question(&inspect, &unasked, asking_for)?],
                ..Plan::default()
            });
        }
        jobs_plan(&tasks, request, server, &inspect, &known)
    }

    fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError> {
        let mut collected = Collected::default();
        for outcome in &request.outcomes {
            let (Some(dir), Some(task)) = (
                &outcome.output_dir,
                outcome
                    .tasks
                    .first()
                    .and_then(|name| request.run.tasks.iter().find(|t| &t.name == name)),
            ) else {
                continue;
            };
            let Some(log) = results::newest_log(&jobs::log_dir(dir)) else {
                collected.diagnostics.push(Diagnostic::warning(format!(
                    "{}: {} but wrote no log under {}",
                    outcome.name,
                    outcome.status,
                    jobs::log_dir(dir).display()
                )));
                continue;
            };
            let result = results::read(task, &log, &mut collected.diagnostics)?;
            collected.results.extend(result);
        }
        Ok(collected)
    }
}

/// Every task, each with its inspect task, known to inspect: one `inspect eval` each.
fn jobs_plan(
    tasks: &[(&TaskView, &str)],
    request: &PlanRequest,
    server: &ServerInfo,
    inspect: &Inspect,
    known: &Known,
) -> Result<Plan, BackendError> {
    let mut plan = Plan::default();
    let in_flight = request.options.requests_in_flight(server);
    let mut connections = Map::new();
    for &(task, spec) in tasks {
        if let Some(about) = known.of(inspect, spec).filter(|a| !a.known) {
            return Err(tasks::unknown(task, spec, about, inspect));
        }
        let requests = in_flight.as_ref().map(|c| c.requests);
        plan.processes.push(jobs::spec(
            task,
            spec,
            inspect,
            (request, server),
            requests,
        )?);
        plan.task_kinds
            .insert(task.name.clone(), Sampling::Generate);
        plan.diagnostics
            .push(in_flight_note(task, in_flight.as_ref()));
        connections.insert(task.output_folder.clone(), json!(in_flight));
    }
    if let Some(version) = inspect.version() {
        plan.versions.insert("inspect_ai".into(), version);
    }
    plan.record.insert(
        "inspect".into(),
        json!({"program": inspect.program, "origin": inspect.origin}),
    );
    plan.record
        .insert("max_connections".into(), Json::Object(connections));
    Ok(plan)
}

/// How many requests a task's eval keeps in flight, and why.
fn in_flight_note(task: &TaskView, in_flight: Option<&Capacity>) -> Diagnostic {
    Diagnostic::info(match in_flight {
        Some(c) => format!(
            "inspect[{}]: {} requests in flight (max_connections): {}",
            task.output_folder, c.requests, c.source
        ),
        None => format!(
            "inspect[{}]: inspect's adaptive connections (the server's capacity is not known)",
            task.output_folder
        ),
    })
}

/// The inspect task of a task the inspect backend can run: it names one, and its mode (if any)
/// has no system prompt of its own (an inspect task's solver decides the messages).
fn fits(task: &TaskView) -> Result<&str, BackendError> {
    let spec = tasks::spec(task)?;
    if let Some(mode) = task.mode.as_ref().filter(|m| m.system_prompt.is_some()) {
        return Err(BackendError::input(format!(
            "task `{}`: mode `{}` ({}) switches the model by a system prompt, which the inspect \
             backend cannot put in front of an inspect task's own messages; choose a mode \
             switched by the chat template",
            task.name, mode.name, mode.defined_in
        )));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests;
