//! Plugins looked at and installed (`benchy plugins list|doctor|install`), and the rule every
//! other command follows: a file named with `--plugin` must be a usable plugin. `list` reads
//! manifests only and runs no plugin code; `doctor` and `install` load libraries and make a
//! round trip through each table.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use benchy_core::source::file_kind;
use serde::Serialize;

use crate::plugin::adapter::describe;
use crate::plugin::catalog::{DirState, Origin, SearchDir, is_library_name, user_plugin_dir};
use crate::plugin::manifest::{Kind, Manifest, ManifestError};
use crate::plugin::registry::Shadowed;
use crate::plugin::{Catalog, PluginFile, Registry};
use crate::util::bad_input::bad_input;
use crate::util::table;

/// Fails unless every `--plugin` file is a plugin this benchy can load, judged by its manifest
/// (its library is still opened only when needed), whatever the command. Files on the search
/// path are not checked: a broken one there must not break a run that does not use it.
pub fn check_flagged(flags: &[PathBuf]) -> Result<()> {
    let catalog = Catalog::from_places(flags, Vec::new(), None);
    for file in catalog.files() {
        file.usable_manifest()
            .map_err(|e| bad_input(format!("--plugin {}: {e}", file.path().display())))?;
    }
    Ok(())
}

/// One plugin file as `list` and `doctor` show it.
#[derive(Debug, Serialize)]
struct Row {
    path: PathBuf,
    origin: String,
    name: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    sources: Vec<String>,
    task_backends: Vec<String>,
    server_backends: Vec<String>,
    status: &'static str,
    problems: Vec<String>,
}

impl Row {
    fn new(file: &PluginFile) -> Row {
        let manifest = file.manifest().ok();
        let exposure = file.exposure().map(|why| format!("warning: {why}"));
        Row {
            path: file.path().to_owned(),
            origin: file.origin().to_string(),
            name: manifest.map(|m| m.name.clone()),
            version: manifest.map(|m| m.version.clone()),
            kind: manifest.map(Manifest::kind),
            sources: names(manifest, Kind::Source),
            task_backends: names(manifest, Kind::TaskBackend),
            server_backends: names(manifest, Kind::ServerBackend),
            status: "ok",
            problems: exposure.into_iter().collect(),
        }
    }

    /// What `list` knows from the manifest alone.
    fn listed(file: &PluginFile, shadowed: &[Shadowed]) -> Row {
        let mut row = Row::new(file);
        match file.manifest() {
            Err(e) => {
                row.status = match e {
                    ManifestError::Unreadable(_) => "unreadable",
                    ManifestError::Untrusted(_) => "unsafe",
                    ManifestError::NotSharedLibrary => "not a library",
                    ManifestError::NoManifest => "not a plugin",
                    ManifestError::Several(_) | ManifestError::Invalid(_) => "invalid",
                };
                row.problems.push(e.to_string());
            }
            Ok(manifest) => {
                if let Err(e) = manifest.check_compatible() {
                    row.status = "incompatible";
                    row.problems.push(e.to_string());
                } else if !shadowed.is_empty() {
                    let declared = manifest.all_names().len();
                    row.status = if shadowed.len() == declared {
                        "not used"
                    } else {
                        "partly used"
                    };
                    row.problems
                        .extend(shadowed.iter().map(ToString::to_string));
                }
            }
        }
        row
    }

    /// What `doctor` finds by loading the library and calling it.
    fn checked(file: &PluginFile, shadowed: &[Shadowed]) -> Row {
        let mut row = Row::new(file);
        row.problems.extend(load_problems(file));
        row.problems
            .extend(shadowed.iter().map(ToString::to_string));
        if !row.problems.is_empty() {
            row.status = "problem";
        }
        row
    }

    /// Its names (`site`), each kind named when it provides several (`source site; task
    /// backend smoke`).
    fn provides(&self) -> String {
        let kinds = [
            (Kind::Source, &self.sources),
            (Kind::TaskBackend, &self.task_backends),
            (Kind::ServerBackend, &self.server_backends),
        ];
        let provided: Vec<_> = kinds
            .iter()
            .filter(|(_, names)| !names.is_empty())
            .collect();
        match provided.as_slice() {
            [(_, names)] => names.join(", "),
            _ => provided
                .iter()
                .map(|(kind, names)| format!("{kind} {}", names.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// The names of `kind` a manifest declares, when there is one.
fn names(manifest: Option<&Manifest>, kind: Kind) -> Vec<String> {
    manifest.map(|m| m.names(kind).to_vec()).unwrap_or_default()
}

/// Opens the library, checks its table and makes one round trip (`plugin.describe`), which
/// must agree with the manifest.
fn load_problems(file: &PluginFile) -> Vec<String> {
    let connection = match file.connect() {
        Ok(connection) => connection,
        Err(e) => return vec![e.to_string()],
    };
    let manifest = connection.manifest();
    match describe(connection) {
        Err(e) => vec![e.to_string()],
        Ok(d)
            if d.sources != manifest.sources
                || d.task_backends != manifest.task_backends
                || d.server_backends != manifest.server_backends =>
        {
            vec![format!(
                "its code serves sources {:?}, task backends {:?} and server backends {:?}, but \
                 its manifest declares sources {:?}, task backends {:?} and server backends {:?}",
                d.sources,
                d.task_backends,
                d.server_backends,
                manifest.sources,
                manifest.task_backends,
                manifest.server_backends
            )]
        }
        Ok(_) => Vec::new(),
    }
}

#[derive(Debug, Serialize)]
pub struct Overview {
    builtin: Builtin,
    search_path: Vec<SearchRow>,
    plugins: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct Builtin {
    sources: Vec<String>,
    task_backends: Vec<String>,
    server_backends: Vec<String>,
}

#[derive(Debug, Serialize)]
struct SearchRow {
    dir: PathBuf,
    origin: String,
    state: String,
    /// A mistake in the search path (a relative or unreadable directory), not just a missing one.
    problem: bool,
}

impl SearchRow {
    fn new(dir: &SearchDir) -> SearchRow {
        let (state, problem) = match &dir.state {
            DirState::Searched => ("searched".to_owned(), false),
            DirState::Missing => ("missing".to_owned(), false),
            DirState::Empty => (
                "ignored: an empty entry (a shell would read the current directory)".to_owned(),
                true,
            ),
            DirState::NotAbsolute => ("ignored: not an absolute path".to_owned(), true),
            DirState::Untrusted(why) => (format!("ignored: {why}"), true),
            DirState::Exposed(why) => (format!("searched; warning: {why}"), true),
            DirState::Unreadable(e) => (format!("unreadable: {e}"), true),
        };
        SearchRow {
            dir: dir.dir.clone(),
            origin: dir.origin.to_string(),
            state,
            problem,
        }
    }
}

fn overview(registry: &Registry, row: fn(&PluginFile, &[Shadowed]) -> Row) -> Overview {
    Overview {
        builtin: Builtin {
            sources: registry.names(Kind::Source),
            task_backends: registry.names(Kind::TaskBackend),
            server_backends: registry.names(Kind::ServerBackend),
        },
        search_path: registry
            .plugins()
            .dirs()
            .iter()
            .map(SearchRow::new)
            .collect(),
        plugins: registry
            .shadowing()
            .iter()
            .map(|(file, shadowed)| row(file, shadowed))
            .collect(),
    }
}

/// Every plugin file as its manifest alone tells (no library is loaded).
pub fn list(registry: &Registry) -> Overview {
    overview(registry, Row::listed)
}

/// Every plugin file loaded and called once.
pub fn doctor(registry: &Registry) -> Overview {
    overview(registry, Row::checked)
}

impl Overview {
    /// How many plugin files and search path entries have a problem.
    pub fn problems(&self) -> (usize, usize) {
        let files = self
            .plugins
            .iter()
            .filter(|r| !r.problems.is_empty())
            .count();
        let dirs = self.search_path.iter().filter(|d| d.problem).count();
        (files, dirs)
    }

    /// How many plugin files there are.
    pub fn files(&self) -> usize {
        self.plugins.len()
    }
}

/// The overview for people; `status_header` names the column of each file's state.
pub fn render(overview: &Overview, status_header: &str) -> String {
    let none = |names: &[String]| {
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        }
    };
    let mut out = format!(
        "Built in: sources {}; task backends {}; server backends {}\n\nSearch path (the first \
         plugin to provide a name wins):\n",
        none(&overview.builtin.sources),
        none(&overview.builtin.task_backends),
        none(&overview.builtin.server_backends)
    );
    let dirs: Vec<Vec<String>> = overview
        .search_path
        .iter()
        .map(|d| {
            vec![
                d.origin.clone(),
                d.dir.display().to_string(),
                d.state.clone(),
            ]
        })
        .collect();
    out += &table::render(&["from", "directory", "state"], &dirs);
    if overview.plugins.is_empty() {
        out += "\nNo plugin files found.\n";
        return out;
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let rows: Vec<Vec<String>> = overview
        .plugins
        .iter()
        .map(|r| {
            vec![
                dash(&r.name),
                dash(&r.version),
                dash(&r.kind),
                r.provides(),
                r.status.to_owned(),
                r.path.display().to_string(),
            ]
        })
        .collect();
    out += "\nPlugins:\n";
    out += &table::render(
        &["name", "version", "kind", "provides", status_header, "path"],
        &rows,
    );
    let problems: Vec<String> = overview
        .plugins
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(|p| format!("  {}: {p}\n", r.path.display()))
        })
        .collect();
    if !problems.is_empty() {
        out += "\nProblems:\n";
        out += &problems.concat();
    }
    out
}

/// Checks the plugin library at `path` and copies it into the user plugin directory; what was
/// installed, in one line.
pub fn install(path: &Path, registry: &Registry) -> Result<String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) => return Err(bad_input(format!("{shown}: cannot read: {e}"))),
        Ok(metadata) if !metadata.is_file() => {
            return Err(bad_input(format!(
                "{shown}: {}, not a plugin library file",
                file_kind(&metadata)
            )));
        }
        Ok(_) => {}
    }
    let Some(file_name) = path.file_name().filter(|_| is_library_name(path)) else {
        return Err(bad_input(format!(
            "{shown}: plugin directories hold only .{} files",
            std::env::consts::DLL_EXTENSION
        )));
    };
    let file = PluginFile::new(std::path::absolute(path)?, Origin::Flag);
    let manifest = file
        .usable_manifest()
        .map_err(|e| bad_input(format!("{shown}: {e}")))?
        .clone();
    let mut problems = load_problems(&file);
    for kind in Kind::ALL {
        let builtin = registry.names(kind);
        for name in manifest.names(kind).iter().filter(|n| builtin.contains(n)) {
            problems.push(format!(
                "it declares the {kind} `{name}`, which is built in; a plugin cannot replace a \
                 built-in"
            ));
        }
    }
    let dir = user_plugin_dir().context("no user data directory to install plugins into")?;
    let installed = Catalog::from_places(&[], Vec::new(), Some(dir.clone()));
    for other in installed
        .files()
        .iter()
        .filter(|f| f.path().file_name() != Some(file_name))
    {
        if let Ok(theirs) = other.usable_manifest() {
            for kind in Kind::ALL {
                for name in manifest
                    .names(kind)
                    .iter()
                    .filter(|n| theirs.provides(kind, n))
                {
                    problems.push(format!(
                        "its {kind} `{name}` is already provided by {}; remove that file first",
                        other.label()
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(bad_input(format!(
            "{shown}: not installed: {}",
            problems.join("; ")
        )));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let destination = dir.join(file_name);
    copy_atomically(path, &destination)?;
    Ok(format!(
        "installed {} {} ({} {}) as {}",
        manifest.name,
        manifest.version,
        manifest.kind(),
        manifest.all_names().join(", "),
        destination.display()
    ))
}

/// Copies `from` to a temporary file beside `to` and renames it over `to`: a reader (or a
/// process that has the old library mapped) sees the old file or the new one, never half of
/// one. The copy is writable by nobody but you, whatever the original allowed.
fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temporary = to.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let copied = std::fs::copy(from, &temporary)
        .and_then(|_| std::fs::File::open(&temporary))
        .and_then(|file| {
            let mode = file.metadata()?.permissions().mode();
            file.set_permissions(std::fs::Permissions::from_mode(mode & !0o022))?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, to));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("cannot install {}", to.display()));
    }
    Ok(())
}
