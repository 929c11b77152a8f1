//! A selective parse of a JSON object: validates the whole document but materialises only the
//! top-level keys asked for. A completions body is mostly prompt text (or chat messages) that
//! the audit never looks at; skipping it with `IgnoredAny` avoids allocating it again.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The wanted top-level members of `body`, or `None` when `body` is not one JSON object (invalid
/// JSON, another type at the top, trailing garbage). Duplicate keys: the last one wins, as in
/// Python's `json` module (what vLLM parses with).
pub(super) fn pick_members(
    body: &[u8],
    wanted: &dyn Fn(&str) -> bool,
) -> Option<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let picked = Picker { wanted }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(picked)
}

struct Picker<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for Picker<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Picker<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            if (self.wanted)(&key) {
                out.insert(key.into_owned(), map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
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
        pick_members(body.as_bytes(), &|k| k != "prompt").map(Value::Object)
    }

    #[test]
    fn keeps_wanted_members_only() {
        assert_eq!(
            pick(
                r#"{"prompt": ["a", {"b": 1}], "temperature": 0.5, "stop": ["\n"], "t\u0065": 1}"#
            ),
            Some(json!({"temperature": 0.5, "stop": ["\n"], "te": 1}))
        );
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
