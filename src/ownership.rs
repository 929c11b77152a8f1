//! Whose files benchy uses without being told their paths: the provider and task files it looks
//! up, and the plugin folders and libraries it finds. As git refuses a repository another user
//! owns (`safe.directory`), benchy refuses a file or folder that another user can change: owned
//! by someone else (root excepted), or root's and writable by everyone (a folder with the sticky
//! bit excepted: others may add entries there, but not replace yours). A planted provider file's
//! `command:` would otherwise run as you. A file of yours that everyone may write is used, with a
//! warning that says how to close it. Group write is not judged: most users' files are writable
//! by a group that holds only themselves.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The sticky bit: in such a folder only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;

/// Write permission for everyone.
const WORLD_WRITE: u32 = 0o002;

/// Why another user can change `path` (links followed), or `None` when only you (or root) can.
/// A path that cannot be read is not judged here: reading it fails on its own.
pub fn untrusted(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let (me, owner) = (my_uid(), metadata.uid());
    if owner == me {
        return None;
    }
    if owner != 0 {
        return Some(format!(
            "owned by uid {owner}, not by you (uid {me}), so another user can change it"
        ));
    }
    others_may_write(&metadata).then(|| {
        format!(
            "writable by everyone (mode {:04o}, owned by root)",
            metadata.permissions().mode() & 0o7777
        )
    })
}

/// Why other users can change `path` although it is yours: its mode lets everyone write it. Not
/// refused (it is yours to fix, in one command), but said.
pub fn exposed(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    (metadata.uid() == my_uid() && others_may_write(&metadata)).then(|| {
        format!(
            "yours but writable by everyone (mode {:04o}); `chmod o-w {}` closes it",
            metadata.permissions().mode() & 0o7777,
            path.display()
        )
    })
}

/// The first of `paths` another user can change, with why: `"<path> is <why>"`.
pub fn first_untrusted<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Option<String> {
    first(paths, untrusted)
}

/// The first of `paths` that is yours but others can write, with why.
pub fn first_exposed<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Option<String> {
    first(paths, exposed)
}

fn first<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
    judge: fn(&Path) -> Option<String>,
) -> Option<String> {
    paths
        .into_iter()
        .find_map(|path| judge(path).map(|why| format!("{} is {why}", path.display())))
}

fn my_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
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
        assert_eq!(untrusted(&file), None);
        let said = exposed(&file).unwrap();
        assert!(
            said.starts_with("yours but writable by everyone (mode 0666)"),
            "{said}"
        );
        // a group of one's own is the common case, and not judged
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(exposed(&file), None);
        // a sticky folder others may write (as /tmp) exposes nothing of yours
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(exposed(dir.path()), None);
        assert_eq!(untrusted(&dir.path().join("missing")), None);
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
        let why = untrusted(&file).unwrap();
        assert!(why.starts_with("owned by uid 65534, not by you"), "{why}");
        let message = first_untrusted([dir.path(), file.as_path()]).unwrap();
        assert!(message.starts_with(&format!("{} is owned", file.display())));
    }
}
