//! Normalization, in one place: what `do_sample` means for the temperature sent to an API.
//!
//! An OpenAI-style API has no `do_sample`; greedy decoding is `temperature: 0`. lm-eval's API
//! models drop `do_sample` and send `temperature: 0` when none is given, and vLLM samples at
//! 1.0 when none is given, so the temperature must always be explicit. The rules follow
//! transformers, whose `generation_config.json` the values mostly come from:
//!
//! | do_sample | temperature | sent temperature                          |
//! |-----------|-------------|-------------------------------------------|
//! | false     | any         | 0 (greedy)                                |
//! | true      | absent      | 1.0 (transformers' default when sampling) |
//! | absent    | absent      | 0 (transformers' default is greedy)       |
//! | absent    | set         | as written (what vLLM does)               |
//! | true      | set         | as written                                |
//!
//! Every change is recorded: the temperature's source becomes `normalized:...` or
//! `default:...`, and a note says what happened.

use crate::diagnostic::Diagnostic;
use crate::layer::SourceRef;
use crate::merge::{Resolved, ResolvedParam};
use crate::params::{Key, ParamValue};

/// transformers' `GenerationConfig.temperature` default, used when sampling.
const SAMPLING_DEFAULT_TEMPERATURE: f64 = 1.0;

/// Applies the rules above. Idempotent: normalizing twice gives the same parameters.
pub fn normalize(mut resolved: Resolved) -> Resolved {
    let do_sample = resolved
        .params
        .get(&Key::DoSample)
        .and_then(|p| p.value.as_bool().map(|b| (b, p.source.clone())));
    let temperature = resolved
        .params
        .get(&Key::Temperature)
        .and_then(|p| p.value.as_f64().map(|t| (t, p.source.clone())));

    let (value, source, note) = match (do_sample, temperature) {
        (Some((false, ds_source)), Some((t, t_source))) if t != 0.0 => (
            0.0,
            SourceRef::new("normalized", format!("do_sample=false from {ds_source}")),
            Diagnostic::info(format!(
                "temperature {t} from {t_source} replaced by 0: do_sample=false from \
                 {ds_source} means greedy decoding"
            )),
        ),
        (Some((false, ds_source)), None) => (
            0.0,
            SourceRef::new("normalized", format!("do_sample=false from {ds_source}")),
            Diagnostic::info(format!(
                "temperature set to 0: do_sample=false from {ds_source} means greedy decoding"
            )),
        ),
        (Some((true, ds_source)), None) => (
            SAMPLING_DEFAULT_TEMPERATURE,
            SourceRef::new("normalized", format!("do_sample=true from {ds_source}")),
            Diagnostic::info(format!(
                "temperature set to {SAMPLING_DEFAULT_TEMPERATURE} (transformers' default when \
                 sampling): do_sample=true from {ds_source} and no layer sets a temperature"
            )),
        ),
        (None, None) => (
            0.0,
            SourceRef::new("default", "greedy"),
            Diagnostic::info(
                "temperature set to 0 (greedy, transformers' default): no layer sets \
                 temperature or do_sample",
            ),
        ),
        (Some((true, ds_source)), Some((0.0, t_source))) => {
            resolved.notes.push(Diagnostic::warning(format!(
                "do_sample=true from {ds_source} but temperature 0 from {t_source}: decoding \
                 is greedy"
            )));
            return resolved;
        }
        _ => return resolved,
    };
    resolved.params.insert(
        Key::Temperature,
        ResolvedParam {
            value: ParamValue::Float(value),
            source,
        },
    );
    resolved.notes.push(note);
    resolved
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::layer::Layer;
    use crate::merge::merge;

    fn resolve(do_sample: Option<bool>, temperature: Option<f64>) -> Resolved {
        let mut layer = Layer::new(SourceRef::new("hf", "m"));
        if let Some(b) = do_sample {
            layer.set(Key::DoSample, ParamValue::Bool(b));
        }
        if let Some(t) = temperature {
            layer.set(Key::Temperature, ParamValue::Float(t));
        }
        normalize(merge([&layer]))
    }

    fn temperature(r: &Resolved) -> (f64, String) {
        let p = &r.params[&Key::Temperature];
        (p.value.as_f64().unwrap(), p.source.to_string())
    }

    #[test]
    fn greedy_flag_wins_over_a_written_temperature() {
        let r = resolve(Some(false), Some(0.3));
        assert_eq!(
            temperature(&r),
            (0.0, "normalized:do_sample=false from hf:m".into())
        );
        assert!(r.notes[0].message.contains("replaced by 0"));
    }

    #[test]
    fn sampling_without_temperature_uses_transformers_default() {
        let r = resolve(Some(true), None);
        assert_eq!(temperature(&r).0, 1.0);
        assert!(temperature(&r).1.starts_with("normalized:"));
    }

    #[test]
    fn nothing_set_means_greedy_by_default() {
        let r = resolve(None, None);
        assert_eq!(temperature(&r), (0.0, "default:greedy".into()));
    }

    #[test]
    fn written_temperature_is_kept_as_written() {
        let r = resolve(None, Some(0.9));
        assert_eq!(temperature(&r), (0.9, "hf:m".into()));
        assert!(r.notes.is_empty());
        let r = resolve(Some(true), Some(0.7));
        assert_eq!(temperature(&r), (0.7, "hf:m".into()));
    }

    #[test]
    fn sampling_with_zero_temperature_is_warned() {
        let r = resolve(Some(true), Some(0.0));
        assert_eq!(temperature(&r).0, 0.0);
        assert!(r.notes[0].message.contains("greedy"));
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent_and_always_sets_temperature(
            do_sample in prop::option::of(any::<bool>()),
            temperature in prop::option::of(0.0f64..2.0),
        ) {
            let once = resolve(do_sample, temperature);
            prop_assert!(once.params.contains_key(&Key::Temperature));
            let twice = normalize(once.clone());
            prop_assert_eq!(twice.params, once.params);
        }
    }
}
