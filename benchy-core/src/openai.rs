//! The resolved parameters in the OpenAI-compatible API's names: the sampling fields a
//! `/v1/completions` or `/v1/chat/completions` request body carries. A backend that sends
//! requests itself takes them from here instead of renaming keys on its own.
//!
//! benchy's names are the Hugging Face `generation_config.json` names. The API's differ in two
//! places: `max_new_tokens` is `max_tokens`, and there is no `do_sample` (greedy decoding is
//! `temperature: 0`, which [`crate::normalize`] has already made explicit). `stop` is always a
//! list. Every other key, extras included, keeps its name: vLLM's API takes `top_k`, `min_p`,
//! `repetition_penalty` and `seed` as request fields under these names.

use serde_json::{Map, Value as Json};

use crate::merge::Resolved;
use crate::params::Key;

/// Request fields only chat completions act on: the chat template's variables and the reasoning
/// effort (rendered by the template, or Harmony's system prompt for gpt-oss). vLLM accepts them
/// on `/v1/completions` as well and ignores them there without a word.
pub const CHAT_ONLY_FIELDS: [&str; 2] = ["chat_template_kwargs", "reasoning_effort"];

impl Key {
    /// The key's name in an OpenAI-style request body, or `None` for `do_sample`, which the API
    /// does not have (the temperature carries it).
    pub fn openai_name(&self) -> Option<&str> {
        match self {
            Key::MaxNewTokens => Some("max_tokens"),
            Key::DoSample => None,
            other => Some(other.name()),
        }
    }
}

impl Resolved {
    /// The sampling fields of a request body: `{"temperature": 0.7, "max_tokens": 64, ...}`,
    /// in benchy's key order. Call it on a normalized set (every resolved set the host hands a
    /// backend is), so the temperature is always there.
    pub fn openai_params(&self) -> Map<String, Json> {
        self.params
            .iter()
            .filter_map(|(key, param)| Some((key.openai_name()?.to_owned(), param.value.to_json())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::layer::{Layer, SourceRef};
    use crate::merge::merge;
    use crate::normalize;
    use crate::params::{Key, ParamValue};

    #[test]
    fn api_names_with_the_temperature_carrying_do_sample() {
        let mut layer = Layer::new(SourceRef::new("test", "x"));
        layer
            .set(Key::DoSample, ParamValue::Bool(false))
            .set(Key::TopP, ParamValue::Float(0.9))
            .set(Key::MaxNewTokens, ParamValue::Int(64))
            .set(Key::Stop, ParamValue::Strings(vec!["\n".into()]))
            .set(Key::Seed, ParamValue::Int(7))
            .set(Key::Extra("typical_p".into()), ParamValue::Json(json!(0.5)));
        let params = normalize(merge([&layer])).openai_params();
        assert_eq!(
            serde_json::Value::Object(params),
            json!({"temperature": 0.0, "top_p": 0.9, "max_tokens": 64, "seed": 7,
                   "stop": ["\n"], "typical_p": 0.5})
        );
    }
}
