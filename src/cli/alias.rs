//! Aliases: `[alias] q = "eval --limit 10"` in a settings file makes `benchy q -c RUN.yaml` run
//! `benchy eval --limit 10 -c RUN.yaml`. An alias never shadows a built-in command (one that
//! tries is ignored with a warning) and is looked up before external commands.

use std::ffi::OsString;

use benchy_core::Diagnostic;

use crate::cli::args::builtin_commands;
use crate::settings::Settings;

/// The command line with the alias `words[0]` expanded, or `None` when it is no alias. `words`
/// are the trailing arguments of `args`, as clap hands an unknown command over.
pub fn expand(words: &[OsString], args: &[OsString], settings: &Settings) -> Option<Vec<OsString>> {
    let name = words.first()?.to_str()?;
    let alias = settings.aliases.get(name)?;
    let at = args.len() - words.len();
    let expanded = args[..at]
        .iter()
        .cloned()
        .chain(alias.value.iter().map(OsString::from))
        .chain(args[at + 1..].iter().cloned())
        .collect();
    Some(expanded)
}

/// Drops each alias a built-in command's name makes useless, with a warning among the
/// settings' own.
pub fn drop_shadowed(settings: &mut Settings) {
    if settings.aliases.is_empty() {
        return;
    }
    for (name, _) in builtin_commands() {
        if let Some(alias) = settings.aliases.remove(&name) {
            settings.warnings.push(Diagnostic::warning(format!(
                "{}: alias `{name}` is ignored: `{name}` is a built-in command, which an alias \
                 cannot replace",
                alias.origin
            )));
        }
    }
}
