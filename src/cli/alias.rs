//! Aliases: `[alias] q = "eval --limit 10"` in a settings file makes `benchy q -c RUN.yaml` run
//! `benchy eval --limit 10 -c RUN.yaml`. A string alias is split at whitespace (quotes group
//! nothing; a list of words keeps each word whole). An alias never shadows a built-in command
//! (one that tries is ignored with a warning), is looked up before external commands, and
//! expands to a built-in or external command, never to an alias.

use std::ffi::OsString;

use anyhow::Result;
use benchy_core::Diagnostic;
use benchy_core::process::shell_quote;

use crate::cli::args::command_names;
use crate::settings::{Setting, Settings};
use crate::util::bad_input::bad_input;

/// The command line with the alias `words[0]` expanded, or `None` when it is no alias. `words`
/// are the trailing arguments of `args`, as clap hands an unknown command over. An alias that
/// expands to an alias (itself included) is bad input naming it.
pub fn expand(
    words: &[OsString],
    args: &[OsString],
    settings: &Settings,
) -> Result<Option<Vec<OsString>>> {
    let Some(name) = words.first().and_then(|w| w.to_str()) else {
        return Ok(None);
    };
    let Some(alias) = settings.aliases.get(name) else {
        return Ok(None);
    };
    if let Some(first) = alias
        .value
        .first()
        .filter(|w| settings.aliases.contains_key(*w))
    {
        let what = if first == name {
            "itself".to_owned()
        } else {
            format!("the alias `{first}`")
        };
        return Err(bad_input(format!(
            "{}: alias `{name}` expands to {what}; an alias's command line starts with a \
             built-in or external command (`benchy --list` lists them)",
            alias.origin
        )));
    }
    let at = args.len() - words.len();
    let expanded = args[..at]
        .iter()
        .cloned()
        .chain(alias.value.iter().map(OsString::from))
        .chain(args[at + 1..].iter().cloned())
        .collect();
    Ok(Some(expanded))
}

/// An alias's command line as it runs: each word as it is passed, quoted where a shell would
/// need it.
pub fn shown(alias: &Setting<Vec<String>>) -> String {
    let words: Vec<String> = alias.value.iter().map(|w| shell_quote(w)).collect();
    words.join(" ")
}

/// Drops each alias a built-in command's name makes useless (the hidden ones included), with a
/// warning among the settings' own.
pub fn drop_shadowed(settings: &mut Settings) {
    if settings.aliases.is_empty() {
        return;
    }
    for name in command_names() {
        if let Some(alias) = settings.aliases.remove(&name) {
            settings.warnings.push(Diagnostic::warning(format!(
                "{}: alias `{name}` is ignored: `{name}` is a built-in command, which an alias \
                 cannot replace",
                alias.origin
            )));
        }
    }
}
