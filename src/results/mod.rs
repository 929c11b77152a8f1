//! Runs read back and what benchy makes of them: the leaderboard (`benchy results`), the
//! comparison of two runs (`benchy compare`), the HTML report (`benchy report`) and how a run
//! stands, model by task (`benchy status`). Reading is the store's ([`crate::store::read`]);
//! everything here works on what it read.

pub mod chart;
pub mod compare;
pub mod export;
pub mod find;
pub mod leaderboard;
pub mod render;
pub mod report;
pub mod scoring;
pub mod setup;
pub mod standing;
