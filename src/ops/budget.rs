//! A task's token budget must leave its prompt room in the server's context: lm-eval keeps only
//! the last `max_length - max_gen_toks` tokens of a prompt (the server's context less the
//! budget), so a budget near the context sends a prompt of one token or none, and the run
//! would still look exact. Checked before anything starts against the server as planned (a
//! launched server's `max_model_len`), and again once it is ready, against what it reports.

use anyhow::Result;
use benchy_core::{Key, ParamValue, RunView};

use crate::util::bad_input::bad_input;

/// The share of the context a prompt keeps at least: one eighth (512 tokens of a 4,096-token
/// server, 5,120 of Qwen3's 40,960, which leaves its recommended 32,768-token budget).
const PROMPT_SHARE: u64 = 8;

/// Refuses a task whose resolved budget leaves the prompt less than its share of `max_len`
/// tokens; `said` tells where `max_len` comes from.
pub fn check(view: &RunView, max_len: u64, said: &str) -> Result<()> {
    let most = max_len - max_len / PROMPT_SHARE;
    for task in &view.tasks {
        let Some(ParamValue::Int(budget)) = task.resolved.get(&Key::MaxNewTokens) else {
            continue;
        };
        if u64::try_from(*budget).is_ok_and(|b| b <= most) {
            continue;
        }
        let source = task
            .resolved
            .params
            .get(&Key::MaxNewTokens)
            .map(|p| p.source.to_string())
            .unwrap_or_default();
        return Err(bad_input(format!(
            "{}: task `{}`: max_new_tokens {budget} (from {source}) leaves its prompt {} of the \
             server's {max_len} tokens of context ({said}); a prompt keeps at least 1/{PROMPT_SHARE} \
             of it, so the budget is at most {most}",
            view.config_path.display(),
            task.name,
            max_len.saturating_sub(u64::try_from(*budget).unwrap_or(u64::MAX)),
        )));
    }
    Ok(())
}
