//! How a resolution is shown: every resolved value with its source, for the run and for each
//! task whose parameters differ (`benchy config explain`, `--dry-run`).

use benchy_core::Resolved;
use serde_json::{Map, Value as Json, json};

use super::modes::ResolvedMode;
use super::template::ChatTemplate;
use super::{Resolution, describe_layers};
use crate::util::table;

/// `{"resolved": {...}, "tasks": {name: {...}}}`, with `tasks` holding only the tasks whose
/// parameters differ from the run's, as documented in the README.
pub fn explain_json(resolution: &Resolution) -> Json {
    let mut out = Map::new();
    out.insert("resolved".into(), resolution.run.to_json());
    if let Some(mode) = &resolution.mode {
        out.insert("mode".into(), mode_json(mode));
    }
    let differing: Map<String, Json> = differing_tasks(resolution)
        .map(|(task, resolved)| {
            let mut shown = resolved.to_json();
            if let Some(mode) = &task.mode {
                shown["mode"] = mode_json(mode);
            }
            (task.name.clone(), shown)
        })
        .collect();
    if !differing.is_empty() {
        out.insert("tasks".into(), Json::Object(differing));
    }
    Json::Object(out)
}

/// The tasks whose set is not the run's: other values or sources, or a value of their own that
/// normalization replaced (their notes say so).
fn differing_tasks(
    resolution: &Resolution,
) -> impl Iterator<Item = (&super::TaskResolution, &Resolved)> {
    let run = &resolution.run;
    resolution
        .tasks
        .iter()
        .filter(|t| t.resolved.params != run.params || t.resolved.notes != run.notes)
        .map(|t| (t, &t.resolved))
}

/// A chosen mode as JSON: its name, where it was defined and chosen, what it says of thinking.
fn mode_json(chosen: &ResolvedMode) -> Json {
    let mode = &chosen.mode;
    json!({
        "name": mode.name,
        "defined_in": mode.defined_in,
        "chosen_by": chosen.chosen_by,
        "thinks": mode.thinks,
        "system_prompt": mode.system_prompt,
    })
}

/// `Mode: thinking (chosen by --mode; defined in run.yaml:12); thinks, answers after </think>`.
fn mode_line(chosen: &ResolvedMode) -> String {
    let mode = &chosen.mode;
    let thinks = if mode.thinks {
        format!(
            "thinks: no stop string in its requests, answers after {:?}",
            mode.think_end
        )
    } else {
        "does not think".to_owned()
    };
    let mut line = format!(
        "Mode: {} (chosen by {}; defined in {}); {thinks}\n",
        mode.name, chosen.chosen_by, mode.defined_in
    );
    if let Some(prompt) = &mode.system_prompt {
        line += &format!("  system prompt: {prompt:?}\n");
    }
    line
}

pub fn explain_table(resolution: &Resolution) -> String {
    let layers = describe_layers(resolution);
    let layers = if layers.is_empty() {
        "none (every value below is a default)".to_owned()
    } else {
        layers.join(" < ")
    };
    let mut out = format!(
        "Generation parameters for {}\nlayers, later wins: {layers}\n",
        resolution.config.model.name
    );
    if let Some(template) = &resolution.chat_template {
        out += &format!("chat template: {}\n", template.origin);
    }
    out += &resolution.mode.as_ref().map(mode_line).unwrap_or_default();
    out += "\n";
    out += &params_table(&resolution.run);
    for (task, resolved) in differing_tasks(resolution) {
        out += &format!("\nTask {}:\n", task.name);
        if let Some(mode) = task.mode.as_ref().filter(|m| {
            resolution
                .mode
                .as_ref()
                .is_none_or(|run| run.mode.name != m.mode.name)
        }) {
            out += &mode_line(mode);
        }
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

/// `benchy config modes`: every mode the model has, where each is defined, whether it thinks,
/// its switch and preset, and which one the run chose; with what the template reads.
pub fn modes_table(resolution: &Resolution) -> String {
    let config = &resolution.config;
    let mut out = format!("Modes of {}\n", config.model.name);
    out += &match &resolution.chat_template {
        Some(artifact) => {
            let template = ChatTemplate::read(artifact);
            let switches = template.switches();
            format!(
                "chat template: {} (reads {})\n",
                template.origin,
                if switches.is_empty() {
                    "no thinking switch".to_owned()
                } else {
                    switches.join(", ")
                }
            )
        }
        None => "chat template: none read (the hf source reads it)\n".to_owned(),
    };
    if let Some(family) = crate::run_config::catalog::for_model(&config.model.short_name()) {
        out += &format!("catalog family: {} ({})\n", family.name, family.file);
    }
    let rows: Vec<Vec<String>> = config
        .modes()
        .iter()
        .map(|mode| {
            let preset: Vec<String> = mode
                .layer
                .entries
                .iter()
                .map(|(key, entry)| match entry {
                    benchy_core::Entry::Set(value) => format!("{key}={value}"),
                    benchy_core::Entry::Remove => format!("{key}=null"),
                })
                .collect();
            vec![
                mode.name.clone(),
                if mode.thinks { "yes" } else { "no" }.to_owned(),
                preset.join(" "),
                mode.defined_in.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        out += "\nno modes: define them under `modes:` in the run config\n";
    } else {
        out += "\n";
        out += &table::render(
            &["mode", "thinks", "switch and preset", "defined in"],
            &rows,
        );
    }
    let chosen = resolution
        .mode
        .as_ref()
        .map(|m| format!("{} (chosen by {})", m.mode.name, m.chosen_by));
    out + &format!(
        "\nchosen for the run: {}\n",
        chosen.unwrap_or_else(|| "none (use `mode:` or --mode)".to_owned())
    )
}

/// [`modes_table`] for scripts.
pub fn modes_json(resolution: &Resolution) -> Json {
    let modes: Vec<Json> = resolution
        .config
        .modes()
        .iter()
        .map(|mode| {
            json!({
                "name": mode.name,
                "defined_in": mode.defined_in,
                "thinks": mode.thinks,
                "think_end": mode.think_end,
                "system_prompt": mode.system_prompt,
                "params": benchy_core::merge([&mode.layer]).to_json(),
                "card": mode.card,
                "read": mode.read,
            })
        })
        .collect();
    json!({
        "model": resolution.config.model.name,
        "chat_template": resolution.chat_template.as_ref().map(|t| &t.origin),
        "modes": modes,
        "chosen": resolution.mode.as_ref().map(mode_json),
    })
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
