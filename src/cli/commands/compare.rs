//! `benchy compare A B`: two runs of a model side by side (see [`crate::results::compare`]);
//! with `--fail-on-regression`, exit 1 when a metric dropped by more than allowed.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{CompareArgs, Format};
use crate::cli::exit;
use crate::results::compare::Comparison;
use crate::results::find::locate;
use crate::settings::Settings;
use crate::util::bad_input::bad_input;
use crate::util::stdio;
use crate::util::stdio::errln;

pub fn run(args: &CompareArgs, settings: &Settings) -> Result<ExitCode> {
    let output_dir = settings.output_dir_or(args.output_dir.as_deref());
    let a = locate(&args.a, args.model.as_deref(), &output_dir)?;
    let b = locate(&args.b, args.model.as_deref(), &output_dir)?;
    let comparison = Comparison::of(&a, &b);
    let mut regressions = Vec::new();
    for check in &args.fail_on_regression {
        let found = comparison.regressions(check, args.allow_missing);
        regressions.extend(found.map_err(bad_input)?);
    }
    let text = match args.format {
        Format::Table => comparison.text(),
        Format::Json => serde_json::to_string_pretty(&comparison.json(&regressions))? + "\n",
    };
    stdio::write_out(&text);
    for regression in &regressions {
        errln!("regression: {regression}");
    }
    Ok(if regressions.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILED)
    })
}
