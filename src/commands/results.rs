//! `benchy results`: the leaderboard of the runs under the given folders, as a table, Markdown,
//! CSV or JSON, and with `--out` as `leaderboard_table.json` and `.csv`, the Python tool's
//! files. Also how `compare`, `status` and `report` find runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::atomic::write_atomic;
use crate::cli::{ResultsArgs, TableFormat};
use crate::failure::bad_input;
use crate::results::leaderboard::Leaderboard;
use crate::results::read::{Found, warn};
use crate::results::render;
use crate::results::scoring::Scoring;
use crate::settings::Settings;

pub fn run(args: &ResultsArgs, settings: &Settings) -> Result<ExitCode> {
    let scoring = Scoring::resolve(&args.scoring, settings)?;
    let found = read_runs(&args.paths, settings)?;
    let board = Leaderboard::build(&found.runs, scoring);
    warn(&warnings(&found, &board));
    if let Some(dir) = &args.out {
        write_atomic(
            &dir.join("leaderboard_table.json"),
            render::json(&board).as_bytes(),
        )?;
        write_atomic(
            &dir.join("leaderboard_table.csv"),
            render::csv(&board).as_bytes(),
        )?;
    }
    let text = match args.format {
        TableFormat::Table => render::table(&board),
        TableFormat::Markdown => render::markdown(&board),
        TableFormat::Csv => render::csv(&board),
        TableFormat::Json => render::json(&board),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The runs under `paths` (default: the `output_dir` setting); a path that is no folder, or
/// folders without any run, are bad input.
pub fn read_runs(paths: &[PathBuf], settings: &Settings) -> Result<Found> {
    let paths = if paths.is_empty() {
        vec![settings.output_dir_or(None)]
    } else {
        paths.to_vec()
    };
    for path in &paths {
        if !path.is_dir() {
            return Err(bad_input(format!("{}: no such folder", path.display())));
        }
    }
    let found = Found::read(&paths);
    if found.runs.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(bad_input(format!("no runs under {}", shown.join(", "))));
    }
    Ok(found)
}

/// Every file that could not be used and every metric that could not be found.
pub fn warnings(found: &Found, board: &Leaderboard) -> Vec<String> {
    found
        .warnings
        .iter()
        .chain(&board.warnings)
        .cloned()
        .collect()
}

/// The folder `spec` names: a folder, else a run id under `output_dir`; neither is bad input.
pub fn run_folder(spec: &str, output_dir: &Path) -> Result<PathBuf> {
    let given = Path::new(spec);
    let dir = if given.is_dir() {
        given.to_owned()
    } else {
        output_dir.join(spec)
    };
    if !dir.is_dir() {
        return Err(bad_input(format!(
            "{spec}: neither a run folder nor a run id under {}",
            output_dir.display()
        )));
    }
    Ok(dir)
}
