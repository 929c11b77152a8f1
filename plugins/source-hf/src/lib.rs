//! The `hf` source: the model's `generation_config.json` from the Hugging Face Hub (for
//! `model.name` at `model.revision`, default `main`), or from the model directory when
//! `model.name` is a path, read leniently because the user cannot fix the Hub's file: an invalid
//! value drops that key with a warning, the valid keys are kept.
//!
//! It behaves as the Python `huggingface_hub` 2.4.0 users already have: same environment
//! variables (`HF_ENDPOINT`, `HF_HUB_CACHE`/`HF_HOME`, `HF_TOKEN`/`HF_TOKEN_PATH`,
//! `HF_HUB_OFFLINE`, `HF_HUB_ETAG_TIMEOUT`, `HF_HUB_DOWNLOAD_TIMEOUT`), same protocol, same
//! cache on disk, so a file either side downloaded is found by the other ([`cache`]).
//!
//! # Why a small client of our own, on ureq
//!
//! The `hf-hub` crate (1.0.0 on crates.io, checked in its source) reads the same variables and
//! keeps the same cache layout, `.no_exist` and `If-None-Match` revalidation included, but it
//! does not suit a source that runs synchronously before any async runtime exists: it is async
//! (its blocking API wraps a tokio runtime), it depends on `hf-xet` and on reqwest with its
//! default TLS (aws-lc-rs), a long build on a two-core machine for one small file, it does not
//! read `HF_HUB_OFFLINE`, and it maps the Hub's errors to its own messages where benchy needs
//! ones naming `HF_TOKEN`, `model.revision` and the fallback taken. The protocol part needed
//! here is small ([`client`], [`fetch`](mod@fetch)) and follows huggingface_hub's own source, cited
//! function by function.
//!
//! The HTTP client is ureq rather than the workspace's reqwest: ureq is blocking with no
//! runtime to start, and its rustls backend uses the ring provider it selects itself with
//! Mozilla's roots (as Python's certifi). reqwest 0.13 either brings aws-lc-rs or, with
//! `rustls-no-provider`, panics on building any client whose process has not installed a crypto
//! provider first, which feature unification would impose on every reqwest user in the
//! workspace. Either way no client is built when no request is needed: offline runs and cached
//! commit shas read the cache and return.

pub mod cache;
pub mod client;
pub mod env_vars;
pub mod fetch;
mod repo_id;
pub mod settings;
pub mod template;
pub mod urls;

use std::path::Path;

use benchy_core::source::{MAX_TEXT_FILE_BYTES, read_existing_file};
use benchy_core::{
    Artifact, ConfigSource, Diagnostic, Layer, SourceError, SourceRef, SourceReply, SourceRequest,
    Strictness,
};

use crate::fetch::{FILENAME, FetchError, Outcome, fetch};
use crate::settings::HubSettings;
use crate::urls::resolve_url;

pub use repo_id::check_repo_id;

/// The revision used when the run config gives none (`constants.py::DEFAULT_REVISION`).
pub const DEFAULT_REVISION: &str = "main";

/// The `hf` source. By default it reads its settings from the environment at each resolution.
#[derive(Debug, Default)]
pub struct HfSource {
    settings: Option<HubSettings>,
}

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    sources: ["hf" => HfSource::default()],
}

impl HfSource {
    /// A source with fixed settings instead of the environment's (tests, embedding).
    pub fn with_settings(settings: HubSettings) -> HfSource {
        HfSource {
            settings: Some(settings),
        }
    }
}

impl ConfigSource for HfSource {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError> {
        if request.argument.as_deref().is_some_and(|a| !a.is_empty()) {
            return Err(SourceError::input(format!(
                "--source {}: `hf` takes no argument; it reads the {FILENAME} of model.name \
                 (use --source file:PATH for a file of your own)",
                request.spec
            )));
        }
        if let Some(dir) = &request.model.local_dir {
            return from_model_dir(dir).map(|reply| with_template(reply, template::from_dir(dir)));
        }
        let repo_id = request.model.name.as_str();
        check_repo_id(repo_id)
            .map_err(|problem| SourceError::input(format!("model.name {problem}")))?;
        let settings = match &self.settings {
            Some(settings) => settings.clone(),
            None => HubSettings::from_env().map_err(|e| SourceError::unavailable(e.to_string()))?,
        };
        let revision = request
            .model
            .revision
            .as_deref()
            .unwrap_or(DEFAULT_REVISION);
        let (reply, commit) = generation_config(&settings, repo_id, revision, request.offline)?;
        // At the commit the generation config was read at, so a cached answer costs nothing.
        let at = commit.as_deref().unwrap_or(revision);
        let template = template::from_hub(&settings, repo_id, at, request.offline);
        Ok(with_template(reply, template))
    }
}

/// The layer of the repo's `generation_config.json` at `revision`, and the commit it was read
/// at when the Hub (or its cache) named one.
fn generation_config(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    offline: bool,
) -> Result<(SourceReply, Option<String>), SourceError> {
    match fetch(settings, repo_id, revision, FILENAME, offline) {
        Ok(Outcome::File {
            commit,
            bytes,
            notes,
        }) => {
            let file = HubFile {
                label: format!("hf:{repo_id}@{commit}/{FILENAME}"),
                source: SourceRef::new("hf", format!("{repo_id}@{commit}")),
                url: resolve_url(&settings.endpoint, repo_id, &commit, FILENAME),
                revision: Some(commit.clone()),
            };
            Ok((file.reply(bytes, notes), Some(commit)))
        }
        Ok(Outcome::NoFile { commit, mut notes }) => {
            let at = match &commit {
                Some(commit) => format!("{revision} (commit {commit})"),
                None => revision.to_owned(),
            };
            notes.push(Diagnostic::info(format!(
                "hf: {repo_id} has no {FILENAME} at {at}; continuing with the other layers"
            )));
            let reply = SourceReply {
                diagnostics: notes,
                ..SourceReply::default()
            };
            Ok((reply, commit))
        }
        Err(FetchError::Input(message)) => Err(SourceError::input(message)),
        Err(FetchError::Unavailable(message)) => Err(SourceError::unavailable(message)),
    }
}

/// `model.name` is a directory: its `generation_config.json`, read as leniently as the Hub's
/// (it is usually a copy of it).
fn from_model_dir(dir: &Path) -> Result<SourceReply, SourceError> {
    let path = dir.join(FILENAME);
    let shown = path.display().to_string();
    match read_existing_file(&path, MAX_TEXT_FILE_BYTES) {
        Ok(Some(bytes)) => {
            let file = HubFile {
                label: format!("hf:{shown}"),
                source: SourceRef::new("hf", dir.display().to_string()),
                url: shown,
                revision: None,
            };
            Ok(file.reply(bytes, Vec::new()))
        }
        Ok(None) => Ok(SourceReply {
            diagnostics: vec![Diagnostic::info(format!(
                "hf: the model directory {} has no {FILENAME}; continuing with the other layers",
                dir.display()
            ))],
            ..SourceReply::default()
        }),
        Err(e) => Err(SourceError::unavailable(format!("{shown}: {e}"))),
    }
}

/// A `generation_config.json` the user cannot fix (the Hub's, or a downloaded model's).
struct HubFile {
    /// How messages name it: `hf:` and where it was read.
    label: String,
    source: SourceRef,
    /// Where a person can open it (the artifact's origin).
    url: String,
    /// The commit it was read at.
    revision: Option<String>,
}

impl HubFile {
    /// Its layer, read leniently: invalid values are dropped with a warning, and a file that is
    /// not a JSON object gives a warning and no layer (never a failed run).
    fn reply(self, bytes: Vec<u8>, mut notes: Vec<Diagnostic>) -> SourceReply {
        let label = &self.label;
        let layer = match String::from_utf8(bytes) {
            Err(e) => Err(format!("{label} is not UTF-8 text ({e})")),
            Ok(text) => {
                Layer::from_generation_config(&text, label, self.source, Strictness::Lenient)
                    .map(|mut layer| {
                        layer.artifact = Some(Artifact {
                            name: FILENAME.to_owned(),
                            origin: self.url,
                            revision: self.revision,
                            text,
                            model_file: true,
                        });
                        layer
                    })
                    .map_err(|e| e.to_string())
            }
        };
        let layer = layer
            .map_err(|problem| {
                notes.push(Diagnostic::warning(format!(
                    "{problem}; continuing without the model's {FILENAME}"
                )));
            })
            .ok();
        SourceReply {
            layer,
            diagnostics: notes,
            ..SourceReply::default()
        }
    }
}

/// `reply` with the model's chat template and what reading it had to say.
fn with_template(
    mut reply: SourceReply,
    (template, notes): (Option<Artifact>, Vec<Diagnostic>),
) -> SourceReply {
    reply.chat_template = template;
    reply.diagnostics.extend(notes);
    reply
}
