//! Which way each task's requests go. A task in a mode, or of a run with
//! `use_chat_completions`, that generates text goes over chat completions
//! (`local-chat-completions` with the model's chat template rendered, the mode's switch inside
//! every request); a task that only scores log-likelihoods stays on completions, in a job of its
//! own, since lm-eval's chat model cannot score them. Which task is which, lm-eval's own task
//! files say ([`crate::task_types`]): it is asked about every task whenever it can be (its
//! program is a Python entry script), which also finds a task name it does not know; a task
//! whose route depends on the answer cannot run without one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use benchy_core::backend::{ModeView, RunView, TaskView};
use benchy_core::process::ProcessSpec;
use benchy_core::{BackendError, Key, ParamValue};

use crate::executable::LmEval;
use crate::task_types::{Leaf, TaskTypes, askable, question};

/// The way a job's requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/v1/completions`: no chat template is rendered.
    Completions,
    /// `/v1/chat/completions` with the model's chat template, in the task's mode when it has
    /// one; in a thinking mode, `answer_stops` are the stop strings the host applies to each
    /// answer after its reasoning, none being sent.
    Chat {
        mode: Option<ModeView>,
        answer_stops: Vec<String>,
    },
}

impl Route {
    pub fn is_chat(&self) -> bool {
        matches!(self, Route::Chat { .. })
    }

    pub fn mode(&self) -> Option<&ModeView> {
        match self {
            Route::Chat { mode, .. } => mode.as_ref(),
            Route::Completions => None,
        }
    }

    /// The stop strings applied to answers in a thinking mode.
    pub fn answer_stops(&self) -> Option<&[String]> {
        match self {
            Route::Chat {
                mode: Some(mode),
                answer_stops,
            } if mode.thinks => Some(answer_stops),
            _ => None,
        }
    }
}

/// Whether the task's route depends on what lm-eval says of it.
pub fn depends_on_types(task: &TaskView, run_chat: bool) -> bool {
    run_chat || task.mode.is_some()
}

/// What lm-eval said of `task`: its tasks, or `None` when it could not be asked; a name it does
/// not know is bad input.
pub fn leaves<'t>(
    task: &TaskView,
    types: &'t TaskTypes,
    lm_eval: &LmEval,
) -> Result<Option<&'t [Leaf]>, BackendError> {
    match types.of(lm_eval, task.include_path.as_ref(), &task.task_name) {
        Some(Some(leaves)) => Ok(Some(leaves)),
        Some(None) => Err(BackendError::input(format!(
            "task `{}`: lm-eval ({}) has no task `{}`",
            task.name,
            lm_eval.program.display(),
            task.task_name
        ))),
        None => Ok(None),
    }
}

/// The route of `task`, whose lm-eval tasks are `leaves` (when lm-eval could be asked).
pub fn route(
    task: &TaskView,
    run_chat: bool,
    leaves: Option<&[Leaf]>,
) -> Result<Route, BackendError> {
    if !depends_on_types(task, run_chat) {
        return Ok(Route::Completions);
    }
    let Some(leaves) = leaves else {
        return Err(BackendError::failed(format!(
            "task `{}`: planned before lm-eval said which of its tasks generate text",
            task.name
        )));
    };
    let generating = leaves.iter().filter(|l| l.generates()).count();
    match (generating, &task.mode) {
        (0, Some(mode)) if mode.by_task => Err(scoring_in_a_mode(task, mode)),
        (0, _) => Ok(Route::Completions),
        (n, _) if n < leaves.len() => Err(mixed(task, leaves)),
        _ => Ok(Route::Chat {
            answer_stops: answer_stops(task, leaves),
            mode: task.mode.clone(),
        }),
    }
}

/// A task's stop strings, for its answers: the resolved ones, then each lm-eval task's own.
fn answer_stops(task: &TaskView, leaves: &[Leaf]) -> Vec<String> {
    let resolved = match task.resolved.get(&Key::Stop) {
        Some(ParamValue::Strings(stops)) => stops.clone(),
        _ => Vec::new(),
    };
    let mut stops: Vec<String> = Vec::new();
    let own = leaves.iter().flat_map(|l| l.until.iter().flatten());
    for stop in resolved.iter().chain(own) {
        if !stop.is_empty() && !stops.contains(stop) {
            stops.push(stop.clone());
        }
    }
    stops
}

fn scoring_in_a_mode(task: &TaskView, mode: &ModeView) -> BackendError {
    BackendError::input(format!(
        "{}: `mode`: task `{}` asks for mode `{}`, but lm-eval's `{}` only scores \
         log-likelihoods, which no chat template or thinking changes; remove the task's `mode:` \
         (a run's mode leaves such tasks on completions by themselves)",
        mode.chosen_by, task.name, mode.name, task.task_name
    ))
}

fn mixed(task: &TaskView, leaves: &[Leaf]) -> BackendError {
    let generating: Vec<&str> = leaves
        .iter()
        .filter(|l| l.generates())
        .map(|l| l.task.as_str())
        .collect();
    BackendError::input(format!(
        "task `{}`: lm-eval's `{}` mixes tasks that generate text ({}) with tasks that only \
         score log-likelihoods, and no one route runs both over chat requests: list the two \
         kinds as separate tasks",
        task.name,
        task.task_name,
        generating.join(", ")
    ))
}

/// The questions to ask before planning: for each lm-eval that can be asked and each include
/// path, the tasks it was not asked about yet. A task whose route depends on the answer, with an
/// lm-eval that cannot be asked, is bad input.
pub fn questions(
    run: &RunView,
    locate: impl Fn(&TaskView) -> Result<LmEval, BackendError>,
    types: &TaskTypes,
) -> Result<Vec<ProcessSpec>, BackendError> {
    type Group<'a> = (Vec<&'a str>, Vec<String>);
    let mut open: BTreeMap<(LmEval, Option<PathBuf>), Group<'_>> = BTreeMap::new();
    for task in &run.tasks {
        let lm_eval = locate(task)?;
        let known = types.of(&lm_eval, task.include_path.as_ref(), &task.task_name);
        if known.is_some() {
            continue;
        }
        if !askable(&lm_eval) {
            if depends_on_types(task, run.use_chat_completions) {
                question(&lm_eval, None, &[], Vec::new())?;
            }
            continue;
        }
        let (names, run_tasks) = open
            .entry((lm_eval, task.include_path.clone()))
            .or_default();
        if !names.contains(&task.task_name.as_str()) {
            names.push(&task.task_name);
        }
        run_tasks.push(task.name.clone());
    }
    open.into_iter()
        .map(|((lm_eval, include), (names, run_tasks))| {
            question(&lm_eval, include.as_ref(), &names, run_tasks)
        })
        .collect()
}
