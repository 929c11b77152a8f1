//! `benchy compare A B`: two runs of a model side by side (see [`crate::results::compare`]);
//! with `--fail-on-regression`, exit 1 when a metric dropped by more than allowed.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::results::run_folder;
use crate::cli::{CompareArgs, Format};
use crate::failure::{bad_input, exit};
use crate::results::compare::Comparison;
use crate::results::read::warn;
use crate::results::read::{Found, StoredRun};
use crate::settings::Settings;

pub fn run(args: &CompareArgs, settings: &Settings) -> Result<ExitCode> {
    let output_dir = settings.output_dir_or(args.output_dir.as_deref());
    let a = locate(&args.a, args.model.as_deref(), &output_dir)?;
    let b = locate(&args.b, args.model.as_deref(), &output_dir)?;
    let comparison = Comparison::of(&a, &b);
    let mut regressions = Vec::new();
    for check in &args.fail_on_regression {
        regressions.extend(comparison.regressions(check).map_err(bad_input)?);
    }
    let text = match args.format {
        Format::Table => comparison.text(),
        Format::Json => serde_json::to_string_pretty(&comparison.json(&regressions))? + "\n",
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    for regression in &regressions {
        eprintln!("regression: {regression}");
    }
    Ok(if regressions.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILED)
    })
}

/// The run `spec` names: a model run folder, a run-id folder, or a run id under `output_dir`;
/// `model` picks one of a run-id folder's models. Warnings about its files are printed.
fn locate(spec: &str, model: Option<&str>, output_dir: &std::path::Path) -> Result<StoredRun> {
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
