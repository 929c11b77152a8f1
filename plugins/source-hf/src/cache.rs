//! The huggingface_hub cache, read and written exactly as huggingface_hub 2.4.0 does, so either
//! side finds what the other downloaded:
//!
//! ```text
//! <cache>/models--org--name/
//!     blobs/<etag>                                  the bytes, named by the normalized ETag
//!     snapshots/<commit>/generation_config.json ->  ../../blobs/<etag>  (relative symlink)
//!     refs/<revision>                               the commit sha, no trailing newline
//!     .no_exist/<commit>/generation_config.json     empty: the file is not in that commit
//! <cache>/CACHEDIR.TAG
//! ```
//!
//! Sources: `file_download.py` (`repo_folder_name`, `_cache_commit_hash_for_specific_revision`,
//! `_create_symlink`, `_download_to_tmp_and_move`, `try_to_load_from_cache`) and
//! `_local_folder.py::_create_cachedir_tag`.
//!
//! Every write is a temporary file in the destination folder renamed into place, so a reader
//! (another benchy, or Python) sees the old state or the new one, never a half-written file, and
//! concurrent writers of the same blob each rename a complete copy. Python's advisory
//! `.locks/` files only avoid duplicate downloads; correctness never depended on them and benchy
//! does not take them.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use benchy_core::source::{
    MAX_TEXT_FILE_BYTES, read_existing_file, read_regular_file, read_text_file,
};

/// A ref holds a commit sha; anything longer is not one.
const MAX_REF_BYTES: u64 = 1024;

/// huggingface_hub's `CACHEDIR_TAG_CONTENT`, byte for byte.
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by huggingface_hub.\n\
# For information about cache directory tags, see:\n\
#\thttps://bford.info/cachedir/\n";

/// What the cache holds for one file at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// The file's bytes at `commit`.
    File { commit: String, bytes: Vec<u8> },
    /// A `.no_exist` marker: the repo has no such file at `commit`.
    Missing { commit: String },
    /// Nothing: the revision is unknown here or the file was never fetched at its commit.
    Nothing,
}

/// One repo's folder in the cache (`models--org--name`).
#[derive(Clone, Debug)]
pub struct RepoCache {
    root: PathBuf,
    dir: PathBuf,
}

/// `REGEX_COMMIT_HASH` in `file_download.py`: exactly 40 lower-case hex digits.
pub fn is_commit_sha(revision: &str) -> bool {
    revision.len() == 40
        && revision
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl RepoCache {
    /// The folder of model repo `repo_id` under the cache `root` (`repo_folder_name`: `models`
    /// and the id's parts joined by `--`).
    pub fn new(root: &Path, repo_id: &str) -> RepoCache {
        let mut name = String::from("models");
        for part in repo_id.split('/') {
            name.push_str("--");
            name.push_str(part);
        }
        RepoCache {
            root: root.to_owned(),
            dir: root.join(name),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The snapshot path of `filename` at `commit` (a symlink to the blob when Python or benchy
    /// wrote it, a plain file in Python's no-symlink mode).
    pub fn snapshot_path(&self, commit: &str, filename: &str) -> PathBuf {
        self.dir.join("snapshots").join(commit).join(filename)
    }

    fn ref_path(&self, revision: &str) -> PathBuf {
        self.dir.join("refs").join(revision)
    }

    fn blob_path(&self, etag: &str) -> PathBuf {
        self.dir.join("blobs").join(etag)
    }

    fn no_exist_path(&self, commit: &str, filename: &str) -> PathBuf {
        self.dir.join(".no_exist").join(commit).join(filename)
    }

    /// The commit `refs/<revision>` records. huggingface_hub writes the bare sha; surrounding
    /// blanks are tolerated here.
    pub fn read_ref(&self, revision: &str) -> Option<String> {
        let text = read_text_file(&self.ref_path(revision), MAX_REF_BYTES).ok()?;
        let commit = text.trim();
        is_commit_sha(commit).then(|| commit.to_owned())
    }

    /// What the cache knows about `filename` at `revision` (a commit sha, or a branch or tag
    /// resolved through `refs/`), as `try_to_load_from_cache` looks it up.
    pub fn lookup(&self, revision: &str, filename: &str) -> io::Result<Cached> {
        let commit = if is_commit_sha(revision) {
            revision.to_owned()
        } else {
            match self.read_ref(revision) {
                Some(commit) => commit,
                None => return Ok(Cached::Nothing),
            }
        };
        self.at_commit(&commit, filename)
    }

    /// What the cache knows about `filename` at `commit`.
    pub fn at_commit(&self, commit: &str, filename: &str) -> io::Result<Cached> {
        let path = self.snapshot_path(commit, filename);
        if let Some(bytes) = read_existing_file(&path, MAX_TEXT_FILE_BYTES)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?
        {
            return Ok(Cached::File {
                commit: commit.to_owned(),
                bytes,
            });
        }
        if self.no_exist_path(commit, filename).is_file() {
            return Ok(Cached::Missing {
                commit: commit.to_owned(),
            });
        }
        Ok(Cached::Nothing)
    }

    /// Whether the blob for `etag` is already here.
    pub fn has_blob(&self, etag: &str) -> bool {
        self.blob_path(etag).is_file()
    }

    /// Stores `bytes` as `blobs/<etag>`, written to `<etag>.<random>.incomplete` first as
    /// `_download_to_tmp_and_move` does.
    pub fn store_blob(&self, etag: &str, bytes: &[u8]) -> io::Result<()> {
        self.tag_cache_dir();
        let path = self.blob_path(etag);
        write_atomically(
            &path,
            &format!("{etag}.{}.incomplete", unique_suffix()),
            bytes,
        )
    }

    /// Points `snapshots/<commit>/<filename>` at `blobs/<etag>` with a relative symlink
    /// (`_create_symlink`), replacing whatever was there in one rename. Where symlinks cannot
    /// be made, the blob is copied instead, as huggingface_hub does.
    pub fn link_snapshot(&self, commit: &str, filename: &str, etag: &str) -> io::Result<()> {
        let link = self.snapshot_path(commit, filename);
        let folder = link.parent().expect("a snapshot path has a folder");
        fs::create_dir_all(folder)?;
        let depth = filename.split('/').count();
        let target = format!("{}blobs/{etag}", "../".repeat(depth + 1));
        let temporary = temporary_name(&link);
        let temporary_path = folder.join(&temporary);
        match make_symlink(&target, &temporary_path) {
            Ok(()) => fs::rename(&temporary_path, &link).inspect_err(|_| {
                let _ = fs::remove_file(&temporary_path);
            }),
            Err(_) => {
                let blob = self.blob_path(etag);
                let bytes = read_regular_file(&blob, MAX_TEXT_FILE_BYTES)
                    .map_err(|e| io::Error::other(format!("{}: {e}", blob.display())))?;
                write_atomically(&link, &temporary, &bytes)
            }
        }
    }

    /// Records that `revision` is at `commit` (`_cache_commit_hash_for_specific_revision`: only
    /// for branches and tags, only when it changed, without a newline).
    pub fn write_ref(&self, revision: &str, commit: &str) -> io::Result<()> {
        if revision == commit || self.read_ref(revision).as_deref() == Some(commit) {
            return Ok(());
        }
        let path = self.ref_path(revision);
        write_atomically(&path, &temporary_name(&path), commit.as_bytes())
    }

    /// Records that `filename` does not exist at `commit` (an empty `.no_exist` file).
    pub fn mark_missing(&self, commit: &str, filename: &str) -> io::Result<()> {
        let path = self.no_exist_path(commit, filename);
        if path.is_file() {
            return Ok(());
        }
        write_atomically(&path, &temporary_name(&path), b"")
    }

    /// Tags the cache root for backup tools (`_create_cachedir_tag`); best effort, like the
    /// original.
    fn tag_cache_dir(&self) {
        let tag = self.root.join("CACHEDIR.TAG");
        if !tag.exists() {
            let _ = write_atomically(&tag, &temporary_name(&tag), CACHEDIR_TAG.as_bytes());
        }
    }
}

/// Writes `bytes` to `path` through `temporary` (a file name in the same folder) and a rename.
/// The file gets the default permissions (0666 less the umask), as Python's blobs do.
fn write_atomically(path: &Path, temporary: &str, bytes: &[u8]) -> io::Result<()> {
    let folder = path.parent().expect("a cache path has a folder");
    fs::create_dir_all(folder)?;
    let temporary = folder.join(temporary);
    let result = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// A hidden temporary name beside `path`: `.<name>.<random>.tmp`.
fn temporary_name(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.{}.tmp", unique_suffix())
}

/// Eight hex digits that differ between processes and calls, like huggingface_hub's
/// `uuid4().hex[:8]` (the standard library's `RandomState` is seeded randomly per process).
fn unique_suffix() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(elapsed) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(elapsed.as_nanos());
    }
    format!("{:08x}", hasher.finish() as u32)
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_symlink(_target: &str, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no symlinks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn commit_shas_are_forty_lower_case_hex_digits() {
        assert!(is_commit_sha(C1));
        assert!(!is_commit_sha("main"));
        assert!(!is_commit_sha(&C1.to_uppercase().replace('1', "A")));
        assert!(!is_commit_sha(&C1[..39]));
    }

    #[test]
    fn layout_matches_huggingface_hub() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoCache::new(dir.path(), "org/name");
        assert_eq!(repo.dir(), dir.path().join("models--org--name"));
        assert_eq!(
            RepoCache::new(dir.path(), "gpt2").dir(),
            dir.path().join("models--gpt2")
        );

        repo.store_blob("abc", b"{}").unwrap();
        repo.link_snapshot(C1, "generation_config.json", "abc")
            .unwrap();
        repo.write_ref("main", C1).unwrap();
        repo.write_ref("refs/pr/1", C1).unwrap();

        let link = repo.snapshot_path(C1, "generation_config.json");
        assert_eq!(
            fs::read_link(&link).unwrap(),
            PathBuf::from("../../blobs/abc")
        );
        assert_eq!(
            fs::read_to_string(repo.dir().join("refs/main")).unwrap(),
            C1
        );
        assert_eq!(
            fs::read_to_string(repo.dir().join("refs/refs/pr/1")).unwrap(),
            C1
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("CACHEDIR.TAG")).unwrap(),
            CACHEDIR_TAG
        );
        assert_eq!(
            repo.lookup("main", "generation_config.json").unwrap(),
            Cached::File {
                commit: C1.into(),
                bytes: b"{}".to_vec()
            }
        );
        // a commit sha needs no ref
        assert!(matches!(
            repo.lookup(C1, "generation_config.json").unwrap(),
            Cached::File { .. }
        ));
        assert_eq!(
            repo.lookup("dev", "generation_config.json").unwrap(),
            Cached::Nothing
        );
    }

    #[test]
    fn missing_files_are_remembered_per_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoCache::new(dir.path(), "org/name");
        repo.mark_missing(C2, "generation_config.json").unwrap();
        repo.write_ref("main", C2).unwrap();
        let marker = repo
            .dir()
            .join(".no_exist")
            .join(C2)
            .join("generation_config.json");
        assert_eq!(fs::metadata(&marker).unwrap().len(), 0);
        assert_eq!(
            repo.lookup("main", "generation_config.json").unwrap(),
            Cached::Missing { commit: C2.into() }
        );
    }

    #[test]
    fn writes_leave_no_temporary_files_and_replace_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoCache::new(dir.path(), "org/name");
        repo.store_blob("e1", b"one").unwrap();
        repo.store_blob("e2", b"two").unwrap();
        repo.link_snapshot(C1, "generation_config.json", "e1")
            .unwrap();
        repo.link_snapshot(C1, "generation_config.json", "e2")
            .unwrap();
        repo.write_ref("main", C1).unwrap();
        repo.write_ref("main", C2).unwrap();
        assert_eq!(repo.read_ref("main").as_deref(), Some(C2));
        assert_eq!(
            fs::read(repo.snapshot_path(C1, "generation_config.json")).unwrap(),
            b"two"
        );
        let mut names = Vec::new();
        for folder in ["blobs", &format!("snapshots/{C1}"), "refs"] {
            for entry in fs::read_dir(repo.dir().join(folder)).unwrap() {
                names.push(entry.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        assert_eq!(names, ["e1", "e2", "generation_config.json", "main"]);
    }

    #[test]
    fn refs_with_a_trailing_newline_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoCache::new(dir.path(), "org/name");
        fs::create_dir_all(repo.dir().join("refs")).unwrap();
        fs::write(repo.dir().join("refs/main"), format!("{C1}\n")).unwrap();
        assert_eq!(repo.read_ref("main").as_deref(), Some(C1));
        fs::write(repo.dir().join("refs/main"), "garbage").unwrap();
        assert_eq!(repo.read_ref("main"), None);
    }
}
