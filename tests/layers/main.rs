//! The house in layers, held: every module of the host (`src/`) names only modules of its own
//! layer or of those below it, clap stays in the command-line face, and the top-level modules
//! import each other in no cycle. Read from the source text (code outside `#[cfg(test)]`, comments
//! left out), as `ARCHITECTURE.md` describes the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top to bottom, each with the top-level modules of `src/` it holds.
const LAYERS: &[(&str, &[&str])] = &[
    ("the face", &["cli"]),
    ("operations", &["ops"]),
    ("the Slurm executor", &["slurm"]),
    ("results", &["results"]),
    ("the store", &["store"]),
    ("proof", &["proof"]),
    (
        "resolution, runner, envs",
        &["resolution", "runner", "envs"],
    ),
    ("settings and run configs", &["settings", "run_config"]),
    ("the plugin host", &["plugin"]),
    ("leaves", &["util", "proxy", "cache"]),
];

/// The only layer whose code may name clap.
const CLAP_LAYER: &str = "the face";

/// Where a module sits: its layer's index (0 the top) and name.
fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

/// One line of code that names another top-level module.
#[derive(Debug)]
struct Use {
    file: PathBuf,
    line: usize,
    from: String,
    to: String,
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The top-level module a file of `src` belongs to (`None` for the crate's roots).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The file's lines that are code, numbered from 1: items under `#[cfg(test)]` and comments
/// left out (a `//` that starts a line or follows code).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut skipping: Option<i64> = None;
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if let Some(depth) = skipping.as_mut() {
            *depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            let opened = code.contains('{') || *depth != 0;
            if *depth <= 0 && (opened || code.trim_end().ends_with(';')) {
                skipping = None;
            }
            continue;
        }
        if line.trim_start().starts_with("#[cfg(test)]") {
            skipping = Some(0);
            continue;
        }
        lines.push((number + 1, code.to_owned()));
    }
    lines
}

/// The top-level modules a line of code names: `crate::NAME` paths and `use crate::{A, B}`.
fn named(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for item in group.split(',') {
                names.extend(first_segment(item.trim()));
            }
        } else {
            names.extend(first_segment(rest));
        }
    }
    names
}

fn first_segment(path: &str) -> Option<String> {
    let end = path
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(path.len());
    let name = &path[..end];
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase()))
        .then(|| name.to_owned())
}

/// Every line of `src`'s code that names another top-level module.
fn uses(src: &Path) -> Vec<Use> {
    let mut found = Vec::new();
    for file in rust_files(src) {
        let Some(from) = module_of(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, code) in code_lines(&text) {
            for to in named(&code).into_iter().filter(|to| *to != from) {
                found.push(Use {
                    file: file.clone(),
                    line,
                    from: from.clone(),
                    to,
                });
            }
        }
    }
    found
}

/// What breaks the layers in `src`, a line each: a module in no layer, and a use of a module
/// in a layer above the user's.
fn violations(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let modules: BTreeSet<String> = rust_files(src)
        .iter()
        .filter_map(|f| module_of(src, f))
        .collect();
    for module in &modules {
        if layer_of(module).is_none() {
            problems.push(format!(
                "src/{module}: in no layer; add it to LAYERS and to ARCHITECTURE.md"
            ));
        }
    }
    for u in uses(src) {
        let (Some((from, from_layer)), Some((to, to_layer))) = (layer_of(&u.from), layer_of(&u.to))
        else {
            continue;
        };
        if to < from {
            problems.push(format!(
                "{}:{}: `{}` ({from_layer}) uses `{}` ({to_layer}), a layer above it",
                u.file.display(),
                u.line,
                u.from,
                u.to
            ));
        }
    }
    problems
}

/// The lines of code outside the face that name clap.
fn clap_outside_the_face(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(src) {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        if layer_of(&module).is_some_and(|(_, layer)| layer == CLAP_LAYER) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, code) in code_lines(&text) {
            if code.contains("clap::") || code.contains("clap_complete") {
                found.push(format!("{}:{line}: names clap", file.display()));
            }
        }
    }
    found
}

/// A cycle among the top-level modules, if there is one, as `a -> b -> a`.
fn cycle(src: &Path) -> Option<String> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for u in uses(src) {
        edges.entry(u.from).or_default().insert(u.to);
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle.join(" -> "));
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, &edges, &mut Vec::new(), &mut done))
}

fn host_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_of_the_host_uses_only_its_layer_and_those_below() {
    let problems = violations(&host_src());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn clap_stays_in_the_face() {
    let found = clap_outside_the_face(&host_src());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_top_level_modules_import_each_other_in_no_cycle() {
    assert_eq!(cycle(&host_src()), None);
}

/// A host with a planted upward import (the store naming an operation), a module in no layer,
/// clap below the face and a cycle: each is named, with the file, the line and both layers.
#[test]
fn a_planted_upward_import_is_named_with_its_file_line_and_layers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |path: &str, text: &str| {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod ops;\nmod store;\nmod stray;\n");
    write(
        "store/record.rs",
        "//! A record.\n\nuse crate::util::time::now;\nuse crate::{ops::eval, proof};\n\n\
         #[cfg(test)]\nmod tests {\n    use crate::cli::args;\n}\n",
    );
    write(
        "ops/mod.rs",
        "// crate::cli::args in a comment\nuse crate::store::record;\n",
    );
    write("stray.rs", "use crate::util::table;\n");
    write(
        "util/mod.rs",
        "use clap::Parser; // a leaf naming clap\nuse crate::util::x;\n",
    );
    let problems = violations(src);
    let record = src.join("store/record.rs").display().to_string();
    assert!(
        problems.contains(
            &"src/stray: in no layer; add it to LAYERS and to ARCHITECTURE.md".to_owned()
        ),
        "{problems:?}"
    );
    assert!(
        problems.contains(&format!(
            "{record}:4: `store` (the store) uses `ops` (operations), a layer above it"
        )),
        "{problems:?}"
    );
    // a use of a layer below, one of its own module, a comment and a test module are fine
    assert_eq!(problems.len(), 2, "{problems:?}");
    let clap = clap_outside_the_face(src);
    assert_eq!(
        clap,
        [format!(
            "{}:1: names clap",
            src.join("util/mod.rs").display()
        )]
    );
    assert_eq!(cycle(src).as_deref(), Some("ops -> store -> ops"));
}
