//! The face: the command line (every command, flag and help text, in [`args`]), one thin file
//! per command, aliases and external commands, and how an outcome becomes the exit code. The
//! only place that knows clap: below it, operations take plain options.

mod alias;
pub mod args;
mod commands;
pub mod exit;
mod external;
mod help;
mod list;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;

use crate::plugin::{Catalog, Registry};
use crate::settings::Settings;
use crate::util::bad_input::bad_input;
use crate::util::notes;
use crate::util::secrets;
use args::{Cli, Command, ConfigCommand, ExportCommand};
use commands::{
    cache, compare, completions, config_show, envs, eval, explain, export, plugins, report,
    results, serve, status,
};

/// The `benchy` command: parses the command line, runs the command, and turns its outcome into
/// the exit code (see [`exit`]).
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let outcome = match help::other_command(&args) {
        Some(name) => prepare().and_then(|settings| help::run(&name, &args, &settings)),
        None => run(Cli::parse_args(&args), &args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}

/// The settings files read and applied before any command runs: `[env]` set, benchy's home
/// checked, logging started, secrets registered, aliases a built-in shadows dropped, and what
/// the files had to say printed.
fn prepare() -> Result<Settings> {
    let mut settings = Settings::load()?;
    // Before any thread starts, and before secrets are read from the environment.
    settings.apply_env();
    crate::util::env_vars::check_benchy_home()?;
    // After `[env]`, which may set BENCHY_LOG.
    crate::runner::init_logging();
    secrets::register_environment();
    alias::drop_shadowed(&mut settings);
    notes::print(&settings.warnings);
    Ok(settings)
}

/// Runs the command `cli` parsed from `args` (the whole command line, for alias expansion).
fn run(cli: Cli, args: &[OsString]) -> Result<ExitCode> {
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
    let settings = prepare()?;
    let cli = match cli.command {
        Some(Command::External(words)) => match alias::expand(&words, args, &settings)? {
            Some(expanded) => Cli::parse_args(&expanded),
            None => return external::run(&words, &cli.plugins, &settings),
        },
        _ => cli,
    };
    dispatch(cli, &settings)
}

fn dispatch(cli: Cli, settings: &Settings) -> Result<ExitCode> {
    // Listing and checking plugins is how a flagged one is looked at; any other command refuses
    // a `--plugin` file it could not load, whether it loads plugins or not.
    if !matches!(cli.command, Some(Command::Plugins(_))) {
        crate::ops::plugins::check_flagged(&cli.plugins)?;
    }
    let loaded = || registry(&cli.plugins, settings);
    match cli.command {
        None => list::run(settings),
        // An alias's command line is an external command's (never another alias).
        Some(Command::External(words)) => external::run(&words, &cli.plugins, settings),
        Some(Command::Completions(args)) => completions::run(args.shell),
        Some(Command::Config(ConfigCommand::Show(args))) => config_show::run(settings, args.format),
        // Reading runs back needs no plugin.
        Some(Command::Results(args)) => results::run(&args, settings),
        Some(Command::Compare(args)) => compare::run(&args, settings),
        Some(Command::Report(args)) => report::run(&args, settings),
        Some(Command::Export(ExportCommand::HfEvalResults(args))) => {
            export::hf_eval_results(&args, settings)
        }
        Some(Command::Cache(command)) => cache::run(&command, settings),
        Some(Command::Status(args)) => status::run(&args, settings),
        Some(Command::Config(ConfigCommand::Explain(args))) => {
            explain::EXPLAIN.run(&args, &loaded(), settings)
        }
        Some(Command::Config(ConfigCommand::Modes(args))) => {
            explain::MODES.run(&args, &loaded(), settings)
        }
        Some(Command::Eval(args)) => eval::run(&args, &loaded(), settings),
        Some(Command::Serve(args)) => serve::run(&args, &loaded(), settings),
        Some(Command::Envs(command)) => envs::run(command, &loaded()),
        // Listing and checking plugins is how a flagged one is looked at.
        Some(Command::Plugins(command)) => plugins::run(command, &loaded()),
        // Typed, the keeper started in `run`; only an alias's expansion gets here.
        Some(Command::Keep { .. }) => Err(bad_input(
            "`__keep` is benchy's own helper, started by benchy itself; an alias cannot run it",
        )),
    }
}

/// The built-in plugins and those found on the plugin path.
fn registry(flags: &[std::path::PathBuf], settings: &Settings) -> Registry {
    let mut registry = crate::plugin::builtins::registry();
    registry.set_plugins(Catalog::discover(flags, &settings.plugin_path().value));
    registry
}
