//! Advisory locks on files, held by a process for as long as it needs them: the kernel releases
//! a lock when its holder exits, killed or not, so a lock never outlives its reason. The holder
//! writes its PID in the file, so another process can say who holds it.

use std::fs::{File, TryLockError};
use std::io::{self, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// The lock at `path` (created with its folders when missing), or the PID of the process
    /// that holds it (`None` when it cannot be read).
    pub fn try_acquire(path: &Path) -> io::Result<Result<FileLock, Option<u32>>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Ok(FileLock::held(file)?)),
            Err(TryLockError::WouldBlock) => Ok(Err(holder(path))),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// The lock at `path`, waiting for its holder to release it.
    pub fn acquire(path: &Path) -> io::Result<FileLock> {
        let file = open(path)?;
        file.lock()?;
        FileLock::held(file)
    }

    fn held(mut file: File) -> io::Result<FileLock> {
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(FileLock { file })
    }

    /// Whether the locked file is still the one at `path` (a holder that removes the file as it
    /// lets go leaves a later opener locking a file no longer there).
    pub fn is_at(&self, path: &Path) -> bool {
        match (self.file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
            _ => false,
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Whether some process holds the lock at `path`, asked without creating or changing the file
/// (a reader of a run's records must write nothing): no file, or one this process can lock
/// itself, is free; a file system that cannot say (no locks there) counts as held.
pub fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    file.try_lock_shared().is_err()
}

/// The PID the lock's holder wrote (a lock file left by a killed process still names it, though
/// nobody holds the lock).
pub fn holder(path: &Path) -> Option<u32> {
    let text = benchy_core::source::read_text_file(path, 32).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_its_holder_and_is_free_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/run.lock");
        let lock = FileLock::try_acquire(&path).unwrap().unwrap();
        // another open file description of the same file is another holder
        let again = FileLock::try_acquire(&path).unwrap();
        assert_eq!(again.unwrap_err(), Some(std::process::id()));
        assert!(is_held(&path));
        drop(lock);
        assert!(!is_held(&path));
        assert!(FileLock::try_acquire(&path).unwrap().is_ok());
        assert!(!is_held(&dir.path().join("none.lock")));
    }
}
