//! The project's Python environment (`make setup` installs huggingface_hub 2.4.0 and lm-eval
//! there), for tests and benchmarks that run the real Python library beside benchy.

use std::path::PathBuf;
use std::process::Command;

/// `$BENCHY_HOME`, else `~/.cache/benchy`, as the Makefile defines it.
pub fn benchy_home() -> PathBuf {
    if let Some(home) = std::env::var_os("BENCHY_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache").join("benchy")
}

/// The lm-eval program `make setup` installs; panics, saying what to run, when it is missing.
pub fn lm_eval() -> PathBuf {
    installed("venvs/lm-eval/bin/lm_eval", "lm-eval[api]==0.4.13")
}

/// The inspect program `make setup` installs; panics, saying what to run, when it is missing.
pub fn inspect() -> PathBuf {
    installed("venvs/inspect/bin/inspect", "inspect-ai==0.3.285")
}

/// The uv `make setup` installs, keyed by its pinned version; panics, saying what to run, when it
/// is missing.
pub fn uv() -> PathBuf {
    installed("venvs/uv-0.13.9/bin/uv", "uv==0.13.9")
}

/// The program at `relative` under benchy's home, which `make setup` installs with `what`.
fn installed(relative: &str, what: &str) -> PathBuf {
    let program = benchy_home().join(relative);
    assert!(
        program.is_file(),
        "{} is missing: run `make setup` (it installs {what})",
        program.display()
    );
    program
}

/// The venv `make setup` creates, keyed by the pinned lm-eval version.
pub fn venv() -> PathBuf {
    benchy_home().join("venvs").join("lm-eval-0.4.13")
}

/// The venv's Python. Panics, saying what to run, when `make setup` has not been run: a test
/// that needs Python fails rather than skips.
pub fn python() -> PathBuf {
    let python = venv().join("bin").join("python");
    let ready = venv().join(".benchy-ready");
    assert!(
        python.is_file() && ready.is_file(),
        "the project's Python environment is missing at {}: run `make setup`",
        venv().display()
    );
    python
}

/// A script shipped with the testkit (tests/testkit/python/NAME).
pub fn script(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name);
    assert!(path.is_file(), "missing testkit script {}", path.display());
    path
}

/// The environment variables through which a caller's Hugging Face setup (token, cache, Hub,
/// offline mode) would leak into a test; tests remove them and set what they need.
pub const HUB_VARIABLES: &[&str] = &[
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_ENDPOINT",
    "HF_HUB_OFFLINE",
    "XDG_CACHE_HOME",
];

/// A `python SCRIPT` command with the Hugging Face variables of the caller removed, so only
/// what the test sets reaches huggingface_hub.
pub fn command(script_name: &str) -> Command {
    let mut command = Command::new(python());
    command.arg(script(script_name));
    for name in HUB_VARIABLES.iter().chain(&["TRANSFORMERS_OFFLINE"]) {
        command.env_remove(name);
    }
    // No telemetry or update checks against the stand-in.
    command.env("HF_HUB_DISABLE_TELEMETRY", "1");
    command.env("HF_HUB_DISABLE_UPDATE_CHECK", "1");
    command
}
