//! Runs read back and what benchy makes of them: the leaderboard (`benchy results`), the
//! comparison of two runs (`benchy compare`), the HTML report (`benchy report`) and how a run
//! stands, model by task (`benchy status`). Reading is in one place ([`read`]); everything else
//! works on what it read.

pub mod chart;
pub mod compare;
pub mod leaderboard;
pub mod read;
pub mod render;
pub mod report;
pub mod scoring;
pub mod setup;
pub mod standing;
