//! The resolved parameters under each consumer's names, in one place. benchy's names are the
//! Hugging Face `generation_config.json` names; lm-eval calls `max_new_tokens` `max_gen_toks`
//! and stop strings `until` (lm_eval/models/openai_completions.py, `_create_payload`: it pops
//! `max_gen_toks` into `max_tokens` and `until` into `stop`, and passes every other key into the
//! request body as written).

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
