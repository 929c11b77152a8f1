//! The commands: each takes its parsed arguments and returns the process exit code.

mod envs;
mod eval;
mod explain;
mod plugins;
mod serve;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::plugin::Catalog;
use crate::secrets;

pub fn run(cli: Cli) -> Result<ExitCode> {
    // The keeper must start fast and needs no registry.
    if let Command::Keep {
        pgid,
        grace_ms,
        parent,
    } = cli.command
    {
        return Ok(crate::runner::keeper::run(pgid, grace_ms, parent));
    }
    secrets::register_environment();
    let mut registry = crate::plugin::builtins::registry();
    registry.set_plugins(Catalog::discover(&cli.plugins));
    if !matches!(cli.command, Command::Plugins(_)) {
        plugins::check_flagged(&registry)?;
    }
    match cli.command {
        Command::Config(ConfigCommand::Explain(args)) => explain::run(&args, &registry),
        Command::Eval(args) => eval::run(&args, &registry),
        Command::Serve(args) => serve::run(&args, &registry),
        Command::Envs(command) => envs::run(command, &registry),
        Command::Keep { .. } => unreachable!("handled above"),
        Command::Plugins(command) => plugins::run(command, &registry),
    }
}
