//! How a path written in a config file is read, by the host and by plugins alike: `~/` is the
//! home folder, a relative path is relative to the folder of the file it is written in, and the
//! result is absolute (processes may run in another folder).

use std::path::{Path, PathBuf};

/// `written` as found in a file in `dir`.
pub fn expand(written: &str, dir: &Path) -> PathBuf {
    if let Some(rest) = written.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let path = dir.join(written);
    std::path::absolute(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_files_folder() {
        assert_eq!(expand("a/b", Path::new("/cfg")), PathBuf::from("/cfg/a/b"));
        assert_eq!(expand("/abs", Path::new("/cfg")), PathBuf::from("/abs"));
        assert!(expand("x", Path::new("rel")).is_absolute());
    }
}
