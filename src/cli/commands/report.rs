//! `benchy report`: one self-contained HTML page of the runs under the given folders.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ReportArgs;
use crate::results::find::{read_runs, warnings};
use crate::results::leaderboard::Leaderboard;
use crate::results::report;
use crate::results::scoring::Scoring;
use crate::settings::Settings;
use crate::store::read::warn;
use crate::util::atomic::write_atomic;
use crate::util::stdio::outln;

pub fn run(args: &ReportArgs, settings: &Settings) -> Result<ExitCode> {
    let scoring = Scoring::resolve(&args.scoring.options(), settings)?;
    let found = read_runs(&args.paths, settings)?;
    let board = Leaderboard::build(&found.runs, scoring);
    let warnings = warnings(&found, &board);
    warn(&warnings);
    let out = std::path::absolute(&args.out)?;
    write_atomic(&out, report::html(&board, &warnings, &out).as_bytes())?;
    outln!(
        "Wrote {} ({} runs, {} rows, {} tasks)",
        out.display(),
        board.runs.len(),
        board.rows.len(),
        board.columns.len()
    );
    Ok(ExitCode::SUCCESS)
}
