//! What a site sets for its Slurm jobs, in `[executor]` of a settings file or in the file
//! `--executor-config` names (the same keys): each key, the kind of value it takes, and what it
//! becomes in the job script. One table, read by the settings reader (to check a value where it
//! is written, with its line) and by the job script's writer.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Setting;
use crate::util::secrets::is_secret_name;

/// The kind of value a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One word (a name, a duration, a count written as a number or a string): it goes on an
    /// `#SBATCH` line, which sbatch splits at whitespace.
    Word,
    /// A whole number from 1.
    Count,
    /// true or false.
    Flag,
    /// sbatch options, one a line (`--exclusive`, `--mail-type=END`).
    Options,
    /// Shell lines run before benchy (`module load cuda/12.4`, `export HF_HOME=/scratch/hf`).
    Shell,
}

/// A key of the Slurm executor's settings.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// The sbatch option it sets, when it sets one directly.
    pub sbatch: Option<&'static str>,
}

const fn option(name: &'static str, sbatch: &'static str) -> Key {
    Key {
        name,
        kind: Kind::Word,
        sbatch: Some(sbatch),
    }
}

/// Every key, in the order its `#SBATCH` line is written.
pub const KEYS: &[Key] = &[
    option("partition", "partition"),
    option("account", "account"),
    option("qos", "qos"),
    option("time", "time"),
    // `--gpus=2` or `--gpus=a100:2`; `--gres=gpu:a100:2` where a site counts GPUs as gres
    option("gpus", "gpus"),
    option("gres", "gres"),
    Key {
        name: "cpus_per_task",
        kind: Kind::Count,
        sbatch: Some("cpus-per-task"),
    },
    option("memory", "mem"),
    option("constraint", "constraint"),
    // The array's `%N`: how many models run at once.
    Key {
        name: "max_parallel",
        kind: Kind::Count,
        sbatch: None,
    },
    // `#SBATCH --requeue`, as `eval --requeue` asks.
    Key {
        name: "requeue",
        kind: Kind::Flag,
        sbatch: None,
    },
    Key {
        name: "sbatch",
        kind: Kind::Options,
        sbatch: None,
    },
    Key {
        name: "setup",
        kind: Kind::Shell,
        sbatch: None,
    },
];

/// The key named `name`, if there is one.
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// A checked value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Word(String),
    Count(u16),
    Flag(bool),
    Lines(Vec<String>),
}

/// The Slurm settings that are set, by key name, each with where it came from.
pub type SlurmOptions = BTreeMap<&'static str, Setting<Value>>;

/// Why `word` cannot be a [`Kind::Word`] value, if it cannot.
pub fn bad_word(word: &str) -> Option<&'static str> {
    if word.is_empty() {
        Some("it is empty")
    } else if word.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("sbatch reads an #SBATCH line's value up to the first space")
    } else {
        None
    }
}

/// Why `line` cannot be a line of `kind` (Options or Shell), if it cannot.
pub fn bad_line(kind: Kind, line: &str) -> Option<String> {
    if line.contains(['\n', '\r', '\0']) {
        return Some("one line each: a list item holds no line break".to_owned());
    }
    if url_password(line) {
        return Some(
            "a URL with a password: a secret in the job script is a secret on disk; export it \
             before submitting (the job inherits the environment)"
                .to_owned(),
        );
    }
    match kind {
        Kind::Options if !line.trim_start().starts_with('-') => {
            Some("an sbatch option such as `--exclusive` (benchy writes the `#SBATCH`)".to_owned())
        }
        Kind::Shell => literal_secret(line).map(|name| {
            format!(
                "`{name}` is given a literal value: a secret in the job script is a secret on \
                 disk; export it before submitting (the job inherits the environment), or read \
                 it at run time (`{name}=$(cat ...)`)"
            )
        }),
        _ => None,
    }
}

/// The variable a shell line assigns a literal credential to (`export HF_TOKEN=hf_...`), if it
/// does; a value read at run time (`$VAR`, `$(cat file)`) is not one.
fn literal_secret(line: &str) -> Option<&str> {
    line.split_whitespace().find_map(|word| {
        let (name, value) = word.split_once('=')?;
        let value = value.trim_start_matches(['"', '\'']);
        let literal = !value.is_empty() && !value.starts_with('$');
        (literal && is_secret_name(name)).then_some(name)
    })
}

/// Whether a line holds a URL with a password (`https://user:pw@host`): a secret in the job
/// script, as a literal credential is.
fn url_password(line: &str) -> bool {
    line.split_whitespace().any(|word| {
        let Some((_, rest)) = word.split_once("://") else {
            return false;
        };
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_lines_are_checked_for_what_a_job_script_can_hold() {
        assert_eq!(bad_word("gpu"), None);
        assert!(bad_word("two words").is_some());
        assert!(bad_word("").is_some());
        assert_eq!(bad_line(Kind::Options, "--exclusive"), None);
        assert!(bad_line(Kind::Options, "exclusive").is_some());
        assert!(bad_line(Kind::Shell, "module load a\nmodule load b").is_some());
        assert_eq!(bad_line(Kind::Shell, "module load cuda/12.4"), None);
        assert_eq!(bad_line(Kind::Shell, "export HF_TOKEN=$(cat ~/.hf)"), None);
        assert_eq!(
            bad_line(Kind::Shell, "export HF_TOKEN=\"$SITE_TOKEN\""),
            None
        );
        let said = bad_line(Kind::Shell, "export HF_TOKEN=hf_abcdef").unwrap();
        assert!(
            said.starts_with("`HF_TOKEN` is given a literal value"),
            "{said}"
        );
        assert_eq!(bad_line(Kind::Shell, "export MAX_NUM_TOKENS=5"), None);
    }
}
