//! Operations: what a command does, below the command line's parsing. Eval (for one model or a
//! suite: preflight, checks, each model's run, the suite's record, dry run, submission to
//! Slurm), serve, the server both share, asking backends for plans, where a run stands, the
//! Python environments servers ask for, and looking at plugins. Each takes plain options, never
//! the command line's argument structs.

pub mod budget;
pub mod check_cache;
pub mod envs;
pub mod eval;
pub mod planning;
pub mod plugins;
pub mod questions;
pub mod serve;
pub mod server;
pub mod status;
