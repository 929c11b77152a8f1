//! `benchy help NAME` for a name clap does not know: an alias (what it expands to, and the help
//! of the command it runs) or an external command (`benchy-NAME --help`).

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;

use super::args::{Cli, command_names};
use super::{alias, external};
use crate::settings::Settings;
use crate::util::secrets;
use crate::util::stdio::outln;

/// NAME, when the command line is `benchy help NAME` and NAME is no built-in command.
pub fn other_command(args: &[OsString]) -> Option<String> {
    match args {
        [_, help, name] if help == "help" => {
            let name = name.to_str()?;
            (!command_names().iter().any(|c| c == name)).then(|| name.to_owned())
        }
        _ => None,
    }
}

/// The help of the alias or external command `name`; clap's own usage error when it is
/// neither.
pub fn run(name: &str, args: &[OsString], settings: &Settings) -> Result<ExitCode> {
    if let Some(alias) = settings.aliases.get(name) {
        outln!(
            "`benchy {name}` is an alias ({}): it runs `benchy {}`",
            alias.origin,
            secrets::mask(&alias::shown(alias))
        );
        if let Some(command) = alias.value.first().filter(|c| command_names().contains(c)) {
            Cli::parse_args(&[args[0].clone(), command.into(), "--help".into()]);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if external::all().contains_key(name) {
        return external::run(&[name.into(), "--help".into()], &[], settings);
    }
    Cli::parse_args(args);
    Ok(ExitCode::SUCCESS)
}
