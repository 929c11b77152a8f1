//! `benchy config explain`: the resolved generation parameters with the source of every value,
//! per task where tasks override; `benchy config modes`: the modes the model has.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value as Json;

use crate::cli::args::{ExplainArgs, Format};
use crate::plugin::Registry;
use crate::resolution::explain::{explain_json, explain_table, modes_json, modes_table};
use crate::resolution::{Resolution, resolve};
use crate::settings::Settings;
use crate::util::notes;
use crate::util::stdio;

/// `benchy config explain`.
pub const EXPLAIN: Shown = Shown {
    command: "config explain",
    json: explain_json,
    table: explain_table,
};

/// `benchy config modes`.
pub const MODES: Shown = Shown {
    command: "config modes",
    json: modes_json,
    table: modes_table,
};

/// A command that resolves one run config and shows the resolution one way.
pub struct Shown {
    command: &'static str,
    json: fn(&Resolution) -> Json,
    table: fn(&Resolution) -> String,
}

impl Shown {
    pub fn run(
        &self,
        args: &ExplainArgs,
        registry: &Registry,
        settings: &Settings,
    ) -> Result<ExitCode> {
        let config = args.resolve.single_config(self.command)?;
        let resolution = resolve(config, &args.resolve.options(), registry, settings)?;
        notes::print(&resolution.diagnostics);
        let text = match args.format {
            Format::Json => serde_json::to_string_pretty(&(self.json)(&resolution))? + "\n",
            Format::Table => (self.table)(&resolution),
        };
        stdio::write_out(&text);
        Ok(ExitCode::SUCCESS)
    }
}
