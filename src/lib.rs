//! benchy, the host: the command line, run configs, plugin loading (discovery, manifests, the
//! loader, the registry and the adapters that drive a loaded plugin through benchy-core's
//! traits), settings files, external commands and aliases, the runner that alone spawns and
//! supervises processes, and the run's record on disk. Plugins compile against benchy-core
//! alone; this crate is what runs them.
//!
//! It is a library as well as the `benchy` binary so that tests and benchmarks drive the same
//! plugin host, `/proc` reader and waiting the binary uses.

mod atomic;
pub mod audit;
mod check_cache;
mod cli;
mod commands;
pub mod env_vars;
mod envs;
mod failure;
mod file_lock;
mod notes;
mod ownership;
mod planning;
pub mod plugin;
pub mod poll;
pub mod procfs;
pub mod proxy;
mod resolution;
mod results;
mod resume;
mod run_config;
mod run_folder;
pub mod run_lock;
mod run_record;
mod runner;
mod secrets;
mod server_url;
mod settings;
mod slurm;
mod suggest;
mod suite;
mod summary;
mod table;
mod verification;
mod wire_audit;

use std::ffi::OsString;
use std::process::ExitCode;

/// The `benchy` command: parses the command line, runs the command, and turns its outcome into
/// the exit code (see [`failure`]).
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = cli::Cli::parse_args(&args);
    match commands::run(cli, &args) {
        Ok(code) => code,
        Err(err) => failure::report(&err),
    }
}
