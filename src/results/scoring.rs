//! How the overall score is made, as the Python tool made it: the mean of the counted tasks'
//! primary metrics, after dividing those on a 0-100 scale (chrF) by 100. Configured by the
//! Python tool's `leaderboard:` block (`--leaderboard config.yaml`, read as is), by the
//! `[leaderboard]` settings, and by flags; per key, a flag wins over the file, which wins over
//! the settings.

use std::path::{Path, PathBuf};

use anyhow::Result;
use benchy_core::source::{MAX_TEXT_FILE_BYTES, read_text_file};
use benchy_source_yaml::yaml;
use serde::Deserialize;

use crate::settings::Settings;
use crate::util::bad_input::bad_input;

/// What the user asked of the overall score: `--leaderboard FILE`, `--overall-task`,
/// `--scale-100`.
#[derive(Clone, Debug, Default)]
pub struct ScoringOptions {
    /// A YAML file whose `leaderboard:` block says which tasks count and which are on a 0-100
    /// scale.
    pub leaderboard: Option<PathBuf>,
    pub overall_tasks: Vec<String>,
    pub scale_100: Vec<String>,
}

/// Which tasks count and which are on a 0-100 scale; names are run task names or evaluated
/// task names (an lm-eval group or subtask).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scoring {
    /// The tasks the overall score averages; empty: every task.
    pub tasks: Vec<String>,
    /// The tasks whose metrics are divided by 100 (in the table and in the overall score).
    pub scale_100: Vec<String>,
}

impl Scoring {
    /// Flags over `--leaderboard FILE` over the settings files.
    pub fn resolve(args: &ScoringOptions, settings: &Settings) -> Result<Scoring> {
        let file = match &args.leaderboard {
            Some(path) => Some(read_block(path)?),
            None => None,
        };
        let pick = |flag: &Vec<String>, from_file: Option<Vec<String>>, setting: Vec<String>| {
            if flag.is_empty() {
                from_file.unwrap_or(setting)
            } else {
                flag.clone()
            }
        };
        let (file_tasks, file_scale) = file
            .map(|b| (b.overall_score_categories, b.normalize_scores))
            .unwrap_or_default();
        Ok(Scoring {
            tasks: pick(
                &args.overall_tasks,
                file_tasks,
                settings.leaderboard_tasks().value,
            ),
            scale_100: pick(
                &args.scale_100,
                file_scale,
                settings.leaderboard_scale_100().value,
            ),
        })
    }

    /// Whether `name` (a run task or an evaluated task) is on a 0-100 scale.
    pub fn scaled(&self, name: &str) -> bool {
        self.scale_100.iter().any(|s| s == name)
    }

    /// What the overall score is, in words.
    pub fn describe(&self) -> String {
        let counted = if self.tasks.is_empty() {
            "every task".to_owned()
        } else {
            self.tasks.join(", ")
        };
        let mut text = format!("overall: the mean of {counted}");
        if !self.scale_100.is_empty() {
            text += &format!(" ({} divided by 100)", self.scale_100.join(", "));
        }
        text
    }
}

/// The Python tool's central config: only its `leaderboard:` block is read, the rest (paths,
/// datasets, logging...) belongs to the Python tool.
#[derive(Debug, Deserialize)]
struct PythonConfig {
    #[serde(default)]
    leaderboard: Option<Block>,
}

/// The `leaderboard:` block; any other key is a mistake to report with its line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    #[serde(default)]
    overall_score_categories: Option<Vec<String>>,
    #[serde(default)]
    normalize_scores: Option<Vec<String>>,
}

fn read_block(path: &Path) -> Result<Block> {
    let shown = path.display().to_string();
    let text = read_text_file(path, MAX_TEXT_FILE_BYTES)
        .map_err(|e| bad_input(format!("--leaderboard {shown}: {e}")))?;
    let config: PythonConfig =
        yaml::from_str(&text, &shown).map_err(|e| bad_input(e.to_string()))?;
    config
        .leaderboard
        .ok_or_else(|| bad_input(format!("{shown}: no `leaderboard:` block")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Block> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).unwrap();
        read_block(&path)
    }

    #[test]
    fn the_python_tools_config_is_read_as_is() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/corpus/reference/benchy-py-configs/config.yaml"),
        )
        .unwrap();
        let block = read(&text).unwrap();
        assert_eq!(
            block.overall_score_categories.unwrap(),
            ["latam_es", "latam_pr", "translation"]
        );
        assert_eq!(block.normalize_scores.unwrap(), ["translation"]);
    }

    #[test]
    fn an_unknown_key_in_the_block_names_file_and_line() {
        let err = read("paths:\n  logs: x\nleaderboard:\n  overall_score_categories: [a]\n  normalise_scores: [b]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.yaml:5"), "{err}");
        assert!(err.contains("normalise_scores"), "{err}");
    }

    #[test]
    fn a_file_without_the_block_is_refused() {
        let err = read("paths:\n  logs: x\n").unwrap_err().to_string();
        assert!(err.contains("no `leaderboard:` block"), "{err}");
    }
}
