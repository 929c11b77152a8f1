//! Diagnostics (what sources, normalization and backends say without failing) printed on
//! stderr, one line each, secrets masked.

use benchy_core::Diagnostic;

use crate::util::secrets;
use crate::util::stdio::errln;

/// Prints each diagnostic as `info: ...` or `warning: ...`.
pub fn print<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>) {
    print_about(None, diagnostics);
}

/// Prints each diagnostic as [`print`] does, saying what it is about when `subject` is given
/// (`warning: models/a.yaml: ...`): in a suite, a note must name its model's run config.
pub fn print_about<'a>(
    subject: Option<&str>,
    diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
) {
    for diagnostic in diagnostics {
        let line = match subject {
            Some(subject) => Diagnostic {
                level: diagnostic.level,
                message: format!("{subject}: {}", diagnostic.message),
            }
            .to_string(),
            None => diagnostic.to_string(),
        };
        errln!("{}", secrets::mask(&line));
    }
}
