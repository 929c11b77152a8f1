//! Suites: many models in one command, one after another under one run id, each with its own
//! server, with the suite's own record beside the models' folders.

pub mod inputs;
pub mod record;
