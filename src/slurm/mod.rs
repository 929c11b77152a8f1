//! The Slurm executor: a suite becomes one job array with one array task per model, each running
//! `benchy eval` for its model's run config on whatever node Slurm gives it.

pub mod options;
