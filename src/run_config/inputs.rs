//! What `-c` names: a run config, a folder of them (every `*.yaml` in it, sorted by name), or a
//! `.txt` list (one run config a line, `#` comments, paths relative to the list), as the Python
//! tool's `run_models.sh` took them. The suite is the run configs in the order given.

use std::path::{Path, PathBuf};

use benchy_core::source::read_text_file;

use crate::util::bad_input::bad_input;

/// The longest suite list read (a list of thousands of run configs is a few hundred KB).
const MAX_LIST_BYTES: u64 = 4 * 1024 * 1024;

/// The run configs `inputs` name, in order, each once however it is spelled
/// (`suite/a.yaml`, `./suite/a.yaml`, a list's `../suite/a.yaml`): the first spelling is kept.
pub fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut configs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        for config in expand_one(input)? {
            let canonical = std::fs::canonicalize(&config)
                .or_else(|_| std::path::absolute(&config))
                .unwrap_or_else(|_| config.clone());
            if !configs.iter().any(|(_, c)| *c == canonical) {
                configs.push((config, canonical));
            }
        }
    }
    Ok(configs.into_iter().map(|(config, _)| config).collect())
}

fn expand_one(input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if input.is_dir() {
        return folder(input);
    }
    if input.extension().is_some_and(|e| e == "txt") {
        return list(input);
    }
    Ok(vec![input.to_owned()])
}

/// Every `*.yaml` (and `*.yml`) file directly in `dir`, sorted by name.
fn folder(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| bad_input(format!("-c {}: cannot read the folder: {e}", dir.display())))?;
    let mut configs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    configs.sort();
    if configs.is_empty() {
        return Err(bad_input(format!(
            "-c {}: the folder holds no run config (*.yaml)",
            dir.display()
        )));
    }
    Ok(configs)
}

/// The run configs a `.txt` list names, relative to the list; a line naming nothing that
/// exists is bad input naming the list and the line.
fn list(file: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let text = read_text_file(file, MAX_LIST_BYTES)
        .map_err(|e| bad_input(format!("-c {}: {e}", file.display())))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut configs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let path = base.join(line);
        if !path.exists() {
            return Err(bad_input(format!(
                "{}:{}: {line}: no such run config ({})",
                file.display(),
                number + 1,
                path.display()
            )));
        }
        configs.extend(expand_one(&path)?);
    }
    if configs.is_empty() {
        return Err(bad_input(format!(
            "-c {}: the list names no run config",
            file.display()
        )));
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_lists_and_files_expand_in_order_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("suite")).unwrap();
        for name in ["b.yaml", "a.yaml", "notes.md"] {
            std::fs::write(root.join("suite").join(name), "").unwrap();
        }
        std::fs::write(root.join("c.yaml"), "").unwrap();
        std::fs::write(
            root.join("models.txt"),
            "# the suite\nc.yaml   # one more\n\nsuite/a.yaml\n",
        )
        .unwrap();
        std::fs::write(root.join("again.txt"), "./suite/../suite/b.yaml\n").unwrap();
        let got = expand(&[
            root.join("suite"),
            root.join("models.txt"),
            root.join("./suite/a.yaml"),
            root.join("again.txt"),
        ])
        .unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["suite/a.yaml", "suite/b.yaml", "c.yaml"]);
    }

    #[test]
    fn a_missing_entry_names_the_list_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("models.txt");
        std::fs::write(&list, "# x\n\nmissing.yaml\n").unwrap();
        let err = expand(std::slice::from_ref(&list)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:3: missing.yaml", list.display())),
            "{err}"
        );
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(
            expand(&[empty])
                .unwrap_err()
                .to_string()
                .contains("no run config")
        );
    }
}
