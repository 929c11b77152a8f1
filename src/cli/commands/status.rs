//! `benchy status [RUN]`: where a run stands, model by task (see [`crate::ops::status`]).
//! `--missing` lists what is not done and exits 1 when anything is.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::StatusArgs;
use crate::cli::exit;
use crate::ops::status::standing;
use crate::results::standing::{self as report, ModelStanding, Standing};
use crate::settings::Settings;
use crate::util::stdio::{out, outln};
use crate::util::table;

pub fn run(args: &StatusArgs, settings: &Settings) -> Result<ExitCode> {
    let output_dir = settings.output_dir_or(args.output_dir.as_deref());
    let run = standing(args.run.as_deref(), &output_dir)?;
    let job = run
        .job
        .map(|id| format!(" (Slurm job {id})"))
        .unwrap_or_default();
    outln!("Run {}{job}\n", run.dir.display());
    if args.missing {
        return Ok(missing(&run.models));
    }
    outln!("{}", report::report(&run.models));
    Ok(ExitCode::SUCCESS)
}

/// Every task that is not done, a line each; exit 1 when there is one.
fn missing(models: &[ModelStanding]) -> ExitCode {
    let rows: Vec<Vec<String>> = models
        .iter()
        .flat_map(|m| {
            let open = m.tasks.iter().filter(|(_, s)| *s != Standing::Done);
            open.map(|(task, s)| vec![m.model.clone(), task.clone(), s.word().to_owned()])
        })
        .collect();
    if rows.is_empty() {
        let models = table::counted(models.len(), "model");
        outln!("Nothing missing: every task of {models} is done");
        return ExitCode::SUCCESS;
    }
    out!("{}", table::render(&["model", "task", "standing"], &rows));
    ExitCode::from(exit::FAILED)
}
