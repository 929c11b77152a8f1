//! What lm-eval's requests carry, for benchy's auditing proxy. lm-eval builds each request body
//! in `_create_payload` (lm_eval/models/openai_completions.py, 0.4.13): a generation request is
//! `max_tokens` (from `max_gen_toks`, else the task's own, else 256), `temperature`, `stop` (the
//! `until` strings with the end-of-sequence string appended, `handle_stop_sequences` in
//! lm_eval/models/utils.py; chat requests keep the first four), `seed` (the model argument,
//! default 1234) and every other `--gen_kwargs` key as written; a scoring request is always
//! `temperature: 0, max_tokens: 1, logprobs: 1, seed, echo: true`.

use benchy_core::backend::TaskView;
use benchy_core::openai::CHAT_ONLY_FIELDS;
use benchy_core::{AnswerStops, Expectation, Expected, Key, ParamValue, Resolved};
use serde_json::json;

use crate::routes::Route;

/// lm-eval's own seed when none is resolved (`seed=1234` in lm_eval/models/api_models.py).
pub const DEFAULT_SEED: i64 = 1234;

/// Every resolved key exactly (the stop strings as the start of the list), and what lm-eval
/// adds by itself where the resolved set is silent.
pub fn expectation(resolved: &Resolved) -> Expectation {
    let mut expects = Expectation::exactly(&resolved.openai_params());
    if let Some(Expected::Exactly(stop)) = expects.generation.remove("stop") {
        let items = stop.as_array().cloned().unwrap_or_default();
        expects
            .generation
            .insert("stop".into(), Expected::StartsWith(items));
    }
    let seed = match resolved.get(&Key::Seed) {
        Some(ParamValue::Int(seed)) => *seed,
        _ => DEFAULT_SEED,
    };
    let silent = |key: &str| !expects.generation.contains_key(key);
    let mut added = Vec::new();
    if silent("max_tokens") {
        added.push(("max_tokens", Expected::Any));
    }
    if silent("stop") {
        added.push(("stop", Expected::Any));
    }
    if silent("seed") {
        added.push(("seed", Expected::Exactly(json!(seed))));
    }
    expects
        .added
        .extend(added.into_iter().map(|(k, v)| (k.to_owned(), v)));
    expects.scoring.extend([
        ("temperature".to_owned(), Expected::Exactly(json!(0))),
        ("max_tokens".to_owned(), Expected::Exactly(json!(1))),
        ("seed".to_owned(), Expected::Exactly(json!(seed))),
    ]);
    expects
}

/// What the requests of a job of `task` on `route` carry: over completions, no chat-only field;
/// over chat, the mode's system prompt first; in a thinking mode, no stop string at all (lm-eval
/// sends `until` as `stop`, here empty, and adds no end-of-sequence string on the chat route:
/// it has no tokenizer there), the task's stop strings going to the answer instead.
pub fn for_job(task: &TaskView, route: &Route) -> Expectation {
    let mut expects = expectation(&task.resolved);
    if !route.is_chat() {
        for field in CHAT_ONLY_FIELDS {
            expects.generation.remove(field);
        }
    }
    expects.system = route.mode().and_then(|m| m.system_prompt.clone());
    if let (Some(stops), Some(mode)) = (route.answer_stops(), route.mode()) {
        expects.added.remove("stop");
        expects
            .generation
            .insert("stop".into(), Expected::Exactly(json!([])));
        expects.answer_stops = Some(AnswerStops {
            stops: stops.to_vec(),
            think_end: mode.think_end.clone(),
        });
    }
    expects
}
