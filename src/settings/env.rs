//! `[env]`: variables put into benchy's own environment, so that what runs inside benchy (a
//! backend reading its variable, as the lm-eval backend reads `BENCHY_LM_EVAL`) and every child
//! it starts (servers, evaluators, external subcommands) see them. A variable the environment
//! already has wins, as a flag wins over a setting.

use std::collections::BTreeMap;

use super::{Origin, Setting};

/// Sets each variable the environment lacks; for one it has, the setting becomes the
/// environment's value, so `benchy config show` tells what is in effect.
pub fn apply(env: &mut BTreeMap<String, Setting<String>>) {
    for (name, setting) in env.iter_mut() {
        match std::env::var_os(name) {
            Some(value) => {
                *setting = Setting {
                    value: value.to_string_lossy().into_owned(),
                    origin: Origin::Environment,
                };
            }
            None => set(name, &setting.value),
        }
    }
}

#[allow(unsafe_code)]
fn set(name: &str, value: &str) {
    // SAFETY: called once, from `commands::run` before benchy starts any thread (the runtime,
    // the runner's watchers and the progress line all start later), so no other thread reads
    // the environment while it changes. The reader refused names and values set_var rejects.
    unsafe { std::env::set_var(name, value) }
}
