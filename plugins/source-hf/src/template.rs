//! The model's chat template, read beside its generation config so that a mode's switch can be
//! checked against the variables the template reads. Looked for where transformers and vLLM
//! look: `chat_template.jinja` (what transformers saves since 4.50), then `tokenizer_config.json`'s
//! `chat_template` (a string, or a list of named templates of which `default` is the one chat
//! requests use), then `chat_template.json` (a processor's `{"chat_template": ...}`).

use std::path::Path;

use benchy_core::source::{MAX_TEXT_FILE_BYTES, read_existing_file};
use benchy_core::{Artifact, Diagnostic};
use serde_json::Value as Json;

use crate::fetch::{FetchError, Outcome, fetch};
use crate::settings::HubSettings;
use crate::urls::resolve_url;

/// The files a chat template is found in, in the order they are looked at.
pub const TEMPLATE_FILES: [&str; 3] = [
    "chat_template.jinja",
    "tokenizer_config.json",
    "chat_template.json",
];

/// The name the template is kept under, in a run's folder and its record.
pub const TEMPLATE_NAME: &str = "chat_template.jinja";

/// A file that may hold the template: its name, where a person can open it, its commit, and its
/// bytes.
struct Found {
    file: &'static str,
    origin: String,
    revision: Option<String>,
    bytes: Vec<u8>,
}

/// The template of `repo_id` at `revision` (a commit when the generation config named one, so a
/// cached answer costs no request); a file that cannot be fetched is a note, not a failure.
pub fn from_hub(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    offline: bool,
) -> (Option<Artifact>, Vec<Diagnostic>) {
    let mut notes = Vec::new();
    for file in TEMPLATE_FILES {
        match fetch(settings, repo_id, revision, file, offline) {
            Ok(Outcome::File { commit, bytes, .. }) => {
                let found = Found {
                    file,
                    origin: resolve_url(&settings.endpoint, repo_id, &commit, file),
                    revision: Some(commit),
                    bytes,
                };
                if let Some(template) = template_in(found, &mut notes) {
                    return (Some(template), notes);
                }
            }
            Ok(Outcome::NoFile { .. }) => {}
            Err(FetchError::Input(why) | FetchError::Unavailable(why)) => {
                notes.push(Diagnostic::warning(format!(
                    "hf: the chat template of {repo_id} could not be read ({why}); modes cannot \
                     be checked against it"
                )));
                return (None, notes);
            }
        }
    }
    (None, notes)
}

/// The template in the model folder `dir`.
pub fn from_dir(dir: &Path) -> (Option<Artifact>, Vec<Diagnostic>) {
    let mut notes = Vec::new();
    for file in TEMPLATE_FILES {
        let path = dir.join(file);
        match read_existing_file(&path, MAX_TEXT_FILE_BYTES) {
            Ok(Some(bytes)) => {
                let found = Found {
                    file,
                    origin: path.display().to_string(),
                    revision: None,
                    bytes,
                };
                if let Some(template) = template_in(found, &mut notes) {
                    return (Some(template), notes);
                }
            }
            Ok(None) => {}
            Err(e) => notes.push(Diagnostic::warning(format!("{}: {e}", path.display()))),
        }
    }
    (None, notes)
}

/// The template a found file holds, or `None` (with a note when the file is unreadable) so the
/// next file is looked at.
fn template_in(found: Found, notes: &mut Vec<Diagnostic>) -> Option<Artifact> {
    let text = match String::from_utf8(found.bytes) {
        Ok(text) => text,
        Err(_) => {
            notes.push(Diagnostic::warning(format!(
                "{} is not UTF-8 text; its chat template is not read",
                found.origin
            )));
            return None;
        }
    };
    let template = if found.file.ends_with(".jinja") {
        Some(text)
    } else {
        template_field(&text).unwrap_or_else(|why| {
            notes.push(Diagnostic::warning(format!("{}: {why}", found.origin)));
            None
        })
    };
    template.map(|text| Artifact {
        name: TEMPLATE_NAME.to_owned(),
        origin: found.origin,
        revision: found.revision,
        text,
        model_file: false,
    })
}

/// The `chat_template` field of a JSON file: its text, the `default` one of a list of named
/// templates, or `None` when the file has none.
fn template_field(text: &str) -> Result<Option<String>, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    match json.get("chat_template") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(template)) => Ok(Some(template.clone())),
        Some(Json::Array(named)) => Ok(named
            .iter()
            .find(|t| t.get("name").and_then(Json::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Json::as_str)
            .map(str::to_owned)),
        Some(_) => Err("`chat_template` is neither text nor a list of named templates".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_file_that_holds_a_template_is_used_as_transformers_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(from_dir(dir.path()).0, None);
        std::fs::write(
            dir.path().join("chat_template.json"),
            r#"{"chat_template": "C"}"#,
        )
        .unwrap();
        assert_eq!(from_dir(dir.path()).0.unwrap().text, "C");
        let named = r#"{"chat_template": [{"name": "tool_use", "template": "T"},
                        {"name": "default", "template": "D"}]}"#;
        std::fs::write(dir.path().join("tokenizer_config.json"), named).unwrap();
        assert_eq!(from_dir(dir.path()).0.unwrap().text, "D");
        std::fs::write(dir.path().join("chat_template.jinja"), "J").unwrap();
        let template = from_dir(dir.path()).0.unwrap();
        assert_eq!(
            (template.text.as_str(), template.name.as_str()),
            ("J", TEMPLATE_NAME)
        );
        assert!(template.origin.ends_with("chat_template.jinja"));
    }

    #[test]
    fn a_config_without_a_template_passes_to_the_next_file_and_a_broken_one_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"eos_token": "x"}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("chat_template.json"), "{not json").unwrap();
        let (template, notes) = from_dir(dir.path());
        assert_eq!(template, None);
        assert!(notes[0].message.contains("not valid JSON"), "{notes:?}");
    }
}
