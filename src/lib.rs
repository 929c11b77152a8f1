//! benchy, the host: the command line, the operations it runs (eval, serve), the Slurm
//! executor, reading runs back, the run folder's store, the proof (verification and the wire
//! audit), resolution, the runner that alone spawns processes, Python environments, settings and
//! run configs, the plugin host, and the leaves under them all. Plugins compile against
//! benchy-core alone; this crate is what runs them.
//!
//! The modules are layers, top to bottom in the order below: a module uses only its own layer
//! or those below it (`ARCHITECTURE.md` is the map; `tests/layers` holds the rule). It is a
//! library as well as the `benchy` binary so that tests and benchmarks drive the same plugin
//! host, proxy, audit, `/proc` reader and waiting the binary uses.

// Every write to stdout and stderr goes through `util::stdio`, which a closed pipe cannot panic.
#![deny(clippy::print_stdout, clippy::print_stderr)]

// The face: clap, one thin file per command, exit codes.
mod cli;
// Operations: eval (preflight, checks, a model's run, the suite, dry run, submit), serve.
mod ops;
// The Slurm executor.
mod slurm;
// Runs read back and what is made of them: leaderboard, compare, report, standing.
mod results;
// The run folder: its layout, schema, records, locks and reading back.
pub mod store;
// Proof: verification of what the evaluator recorded, and the wire audit.
pub mod proof;
// Resolution, the runner, Python environments.
mod envs;
mod resolution;
mod runner;
// Settings files and run configs.
mod run_config;
mod settings;
// The plugin host.
pub mod plugin;
// Leaves.
pub mod cache;
pub mod proxy;
pub mod util;

pub use cli::main;
