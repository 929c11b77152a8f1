//! `benchy completions SHELL`: the shell completion script clap_complete writes from benchy's
//! own command line, so completions always match the flags of this benchy. Hidden commands
//! (benchy's own helper) are left out; external commands and aliases are not completed: they
//! are found at run time.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Command, CommandFactory};
use clap_complete::Shell;

use crate::cli::args::Cli;
use crate::util::stdio;

pub fn run(shell: Shell) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut completed(), "benchy", &mut script);
    stdio::write_out_bytes(&script);
    Ok(ExitCode::SUCCESS)
}

/// benchy's command line as a user may type it: every argument and every command that is not
/// hidden (clap_complete offers hidden commands too).
fn completed() -> Command {
    let full = Cli::command();
    let shown = full.get_subcommands().filter(|c| !c.is_hide_set()).cloned();
    Command::new("benchy")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(shown)
}
