//! `benchy --list`: every command a user can type, each with one line: the built-in commands
//! with what they do, the aliases of the settings files with what they stand for (each word as
//! it is passed, secrets masked), and the external commands found with their program's path.

use std::process::ExitCode;

use anyhow::Result;

use super::{alias, external};
use crate::cli::args::builtin_commands;
use crate::settings::Settings;
use crate::util::table::{self, printable};
use crate::util::{secrets, stdio};

pub fn run(settings: &Settings) -> Result<ExitCode> {
    let builtins = builtin_commands();
    let mut rows: Vec<Vec<String>> = builtins
        .iter()
        .map(|(name, about)| vec![name.clone(), "built-in".to_owned(), about.clone()])
        .collect();
    for (name, alias) in &settings.aliases {
        let about = format!("`benchy {}` ({})", alias::shown(alias), alias.origin);
        rows.push(vec![printable(name), "alias".to_owned(), about]);
    }
    for (name, program) in external::all() {
        if !settings.aliases.contains_key(&name) {
            let about = printable(&program.to_string_lossy());
            rows.push(vec![printable(&name), "external".to_owned(), about]);
        }
    }
    let text = table::render(&["command", "kind", "description"], &rows);
    stdio::write_out(&secrets::mask(&text));
    Ok(ExitCode::SUCCESS)
}
