//! A selective parse of a request body: validates the whole document, materialises every
//! top-level field but the input (`prompt`, `messages`: mostly text the audit does not read),
//! and measures the input instead, so that an empty or near-empty prompt is seen without
//! allocating the prompt again.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A body's fields, with its input measured.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Picked {
    /// Every top-level field but `prompt` and `messages`.
    pub members: Map<String, Value>,
    /// The shortest prompt of the request (a batch holds several), when it has one.
    pub prompt: Option<Size>,
}

/// How long a prompt is: in tokens (a list of token ids) or in characters (text, or the text of
/// chat messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Size {
    Tokens(usize),
    Chars(usize),
}

impl Size {
    /// The shorter of two prompts, by their amount of text.
    fn min(self, other: Size) -> Size {
        let key = |s: Size| match s {
            Size::Tokens(n) | Size::Chars(n) => n,
        };
        if key(other) < key(self) { other } else { self }
    }
}

/// The body's fields and its input's size, or `None` when `body` is not one JSON object
/// (invalid JSON, another type at the top, trailing garbage). Duplicate keys: the last one
/// wins, as in Python's `json` module (what vLLM parses with).
pub(super) fn pick_members(body: &[u8]) -> Option<Picked> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let picked = Picker.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(picked)
}

struct Picker;

impl<'de> DeserializeSeed<'de> for Picker {
    type Value = Picked;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Picker {
    type Value = Picked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Picked::default();
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "prompt" => out.prompt = map.next_value_seed(Prompt)?,
                "messages" => out.prompt = Some(Size::Chars(map.next_value_seed(Text)?)),
                _ => {
                    out.members.insert(key.into_owned(), map.next_value()?);
                }
            }
        }
        Ok(out)
    }
}

/// A completions prompt: text, a list of token ids, or a batch of either; its shortest one.
struct Prompt;

impl<'de> DeserializeSeed<'de> for Prompt {
    type Value = Option<Size>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Prompt {
    type Value = Option<Size>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a prompt")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Size::Chars(v.trim().chars().count())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Token ids count as tokens; strings or lists inside are the prompts of a batch.
        let mut tokens = 0;
        let mut shortest: Option<Size> = None;
        while let Some(item) = seq.next_element_seed(Item)? {
            match item {
                None => tokens += 1,
                Some(size) => shortest = Some(shortest.map_or(size, |s| s.min(size))),
            }
        }
        Ok(Some(shortest.unwrap_or(Size::Tokens(tokens))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// One element of a prompt list: a token id (`None`), or a prompt of a batch (its size).
struct Item;

impl<'de> DeserializeSeed<'de> for Item {
    type Value = Option<Size>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item {
    type Value = Option<Size>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token id or a prompt")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Prompt.visit_str(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Prompt.visit_seq(seq)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Prompt.visit_map(map)
    }
}

/// The characters of every string under `content` (and of plain strings) in chat messages,
/// trimmed: what the model is given to read.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("chat messages")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        Ok(v.trim().chars().count())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut total = 0;
        while let Some(n) = seq.next_element_seed(Text)? {
            total += n;
        }
        Ok(total)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut total = 0;
        while let Some(Key(key)) = map.next_key()? {
            if matches!(key.as_ref(), "content" | "text") {
                total += map.next_value_seed(Text)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(total)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
}

/// A key borrowed from the input when it has no escapes (serde's own `Cow<str>` always copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pick(body: &str) -> Option<Value> {
        pick_members(body.as_bytes()).map(|p| Value::Object(p.members))
    }

    fn prompt(body: &str) -> Option<Size> {
        pick_members(body.as_bytes()).unwrap().prompt
    }

    #[test]
    fn keeps_every_member_but_the_input() {
        assert_eq!(
            pick(
                r#"{"prompt": ["a", {"b": 1}], "temperature": 0.5, "stop": ["\n"], "t\u0065": 1}"#
            ),
            Some(json!({"temperature": 0.5, "stop": ["\n"], "te": 1}))
        );
        assert_eq!(
            pick(r#"{"messages": [{"role": "user", "content": "hi"}], "n": 2}"#),
            Some(json!({"n": 2}))
        );
    }

    #[test]
    fn the_input_is_measured_its_shortest_prompt_counted() {
        assert_eq!(prompt(r#"{"prompt": " Q: 2+2? "}"#), Some(Size::Chars(7)));
        assert_eq!(prompt(r#"{"prompt": [1, 2, 3]}"#), Some(Size::Tokens(3)));
        assert_eq!(prompt(r#"{"prompt": []}"#), Some(Size::Tokens(0)));
        assert_eq!(
            prompt(r#"{"prompt": [[1, 2, 3], [4], [5, 6]]}"#),
            Some(Size::Tokens(1))
        );
        assert_eq!(
            prompt(r#"{"prompt": ["long one", ""]}"#),
            Some(Size::Chars(0))
        );
        assert_eq!(
            prompt(
                r#"{"messages": [{"role": "system", "content": "be brief"},
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]}]}"#
            ),
            Some(Size::Chars(10))
        );
        assert_eq!(prompt(r#"{"temperature": 1}"#), None);
    }

    #[test]
    fn last_duplicate_wins() {
        assert_eq!(pick(r#"{"seed": 1, "seed": 2}"#), Some(json!({"seed": 2})));
    }

    #[test]
    fn rejects_anything_but_one_object() {
        for bad in [
            "",
            "[]",
            "1",
            "\"x\"",
            "{",
            r#"{"a":1} x"#,
            r#"{"prompt": [1,}"#,
            "nul",
            "{\"a\":1}{}",
        ] {
            assert_eq!(pick(bad), None, "{bad:?}");
        }
        assert_eq!(pick(" {} \n"), Some(json!({})));
    }
}
