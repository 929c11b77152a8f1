//! What a completions or chat completions response says of its answers: each choice's finish
//! reason, how much text it holds and how much reasoning the server split off it, and the
//! server's token counts (`usage`). A response body
//! is one JSON object, or a stream of server-sent events (`data: {...}` chunks, `data: [DONE]`)
//! whose deltas make up the same thing.

use serde::Deserialize;
use serde_json::Value;

/// One response's answers.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Answer {
    /// By choice index.
    pub choices: Vec<Choice>,
    /// `usage.completion_tokens`, when the server said (a stream says it only when asked).
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens`, when the server said.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens_details.reasoning_tokens`, when the server counted them.
    pub reasoning_tokens: Option<u64>,
}

/// One choice of a response.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Choice {
    /// `stop`, `length`...; `None` when the response never said.
    pub finish_reason: Option<String>,
    /// Characters of the answer's text (`text`, `message.content`, the deltas').
    pub chars: usize,
    /// Characters of the reasoning the server split off (`message.reasoning`, or the older
    /// `reasoning_content`).
    pub reasoning_chars: usize,
}

impl Answer {
    /// How many choices ended at the token limit (`finish_reason: "length"`).
    pub fn cut(&self) -> usize {
        let cut = |c: &&Choice| c.finish_reason.as_deref() == Some("length");
        self.choices.iter().filter(cut).count()
    }
}

/// The part of a response (or of one streamed chunk) read here.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Body {
    choices: Vec<RawChoice>,
    usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawChoice {
    index: usize,
    finish_reason: Option<String>,
    /// A completions choice's text (whole, or a streamed piece of it).
    text: Option<String>,
    /// A chat choice's message, whole.
    message: Option<Message>,
    /// A streamed chat choice's piece.
    delta: Option<Message>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Message {
    content: Option<Value>,
    reasoning: Option<Value>,
    reasoning_content: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Usage {
    completion_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    completion_tokens_details: Option<Details>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Details {
    reasoning_tokens: Option<u64>,
}

/// Reads a whole response body; `None` when it is neither one JSON object nor an event stream
/// of them.
pub(super) fn parse(body: &[u8]) -> Option<Answer> {
    let text = std::str::from_utf8(body).ok()?;
    let mut answer = Answer::default();
    if text.trim_start().starts_with('{') {
        answer.add(serde_json::from_str(text).ok()?);
        return Some(answer);
    }
    let mut chunks = 0;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            continue;
        };
        if data == "[DONE]" {
            continue;
        }
        answer.add(serde_json::from_str(data).ok()?);
        chunks += 1;
    }
    (chunks > 0).then_some(answer)
}

impl Answer {
    /// Adds a body or a streamed chunk: its text to each choice, its finish reasons and usage.
    fn add(&mut self, body: Body) {
        for raw in body.choices {
            if self.choices.len() <= raw.index {
                self.choices.resize_with(raw.index + 1, Choice::default);
            }
            let choice = &mut self.choices[raw.index];
            let message = raw.message.or(raw.delta).unwrap_or_default();
            let reasoning = message.reasoning.or(message.reasoning_content);
            choice.chars += raw.text.as_deref().map_or(0, chars)
                + message.content.as_ref().map_or(0, text_chars);
            choice.reasoning_chars += reasoning.as_ref().map_or(0, text_chars);
            if raw.finish_reason.is_some() {
                choice.finish_reason = raw.finish_reason;
            }
        }
        if let Some(usage) = body.usage {
            self.completion_tokens = usage.completion_tokens.or(self.completion_tokens);
            self.prompt_tokens = usage.prompt_tokens.or(self.prompt_tokens);
            let details = usage.completion_tokens_details.unwrap_or_default();
            self.reasoning_tokens = details.reasoning_tokens.or(self.reasoning_tokens);
        }
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// A message's content: text, or a list of parts with `text`.
fn text_chars(content: &Value) -> usize {
    match content {
        Value::String(text) => chars(text),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(chars)
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_completions_response_is_read() {
        let body = br#"{"choices": [{"index": 0, "text": "Paris", "finish_reason": "stop"},
            {"index": 1, "text": "Lyon and", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 7}}"#;
        let answer = parse(body).unwrap();
        assert_eq!(answer.prompt_tokens, Some(9));
        assert_eq!(answer.choices.len(), 2);
        assert_eq!(answer.choices[1].chars, 8);
        assert_eq!(answer.cut(), 1);
        assert_eq!(answer.completion_tokens, Some(7));
    }

    #[test]
    fn a_streamed_chat_response_adds_up_its_deltas() {
        let body = b"data: {\"choices\": [{\"index\": 0, \"delta\": {\"role\": \"assistant\"}}]}\n\n\
            data: {\"choices\": [{\"index\": 0, \"delta\": {\"reasoning\": \"hm\"}}]}\n\n\
            data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"Par\"}}]}\n\n\
            data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"is\"}, \"finish_reason\": \"length\"}]}\n\n\
            data: {\"choices\": [], \"usage\": {\"completion_tokens\": 2}}\n\n\
            data: [DONE]\n\n";
        let answer = parse(body).unwrap();
        assert_eq!(answer.choices[0].chars, 5);
        assert_eq!(answer.choices[0].reasoning_chars, 2);
        assert_eq!(answer.choices[0].finish_reason.as_deref(), Some("length"));
        assert_eq!(answer.completion_tokens, Some(2));
    }

    #[test]
    fn what_is_no_response_is_none() {
        assert_eq!(parse(b"upstream failed"), None);
        assert_eq!(parse(b"{not json"), None);
        assert_eq!(parse(b"data: {broken\n\n"), None);
    }
}
