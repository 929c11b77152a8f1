//! The commands: each takes its parsed arguments and returns the process exit code.

mod explain;
mod serve;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigCommand};

pub fn run(cli: Cli) -> Result<ExitCode> {
    let registry = crate::builtins::registry();
    match cli.command {
        Command::Config(ConfigCommand::Explain(args)) => explain::run(&args, &registry),
        Command::Serve(args) => serve::run(&args, &registry),
        Command::Keep {
            pgid,
            grace_ms,
            parent,
        } => Ok(crate::runner::keeper::run(pgid, grace_ms, parent)),
    }
}
