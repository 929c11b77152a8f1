//! Which settings files apply, strongest first: `benchy.toml` in the working directory and in
//! each parent up to the root (the nearest wins, so a project's file beats its parent's), the
//! user's `<config dir>/benchy/config.toml` (`~/.config/benchy/config.toml` on Linux), and the
//! file `BENCHY_CONFIG` names: a site's settings, kept in one file that a module or profile
//! points at, which every user's own file can override.

use std::path::{Path, PathBuf};

use crate::util::env_vars::EnvVars;

/// The file name looked for in the working directory and its parents.
pub const PROJECT_FILE: &str = "benchy.toml";

/// The settings files that apply in `cwd`, strongest first, each once. `BENCHY_CONFIG` is
/// listed even when missing: naming a file that cannot be read is a mistake to report.
pub fn find(cwd: &Path) -> Vec<PathBuf> {
    let project = cwd
        .ancestors()
        .map(|dir| dir.join(PROJECT_FILE))
        .filter(|file| file.exists());
    let user = user_file().filter(|file| file.exists());
    let site = std::env::var_os(EnvVars::BENCHY_CONFIG)
        .filter(|value| !value.is_empty())
        .map(|value| cwd.join(value));
    let mut files: Vec<PathBuf> = Vec::new();
    for file in project.chain(user).chain(site) {
        let canonical = std::fs::canonicalize(&file).ok();
        let seen = files
            .iter()
            .any(|f| canonical.is_some() && std::fs::canonicalize(f).ok() == canonical);
        if !seen {
            files.push(file);
        }
    }
    files
}

/// The user's settings file, `<config dir>/benchy/config.toml`.
pub fn user_file() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("benchy").join("config.toml"))
}
