//! Python environments under `<benchy home>/venvs`, one folder each: the backends name the
//! packages (a [`PythonEnv`] in their plan), benchy builds the environment with uv on first use
//! and reuses it. A build runs in a temporary folder renamed into place only when complete
//! (marked by its `.benchy-env.json`), under a lock: two benchy processes never build one
//! environment twice, and a build killed halfway never passes for a ready one.

mod build;
mod uv;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use benchy_core::{ProcessSpec, PythonEnv};
use serde::{Deserialize, Serialize};

use crate::run_config::unsafe_path_part;
use crate::runner::{Interrupted, Runner};
use crate::util::atomic::read_state;
use crate::util::bad_input::bad_input;
use crate::util::file_lock::FileLock;

pub use uv::availability_check;

/// The file that marks a complete environment and says what is in it.
const MARKER: &str = ".benchy-env.json";
/// Touched each time a run uses the environment (its time is "last used").
const USED: &str = ".benchy-used";
/// How often a wait for another builder's lock looks again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// What a built environment holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvInfo {
    pub name: String,
    pub requirements: Vec<String>,
    pub overrides: Vec<String>,
    /// The module whose version was checked, and the version that imported.
    pub module: Option<String>,
    pub version: Option<String>,
    pub built_at: String,
}

/// The environments folder.
#[derive(Clone, Debug)]
pub struct EnvStore {
    root: PathBuf,
}

impl EnvStore {
    /// The environments of benchy's home `home`.
    pub fn new(home: &Path) -> EnvStore {
        EnvStore {
            root: home.join("venvs"),
        }
    }

    /// Where environment `name` lives (or will).
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The environment `name`, when it is complete.
    pub fn ready(&self, name: &str) -> Option<EnvInfo> {
        read_state(&self.path(name).join(MARKER))
    }

    /// The environment `env`, built first when it is not ready (waiting while another benchy
    /// builds it). A package index without what is asked is bad input naming where it was
    /// asked; any other failure fails the run with uv's last lines.
    pub async fn ensure(&self, env: &PythonEnv, runner: &Runner) -> Result<EnvInfo> {
        if let Some(info) = self.used(&env.name) {
            return Ok(info);
        }
        let lock = self.lock_of(&env.name)?;
        let _held = match FileLock::try_acquire(&lock)? {
            Ok(held) => held,
            Err(holder) => {
                runner.say(&format!(
                    "{}: waiting for another benchy (pid {}) building it",
                    env.name,
                    holder.map_or_else(|| "?".to_owned(), |p| p.to_string())
                ));
                wait_for(&lock, runner).await?
            }
        };
        // The other builder may have finished while this one waited.
        if let Some(info) = self.used(&env.name) {
            return Ok(info);
        }
        let info = build::build(self, env, runner).await?;
        self.touch(&env.name);
        Ok(info)
    }

    /// The lock of environment `name`; a name that is not one folder (a plugin's plan may say
    /// anything) is refused.
    fn lock_of(&self, name: &str) -> Result<PathBuf> {
        if let Some(why) = unsafe_path_part(name) {
            return Err(bad_input(format!(
                "environment name {name:?}: {why}; it names one folder under {}",
                self.root.display()
            )));
        }
        Ok(self.root.join(".locks").join(format!("{name}.lock")))
    }

    /// A ready environment, marked as used now.
    fn used(&self, name: &str) -> Option<EnvInfo> {
        let info = self.ready(name)?;
        self.touch(name);
        Some(info)
    }

    fn touch(&self, name: &str) {
        let _ = std::fs::write(self.path(name).join(USED), b"");
    }

    /// Every complete environment, by name.
    pub fn list(&self) -> Vec<Listed> {
        let mut found: Vec<Listed> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let info = self.ready(&name)?;
                let (size, shared) = size_on_disk(&entry.path());
                Some(Listed {
                    size,
                    shared,
                    last_used: modified(&entry.path().join(USED)),
                    info,
                })
            })
            .collect();
        found.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        found
    }

    /// Removes environment `name` (under its lock, so no build or run is using it then).
    pub fn remove(&self, name: &str) -> Result<()> {
        let _held = FileLock::acquire(&self.lock_of(name)?)?;
        let path = self.path(name);
        std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))
    }

    /// `spec` with `{env:<name>}` replaced by the folders of `envs`.
    pub fn fill(&self, spec: &ProcessSpec, envs: &[PythonEnv]) -> ProcessSpec {
        let mut spec = spec.clone();
        for env in envs {
            let (from, to) = (
                env.placeholder(),
                self.path(&env.name).display().to_string(),
            );
            spec.program = spec.program.replace(&from, &to);
            for arg in &mut spec.args {
                *arg = arg.replace(&from, &to);
            }
            for value in spec.env.values_mut() {
                value.value = value.value.replace(&from, &to);
            }
        }
        spec
    }
}

/// An environment as `benchy envs list` shows it.
#[derive(Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub info: EnvInfo,
    /// Bytes of its own files.
    pub size: u64,
    /// Bytes of files hard-linked from elsewhere (uv links packages from its cache): on disk
    /// once, however many environments hold them.
    pub shared: u64,
    pub last_used: Option<String>,
}

fn modified(path: &Path) -> Option<String> {
    let time: SystemTime = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(crate::util::time::stamp(time))
}

/// The bytes of the files under `dir` that are its own, and of those linked from elsewhere.
fn size_on_disk(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut own, mut shared) = (0, 0);
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.nlink() > 1 {
                shared += meta.len();
            } else {
                own += meta.len();
            }
        }
    }
    (own, shared)
}

/// Waits for the lock another benchy holds, a poll at a time, so that Ctrl-C still stops this
/// one (a blocking wait would hold the runtime, and with it the signal handling, for minutes).
async fn wait_for(lock: &Path, runner: &Runner) -> Result<FileLock> {
    let seen = runner.interrupts_seen();
    loop {
        if let Ok(held) = FileLock::try_acquire(lock)? {
            return Ok(held);
        }
        tokio::select! {
            signal = runner.interrupted(seen) => return Err(Interrupted(signal).into()),
            () = tokio::time::sleep(LOCK_POLL) => {}
        }
    }
}
