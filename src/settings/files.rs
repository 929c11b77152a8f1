//! Which settings files apply, strongest first: `benchy.toml` in the working directory and in
//! each parent (the nearest wins, so a project's file beats its parent's) up to where provider
//! lookup stops too ([`ownership::climb`]: a folder holding `configs/`, a repository's root or
//! your home), the user's `<config dir>/benchy/config.toml` (`~/.config/benchy/config.toml` on
//! Linux), and the file `BENCHY_CONFIG` names: a site's settings, kept in one file that a module
//! or profile points at, which every user's own file can override.
//!
//! A settings file decides what runs (`[env]`, aliases, `sources`, `output_dir`), so it is read
//! only when no other user can change it, nor its folder, nor the folder above: as provider
//! files are.

use std::path::{Path, PathBuf};

use benchy_core::Diagnostic;

use crate::util::bad_input::BadInput;
use crate::util::env_vars::EnvVars;
use crate::util::ownership;

/// The file name looked for in the working directory and its parents.
pub const PROJECT_FILE: &str = "benchy.toml";

/// The settings files that apply in `cwd`, strongest first, each once. A name that is there as
/// anything (a broken link, a folder) is listed, and reading it says what is wrong;
/// `BENCHY_CONFIG` is listed even when missing: naming a file that cannot be read is a mistake
/// to report.
pub fn find(cwd: &Path) -> Vec<PathBuf> {
    let present = |file: &PathBuf| std::fs::symlink_metadata(file).is_ok();
    let project = ownership::climb(cwd)
        .into_iter()
        .map(|dir| dir.join(PROJECT_FILE))
        .filter(present);
    let user = user_file().filter(present);
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

/// Whether `file` may be read: refused (bad input) when another user can change it, its
/// folder or the folder above; a warning when it is yours but everyone may write it.
pub fn trusted(file: &Path) -> Result<Option<Diagnostic>, BadInput> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let above = dir.parent().unwrap_or(dir);
    match ownership::judge_all([file, dir, above]) {
        Ok(exposed) => Ok(exposed
            .map(|why| Diagnostic::warning(format!("settings file {}: {why}", file.display())))),
        Err(why) => Err(BadInput(format!(
            "settings file {}: refused: {why}; benchy reads a settings file only when no other \
             user can change it (it decides what runs, as a provider file does)",
            file.display()
        ))),
    }
}

/// The user's settings file, `<config dir>/benchy/config.toml`.
pub fn user_file() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("benchy").join("config.toml"))
}
