//! The resolved parameters under each consumer's names, in one place, with what a consumer
//! cannot take. benchy's names are the Hugging Face `generation_config.json` names; lm-eval calls
//! `max_new_tokens` `max_gen_toks` and stop strings `until` (lm_eval/models/openai_completions.py,
//! `_create_payload`: it pops `max_gen_toks` into `max_tokens` and `until` into `stop`, and passes
//! every other key into the request body as written); a vLLM server takes eight keys as its
//! defaults ([`vllm_server_defaults`]).
//!
//! Values are already normalized ([`crate::normalize`]): `do_sample` has become an explicit
//! temperature.

use serde_json::{Map, Value as Json};

use crate::merge::Resolved;
use crate::params::Key;

/// lm-eval's `--gen_kwargs`: every resolved key, renamed where lm-eval's names differ.
///
/// `do_sample` is sent too: lm-eval's API models drop it from the request, but it replaces a
/// task's own `do_sample: false` in the results file, so the record matches what was sent.
pub fn lm_eval_gen_kwargs(resolved: &Resolved) -> Map<String, Json> {
    resolved
        .params
        .iter()
        .map(|(key, param)| {
            let name = match key {
                Key::MaxNewTokens => "max_gen_toks",
                Key::Stop => "until",
                other => other.name(),
            };
            (name.to_owned(), param.value.to_json())
        })
        .collect()
}

/// The parameters as one consumer takes them, with the keys it cannot take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wire {
    /// `name -> value` in the consumer's names, in benchy's key order.
    pub values: Map<String, Json>,
    /// Resolved keys the consumer does not take this way, each with the reason.
    pub not_sent: Vec<(Key, &'static str)>,
}

impl Wire {
    /// The values as compact JSON text, for a command-line argument.
    pub fn to_json_text(&self) -> String {
        Json::Object(self.values.clone()).to_string()
    }

    /// The keys not sent, as `key (reason)` items for a one-line note.
    pub fn not_sent_summary(&self) -> Option<String> {
        if self.not_sent.is_empty() {
            return None;
        }
        let items: Vec<String> = self
            .not_sent
            .iter()
            .map(|(key, why)| format!("{key} ({why})"))
            .collect();
        Some(items.join(", "))
    }
}

/// The server defaults of a vLLM server: the JSON of `--override-generation-config`, used with
/// `--generation-config vllm` so nothing else (not the model's own file) fills a request's gaps.
///
/// vLLM reads that JSON in `ModelConfig.get_diff_sampling_param` (vllm/config/model.py, 0.32.0):
/// with `--generation-config vllm` the override is the whole config; only `repetition_penalty`,
/// `presence_penalty`, `frequency_penalty`, `temperature`, `top_k`, `top_p`, `min_p` and
/// `max_new_tokens` are taken, under their Hugging Face names (`max_tokens` there would be
/// dropped). `max_new_tokens` becomes the default `max_tokens` and also caps every request
/// (`override_max_tokens` in `get_max_tokens`, vllm/entrypoints/serve/utils/api_utils.py).
/// Every other key is ignored there, so it is left out here and listed in [`Wire::not_sent`]:
/// those keys reach vLLM only inside each request (lm-eval's `gen_kwargs`).
pub fn vllm_server_defaults(resolved: &Resolved) -> Wire {
    let mut wire = Wire::default();
    for (key, param) in &resolved.params {
        match vllm_default_name(key) {
            Ok(name) => {
                wire.values.insert(name.to_owned(), param.value.to_json());
            }
            Err(why) => wire.not_sent.push((key.clone(), why)),
        }
    }
    wire
}

/// The name vLLM's generation-config override uses for `key`, or why it takes no such key.
fn vllm_default_name(key: &Key) -> Result<&'static str, &'static str> {
    match key {
        Key::Temperature => Ok("temperature"),
        Key::TopP => Ok("top_p"),
        Key::TopK => Ok("top_k"),
        Key::MinP => Ok("min_p"),
        Key::RepetitionPenalty => Ok("repetition_penalty"),
        Key::PresencePenalty => Ok("presence_penalty"),
        Key::FrequencyPenalty => Ok("frequency_penalty"),
        Key::MaxNewTokens => Ok("max_new_tokens"),
        Key::DoSample => Err("sent as the temperature"),
        Key::Seed | Key::Stop | Key::Extra(_) => Err("no server default in vLLM; sent per request"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layer::{Layer, SourceRef};
    use crate::merge::merge;
    use crate::normalize;
    use crate::params::ParamValue;

    fn resolved(items: &[(Key, ParamValue)]) -> Resolved {
        let mut layer = Layer::new(SourceRef::new("test", "x"));
        for (key, value) in items {
            layer.set(key.clone(), value.clone());
        }
        normalize(merge([&layer]))
    }

    #[test]
    fn lm_eval_takes_every_key_under_its_own_names() {
        let r = resolved(&[
            (Key::DoSample, ParamValue::Bool(false)),
            (Key::TopK, ParamValue::Int(5)),
            (Key::MaxNewTokens, ParamValue::Int(32)),
            (Key::Stop, ParamValue::Strings(vec!["\n".into()])),
            (Key::Extra("typical_p".into()), ParamValue::Json(json!(0.9))),
        ]);
        assert_eq!(
            Json::Object(lm_eval_gen_kwargs(&r)),
            json!({"temperature": 0.0, "top_k": 5, "max_gen_toks": 32, "do_sample": false,
                   "until": ["\n"], "typical_p": 0.9})
        );
    }

    #[test]
    fn vllm_takes_its_eight_keys_under_hf_names() {
        let r = resolved(&[
            (Key::DoSample, ParamValue::Bool(true)),
            (Key::Temperature, ParamValue::Float(0.7)),
            (Key::TopP, ParamValue::Float(0.6)),
            (Key::TopK, ParamValue::Int(20)),
            (Key::MinP, ParamValue::Float(0.05)),
            (Key::RepetitionPenalty, ParamValue::Float(1.05)),
            (Key::PresencePenalty, ParamValue::Float(0.5)),
            (Key::FrequencyPenalty, ParamValue::Float(-0.5)),
            (Key::MaxNewTokens, ParamValue::Int(64)),
        ]);
        let wire = vllm_server_defaults(&r);
        assert_eq!(
            Json::Object(wire.values.clone()),
            json!({"temperature": 0.7, "top_p": 0.6, "top_k": 20, "min_p": 0.05,
                   "repetition_penalty": 1.05, "presence_penalty": 0.5,
                   "frequency_penalty": -0.5, "max_new_tokens": 64})
        );
        assert_eq!(
            wire.not_sent,
            vec![(Key::DoSample, "sent as the temperature")]
        );
        assert_eq!(
            wire.to_json_text(),
            r#"{"temperature":0.7,"top_p":0.6,"top_k":20,"min_p":0.05,"repetition_penalty":1.05,"presence_penalty":0.5,"frequency_penalty":-0.5,"max_new_tokens":64}"#
        );
    }

    #[test]
    fn keys_without_a_server_default_are_listed_not_sent() {
        let r = resolved(&[
            (Key::Seed, ParamValue::Int(1)),
            (Key::Stop, ParamValue::Strings(vec!["\n".into()])),
            (Key::Extra("typical_p".into()), ParamValue::Json(json!(0.9))),
        ]);
        let wire = vllm_server_defaults(&r);
        // normalization made the greedy default explicit: temperature 0 goes to the server
        assert_eq!(
            Json::Object(wire.values.clone()),
            json!({"temperature": 0.0})
        );
        let not_sent: Vec<&str> = wire.not_sent.iter().map(|(k, _)| k.name()).collect();
        assert_eq!(not_sent, ["seed", "stop", "typical_p"]);
        assert_eq!(
            wire.not_sent_summary().unwrap(),
            "seed (no server default in vLLM; sent per request), stop (no server default in \
             vLLM; sent per request), typical_p (no server default in vLLM; sent per request)"
        );
    }
}
