//! The shape of the house, checked: the contract crate stays light, and the example plugins the
//! README shows are the tested crates of this repository, word for word.

use std::collections::BTreeSet;

use crate::harness::repo_root;

/// The `[dependencies]` of a crate's manifest.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join(manifest)).unwrap();
    let toml: toml::Table = toml::from_str(&text).unwrap();
    toml.get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|deps| deps.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_contract_and_the_example_plugins_depend_on_serde_and_thiserror_alone() {
    let light: BTreeSet<String> = ["serde", "serde_json", "thiserror"]
        .into_iter()
        .map(String::from)
        .collect();
    let core = dependencies("benchy-core/Cargo.toml");
    assert!(core.is_subset(&light), "benchy-core depends on {core:?}");
    for example in [
        "plugins/site-registry/Cargo.toml",
        "plugins/smoke/Cargo.toml",
        "plugins/openai-server/Cargo.toml",
    ] {
        let mut deps = dependencies(example);
        assert!(
            deps.remove("benchy-core"),
            "{example} depends on benchy-core"
        );
        assert!(deps.is_subset(&light), "{example} also depends on {deps:?}");
    }
}

/// Every `<!-- the file PATH -->` in the README is followed by a code block holding that file
/// up to its tests (`#[cfg(test)]`), exactly.
#[test]
fn the_readmes_example_plugins_are_the_tested_crates() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut shown = 0;
    for (at, _) in readme.match_indices("<!-- the file ") {
        let rest = &readme[at + "<!-- the file ".len()..];
        let path = &rest[..rest.find(" -->").expect("the marker ends")];
        let block = rest
            .split_once("```rust\n")
            .expect("a rust block follows")
            .1;
        let block = &block[..block.find("\n```\n").expect("the block ends")];
        let file = std::fs::read_to_string(repo_root().join(path)).unwrap();
        let file = file.split("\n#[cfg(test)]").next().unwrap().trim_end();
        assert_eq!(
            block, file,
            "the README's copy of {path} differs from the file"
        );
        shown += 1;
    }
    assert_eq!(
        shown, 3,
        "the source, task backend and server backend examples"
    );
}
