//! One conformance suite for config sources that read a JSON generation config for the run's
//! model, run three ways: the built-in `file:` source through the trait; the example plugin
//! `site:` through its C table in-process (its rlib's entry function called directly and wrapped
//! by the host's adapter); and the same plugin's shared library loaded from disk through the
//! registry, as `benchy` loads it. The three must behave alike: same layer, same provenance
//! form, same errors.

#[path = "../support/workspace_builds.rs"]
mod workspace_builds;

use std::path::Path;
use std::sync::Arc;

use benchy::plugin::adapter::PluginSource;
use benchy::plugin::loader::Connection;
use benchy::plugin::{Catalog, PluginFile, Registry};
use benchy_core::{
    ConfigSource, Layer, ModelRef, Problem, SourceError, SourceRef, SourceRequest, Strictness,
};
use tempfile::TempDir;

/// The model every case resolves for, and where its file sits under the test directory.
const MODEL: &str = "org/model";
const SHOWN: &str = "reg/org/model.json";

struct Subject {
    scheme: &'static str,
    source: Arc<dyn ConfigSource>,
    /// The spec that makes this source read `reg/org/model.json` for `org/model`.
    spec: &'static str,
    /// Whether a missing model file is this source's "unavailable" (a registry without an entry)
    /// rather than bad input (a path the user named).
    missing_is_unavailable: bool,
}

impl Subject {
    fn request(&self, dir: &Path, spec: &str) -> SourceRequest {
        let (scheme, argument) = SourceRequest::parse_spec(spec);
        SourceRequest {
            spec: spec.to_owned(),
            scheme,
            argument,
            model: ModelRef {
                name: MODEL.to_owned(),
                revision: None,
                local_dir: None,
            },
            base_dir: dir.to_owned(),
            offline: true,
        }
    }

    /// Writes the model's file (bytes) and resolves.
    fn resolve_file(&self, contents: &[u8]) -> Result<benchy_core::SourceReply, SourceError> {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join(SHOWN);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        self.source.resolve(&self.request(dir.path(), self.spec))
    }

    fn input_error(&self, contents: &[u8]) -> Problem {
        match self.resolve_file(contents) {
            Err(SourceError::Input(problem)) => *problem,
            other => panic!("{}: expected an input error, got {other:?}", self.scheme),
        }
    }
}

fn suite(subject: &Subject) {
    reads_the_generation_config_with_provenance(subject);
    the_reply_round_trips_through_json(subject);
    invalid_values_name_the_file_line_and_key(subject);
    broken_files_name_the_file_and_position(subject);
    a_missing_file_is_reported_by_kind(subject);
    a_spec_without_argument_is_bad_input(subject);
    concurrent_calls_agree(subject);
}

const GENERATION_CONFIG: &str = r#"{
  "do_sample": true,
  "temperature": 0.7,
  "top_p": null,
  "top_k": 20,
  "eos_token_id": [1, 2],
  "transformers_version": "4.51.0"
}"#;

fn reads_the_generation_config_with_provenance(subject: &Subject) {
    let reply = subject.resolve_file(GENERATION_CONFIG.as_bytes()).unwrap();
    let layer = reply.layer.expect("a layer");
    let expected = Layer::from_generation_config(
        GENERATION_CONFIG,
        SHOWN,
        SourceRef::new(subject.scheme, SHOWN),
        Strictness::Strict,
    )
    .unwrap();
    assert_eq!(layer.source, expected.source, "{}", subject.scheme);
    assert_eq!(layer.entries, expected.entries, "{}", subject.scheme);
    assert_eq!(layer.ignored, expected.ignored, "{}", subject.scheme);
    assert_eq!(
        layer.diagnostics, expected.diagnostics,
        "{}",
        subject.scheme
    );
    // null is "not set" in transformers' format: neither a value nor a removal
    assert!(!layer.entries.contains_key(&benchy_core::Key::TopP));
    let artifact = layer.artifact.expect("the file is kept");
    assert_eq!(artifact.text, GENERATION_CONFIG);
    assert_eq!(artifact.origin, SHOWN);
}

fn the_reply_round_trips_through_json(subject: &Subject) {
    let reply = subject.resolve_file(GENERATION_CONFIG.as_bytes()).unwrap();
    let json = serde_json::to_string(&reply).unwrap();
    let back: benchy_core::SourceReply = serde_json::from_str(&json).unwrap();
    assert_eq!(back, reply, "{}", subject.scheme);
}

fn invalid_values_name_the_file_line_and_key(subject: &Subject) {
    let problem = subject.input_error(b"{\n  \"top_p\": 0.9,\n  \"temperature\": -1\n}");
    // kept apart up to the place that prints them
    assert_eq!(
        (
            problem.file.as_deref(),
            problem.line,
            problem.key.as_deref()
        ),
        (Some(SHOWN), Some(3), Some("temperature")),
        "{}",
        subject.scheme
    );
    let message = problem.to_string();
    assert!(
        message.contains("reg/org/model.json:3: `temperature` = -1: must be >= 0"),
        "{}: {message}",
        subject.scheme
    );
}

fn broken_files_name_the_file_and_position(subject: &Subject) {
    let message = subject.input_error(b"{\"top_p\": 0.9,}").to_string();
    assert!(
        message.contains("reg/org/model.json:1:") && message.contains("not valid JSON"),
        "{}: {message}",
        subject.scheme
    );
    let message = subject.input_error(b"{\"top_p\": \xff}").to_string();
    assert!(
        message.contains("reg/org/model.json: not UTF-8"),
        "{}: {message}",
        subject.scheme
    );
}

fn a_missing_file_is_reported_by_kind(subject: &Subject) {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("reg")).unwrap();
    let result = subject
        .source
        .resolve(&subject.request(dir.path(), subject.spec));
    match (subject.missing_is_unavailable, result) {
        (true, Err(SourceError::Unavailable(m))) | (false, Err(SourceError::Input(m))) => {
            assert!(m.to_string().contains("reg"), "{}: {m}", subject.scheme);
        }
        (_, other) => panic!("{}: {other:?}", subject.scheme),
    }
}

fn a_spec_without_argument_is_bad_input(subject: &Subject) {
    let dir = TempDir::new().unwrap();
    match subject
        .source
        .resolve(&subject.request(dir.path(), subject.scheme))
    {
        Err(SourceError::Input(m)) => {
            assert!(
                m.to_string().contains(&format!("{}:PATH", subject.scheme)),
                "{m}"
            );
        }
        other => panic!("{}: {other:?}", subject.scheme),
    }
}

fn concurrent_calls_agree(subject: &Subject) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(SHOWN);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, GENERATION_CONFIG).unwrap();
    let request = subject.request(dir.path(), subject.spec);
    let first = subject.source.resolve(&request).unwrap();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..10)
                        .map(|_| subject.source.resolve(&request).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for reply in handle.join().unwrap() {
                assert_eq!(reply, first, "{}", subject.scheme);
            }
        }
    });
}

#[test]
fn the_builtin_file_source_conforms() {
    suite(&Subject {
        scheme: "file",
        source: Arc::new(benchy_source_file::FileSource),
        spec: "file:reg/org/model.json",
        missing_is_unavailable: false,
    });
}

#[test]
fn the_site_registry_conforms_through_its_table_in_process() {
    let connection = Connection::from_table(benchy_site_registry::benchy_plugin_entry())
        .expect("the table passes the host's checks");
    let file = PluginFile::in_process(connection, "benchy_site_registry (in-process)");
    suite(&Subject {
        scheme: "site",
        source: Arc::new(PluginSource::new(Arc::new(file), "site", Vec::new())),
        spec: "site:reg",
        missing_is_unavailable: true,
    });
}

#[test]
fn the_site_registry_conforms_as_a_library_loaded_from_disk() {
    let library = workspace_builds::library("benchy_site_registry");
    let mut registry = Registry::default();
    registry.set_plugins(Catalog::from_places(&[library], Vec::new(), None));
    suite(&Subject {
        scheme: "site",
        source: registry
            .source("site")
            .expect("the registry finds `site` in the library"),
        spec: "site:reg",
        missing_is_unavailable: true,
    });
}
