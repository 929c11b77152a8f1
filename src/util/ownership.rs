//! Whose files benchy uses without being told their paths: the settings, provider and task
//! files it looks up, and the plugin folders and libraries it finds, and how far up it looks. As git refuses a repository another user
//! owns (`safe.directory`), benchy refuses a file or folder that another user can change: owned
//! by someone else (root excepted), or root's and writable by everyone (a folder with the sticky
//! bit excepted: others may add entries there, but not replace yours). A planted provider file's
//! `command:` would otherwise run as you. A file of yours that everyone may write is used, with a
//! warning that says how to close it. Group write is not judged: most users' files are writable
//! by a group that holds only themselves.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The sticky bit: in such a folder only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;

/// Write permission for everyone.
const WORLD_WRITE: u32 = 0o002;

/// What other users can do to a path of benchy's choosing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Only you (or root) can change it, or it cannot be read (reading then fails on its own).
    Safe,
    /// Yours, but everyone may write it: used, with a warning saying how to close it.
    Exposed(String),
    /// Another user can change it: refused.
    Untrusted(String),
}

/// Judges `path` (links followed) from one `stat`.
pub fn judge(path: &Path) -> Trust {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Trust::Safe;
    };
    let (me, owner) = (my_uid(), metadata.uid());
    let mode = metadata.permissions().mode() & 0o7777;
    if owner != me && owner != 0 {
        return Trust::Untrusted(format!(
            "owned by uid {owner}{} (mode {mode:04o}), not by you (uid {me}), so another user \
             can change it",
            user_name(owner)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    }
    if !others_may_write(&metadata) {
        return Trust::Safe;
    }
    if owner == me {
        Trust::Exposed(format!(
            "yours but writable by everyone (mode {mode:04o}); `chmod o-w {}` closes it",
            path.display()
        ))
    } else {
        Trust::Untrusted(format!(
            "writable by everyone (mode {mode:04o}, owned by root)"
        ))
    }
}

/// Judges every one of `paths`: the first another user can change is an error, else the first
/// that is yours but exposed is a warning; each reads `"<path> is <why>"`.
pub fn judge_all<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<Option<String>, String> {
    let mut exposed = None;
    for path in paths {
        let said = |why: String| format!("{} is {why}", path.display());
        match judge(path) {
            Trust::Safe => {}
            Trust::Exposed(why) => {
                exposed.get_or_insert_with(|| said(why));
            }
            Trust::Untrusted(why) => return Err(said(why)),
        }
    }
    Ok(exposed)
}

fn my_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The account name of `uid`, when the system knows one.
fn user_name(uid: u32) -> Option<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid));
    user.ok().flatten().map(|u| u.name)
}

/// The folders benchy looks through for a file of its own choosing (a settings, provider or
/// task file): `start` and each folder above it, up to the first that holds `configs/`, a
/// repository's root (it holds `.git`) or your home, whichever comes first (the root folder when
/// there is none). Canonical, so `..` walks the real tree.
pub fn climb(start: &Path) -> Vec<PathBuf> {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_owned());
    let home = dirs::home_dir().and_then(|h| h.canonicalize().ok());
    let mut folders = Vec::new();
    for dir in start.ancestors() {
        folders.push(dir.to_owned());
        let boundary = dir.join("configs").is_dir() || dir.join(".git").exists();
        if boundary || home.as_deref() == Some(dir) {
            break;
        }
    }
    folders
}

/// Everyone may write it, and it is not a sticky folder (in which others may add entries but not
/// replace yours).
fn others_may_write(metadata: &std::fs::Metadata) -> bool {
    let mode = metadata.permissions().mode();
    mode & WORLD_WRITE != 0 && !(metadata.is_dir() && mode & STICKY != 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The tests run as root (or as the owner of their temp dir): files they create are theirs.
    #[test]
    fn your_own_files_are_trusted_and_said_to_be_exposed_when_others_can_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.yaml");
        std::fs::write(&file, "a: 1").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let Trust::Exposed(said) = judge(&file) else {
            panic!("{:?}", judge(&file))
        };
        assert!(
            said.starts_with("yours but writable by everyone (mode 0666)"),
            "{said}"
        );
        let warned = judge_all([dir.path(), file.as_path()]).unwrap().unwrap();
        assert!(warned.starts_with(&format!("{} is yours", file.display())));
        // a group of one's own is the common case, and not judged
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(judge(&file), Trust::Safe);
        // a sticky folder others may write (as /tmp) exposes nothing of yours
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(judge(dir.path()), Trust::Safe);
        assert_eq!(judge(&dir.path().join("missing")), Trust::Safe);
    }

    #[test]
    fn another_users_file_is_refused_when_it_can_be_changed() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test gives a file to uid 65534, which needs root: run the tests as root"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.yaml");
        std::fs::write(&file, "a: 1").unwrap();
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        let Trust::Untrusted(why) = judge(&file) else {
            panic!("{:?}", judge(&file))
        };
        assert!(why.starts_with("owned by uid 65534 (nobody)"), "{why}");
        assert!(why.contains("not by you"), "{why}");
        let message = judge_all([dir.path(), file.as_path()]).unwrap_err();
        assert!(message.starts_with(&format!("{} is owned", file.display())));
    }
}
