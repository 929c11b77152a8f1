//! Discovery: the plugin files benchy may use, and each one's manifest and connection, both
//! obtained lazily. Files come from, in this order (the first to provide a name wins):
//! `--plugin PATH` flags, the directories in `BENCHY_PLUGIN_PATH`, those of the `plugin_path`
//! setting, and the user's plugin directory (`<data dir>/benchy/plugins`). The environment
//! comes before the settings files, as a flag does: it is the more specific, one shell's
//! choice. Never the current directory implicitly: empty and relative entries in
//! `BENCHY_PLUGIN_PATH` are ignored (and shown as such by `benchy plugins list`); the setting's
//! are relative to its file. Nor a folder or file another user can change (see
//! [`crate::util::ownership`]).
//!
//! Finding a file reads nothing; asking for its manifest reads the file's bytes without loading
//! it; only a run that needs one of its names opens the library.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::loader::{Connection, LoadError};
use super::manifest::{Kind, Manifest, ManifestError};
use crate::util::env_vars::EnvVars;
use crate::util::ownership::{self, Trust};

/// Where a plugin file was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A `--plugin PATH` flag.
    Flag,
    /// A directory in `BENCHY_PLUGIN_PATH`.
    EnvPath,
    /// A directory of the `plugin_path` setting.
    Settings,
    /// The user's plugin directory.
    UserDir,
    /// A plugin crate linked into this program (tests).
    InProcess,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Flag => "--plugin",
            Origin::EnvPath => EnvVars::BENCHY_PLUGIN_PATH,
            Origin::Settings => "plugin_path setting",
            Origin::UserDir => "user plugin dir",
            Origin::InProcess => "in-process",
        })
    }
}

/// A directory plugins are looked for in, and what was found there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchDir {
    pub dir: PathBuf,
    pub origin: Origin,
    pub state: DirState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirState {
    Searched,
    Missing,
    /// An empty entry in `BENCHY_PLUGIN_PATH` (`a::b`, a trailing `:`): a shell would read the
    /// current directory there; benchy reads nothing.
    Empty,
    /// A relative entry in `BENCHY_PLUGIN_PATH`: ignored, so the current directory never
    /// supplies plugins by accident.
    NotAbsolute,
    /// Another user can change the folder (see [`crate::util::ownership`]): ignored.
    Untrusted(String),
    /// Searched, though everyone may write it (it is yours): said, with how to close it.
    Exposed(String),
    Unreadable(String),
}

/// The user's plugin directory, where `benchy plugins install` puts libraries.
pub fn user_plugin_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("benchy").join("plugins"))
}

/// Whether a file name is a shared library's on this platform (`.so`, `.dylib`, `.dll`).
pub fn is_library_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

/// One plugin file: its manifest is read, and its library opened, on first need.
#[derive(Debug)]
pub struct PluginFile {
    path: PathBuf,
    origin: Origin,
    manifest: OnceLock<Result<Manifest, ManifestError>>,
    connection: OnceLock<Result<Connection, LoadError>>,
}

impl PluginFile {
    pub fn new(path: PathBuf, origin: Origin) -> PluginFile {
        PluginFile {
            path,
            origin,
            manifest: OnceLock::new(),
            connection: OnceLock::new(),
        }
    }

    /// A plugin already connected in-process; `label` stands where a path would.
    pub fn in_process(connection: Connection, label: &str) -> PluginFile {
        PluginFile {
            path: PathBuf::from(label),
            origin: Origin::InProcess,
            manifest: OnceLock::from(Ok(connection.manifest().clone())),
            connection: OnceLock::from(Ok(connection)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The manifest, read from the file's bytes (once) without loading the library; never of a
    /// file another user can change, nor in a folder another user can change.
    pub fn manifest(&self) -> Result<&Manifest, &ManifestError> {
        self.manifest
            .get_or_init(|| {
                // The folder is judged again even when a search judged it: a `--plugin` file's
                // folder never was, and this is the judgment made when the file is read.
                let folder = self.path.parent().unwrap_or(Path::new("/"));
                match ownership::judge_all([self.path.as_path(), folder]) {
                    Err(why) => Err(ManifestError::Untrusted(why)),
                    Ok(_) => Manifest::read(&self.path),
                }
            })
            .as_ref()
    }

    /// Why everyone may write the file or its folder, though they are yours: a warning, with how to
    /// close it.
    pub fn exposure(&self) -> Option<String> {
        let folder = self.path.parent().unwrap_or(Path::new("/"));
        ownership::judge_all([self.path.as_path(), folder])
            .ok()
            .flatten()
    }

    /// The manifest of a plugin this benchy can load, or why it cannot.
    pub fn usable_manifest(&self) -> Result<&Manifest, LoadError> {
        let manifest = self
            .manifest()
            .map_err(|e| LoadError::Manifest(e.clone()))?;
        manifest.check_compatible()?;
        Ok(manifest)
    }

    /// The open library (opened once, on first need; never unloaded).
    pub fn connect(&self) -> Result<&Connection, &LoadError> {
        self.connection
            .get_or_init(|| {
                let manifest = self.usable_manifest()?;
                Connection::open(&self.path, manifest)
            })
            .as_ref()
    }

    /// `plugin NAME VERSION (PATH)`, or `plugin PATH` when the manifest cannot be read: how
    /// messages name the plugin.
    pub fn label(&self) -> String {
        match self.manifest() {
            Ok(m) => format!("plugin {} {} ({})", m.name, m.version, self.path.display()),
            Err(_) => format!("plugin {}", self.path.display()),
        }
    }
}

/// The plugin files of one benchy invocation, in precedence order.
#[derive(Debug, Default)]
pub struct Catalog {
    dirs: Vec<SearchDir>,
    files: Vec<Arc<PluginFile>>,
}

impl Catalog {
    /// The files named by `--plugin` flags, then those in `BENCHY_PLUGIN_PATH`, then those in
    /// the `plugin_path` setting's `settings_dirs`, then those in the user's plugin directory.
    pub fn discover(flags: &[PathBuf], settings_dirs: &[PathBuf]) -> Catalog {
        let env_dirs = std::env::var_os(EnvVars::BENCHY_PLUGIN_PATH)
            .map(|value| std::env::split_paths(&value).collect::<Vec<_>>())
            .unwrap_or_default();
        let path_dirs = env_dirs
            .into_iter()
            .map(|d| (d, Origin::EnvPath))
            .chain(settings_dirs.iter().map(|d| (d.clone(), Origin::Settings)))
            .collect();
        Catalog::from_places(flags, path_dirs, user_plugin_dir())
    }

    /// As [`Catalog::discover`], with the places given: `path_dirs` are the directories before
    /// the user's, each with where it was named.
    pub fn from_places(
        flags: &[PathBuf],
        path_dirs: Vec<(PathBuf, Origin)>,
        user_dir: Option<PathBuf>,
    ) -> Catalog {
        let mut catalog = Catalog::default();
        for flag in flags {
            // An explicit file is taken whatever its name; relative paths are the user's own
            // words, resolved against the working directory (and shown resolved).
            let path = std::fs::canonicalize(flag)
                .or_else(|_| std::path::absolute(flag))
                .unwrap_or_else(|_| flag.clone());
            catalog.add_file(path, Origin::Flag);
        }
        let dirs = path_dirs
            .into_iter()
            .chain(user_dir.map(|d| (d, Origin::UserDir)));
        for (dir, origin) in dirs {
            let state = catalog.search(&dir, origin);
            catalog.dirs.push(SearchDir { dir, origin, state });
        }
        catalog
    }

    fn search(&mut self, dir: &Path, origin: Origin) -> DirState {
        if dir.as_os_str().is_empty() {
            return DirState::Empty;
        }
        if !dir.is_absolute() {
            return DirState::NotAbsolute;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DirState::Missing,
            Err(e) => return DirState::Unreadable(e.to_string()),
        };
        let exposed = match ownership::judge(dir) {
            Trust::Untrusted(why) => return DirState::Untrusted(why),
            Trust::Exposed(why) => Some(why),
            Trust::Safe => None,
        };
        // Every entry with a library's name but a folder: a broken link, a link loop or a FIFO
        // is listed with what is wrong with it rather than passed over.
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| is_library_name(p) && !p.is_dir())
            .collect();
        paths.sort();
        for path in paths {
            self.add_file(path, origin);
        }
        exposed.map_or(DirState::Searched, DirState::Exposed)
    }

    /// Adds a file unless the same file (after following links) is already there.
    fn add_file(&mut self, path: PathBuf, origin: Origin) {
        let canonical = std::fs::canonicalize(&path).ok();
        let seen = self.files.iter().any(|f| {
            f.path == path
                || canonical.is_some() && std::fs::canonicalize(&f.path).ok() == canonical
        });
        if !seen {
            self.files.push(Arc::new(PluginFile::new(path, origin)));
        }
    }

    pub fn files(&self) -> &[Arc<PluginFile>] {
        &self.files
    }

    pub fn dirs(&self) -> &[SearchDir] {
        &self.dirs
    }

    /// The usable plugins that declare `name`, in precedence order (reads manifests).
    pub fn providers(&self, kind: Kind, name: &str) -> Vec<&Arc<PluginFile>> {
        self.files
            .iter()
            .filter(|f| f.usable_manifest().is_ok_and(|m| m.provides(kind, name)))
            .collect()
    }
}
