//! `benchy config explain`: the resolved generation parameters with the source of every value,
//! per task where tasks override.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use benchy_core::Resolved;
use serde_json::{Map, Value as Json};

use crate::cli::{ExplainArgs, Format};
use crate::notes;
use crate::plugin::Registry;
use crate::resolution::{Resolution, describe_layers, resolve};
use crate::settings::Settings;
use crate::table;

pub fn run(args: &ExplainArgs, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    let resolution = resolve(
        args.resolve.single_config("config explain")?,
        &args.resolve,
        registry,
        settings,
    )?;
    notes::print(&resolution.diagnostics);
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&explain_json(&resolution))? + "\n",
        Format::Table => explain_table(&resolution),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `{"resolved": {...}, "tasks": {name: {...}}}`, with `tasks` holding only the tasks whose
/// parameters differ from the run's, as documented in the README.
pub fn explain_json(resolution: &Resolution) -> Json {
    let mut out = Map::new();
    out.insert("resolved".into(), resolution.run.to_json());
    let differing: Map<String, Json> = differing_tasks(resolution)
        .map(|(name, resolved)| (name.to_owned(), resolved.to_json()))
        .collect();
    if !differing.is_empty() {
        out.insert("tasks".into(), Json::Object(differing));
    }
    Json::Object(out)
}

fn differing_tasks(resolution: &Resolution) -> impl Iterator<Item = (&str, &Resolved)> {
    resolution
        .tasks
        .iter()
        .filter(|t| t.resolved.params != resolution.run.params)
        .map(|t| (t.name.as_str(), &t.resolved))
}

pub fn explain_table(resolution: &Resolution) -> String {
    let layers = describe_layers(resolution);
    let layers = if layers.is_empty() {
        "none (every value below is a default)".to_owned()
    } else {
        layers.join(" < ")
    };
    let mut out = format!(
        "Generation parameters for {}\nlayers, later wins: {layers}\n\n",
        resolution.config.model.name
    );
    out += &params_table(&resolution.run);
    for (name, resolved) in differing_tasks(resolution) {
        out += &format!("\nTask {name}:\n");
        out += &params_table(resolved);
    }
    for layer in &resolution.source_layers {
        if !layer.ignored.is_empty() {
            out += &format!(
                "\nIgnored from {} (not sampling parameters): {}\n",
                layer.source,
                layer.ignored.join(", ")
            );
        }
    }
    out
}

fn params_table(resolved: &Resolved) -> String {
    let rows: Vec<Vec<String>> = resolved
        .params
        .iter()
        .map(|(key, p)| vec![key.to_string(), p.value.to_string(), p.source.to_string()])
        .collect();
    table::render(&["parameter", "value", "source"], &rows)
}

#[cfg(test)]
mod tests {
    use benchy_core::{merge, normalize};
    use proptest::prelude::*;

    use super::*;
    use crate::resolution::parse_sets;

    proptest! {
        /// Any `--set` text, control characters and all, is either refused naming the flag or
        /// resolved and printed: never a panic.
        #[test]
        fn any_set_flags_are_refused_or_printed(
            sets in prop::collection::vec("\\PC{0,30}=\\PC{0,30}|.{0,60}", 0..6),
        ) {
            match parse_sets(&sets) {
                Err(error) => prop_assert!(error.to_string().contains("--set"), "{}", error),
                Ok(layer) => {
                    let resolved = normalize(merge(layer.iter()));
                    let table = params_table(&resolved);
                    prop_assert!(table.starts_with("  parameter"));
                }
            }
        }
    }
}
