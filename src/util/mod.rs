//! The leaves: small pieces every layer may use and that use nothing of benchy's above them.
//! Atomic writes and bounded state reads, bad input, environment variable names, file locks,
//! diagnostics on stderr, file ownership, waiting, `/proc`, secrets, stdout and stderr without a
//! panic, "did you mean", tables and the wall clock.

pub mod atomic;
pub mod bad_input;
pub mod env_vars;
pub mod file_lock;
pub mod notes;
pub mod ownership;
pub mod poll;
pub mod procfs;
pub mod secrets;
pub mod stdio;
pub mod suggest;
pub mod table;
pub mod time;
