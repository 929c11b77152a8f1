//! Whose files benchy uses without being told their paths: the provider and task files it looks
//! up, and the plugin folders and libraries it finds. As git refuses a repository another user
//! owns (`safe.directory`), benchy refuses a file or folder that another user can change: owned
//! by someone else (root excepted), or writable by its group or everyone while not yours (a
//! folder with the sticky bit excepted: others may add entries there, but not replace yours).
//! A planted provider file's `command:` would otherwise run as you.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The sticky bit: in such a folder only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;

/// Write permission for the group or for everyone.
const SHARED_WRITE: u32 = 0o022;

/// Why another user can change `path` (links followed), or `None` when only you (or root) can.
/// A path that cannot be read is not judged here: reading it fails on its own.
pub fn untrusted(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let me = nix::unistd::geteuid().as_raw();
    let owner = metadata.uid();
    let mode = metadata.permissions().mode();
    if owner == me {
        return None;
    }
    if owner != 0 {
        return Some(format!(
            "owned by uid {owner}, not by you (uid {me}), so another user can change it"
        ));
    }
    let shared_write = mode & SHARED_WRITE != 0;
    let sticky_folder = metadata.is_dir() && mode & STICKY != 0;
    (shared_write && !sticky_folder).then(|| {
        format!(
            "writable by users other than you (mode {:04o}, owned by root)",
            mode & 0o7777
        )
    })
}

/// The first of `paths` another user can change, with why: `"<path> is <why>"`.
pub fn first_untrusted<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Option<String> {
    paths
        .into_iter()
        .find_map(|path| untrusted(path).map(|why| format!("{} is {why}", path.display())))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The tests run as root (or as the owner of their temp dir): files they create are theirs.
    #[test]
    fn your_own_files_are_trusted_whatever_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.yaml");
        std::fs::write(&file, "a: 1").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(untrusted(&file), None);
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
