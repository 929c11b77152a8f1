//! One thin file per command: its parsed arguments made into the options of the operation
//! below, the operation run, and what it returns printed.

pub mod cache;
pub mod compare;
pub mod completions;
pub mod config_show;
pub mod envs;
pub mod eval;
pub mod explain;
pub mod export;
pub mod plugins;
pub mod report;
pub mod results;
pub mod serve;
pub mod status;
