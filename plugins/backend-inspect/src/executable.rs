//! Which inspect runs the tasks, in this order: `BENCHY_INSPECT` (which a settings file's
//! `[env]` may set); the environment `make setup` built (`<benchy home>/venvs/inspect`);
//! `inspect` on `PATH`.

use std::path::{Path, PathBuf};

use benchy_core::BackendError;
use benchy_core::python::{find_on_path, installed_version};

/// The inspect executable to use, before the setup environment.
pub const BENCHY_INSPECT: &str = "BENCHY_INSPECT";

/// An inspect executable and where the choice came from (for messages and the run record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspect {
    pub program: PathBuf,
    pub origin: String,
}

impl Inspect {
    /// The installed inspect_ai version, read from the package metadata beside the executable.
    pub fn version(&self) -> Option<String> {
        installed_version(&self.program, "inspect_ai")
    }
}

/// The inspect that runs the tasks; `home` is benchy's home, where `make setup` keeps it.
pub fn locate(home: &Path) -> Result<Inspect, BackendError> {
    if let Some(program) = std::env::var_os(BENCHY_INSPECT) {
        let program = PathBuf::from(program);
        if !program.is_file() {
            return Err(BackendError::input(format!(
                "{BENCHY_INSPECT}: {} does not exist",
                program.display()
            )));
        }
        return Ok(Inspect {
            program,
            origin: BENCHY_INSPECT.into(),
        });
    }
    let program = home.join("venvs/inspect/bin/inspect");
    if program.is_file() {
        return Ok(Inspect {
            program,
            origin: "the `make setup` environment".into(),
        });
    }
    match find_on_path("inspect") {
        Some(program) => Ok(Inspect {
            program,
            origin: "PATH".into(),
        }),
        None => Err(BackendError::input(format!(
            "no inspect found: set {BENCHY_INSPECT} (or `{BENCHY_INSPECT}` under a settings \
             file's [env]), run `make setup`, or put `inspect` on PATH"
        ))),
    }
}
