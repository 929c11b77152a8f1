//! `benchy config explain`: the resolved generation parameters with the source of every value,
//! per task where tasks override.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{ExplainArgs, Format};
use crate::plugin::Registry;
use crate::resolution::explain::{explain_json, explain_table};
use crate::resolution::resolve;
use crate::settings::Settings;
use crate::util::notes;
use crate::util::stdio;

pub fn run(args: &ExplainArgs, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    let config = args.resolve.single_config("config explain")?;
    let resolution = resolve(config, &args.resolve.options(), registry, settings)?;
    notes::print(&resolution.diagnostics);
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&explain_json(&resolution))? + "\n",
        Format::Table => explain_table(&resolution),
    };
    stdio::write_out(&text);
    Ok(ExitCode::SUCCESS)
}
