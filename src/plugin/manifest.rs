//! A plugin's manifest: its name, version, ABI and protocol versions, entry symbol, and the
//! source schemes, task backends and server backends it provides. `export_plugin!` embeds it in the library as TOML
//! between two markers, so the host reads it by scanning the file's bytes, without loading the
//! library (loading runs its initializers); the plugin's table points at the same bytes, and the
//! loader checks that the two agree.

use std::fmt;
use std::path::Path;

use benchy_core::abi::{ABI_VERSION, PROTOCOL_VERSION};
use benchy_core::sdk::{MANIFEST_BEGIN as BEGIN, MANIFEST_END as END, is_valid_name};
use serde::{Deserialize, Serialize};

use super::library_file;

/// Longest manifest accepted; a marker followed by anything longer is not a manifest.
const MAX_LEN: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The plugin package's name.
    pub name: String,
    /// The plugin package's version.
    pub version: String,
    pub abi_version: u32,
    pub protocol_version: u32,
    /// The exported entry symbol, `benchy_plugin_v<ABI>_<crate>`.
    pub entry: String,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Backends that run tasks against a server (`--backend`).
    #[serde(default)]
    pub task_backends: Vec<String>,
    /// Backends that plan the server a run launches (a provider config's `backend`).
    #[serde(default)]
    pub server_backends: Vec<String>,
}

/// Why a file has no usable manifest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not a regular file, or not readable: the reason says which.
    #[error("{0}")]
    Unreadable(String),
    /// Another user can change the file or its folder: it is not read, let alone loaded.
    #[error(
        "refused: {0}; benchy loads a plugin only when no other user can change it (as git \
         refuses a repository another user owns)"
    )]
    Untrusted(String),
    #[error("not a shared library (it does not start like an ELF, Mach-O or PE file)")]
    NotSharedLibrary,
    #[error(
        "a shared library, but not a benchy plugin: it holds no plugin manifest (plugins are \
         built with benchy_core::export_plugin!)"
    )]
    NoManifest,
    #[error("it holds {0} plugin manifests; a plugin library holds exactly one")]
    Several(usize),
    #[error("its plugin manifest is invalid: {0}")]
    Invalid(String),
}

/// Why a well-formed manifest belongs to a plugin this benchy cannot load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Incompatible {
    #[error(
        "built for plugin ABI v{found}; this benchy loads ABI v{ABI_VERSION} plugins (rebuild \
         it against a matching benchy-core)"
    )]
    Abi { found: u32 },
    #[error(
        "speaks plugin protocol {found}; this benchy speaks protocol {PROTOCOL_VERSION} \
         (rebuild it against a matching benchy-core)"
    )]
    Protocol { found: u32 },
}

/// What a plugin provides: a source, or a backend in one of its two roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Source,
    /// Runs tasks against a server (`--backend`).
    TaskBackend,
    /// Plans the server a run launches (a provider config's `backend`).
    ServerBackend,
}

impl Kind {
    /// Every kind, in the order tables list them.
    pub const ALL: [Kind; 3] = [Kind::Source, Kind::TaskBackend, Kind::ServerBackend];

    /// The kind's word: `source`, `task backend`, `server backend`.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::TaskBackend => "task backend",
            Kind::ServerBackend => "server backend",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl Manifest {
    /// Reads the manifest of the library at `path` without loading it (see
    /// [`library_file::mapped_part`]: only the part the loader would map, within a limit).
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let bytes = library_file::mapped_part(path).map_err(ManifestError::Unreadable)?;
        Manifest::find(&bytes)
    }

    /// Finds the one manifest in a library's bytes.
    pub fn find(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if !library_file::looks_like_shared_library(bytes) {
            return Err(ManifestError::NotSharedLibrary);
        }
        let mut found: Vec<Manifest> = Vec::new();
        let mut first_error = None;
        for start in memchr::memmem::find_iter(bytes, BEGIN.as_bytes()) {
            // The host's own copy of the markers (in benchy or a library that links the
            // scanner) is not followed by a manifest: such hits are skipped, and reported only
            // when no real manifest is found.
            match Manifest::parse_at(&bytes[start..]) {
                Ok(manifest) if !found.contains(&manifest) => found.push(manifest),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (found.len(), first_error) {
            (1, _) => Ok(found.remove(0)),
            (0, Some(error)) => Err(error),
            (0, None) => Err(ManifestError::NoManifest),
            (n, _) => Err(ManifestError::Several(n)),
        }
    }

    /// Parses the manifest that `bytes` starts with, markers included (the table's form).
    pub fn parse_at(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let body = bytes
            .strip_prefix(BEGIN.as_bytes())
            .ok_or_else(|| ManifestError::Invalid("it does not start with its marker".into()))?;
        let window = &body[..body.len().min(MAX_LEN)];
        let end = memchr::memmem::find(window, END.as_bytes())
            .ok_or_else(|| ManifestError::Invalid("its end marker is missing".into()))?;
        let text = std::str::from_utf8(&window[..end])
            .map_err(|_| ManifestError::Invalid("it is not UTF-8 text".into()))?;
        let table: toml::Table =
            toml::from_str(text).map_err(|e| ManifestError::Invalid(e.message().to_owned()))?;
        let abi_version = table
            .get("abi_version")
            .and_then(toml::Value::as_integer)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| ManifestError::Invalid("`abi_version` is missing".into()))?;
        if abi_version != ABI_VERSION {
            return Ok(Manifest::of_other_abi(abi_version, &table));
        }
        let manifest: Manifest = table
            .try_into()
            .map_err(|e: toml::de::Error| ManifestError::Invalid(e.message().to_owned()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// A manifest written for another ABI may have other fields; keep what can be shown, so the
    /// message can say which version it was built for.
    fn of_other_abi(abi_version: u32, table: &toml::Table) -> Manifest {
        let text = |key: &str| {
            table
                .get(key)
                .and_then(toml::Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        let names = |key: &str| {
            table
                .get(key)
                .and_then(toml::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Manifest {
            name: text("name"),
            version: text("version"),
            abi_version,
            protocol_version: table
                .get("protocol_version")
                .and_then(toml::Value::as_integer)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            entry: text("entry"),
            sources: names("sources"),
            task_backends: names("task_backends"),
            server_backends: names("server_backends"),
        }
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(m));
        if self.name.trim().is_empty() {
            return invalid("`name` is empty".into());
        }
        let prefix = format!("benchy_plugin_v{}_", self.abi_version);
        if !self.entry.starts_with(&prefix) || self.entry.len() == prefix.len() {
            return invalid(format!(
                "`entry` = {:?} does not start with `{prefix}`",
                self.entry
            ));
        }
        if Kind::ALL.iter().all(|kind| self.names(*kind).is_empty()) {
            return invalid("it provides no source scheme and no backend".into());
        }
        for kind in Kind::ALL {
            let names = self.names(kind);
            for (i, name) in names.iter().enumerate() {
                if !is_valid_name(name) {
                    return invalid(format!(
                        "{kind} {name:?} is not lowercase ASCII letters, digits, `-`, `_`, `.`"
                    ));
                }
                if names[..i].contains(name) {
                    return invalid(format!("{kind} `{name}` is listed twice"));
                }
            }
        }
        let backends = [&self.task_backends, &self.server_backends];
        if let Some(both) = backends[0].iter().find(|n| backends[1].contains(n)) {
            return invalid(format!(
                "`{both}` is both a task backend and a server backend; a backend plays one role"
            ));
        }
        Ok(())
    }

    /// Whether this benchy can load the plugin.
    pub fn check_compatible(&self) -> Result<(), Incompatible> {
        if self.abi_version != ABI_VERSION {
            return Err(Incompatible::Abi {
                found: self.abi_version,
            });
        }
        if self.protocol_version != PROTOCOL_VERSION {
            return Err(Incompatible::Protocol {
                found: self.protocol_version,
            });
        }
        Ok(())
    }

    pub fn provides(&self, kind: Kind, name: &str) -> bool {
        self.names(kind).iter().any(|n| n == name)
    }

    pub fn names(&self, kind: Kind) -> &[String] {
        match kind {
            Kind::Source => &self.sources,
            Kind::TaskBackend => &self.task_backends,
            Kind::ServerBackend => &self.server_backends,
        }
    }

    /// What it provides, in words: `source`, `task backend`, `source+server backend`...
    pub fn kind(&self) -> String {
        let kinds: Vec<&str> = Kind::ALL
            .into_iter()
            .filter(|kind| !self.names(*kind).is_empty())
            .map(Kind::word)
            .collect();
        kinds.join("+")
    }

    /// Every name it provides, sources first.
    pub fn all_names(&self) -> Vec<String> {
        Kind::ALL
            .into_iter()
            .flat_map(|kind| self.names(kind).to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(parts: &[&str]) -> Vec<u8> {
        let mut bytes = b"\x7fELF\x02\x01\x01\0garbage".to_vec();
        for part in parts {
            bytes.extend_from_slice(part.as_bytes());
            bytes.extend_from_slice(b"\0\x13\x37more code\0");
        }
        bytes
    }

    const SITE: &str = "<benchy-plugin-manifest>\nname = \"benchy-site-registry\"\n\
        version = \"0.1.0\"\nabi_version = 1\nprotocol_version = 1\n\
        entry = \"benchy_plugin_v1_benchy_site_registry\"\nsources = [\"site\", ]\n\
        task_backends = []\nserver_backends = []\n</benchy-plugin-manifest>";

    #[test]
    fn finds_the_manifest_among_other_bytes() {
        let manifest = Manifest::find(&library(&[SITE])).unwrap();
        assert_eq!(manifest.name, "benchy-site-registry");
        assert_eq!(manifest.sources, ["site"]);
        assert!(manifest.task_backends.is_empty() && manifest.server_backends.is_empty());
        assert_eq!(manifest.kind(), "source");
        let server = SITE.replace("server_backends = []", "server_backends = [\"s\"]");
        let server = Manifest::find(&library(&[&server])).unwrap();
        assert_eq!(server.kind(), "source+server backend");
        assert_eq!(server.all_names(), ["site", "s"]);
        assert_eq!(manifest.check_compatible(), Ok(()));
    }

    #[test]
    fn stray_markers_are_skipped_when_a_real_manifest_is_there() {
        let bytes = library(&[BEGIN, END, SITE]);
        assert_eq!(Manifest::find(&bytes).unwrap().sources, ["site"]);
        assert!(matches!(
            Manifest::find(&library(&[BEGIN, "x = \n", END])),
            Err(ManifestError::Invalid(_))
        ));
    }

    #[test]
    fn files_without_a_manifest_are_told_apart() {
        assert_eq!(
            Manifest::find(b"random bytes"),
            Err(ManifestError::NotSharedLibrary)
        );
        assert_eq!(
            Manifest::find(&library(&[])),
            Err(ManifestError::NoManifest)
        );
        let other = SITE.replace("site", "mirror");
        assert_eq!(
            Manifest::find(&library(&[SITE, &other])),
            Err(ManifestError::Several(2))
        );
    }

    #[test]
    fn invalid_manifests_say_why() {
        let err = |from: &str, to: &str| match Manifest::find(&library(&[&SITE.replace(from, to)]))
        {
            Err(ManifestError::Invalid(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(err("[\"site\", ]", "[\"Site\"]").contains("\"Site\""));
        assert!(err("[\"site\", ]", "[\"site\", \"site\"]").contains("listed twice"));
        assert!(err("[\"site\", ]", "[]").contains("no source scheme and no backend"));
        let both = "task_backends = [\"x\"]\nserver_backends = [\"x\"]";
        assert!(
            err("task_backends = []\nserver_backends = []", both)
                .contains("`x` is both a task backend and a server backend")
        );
        assert!(err("benchy_plugin_v1_", "other_").contains("does not start with"));
        assert!(err("version = ", "release = ").contains("version"));
        let unterminated = SITE.replace(END, "");
        assert!(
            Manifest::find(&library(&[&unterminated]))
                .unwrap_err()
                .to_string()
                .contains("end marker")
        );
    }

    #[test]
    fn other_versions_are_incompatible_not_invalid() {
        let v2 = SITE
            .replace("abi_version = 1", "abi_version = 2")
            .replace("_v1_", "_v2_");
        let manifest = Manifest::find(&library(&[&v2])).unwrap();
        assert_eq!(
            manifest.check_compatible(),
            Err(Incompatible::Abi { found: 2 })
        );
        assert!(
            manifest
                .check_compatible()
                .unwrap_err()
                .to_string()
                .contains("ABI v2")
        );
        // a future manifest may drop fields ours requires: it is still told apart by version
        let future =
            "<benchy-plugin-manifest>\nabi_version = 3\nname = \"x\"\n</benchy-plugin-manifest>";
        let manifest = Manifest::find(&library(&[future])).unwrap();
        assert_eq!(
            manifest.check_compatible(),
            Err(Incompatible::Abi { found: 3 })
        );
        assert_eq!(manifest.name, "x");
        let p2 = SITE.replace("protocol_version = 1", "protocol_version = 2");
        let manifest = Manifest::find(&library(&[&p2])).unwrap();
        assert_eq!(
            manifest.check_compatible(),
            Err(Incompatible::Protocol { found: 2 })
        );
    }
}
