//! How a resolution is shown: every resolved value with its source, for the run and for each
//! task whose parameters differ (`benchy config explain`, `--dry-run`).

use benchy_core::Resolved;
use serde_json::{Map, Value as Json};

use super::{Resolution, describe_layers};
use crate::util::table;

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

/// The tasks whose set is not the run's: other values or sources, or a value of their own that
/// normalization replaced (their notes say so).
fn differing_tasks(resolution: &Resolution) -> impl Iterator<Item = (&str, &Resolved)> {
    let run = &resolution.run;
    resolution
        .tasks
        .iter()
        .filter(|t| t.resolved.params != run.params || t.resolved.notes != run.notes)
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
        for note in resolved
            .notes
            .iter()
            .filter(|n| !resolution.run.notes.contains(n))
        {
            out += &format!("  note: {}\n", note.message);
        }
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
    use crate::resolution::sets::parse_sets;

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
