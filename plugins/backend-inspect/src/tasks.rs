//! Which inspect tasks exist: benchy asks inspect itself before anything starts ([`question`],
//! the script `tasks.py` run by inspect's own Python: its listing of a task file, or its
//! registry for a registered task's name), and a task it does not know is bad input naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use benchy_core::BackendError;
use benchy_core::backend::TaskView;
use benchy_core::process::{ProcessSpec, Role};
use benchy_core::python::entry_script_python;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::executable::Inspect;

/// The question's script.
const SCRIPT: &str = include_str!("tasks.py");

/// The start of every question's name.
const QUESTION: &str = "inspect tasks";

/// What inspect said of one task spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct About {
    pub known: bool,
    /// The tasks its file holds (none for a registered task's name).
    #[serde(default)]
    pub listed: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    program: PathBuf,
    tasks: BTreeMap<String, About>,
}

/// Every answer so far, by inspect program and task spec.
#[derive(Debug, Default)]
pub struct Known(BTreeMap<(PathBuf, String), About>);

impl Known {
    /// The answers among `answers` that are this backend's.
    pub fn read(answers: &BTreeMap<String, Json>) -> Known {
        let mut known = Known::default();
        let ours = answers
            .iter()
            .filter(|(name, _)| name.starts_with(QUESTION));
        for (_, answer) in ours {
            if let Ok(answer) = serde_json::from_value::<Answer>(answer.clone()) {
                for (spec, about) in answer.tasks {
                    known.0.insert((answer.program.clone(), spec), about);
                }
            }
        }
        known
    }

    /// What `inspect` said of `spec`, when it was asked.
    pub fn of(&self, inspect: &Inspect, spec: &str) -> Option<&About> {
        self.0.get(&(inspect.program.clone(), spec.to_owned()))
    }
}

/// The task's inspect task, or why it has none.
pub fn spec(task: &TaskView) -> Result<&str, BackendError> {
    task.inspect_task.as_deref().ok_or_else(|| {
        BackendError::input(format!(
            "task `{}`: the inspect backend runs inspect tasks: give the task \
             `inspect_task: FILE.py@NAME` (a path relative to the file it is written in) or a \
             registered task's name",
            task.name
        ))
    })
}

/// The question about `specs`, run by inspect's own Python; its version is an argument, so an
/// upgrade asks again, and the task files are what the answer depends on.
pub fn question(
    inspect: &Inspect,
    specs: &[&str],
    run_tasks: Vec<String>,
) -> Result<ProcessSpec, BackendError> {
    let python = entry_script_python(&inspect.program).ok_or_else(|| {
        BackendError::input(format!(
            "{} ({}) is not inspect's Python entry script, so benchy cannot ask it which tasks \
             exist: point {} at the `inspect` of a Python environment",
            inspect.program.display(),
            inspect.origin,
            crate::executable::BENCHY_INSPECT
        ))
    })?;
    let mut args = vec![
        "-c".to_owned(),
        SCRIPT.to_owned(),
        inspect.program.display().to_string(),
        inspect.version().unwrap_or_default(),
    ];
    args.extend(specs.iter().map(|s| (*s).to_owned()));
    let files = specs
        .iter()
        .filter_map(|s| s.split('@').next().filter(|f| f.ends_with(".py")))
        .map(PathBuf::from)
        .collect();
    Ok(ProcessSpec {
        timeout_secs: Some(300.0),
        depends_on: files,
        tasks: run_tasks,
        ..ProcessSpec::new(
            format!("{QUESTION} [{}]", specs.join(",")),
            Role::Check,
            python,
            args,
            "question-inspect.log",
        )
    })
}

/// A task inspect does not know, as bad input naming it and what its file holds.
pub fn unknown(task: &TaskView, spec: &str, about: &About, inspect: &Inspect) -> BackendError {
    let file = spec.split('@').next().unwrap_or(spec);
    let why = if !file.ends_with(".py") {
        format!(
            "inspect ({}) has no registered task `{spec}`",
            inspect.program.display()
        )
    } else if about.listed.is_empty() {
        format!("inspect lists no task in {file} (is the file there, with an @task?)")
    } else {
        format!("inspect lists only {} in {file}", about.listed.join(", "))
    };
    BackendError::input(format!(
        "task `{}`: inspect_task `{spec}`: {why}",
        task.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_found_by_program_and_spec() {
        let inspect = Inspect {
            program: "/venv/bin/inspect".into(),
            origin: "test".into(),
        };
        let answers = BTreeMap::from([(
            format!("{QUESTION} [/t/a.py@a]"),
            json!({"program": "/venv/bin/inspect", "tasks": {
                "/t/a.py@a": {"known": true, "listed": ["a", "b"]},
                "/t/a.py@c": {"known": false, "listed": ["a", "b"]}}}),
        )]);
        let known = Known::read(&answers);
        assert!(known.of(&inspect, "/t/a.py@a").unwrap().known);
        let about = known.of(&inspect, "/t/a.py@c").unwrap();
        assert!(!about.known);
        assert_eq!(known.of(&inspect, "/t/b.py@a"), None);
    }
}
