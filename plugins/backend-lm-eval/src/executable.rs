//! Which lm-eval runs a task, in this order: `BENCHY_LM_EVAL`; the task's `lm_eval_path`
//! (`<path>/.venv/bin/lm_eval`, run in that folder, as the Python tool did); the environment
//! `make setup` built (`<benchy home>/venvs/lm-eval`); `lm_eval` on `PATH`.

use std::path::{Path, PathBuf};

use benchy_core::BackendError;
use benchy_core::backend::TaskView;
use benchy_core::python::{find_on_path, installed_version};

/// The lm-eval executable to use, before any task's `lm_eval_path` or the setup environment.
pub const BENCHY_LM_EVAL: &str = "BENCHY_LM_EVAL";

/// An lm-eval executable and the folder it runs in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LmEval {
    pub program: PathBuf,
    /// Where the choice came from, for messages and the run record.
    pub origin: String,
    /// The working directory the task's lm-eval runs in, when it has one of its own.
    pub cwd: Option<PathBuf>,
}

/// The lm-eval that runs `task`; `home` is benchy's home, where `make setup` keeps it.
pub fn locate(task: &TaskView, home: &Path) -> Result<LmEval, BackendError> {
    if let Some(program) = std::env::var_os(BENCHY_LM_EVAL) {
        let program = PathBuf::from(program);
        return existing(program, "BENCHY_LM_EVAL".into(), None);
    }
    if let Some(root) = &task.lm_eval_path {
        let program = root.join(".venv/bin/lm_eval");
        return existing(
            program,
            format!("lm_eval_path of task `{}`", task.name),
            Some(root.clone()),
        );
    }
    let program = home.join("venvs/lm-eval/bin/lm_eval");
    if program.is_file() {
        return Ok(LmEval {
            program,
            origin: "the `make setup` environment".into(),
            cwd: None,
        });
    }
    match find_on_path("lm_eval") {
        Some(program) => Ok(LmEval {
            program,
            origin: "PATH".into(),
            cwd: None,
        }),
        None => Err(BackendError::input(format!(
            "task `{}`: no lm-eval found: set {}, give the task an `lm_eval_path`, run `make \
             setup`, or put `lm_eval` on PATH",
            task.name, BENCHY_LM_EVAL
        ))),
    }
}

fn existing(
    program: PathBuf,
    origin: String,
    cwd: Option<PathBuf>,
) -> Result<LmEval, BackendError> {
    if program.is_file() {
        Ok(LmEval {
            program,
            origin,
            cwd,
        })
    } else {
        Err(BackendError::input(format!(
            "{origin}: {} does not exist",
            program.display()
        )))
    }
}

/// The installed lm-eval version, read from the package metadata beside the executable.
pub fn version(program: &Path) -> Option<String> {
    installed_version(program, "lm_eval")
}
