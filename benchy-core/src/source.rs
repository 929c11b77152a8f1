//! The config-source trait: a source reads one `--source SPEC` for the run's model and returns
//! a layer. Sources only read; they never start processes or write outside their own caches.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::layer::{Artifact, Layer, LayerError};
use crate::problem::Problem;

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
    /// The folder relative paths in `argument` are resolved against: the working directory,
    /// or the folder of the settings file that named the source.
    pub base_dir: PathBuf,
    /// Make no network requests; use local caches only (`--offline`, `HF_HUB_OFFLINE=1`).
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
    /// The path a `scheme:PATH` spec names, read as every config file's paths are (`~/` the
    /// home folder, a relative path taken from `base_dir`), and the path as written, which is
    /// what messages and sources show.
    pub fn path_argument(&self) -> Result<(PathBuf, String), SourceError> {
        match self.argument.as_deref() {
            Some(arg) if !arg.is_empty() => {
                Ok((crate::paths::expand(arg, &self.base_dir), arg.to_owned()))
            }
            _ => Err(SourceError::input(format!(
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
    /// The model's chat template, when the source reads the model's own files: the template's
    /// text as the artifact's `text` (taken out of `tokenizer_config.json` or
    /// `chat_template.json` when it was found there), so modes can be checked against it.
    #[serde(default)]
    pub chat_template: Option<Artifact>,
    /// Messages not tied to a layer (why there is none, a fallback that was taken).
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a source failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceError {
    /// The user's input is wrong (a missing or invalid file, a bad spec): the command stops with
    /// exit code 2. The problem names the file, line and key.
    #[error("{0}")]
    Input(Box<Problem>),
    /// The source could not do its work (network down, no cache): the run continues without the
    /// layer and warns, unless the run config lists the source in `require_sources`.
    #[error("{0}")]
    Unavailable(Box<Problem>),
}

impl SourceError {
    /// Bad input, described by `message` alone.
    pub fn input(message: impl Into<String>) -> SourceError {
        SourceError::Input(Box::new(Problem::new(message)))
    }

    /// The source cannot answer now, described by `message` alone.
    pub fn unavailable(message: impl Into<String>) -> SourceError {
        SourceError::Unavailable(Box::new(Problem::new(message)))
    }

    pub fn problem(&self) -> &Problem {
        match self {
            SourceError::Input(p) | SourceError::Unavailable(p) => p,
        }
    }

    /// The same error, reported by `reporter` (a plugin's label).
    pub fn reported_by(self, reporter: &str) -> SourceError {
        match self {
            SourceError::Input(p) => SourceError::Input(Box::new((*p).reported_by(reporter))),
            SourceError::Unavailable(p) => {
                SourceError::Unavailable(Box::new((*p).reported_by(reporter)))
            }
        }
    }
}

/// A layer that cannot be read is the user's input to fix.
impl From<LayerError> for SourceError {
    fn from(error: LayerError) -> SourceError {
        SourceError::Input(Box::new(error.problem()))
    }
}

/// The most a generation config or a YAML layer may hold, wherever it comes from (a file, a model
/// folder, the Hub, its cache). Real ones hold a few hundred bytes; the limit keeps a wrong path
/// (a model's weights, a huge sparse file) from filling memory.
pub const MAX_TEXT_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a user's text file, with errors that name it as `shown` (bad input: exit code 2). Only
/// a regular file is read (a FIFO or a device would block or never end), and at most
/// [`MAX_TEXT_FILE_BYTES`] of it.
pub fn read_user_file(path: &Path, shown: &str) -> Result<String, SourceError> {
    read_text_file(path, MAX_TEXT_FILE_BYTES)
        .map_err(|e| SourceError::input(format!("{shown}: {e}")))
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text; the error says what is wrong
/// with it, without naming it.
pub fn read_text_file(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = read_regular_file(path, limit)?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))
}

/// Reads a regular file of at most `limit` bytes (see [`open_regular_file`]).
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let (file, metadata) = open_regular_file(path)?;
    if metadata.len() > limit {
        return Err(too_large(metadata.len(), limit));
    }
    let mut bytes = Vec::new();
    // The file may have grown since it was measured.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

/// As [`read_regular_file`], but `Ok(None)` when nothing is at `path` (a dangling link
/// included), for files whose absence is an answer (a cache entry, an optional file).
pub fn read_existing_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => read_regular_file(path, limit).map(Some),
    }
}

/// Opens a regular file for reading. Anything else (a folder, a FIFO, a device, a socket) is
/// refused before it is opened, so nothing blocks or streams forever; and the file opened is
/// checked to be the one measured, so a path swapped in between is refused too.
pub fn open_regular_file(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), String> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !metadata.is_file() {
        return Err(format!("not a regular file ({})", file_kind(&metadata)));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let opened = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if (opened.dev(), opened.ino()) != (metadata.dev(), metadata.ino()) || !opened.is_file() {
        return Err("changed while it was being opened".to_owned());
    }
    Ok((file, opened))
}

fn too_large(size: u64, limit: u64) -> String {
    format!("too large: {size} bytes; at most {limit} are read")
}

/// What a path that is not a regular file is, in words.
pub fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a file"
    }
}

/// A provider of layers for one or more `--source` schemes.
pub trait ConfigSource: Send + Sync {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_path_is_read_as_config_paths_are() {
        let request = |arg: &str| SourceRequest {
            spec: format!("yaml:{arg}"),
            scheme: "yaml".into(),
            argument: Some(arg.into()),
            model: ModelRef {
                name: "org/m".into(),
                revision: None,
                local_dir: None,
            },
            base_dir: PathBuf::from("/site/etc"),
            offline: false,
        };
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
        let (path, shown) = request("~/gen.yaml").path_argument().unwrap();
        assert_eq!(
            (path, shown.as_str()),
            (home.join("gen.yaml"), "~/gen.yaml")
        );
        let (path, _) = request("gen.yaml").path_argument().unwrap();
        assert_eq!(path, PathBuf::from("/site/etc/gen.yaml"));
        assert!(request("").path_argument().is_err());
    }

    #[test]
    fn only_bounded_regular_files_are_read() {
        let dir = std::env::temp_dir().join(format!("benchy-core-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gc.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read_text_file(&file, 10).unwrap(), "{}");
        assert!(
            read_text_file(&file, 1)
                .unwrap_err()
                .starts_with("too large: 2 bytes")
        );
        assert_eq!(
            read_text_file(&dir, 10).unwrap_err(),
            "not a regular file (a folder)"
        );
        assert_eq!(
            read_text_file(Path::new("/dev/zero"), 10).unwrap_err(),
            "not a regular file (a device)"
        );
        let err = read_user_file(&dir.join("missing"), "missing.json").unwrap_err();
        assert!(
            err.to_string().starts_with("missing.json: cannot read: "),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
