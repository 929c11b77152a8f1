//! Tests of the `benchy` binary, run the way a user runs it: one test binary, one harness.

mod harness;
#[path = "../support/plugin_libraries.rs"]
mod plugin_libraries;

mod bad_input;
mod explain;
mod hf;
mod plugins;
mod reference;
mod serve;
mod vllm_cpu;
