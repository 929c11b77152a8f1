//! The host side of the boundary: opens a plugin library, checks its table (ABI version, table
//! size, protocol version, manifest) before the first call, and runs calls through it
//! ([`PluginTable::call`] copies each reply and hands the buffer back to the plugin to free). A library, once opened, is never
//! unloaded: the host may hold pointers into it (the table, the manifest) until it exits, and
//! unloading Rust libraries is unsound where thread-locals with destructors are involved.
// The boundary: opening a library and reading the table its entry function returns.
#![allow(unsafe_code)]

use std::path::Path;

use benchy_core::abi::{
    ABI_VERSION, EntryFn, PROTOCOL_VERSION, PluginTable, TABLE_SIZE, TableHeader,
};

use super::manifest::{Incompatible, Manifest, ManifestError};

/// A checked plugin table, ready for calls.
#[derive(Debug)]
pub struct Connection {
    table: &'static PluginTable,
    manifest: Manifest,
}

/// Why a plugin cannot be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Incompatible(#[from] Incompatible),
    #[error("cannot load the library: {0}")]
    Open(String),
    #[error("the library does not export its entry symbol `{symbol}`: {error}")]
    MissingSymbol { symbol: String, error: String },
    #[error("its entry function returned no table")]
    NullTable,
    #[error("its entry function returned a misaligned table")]
    MisalignedTable,
    #[error("its table says: {0}")]
    TableVersion(Incompatible),
    #[error("its table is {found} bytes; ABI v{ABI_VERSION} tables are at least {TABLE_SIZE}")]
    TableSize { found: u32 },
    #[error(
        "the manifest its table points at differs from the one in the file (table: {table}; \
         file: {file})"
    )]
    ManifestMismatch { table: String, file: String },
}

/// What the table's header must say for this benchy to read the rest.
pub fn check_header(header: TableHeader) -> Result<(), LoadError> {
    if header.abi_version != ABI_VERSION {
        return Err(LoadError::TableVersion(Incompatible::Abi {
            found: header.abi_version,
        }));
    }
    if header.table_size < TABLE_SIZE {
        return Err(LoadError::TableSize {
            found: header.table_size,
        });
    }
    Ok(())
}

impl Connection {
    /// Checks a table that is already in this program: a plugin crate linked in-process (tests
    /// do this), or a table a library returned once its header was checked.
    pub fn from_table(table: &'static PluginTable) -> Result<Connection, LoadError> {
        check_header(table.header())?;
        if table.protocol_version() != PROTOCOL_VERSION {
            return Err(LoadError::TableVersion(Incompatible::Protocol {
                found: table.protocol_version(),
            }));
        }
        let manifest = Manifest::parse_at(table.manifest_bytes())?;
        manifest.check_compatible()?;
        Ok(Connection { table, manifest })
    }

    /// Opens the library at `path`, whose manifest (read from the file) is `manifest`, and
    /// checks its table. The library stays loaded until the process exits.
    pub fn open(path: &Path, manifest: &Manifest) -> Result<Connection, LoadError> {
        manifest.check_compatible()?;
        let library: &'static libloading::Library = Box::leak(Box::new(open_library(path)?));
        // SAFETY: the manifest names this symbol as the ABI's entry function, whose type is
        // `EntryFn` in every ABI version.
        let entry = unsafe { library.get::<EntryFn>(manifest.entry.as_str()) }.map_err(|e| {
            LoadError::MissingSymbol {
                symbol: manifest.entry.clone(),
                error: describe(&e),
            }
        })?;
        // SAFETY: the entry function takes nothing and returns a pointer to a static table;
        // it is the plugin's code, which loading the library already trusted.
        let header = unsafe { entry() };
        if header.is_null() {
            return Err(LoadError::NullTable);
        }
        if !header.cast::<PluginTable>().is_aligned() {
            return Err(LoadError::MisalignedTable);
        }
        // SAFETY: non-null and aligned; every ABI version's table starts with this header.
        check_header(unsafe { header.read() })?;
        // SAFETY: the header says this is an ABI v1 table at least as large as ours, and it
        // lives as long as the library, which is never unloaded.
        let table: &'static PluginTable = unsafe { &*header.cast::<PluginTable>() };
        let connection = Connection::from_table(table)?;
        if connection.manifest != *manifest {
            return Err(LoadError::ManifestMismatch {
                table: format!("{:?}", connection.manifest),
                file: format!("{manifest:?}"),
            });
        }
        Ok(connection)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Runs one method: the status and a copy of the reply bytes.
    pub fn call(&self, method: &str, request: &[u8]) -> (i32, Vec<u8>) {
        self.table.call(method, request)
    }
}

fn open_library(path: &Path) -> Result<libloading::Library, LoadError> {
    // A name without a slash would send dlopen searching the system's library directories.
    let path = std::path::absolute(path).map_err(|e| LoadError::Open(e.to_string()))?;
    // RTLD_NOW: an unresolved symbol fails here, not in the middle of a call; RTLD_LOCAL: one
    // plugin's symbols never satisfy another's.
    #[cfg(unix)]
    let opened = {
        use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
        // SAFETY: loading runs the library's initializers; the host loads only files the user
        // put on the plugin path or named, whose manifest says they are benchy plugins.
        unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }.map(libloading::Library::from)
    };
    #[cfg(not(unix))]
    // SAFETY: as above.
    let opened = unsafe { libloading::Library::new(&path) };
    opened.map_err(|e| LoadError::Open(describe(&e)))
}

/// libloading's message with the system's reason (`dlopen failed: <dlerror>`).
fn describe(error: &libloading::Error) -> String {
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_other_versions_and_short_tables_are_refused() {
        let ok = TableHeader {
            abi_version: 1,
            table_size: TABLE_SIZE,
        };
        assert_eq!(check_header(ok), Ok(()));
        // a later minor addition makes the table longer: still readable
        let longer = TableHeader {
            table_size: TABLE_SIZE + 8,
            ..ok
        };
        assert_eq!(check_header(longer), Ok(()));
        let v2 = TableHeader {
            abi_version: 2,
            ..ok
        };
        assert!(check_header(v2).unwrap_err().to_string().contains("ABI v2"));
        let short = TableHeader {
            table_size: 16,
            ..ok
        };
        assert_eq!(check_header(short), Err(LoadError::TableSize { found: 16 }));
    }
}
