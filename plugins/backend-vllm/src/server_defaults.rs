//! The server defaults of a vLLM server: the resolved parameters under the names vLLM's
//! `--override-generation-config` takes, with the keys it cannot take. Values are already
//! normalized: `do_sample` has become an explicit temperature.

use serde_json::{Map, Value as Json};

use benchy_core::merge::Resolved;
use benchy_core::params::Key;

/// The server's defaults, with the resolved keys it cannot take as defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerDefaults {
    /// `name -> value` in vLLM's names, in benchy's key order.
    pub values: Map<String, Json>,
    /// Resolved keys vLLM takes only per request, each with the reason.
    pub not_sent: Vec<(Key, &'static str)>,
}

impl ServerDefaults {
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
/// Every other key is ignored there, so it is left out here and listed in
/// [`ServerDefaults::not_sent`]: those keys reach vLLM only inside each request.
pub fn server_defaults(resolved: &Resolved) -> ServerDefaults {
    let mut defaults = ServerDefaults::default();
    for (key, param) in &resolved.params {
        match vllm_default_name(key) {
            Ok(name) => {
                defaults
                    .values
                    .insert(name.to_owned(), param.value.to_json());
            }
            Err(why) => defaults.not_sent.push((key.clone(), why)),
        }
    }
    defaults
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
    use benchy_core::layer::{Layer, SourceRef};
    use benchy_core::merge::merge;
    use benchy_core::normalize;
    use benchy_core::params::ParamValue;

    fn resolved(items: &[(Key, ParamValue)]) -> Resolved {
        let mut layer = Layer::new(SourceRef::new("test", "x"));
        for (key, value) in items {
            layer.set(key.clone(), value.clone());
        }
        normalize(merge([&layer]))
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
        let defaults = server_defaults(&r);
        assert_eq!(
            Json::Object(defaults.values.clone()),
            json!({"temperature": 0.7, "top_p": 0.6, "top_k": 20, "min_p": 0.05,
                   "repetition_penalty": 1.05, "presence_penalty": 0.5,
                   "frequency_penalty": -0.5, "max_new_tokens": 64})
        );
        assert_eq!(
            defaults.not_sent,
            vec![(Key::DoSample, "sent as the temperature")]
        );
        assert_eq!(
            defaults.to_json_text(),
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
        let defaults = server_defaults(&r);
        // normalization made the greedy default explicit: temperature 0 goes to the server
        assert_eq!(
            Json::Object(defaults.values.clone()),
            json!({"temperature": 0.0})
        );
        let not_sent: Vec<&str> = defaults.not_sent.iter().map(|(k, _)| k.name()).collect();
        assert_eq!(not_sent, ["seed", "stop", "typical_p"]);
        assert_eq!(
            defaults.not_sent_summary().unwrap(),
            "seed (no server default in vLLM; sent per request), stop (no server default in \
             vLLM; sent per request), typical_p (no server default in vLLM; sent per request)"
        );
    }
}
