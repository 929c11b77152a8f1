//! The run-config files as written: serde's view of them, before any check. Unknown keys are
//! errors (`deny_unknown_fields`), with the line they are on.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value as Json};
use serde_saphyr::Spanned;

use benchy_source_yaml::yaml::GenerationMapping;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunConfig {
    pub(super) model: RawModel,
    #[serde(default)]
    pub(super) vllm: Option<RawVllm>,
    #[serde(default)]
    pub(super) tasks: Vec<Spanned<TaskItem>>,
    #[serde(default)]
    pub(super) task_defaults: Option<Map<String, Json>>,
    #[serde(default)]
    pub(super) use_chat_completions: Option<bool>,
    #[serde(default)]
    pub(super) generation: Option<GenerationMapping>,
    #[serde(default)]
    pub(super) require_sources: Vec<String>,
    /// The mode every task runs in unless it names its own.
    #[serde(default)]
    pub(super) mode: Option<Spanned<String>>,
    /// The run config's own modes, by name; they beat the catalog's.
    #[serde(default)]
    pub(super) modes: BTreeMap<String, Spanned<RawMode>>,
    /// How many times each generating task runs, each time with its own seed.
    #[serde(default)]
    pub(super) repeats: Option<Spanned<Json>>,
    /// The task backend that runs the tasks, unless `--backend` names one.
    #[serde(default)]
    pub(super) backend: Option<Spanned<String>>,
}

/// A mode as written in a run config's `modes:` or a catalog file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMode {
    /// The chat template's variables that choose the mode.
    #[serde(default)]
    pub(super) chat_template_kwargs: Option<Spanned<Json>>,
    /// The mode's preset.
    #[serde(default)]
    pub(super) generation: Option<GenerationMapping>,
    #[serde(default)]
    pub(super) system_prompt: Option<String>,
    /// The request field some families (gpt-oss) are switched by.
    #[serde(default)]
    pub(super) reasoning_effort: Option<Spanned<String>>,
    /// Whether the model reasons before answering in this mode.
    #[serde(default)]
    pub(super) thinks: Option<bool>,
    /// What closes the reasoning in an answer (`</think>` when not given).
    #[serde(default)]
    pub(super) think_end: Option<String>,
    /// The model card the preset was read from, and when (a catalog's presets name both).
    #[serde(default)]
    pub(super) card: Option<String>,
    #[serde(default)]
    pub(super) read: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) revision: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVllm {
    #[serde(default)]
    pub(super) provider_config: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) overrides: Option<Map<String, Json>>,
}

/// An entry of `tasks:`: a task file name or an inline task.
#[derive(Debug)]
pub(super) enum TaskItem {
    Name(String),
    Inline(Box<RawTask>),
}

/// Hand-written rather than `#[serde(untagged)]`: untagged enums buffer the input, which loses
/// the line numbers of the keys inside and turns every mistake into "did not match any
/// variant". Dispatching on the YAML node keeps both.
impl<'de> Deserialize<'de> for TaskItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        pub(super) struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TaskItem;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a task file name or a task mapping")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TaskItem, E> {
                Ok(TaskItem::Name(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<TaskItem, A::Error> {
                RawTask::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|raw| TaskItem::Inline(Box::new(raw)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A task file (`tasks/NAME.yaml`) or an inline task mapping.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
    #[serde(default)]
    pub(super) name: Option<String>,
    /// The Python tool's files carry one; it is accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub(super) task_name: Option<String>,
    #[serde(default)]
    pub(super) lm_eval_path: Option<String>,
    #[serde(default)]
    pub(super) include_path: Option<String>,
    #[serde(default)]
    pub(super) tokenizer_backend: Option<String>,
    /// An inspect task: `FILE.py@NAME`, `FILE.py`, or a registered task's name.
    #[serde(default)]
    pub(super) inspect_task: Option<String>,
    /// The evaluator task's own arguments.
    #[serde(default)]
    pub(super) task_args: Option<Map<String, Json>>,
    #[serde(default)]
    pub(super) defaults: Option<Map<String, Json>>,
    #[serde(default)]
    pub(super) output: Option<RawOutput>,
    #[serde(default)]
    pub(super) generation: Option<GenerationMapping>,
    /// The task's own mode, over the run config's.
    #[serde(default)]
    pub(super) mode: Option<Spanned<String>>,
    /// The task's own repeats, over the run config's.
    #[serde(default)]
    pub(super) repeats: Option<Spanned<Json>>,
    /// The Hugging Face Hub dataset a task on local files stands for, for exported results.
    #[serde(default)]
    pub(super) hub_dataset: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) hub_dataset_revision: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    #[serde(default)]
    pub(super) subdirectory: Option<String>,
    #[serde(default)]
    pub(super) primary_metric: Option<String>,
}
