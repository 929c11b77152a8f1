//! Secrets, hidden by what they are rather than by which key held them. Every value benchy
//! learns is secret is registered here once: the values of environment variables whose names
//! mark credentials (`*TOKEN*`, `*KEY*`, `*SECRET*`, `*PASSWORD*`...), the password of a URL's
//! user-info, a provider's `hf_token`, an environment value a backend marks secret. Everything
//! benchy writes or shows (files in the run folder, log headers, records, command lines on
//! stderr, errors) passes through [`mask`], which writes each of them as `***`. Secrets reach
//! child processes through their environment only.

use std::sync::{OnceLock, RwLock};

use benchy_core::ProcessSpec;
use serde_json::{Map, Value as Json};

/// What a secret is written as.
pub const MASK: &str = "***";

/// Shorter values are not secrets worth masking (and masking them would garble every number):
/// `HF_HUB_DISABLE_IMPLICIT_TOKEN=1` names a token but holds a switch.
const MIN_SECRET_LEN: usize = 4;

/// Words in an environment variable's name that mark its value as a credential.
const SECRET_NAME_WORDS: [&str; 6] = ["TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Whether a variable or settings key's name says its value is a credential: it holds one of
/// the words, not followed by a letter (`HF_TOKEN`, `OPENAI_API_KEY`, `apikey`; not
/// `max_num_batched_tokens` or `TOKENIZERS_PARALLELISM`, which hold counts and switches).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_WORDS.iter().any(|word| {
        upper.match_indices(word).any(|(at, _)| {
            !upper[at + word.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
        })
    })
}

/// Registers `value` as a secret (ignored when too short or a switch's `true`/`false`).
pub fn register(value: &str) {
    let value = value.trim();
    let switch = ["true", "false", "yes", "no", "on", "off", "none", "null"]
        .contains(&value.to_ascii_lowercase().as_str());
    if value.chars().count() < MIN_SECRET_LEN || switch {
        return;
    }
    let mut secrets = registry().write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == value) {
        secrets.push(value.to_owned());
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers the values of this process's environment variables whose names mark credentials,
/// and the user-info of every URL a variable holds (`HF_ENDPOINT`, `HTTPS_PROXY`...).
pub fn register_environment() {
    for (name, value) in std::env::vars_os() {
        if let (Some(name), Some(value)) = (name.to_str(), value.to_str()) {
            if is_secret_name(name) {
                register(value);
            }
            register_url(value);
        }
    }
}

/// Registers every value in `settings` (a provider's settings, a task's defaults) held by a
/// key whose name marks a credential (`hf_token`, `env: {HF_TOKEN: ...}`), and every URL's
/// user-info, at any depth.
pub fn register_settings(settings: &Map<String, Json>) {
    for (key, value) in settings {
        register_setting(key, value);
    }
}

fn register_setting(key: &str, value: &Json) {
    match value {
        Json::String(text) if is_secret_name(key) => register(text),
        Json::Number(number) if is_secret_name(key) => register(&number.to_string()),
        Json::String(text) => {
            register_url(text);
        }
        Json::Object(map) => register_settings(map),
        Json::Array(items) => items.iter().for_each(|item| register_setting(key, item)),
        _ => {}
    }
}

/// Registers the secrets a line of words holds (an alias, a shell line, a setting's text): every
/// URL's user-info, and the value of every `NAME=VALUE` word whose name marks a credential
/// (`OPENAI_API_KEY=sk-...`, `--set api_key=...`); a value read at run time (`$VAR`) is none.
pub fn register_words(text: &str) {
    for word in text.split_whitespace() {
        let word = word.trim_matches(['"', '\'']);
        register_url(word);
        if let Some((name, value)) = word.split_once('=') {
            let value = value.trim_matches(['"', '\'']);
            if is_secret_name(name.trim_start_matches('-')) && !value.starts_with('$') {
                register(value);
            }
            register_url(value);
        }
    }
}

/// A user name alone in a URL (`https://TOKEN@host/`) is registered only when it is this long:
/// then it is a token, while a short one is a plain name that masking would garble everywhere.
const MIN_TOKEN_USER_LEN: usize = 16;

/// Registers the secret of a URL's user-info (its password; a user name alone when it is long
/// enough to be a token), and returns the URL without its user-info.
pub fn register_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some((userinfo, host)) = rest[..authority_end].rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((_, password)) => register(password),
        None if userinfo.chars().count() >= MIN_TOKEN_USER_LEN => register(userinfo),
        None => {}
    }
    format!("{scheme}://{host}{}", &rest[authority_end..])
}

/// `text` with every registered secret written as [`MASK`].
pub fn mask(text: &str) -> String {
    let secrets = registry().read().unwrap_or_else(|e| e.into_inner());
    let mut masked = text.to_owned();
    for secret in secrets.iter() {
        if masked.contains(secret.as_str()) {
            masked = masked.replace(secret.as_str(), MASK);
        }
    }
    masked
}

/// Every string in `value` masked, keys included.
pub fn mask_json(value: &Json) -> Json {
    match value {
        Json::String(s) => Json::String(mask(s)),
        Json::Array(items) => Json::Array(items.iter().map(mask_json).collect()),
        Json::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (mask(k), mask_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// Registers the spec's secret environment values (those it marks secret, and those of
/// variables whose names mark credentials).
pub fn register_spec(spec: &ProcessSpec) {
    for (name, value) in &spec.env {
        if value.secret || is_secret_name(name) {
            register(&value.value);
        }
    }
}

/// The spec's command line as it may be shown: its secrets registered, and every secret masked.
pub fn shown_command(spec: &ProcessSpec) -> String {
    register_spec(spec);
    mask(&spec.display_command())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_by_value_wherever_they_appear() {
        register("hf_canary_1234567");
        let url = register_url("http://user:pa55word-canary@127.0.0.1:8000/v1");
        assert_eq!(url, "http://127.0.0.1:8000/v1");
        let text = "token hf_canary_1234567 in http://user:pa55word-canary@h/";
        assert_eq!(mask(text), "token *** in http://user:***@h/");
        let json = serde_json::json!({"a": ["x hf_canary_1234567"], "hf_canary_1234567": 1});
        assert_eq!(
            mask_json(&json),
            serde_json::json!({"a": ["x ***"], "***": 1})
        );
    }

    #[test]
    fn settings_secrets_are_found_by_name_and_in_urls_at_any_depth() {
        let settings = serde_json::json!({
            "hf_token": "hf_settings_canary_1",
            "env": {"HF_TOKEN": "hf_settings_canary_2", "MIRROR": "http://u:pw-settings-3@h/"},
            "max_num_batched_tokens": 81920,
            "extra_args": ["--api-key-file", "x"],
        });
        register_settings(settings.as_object().unwrap());
        assert_eq!(
            mask("hf_settings_canary_1 hf_settings_canary_2 pw-settings-3 81920"),
            "*** *** *** 81920"
        );
        // a short user name alone is a name, not a token
        register_url("http://admin@host/");
        assert_eq!(mask("admin"), "admin");
    }

    #[test]
    fn switches_and_short_values_are_not_secrets() {
        register("1");
        register("true");
        assert_eq!(
            mask("HF_HUB_DISABLE_IMPLICIT_TOKEN=1 true"),
            "HF_HUB_DISABLE_IMPLICIT_TOKEN=1 true"
        );
        assert!(is_secret_name("OPENAI_API_KEY") && is_secret_name("hf_token"));
        assert!(is_secret_name("apikey") && is_secret_name("AWS_SECRET_ACCESS_KEY"));
        assert!(!is_secret_name("CUDA_VISIBLE_DEVICES"));
        assert!(!is_secret_name("max_num_batched_tokens"));
        assert!(!is_secret_name("TOKENIZERS_PARALLELISM"));
    }
}
