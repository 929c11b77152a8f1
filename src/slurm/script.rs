//! The job script: `#SBATCH` lines from the executor settings, the site's setup lines, then one
//! `benchy eval` for the model whose run config the array task's index picks, run with `exec` so
//! Slurm's signals (scancel, a time limit, preemption) reach benchy itself, which stops its
//! server and evaluator and records the run as interrupted. Nothing secret is written here:
//! secrets reach the job through the environment sbatch exports.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::settings::slurm_keys::{KEYS, SlurmOptions, Value};
use crate::store::layout::SLURM_LOGS as LOG_PATTERN;
use crate::util::bad_input::bad_input;

/// An argument of the command every array task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// The array task's own run config.
    Config,
    Text(String),
}

impl Arg {
    /// As `submission.json` shows it.
    pub fn shown(&self) -> String {
        match self {
            Arg::Config => "$config".to_owned(),
            Arg::Text(text) => text.clone(),
        }
    }

    fn shell(&self) -> String {
        match self {
            Arg::Config => "\"$config\"".to_owned(),
            Arg::Text(text) => shell_quote(text),
        }
    }
}

/// What the job script is made of.
#[derive(Debug)]
pub struct JobScript<'a> {
    pub options: &'a SlurmOptions,
    pub requeue: bool,
    pub name: String,
    /// The run id's `slurm/` folder: the array tasks' logs go there.
    pub folder: PathBuf,
    /// Where the array tasks run: the folder benchy was started in, so relative paths in its
    /// flags mean what they meant.
    pub workdir: PathBuf,
    /// Each array task's run config, by index.
    pub configs: Vec<PathBuf>,
    pub command: Vec<Arg>,
}

impl JobScript<'_> {
    /// The script's text; a path Slurm could not take in an `#SBATCH` line is bad input.
    pub fn render(&self) -> Result<String> {
        let mut out = format!(
            "#!/bin/bash\n# benchy: one array task per model (the index picks its run config).\n\
             # Written by `benchy eval --executor slurm`; see submission.json beside it.\n{}",
            self.directives()?
        );
        out += "set -e\n";
        for line in self.lines("setup") {
            out += &format!("{line}\n");
        }
        out += "case \"$SLURM_ARRAY_TASK_ID\" in\n";
        for (index, config) in self.configs.iter().enumerate() {
            let config = shell_quote(&config.to_string_lossy());
            out += &format!("  {index}) config={config} ;;\n");
        }
        out +=
            "  *) echo \"benchy: array task $SLURM_ARRAY_TASK_ID has no model\" >&2; exit 2 ;;\n";
        out += "esac\n";
        let words: Vec<String> = self.command.iter().map(Arg::shell).collect();
        out += &format!("exec {}\n", words.join(" "));
        Ok(out)
    }

    fn directives(&self) -> Result<String> {
        let last = self.configs.len().saturating_sub(1);
        let throttle = match self.options.get("max_parallel").map(|s| &s.value) {
            Some(Value::Count(n)) => format!("%{n}"),
            _ => String::new(),
        };
        let mut lines = vec![
            format!("--job-name={}", self.name),
            format!("--array=0-{last}{throttle}"),
            format!("--output={}", path_value(&self.folder, Some(LOG_PATTERN))?),
            format!("--chdir={}", path_value(&self.workdir, None)?),
        ];
        for key in KEYS {
            let (Some(option), Some(setting)) = (key.sbatch, self.options.get(key.name)) else {
                continue;
            };
            match &setting.value {
                Value::Word(word) => lines.push(format!("--{option}={word}")),
                Value::Count(n) => lines.push(format!("--{option}={n}")),
                Value::Flag(_) | Value::Lines(_) => {}
            }
        }
        if self.requeue {
            lines.push("--requeue".to_owned());
        }
        lines.extend(self.lines("sbatch").iter().map(|l| l.trim().to_owned()));
        Ok(lines.iter().map(|l| format!("#SBATCH {l}\n")).collect())
    }

    /// The lines of an `Options` or `Shell` key, none when it is unset.
    fn lines(&self, key: &str) -> &[String] {
        match self.options.get(key).map(|s| &s.value) {
            Some(Value::Lines(lines)) => lines,
            _ => &[],
        }
    }
}

/// `folder`, joined with `file` when there is one, as an `#SBATCH` value: double-quoted when it
/// holds spaces (sbatch reads the quotes). A quote, a backslash or a `%` (Slurm's file name
/// patterns) in the folder cannot be written there.
fn path_value(folder: &Path, file: Option<&str>) -> Result<String> {
    let unsafe_char = folder
        .to_string_lossy()
        .chars()
        .find(|c| matches!(c, '"' | '\\' | '%' | '\n'));
    if let Some(c) = unsafe_char {
        return Err(bad_input(format!(
            "{}: Slurm cannot be given this folder in a job script (it holds {c:?}); choose \
             another --output-dir, or run benchy from another folder",
            folder.display()
        )));
    }
    let path = file.map_or_else(|| folder.to_owned(), |f| folder.join(f));
    let text = path.to_string_lossy();
    Ok(if text.contains(char::is_whitespace) {
        format!("\"{text}\"")
    } else {
        text.into_owned()
    })
}

/// `text` as one shell word, in single quotes (a `'` inside written as `'\''`).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Origin, Setting};

    fn set(options: &mut SlurmOptions, key: &'static str, value: Value) {
        let origin = Origin::Default;
        options.insert(key, Setting { value, origin });
    }

    #[test]
    fn the_script_carries_the_settings_the_index_picks_the_config_and_benchy_is_execd() {
        let mut options = SlurmOptions::new();
        set(&mut options, "partition", Value::Word("gpu".into()));
        set(&mut options, "cpus_per_task", Value::Count(8));
        set(&mut options, "max_parallel", Value::Count(4));
        set(&mut options, "requeue", Value::Flag(true));
        set(
            &mut options,
            "sbatch",
            Value::Lines(vec!["--exclusive".into()]),
        );
        set(
            &mut options,
            "setup",
            Value::Lines(vec!["module load cuda/12.4".into()]),
        );
        let script = JobScript {
            options: &options,
            requeue: true,
            name: "benchy-r1".into(),
            folder: PathBuf::from("/out/r 1/slurm"),
            workdir: PathBuf::from("/home/me/lab"),
            configs: vec!["/c/a.yaml".into(), "/c/it's.yaml".into()],
            command: vec![
                Arg::Text("/bin/benchy".into()),
                Arg::Text("eval".into()),
                Arg::Text("-c".into()),
                Arg::Config,
                Arg::Text("--set".into()),
                Arg::Text("stop=[\"a b\"]".into()),
            ],
        };
        let text = script.render().unwrap();
        let expected = "\
#SBATCH --job-name=benchy-r1
#SBATCH --array=0-1%4
#SBATCH --output=\"/out/r 1/slurm/%A_%a.log\"
#SBATCH --chdir=/home/me/lab
#SBATCH --partition=gpu
#SBATCH --cpus-per-task=8
#SBATCH --requeue
#SBATCH --exclusive
set -e
module load cuda/12.4
case \"$SLURM_ARRAY_TASK_ID\" in
  0) config='/c/a.yaml' ;;
  1) config='/c/it'\\''s.yaml' ;;
";
        assert!(text.contains(expected), "{text}");
        assert!(
            text.ends_with("exec '/bin/benchy' 'eval' '-c' \"$config\" '--set' 'stop=[\"a b\"]'\n"),
            "{text}"
        );
        assert_eq!(text.matches("--requeue").count(), 1, "{text}");
    }

    #[test]
    fn a_folder_slurm_cannot_take_is_bad_input() {
        assert!(path_value(Path::new("/out/50%/slurm"), Some(LOG_PATTERN)).is_err());
        assert!(path_value(Path::new("/out/a\"b"), None).is_err());
        assert_eq!(
            path_value(Path::new("/out/slurm"), Some(LOG_PATTERN)).unwrap(),
            "/out/slurm/%A_%a.log"
        );
    }
}
