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

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file's name inside the run folder.
pub const LOCK_FILE: &str = ".lock";

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
    _lock: Flock<File>,
}

impl RunLock {
    /// Takes the run folder `dir` (creating it and its missing parents), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let created = create_dirs(dir)?;
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((_, Errno::EWOULDBLOCK)) => {
                    remove_empty(&created);
                    return Err(LockError::Held {
                        dir: dir.to_owned(),
                        pid: RunLock::holder(dir),
                    });
                }
                Err((_, errno)) => return Err(io(errno.into())),
            };
            // The previous holder removes the file as it lets go: a lock taken on a file that
            // is no longer at `path` guards nothing, so take the one that is there now.
            if !is_at(&lock, &path) {
                continue;
            }
            lock.set_len(0).map_err(io)?;
            lock.rewind().map_err(io)?;
            writeln!(lock, "{}", std::process::id()).map_err(io)?;
            return Ok(RunLock {
                path,
                created,
                _lock: lock,
            });
        }
    }

    /// The PID the holder of `dir` wrote into its lock file, if any (a lock file left by a
    /// killed run still names it, though nobody holds the lock).
    pub fn holder(dir: &Path) -> Option<u32> {
        let mut text = String::new();
        File::open(dir.join(LOCK_FILE))
            .ok()?
            .take(32)
            .read_to_string(&mut text)
            .ok()?;
        text.trim().parse().ok()
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

/// Whether the open `file` is the one at `path`.
fn is_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
        _ => false,
    }
}

/// Creates `dir` and its missing parents; the ones it made, deepest first.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, LockError> {
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
fn remove_empty(folders: &[PathBuf]) {
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
        assert_eq!(lock.path(), dir.join(LOCK_FILE));
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
        assert!(!dir.join(LOCK_FILE).exists());
    }

    #[test]
    fn a_lock_file_left_by_a_killed_run_does_not_hold() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(LOCK_FILE), "999999999\n").unwrap();
        let lock = RunLock::acquire(root.path()).unwrap();
        assert_eq!(RunLock::holder(root.path()), Some(std::process::id()));
        drop(lock);
    }
}
