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
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use benchy_core::python::{is_executable, path_dirs};
use benchy_core::source::read_text_file;

use crate::cli::args::command_names;
use crate::settings::Settings;
use crate::util::bad_input::bad_input;
use crate::util::env_vars::{EnvVars, benchy_home};
use crate::util::suggest;
use crate::util::table::printable;

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
    if error.kind() == ErrorKind::NotFound
        && let Some(interpreter) = missing_interpreter(&program)
    {
        return Err(bad_input(format!(
            "cannot run {}: its interpreter {interpreter} (its #! line) does not exist",
            program.display()
        )));
    }
    Err(error).with_context(|| format!("cannot run {}", program.display()))
}

/// The interpreter a script's `#!` line names, when no such file exists (the kernel then says
/// the script itself is not found).
fn missing_interpreter(program: &Path) -> Option<String> {
    let text = read_text_file(program, 4096).ok()?;
    let line = text.lines().next()?.strip_prefix("#!")?;
    let interpreter = line.split_whitespace().next()?;
    (!Path::new(interpreter).exists()).then(|| printable(interpreter))
}

/// Every external command found, by name, each the first of its name in search order: only
/// names `benchy NAME` can run (not a built-in's, not one clap would read as a flag).
pub fn all() -> BTreeMap<String, PathBuf> {
    let builtins = command_names();
    let mut found = BTreeMap::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            let name = path.file_name().and_then(|n| n.to_str());
            if let Some(name) = name.and_then(|n| n.strip_prefix(PREFIX))
                && runnable(name)
                && !builtins.iter().any(|b| b == name)
                && is_executable(&path)
            {
                found.entry(name.to_owned()).or_insert(path);
            }
        }
    }
    found
}

/// Whether `benchy NAME` reaches a program named `benchy-NAME`: not empty, and not starting
/// with `-` (clap reads that as a flag).
fn runnable(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('-')
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

/// `no such command`, with the nearest built-in, alias or external command when one is close;
/// a built-in's name here came after `--`, which makes it an external command's.
fn unknown(name: &str, settings: &Settings) -> anyhow::Error {
    let shown = printable(name);
    if command_names().iter().any(|b| b == name) {
        return bad_input(format!(
            "`{shown}` after `--` is read as an external command (`benchy-{shown}`), and there is \
             none; `{shown}` is a built-in command: write `benchy {shown} ...`"
        ));
    }
    let builtins = command_names().into_iter().filter(|n| !n.starts_with("__"));
    let aliases = settings.aliases.keys().cloned();
    let names: Vec<String> = builtins.chain(aliases).chain(all().into_keys()).collect();
    let hint = suggest::nearest(name, names.iter().map(String::as_str))
        .filter(|nearest| *nearest != name)
        .map(|nearest| format!("; did you mean `{nearest}`?"))
        .unwrap_or_default();
    bad_input(format!(
        "no such command: `{shown}`{hint} (`benchy --list` lists every command)"
    ))
}
