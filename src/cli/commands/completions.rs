//! `benchy completions SHELL`: the shell completion script clap_complete writes from benchy's
//! own command line, so completions always match the flags of this benchy. External commands
//! and aliases are not completed: they are found at run time.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::args::Cli;

pub fn run(shell: Shell) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "benchy", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
