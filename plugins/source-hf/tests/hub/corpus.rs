//! Every real `generation_config.json` in the shared reference corpus, served by the stand-in
//! Hub and read through the `hf` source: each gives a layer with exactly the documented
//! diagnostics (the malformed one a warning and no layer), never a failure.

use std::fs;

use benchy_core::{Entry, Level};
use serde_json::Value as Json;

use crate::Env;

/// The files whose reading says something, with a piece of what it says; the others read
/// silently. See the corpus's SOURCES.md for what is odd about each file.
const EXPECTED: &[(&str, Level, &str)] = &[
    // invalid JSON, as found: no layer from the Hub (a user's `--source file:` stays exit 2)
    (
        "qwen1.5-moe-8x0.5b-chat.malformed.json",
        Level::Warning,
        "generation_config.json:12:3: not valid JSON",
    ),
    // sampling values without do_sample: transformers and vLLM disagree, benchy says so
    (
        "llama-2-7b-hf.rev-2023-07-24.json",
        Level::Info,
        "sets temperature=0.9, top_p=0.6 without do_sample",
    ),
    (
        "ollamamerger-test-fixture.json",
        Level::Info,
        "sets temperature=0.7, top_p=0.9, top_k=50 without do_sample",
    ),
];

#[test]
fn every_reference_file_loads_through_the_hub_path() {
    let dir = benchy_testkit::reference_dir("generation-configs");
    let env = Env::start();
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        seen += 1;
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = fs::read(&path).unwrap();
        let repo = format!("corpus/{}", name.trim_end_matches(".json"));
        let commit = env
            .hub
            .publish(&repo, "main", &[("generation_config.json", &bytes)]);

        let reply = env
            .resolve(&repo, None)
            .unwrap_or_else(|e| panic!("{name}: the hf source failed: {e}"));

        let said: Vec<(Level, String)> = reply
            .diagnostics
            .iter()
            .chain(reply.layer.iter().flat_map(|l| l.diagnostics.iter()))
            .map(|d| (d.level, d.message.clone()))
            .collect();
        let expected: Vec<_> = EXPECTED.iter().filter(|(file, ..)| *file == name).collect();
        assert_eq!(said.len(), expected.len(), "{name}: {said:?}");
        for ((level, piece), (_, want_level, want_piece)) in
            said.iter().zip(expected.iter().map(|e| (e.0, e.1, e.2)))
        {
            assert_eq!(level, &want_level, "{name}: {piece}");
            assert!(
                piece.contains(want_piece) && piece.contains(&format!("hf:{repo}@{commit}")),
                "{name}: {piece}"
            );
        }

        let Ok(Json::Object(keys)) = serde_json::from_slice::<Json>(&bytes) else {
            assert!(reply.layer.is_none(), "{name}: invalid JSON gives no layer");
            continue;
        };
        let layer = reply
            .layer
            .unwrap_or_else(|| panic!("{name}: no layer: {said:?}"));
        let artifact = layer.artifact.as_ref().unwrap();
        assert_eq!(
            artifact.text.as_bytes(),
            bytes,
            "{name}: the raw file, byte for byte"
        );
        assert_eq!(artifact.revision.as_deref(), Some(commit.as_str()));
        // every key with a value is either a parameter or listed as ignored; null is "not set"
        for (key, value) in &keys {
            let resolved = layer.entries.keys().any(|k| k.name() == key);
            let ignored = layer.ignored.contains(key);
            if value.is_null() {
                assert!(!resolved && !ignored, "{name}: {key} is null");
            } else {
                assert!(
                    resolved != ignored,
                    "{name}: {key} is neither used nor ignored"
                );
            }
        }
        assert!(
            !layer.entries.values().any(|e| *e == Entry::Remove),
            "{name}: null in a Hub file never removes a key"
        );
    }
    assert!(seen >= 40, "only {seen} files in {}", dir.display());
}
