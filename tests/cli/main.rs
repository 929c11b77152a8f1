//! Tests of the `benchy` binary, run the way a user runs it: one test binary, one harness.

mod harness;
#[path = "../support/workspace_builds.rs"]
mod workspace_builds;

mod answers;
mod backends;
mod bad_input;
mod before_start;
mod cache;
mod completions;
mod envs;
mod eval;
mod explain;
mod external;
mod hf;
mod hostile;
mod inspect;
mod layout;
mod misuse;
mod modes;
mod packing;
mod plugins;
mod promise;
mod reference;
mod results;
mod secrets;
mod serve;
mod settings;
mod slurm;
mod stored_runs;
mod suite;
mod trust;
mod usage;
mod vllm_cpu;
