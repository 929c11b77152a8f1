//! What an answer is filed under: everything that decides it. The scope (the cache's format,
//! the model as its files are, the server as it answers: backend, version and the settings that
//! change outputs) with the endpoint and the request body as canonical JSON (keys sorted), hashed.
//! A request that samples (a temperature above 0, or none, which a server reads as its default)
//! is filed only when it carries a `seed`: without one, two asks are two different samples.

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::store::FORMAT;

/// The part of every key a run shares: what answers are scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    canonical: String,
}

impl Scope {
    /// The scope of answers from `server` (its identity) for `model` (its identity).
    pub fn new(model: &Json, server: &Json) -> Scope {
        Scope {
            canonical: canonical(&json!({"format": FORMAT, "model": model, "server": server})),
        }
    }

    /// The key of the request to `path` with `body`; `None` when it must not be cached (a body
    /// that is no JSON object, or a request that samples without a seed).
    pub fn key(&self, path: &str, body: &[u8]) -> Option<Vec<u8>> {
        let request: Map<String, Json> = serde_json::from_slice(body).ok()?;
        if !repeatable(&request) {
            return None;
        }
        let mut hash = Sha256::new();
        for part in [
            self.canonical.as_str(),
            path,
            &canonical(&Json::Object(request)),
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        Some(hash.finalize().to_vec())
    }
}

/// Whether asking again gives the same answer: greedy, or seeded.
fn repeatable(request: &Map<String, Json>) -> bool {
    let seeded = request.get("seed").is_some_and(|s| !s.is_null());
    let greedy = request
        .get("temperature")
        .and_then(Json::as_f64)
        .is_some_and(|t| t == 0.0);
    seeded || greedy
}

/// JSON with every object's keys sorted, compact.
fn canonical(value: &Json) -> String {
    let mut value = value.clone();
    value.sort_all_objects();
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new(
            &json!({"name": "org/m", "read_at": "abc"}),
            &json!({"version": "0.31.0"}),
        )
    }

    #[test]
    fn the_same_request_in_any_key_order_is_one_key_and_any_change_another() {
        let s = scope();
        let a = s.key(
            "/v1/completions",
            br#"{"prompt": "x", "seed": 1, "temperature": 0.7}"#,
        );
        let b = s.key(
            "/v1/completions",
            br#"{"temperature": 0.7, "seed": 1, "prompt": "x"}"#,
        );
        assert!(a.is_some());
        assert_eq!(a, b);
        let hotter = s.key(
            "/v1/completions",
            br#"{"prompt": "x", "seed": 1, "temperature": 0.8}"#,
        );
        assert_ne!(a, hotter);
        let chat = s.key(
            "/v1/chat/completions",
            br#"{"prompt": "x", "seed": 1, "temperature": 0.7}"#,
        );
        assert_ne!(a, chat);
        // another model's files, or another server version: another scope
        for (read_at, version) in [("def", "0.31.0"), ("abc", "0.32.0")] {
            let other = Scope::new(
                &json!({"name": "org/m", "read_at": read_at}),
                &json!({"version": version}),
            );
            let body = br#"{"prompt": "x", "seed": 1, "temperature": 0.7}"#;
            assert_ne!(a, other.key("/v1/completions", body));
        }
    }

    #[test]
    fn a_sample_without_a_seed_is_never_filed() {
        let s = scope();
        assert_eq!(
            s.key("/v1/completions", br#"{"prompt": "x", "temperature": 0.7}"#),
            None
        );
        assert_eq!(s.key("/v1/completions", br#"{"prompt": "x"}"#), None);
        assert!(
            s.key("/v1/completions", br#"{"prompt": "x", "temperature": 0}"#)
                .is_some()
        );
        assert_eq!(s.key("/v1/completions", b"not json"), None);
    }
}
