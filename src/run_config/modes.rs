//! Modes: a thinking model's presets, each with the chat template's switch that chooses it
//! (`enable_thinking`, `thinking`, `reasoning_effort`, a system prompt). A run config defines
//! its own under `modes:` and chooses one with `mode:` (for the run) or a task's `mode:`;
//! `--mode` chooses over both. A name the run config does not define is looked up in the
//! catalog of known families ([`super::catalog`]).

use std::collections::BTreeMap;

use benchy_core::layer::{Entry, Layer, SourceRef};
use benchy_core::params::Key;
use benchy_source_yaml::yaml;
use serde_json::Value as Json;
use serde_saphyr::Spanned;

use super::raw::RawMode;
use super::{ConfigError, RunConfig, catalog};

/// What closes the reasoning when a mode does not say: the tag every `<think>` family uses.
pub const DEFAULT_THINK_END: &str = "</think>";

/// Template variables that switch thinking on or off by their truth, as families name them.
const THINKING_SWITCHES: [&str; 3] = ["enable_thinking", "thinking", "thinking_mode"];

/// A mode, checked.
#[derive(Clone, Debug)]
pub struct Mode {
    pub name: String,
    /// Where it is defined, for messages and the record: `run.yaml:12`, or a catalog file and
    /// line.
    pub defined_in: String,
    /// The preset and the switch as one layer, its source `mode:NAME (where)`.
    pub layer: Layer,
    pub system_prompt: Option<String>,
    /// The model reasons before it answers in this mode.
    pub thinks: bool,
    pub think_end: String,
    /// The card the preset was read from and when, as a catalog names them.
    pub card: Option<String>,
    pub read: Option<String>,
}

/// Which mode a run or task asked for, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenMode {
    pub name: String,
    /// `--mode`, or the file and line of the `mode:` key.
    pub chosen_by: String,
}

impl Mode {
    /// The mode `name` as written at `defined_in` (`origin` names the file in errors).
    pub(super) fn read(
        name: &str,
        raw: &Spanned<RawMode>,
        origin: &str,
        defined_in: String,
    ) -> Result<Mode, ConfigError> {
        let line = raw.referenced.line();
        check_name(name, origin, line)?;
        let raw = &raw.value;
        let source = SourceRef::new("mode", format!("{name} ({defined_in})"));
        let mut layer = match &raw.generation {
            Some(mapping) => yaml::mapping_layer(mapping, source, origin)?,
            None => Layer::new(source),
        };
        let invalid = |line: u64, key: &str, problem: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            line: Some(line),
            key: format!("modes.{name}.{key}"),
            problem,
        };
        if let Some(kwargs) = &raw.chat_template_kwargs {
            let line = kwargs.referenced.line();
            let value = Key::ChatTemplateKwargs
                .check(&kwargs.value)
                .map_err(|e| invalid(line, "chat_template_kwargs", e.problem))?;
            set_once(&mut layer, Key::ChatTemplateKwargs, value)
                .map_err(|p| invalid(line, "chat_template_kwargs", p))?;
        }
        if let Some(effort) = &raw.reasoning_effort {
            let line = effort.referenced.line();
            let key = Key::Extra("reasoning_effort".into());
            let value = key
                .check(&Json::String(effort.value.clone()))
                .map_err(|e| invalid(line, "reasoning_effort", e.problem))?;
            set_once(&mut layer, key, value).map_err(|p| invalid(line, "reasoning_effort", p))?;
        }
        let thinks = raw.thinks.unwrap_or_else(|| thinks_by_switch(&layer));
        Ok(Mode {
            name: name.to_owned(),
            defined_in,
            layer,
            system_prompt: raw.system_prompt.clone(),
            thinks,
            think_end: raw
                .think_end
                .clone()
                .unwrap_or_else(|| DEFAULT_THINK_END.to_owned()),
            card: raw.card.clone(),
            read: raw.read.clone(),
        })
    }

    /// The template variables the mode sets.
    pub fn template_kwargs(&self) -> Vec<String> {
        match self.layer.entries.get(&Key::ChatTemplateKwargs) {
            Some(Entry::Set(value)) => value
                .to_json()
                .as_object()
                .map(|kwargs| kwargs.keys().cloned().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// A mode that does not say whether it thinks is taken at its switch's word: a thinking switch
/// set true, or a reasoning effort, thinks.
fn thinks_by_switch(layer: &Layer) -> bool {
    let set = |key: &Key| match layer.entries.get(key) {
        Some(Entry::Set(value)) => Some(value.to_json()),
        _ => None,
    };
    let kwargs = set(&Key::ChatTemplateKwargs).unwrap_or(Json::Null);
    let switched_on = THINKING_SWITCHES
        .iter()
        .any(|name| kwargs.get(name).and_then(Json::as_bool) == Some(true));
    switched_on
        || kwargs.get("reasoning_effort").is_some()
        || set(&Key::Extra("reasoning_effort".into())).is_some()
}

/// Sets `key` unless the mode's `generation:` already did: one value, one place.
fn set_once(layer: &mut Layer, key: Key, value: benchy_core::ParamValue) -> Result<(), String> {
    if layer.entries.contains_key(&key) {
        return Err(format!(
            "`{key}` is also in the mode's `generation:`; give it once, beside `generation:`"
        ));
    }
    layer.entries.insert(key, Entry::Set(value));
    Ok(())
}

/// A mode's name is shown in tables and setups: letters, digits, `-`, `_` and `.`.
fn check_name(name: &str, origin: &str, line: u64) -> Result<(), ConfigError> {
    let fine = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if fine {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        origin: origin.to_owned(),
        line: Some(line),
        key: "modes".into(),
        problem: format!("{name:?} is not a mode name: use letters, digits, `-`, `_` and `.`"),
    })
}

/// The run config's own modes, by name.
pub(super) fn read_modes(
    raw: &BTreeMap<String, Spanned<RawMode>>,
    origin: &str,
) -> Result<Vec<Mode>, ConfigError> {
    raw.iter()
        .map(|(name, mode)| {
            let defined_in = format!("{origin}:{}", mode.referenced.line());
            Mode::read(name, mode, origin, defined_in)
        })
        .collect()
}

/// A `mode:` key as a choice.
pub(super) fn chosen(raw: Option<&Spanned<String>>, origin: &str) -> Option<ChosenMode> {
    raw.map(|mode| ChosenMode {
        name: mode.value.clone(),
        chosen_by: format!("{origin}:{}", mode.referenced.line()),
    })
}

impl RunConfig {
    /// Every mode this run's model has: the run config's, then the catalog's for the model
    /// that the run config does not redefine.
    pub fn modes(&self) -> Vec<Mode> {
        let mut modes = self.modes.clone();
        if let Some(family) = catalog::for_model(&self.model.short_name()) {
            for mode in &family.modes {
                if !modes.iter().any(|m| m.name == mode.name) {
                    modes.push(mode.clone());
                }
            }
        }
        modes
    }

    /// The mode `chosen` names, or bad input naming where it was chosen and the modes there are.
    pub fn mode(&self, chosen: &ChosenMode) -> Result<Mode, ConfigError> {
        let modes = self.modes();
        if let Some(mode) = modes.iter().find(|m| m.name == chosen.name) {
            return Ok(mode.clone());
        }
        let known: Vec<&str> = modes.iter().map(|m| m.name.as_str()).collect();
        let known = if known.is_empty() {
            format!(
                "{} has none: define one under `modes:` in the run config",
                self.model.name
            )
        } else {
            format!("{} has: {}", self.model.name, known.join(", "))
        };
        Err(ConfigError::Invalid {
            origin: chosen.chosen_by.clone(),
            line: None,
            key: "mode".into(),
            problem: format!("unknown mode `{}`; {known}", chosen.name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Mode>, ConfigError> {
        let raw: BTreeMap<String, Spanned<RawMode>> = yaml::from_str(text, "m.yaml").unwrap();
        read_modes(&raw, "run.yaml")
    }

    #[test]
    fn a_mode_is_one_layer_of_its_preset_and_switch_with_its_source() {
        let modes = read(
            "instruct:\n  chat_template_kwargs: {enable_thinking: false}\n  generation: \
             {temperature: 0.7, top_k: 20}\nthinking:\n  chat_template_kwargs: \
             {enable_thinking: true}\n",
        )
        .unwrap();
        let instruct = &modes[0];
        assert_eq!(
            instruct.layer.source.to_string(),
            "mode:instruct (run.yaml:2)"
        );
        assert_eq!(instruct.layer.entries.len(), 3);
        assert_eq!(instruct.template_kwargs(), ["enable_thinking"]);
        assert!(!instruct.thinks);
        assert!(modes[1].thinks);
        assert_eq!(modes[1].think_end, "</think>");
    }

    #[test]
    fn bad_modes_name_the_file_line_and_key() {
        let err = read("a:\n  chat_template_kwargs: true\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("run.yaml:2: `modes.a.chat_template_kwargs`:"),
            "{err}"
        );
        let err = read(
            "a:\n  chat_template_kwargs: {x: 1}\n  generation: {chat_template_kwargs: {x: 2}}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("give it once"), "{err}");
        let err = read("a b:\n  thinks: true\n").unwrap_err().to_string();
        assert!(err.contains("not a mode name"), "{err}");
        let err =
            yaml::from_str::<BTreeMap<String, Spanned<RawMode>>>("a:\n  temprature: 1\n", "m.yaml")
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("m.yaml:2:") && err.contains("temprature"),
            "{err}"
        );
    }
}
