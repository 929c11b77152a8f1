//! The shape of the house, checked: the contract crate stays light, the example plugins the
//! plugin guide shows are the tested crates of this repository, word for word, and the
//! documentation holds together: a short README, and every relative link resolving to a file and,
//! where it names one, a heading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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

/// Every `<!-- the file PATH -->` in the plugin guide is followed by a code block holding that
/// file up to its tests (`#[cfg(test)]`), exactly.
#[test]
fn the_plugin_guides_example_plugins_are_the_tested_crates() {
    let guide = std::fs::read_to_string(repo_root().join("docs/writing-plugins.md")).unwrap();
    let mut shown = 0;
    for (at, _) in guide.match_indices("<!-- the file ") {
        let rest = &guide[at + "<!-- the file ".len()..];
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
            "docs/writing-plugins.md's copy of {path} differs from the file"
        );
        shown += 1;
    }
    assert_eq!(
        shown, 3,
        "the source, task backend and server backend examples"
    );
}

/// The README is read to the end: what does not fit is in `docs/`.
#[test]
fn the_readme_is_under_500_lines() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines < 500,
        "README.md has {lines} lines; move the detail into docs/"
    );
}

/// The Markdown files whose links are checked: the README, ARCHITECTURE.md when it exists, and
/// every file of `docs/`.
fn documentation() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let architecture = root.join("ARCHITECTURE.md");
    if architecture.exists() {
        files.push(architecture);
    }
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(!docs.is_empty(), "docs/ holds the guides");
    files.extend(docs);
    files
}

/// The lines of `text` outside fenced code blocks (``` or ~~~), with their numbers from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(marker)) => fence = Some(marker),
            (Some(open), Some(marker)) if open == marker => fence = None,
            (None, None) => lines.push((index + 1, line)),
            _ => {}
        }
    }
    lines
}

/// GitHub's anchor of a heading: lowercase, every character other than a letter, a digit, a
/// space, `-` or `_` removed, spaces made `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings; a repeated one gets `-1`, `-2`... as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let Some(title) = line[hashes..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base = anchor(title.trim_end_matches('#'));
        let count = seen.entry(base.clone()).or_default();
        anchors.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// `text` with its inline code spans (a run of backticks up to the next run of as many) left
/// out, so code that looks like a link is not taken for one.
fn without_code_spans(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('`') {
        out.push_str(&rest[..at]);
        let run = rest[at..].chars().take_while(|c| *c == '`').count();
        let after = &rest[at + run..];
        let closing = (0..after.len())
            .filter(|i| after.is_char_boundary(*i))
            .find(|i| {
                after[*i..].starts_with(&"`".repeat(run))
                    && !after[*i + run..].starts_with('`')
                    && (*i == 0 || !after[..*i].ends_with('`'))
            });
        match closing {
            Some(end) => rest = &after[end + run..],
            None => {
                out.push_str(&rest[at..at + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of the inline links (`[text](target)`) of a Markdown file, each with the line
/// its paragraph starts on. Code blocks and code spans hold no links.
fn links(text: &str) -> Vec<(usize, String)> {
    // runs of consecutive non-blank lines; a blank line or a code block ends one
    let mut paragraphs: Vec<(usize, String)> = Vec::new();
    let mut last_text = 0;
    for (number, line) in prose_lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        match paragraphs.last_mut() {
            Some((_, paragraph)) if number == last_text + 1 => {
                paragraph.push('\n');
                paragraph.push_str(line);
            }
            _ => paragraphs.push((number, line.to_owned())),
        }
        last_text = number;
    }
    let mut found = Vec::new();
    for (number, paragraph) in paragraphs {
        let prose = without_code_spans(&paragraph);
        for (at, _) in prose.match_indices("](") {
            let rest = &prose[at + 2..];
            let Some(end) = rest.find(')') else {
                continue;
            };
            found.push((number, rest[..end].trim().to_owned()));
        }
    }
    found
}

/// Every relative link of the README, ARCHITECTURE.md and `docs/` names a file that exists
/// (relative to the file that links), and a `#anchor` names a heading of its target.
#[test]
fn every_relative_link_of_the_documentation_resolves() {
    let root = repo_root();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in documentation() {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (line, target) in links(&text) {
            if ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| target.starts_with(scheme))
            {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let linked: PathBuf = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap_or(Path::new(".")).join(path)
            };
            if !linked.exists() {
                broken.push(format!(
                    "{shown}:{line}: ({target}): no file {}",
                    linked.display()
                ));
                continue;
            }
            let Some(fragment) = fragment else {
                continue;
            };
            // a fragment of another kind of file (a line of a source file) names no heading
            if linked.extension().is_none_or(|e| e != "md") {
                continue;
            }
            if !anchors(&std::fs::read_to_string(&linked).unwrap()).contains(fragment) {
                broken.push(format!(
                    "{shown}:{line}: ({target}): no heading with the anchor `#{fragment}` in {}",
                    linked.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 50,
        "only {checked} relative links found: is the link reader broken?"
    );
}
