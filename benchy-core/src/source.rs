//! The config-source trait: a source reads one `--source SPEC` for the run's model and returns
//! a layer. Sources only read; they never start processes or write outside their own caches.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::layer::Layer;

/// What a source is asked to resolve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRequest {
    /// The spec as written, e.g. `site:/srv/registry`.
    pub spec: String,
    /// The part before the first `:`.
    pub scheme: String,
    /// The part after the first `:`, when there is one.
    pub argument: Option<String>,
    pub model: ModelRef,
    /// The folder relative paths in `argument` are resolved against (the working directory).
    pub base_dir: PathBuf,
    /// Make no network requests; use local caches only.
    pub offline: bool,
}

/// The model a source resolves parameters for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// `model.name` as written: a Hub repo id or a path.
    pub name: String,
    /// `model.revision`, when the run config gives one.
    pub revision: Option<String>,
    /// The model directory, when `model.name` is a local path.
    pub local_dir: Option<PathBuf>,
}

impl SourceRequest {
    /// The path a `scheme:PATH` spec names (relative paths are taken from `base_dir`), and the
    /// path as written, which is what messages and sources show.
    pub fn path_argument(&self) -> Result<(PathBuf, String), SourceError> {
        match self.argument.as_deref() {
            Some(arg) if !arg.is_empty() => Ok((self.base_dir.join(arg), arg.to_owned())),
            _ => Err(SourceError::Input(format!(
                "--source {}: `{scheme}:` needs a path, as in --source {scheme}:PATH",
                self.spec,
                scheme = self.scheme
            ))),
        }
    }

    /// Splits `scheme[:argument]`.
    pub fn parse_spec(spec: &str) -> (String, Option<String>) {
        match spec.split_once(':') {
            Some((scheme, argument)) => (scheme.to_owned(), Some(argument.to_owned())),
            None => (spec.to_owned(), None),
        }
    }
}

/// A source's answer.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceReply {
    /// `None` when the source has nothing for this model (a repo without a
    /// `generation_config.json`, say); the run continues with the other layers.
    pub layer: Option<Layer>,
    /// Messages not tied to a layer (why there is none, a fallback that was taken).
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a source failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum SourceError {
    /// The user's input is wrong (a missing or invalid file, a bad spec): the command stops with
    /// exit code 2. The message names the file, line and key.
    #[error("{0}")]
    Input(String),
    /// The source could not do its work (network down, no cache): the run continues without the
    /// layer and warns, unless the run config lists the source in `require_sources`.
    #[error("{0}")]
    Unavailable(String),
}

/// Reads a user's file as text, with errors that name it as `shown` (bad input: exit code 2).
pub fn read_user_file(path: &std::path::Path, shown: &str) -> Result<String, SourceError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SourceError::Input(format!("{shown}: cannot read: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|e| SourceError::Input(format!("{shown}: not UTF-8 text: {e}")))
}

/// A provider of layers for one or more `--source` schemes.
pub trait ConfigSource: Send + Sync {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError>;
}
