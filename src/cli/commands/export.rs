//! `benchy export hf-eval-results`: runs' results as the Hugging Face Hub's model evaluation
//! results files.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ExportArgs;
use crate::results::export;
use crate::results::find::read_runs;
use crate::settings::Settings;
use crate::store::read::{TaskState, warn};
use crate::util::bad_input::bad_input;
use crate::util::stdio::outln;

pub fn hf_eval_results(args: &ExportArgs, settings: &Settings) -> Result<ExitCode> {
    let found = read_runs(&args.paths, settings)?;
    warn(&found.warnings);
    let unfinished: Vec<String> = found
        .runs
        .iter()
        .filter(|r| !r.tasks.iter().any(|t| t.state == TaskState::Done))
        .map(|r| r.dir.display().to_string())
        .collect();
    if !unfinished.is_empty() {
        return Err(bad_input(format!(
            "no finished task to export in {}",
            unfinished.join(", ")
        )));
    }
    let exported = export::hf_eval_results(&found.runs, &args.out)?;
    warn(
        &exported
            .left_out
            .iter()
            .map(|why| format!("left out {why}"))
            .collect::<Vec<_>>(),
    );
    for file in &exported.files {
        outln!("{}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}
