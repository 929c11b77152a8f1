//! The commands: each takes its parsed arguments and returns the process exit code. A name that
//! is no built-in command is an alias from the settings files, else an external command.

mod alias;
mod compare;
mod completions;
mod config_show;
mod envs;
mod eval;
mod explain;
mod external;
mod list;
mod plugins;
mod report;
mod results;
mod serve;
mod status;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::notes;
use crate::plugin::Catalog;
use crate::secrets;
use crate::settings::Settings;

/// Runs the command `cli` parsed from `args` (the whole command line, for alias expansion).
pub fn run(cli: Cli, args: &[OsString]) -> Result<ExitCode> {
    // The keeper must start fast and needs neither settings nor a registry.
    if let Some(Command::Keep {
        pgid,
        grace_ms,
        parent,
    }) = cli.command
    {
        crate::runner::init_logging();
        return Ok(crate::runner::keeper::run(pgid, grace_ms, parent));
    }
    let mut settings = Settings::load()?;
    // Before any thread starts, and before secrets are read from the environment.
    settings.apply_env();
    // After `[env]`, which may set BENCHY_LOG.
    crate::runner::init_logging();
    secrets::register_environment();
    alias::drop_shadowed(&mut settings);
    notes::print(&settings.warnings);
    let cli = match cli.command {
        Some(Command::External(words)) => match alias::expand(&words, args, &settings) {
            Some(expanded) => Cli::parse_args(&expanded),
            None => return external::run(&words, &settings),
        },
        _ => cli,
    };
    dispatch(cli, &settings)
}

fn dispatch(cli: Cli, settings: &Settings) -> Result<ExitCode> {
    let command = match cli.command {
        // An alias's command line is an external command's (never another alias).
        Some(Command::External(words)) => return external::run(&words, settings),
        Some(Command::Completions(args)) => return completions::run(args.shell),
        Some(Command::Config(ConfigCommand::Show(args))) => {
            return config_show::run(settings, args.format);
        }
        // Reading runs back needs no plugin.
        Some(Command::Results(args)) => return results::run(&args, settings),
        Some(Command::Compare(args)) => return compare::run(&args, settings),
        Some(Command::Report(args)) => return report::run(&args, settings),
        Some(Command::Status(args)) => return status::run(&args, settings),
        Some(command) => command,
        None => return list::run(settings),
    };
    let mut registry = crate::plugin::builtins::registry();
    registry.set_plugins(Catalog::discover(
        &cli.plugins,
        &settings.plugin_path().value,
    ));
    if !matches!(command, Command::Plugins(_)) {
        plugins::check_flagged(&registry)?;
    }
    match command {
        Command::Config(ConfigCommand::Explain(args)) => explain::run(&args, &registry, settings),
        Command::Eval(args) => eval::run(&args, &registry, settings),
        Command::Serve(args) => serve::run(&args, &registry, settings),
        Command::Envs(command) => envs::run(command, &registry),
        Command::Plugins(command) => plugins::run(command, &registry),
        Command::Keep { .. }
        | Command::Results(_)
        | Command::Compare(_)
        | Command::Report(_)
        | Command::Status(_)
        | Command::Completions(_)
        | Command::External(_)
        | Command::Config(ConfigCommand::Show(_)) => unreachable!("handled above"),
    }
}
