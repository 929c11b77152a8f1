//! uv: which one benchy runs (`BENCHY_UV`, else the one `make setup` installs under benchy's
//! home, else `uv` on `PATH`), how its failures read, and the quick question "does the package
//! index have this?" asked before anything starts.
//!
//! uv 0.13 exits 1 when it cannot resolve the requirements ("No solution found when resolving
//! dependencies": no such version, no such package, no wheel for this platform) and 2 for every
//! other failure (a download or the index failing, measured with an unreachable index).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use benchy_core::{ProcessSpec, PythonEnv, Role};

use crate::util::env_vars::{EnvVars, benchy_home};

/// What a failed uv said.
pub enum Failure {
    /// The requirements cannot be met from the index: the user's input.
    NotOnIndex,
    Other,
}

pub fn classify(output: &str) -> Failure {
    if output.contains("No solution found when resolving dependencies") {
        Failure::NotOnIndex
    } else {
        Failure::Other
    }
}

/// The uv to run.
pub fn program() -> Result<String> {
    if let Some(uv) = std::env::var_os(EnvVars::BENCHY_UV) {
        return Ok(uv.to_string_lossy().into_owned());
    }
    let venvs = benchy_home().join("venvs");
    let mut installed: Vec<PathBuf> = std::fs::read_dir(&venvs)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("uv-"))
        .map(|e| e.path().join("bin/uv"))
        .filter(|p| p.is_file())
        .collect();
    // The newest by version, not by text: uv-0.10.0 is newer than uv-0.9.9.
    installed.sort_by_key(|uv| version_of(uv));
    if let Some(uv) = installed.pop() {
        return Ok(uv.display().to_string());
    }
    match benchy_core::python::find_on_path("uv") {
        Some(uv) => Ok(uv.display().to_string()),
        None => bail!(
            "uv is needed to build Python environments: run `make setup` (it installs uv under \
             {}), put `uv` on PATH, or set {}",
            venvs.display(),
            EnvVars::BENCHY_UV
        ),
    }
}

/// The version of the uv at `<venvs>/uv-<version>/bin/uv`, as numbers (a part that is not one
/// counts as 0).
fn version_of(uv: &Path) -> Vec<u64> {
    let folder = uv.ancestors().nth(2).and_then(Path::file_name);
    let version = folder.map(|f| f.to_string_lossy().trim_start_matches("uv-").to_owned());
    version
        .unwrap_or_default()
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// A check, run before anything starts, that the package index has every requirement of `env`
/// (`uv pip compile --no-deps`: under a second, nothing installed). Its requirements file goes
/// in `dir`.
pub fn availability_check(env: &PythonEnv, dir: &Path) -> Result<ProcessSpec> {
    let file = dir.join(format!("{}.in", env.name));
    std::fs::write(&file, env.requirements.join("\n") + "\n")?;
    let origin = format!(
        "{}: `{}`",
        env.requested_in.file.as_deref().unwrap_or(&env.name),
        env.requested_in.key.as_deref().unwrap_or("requirements")
    );
    Ok(ProcessSpec {
        timeout_secs: Some(120.0),
        stop_grace_secs: 5.0,
        ..ProcessSpec::new(
            format!(
                "{origin} (does the package index have {}?)",
                env.requirements.join(", ")
            ),
            Role::Check,
            program()?,
            vec![
                "pip".into(),
                "compile".into(),
                "--no-deps".into(),
                "--no-header".into(),
                "--quiet".into(),
                file.display().to_string(),
            ],
            format!("check-env-{}.log", env.name),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_uv_is_the_highest_version_not_the_last_in_text_order() {
        let uv = |v: &str| PathBuf::from(format!("/home/venvs/uv-{v}/bin/uv"));
        let mut installed = vec![uv("0.10.0"), uv("0.9.9"), uv("0.13.9")];
        installed.sort_by_key(|p| version_of(p));
        assert_eq!(installed.pop(), Some(uv("0.13.9")));
        assert_eq!(installed.pop(), Some(uv("0.10.0")));
    }
}
