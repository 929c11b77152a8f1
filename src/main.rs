//! The `benchy` binary: a thin entry point; everything lives in the modules below.

mod atomic;
mod builtins;
mod cli;
mod commands;
mod failure;
mod outputs;
mod planning;
mod resolution;
mod runner;
mod table;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    runner::init_logging();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => failure::report(&err),
    }
}
