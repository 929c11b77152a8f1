//! Tests of the `benchy` binary, run the way a user runs it: one test binary, one harness.

mod harness;

mod explain;
mod serve;
mod vllm_cpu;
