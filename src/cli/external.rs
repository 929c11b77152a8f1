//! External commands: `benchy NAME ARGS...`, when NAME is neither a built-in command nor an
//! alias, runs the program `benchy-NAME` found in the absolute directories of `PATH`, then in
//! `$BENCHY_HOME/bin`, with ARGS and with `BENCHY` set to benchy's own path so it can call back.
//! A name that is nowhere is a usage error that suggests the nearest command.
//!
//! benchy `exec`s the program in its own place (as cargo does on Unix): it gets benchy's
//! process id, stdin, stdout and stderr, a signal sent to benchy reaches it, and its exit code
//! (or the signal that ended it) is what the caller sees, with nobody in between.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use benchy_core::python::{is_executable, path_dirs};

use crate::cli::args::builtin_commands;
use crate::settings::Settings;
use crate::util::bad_input::bad_input;
use crate::util::env_vars::{EnvVars, benchy_home};
use crate::util::suggest;

/// What an external command's file name starts with.
const PREFIX: &str = "benchy-";

/// Runs `benchy-NAME` for `words` (NAME and its arguments); returns only if it cannot.
/// `plugins` are the `--plugin` files given before NAME, which an external program cannot take.
pub fn run(words: &[OsString], plugins: &[PathBuf], settings: &Settings) -> Result<ExitCode> {
    let (name, args) = words.split_first().context("no command name")?;
    let name = name.to_string_lossy();
    let Some(program) = find(&name) else {
        return Err(unknown(&name, settings));
    };
    if !plugins.is_empty() {
        return Err(bad_input(format!(
            "--plugin before `{name}`: {} is a program of its own, not benchy, and takes no \
             plugin of benchy's; give --plugin to the benchy commands it runs",
            program.display()
        )));
    }
    let benchy = std::env::current_exe().context("cannot find benchy's own path")?;
    let error = std::process::Command::new(&program)
        .args(args)
        .env(EnvVars::BENCHY, benchy)
        .exec();
    Err(error).with_context(|| format!("cannot run {}", program.display()))
}

/// Every external command found, by name, each the first of its name in search order. Names of
/// built-in commands are left out: a built-in cannot be replaced.
pub fn all() -> BTreeMap<String, PathBuf> {
    let builtins: Vec<String> = builtin_commands().into_iter().map(|(n, _)| n).collect();
    let mut found = BTreeMap::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            let name = path.file_name().and_then(|n| n.to_str());
            if let Some(name) = name.and_then(|n| n.strip_prefix(PREFIX))
                && !builtins.iter().any(|b| b == name)
                && is_executable(&path)
            {
                found.entry(name.to_owned()).or_insert(path);
            }
        }
    }
    found
}

/// The program of external command `name`, if one is found.
fn find(name: &str) -> Option<PathBuf> {
    // A name is one file name: `benchy ../x` must not reach outside the search directories.
    if name.is_empty() || name.contains(['/', '\0']) {
        return None;
    }
    search_dirs()
        .into_iter()
        .map(|dir| dir.join(format!("{PREFIX}{name}")))
        .find(|path| is_executable(path))
}

/// The absolute directories of `PATH`, then `$BENCHY_HOME/bin`.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = path_dirs();
    dirs.push(benchy_home().join("bin"));
    dirs
}

/// `no such command`, with the nearest built-in, alias or external command when one is close.
fn unknown(name: &str, settings: &Settings) -> anyhow::Error {
    let builtins = builtin_commands().into_iter().map(|(n, _)| n);
    let aliases = settings.aliases.keys().cloned();
    let names: Vec<String> = builtins.chain(aliases).chain(all().into_keys()).collect();
    let hint = suggest::nearest(name, names.iter().map(String::as_str))
        .map(|nearest| format!("; did you mean `{nearest}`?"))
        .unwrap_or_default();
    bad_input(format!(
        "no such command: `{name}`{hint} (`benchy --list` lists every command)"
    ))
}
