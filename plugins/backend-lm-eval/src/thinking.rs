//! What a run in a thinking mode is told before it starts: the task's stop strings leave the
//! requests for the answers, and the token budget that the reasoning gets, against the budget
//! lm-eval's task file would have given it.

use benchy_core::backend::TaskView;
use benchy_core::{Diagnostic, Key, ParamValue};

use crate::executable::LmEval;
use crate::task_types::TaskTypes;

/// lm-eval's budget for a task whose file sets none (`_max_gen_toks` of its API models,
/// lm_eval/models/api_models.py).
pub const LM_EVAL_MAX_GEN_TOKS: u64 = 256;

/// The notes for `task`, run by `lm_eval` in a thinking mode with `stops` applied to answers.
pub fn notes(
    task: &TaskView,
    lm_eval: &LmEval,
    types: &TaskTypes,
    stops: &[String],
) -> Vec<Diagnostic> {
    let Some(mode) = &task.mode else {
        return Vec::new();
    };
    let shown: Vec<String> = stops.iter().map(|s| format!("{s:?}")).collect();
    let mut notes = vec![Diagnostic::info(format!(
        "task {}: mode `{}` thinks, so its requests carry no stop string; {} apply to the answer \
         after the reasoning (which ends at {:?})",
        task.name,
        mode.name,
        if shown.is_empty() {
            "no stop strings".to_owned()
        } else {
            shown.join(", ")
        },
        mode.think_end
    ))];
    let own = types
        .of(lm_eval, task.include_path.as_ref(), &task.task_name)
        .flatten()
        .and_then(|leaves| leaves.iter().filter_map(|l| l.max_gen_toks).min())
        .unwrap_or(LM_EVAL_MAX_GEN_TOKS);
    let budget = task.resolved.params.get(&Key::MaxNewTokens);
    notes.extend(match budget {
        Some(param) => match param.value {
            ParamValue::Int(tokens) if tokens as u64 > own => Some(Diagnostic::info(format!(
                "task {}: max_new_tokens {tokens} (from {}) replaces the {own} tokens lm-eval's \
                 `{}` gives an answer, so the reasoning has room",
                task.name, param.source, task.task_name
            ))),
            _ => None,
        },
        None => Some(Diagnostic::warning(format!(
            "task {}: mode `{}` thinks, and the answer gets lm-eval's {own} tokens for `{}`, \
             which the reasoning alone usually exceeds: set `max_new_tokens` in the mode",
            task.name, mode.name, task.task_name
        ))),
    });
    notes
}
