//! A layer: the partial set of generation parameters one source supplies, with where it came
//! from, the raw artifact to keep, the keys it read but does not resolve, and its diagnostics.
//!
//! Two readings of a file exist, chosen by its format rather than by who supplies it:
//! - a JSON `generation_config.json` (Hub, `file:`, a site registry) follows transformers: `null`
//!   means "not set", keys other than the known sampling keys are ignored (token ids, beam
//!   search, Whisper tables...) and listed as such;
//! - a benchy mapping (YAML `generation:`, `--set`) is the user's own: `null` removes a key set
//!   by an earlier layer, and unknown keys are extras sent to every consumer as written.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::diagnostic::Diagnostic;
use crate::params::{InvalidParam, Key, ParamValue};
use crate::problem::Problem;

/// Where a layer came from: a kind (`hf`, `file`, `yaml`, `config`, `task`, `cli`, a plugin's
/// scheme...) and a detail such as a path or `repo@revision`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl SourceRef {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        SourceRef {
            kind: kind.into(),
            detail: Some(detail.into()),
        }
    }

    pub fn bare(kind: impl Into<String>) -> Self {
        SourceRef {
            kind: kind.into(),
            detail: None,
        }
    }
}

/// `kind` or `kind:detail`, the form used in `config explain` and the run record.
impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}:{detail}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// What a layer says about one key.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Set(ParamValue),
    /// An explicit `null` in a user's mapping: the key is removed from what earlier layers set.
    Remove,
}

/// A raw file a source read, kept for the run record (for instance the Hub's
/// `generation_config.json` at the commit it was resolved to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The file's name, e.g. `generation_config.json`.
    pub name: String,
    /// A path or URL a person can open.
    pub origin: String,
    /// The commit the file was read at, when the source knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The file as read, byte for byte (it is JSON or YAML, so UTF-8).
    pub text: String,
    /// This is the model's own generation config (the Hub's `generation_config.json`, or a copy
    /// of it): the run keeps it in its folder as `generation_config.json`. When several layers
    /// carry one, the one with the highest precedence is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub model_file: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "LayerWire", try_from = "LayerWire")]
pub struct Layer {
    pub source: SourceRef,
    pub entries: BTreeMap<Key, Entry>,
    pub artifact: Option<Artifact>,
    /// Keys present with a value but not resolved (not sampling parameters).
    pub ignored: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A layer as JSON (the plugin boundary, the run record): `params` maps each key to its value,
/// or to `null` for a removal. Reading it checks every value again, so a plugin cannot hand the
/// host a value the host would refuse from a file.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LayerWire {
    source: SourceRef,
    params: serde_json::Map<String, Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact: Option<Artifact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ignored: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    diagnostics: Vec<Diagnostic>,
}

impl From<Layer> for LayerWire {
    fn from(layer: Layer) -> Self {
        let params = layer
            .entries
            .iter()
            .map(|(key, entry)| {
                let value = match entry {
                    Entry::Set(v) => v.to_json(),
                    Entry::Remove => Json::Null,
                };
                (key.name().to_owned(), value)
            })
            .collect();
        LayerWire {
            source: layer.source,
            params,
            artifact: layer.artifact,
            ignored: layer.ignored,
            diagnostics: layer.diagnostics,
        }
    }
}

impl TryFrom<LayerWire> for Layer {
    type Error = LayerError;

    fn try_from(wire: LayerWire) -> Result<Self, LayerError> {
        let origin = wire.source.to_string();
        let mut layer = Layer::from_mapping(
            wire.source,
            &origin,
            wire.params.into_iter().map(|(k, v)| (k, v, None)),
        )?;
        layer.artifact = wire.artifact;
        layer.ignored = wire.ignored;
        layer.diagnostics = wire.diagnostics;
        Ok(layer)
    }
}

/// How a generation-config reader treats an invalid value of a known key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// The user's own file: an invalid value is an error naming the file, line and key.
    Strict,
    /// A file the user cannot fix (the Hub's): the key is dropped with a warning, the valid keys
    /// are kept.
    Lenient,
}

/// A layer that cannot be built. Every variant names the file or flag (`origin`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    #[error("{origin}: the file is empty; expected a JSON object of generation parameters")]
    Empty { origin: String },
    #[error("{origin}:{line}:{column}: not valid JSON: {message}")]
    Syntax {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: expected an object of generation parameters, found {found}")]
    NotAnObject { origin: String, found: &'static str },
    #[error("{origin}{}: {invalid}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        origin: String,
        line: Option<u64>,
        invalid: InvalidParam,
    },
    /// One key given under two of its names (`max_new_tokens` and lm-eval's `max_gen_toks`):
    /// which one was meant cannot be known.
    #[error(
        "{origin}{}: `{first}` and `{second}` are two names of `{key}`; give it once",
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    TwoNames {
        origin: String,
        line: Option<u64>,
        key: String,
        first: String,
        second: String,
    },
}

impl LayerError {
    /// The error as a located [`Problem`]: its file, line, column and key kept apart.
    pub fn problem(&self) -> Problem {
        match self {
            LayerError::Empty { origin } | LayerError::NotAnObject { origin, .. } => {
                let message = self.to_string();
                let message = message
                    .strip_prefix(&format!("{origin}: "))
                    .unwrap_or(&message);
                Problem::new(message).in_file(origin.clone())
            }
            LayerError::Syntax {
                origin,
                line,
                column,
                message,
            } => Problem::new(format!("not valid JSON: {message}"))
                .in_file(origin.clone())
                .at(Some(*line as u64), Some(*column as u64)),
            LayerError::Invalid {
                origin,
                line,
                invalid,
            } => Problem::new(invalid.to_string())
                .in_file(origin.clone())
                .at(*line, None)
                .key(invalid.key.clone()),
            LayerError::TwoNames {
                origin,
                line,
                key,
                first,
                second,
            } => Problem::new(format!(
                "`{first}` and `{second}` are two names of `{key}`; give it once"
            ))
            .in_file(origin.clone())
            .at(*line, None)
            .key(key.clone()),
        }
    }
}

impl From<LayerError> for Problem {
    fn from(error: LayerError) -> Problem {
        error.problem()
    }
}

impl Layer {
    pub fn new(source: SourceRef) -> Self {
        Layer {
            source,
            entries: BTreeMap::new(),
            artifact: None,
            ignored: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Reads a `generation_config.json` (transformers' format). `origin` names the file in
    /// messages; the text is kept as the layer's artifact.
    pub fn from_generation_config(
        text: &str,
        origin: &str,
        source: SourceRef,
        strictness: Strictness,
    ) -> Result<Layer, LayerError> {
        let object = parse_json_object(&quote_python_literals(text), origin)?;
        let mut layer = Layer::new(source);
        let mut names: BTreeMap<Key, &str> = BTreeMap::new();
        for (name, raw) in &object {
            // transformers writes every unset attribute as null (v5 dumps carry dozens): null
            // means "not set" here, never "remove".
            if raw.is_null() {
                continue;
            }
            let known = Key::known(name).or_else(|| generation_config_name(name));
            let Some(key) = known else {
                layer.ignored.push(name.clone());
                continue;
            };
            if let Some(first) = names.insert(key.clone(), name) {
                return Err(LayerError::TwoNames {
                    origin: origin.to_owned(),
                    line: line_of_json_key(text, name),
                    key: key.name().to_owned(),
                    first: first.to_owned(),
                    second: name.clone(),
                });
            }
            match key.check(raw) {
                Ok(value) => {
                    layer.entries.insert(key, Entry::Set(value));
                }
                Err(invalid) => match strictness {
                    Strictness::Strict => {
                        return Err(LayerError::Invalid {
                            origin: origin.to_owned(),
                            line: line_of_json_key(text, name),
                            invalid,
                        });
                    }
                    Strictness::Lenient => layer.diagnostics.push(Diagnostic::warning(format!(
                        "{origin}: dropped {invalid}; the other keys are used"
                    ))),
                },
            }
        }
        layer.note_sampling_without_do_sample(origin);
        Ok(layer)
    }

    /// Builds a layer from a user's own mapping (YAML `generation:`, `--set`): `null` removes,
    /// unknown keys are extras, another consumer's name for a known key is that key (two names
    /// of one key are an error), and any invalid value is an error. Each item may carry the
    /// line it was written on.
    pub fn from_mapping<I>(source: SourceRef, origin: &str, items: I) -> Result<Layer, LayerError>
    where
        I: IntoIterator<Item = (String, Json, Option<u64>)>,
    {
        let mut layer = Layer::new(source);
        let mut names: BTreeMap<Key, String> = BTreeMap::new();
        for (name, raw, line) in items {
            let key = Key::parse(&name);
            match names.get(&key) {
                Some(first) if *first != name => {
                    return Err(LayerError::TwoNames {
                        origin: origin.to_owned(),
                        line,
                        key: key.name().to_owned(),
                        first: first.clone(),
                        second: name,
                    });
                }
                _ => {
                    names.insert(key.clone(), name.clone());
                }
            }
            let entry = if raw.is_null() {
                Entry::Remove
            } else {
                let value = key.check(&raw).map_err(|invalid| LayerError::Invalid {
                    origin: origin.to_owned(),
                    line,
                    invalid,
                })?;
                Entry::Set(value)
            };
            layer.entries.insert(key, entry);
        }
        Ok(layer)
    }

    /// Sets a key (for sources that build layers in code).
    pub fn set(&mut self, key: Key, value: ParamValue) -> &mut Self {
        self.entries.insert(key, Entry::Set(value));
        self
    }

    /// transformers decodes greedily when `do_sample` is absent, whatever temperature says;
    /// vLLM uses the temperature. benchy reads keys as written (like vLLM) and says so, because
    /// the two readings give different numbers.
    fn note_sampling_without_do_sample(&mut self, origin: &str) {
        if self.entries.contains_key(&Key::DoSample) {
            return;
        }
        let sampling: Vec<String> = [Key::Temperature, Key::TopP, Key::TopK, Key::MinP]
            .iter()
            .filter_map(|k| match self.entries.get(k) {
                Some(Entry::Set(v)) => Some(format!("{k}={v}")),
                _ => None,
            })
            .collect();
        if !sampling.is_empty() {
            self.diagnostics.push(Diagnostic::info(format!(
                "{origin}: sets {} without do_sample; transformers would decode greedily, vLLM \
                 samples: benchy uses the values as written",
                sampling.join(", ")
            )));
        }
    }
}

/// Parses JSON text that must hold an object, with errors that name the file and position.
/// `text` with Python's non-JSON numbers (`NaN`, `Infinity`, `-Infinity`, which Python's `json`,
/// transformers and vLLM all read) written as strings, so that the file parses and the key
/// holding one is refused on its own (a number is expected) instead of the whole file.
fn quote_python_literals(text: &str) -> std::borrow::Cow<'_, str> {
    const LITERALS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    if !LITERALS.iter().any(|l| text.contains(l)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let (mut out, mut in_string, mut escaped) = (String::with_capacity(text.len()), false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_string && let Some(literal) = LITERALS.iter().find(|l| rest.starts_with(**l)) {
            out.push('"');
            out.push_str(literal);
            out.push('"');
            rest = &rest[literal.len()..];
            continue;
        }
        match c {
            '"' if !escaped => in_string = !in_string,
            _ => {}
        }
        escaped = in_string && c == '\\' && !escaped;
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// Keys a `generation_config.json` holds under names of its own: `stop_strings` is transformers'
/// name for the stop strings, and `default_chat_template_kwargs` the template variables a model
/// asks to be rendered with (poolside's Laguna ships one).
fn generation_config_name(name: &str) -> Option<Key> {
    match name {
        "stop_strings" => Some(Key::Stop),
        "default_chat_template_kwargs" => Some(Key::ChatTemplateKwargs),
        _ => None,
    }
}

fn parse_json_object(
    text: &str,
    origin: &str,
) -> Result<serde_json::Map<String, Json>, LayerError> {
    if text.trim().is_empty() {
        return Err(LayerError::Empty {
            origin: origin.to_owned(),
        });
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(other) => Err(LayerError::NotAnObject {
            origin: origin.to_owned(),
            found: json_kind(&other),
        }),
        Err(e) => Err(LayerError::Syntax {
            origin: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        }),
    }
}

/// The kind of a JSON value, for messages ("found an array").
pub fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// serde_json appends " at line L column C"; the position is already in our prefix.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The 1-based line where `"key":` is written, so an error in a JSON file can point at it.
/// serde_json's `Value` keeps no positions; a key is a quoted string followed by a colon, which
/// a value string almost never is.
fn line_of_json_key(text: &str, key: &str) -> Option<u64> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(found) = text[from..].find(&needle) {
        let at = from + found;
        let rest = text[at + needle.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(text[..at].matches('\n').count() as u64 + 1);
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hf() -> SourceRef {
        SourceRef::new("hf", "org/model@abc")
    }

    #[test]
    fn generation_config_reads_known_keys_and_ignores_the_rest() {
        let text = r#"{"bos_token_id": 1, "do_sample": true, "temperature": 0.6, "top_p": 0.9,
                      "eos_token_id": [1, 2], "max_length": 4096, "top_k": null}"#;
        let layer =
            Layer::from_generation_config(text, "gc.json", hf(), Strictness::Strict).unwrap();
        assert_eq!(
            layer.entries.get(&Key::Temperature),
            Some(&Entry::Set(ParamValue::Float(0.6)))
        );
        assert_eq!(
            layer.entries.get(&Key::DoSample),
            Some(&Entry::Set(ParamValue::Bool(true)))
        );
        // null means "not set" in transformers' format: no entry, not a removal
        assert!(!layer.entries.contains_key(&Key::TopK));
        let mut ignored = layer.ignored.clone();
        ignored.sort();
        assert_eq!(ignored, ["bos_token_id", "eos_token_id", "max_length"]);
        assert!(layer.diagnostics.is_empty());
    }

    #[test]
    fn strict_reading_names_file_line_and_key() {
        let text = "{\n  \"top_p\": 0.9,\n  \"temperature\": -1\n}";
        let err =
            Layer::from_generation_config(text, "my.json", hf(), Strictness::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "my.json:3: `temperature` = -1: must be >= 0"
        );
    }

    #[test]
    fn lenient_reading_drops_the_bad_key_and_keeps_the_others() {
        let text = r#"{"top_p": 0.9, "temperature": -1}"#;
        let layer =
            Layer::from_generation_config(text, "hub.json", hf(), Strictness::Lenient).unwrap();
        assert!(layer.entries.contains_key(&Key::TopP));
        assert!(!layer.entries.contains_key(&Key::Temperature));
        let warning = &layer.diagnostics[0];
        assert!(warning.message.contains("temperature") && warning.message.contains("-1"));
        assert!(warning.message.contains("hub.json"));
    }

    #[test]
    fn non_objects_and_bad_json_are_errors() {
        let err = |t: &str| {
            Layer::from_generation_config(t, "f.json", hf(), Strictness::Lenient)
                .unwrap_err()
                .to_string()
        };
        assert!(err("").contains("empty"));
        assert!(err("[1,2]").contains("found an array"));
        assert!(err("{\"a\": nan}").starts_with("f.json:1:"));
        assert!(err("{\"a\": 1,}").contains("not valid JSON"));
    }

    #[test]
    fn sampling_without_do_sample_is_noted() {
        let text = r#"{"temperature": 0.9, "top_p": 0.6}"#;
        let layer =
            Layer::from_generation_config(text, "gc.json", hf(), Strictness::Lenient).unwrap();
        assert_eq!(layer.diagnostics.len(), 1);
        assert!(layer.diagnostics[0].message.contains("without do_sample"));
    }

    #[test]
    fn mappings_remove_on_null_and_keep_extras() {
        let layer = Layer::from_mapping(
            SourceRef::bare("cli"),
            "--set",
            [
                ("temperature".to_string(), json!(null), None),
                ("typical_p".to_string(), json!(0.9), None),
            ],
        )
        .unwrap();
        assert_eq!(layer.entries.get(&Key::Temperature), Some(&Entry::Remove));
        assert_eq!(
            layer.entries.get(&Key::Extra("typical_p".into())),
            Some(&Entry::Set(ParamValue::Json(json!(0.9))))
        );
        let err = Layer::from_mapping(
            SourceRef::bare("yaml"),
            "run.yaml",
            [("top_p".to_string(), json!(2), Some(7))],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "run.yaml:7: `top_p` = 2: must be > 0 and <= 1"
        );
    }

    #[test]
    fn another_consumers_name_is_the_key_and_two_names_conflict() {
        let layer = Layer::from_mapping(
            SourceRef::bare("cli"),
            "--set",
            [
                ("max_gen_toks".to_string(), json!(5), None),
                ("until".to_string(), json!(["a"]), None),
            ],
        )
        .unwrap();
        assert_eq!(
            layer.entries.get(&Key::MaxNewTokens),
            Some(&Entry::Set(ParamValue::Int(5)))
        );
        assert_eq!(
            layer.entries.get(&Key::Stop),
            Some(&Entry::Set(ParamValue::Strings(vec!["a".into()])))
        );
        let err = Layer::from_mapping(
            SourceRef::bare("yaml"),
            "run.yaml",
            [
                ("max_gen_toks".to_string(), json!(5), Some(3)),
                ("max_new_tokens".to_string(), json!(10), Some(4)),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "run.yaml:4: `max_gen_toks` and `max_new_tokens` are two names of `max_new_tokens`; \
             give it once"
        );
        assert_eq!(err.problem().key.as_deref(), Some("max_new_tokens"));
    }

    #[test]
    fn layers_round_trip_through_json_and_are_checked_on_the_way_in() {
        let mut layer = Layer::from_mapping(
            SourceRef::new("site", "/srv/a.json"),
            "a.json",
            [
                ("top_k".to_string(), json!(20), None),
                ("seed".to_string(), json!(null), None),
                ("stop".to_string(), json!(["x"]), None),
            ],
        )
        .unwrap();
        layer.ignored.push("eos_token_id".into());
        let text = serde_json::to_string(&layer).unwrap();
        let back: Layer = serde_json::from_str(&text).unwrap();
        assert_eq!(back, layer);
        let forged = r#"{"source": {"kind": "site"}, "params": {"top_p": 7}}"#;
        let err = serde_json::from_str::<Layer>(forged)
            .unwrap_err()
            .to_string();
        assert!(err.contains("top_p"), "{err}");
    }

    #[test]
    fn source_ref_display() {
        assert_eq!(hf().to_string(), "hf:org/model@abc");
        assert_eq!(SourceRef::bare("cli").to_string(), "cli");
    }

    /// transformers' own `stop_strings` is the stop strings; Python's `NaN` and `Infinity` drop
    /// the key holding one (with a warning from the Hub, an error in a user's file), not the file.
    #[test]
    fn stop_strings_and_python_numbers_are_read_as_python_reads_them() {
        let text = r#"{"stop_strings": ["</s>"], "temperature": NaN, "top_p": 0.9,
            "top_k": -Infinity, "note": "NaN in a string stays", "max_new_tokens": 16}"#;
        let layer =
            Layer::from_generation_config(text, "hub.json", hf(), Strictness::Lenient).unwrap();
        assert_eq!(
            layer.entries.get(&Key::Stop),
            Some(&Entry::Set(ParamValue::Strings(vec!["</s>".into()])))
        );
        assert!(layer.entries.contains_key(&Key::TopP));
        assert!(layer.entries.contains_key(&Key::MaxNewTokens));
        assert!(!layer.entries.contains_key(&Key::Temperature));
        let warnings: Vec<&str> = layer
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .filter(|m| m.contains("dropped"))
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("`temperature` = \"NaN\""),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("`top_k` = \"-Infinity\""),
            "{warnings:?}"
        );
        assert!(!layer.ignored.contains(&"stop_strings".to_owned()));
        let strict =
            Layer::from_generation_config(text, "my.json", hf(), Strictness::Strict).unwrap_err();
        assert!(
            strict.to_string().starts_with("my.json:1: `temperature`"),
            "{strict}"
        );
        let both = r#"{"stop": ["a"], "stop_strings": ["b"]}"#;
        let err =
            Layer::from_generation_config(both, "x.json", hf(), Strictness::Lenient).unwrap_err();
        assert!(err.to_string().contains("two names of `stop`"), "{err}");
    }
}
