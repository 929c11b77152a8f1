//! One run per run folder: a run takes `<run folder>/.lock` with an advisory lock (`flock`) for
//! as long as it runs, and writes its PID into it. A second run on the same folder is refused at
//! once, naming the holder. The lock belongs to the open file, so the kernel drops it when its
//! run ends in any way, a SIGKILL included: a lock never outlives its run.
//!
//! ```text
//! let lock = RunLock::acquire(&dir)?;   // or LockError::Held { pid, .. }
//! ...                                   // the run
//! drop(lock);                           // .lock removed, and the folders acquire made if empty
//! ```

use std::path::{Path, PathBuf};

use crate::util::file_lock::{self, FileLock};

/// The lock file's name inside the run folder.
use super::layout::LOCK;

/// Why a run folder cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it; its PID when it has written it.
    #[error(
        "{} is in use by another benchy run{}; wait for it to end, or choose another --run-id \
         or --output-dir",
        dir.display(),
        pid.map(|p| format!(" (PID {p})")).unwrap_or_default()
    )]
    Held { dir: PathBuf, pid: Option<u32> },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A run folder, taken. Dropping it releases the folder: the lock file is removed, then the
/// folders [`RunLock::acquire`] created, if nothing else was put in them.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// Folders `acquire` made, deepest first.
    created: Vec<PathBuf>,
    _lock: FileLock,
}

impl RunLock {
    /// Takes the run folder `dir` (creating it and its missing parents), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let created = create_dirs(dir)?;
        let path = dir.join(LOCK);
        loop {
            let attempt = FileLock::try_acquire(&path).map_err(|source| LockError::Io {
                path: path.clone(),
                source,
            });
            let lock = match attempt {
                Ok(Ok(lock)) => lock,
                Ok(Err(pid)) => {
                    remove_empty(&created);
                    let dir = dir.to_owned();
                    return Err(LockError::Held { dir, pid });
                }
                Err(e) => {
                    remove_empty(&created);
                    return Err(e);
                }
            };
            // The previous holder removes the file as it lets go: take the one there now.
            if lock.is_at(&path) {
                return Ok(RunLock {
                    path,
                    created,
                    _lock: lock,
                });
            }
        }
    }

    /// Whether a run holds `dir` now.
    pub fn is_held(dir: &Path) -> bool {
        file_lock::is_held(&dir.join(LOCK))
    }

    /// The PID the holder of `dir` wrote into its lock file, if any.
    pub fn holder(dir: &Path) -> Option<u32> {
        file_lock::holder(&dir.join(LOCK))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so a run that opens the path from now on finds a new file.
        let _ = std::fs::remove_file(&self.path);
        remove_empty(&self.created);
    }
}

/// Creates `dir` and its missing parents; the ones it made, deepest first.
pub(crate) fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, LockError> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    let mut created = Vec::new();
    for folder in missing.into_iter().rev() {
        match std::fs::create_dir(folder) {
            Ok(()) => created.insert(0, folder.to_owned()),
            // another run made it meanwhile: not ours to remove
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                remove_empty(&created);
                return Err(LockError::Io {
                    path: folder.to_owned(),
                    source,
                });
            }
        }
    }
    Ok(created)
}

/// Removes each folder (deepest first) that is empty; one in use stays.
pub(crate) fn remove_empty(folders: &[PathBuf]) {
    for folder in folders {
        let _ = std::fs::remove_dir(folder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_folder_is_refused_naming_the_holder_and_free_once_released() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out/run/model");
        let lock = RunLock::acquire(&dir).unwrap();
        assert_eq!(lock.path(), dir.join(LOCK));
        assert_eq!(RunLock::holder(&dir), Some(std::process::id()));
        match RunLock::acquire(&dir) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(lock);
        assert!(
            !root.path().join("out").exists(),
            "the folders it made are gone"
        );
        let again = RunLock::acquire(&dir).unwrap();
        std::fs::write(dir.join("run.json"), "{}").unwrap();
        drop(again);
        assert!(
            dir.join("run.json").is_file(),
            "a folder with a run in it stays"
        );
        assert!(!dir.join(LOCK).exists());
    }

    #[test]
    fn a_lock_file_left_by_a_killed_run_does_not_hold() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(LOCK), "999999999\n").unwrap();
        let lock = RunLock::acquire(root.path()).unwrap();
        assert_eq!(RunLock::holder(root.path()), Some(std::process::id()));
        drop(lock);
    }
}
