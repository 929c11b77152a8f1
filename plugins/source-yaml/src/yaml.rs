//! YAML reading with errors that name the file, line and column, and the `generation:` mapping
//! reader: the one YAML reader of benchy, used by this source and by the host for run configs,
//! task files and `--set` values.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use serde_saphyr::{self as saphyr, MessageFormatter, SnippetMode, Spanned, UserMessageFormatter};

use benchy_core::layer::{Artifact, Layer, LayerError, SourceRef, json_kind};
use benchy_core::params::Key;
use benchy_core::problem::Problem;
use benchy_core::source::SourceError;

/// A YAML document that could not be read into the expected shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct YamlError {
    pub origin: String,
    /// 1-based line and column, when the parser knows them.
    pub position: Option<(u64, u64)>,
    pub message: String,
}

/// Parses `text` (read from `origin`) into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, YamlError> {
    parse(text, origin, saphyr::Options::default())
}

/// Parses a value typed on a command line: YAML 1.2, so `y`, `yes`, `on` and `no` are the
/// strings they look like (YAML 1.1 reads them as booleans; JSON is YAML 1.2 too).
pub fn value_from_str<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, YamlError> {
    parse(text, origin, saphyr::options! { strict_booleans: true })
}

fn parse<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    options: saphyr::Options,
) -> Result<T, YamlError> {
    if text.trim().is_empty() {
        return Err(YamlError {
            origin: origin.to_owned(),
            position: None,
            message: "the file is empty".to_owned(),
        });
    }
    serde_saphyr::from_str_with_options(text, options).map_err(|e| YamlError {
        origin: origin.to_owned(),
        position: e.location().map(|l| (l.line(), l.column())),
        message: first_line_without_position(&e.render_with_options(
            serde_saphyr::render_options! {
                formatter: &Messages,
                snippets: SnippetMode::Off,
            },
        )),
    })
}

/// The YAML reader's messages for the people who write the files: its user-facing wording,
/// with what speaks to a program embedding the reader (its options and policies, Rust types,
/// internal counters) said in benchy's own words.
struct Messages;

impl MessageFormatter for Messages {
    fn format_message<'a>(&self, err: &'a saphyr::Error) -> Cow<'a, str> {
        match err {
            saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => Cow::Owned(format!(
                "`{key}` is given twice in one mapping; give each key once"
            )),
            saphyr::Error::DuplicateMappingKey { key: None, .. } => {
                Cow::Borrowed("a key is given twice in one mapping; give each key once")
            }
            saphyr::Error::NonFiniteFloat { value, .. } => Cow::Owned(format!(
                "`{value}` is a non-finite number (NaN or infinity), which no setting takes"
            )),
            saphyr::Error::BinaryNotUtf8 { .. } => {
                Cow::Borrowed("a !!binary value that is not UTF-8 text stands where text belongs")
            }
            saphyr::Error::Budget { .. }
            | saphyr::Error::AliasReplayCounterOverflow { .. }
            | saphyr::Error::AliasReplayLimitExceeded { .. }
            | saphyr::Error::AliasExpansionLimitExceeded { .. }
            | saphyr::Error::AliasReplayStackDepthExceeded { .. } => Cow::Borrowed(
                "the document is too large or too deeply nested to read (its anchors and aliases \
                 would expand past the reader's limits)",
            ),
            other => UserMessageFormatter.format_message(other),
        }
    }
}

/// The rendered message without the position, which is already in our prefix: "error: line L
/// column C: message" or "message at line L, column C".
fn first_line_without_position(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if first.starts_with("line ")
        && let Some((_, rest)) = first.split_once(": ")
    {
        return rest.to_owned();
    }
    // "unexpected end of input at line 1, column 1" and similar: drop the trailing position.
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

/// A `generation:` mapping as written: each key with its value and line.
pub type GenerationMapping = BTreeMap<String, Spanned<Json>>;

/// Turns a spanned mapping into a user layer (`null` removes, extras kept, strict checks).
pub fn mapping_layer(
    mapping: &GenerationMapping,
    source: SourceRef,
    origin: &str,
) -> Result<Layer, LayerError> {
    Layer::from_mapping(
        source,
        origin,
        mapping
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone(), Some(v.referenced.line()))),
    )
}

/// The layer of a YAML file given with `--source yaml:PATH`: its top-level `generation:`
/// mapping when it has one (a run config, say), else the whole file as the mapping. A parameter
/// beside the block would be dropped unread, so it is refused naming its line.
pub fn yaml_file_layer(text: &str, path: &Path) -> Result<Layer, SourceError> {
    let origin = path.display().to_string();
    let document: BTreeMap<String, Spanned<Json>> =
        from_str(text, &origin).map_err(YamlError::into_source_error)?;
    if document.contains_key("generation")
        && let Some((name, value)) = document
            .iter()
            .find(|(name, _)| !Key::parse(name).is_extra())
    {
        return Err(YamlError {
            origin,
            position: Some((value.referenced.line(), value.referenced.column())),
            message: format!(
                "`{name}` sits beside the file's `generation:` block, and only the block is read \
                 as parameters; move `{name}` into it"
            ),
        }
        .into_source_error());
    }
    let mapping: GenerationMapping = match document.get("generation") {
        Some(block) => match &block.value {
            Json::Object(_) => {
                // Re-read the block with spans: the whole-document parse gave the block's span
                // only, and errors should point at the key's own line.
                #[derive(serde::Deserialize)]
                struct WithGeneration {
                    generation: GenerationMapping,
                }
                from_str::<WithGeneration>(text, &origin)
                    .map_err(|mut e| {
                        e.message = format!("in `generation`: {}", e.message);
                        e.into_source_error()
                    })?
                    .generation
            }
            other => {
                return Err(YamlError {
                    origin,
                    position: Some((block.referenced.line(), block.referenced.column())),
                    message: format!(
                        "`generation` must be a mapping of parameters, found {}",
                        json_kind(other)
                    ),
                }
                .into_source_error());
            }
        },
        None => document,
    };
    let mut layer = mapping_layer(&mapping, SourceRef::new("yaml", origin.clone()), &origin)?;
    layer.artifact = Some(Artifact {
        name: path
            .file_name()
            .map_or_else(|| origin.clone(), |n| n.to_string_lossy().into_owned()),
        origin,
        revision: None,
        text: text.to_owned(),
        model_file: false,
    });
    Ok(layer)
}

impl YamlError {
    /// The error as a source's bad input, its file, line and column kept apart.
    pub fn into_source_error(self) -> SourceError {
        let (line, column) = self.position.unzip();
        let problem = Problem::new(self.message)
            .in_file(self.origin)
            .at(line, column);
        SourceError::Input(Box::new(problem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchy_core::layer::Entry;

    #[test]
    fn errors_carry_file_line_and_column() {
        let err = from_str::<BTreeMap<String, String>>("a: [1\n", "x.yaml").unwrap_err();
        assert_eq!(err.origin, "x.yaml");
        assert!(err.position.is_some());
        assert!(err.to_string().starts_with("x.yaml:"));
        let err = from_str::<BTreeMap<String, String>>("  \n", "e.yaml").unwrap_err();
        assert_eq!(err.to_string(), "e.yaml: the file is empty");
    }

    #[test]
    fn messages_are_for_the_files_author_not_for_a_program_embedding_the_reader() {
        let duplicate = from_str::<Json>("top_p: 0.5\ntop_p: 0.6\n", "d.yaml").unwrap_err();
        assert_eq!(
            duplicate.to_string(),
            "d.yaml:2:1: `top_p` is given twice in one mapping; give each key once"
        );
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                    g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        let nan = from_str::<Json>("t: .nan\n", "n.yaml").unwrap_err();
        for err in [duplicate, nan]
            .into_iter()
            .chain(from_str::<Json>(bomb, "b.yaml").err())
        {
            let message = err.to_string();
            for library_word in [
                "Options", "Policy", "policy", "Option<", "_events", "breach",
            ] {
                assert!(!message.contains(library_word), "{message}");
            }
        }
    }

    #[test]
    fn yaml_layer_prefers_the_generation_block() {
        let text = "model:\n  name: a/b\ngeneration:\n  temperature: 0.5\n  top_k: null\n";
        let layer = yaml_file_layer(text, Path::new("run.yaml")).unwrap();
        assert_eq!(layer.entries.len(), 2);
        assert_eq!(layer.entries[&Key::TopK], Entry::Remove);
        assert_eq!(layer.source.to_string(), "yaml:run.yaml");
    }

    #[test]
    fn a_parameter_beside_the_generation_block_is_refused_naming_its_line() {
        let text = "model:\n  name: a/b\ntemperature: 0.7\ngeneration:\n  top_p: 0.9\n";
        let err = yaml_file_layer(text, Path::new("site.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("site.yaml:3:"), "{err}");
        assert!(
            err.contains("`temperature` sits beside the file's `generation:` block"),
            "{err}"
        );
    }

    #[test]
    fn yaml_layer_takes_the_whole_file_without_a_block() {
        let layer = yaml_file_layer("top_p: 0.8\n", Path::new("p.yaml")).unwrap();
        assert_eq!(layer.entries.len(), 1);
    }

    #[test]
    fn yaml_layer_errors_name_the_line() {
        let err = yaml_file_layer("top_p: 0.8\ntemperature: -2\n", Path::new("p.yaml"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "p.yaml:2: `temperature` = -2: must be >= 0");
    }
}
