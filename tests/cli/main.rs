//! Tests of the `benchy` binary, run the way a user runs it: one test binary, one harness.

mod harness;

mod bad_input;
mod explain;
mod hf;
mod reference;
mod serve;
mod vllm_cpu;
