//! The generation parameters benchy resolves: the known keys with their types and ranges, extras,
//! and the validation that turns a raw JSON value into a checked [`ParamValue`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

/// A parameter name: one of the known sampling keys, or an extra key passed through as written.
///
/// The order of the variants is the order parameters are shown in (known keys first, in the
/// order users think about them, then extras alphabetically).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Temperature,
    TopP,
    TopK,
    MinP,
    RepetitionPenalty,
    PresencePenalty,
    FrequencyPenalty,
    MaxNewTokens,
    DoSample,
    Seed,
    Stop,
    /// The variables a chat template is rendered with (`{"enable_thinking": false}`): the switch
    /// that chooses a thinking model's mode. Only chat requests render a template.
    ChatTemplateKwargs,
    /// Any other key from a user's own layer (YAML, `--set`), sent to every consumer as written.
    Extra(String),
}

impl Key {
    /// Every known key, in display order.
    pub const KNOWN: [Key; 12] = [
        Key::Temperature,
        Key::TopP,
        Key::TopK,
        Key::MinP,
        Key::RepetitionPenalty,
        Key::PresencePenalty,
        Key::FrequencyPenalty,
        Key::MaxNewTokens,
        Key::DoSample,
        Key::Seed,
        Key::Stop,
        Key::ChatTemplateKwargs,
    ];

    /// The key as written in a Hugging Face `generation_config.json` and in benchy's configs.
    pub fn name(&self) -> &str {
        match self {
            Key::Temperature => "temperature",
            Key::TopP => "top_p",
            Key::TopK => "top_k",
            Key::MinP => "min_p",
            Key::RepetitionPenalty => "repetition_penalty",
            Key::PresencePenalty => "presence_penalty",
            Key::FrequencyPenalty => "frequency_penalty",
            Key::MaxNewTokens => "max_new_tokens",
            Key::DoSample => "do_sample",
            Key::Seed => "seed",
            Key::Stop => "stop",
            Key::ChatTemplateKwargs => "chat_template_kwargs",
            Key::Extra(name) => name,
        }
    }

    /// The known key with this name, or `None`.
    pub fn known(name: &str) -> Option<Key> {
        Key::KNOWN.into_iter().find(|k| k.name() == name)
    }

    /// Other names of known keys, as a consumer calls them: lm-eval's `--gen_kwargs`
    /// (`max_gen_toks`, `until`), the OpenAI API and vLLM's request fields (`max_tokens`,
    /// `max_completion_tokens`), transformers' `stop_strings`, and `stop_sequences` (TGI,
    /// Anthropic). Read as the known key, so one value never goes out under two names.
    pub const ALIASES: [(&'static str, Key); 6] = [
        ("max_gen_toks", Key::MaxNewTokens),
        ("max_tokens", Key::MaxNewTokens),
        ("max_completion_tokens", Key::MaxNewTokens),
        ("until", Key::Stop),
        ("stop_sequences", Key::Stop),
        ("stop_strings", Key::Stop),
    ];

    /// Fields of the request itself that lm-eval and the OpenAI API set (what is asked, of
    /// which model, in which form): not generation parameters, and an extra by one of these
    /// names would silently replace the request's own.
    pub const REQUEST_FIELDS: [&'static str; 6] =
        ["model", "prompt", "messages", "echo", "stream", "n"];

    /// The known key with this name or one of its aliases, or an extra key.
    pub fn parse(name: &str) -> Key {
        Key::known(name)
            .or_else(|| {
                Key::ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == name)
                    .map(|(_, key)| key.clone())
            })
            .unwrap_or_else(|| Key::Extra(name.to_owned()))
    }

    pub fn is_extra(&self) -> bool {
        matches!(self, Key::Extra(_))
    }

    /// Checks a raw value for this key and returns it typed. The ranges are the ones vLLM and
    /// transformers enforce, so a value that passes here is accepted by every consumer.
    pub fn check(&self, raw: &Json) -> Result<ParamValue, InvalidParam> {
        let invalid = |problem: &str| InvalidParam {
            key: self.name().to_owned(),
            value: raw.to_string(),
            problem: problem.to_owned(),
        };
        match self {
            Key::Temperature => {
                let v = number(raw).ok_or_else(|| invalid("must be a number"))?;
                if v < 0.0 {
                    return Err(invalid("must be >= 0"));
                }
                Ok(ParamValue::Float(v))
            }
            Key::TopP => {
                let v = number(raw).ok_or_else(|| invalid("must be a number"))?;
                if !(v > 0.0 && v <= 1.0) {
                    return Err(invalid("must be > 0 and <= 1"));
                }
                Ok(ParamValue::Float(v))
            }
            Key::TopK => {
                let v = integer(raw).map_err(invalid)?;
                if v < -1 {
                    return Err(invalid("must be >= 1, or 0 or -1 to disable it"));
                }
                Ok(ParamValue::Int(v))
            }
            Key::MinP => {
                let v = number(raw).ok_or_else(|| invalid("must be a number"))?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(invalid("must be between 0 and 1"));
                }
                Ok(ParamValue::Float(v))
            }
            Key::RepetitionPenalty => {
                let v = number(raw).ok_or_else(|| invalid("must be a number"))?;
                if v <= 0.0 {
                    return Err(invalid("must be > 0"));
                }
                Ok(ParamValue::Float(v))
            }
            Key::PresencePenalty | Key::FrequencyPenalty => {
                let v = number(raw).ok_or_else(|| invalid("must be a number"))?;
                // vLLM's SamplingParams rejects penalties outside [-2, 2], as OpenAI's API does.
                if !(-2.0..=2.0).contains(&v) {
                    return Err(invalid("must be between -2 and 2"));
                }
                Ok(ParamValue::Float(v))
            }
            Key::MaxNewTokens => {
                let v = integer(raw).map_err(invalid)?;
                if v < 1 {
                    return Err(invalid("must be >= 1"));
                }
                Ok(ParamValue::Int(v))
            }
            Key::DoSample => match raw {
                Json::Bool(b) => Ok(ParamValue::Bool(*b)),
                _ => Err(invalid("must be true or false")),
            },
            Key::Seed => integer(raw).map(ParamValue::Int).map_err(invalid),
            Key::Stop => {
                let strings = match raw {
                    Json::String(s) => Some(vec![s.clone()]),
                    Json::Array(items) => items
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>(),
                    _ => None,
                };
                let strings =
                    strings.ok_or_else(|| invalid("must be a string or a list of strings"))?;
                if strings.iter().any(String::is_empty) {
                    // vLLM's SamplingParams refuses it ("stop cannot contain an empty string").
                    return Err(invalid("holds an empty string, which vLLM refuses"));
                }
                Ok(ParamValue::Strings(strings))
            }
            Key::ChatTemplateKwargs => check_template_kwargs(raw).map_err(invalid),
            Key::Extra(name) if Key::REQUEST_FIELDS.contains(&name.as_str()) => Err(invalid(
                "not a generation parameter: it is a field of the request itself, which the \
                 evaluator sets",
            )),
            Key::Extra(_) => check_extra(raw).map_err(invalid),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|name| Key::parse(&name))
    }
}

/// A finite JSON number (booleans and strings are not numbers, as in JSON Schema).
fn number(raw: &Json) -> Option<f64> {
    raw.as_f64().filter(|v| v.is_finite())
}

/// A JSON integer; `20.0` is refused like `"20"`, because a float where an integer belongs is
/// usually a mistake worth showing rather than silently truncating. A whole number past what a
/// 64-bit integer holds is out of range (a reader may have made it a float on the way).
fn integer(raw: &Json) -> Result<i64, &'static str> {
    if let Some(v) = raw.as_i64() {
        return Ok(v);
    }
    let whole = raw.is_u64()
        || raw
            .as_f64()
            .is_some_and(|v| v.is_finite() && v.fract() == 0.0);
    match raw.as_f64() {
        Some(v) if whole && v >= 9.2e18 => {
            Err("is out of range: the largest integer is 9223372036854775807")
        }
        Some(v) if whole && v <= -9.2e18 => {
            Err("is out of range: the smallest integer is -9223372036854775808")
        }
        _ => Err("must be an integer"),
    }
}

/// Extras reach lm-eval's `--gen_kwargs` and vLLM's defaults as written, so they must be values
/// both understand: scalars, or flat lists of scalars.
fn check_extra(raw: &Json) -> Result<ParamValue, &'static str> {
    let scalar = |v: &Json| match v {
        Json::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Json::String(_) | Json::Bool(_) => true,
        _ => false,
    };
    match raw {
        Json::Object(_) => Err("must be a scalar or a list of scalars, not a nested object"),
        Json::Array(items) if !items.iter().all(scalar) => {
            Err("must be a list of scalars (no nested lists, objects or nulls)")
        }
        Json::Null => Err("must be a value (null removes a key and is handled before this)"),
        v if v.is_array() || scalar(v) => Ok(ParamValue::Json(raw.clone())),
        _ => Err("must be a finite number, string or boolean"),
    }
}

/// A chat template's variables: a mapping of names to values (the template reads them as
/// Jinja variables, so a name must be one).
fn check_template_kwargs(raw: &Json) -> Result<ParamValue, &'static str> {
    let Json::Object(kwargs) = raw else {
        return Err("must be a mapping of template variables, as in {enable_thinking: false}");
    };
    let is_name = |name: &str| {
        name.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !kwargs.keys().all(|name| is_name(name)) {
        return Err("holds a name that is not a template variable (letters, digits and `_`)");
    }
    if kwargs.values().any(Json::is_null) {
        return Err("holds a null; leave the variable out to use the template's default");
    }
    Ok(ParamValue::Json(raw.clone()))
}

/// A checked parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Float(f64),
    Int(i64),
    Bool(bool),
    Strings(Vec<String>),
    /// An extra key's value, kept as written (already checked to be flat).
    Json(Json),
}

impl ParamValue {
    pub fn to_json(&self) -> Json {
        match self {
            ParamValue::Float(v) => {
                serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number)
            }
            ParamValue::Int(v) => Json::from(*v),
            ParamValue::Bool(v) => Json::Bool(*v),
            ParamValue::Strings(v) => Json::from(v.clone()),
            ParamValue::Json(v) => v.clone(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Float(v) => Some(*v),
            ParamValue::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ParamValue::Bool(v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// A value that is not acceptable for its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` = {value}: {problem}")]
pub struct InvalidParam {
    pub key: String,
    /// The offending value as JSON text.
    pub value: String,
    pub problem: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(key: Key, raw: Json) -> ParamValue {
        key.check(&raw)
            .unwrap_or_else(|e| panic!("{key} {raw} should pass: {e}"))
    }

    fn bad(key: Key, raw: Json) -> String {
        match key.check(&raw) {
            Ok(v) => panic!("{key} {raw} should fail, got {v:?}"),
            Err(e) => e.problem,
        }
    }

    #[test]
    fn ranges_accept_the_edges() {
        assert_eq!(ok(Key::Temperature, json!(0)), ParamValue::Float(0.0));
        assert_eq!(ok(Key::TopP, json!(1)), ParamValue::Float(1.0));
        assert_eq!(ok(Key::TopK, json!(-1)), ParamValue::Int(-1));
        assert_eq!(ok(Key::TopK, json!(0)), ParamValue::Int(0));
        assert_eq!(ok(Key::TopK, json!(1)), ParamValue::Int(1));
        assert_eq!(ok(Key::MinP, json!(0)), ParamValue::Float(0.0));
        assert_eq!(ok(Key::MinP, json!(1.0)), ParamValue::Float(1.0));
        assert_eq!(ok(Key::MaxNewTokens, json!(1)), ParamValue::Int(1));
        assert_eq!(ok(Key::Seed, json!(-5)), ParamValue::Int(-5));
        assert_eq!(ok(Key::PresencePenalty, json!(-2)), ParamValue::Float(-2.0));
        assert_eq!(
            ok(Key::Stop, json!("\n\n")),
            ParamValue::Strings(vec!["\n\n".into()])
        );
    }

    #[test]
    fn ranges_refuse_outside_values() {
        assert!(bad(Key::Temperature, json!(-0.1)).contains(">= 0"));
        assert!(bad(Key::TopP, json!(0)).contains("> 0"));
        assert!(bad(Key::TopP, json!(1.01)).contains("<= 1"));
        assert!(bad(Key::TopK, json!(-2)).contains("disable"));
        assert!(bad(Key::MinP, json!(1.5)).contains("between 0 and 1"));
        assert!(bad(Key::RepetitionPenalty, json!(0)).contains("> 0"));
        assert!(bad(Key::MaxNewTokens, json!(0)).contains(">= 1"));
        assert!(bad(Key::FrequencyPenalty, json!(2.5)).contains("-2 and 2"));
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(bad(Key::Temperature, json!("0.7")).contains("number"));
        assert!(bad(Key::Temperature, json!(true)).contains("number"));
        assert!(bad(Key::TopK, json!(20.0)).contains("integer"));
        assert!(bad(Key::Seed, json!(1.5)).contains("integer"));
        assert!(bad(Key::DoSample, json!(1)).contains("true or false"));
        assert!(bad(Key::DoSample, json!("yes")).contains("true or false"));
        assert!(bad(Key::Stop, json!([1, 2])).contains("strings"));
        assert!(bad(Key::Temperature, json!({"value": 1})).contains("number"));
        assert!(bad(Key::ChatTemplateKwargs, json!(true)).contains("mapping"));
        assert!(bad(Key::ChatTemplateKwargs, json!({"enable-thinking": true})).contains("name"));
        assert!(bad(Key::ChatTemplateKwargs, json!({"x": null})).contains("null"));
        assert_eq!(
            ok(Key::ChatTemplateKwargs, json!({"enable_thinking": false})),
            ParamValue::Json(json!({"enable_thinking": false}))
        );
    }

    #[test]
    fn extras_must_be_flat() {
        let extra = Key::parse("typical_p");
        assert_eq!(ok(extra.clone(), json!(0.9)), ParamValue::Json(json!(0.9)));
        assert_eq!(
            ok(extra.clone(), json!(["a", 1])),
            ParamValue::Json(json!(["a", 1]))
        );
        assert!(bad(extra.clone(), json!({"a": 1})).contains("nested object"));
        assert!(bad(extra, json!([[1]])).contains("list of scalars"));
    }

    #[test]
    fn aliases_are_the_known_key_and_request_fields_are_refused() {
        assert_eq!(Key::parse("max_gen_toks"), Key::MaxNewTokens);
        assert_eq!(Key::parse("max_tokens"), Key::MaxNewTokens);
        assert_eq!(Key::parse("until"), Key::Stop);
        assert_eq!(Key::parse("stop_sequences"), Key::Stop);
        for (alias, key) in Key::ALIASES {
            assert!(Key::known(alias).is_none(), "{alias} is an alias of {key}");
        }
        assert!(bad(Key::parse("model"), json!("x")).contains("request itself"));
    }

    #[test]
    fn keys_round_trip_by_name() {
        for key in Key::KNOWN {
            assert_eq!(Key::parse(key.name()), key);
        }
        assert_eq!(Key::parse("typical_p"), Key::Extra("typical_p".into()));
        assert!(Key::Stop < Key::Extra("a".into()));
    }

    #[test]
    fn an_empty_stop_string_and_integers_out_of_range_say_so() {
        let said = |key: Key, raw: Json| key.check(&raw).unwrap_err().problem;
        assert_eq!(
            said(Key::Stop, json!(["\n", ""])),
            "holds an empty string, which vLLM refuses"
        );
        assert_eq!(
            said(Key::Stop, json!("")),
            "holds an empty string, which vLLM refuses"
        );
        assert_eq!(
            said(Key::Seed, json!(18446744073709551616.0)),
            "is out of range: the largest integer is 9223372036854775807"
        );
        assert_eq!(
            said(Key::MaxNewTokens, json!(9223372036854775808u64)),
            "is out of range: the largest integer is 9223372036854775807"
        );
        assert_eq!(
            said(Key::Seed, json!(-1e19)),
            "is out of range: the smallest integer is -9223372036854775808"
        );
        assert_eq!(said(Key::Seed, json!(1.5)), "must be an integer");
        assert_eq!(said(Key::TopK, json!("20")), "must be an integer");
    }
}
