//! The server defaults of a vLLM server: what every task of the run agrees on, under the names
//! vLLM's `--override-generation-config` takes, and each key left out with the reason. Values
//! are already normalized: `do_sample` has become an explicit temperature.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json, json};

use benchy_core::backend::RunView;
use benchy_core::merge::Resolved;
use benchy_core::params::Key;

/// The server's defaults, with the resolved keys it does not hold as defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerDefaults {
    /// `name -> value` in vLLM's names, in benchy's key order.
    pub values: Map<String, Json>,
    /// Resolved keys the server does not hold as defaults, each with the reason: they reach vLLM
    /// inside each request only.
    pub not_sent: Vec<(Key, String)>,
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

    /// What the run's record keeps: the defaults, and each key left out with why.
    pub fn record(&self) -> Json {
        let left_out: Map<String, Json> = self
            .not_sent
            .iter()
            .map(|(key, why)| (key.name().to_owned(), json!(why)))
            .collect();
        json!({"values": self.values, "left_out": left_out})
    }
}

/// The server defaults of a vLLM server for `run`: the JSON of `--override-generation-config`,
/// used with `--generation-config vllm` so nothing else (not the model's own file) fills a
/// request's gaps.
///
/// vLLM reads that JSON in `ModelConfig.get_diff_sampling_param` (vllm/config/model.py, 0.32.0):
/// with `--generation-config vllm` the override is the whole config; only `repetition_penalty`,
/// `presence_penalty`, `frequency_penalty`, `temperature`, `top_k`, `top_p`, `min_p` and
/// `max_new_tokens` are taken, under their Hugging Face names. A default fills every key a
/// request leaves out, and `max_new_tokens` also caps every request whatever its `max_tokens`
/// (`override_max_tokens` in `get_max_tokens`, vllm/entrypoints/serve/utils/api_utils.py). So a
/// key is a default only when every task of the run resolves it to the same value: one a task
/// sets differently or removes would be refilled, or capped, against that task's own set. The
/// others are listed in [`ServerDefaults::not_sent`] and travel in each request.
pub fn server_defaults(run: &RunView) -> ServerDefaults {
    let sets: Vec<(&str, &Resolved)> = if run.tasks.is_empty() {
        vec![("the run", &run.resolved)]
    } else {
        run.tasks
            .iter()
            .map(|t| (t.name.as_str(), &t.resolved))
            .collect()
    };
    let keys: BTreeSet<&Key> = sets.iter().flat_map(|(_, r)| r.params.keys()).collect();
    let mut defaults = ServerDefaults::default();
    for key in keys {
        let agreed = agreed_value(key, &sets);
        match (vllm_default_name(key), agreed) {
            (Ok(name), Ok(value)) => {
                defaults.values.insert(name.to_owned(), value);
            }
            (Err(why), _) => defaults.not_sent.push((key.clone(), why.to_owned())),
            (Ok(_), Err(why)) => defaults.not_sent.push((key.clone(), why)),
        }
    }
    defaults
}

/// The chat template variables every task of `run` resolves alike, when they have any.
pub fn template_defaults(run: &RunView) -> Option<Json> {
    let sets: Vec<(&str, &Resolved)> = run
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), &t.resolved))
        .collect();
    if sets.is_empty() {
        return run
            .resolved
            .get(&Key::ChatTemplateKwargs)
            .map(|v| v.to_json());
    }
    agreed_value(&Key::ChatTemplateKwargs, &sets).ok()
}

/// The value every set gives `key`, or which sets differ.
fn agreed_value(key: &Key, sets: &[(&str, &Resolved)]) -> Result<Json, String> {
    let values: Vec<(&str, Option<Json>)> = sets
        .iter()
        .map(|(name, r)| (*name, r.params.get(key).map(|p| p.value.to_json())))
        .collect();
    let first = &values[0].1;
    if let Some(value) = first
        && values.iter().all(|(_, v)| v.as_ref() == Some(value))
    {
        return Ok(value.clone());
    }
    let each: Vec<String> = values
        .iter()
        .map(|(name, v)| match v {
            Some(v) => format!("{name} {v}"),
            None => format!("{name} removes it"),
        })
        .collect();
    Err(format!(
        "tasks differ: {}; sent in each request, as a server default would refill or cap it",
        each.join(", ")
    ))
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
        Key::ChatTemplateKwargs => Err("the template's variables; sent in each chat request"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use benchy_core::backend::{ModelView, TaskView};
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

    /// A run of `tasks`, each with its resolved set (the run's own set is the first task's).
    fn run(tasks: &[(&str, Resolved)]) -> RunView {
        let task = |(name, resolved): &(&str, Resolved)| TaskView {
            name: (*name).to_owned(),
            task_name: (*name).to_owned(),
            lm_eval_path: None,
            include_path: None,
            tokenizer_backend: None,
            inspect_task: None,
            task_args: Default::default(),
            defaults: Map::new(),
            output_folder: (*name).to_owned(),
            resolved: resolved.clone(),
            mode: None,
        };
        RunView {
            config_path: PathBuf::from("run.yaml"),
            model: ModelView {
                name: "m".into(),
                revision: None,
                local_dir: None,
                short_name: "m".into(),
            },
            provider: None,
            use_chat_completions: false,
            resolved: tasks.first().map(|(_, r)| r.clone()).unwrap_or_default(),
            tasks: tasks.iter().map(task).collect(),
        }
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
        let defaults = server_defaults(&run(&[("a", r.clone()), ("b", r)]));
        assert_eq!(
            Json::Object(defaults.values.clone()),
            json!({"temperature": 0.7, "top_p": 0.6, "top_k": 20, "min_p": 0.05,
                   "repetition_penalty": 1.05, "presence_penalty": 0.5,
                   "frequency_penalty": -0.5, "max_new_tokens": 64})
        );
        assert_eq!(
            defaults.not_sent,
            vec![(Key::DoSample, "sent as the temperature".to_owned())]
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
        let defaults = server_defaults(&run(&[("a", r)]));
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

    /// A budget or a key that one task sets differently, or removes, is never a server default:
    /// vLLM would cap that task at the other budget, or refill the key it removed.
    #[test]
    fn only_what_every_task_agrees_on_is_a_default() {
        let base = [
            (Key::Temperature, ParamValue::Float(0.7)),
            (Key::RepetitionPenalty, ParamValue::Float(1.1)),
        ];
        let capitals = resolved(&[&base[..], &[(Key::MaxNewTokens, ParamValue::Int(12))]].concat());
        let colors = resolved(&[&base[..1], &[(Key::MaxNewTokens, ParamValue::Int(3))]].concat());
        let defaults = server_defaults(&run(&[("capitals", capitals), ("colors", colors)]));
        assert_eq!(
            Json::Object(defaults.values.clone()),
            json!({"temperature": 0.7})
        );
        let left_out: Vec<(&str, &str)> = defaults
            .not_sent
            .iter()
            .map(|(k, why)| (k.name(), why.as_str()))
            .collect();
        assert_eq!(
            left_out,
            [
                (
                    "repetition_penalty",
                    "tasks differ: capitals 1.1, colors removes it; sent in each request, as a \
                     server default would refill or cap it"
                ),
                (
                    "max_new_tokens",
                    "tasks differ: capitals 12, colors 3; sent in each request, as a server \
                     default would refill or cap it"
                ),
            ]
        );
        assert_eq!(
            defaults.record()["left_out"]["max_new_tokens"],
            json!(left_out[1].1)
        );
    }
}
