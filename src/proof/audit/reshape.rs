//! A thinking mode's stop strings, applied to each answer after its reasoning. Its requests
//! carry none, because servers match stop strings against the whole output and a `Question:` the
//! reasoning restates would end it (vLLM #52393); so the task's stop strings are applied here to
//! the answer alone, as a server that kept them dormant until the reasoning ended would (vLLM
//! PR #52486). The reasoning ends at the last `think_end` of the text, or, when the server split
//! it off into its own field, before the text begins.

use benchy_core::AnswerStops;
use serde_json::Value;

/// The response with every answer cut at the first stop string after its reasoning, and how
/// many answers were cut; `None` when none was (or the body is not one JSON object).
pub(super) fn cut_answers(body: &[u8], stops: &AnswerStops) -> Option<(Vec<u8>, u64)> {
    let mut response: Value = serde_json::from_slice(body).ok()?;
    let mut cut = 0;
    for choice in response.get_mut("choices")?.as_array_mut()? {
        let (text, split) = match choice.get_mut("message") {
            Some(message) => {
                let split = ["reasoning", "reasoning_content"]
                    .iter()
                    .any(|field| message.get(*field).is_some_and(Value::is_string));
                (message.get_mut("content"), split)
            }
            None => (choice.get_mut("text"), false),
        };
        let Some(Value::String(text)) = text else {
            continue;
        };
        if let Some(answer) = cut_answer(text, split, stops) {
            *text = answer;
            cut += 1;
        }
    }
    (cut > 0).then(|| (response.to_string().into_bytes(), cut))
}

/// `text` cut at the first stop string after its reasoning; `None` when no stop string follows
/// the reasoning, or the reasoning never ended (the text is all reasoning: cutting it would make
/// up an answer).
fn cut_answer(text: &str, split_by_server: bool, stops: &AnswerStops) -> Option<String> {
    let start = match text.rfind(&stops.think_end) {
        Some(i) => i + stops.think_end.len(),
        None if split_by_server => 0,
        None => return None,
    };
    let answer = &text[start..];
    let at = stops
        .stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| answer.find(s.as_str()))
        .min()?;
    Some(text[..start + at].to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stops() -> AnswerStops {
        AnswerStops {
            stops: vec!["Question:".into(), "\n\n".into()],
            think_end: "</think>".into(),
        }
    }

    #[test]
    fn the_answer_is_cut_after_the_reasoning_and_never_inside_it() {
        let text =
            "<think>Question: what is 2+2?\n\nIt is 4.</think>The answer is 4.\n\nQuestion: next";
        assert_eq!(
            cut_answer(text, false, &stops()).as_deref(),
            Some("<think>Question: what is 2+2?\n\nIt is 4.</think>The answer is 4.")
        );
        assert_eq!(
            cut_answer("<think>Question: unfinished", false, &stops()),
            None
        );
        assert_eq!(
            cut_answer("4\n\nQuestion: x", true, &stops()).as_deref(),
            Some("4")
        );
        assert_eq!(cut_answer("<think>x</think>4", false, &stops()), None);
    }

    #[test]
    fn a_chat_response_is_rewritten_only_where_an_answer_is_cut() {
        let body = json!({"choices": [
            {"index": 0, "message": {"content": "4\n\nQuestion: y", "reasoning": "hmm"}},
            {"index": 1, "message": {"content": "<think>a\n\nb", "reasoning": null}},
        ], "usage": {"completion_tokens": 9}});
        let (out, cut) = cut_answers(body.to_string().as_bytes(), &stops()).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(cut, 1);
        assert_eq!(out["choices"][0]["message"]["content"], "4");
        assert_eq!(out["choices"][1]["message"]["content"], "<think>a\n\nb");
        assert_eq!(out["usage"]["completion_tokens"], 9);
        let untouched = json!({"choices": [{"message": {"content": "<think>x</think>4"}}]});
        assert_eq!(
            cut_answers(untouched.to_string().as_bytes(), &stops()),
            None
        );
    }
}
