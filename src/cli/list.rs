//! `benchy --list`: every command a user can type, each with one line: the built-in commands
//! with what they do, the aliases of the settings files with what they stand for, and the
//! external commands found with their program's path.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::external;
use crate::cli::args::builtin_commands;
use crate::settings::Settings;
use crate::util::table;

pub fn run(settings: &Settings) -> Result<ExitCode> {
    let builtins = builtin_commands();
    let mut rows: Vec<Vec<String>> = builtins
        .iter()
        .map(|(name, about)| vec![name.clone(), "built-in".to_owned(), about.clone()])
        .collect();
    for (name, alias) in &settings.aliases {
        let line = alias.value.join(" ");
        let about = format!("`benchy {line}` ({})", alias.origin);
        rows.push(vec![name.clone(), "alias".to_owned(), about]);
    }
    for (name, program) in external::all() {
        if !settings.aliases.contains_key(&name) {
            let about = program.display().to_string();
            rows.push(vec![name, "external".to_owned(), about]);
        }
    }
    let text = table::render(&["command", "kind", "description"], &rows);
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
