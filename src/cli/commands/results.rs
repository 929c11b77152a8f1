//! `benchy results`: the leaderboard of the runs under the given folders, as a table, Markdown,
//! CSV or JSON, and with `--out` as `leaderboard_table.json` and `.csv`, the Python tool's
//! files.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{ResultsArgs, TableFormat};
use crate::results::find::{read_runs, warnings};
use crate::results::leaderboard::Leaderboard;
use crate::results::render;
use crate::results::scoring::Scoring;
use crate::settings::Settings;
use crate::store::layout::{LEADERBOARD_CSV, LEADERBOARD_JSON};
use crate::store::read::warn;
use crate::util::atomic::write_atomic;
use crate::util::stdio;

pub fn run(args: &ResultsArgs, settings: &Settings) -> Result<ExitCode> {
    let scoring = Scoring::resolve(&args.scoring.options(), settings)?;
    let found = read_runs(&args.paths, settings)?;
    let board = Leaderboard::build(&found.runs, scoring);
    warn(&warnings(&found, &board));
    if let Some(dir) = &args.out {
        write_atomic(&dir.join(LEADERBOARD_JSON), render::json(&board).as_bytes())?;
        write_atomic(&dir.join(LEADERBOARD_CSV), render::csv(&board).as_bytes())?;
    }
    let text = match args.format {
        TableFormat::Table => render::table(&board),
        TableFormat::Markdown => render::markdown(&board),
        TableFormat::Csv => render::csv(&board),
        TableFormat::Json => render::json(&board),
    };
    stdio::write_out(&text);
    Ok(ExitCode::SUCCESS)
}
