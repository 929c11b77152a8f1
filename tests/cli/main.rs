//! Tests of the `benchy` binary, run the way a user runs it: one test binary, one harness.

mod harness;
#[path = "../support/workspace_builds.rs"]
mod workspace_builds;

mod bad_input;
mod before_start;
mod eval;
mod explain;
mod hf;
mod hostile;
mod plugins;
mod reference;
mod secrets;
mod serve;
mod usage;
mod vllm_cpu;
