//! The merge: layers in precedence order become one resolved set where every key remembers the
//! layer it came from. Pure: no I/O, no clock, no environment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::diagnostic::Diagnostic;
use crate::layer::{Entry, Layer, SourceRef};
use crate::params::{Key, ParamValue};

/// One resolved key: its value and the layer that supplied it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResolvedParam {
    pub value: ParamValue,
    pub source: SourceRef,
}

/// The resolved generation parameters, plus the notes normalization made.
///
/// As JSON (the plugin boundary): `{"params": {name: {"value": V, "source": {...}}}, "notes":
/// [...]}`; reading it checks every value again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ResolvedWire")]
pub struct Resolved {
    pub params: BTreeMap<Key, ResolvedParam>,
    pub notes: Vec<Diagnostic>,
}

#[derive(Deserialize)]
struct ResolvedWire {
    params: BTreeMap<String, WireParam>,
    #[serde(default)]
    notes: Vec<Diagnostic>,
}

#[derive(Deserialize)]
struct WireParam {
    value: Json,
    source: SourceRef,
}

impl TryFrom<ResolvedWire> for Resolved {
    type Error = crate::params::InvalidParam;

    fn try_from(wire: ResolvedWire) -> Result<Self, Self::Error> {
        let params = wire
            .params
            .into_iter()
            .map(|(name, p)| {
                let key = Key::parse(&name);
                let value = key.check(&p.value)?;
                Ok((
                    key,
                    ResolvedParam {
                        value,
                        source: p.source,
                    },
                ))
            })
            .collect::<Result<_, Self::Error>>()?;
        Ok(Resolved {
            params,
            notes: wire.notes,
        })
    }
}

/// Later layers win key by key; an explicit removal drops what earlier layers set.
pub fn merge<'a, I>(layers: I) -> Resolved
where
    I: IntoIterator<Item = &'a Layer>,
{
    let mut params = BTreeMap::new();
    for layer in layers {
        for (key, entry) in &layer.entries {
            match entry {
                Entry::Set(value) => {
                    params.insert(
                        key.clone(),
                        ResolvedParam {
                            value: value.clone(),
                            source: layer.source.clone(),
                        },
                    );
                }
                Entry::Remove => {
                    params.remove(key);
                }
            }
        }
    }
    Resolved {
        params,
        notes: Vec::new(),
    }
}

impl Resolved {
    pub fn get(&self, key: &Key) -> Option<&ParamValue> {
        self.params.get(key).map(|p| &p.value)
    }

    /// `{name: {"value": V, "source": "kind[:detail]"}}`, the shape `config explain --format
    /// json` and `resolved_generation.json` promise to scripts.
    pub fn to_json(&self) -> Json {
        let map = self
            .params
            .iter()
            .map(|(key, p)| {
                let entry = serde_json::json!({
                    "value": p.value.to_json(),
                    "source": p.source.to_string(),
                });
                (key.name().to_owned(), entry)
            })
            .collect::<serde_json::Map<_, _>>();
        Json::Object(map)
    }

    /// The values alone, keyed by benchy's (Hugging Face) names.
    pub fn values(&self) -> BTreeMap<Key, ParamValue> {
        self.params
            .iter()
            .map(|(k, p)| (k.clone(), p.value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key_strategy() -> impl Strategy<Value = Key> {
        prop_oneof![
            Just(Key::Temperature),
            Just(Key::TopP),
            Just(Key::TopK),
            Just(Key::Seed),
            Just(Key::Extra("typical_p".into())),
        ]
    }

    fn entry_strategy() -> impl Strategy<Value = Entry> {
        prop_oneof![
            3 => (0i64..100).prop_map(|v| Entry::Set(ParamValue::Int(v))),
            1 => Just(Entry::Remove),
        ]
    }

    fn layer_strategy(index: usize) -> impl Strategy<Value = Layer> {
        prop::collection::btree_map(key_strategy(), entry_strategy(), 0..5).prop_map(
            move |entries| {
                let mut layer = Layer::new(SourceRef::new("test", index.to_string()));
                layer.entries = entries;
                layer
            },
        )
    }

    fn layers_strategy() -> impl Strategy<Value = Vec<Layer>> {
        (0usize..6).prop_flat_map(|n| (0..n).map(layer_strategy).collect::<Vec<_>>())
    }

    proptest! {
        /// Each resolved key has the value and source of the last layer that mentions it, and a
        /// key whose last mention is a removal (or that no layer sets) is absent.
        #[test]
        fn last_mention_wins(layers in layers_strategy()) {
            let resolved = merge(&layers);
            for key in Key::KNOWN.iter().cloned().chain([Key::Extra("typical_p".into())]) {
                let last = layers.iter().rev().find_map(|l| l.entries.get(&key).map(|e| (l, e)));
                match last {
                    Some((layer, Entry::Set(value))) => {
                        let got = resolved.params.get(&key).expect("set key is resolved");
                        prop_assert_eq!(&got.value, value);
                        prop_assert_eq!(&got.source, &layer.source);
                    }
                    Some((_, Entry::Remove)) | None => {
                        prop_assert!(!resolved.params.contains_key(&key));
                    }
                }
            }
        }

        /// Merging a prefix first and feeding the result back as one layer changes nothing,
        /// so precedence does not depend on how layers are grouped.
        #[test]
        fn merge_is_associative(layers in layers_strategy(), split in 0usize..6) {
            let split = split.min(layers.len());
            let (head, tail) = layers.split_at(split);
            let head_resolved = merge(head);
            // a merged prefix as a layer: its keys Set, with per-key sources kept aside
            let mut as_layer = Layer::new(SourceRef::bare("prefix"));
            for (key, p) in &head_resolved.params {
                as_layer.entries.insert(key.clone(), Entry::Set(p.value.clone()));
            }
            let regrouped = merge(std::iter::once(&as_layer).chain(tail));
            let direct = merge(&layers);
            prop_assert_eq!(regrouped.values(), direct.values());
        }

        /// Merging the same layers twice gives the same result (no hidden state).
        #[test]
        fn merge_is_deterministic(layers in layers_strategy()) {
            prop_assert_eq!(merge(&layers), merge(&layers));
        }
    }

    #[test]
    fn resolved_round_trips_through_json() {
        let mut layer = Layer::new(SourceRef::new("hf", "a/b@c"));
        layer.set(Key::TopK, ParamValue::Int(20));
        layer.set(
            Key::Extra("typical_p".into()),
            ParamValue::Json(serde_json::json!(0.5)),
        );
        let resolved = crate::normalize(merge([&layer]));
        let text = serde_json::to_string(&resolved).unwrap();
        let back: Resolved = serde_json::from_str(&text).unwrap();
        assert_eq!(back, resolved);
    }

    #[test]
    fn json_shape_is_value_and_source() {
        let mut layer = Layer::new(SourceRef::new("hf", "a/b@c"));
        layer.set(Key::TopP, ParamValue::Float(0.9));
        let json = merge([&layer]).to_json();
        assert_eq!(
            json,
            serde_json::json!({"top_p": {"value": 0.9, "source": "hf:a/b@c"}})
        );
    }
}
