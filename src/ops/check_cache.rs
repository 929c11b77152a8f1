//! Remembered checks. A check (does the evaluator know these tasks?) costs an evaluator start,
//! seconds each time; its answer only changes when its program, arguments, working directory,
//! environment or the files it depends on (`ProcessSpec::depends_on`) change. A passing check
//! leaves a mark under `<benchy home>/cache/checks`, named by a hash of all of these (files by
//! path, size and modification time), and is not run again while the mark holds.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use benchy_core::ProcessSpec;
use sha2::{Digest, Sha256};

/// A folder holding more files than this is hashed by its first ones only: a task folder holds
/// a few hundred, and a check's cost must stay below the evaluator start it saves.
const MAX_FILES: usize = 100_000;

/// Where passing checks are remembered.
#[derive(Debug)]
pub struct CheckCache {
    dir: PathBuf,
}

impl CheckCache {
    pub fn new(home: &Path) -> CheckCache {
        CheckCache {
            dir: home.join("cache").join("checks"),
        }
    }

    /// Where backends' questions are remembered with their answers, by the same rule.
    pub fn answers(home: &Path) -> CheckCache {
        CheckCache {
            dir: home.join("cache").join("answers"),
        }
    }

    /// The mark `check` leaves when it passes: its name is the hash of everything the check
    /// depends on, computed once (it walks the task folders).
    pub fn mark(&self, check: &ProcessSpec) -> Mark {
        Mark {
            path: self.dir.join(key(check)),
            name: check.name.clone(),
        }
    }
}

/// Where one check's pass is remembered.
#[derive(Debug)]
pub struct Mark {
    path: PathBuf,
    name: String,
}

impl Mark {
    /// Whether the check passed before with nothing it depends on changed.
    pub fn passed(&self) -> bool {
        self.path.is_file()
    }

    /// Remembers that the check passed (a cache that cannot be written only costs a rerun).
    pub fn remember(&self) {
        self.keep(&format!("{}\n", self.name));
    }

    /// The answer a question gave before with nothing it depends on changed.
    pub fn answer(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(&self.path).ok()?).ok()
    }

    /// Remembers a question's answer.
    pub fn remember_answer(&self, answer: &serde_json::Value) {
        self.keep(&answer.to_string());
    }

    fn keep(&self, text: &str) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::util::atomic::write_atomic(&self.path, text.as_bytes());
    }
}

/// The hash of everything that decides the check's answer.
fn key(check: &ProcessSpec) -> String {
    let mut hash = Sha256::new();
    let mut add = |part: &str| {
        hash.update(part.as_bytes());
        hash.update([0]);
    };
    add(&check.program);
    add(&file_state(Path::new(&check.program)));
    check.args.iter().for_each(|a| add(a));
    add(&format!("{:?}", check.cwd));
    for (name, value) in &check.env {
        add(name);
        add(&value.value);
    }
    for path in &check.depends_on {
        add(&path.display().to_string());
        add(&tree_state(path));
    }
    format!("{:x}", hash.finalize())
}

/// A file's size and modification time, or `missing`.
fn file_state(path: &Path) -> String {
    std::fs::metadata(path).map_or_else(
        |_| "missing".to_owned(),
        |m| format!("{} {}.{}", m.len(), m.mtime(), m.mtime_nsec()),
    )
}

/// Every file under `root` with its size and modification time, in a stable order.
fn tree_state(root: &Path) -> String {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(next) = pending.pop() {
        if files.len() >= MAX_FILES {
            break;
        }
        let Ok(meta) = std::fs::metadata(&next) else {
            continue;
        };
        if meta.is_dir() {
            pending.extend(
                std::fs::read_dir(&next)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else {
            files.push(format!("{} {}", next.display(), file_state(&next)));
        }
    }
    files.sort();
    files.join("\n")
}

#[cfg(test)]
mod tests {
    use benchy_core::Role;

    use super::*;

    #[test]
    fn a_passed_check_is_remembered_until_what_it_depends_on_changes() {
        let home = tempfile::tempdir().unwrap();
        let tasks = home.path().join("tasks");
        std::fs::create_dir(&tasks).unwrap();
        std::fs::write(tasks.join("t.yaml"), "task: t\n").unwrap();
        let check = ProcessSpec {
            depends_on: vec![tasks.clone()],
            ..ProcessSpec::new(
                "validate",
                Role::Check,
                "/bin/true",
                vec!["t".into()],
                "c.log",
            )
        };
        let cache = CheckCache::new(home.path());
        assert!(!cache.mark(&check).passed());
        cache.mark(&check).remember();
        assert!(cache.mark(&check).passed());
        let mut other = check.clone();
        other.args = vec!["u".into()];
        assert!(
            !cache.mark(&other).passed(),
            "other arguments, another answer"
        );
        std::fs::write(tasks.join("u.yaml"), "task: u\n").unwrap();
        assert!(
            !cache.mark(&check).passed(),
            "a new task file may change the answer"
        );
    }
}
