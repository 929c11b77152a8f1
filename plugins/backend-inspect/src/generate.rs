//! The resolved parameters as inspect's generate config (`--generate-config FILE`, read by
//! `GenerateConfig` in inspect_ai/model/_generate_config.py): inspect's own field where it has
//! one, and `extra_body` for what its OpenAI-compatible path does not send. inspect 0.3.285's
//! `openai_completion_params` (inspect_ai/model/_openai.py) sends `temperature`, `top_p`,
//! `max_tokens`, `seed`, `stop` (from `stop_seqs`), the two penalties and `reasoning_effort`,
//! but never `top_k`, and `GenerateConfig` has no `min_p` or `repetition_penalty`; the OpenAI
//! client merges `extra_body` into the request body, its keys over the others.

use serde_json::{Map, Value as Json, json};

use benchy_core::Resolved;
use benchy_core::backend::TaskView;

/// The openai request fields inspect sends from a generate config field of another name.
const RENAMED: [(&str, &str); 1] = [("stop", "stop_seqs")];

/// The openai request fields inspect sends from its generate config under the same name.
const SENT_BY_INSPECT: [&str; 7] = [
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
];

/// The generate config for a task resolved to `resolved`, with `max_connections` requests in
/// flight (inspect's adaptive default when `None`). `top_k` goes both to inspect's own field (which its record keeps and other
/// providers send) and to `extra_body` (which reaches an OpenAI-compatible server).
pub fn config(resolved: &Resolved, max_connections: Option<u64>) -> Map<String, Json> {
    let mut config = Map::new();
    let mut extra_body = Map::new();
    for (name, value) in resolved.openai_params() {
        if let Some((_, field)) = RENAMED.iter().find(|(n, _)| *n == name) {
            config.insert((*field).to_owned(), value);
        } else if SENT_BY_INSPECT.contains(&name.as_str()) {
            config.insert(name, value);
        } else {
            if name == "top_k" {
                config.insert(name.clone(), value.clone());
            }
            extra_body.insert(name, value);
        }
    }
    if !extra_body.is_empty() {
        config.insert("extra_body".into(), Json::Object(extra_body));
    }
    if let Some(n) = max_connections {
        config.insert("max_connections".into(), json!(n));
    }
    config
}

/// What benchy sends for `task`, in the request's names: its generate config read back.
pub fn sent_fields(task: &TaskView) -> Map<String, Json> {
    request_fields(&crate::jobs::generate_config(task, None))
}

/// What a generate config puts in each request body, in the API's names: its sampling fields
/// renamed back, `extra_body` merged over them. The inverse of [`config`], applied to what
/// inspect recorded or logged, so both compare with what benchy sent.
pub fn request_fields(config: &Map<String, Json>) -> Map<String, Json> {
    let mut fields = Map::new();
    for (name, value) in config {
        if let Some((api, _)) = RENAMED.iter().find(|(_, f)| f == name) {
            fields.insert((*api).to_owned(), value.clone());
        } else if SENT_BY_INSPECT.contains(&name.as_str()) && !value.is_null() {
            fields.insert(name.clone(), value.clone());
        }
    }
    with_extra_body(fields, config)
}

/// The sampling fields of a raw request inspect logged (`call.request`: the client's keyword
/// arguments), as the body carried them: what is not sampling (the model, the messages, tools,
/// headers) left out, `extra_body` merged over the rest, and `max_completion_tokens` read as
/// the `max_tokens` it was renamed from. Unlike [`request_fields`], any other field is kept.
pub fn logged_fields(request: &Map<String, Json>) -> Map<String, Json> {
    const NOT_SAMPLING: [&str; 6] = [
        "model",
        "messages",
        "tools",
        "tool_choice",
        "extra_headers",
        "extra_body",
    ];
    let mut fields = Map::new();
    for (key, value) in request {
        if NOT_SAMPLING.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        let key = if key == "max_completion_tokens" {
            "max_tokens"
        } else {
            key
        };
        fields.insert(key.to_owned(), value.clone());
    }
    with_extra_body(fields, request)
}

/// `fields` with the keys of `from`'s `extra_body` over them, as the OpenAI client merges
/// `extra_body` into the request body.
fn with_extra_body(mut fields: Map<String, Json>, from: &Map<String, Json>) -> Map<String, Json> {
    if let Some(Json::Object(extra)) = from.get("extra_body") {
        fields.extend(extra.clone());
    }
    fields
}

#[cfg(test)]
mod tests {
    use crate::tests::resolved;

    use super::*;

    #[test]
    fn inspect_fields_where_it_has_them_and_extra_body_for_the_rest() {
        let config = config(&resolved(), Some(8));
        assert_eq!(
            Json::Object(config),
            json!({"temperature": 0.7, "top_k": 20, "max_tokens": 16, "seed": 7,
                   "stop_seqs": ["\n\n"], "max_connections": 8,
                   "extra_body": {"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05}})
        );
    }

    #[test]
    fn the_request_fields_of_a_config_are_what_benchy_resolved() {
        let resolved = resolved();
        let fields = request_fields(&config(&resolved, Some(8)));
        assert_eq!(fields, resolved.openai_params());
    }

    #[test]
    fn extra_body_wins_over_inspects_own_fields_as_in_the_request() {
        let recorded = json!({"temperature": 0.7, "extra_body": {"temperature": 0.2}});
        let fields = request_fields(recorded.as_object().unwrap());
        assert_eq!(fields["temperature"], json!(0.2));
    }
}
