//! Reading one settings file: TOML parsed with spans, so every value keeps its line; each known
//! key checked and typed; an unknown key a warning naming file and line (probably a typo); a
//! bad value bad input (exit code 2) naming file, line and key.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Result;
use benchy_core::Diagnostic;
use benchy_core::source::{MAX_TEXT_FILE_BYTES, read_text_file};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::slurm_keys::{self, Kind, Value as SlurmValue};
use super::{ExecutorKind, ExecutorSettings, Jobs, Origin, Setting, Settings, relative_to};
use crate::util::bad_input::bad_input;
use crate::util::env_vars::is_loader_variable;
use crate::util::secrets;
use crate::util::suggest;

/// The keys a settings file may hold at its top level.
pub const TOP_KEYS: &[&str] = &[
    "sources",
    "output_dir",
    "jobs",
    "cache",
    "cache_dir",
    "cache_size",
    "max_concurrent",
    "gpus",
    "plugin_path",
    "require_sources",
    "executor",
    "leaderboard",
    "alias",
    "env",
];
/// The keys of `[leaderboard]`.
pub const LEADERBOARD_KEYS: &[&str] = &["tasks", "scale_100"];
/// The keys of an `[env]` value written as a table.
const ENV_VALUE_KEYS: &[&str] = &["value", "relative"];

type Key<'i> = Spanned<Cow<'i, str>>;
type Value<'i> = Spanned<DeValue<'i>>;

/// `10G`, `500M`, `64K`, `1T` or plain bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let shift = match unit
        .to_ascii_uppercase()
        .trim_end_matches('B')
        .trim_end_matches('I')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    number.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// The settings one file holds.
pub fn read(path: &Path) -> Result<Settings> {
    parse(path, |reader, table| reader.top(table))
}

/// The executor settings of the file `eval --executor-config` names: the keys of `[executor]`,
/// at the top level. An unknown key is an error there as it is in `[executor]`.
pub fn read_executor_file(path: &Path) -> Result<ExecutorSettings> {
    let settings = parse(path, |reader, table| reader.executor_keys("", table))?;
    Ok(settings.executor)
}

/// Reads `path` as TOML and hands its top-level table to `read`; a file that cannot be read or
/// is not TOML is bad input naming it (and the line).
fn parse(path: &Path, read: impl FnOnce(&mut Reader, &DeTable) -> Result<()>) -> Result<Settings> {
    let text = read_text_file(path, MAX_TEXT_FILE_BYTES)
        .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let table = DeTable::parse(&text).map_err(|e| {
        let line = e.span().map_or(1, |span| line_of(&text, span.start));
        bad_input(format!(
            "{}:{line}: not valid TOML: {}",
            path.display(),
            e.message().trim()
        ))
    })?;
    register_secrets(table.get_ref());
    let mut reader = Reader {
        path,
        text: &text,
        settings: Settings {
            files: vec![path.to_owned()],
            ..Settings::default()
        },
    };
    read(&mut reader, table.get_ref())?;
    Ok(reader.settings)
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Registers every secret the file holds before any of it is read, so that no message, listing
/// or file shows one: every string's URL passwords and credential assignments, and the values
/// of keys whose names mark credentials (`[env] HF_TOKEN`).
fn register_secrets(table: &DeTable) {
    fn register_value(key: &str, value: &DeValue) {
        match value {
            DeValue::String(text) => {
                secrets::register_words(text);
                if secrets::is_secret_name(key) {
                    secrets::register(text);
                }
            }
            DeValue::Array(items) => items
                .iter()
                .for_each(|item| register_value(key, item.get_ref())),
            DeValue::Table(table) => register_secrets(table),
            _ => {}
        }
    }
    for (key, item) in table {
        register_value(key.get_ref(), item.get_ref());
    }
}

/// Why `[env]` may not set the variable `name`, if it may not.
fn refused_variable(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("a variable needs a name")
    } else if is_loader_variable(name) {
        Some(
            "refused: the dynamic loader reads it to load code into every program benchy starts \
             (servers, evaluators, external commands); set it in your shell if you mean it",
        )
    } else {
        None
    }
}

struct Reader<'t> {
    path: &'t Path,
    text: &'t str,
    settings: Settings,
}

impl Reader<'_> {
    fn top(&mut self, table: &DeTable) -> Result<()> {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            match name {
                "sources" => self.settings.sources = Some(self.at(key, self.texts(name, value)?)),
                "output_dir" => {
                    self.settings.output_dir = Some(self.at(key, self.path(name, value)?));
                }
                "jobs" => self.settings.jobs = Some(self.at(key, self.jobs(name, value)?)),
                "cache" => self.settings.cache = Some(self.at(key, self.cache_mode(name, value)?)),
                "cache_dir" => {
                    self.settings.cache_dir = Some(self.at(key, self.path(name, value)?));
                }
                "cache_size" => {
                    self.settings.cache_size = Some(self.at(key, self.size(name, value)?));
                }
                "max_concurrent" => {
                    let count = u64::from(self.count(name, value)?);
                    self.settings.max_concurrent = Some(self.at(key, count));
                }
                "gpus" => {
                    let ids = self.device_ids(name, value)?;
                    self.settings.gpus = Some(self.at(key, ids));
                }
                "plugin_path" => {
                    let dirs = self.texts(name, value)?;
                    let dirs = dirs.iter().map(|d| relative_to(self.path, d)).collect();
                    self.settings.plugin_path = Some(self.at(key, dirs));
                }
                "require_sources" => {
                    self.settings.require_sources = Some(self.at(key, self.texts(name, value)?));
                }
                "executor" => self.executor(value)?,
                "leaderboard" => self.leaderboard(value)?,
                "alias" => self.aliases(value)?,
                "env" => self.env(value)?,
                _ => self.unknown("", key, TOP_KEYS),
            }
        }
        Ok(())
    }

    fn executor(&mut self, value: &Value) -> Result<()> {
        let table = self.table("executor", value)?;
        self.executor_keys("executor.", table)
    }

    /// `kind` and the Slurm executor's keys ([`slurm_keys::KEYS`]). An unknown key is an error, not
    /// a warning as elsewhere: a mistyped `partiton` would send a thousand jobs to the default
    /// partition.
    fn executor_keys(&mut self, prefix: &str, table: &DeTable) -> Result<()> {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let shown = format!("{prefix}{name}");
            if name == "kind" {
                let kind = self.executor_kind(&shown, value)?;
                self.settings.executor.kind = Some(self.at(key, kind));
                continue;
            }
            let Some(known) = slurm_keys::key(name) else {
                let names = slurm_keys::KEYS.iter().map(|k| k.name).chain(["kind"]);
                return Err(bad_input(self.unknown_text(prefix, key, names, "")));
            };
            let checked = self.slurm_value(&shown, known.kind, value)?;
            let setting = self.at(key, checked);
            self.settings.executor.slurm.insert(known.name, setting);
        }
        Ok(())
    }

    /// A value of one of the Slurm executor's keys, checked for its kind.
    fn slurm_value(&self, key: &str, kind: Kind, value: &Value) -> Result<SlurmValue> {
        match kind {
            Kind::Word => {
                let word = match value.get_ref() {
                    DeValue::Integer(_) => self.count(key, value)?.to_string(),
                    _ => self.text(key, value)?.to_owned(),
                };
                match slurm_keys::bad_word(&word) {
                    Some(why) => Err(self.bad(key, value, &format!("one word ({why})"))),
                    None => Ok(SlurmValue::Word(word)),
                }
            }
            Kind::Count => Ok(SlurmValue::Count(self.count(key, value)?)),
            Kind::Flag => Ok(SlurmValue::Flag(self.flag(key, value)?)),
            Kind::Options | Kind::Shell => {
                let lines = self.texts(key, value)?;
                match lines.iter().find_map(|l| slurm_keys::bad_line(kind, l)) {
                    Some(why) => Err(self.bad(key, value, &format!("a list of lines: {why}"))),
                    None => Ok(SlurmValue::Lines(lines)),
                }
            }
        }
    }

    /// `[leaderboard]`: `tasks` and `scale_100`, lists of task names.
    fn leaderboard(&mut self, value: &Value) -> Result<()> {
        for (key, value) in self.table("leaderboard", value)? {
            let name = format!("leaderboard.{}", key.get_ref());
            match key.get_ref().as_ref() {
                "tasks" => {
                    let tasks = self.texts(&name, value)?;
                    self.settings.leaderboard.tasks = Some(self.at(key, tasks));
                }
                "scale_100" => {
                    let tasks = self.texts(&name, value)?;
                    self.settings.leaderboard.scale_100 = Some(self.at(key, tasks));
                }
                _ => self.unknown("leaderboard.", key, LEADERBOARD_KEYS),
            }
        }
        Ok(())
    }

    /// `[alias]`: `name = "eval --limit 10"` (split at whitespace) or a list of words.
    fn aliases(&mut self, value: &Value) -> Result<()> {
        for (name, line) in self.table("alias", value)? {
            let key = format!("alias.{}", name.get_ref());
            let words = match line.get_ref() {
                DeValue::String(line) => line.split_whitespace().map(str::to_owned).collect(),
                DeValue::Array(_) => self.texts(&key, line)?,
                _ => Vec::new(),
            };
            if words.is_empty() {
                return Err(self.bad(&key, line, "a command line, as a string or a list of words"));
            }
            let setting = self.at(name, words);
            self.settings
                .aliases
                .insert(name.get_ref().to_string(), setting);
        }
        Ok(())
    }

    /// `[env]`: `NAME = "value"`, or `NAME = { value = "path", relative = true }` for a path
    /// relative to the settings file.
    fn env(&mut self, value: &Value) -> Result<()> {
        for (name, value) in self.table("env", value)? {
            let key = format!("env.{}", name.get_ref());
            let text = match value.get_ref() {
                DeValue::Table(table) => self.env_table(&key, table, value)?,
                _ => self.text(&key, value)?.to_owned(),
            };
            if let Some(why) = refused_variable(name.get_ref()) {
                return Err(bad_input(format!(
                    "{}: setting `{key}`: {why}",
                    self.origin(name.span())
                )));
            }
            // What the environment cannot hold: set_var would panic on it.
            if name.get_ref().contains(['=', '\0']) || text.contains('\0') {
                return Err(self.bad(
                    &key,
                    value,
                    "a variable name without `=` and text without NUL",
                ));
            }
            let setting = self.at(name, text);
            self.settings
                .env
                .insert(name.get_ref().to_string(), setting);
        }
        Ok(())
    }

    fn env_table(&mut self, key: &str, table: &DeTable, whole: &Value) -> Result<String> {
        let (mut text, mut relative) = (None, false);
        for (name, value) in table {
            match name.get_ref().as_ref() {
                "value" => text = Some(self.text(&format!("{key}.value"), value)?.to_owned()),
                "relative" => relative = self.flag(&format!("{key}.relative"), value)?,
                _ => self.unknown(&format!("{key}."), name, ENV_VALUE_KEYS),
            }
        }
        let text =
            text.ok_or_else(|| self.bad(key, whole, "a string, or a table with a string `value`"))?;
        Ok(if relative {
            relative_to(self.path, &text).to_string_lossy().into_owned()
        } else {
            text
        })
    }

    /// A value and the line of the key that set it.
    fn at<T>(&self, key: &Key, value: T) -> Setting<T> {
        Setting {
            value,
            origin: self.origin(key.span()),
        }
    }

    fn origin(&self, span: Range<usize>) -> Origin {
        Origin::File {
            path: self.path.to_owned(),
            line: line_of(self.text, span.start),
        }
    }

    fn table<'v, 'i>(&self, key: &str, value: &'v Value<'i>) -> Result<&'v DeTable<'i>> {
        value
            .get_ref()
            .as_table()
            .ok_or_else(|| self.bad(key, value, &format!("a table, as in [{key}]")))
    }

    fn text<'v>(&self, key: &str, value: &'v Value) -> Result<&'v str> {
        value
            .get_ref()
            .as_str()
            .filter(|text| !text.trim().is_empty())
            .ok_or_else(|| self.bad(key, value, "a non-empty string"))
    }

    fn texts(&self, key: &str, value: &Value) -> Result<Vec<String>> {
        let bad = || {
            self.bad(
                key,
                value,
                "a list of non-empty strings, as in [\"a\", \"b\"]",
            )
        };
        let items = value.get_ref().as_array().ok_or_else(bad)?;
        items
            .iter()
            .map(|item| {
                let text = item.get_ref().as_str().filter(|t| !t.trim().is_empty());
                text.map(str::to_owned).ok_or_else(bad)
            })
            .collect()
    }

    fn path(&self, key: &str, value: &Value) -> Result<PathBuf> {
        Ok(relative_to(self.path, self.text(key, value)?))
    }

    fn count(&self, key: &str, value: &Value) -> Result<u16> {
        value
            .get_ref()
            .as_integer()
            .and_then(|n| i64::from_str_radix(n.as_str(), n.radix()).ok())
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| self.bad(key, value, "a whole number from 1 to 65535"))
    }

    /// Device ids: `"0,1,2,3"`, or a list of numbers (checked when a run uses them).
    fn device_ids(&self, key: &str, value: &Value) -> Result<String> {
        let bad = || self.bad(key, value, "device ids such as \"0,1,2,3\" or [0, 1, 2, 3]");
        match value.get_ref() {
            DeValue::String(text) => Ok(text.to_string()),
            DeValue::Array(items) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::Integer(n) => Ok(n.as_str().to_owned()),
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>>>()
                .map(|ids| ids.join(",")),
            _ => Err(bad()),
        }
    }

    /// `on`, `read`, `write` or `off`.
    fn cache_mode(&self, key: &str, value: &Value) -> Result<crate::cache::Mode> {
        value
            .get_ref()
            .as_str()
            .and_then(|mode| mode.parse().ok())
            .ok_or_else(|| self.bad(key, value, "\"on\", \"read\", \"write\" or \"off\""))
    }

    /// Bytes: a whole number, or one with a `K`, `M`, `G` or `T` suffix (`10G`).
    fn size(&self, key: &str, value: &Value) -> Result<u64> {
        let bad = || {
            self.bad(
                key,
                value,
                "a size such as \"10G\", \"500M\" or a number of bytes",
            )
        };
        match value.get_ref() {
            DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix())
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(bad),
            DeValue::String(text) => parse_size(text).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    /// `"auto"` or a whole number from 1.
    fn jobs(&self, key: &str, value: &Value) -> Result<Jobs> {
        let text = match value.get_ref() {
            DeValue::String(text) => Some(text.to_string()),
            DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix())
                .ok()
                .map(|n| n.to_string()),
            _ => None,
        };
        text.and_then(|t| t.parse().ok())
            .ok_or_else(|| self.bad(key, value, "\"auto\" or a whole number from 1 to 65535"))
    }

    fn flag(&self, key: &str, value: &Value) -> Result<bool> {
        value
            .get_ref()
            .as_bool()
            .ok_or_else(|| self.bad(key, value, "true or false"))
    }

    /// One of the executors' names.
    fn executor_kind(&self, key: &str, value: &Value) -> Result<ExecutorKind> {
        let names: Vec<String> = ExecutorKind::ALL
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect();
        let expected = format!("one of {}", names.join(", "));
        let text = self.text(key, value)?;
        ExecutorKind::named(text).ok_or_else(|| self.bad(key, value, &expected))
    }

    fn bad(&self, key: &str, value: &Value, expected: &str) -> anyhow::Error {
        let span = value.span();
        let written = self.text.get(span.clone()).unwrap_or_default();
        let mut shown: String = written
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect();
        if shown.len() < written.len() {
            shown += " ...";
        }
        bad_input(format!(
            "{}: setting `{key}`: expected {expected}, found {shown}",
            self.origin(span)
        ))
    }

    fn unknown(&mut self, prefix: &str, key: &Key, known: &[&str]) {
        let warning = self.unknown_text(prefix, key, known.iter().copied(), ", ignored");
        self.settings.warnings.push(Diagnostic::warning(warning));
    }

    /// `FILE:LINE: unknown setting `KEY`` and `said`, with the nearest known key.
    fn unknown_text<'k>(
        &self,
        prefix: &str,
        key: &Key,
        known: impl Iterator<Item = &'k str>,
        said: &str,
    ) -> String {
        let name = key.get_ref();
        let hint = suggest::nearest(name, known)
            .map(|k| format!(" (did you mean `{prefix}{k}`?)"))
            .unwrap_or_default();
        format!(
            "{}: unknown setting `{prefix}{name}`{said}{hint}",
            self.origin(key.span())
        )
    }
}
