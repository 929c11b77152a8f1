//! What inspect's requests carry, for benchy's auditing proxy: every resolved key exactly, and
//! nothing else. inspect's OpenAI-compatible provider sends only the generate config's fields
//! that are set (`openai_completion_params`, inspect_ai/model/_openai.py, inspect 0.3.285) with
//! `extra_body` merged over them; for a model whose name looks
//! like OpenAI's o-series or gpt-5 it renames `max_tokens` to `max_completion_tokens`
//! (`needs_max_completion_tokens`, inspect_ai/model/_providers/openai_compatible.py).

use benchy_core::backend::TaskView;
use benchy_core::{AnswerStops, Expectation, Key, ParamValue};

/// What every request of `task`'s job carries, its model served as `model`. In a thinking mode
/// no stop string is sent (one would end generation inside the reasoning); the task's stop
/// strings are applied to each answer after it.
pub fn for_task(task: &TaskView, model: &str) -> Expectation {
    let mut params = task.resolved.openai_params();
    let stops = thinking_stops(task);
    if stops.is_some() {
        params.remove("stop");
    }
    if renames_max_tokens(model)
        && let Some(max) = params.remove("max_tokens")
    {
        params.insert("max_completion_tokens".into(), max);
    }
    let mut expects = Expectation::exactly(&params);
    if let (Some(stops), Some(mode)) = (stops, &task.mode) {
        expects.answer_stops = Some(AnswerStops {
            stops,
            think_end: mode.think_end.clone(),
        });
    }
    expects
}

/// The task's stop strings when it runs in a thinking mode (they are applied to the answer
/// instead of being sent).
pub fn thinking_stops(task: &TaskView) -> Option<Vec<String>> {
    match task.resolved.get(&Key::Stop) {
        Some(ParamValue::Strings(stops)) if task.mode.as_ref().is_some_and(|m| m.thinks) => {
            Some(stops.clone())
        }
        _ => None,
    }
}

/// inspect's test for a model whose requests take `max_completion_tokens`: `is_o_series_model`
/// (a name starting `o<digit>`, or without `gpt` holding `o<digit>` anywhere) or a gpt-5 or later.
pub fn renames_max_tokens(model: &str) -> bool {
    let name = model.to_lowercase();
    let digit_first = |rest: &str| rest.starts_with(|d: char| d.is_ascii_digit());
    let o_digit_anywhere = name
        .match_indices('o')
        .any(|(i, _)| digit_first(&name[i + 1..]));
    let o_series = name.strip_prefix('o').is_some_and(digit_first)
        || (!name.contains("gpt") && o_digit_anywhere);
    o_series || gpt_major(&name).is_some_and(|major| major >= 5)
}

/// The major version of a `gpt-N` name.
fn gpt_major(name: &str) -> Option<u32> {
    let rest = &name[name.find("gpt-")? + 4..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o_series_and_gpt5_names_take_max_completion_tokens_as_inspect_decides() {
        for name in ["o1-mini", "o3", "olmo2-7b", "gpt-5-mini", "gpt-6"] {
            assert!(renames_max_tokens(name), "{name}");
        }
        for name in [
            "tiny-llama",
            "Qwen2.5-0.5B-Instruct",
            "gpt-4o",
            "llama-3.1-8b",
        ] {
            assert!(!renames_max_tokens(name), "{name}");
        }
    }
}
