//! A plugin's manifest: its name, version, ABI and protocol versions, entry symbol, and the
//! source schemes and backends it provides. `export_plugin!` embeds it in the library as TOML
//! between two markers, so the host reads it by scanning the file's bytes, without loading the
//! library (loading runs its initializers); the plugin's table points at the same bytes, and the
//! loader checks that the two agree.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::abi::{ABI_VERSION, PROTOCOL_VERSION};
use crate::sdk::is_valid_name;

pub const BEGIN: &str = "<benchy-plugin-manifest>\n";
pub const END: &str = "\n</benchy-plugin-manifest>";

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
    #[serde(default)]
    pub backends: Vec<String>,
}

/// Why a file has no usable manifest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read: {0}")]
    Unreadable(String),
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

/// What a manifest provides, as a short word for tables: `source`, `backend` or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Source,
    Backend,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Source => "source",
            Kind::Backend => "backend",
        })
    }
}

impl Manifest {
    /// Reads the manifest of the library at `path` without loading it. Of an ELF file only the
    /// part the loader would map is read: the manifest is a static the table points at, so it
    /// is there, and the debug information after it (most of a release build) is skipped.
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let unreadable = |e: std::io::Error| ManifestError::Unreadable(e.to_string());
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let mut bytes = Vec::new();
        (&mut file)
            .take(HEAD_LEN)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        match elf_loaded_extent(&bytes) {
            Some(extent) if extent <= bytes.len() as u64 => bytes.truncate(extent as usize),
            Some(extent) => {
                (&mut file)
                    .take(extent - bytes.len() as u64)
                    .read_to_end(&mut bytes)
                    .map_err(unreadable)?;
            }
            None => {
                file.read_to_end(&mut bytes).map_err(unreadable)?;
            }
        }
        Manifest::find(&bytes)
    }

    /// Finds the one manifest in a library's bytes.
    pub fn find(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if !looks_like_shared_library(bytes) {
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
            backends: names("backends"),
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
        if self.sources.is_empty() && self.backends.is_empty() {
            return invalid("it provides no source scheme and no backend".into());
        }
        for (kind, names) in [
            ("source scheme", &self.sources),
            ("backend", &self.backends),
        ] {
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
            Kind::Backend => &self.backends,
        }
    }

    /// `source`, `backend` or `source+backend`.
    pub fn kind(&self) -> String {
        let mut kinds = Vec::new();
        if !self.sources.is_empty() {
            kinds.push("source");
        }
        if !self.backends.is_empty() {
            kinds.push("backend");
        }
        kinds.join("+")
    }
}

/// How much of a file is read first: enough for an ELF header and its program headers.
const HEAD_LEN: u64 = 64 * 1024;

/// The end of the last loadable segment of an ELF file (`PT_LOAD`: `p_offset + p_filesz`), from
/// its header and program headers in `head`; `None` when `head` does not hold them (not ELF, or
/// an unusual layout), and the whole file is read instead. Field offsets are the ELF
/// specification's (System V gABI, "ELF Header" and "Program Header").
fn elf_loaded_extent(head: &[u8]) -> Option<u64> {
    if !head.starts_with(b"\x7fELF") || head.len() < 64 {
        return None;
    }
    let wide = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big_endian = match head[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at + len)?;
        let mut value = 0u64;
        for i in 0..len {
            let byte = if big_endian {
                bytes[i]
            } else {
                bytes[len - 1 - i]
            };
            value = value << 8 | u64::from(byte);
        }
        Some(value)
    };
    let (phoff, phentsize, phnum) = if wide {
        (read(0x20, 8)?, read(0x36, 2)?, read(0x38, 2)?)
    } else {
        (read(0x1c, 4)?, read(0x2a, 2)?, read(0x2c, 2)?)
    };
    const PT_LOAD: u64 = 1;
    let mut extent = None;
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).ok()?;
        if read(at, 4)? != PT_LOAD {
            continue;
        }
        let (offset, filesz) = if wide {
            (read(at + 8, 8)?, read(at + 32, 8)?)
        } else {
            (read(at + 4, 4)?, read(at + 16, 4)?)
        };
        extent = extent.max(Some(offset.checked_add(filesz)?));
    }
    extent
}

/// ELF, Mach-O (thin or fat) and PE files start with these.
fn looks_like_shared_library(bytes: &[u8]) -> bool {
    const MAGICS: [&[u8]; 7] = [
        b"\x7fELF",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
        b"MZ",
    ];
    MAGICS.iter().any(|magic| bytes.starts_with(magic))
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
        backends = []\n</benchy-plugin-manifest>";

    #[test]
    fn finds_the_manifest_among_other_bytes() {
        let manifest = Manifest::find(&library(&[SITE])).unwrap();
        assert_eq!(manifest.name, "benchy-site-registry");
        assert_eq!(manifest.sources, ["site"]);
        assert!(manifest.backends.is_empty());
        assert_eq!(manifest.kind(), "source");
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
    fn only_the_loadable_part_of_an_elf_file_is_needed() {
        // a 64-bit little-endian header with two program headers at 64: a PT_LOAD covering
        // bytes 0..0x300 and a PT_NOTE beyond it
        let mut elf = vec![0u8; 0x400];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20] = 64; // e_phoff
        elf[0x36] = 56; // e_phentsize
        elf[0x38] = 2; // e_phnum
        elf[64] = 1; // PT_LOAD
        elf[64 + 32..64 + 34].copy_from_slice(&0x300u16.to_le_bytes()); // p_filesz
        elf[120] = 4; // PT_NOTE
        elf[120 + 8] = 0xff; // p_offset far away: not loadable, not counted
        elf[120 + 32] = 0xff;
        assert_eq!(elf_loaded_extent(&elf), Some(0x300));
        // the same in 32-bit big-endian form
        let mut elf = vec![0u8; 0x400];
        elf[..6].copy_from_slice(b"\x7fELF\x01\x02");
        elf[0x1f] = 52; // e_phoff
        elf[0x2b] = 32; // e_phentsize
        elf[0x2d] = 1; // e_phnum
        elf[52 + 3] = 1; // PT_LOAD
        elf[52 + 4 + 3] = 0x10; // p_offset
        elf[52 + 16 + 2] = 0x02; // p_filesz = 0x200
        assert_eq!(elf_loaded_extent(&elf), Some(0x210));
        assert_eq!(elf_loaded_extent(b"MZ not elf"), None);
        assert_eq!(elf_loaded_extent(&elf[..40]), None);
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
