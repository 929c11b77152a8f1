//! Which runs a command means: the runs under folders (`results`, `report`), the folder a run id
//! or path names (`status`, `compare`), and the one model run of it that `compare` takes.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::leaderboard::Leaderboard;
use crate::settings::Settings;
use crate::store::read::{Found, StoredRun, warn};
use crate::util::bad_input::bad_input;

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

/// The run `spec` names: a model run folder, a run-id folder, or a run id under `output_dir`;
/// `model` picks one of a run-id folder's models. Warnings about its files are printed.
pub fn locate(spec: &str, model: Option<&str>, output_dir: &Path) -> Result<StoredRun> {
    let dir = run_folder(spec, output_dir)?;
    let found = Found::read(std::slice::from_ref(&dir));
    warn(&found.warnings);
    let names: Vec<&str> = found.runs.iter().map(|r| r.short_name.as_str()).collect();
    let mut picked: Vec<&StoredRun> = found
        .runs
        .iter()
        .filter(|r| model.is_none_or(|m| r.short_name == m || r.model == m))
        .collect();
    match (picked.len(), model) {
        (1, _) if !picked[0].recorded => Err(bad_input(format!(
            "{}: holds no run of `{}` (its suite lists it as {}); nothing to compare",
            dir.display(),
            picked[0].short_name,
            picked[0].status
        ))),
        (1, _) => Ok(picked.remove(0).clone()),
        (0, None) => Err(bad_input(format!("{}: no run in it", dir.display()))),
        (0, Some(m)) => Err(bad_input(format!(
            "{}: no model `{m}` in it; its models: {}",
            dir.display(),
            names.join(", ")
        ))),
        (_, _) => Err(bad_input(format!(
            "{}: holds several runs ({}); choose one with --model",
            dir.display(),
            names.join(", ")
        ))),
    }
}
