//! Diagnostics (what sources, normalization and backends say without failing) printed on
//! stderr, one line each, secrets masked.

use benchy_core::Diagnostic;

use crate::secrets;

/// Prints each diagnostic as `info: ...` or `warning: ...`.
pub fn print<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>) {
    for diagnostic in diagnostics {
        eprintln!("{}", secrets::mask(&diagnostic.to_string()));
    }
}
