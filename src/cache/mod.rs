//! The response cache: answers the servers gave, filed under everything that decides them
//! ([`key`]), in one database under `<benchy home>/cache/` ([`store`]), so a task killed at 90 %
//! resumes with its first 90 % answered from disk. The auditing proxy of each job consults it
//! ([`inspect`]): a request answered before is answered again without reaching the server,
//! every request is audited all the same, and a task's record counts what came from the cache
//! and from which run.

pub mod inspect;
pub mod key;
pub mod store;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use benchy_core::Diagnostic;

use store::{Store, Unusable};

/// The database's file under the cache folder.
pub const FILE: &str = "answers.db";

/// The most bytes of answers kept when the `cache_size` setting says nothing.
pub const DEFAULT_LIMIT: u64 = 10 << 30;

/// How the cache is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answers are read from it and written to it.
    #[default]
    On,
    /// Only read: what the run gets from servers is not kept.
    Read,
    /// Only written: every request reaches the server (the default with `--rerun`).
    Write,
    Off,
}

impl Mode {
    pub fn reads(self) -> bool {
        matches!(self, Mode::On | Mode::Read)
    }

    pub fn writes(self) -> bool {
        matches!(self, Mode::On | Mode::Write)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::On => "on",
            Mode::Read => "read",
            Mode::Write => "write",
            Mode::Off => "off",
        }
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text {
            "on" => Ok(Mode::On),
            "read" => Ok(Mode::Read),
            "write" => Ok(Mode::Write),
            "off" => Ok(Mode::Off),
            other => Err(format!(
                "`{other}` is not a cache mode: on, read, write or off"
            )),
        }
    }
}

/// The cache of a run: its database and how it is used.
#[derive(Debug)]
pub struct Cache {
    pub store: Store,
    pub mode: Mode,
    /// The most bytes of answers kept.
    pub limit: u64,
}

/// How a run wants the cache: its mode, its folder and its size limit.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    pub dir: PathBuf,
    /// The most bytes of answers kept.
    pub limit: u64,
}

/// The cache's folder when the `cache_dir` setting says nothing.
pub fn default_dir(home: &Path) -> PathBuf {
    home.join("cache")
}

/// The database's path in the cache folder `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

impl Cache {
    /// The cache `config` asks for, or none (off, or unusable: the note says why and the run
    /// goes on uncached).
    pub fn open(config: &Config) -> (Option<Cache>, Vec<Diagnostic>) {
        let Config { mode, limit, .. } = *config;
        if mode == Mode::Off {
            return (None, Vec::new());
        }
        let file = path(&config.dir);
        match Store::open(&file) {
            Ok((store, aside)) => {
                let notes = aside
                    .map(|aside| {
                        Diagnostic::warning(format!(
                            "{} is not a benchy cache (corrupt, cut short or another \
                             program's): set aside as {}; a new cache is started",
                            file.display(),
                            aside.display()
                        ))
                    })
                    .into_iter()
                    .collect();
                (Some(Cache { store, mode, limit }), notes)
            }
            Err(Unusable::Newer(format)) => (
                None,
                vec![Diagnostic::warning(format!(
                    "{} is a cache of a newer benchy (format {format}); this run goes on \
                     uncached and leaves it as it is",
                    file.display()
                ))],
            ),
            Err(Unusable::Failed(why)) => (
                None,
                vec![Diagnostic::warning(format!(
                    "the response cache cannot be used ({why}); this run goes on uncached"
                ))],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_that_cannot_be_written_is_named_and_the_run_goes_on_uncached() {
        let home = tempfile::tempdir().unwrap();
        // the cache folder is a file, so nothing can be created under it (root ignores
        // permissions, so a read-only folder would not stop this test's user)
        std::fs::write(home.path().join("cache"), "").unwrap();
        let mut config = Config {
            mode: Mode::On,
            dir: default_dir(home.path()),
            limit: DEFAULT_LIMIT,
        };
        let (cache, notes) = Cache::open(&config);
        assert!(cache.is_none());
        let [note] = notes.as_slice() else {
            panic!("{notes:?}")
        };
        assert!(
            note.message
                .contains(&home.path().join("cache").display().to_string())
                && note.message.contains("goes on uncached"),
            "{note:?}"
        );
        config.mode = Mode::Off;
        assert!(Cache::open(&config).1.is_empty());
    }
}
