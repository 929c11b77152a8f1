//! lm-eval's names for the resolved parameters: `--gen_kwargs` takes benchy's (Hugging Face)
//! names except two. lm-eval calls `max_new_tokens` `max_gen_toks` and stop strings `until`
//! (lm_eval/models/openai_completions.py, `_create_payload`: it pops `max_gen_toks` into
//! `max_tokens` and `until` into `stop`, and passes every other key into the request body as
//! written). Values are already normalized: `do_sample` has become an explicit temperature.

use serde_json::{Map, Value as Json, json};

use benchy_core::backend::TaskView;
use benchy_core::merge::Resolved;
use benchy_core::openai::CHAT_ONLY_FIELDS;
use benchy_core::params::Key;

/// lm-eval's `--gen_kwargs`: every resolved key, renamed where lm-eval's names differ.
///
/// `do_sample` is sent too: lm-eval's API models drop it from the request, but it replaces a
/// task's own `do_sample: false` in the results file, so the record matches what was sent.
pub fn gen_kwargs(resolved: &Resolved) -> Map<String, Json> {
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

/// What a generating task's process sends: over completions, no chat-only field (no template
/// renders there); in a thinking mode, no stop string (one would end generation inside the
/// reasoning: the host applies them to the answer instead).
pub fn sent(task: &TaskView, chat: bool) -> Map<String, Json> {
    let mut kwargs = gen_kwargs(&task.resolved);
    if !chat {
        for field in CHAT_ONLY_FIELDS {
            kwargs.remove(field);
        }
    }
    if chat && task.mode.as_ref().is_some_and(|m| m.thinks) {
        kwargs.insert("until".into(), json!([]));
    }
    kwargs
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use benchy_core::layer::{Layer, SourceRef};
    use benchy_core::merge::merge;
    use benchy_core::normalize;
    use benchy_core::params::ParamValue;

    #[test]
    fn every_key_under_lm_evals_own_names() {
        let mut layer = Layer::new(SourceRef::new("test", "x"));
        layer
            .set(Key::DoSample, ParamValue::Bool(false))
            .set(Key::TopK, ParamValue::Int(5))
            .set(Key::MaxNewTokens, ParamValue::Int(32))
            .set(Key::Stop, ParamValue::Strings(vec!["\n".into()]))
            .set(Key::Extra("typical_p".into()), ParamValue::Json(json!(0.9)));
        assert_eq!(
            Json::Object(gen_kwargs(&normalize(merge([&layer])))),
            json!({"temperature": 0.0, "top_k": 5, "max_gen_toks": 32, "do_sample": false,
                   "until": ["\n"], "typical_p": 0.9})
        );
    }

    /// Names of keys as users and consumers write them, each with a valid value.
    const NAMES: [(&str, i64); 11] = [
        ("max_new_tokens", 8),
        ("max_gen_toks", 9),
        ("max_tokens", 10),
        ("max_completion_tokens", 11),
        ("stop", 0),
        ("until", 0),
        ("stop_sequences", 0),
        ("stop_strings", 0),
        ("seed", 3),
        ("top_k", 4),
        ("typical_p", 0),
    ];

    proptest! {
        /// Whatever names a user mixes, each resolved key goes out under exactly one name: a
        /// layer either refuses two names of one key or holds one entry per key, and no two
        /// keys share a name in `--gen_kwargs` (a JSON object keeps one value per name).
        #[test]
        fn each_key_goes_out_once(
            picked in prop::sample::subsequence(NAMES.to_vec(), 0..NAMES.len())
                .prop_shuffle(),
        ) {
            let items = picked.iter().map(|(name, number)| {
                let value = if name.contains("stop") || *name == "until" {
                    json!([format!("{name}-{number}")])
                } else {
                    json!(number)
                };
                ((*name).to_owned(), value, None)
            });
            if let Ok(layer) = Layer::from_mapping(SourceRef::bare("cli"), "--set", items) {
                let resolved = normalize(merge([&layer]));
                prop_assert_eq!(gen_kwargs(&resolved).len(), resolved.params.len());
            }
        }
    }
}
