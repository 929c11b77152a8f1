//! Settings files: the defaults a project, a user and a site keep in TOML instead of typing the
//! same flags again. Read from, strongest first: `benchy.toml` in the working directory and each
//! parent (nearer wins), the user's `<config dir>/benchy/config.toml`, then the file
//! `BENCHY_CONFIG` names (a site's file). Files are merged key by key, flags win over all of
//! them, and every value remembers the file and line it came from, as generation parameters
//! remember their source.

mod env;
mod executor;
mod files;
mod jobs;
mod read;
pub mod slurm_keys;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use benchy_core::Diagnostic;
use benchy_core::backend::Capacity;
use serde::Serialize;
use serde_json::Value as Json;

pub use self::executor::{ExecutorKind, ExecutorSettings};
pub use self::jobs::Jobs;
pub use self::read::read_executor_file;
#[cfg(test)]
pub use self::read::{LEADERBOARD_KEYS, TOP_KEYS};

use crate::plugin::builtins::DEFAULT_SOURCE;
use crate::util::env_vars::benchy_home;

/// Where runs are kept when neither `--output-dir` nor `output_dir` says.
pub const DEFAULT_OUTPUT_DIR: &str = "outputs/benchmark_outputs";
/// Requests in flight per job at most, when no setting says: vLLM's own default batch on a GPU
/// (`max_num_seqs` 256), so a provider's capacity up to it is used as it is.
pub const DEFAULT_MAX_CONCURRENT: u64 = 256;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A settings file, at this line.
    File { path: PathBuf, line: usize },
    /// The process environment, which wins over an `[env]` setting.
    Environment,
    /// benchy's built-in default.
    Default,
}

impl Origin {
    /// The folder of the file the value came from: what its relative paths are relative to.
    pub fn dir(&self) -> Option<PathBuf> {
        match self {
            Origin::File { path, .. } => path.parent().map(Path::to_owned),
            Origin::Environment | Origin::Default => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Environment => f.write_str("environment"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T: Clone> Setting<T> {
    /// `setting`'s value, else `default` shown as benchy's own.
    fn or_default(setting: &Option<Setting<T>>, default: impl FnOnce() -> T) -> Setting<T> {
        setting.clone().unwrap_or_else(|| Setting {
            value: default(),
            origin: Origin::Default,
        })
    }
}

/// `[leaderboard]`: how `benchy results` and `benchy report` make the overall score, as the
/// Python tool's `leaderboard:` block did (`overall_score_categories`, `normalize_scores`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeaderboardSettings {
    /// The tasks the overall score averages; none: every task.
    pub tasks: Option<Setting<Vec<String>>>,
    /// The tasks whose metric is on a 0-100 scale, divided by 100.
    pub scale_100: Option<Setting<Vec<String>>>,
}

/// The settings of every file that applies, merged: for each key, the strongest file's value.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The files read, strongest first.
    pub files: Vec<PathBuf>,
    /// Unknown keys and ignored aliases, one warning each.
    pub warnings: Vec<Diagnostic>,
    /// The `--source` specs used when none is given.
    pub sources: Option<Setting<Vec<String>>>,
    /// `--output-dir` when none is given (relative paths are relative to the file).
    pub output_dir: Option<Setting<PathBuf>>,
    /// `--jobs` when none is given.
    pub jobs: Option<Setting<Jobs>>,
    /// `--cache` when none is given.
    pub cache: Option<Setting<crate::cache::Mode>>,
    /// The response cache's folder (relative paths are relative to the file).
    pub cache_dir: Option<Setting<PathBuf>>,
    /// The most bytes of answers the response cache keeps.
    pub cache_size: Option<Setting<u64>>,
    /// The most requests a job keeps in flight when its task sets no `num_concurrent`: the
    /// server's capacity is used up to this.
    pub max_concurrent: Option<Setting<u64>>,
    /// `--gpus` when none is given: the node's devices a suite's servers share.
    pub gpus: Option<Setting<String>>,
    /// Plugin directories, searched after `BENCHY_PLUGIN_PATH`.
    pub plugin_path: Option<Setting<Vec<PathBuf>>>,
    /// Source schemes whose failure stops a run, added to `--require-source` and the run
    /// config's own list.
    pub require_sources: Option<Setting<Vec<String>>>,
    pub executor: ExecutorSettings,
    pub leaderboard: LeaderboardSettings,
    /// `[alias]`: a name for a command line, as its words.
    pub aliases: BTreeMap<String, Setting<Vec<String>>>,
    /// `[env]`: variables for benchy's own environment and so every child's, unless the
    /// environment already has them.
    pub env: BTreeMap<String, Setting<String>>,
}

/// One effective setting as `benchy config show` prints it.
#[derive(Debug)]
pub struct Entry {
    pub key: String,
    pub value: Json,
    pub origin: String,
}

impl Settings {
    /// Reads and merges every settings file that applies in the working directory; a file that
    /// is not valid TOML or holds a bad value is bad input (exit code 2) naming file, line and
    /// key.
    pub fn load() -> Result<Settings> {
        let mut settings = Settings::default();
        let mut warnings = Vec::new();
        for path in files::find(&std::env::current_dir()?) {
            warnings.extend(files::trusted(&path)?);
            settings = settings.over(read::read(&path)?);
        }
        settings.warnings.splice(0..0, warnings);
        Ok(settings)
    }

    /// These settings, with `weaker`'s filling the keys these leave unset.
    fn over(self, weaker: Settings) -> Settings {
        let mut aliases = weaker.aliases;
        aliases.extend(self.aliases);
        let mut env = weaker.env;
        env.extend(self.env);
        Settings {
            files: [self.files, weaker.files].concat(),
            warnings: [self.warnings, weaker.warnings].concat(),
            sources: self.sources.or(weaker.sources),
            output_dir: self.output_dir.or(weaker.output_dir),
            jobs: self.jobs.or(weaker.jobs),
            cache: self.cache.or(weaker.cache),
            cache_dir: self.cache_dir.or(weaker.cache_dir),
            cache_size: self.cache_size.or(weaker.cache_size),
            max_concurrent: self.max_concurrent.or(weaker.max_concurrent),
            gpus: self.gpus.or(weaker.gpus),
            plugin_path: self.plugin_path.or(weaker.plugin_path),
            require_sources: self.require_sources.or(weaker.require_sources),
            executor: self.executor.over(weaker.executor),
            leaderboard: LeaderboardSettings {
                tasks: self.leaderboard.tasks.or(weaker.leaderboard.tasks),
                scale_100: self.leaderboard.scale_100.or(weaker.leaderboard.scale_100),
            },
            aliases,
            env,
        }
    }

    pub fn sources(&self) -> Setting<Vec<String>> {
        Setting::or_default(&self.sources, || vec![DEFAULT_SOURCE.to_owned()])
    }

    pub fn output_dir(&self) -> Setting<PathBuf> {
        Setting::or_default(&self.output_dir, || PathBuf::from(DEFAULT_OUTPUT_DIR))
    }

    /// `--output-dir` when given, else this setting.
    pub fn output_dir_or(&self, flag: Option<&Path>) -> PathBuf {
        flag.map_or_else(|| self.output_dir().value, Path::to_owned)
    }

    pub fn jobs(&self) -> Setting<Jobs> {
        Setting::or_default(&self.jobs, Jobs::default)
    }

    /// The response cache's mode when `--cache` says nothing (`on` by default).
    pub fn cache(&self) -> Setting<crate::cache::Mode> {
        Setting::or_default(&self.cache, crate::cache::Mode::default)
    }

    /// The response cache's folder: `<benchy home>/cache` by default.
    pub fn cache_dir(&self) -> Setting<PathBuf> {
        Setting::or_default(
            &self.cache_dir,
            || crate::cache::default_dir(&benchy_home()),
        )
    }

    pub fn cache_size(&self) -> Setting<u64> {
        Setting::or_default(&self.cache_size, || crate::cache::DEFAULT_LIMIT)
    }

    pub fn max_concurrent(&self) -> Setting<u64> {
        Setting::or_default(&self.max_concurrent, || DEFAULT_MAX_CONCURRENT)
    }

    /// The `max_concurrent` setting as jobs are planned with it, naming where it is set.
    pub fn concurrency_cap(&self) -> Capacity {
        let setting = self.max_concurrent();
        Capacity {
            requests: setting.value,
            source: format!("the max_concurrent setting ({})", setting.origin),
        }
    }

    pub fn plugin_path(&self) -> Setting<Vec<PathBuf>> {
        Setting::or_default(&self.plugin_path, Vec::new)
    }

    pub fn require_sources(&self) -> Setting<Vec<String>> {
        Setting::or_default(&self.require_sources, Vec::new)
    }

    pub fn executor_kind(&self) -> Setting<ExecutorKind> {
        Setting::or_default(&self.executor.kind, ExecutorKind::default)
    }

    /// The tasks the overall score counts (empty: every task).
    pub fn leaderboard_tasks(&self) -> Setting<Vec<String>> {
        Setting::or_default(&self.leaderboard.tasks, Vec::new)
    }

    pub fn leaderboard_scale_100(&self) -> Setting<Vec<String>> {
        Setting::or_default(&self.leaderboard.scale_100, Vec::new)
    }

    /// Puts the `[env]` settings into benchy's environment (see [`env::apply`]). Call it before
    /// any thread starts.
    pub fn apply_env(&mut self) {
        env::apply(&mut self.env);
    }

    /// Every effective setting, defaults included, with where its value came from.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries = vec![
            entry("sources", &self.sources()),
            entry("output_dir", &self.output_dir()),
            entry("jobs", &self.jobs()),
            entry("cache", &self.cache()),
            entry("cache_dir", &self.cache_dir()),
            entry("cache_size", &self.cache_size()),
            entry("max_concurrent", &self.max_concurrent()),
            entry("gpus", &Setting::or_default(&self.gpus, String::new)),
            entry("plugin_path", &self.plugin_path()),
            entry("require_sources", &self.require_sources()),
            entry("executor.kind", &self.executor_kind()),
            entry("leaderboard.tasks", &self.leaderboard_tasks()),
            entry("leaderboard.scale_100", &self.leaderboard_scale_100()),
        ];
        entries.extend(self.executor.entries());
        entries.extend(
            self.aliases
                .iter()
                .map(|(name, words)| entry(&format!("alias.{name}"), words)),
        );
        entries.extend(
            self.env
                .iter()
                .map(|(name, value)| entry(&format!("env.{name}"), value)),
        );
        entries
    }
}

fn entry<T: Serialize>(key: &str, setting: &Setting<T>) -> Entry {
    Entry {
        key: key.to_owned(),
        value: serde_json::to_value(&setting.value).unwrap_or(Json::Null),
        origin: setting.origin.to_string(),
    }
}

/// `path` as a settings file means it: as every config file means a path (`~/` the home folder,
/// else relative to the file's folder).
fn relative_to(file: &Path, path: &str) -> PathBuf {
    benchy_core::paths::expand(path, file.parent().unwrap_or(Path::new(".")))
}
