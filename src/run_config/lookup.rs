//! Finding the provider and task files a run config names, the way the Python tool's layout
//! nests them: `providers/` and `tasks/` folders beside the model file or in a folder above.
//!
//! The climb stops at a boundary ([`ownership::climb`]): the folder holding `configs/`, a
//! repository's root (it holds `.git`) or your home, whichever comes first. A file
//! found on the way is used only when no other user can change it, nor its folder, nor the
//! folder that holds that (see [`crate::util::ownership`]): a provider's `command:` runs as you. One of
//! yours that everyone may write is used with a warning.

use std::path::{Path, PathBuf};

use benchy_core::Diagnostic;

use super::ConfigError;
use crate::util::ownership;

/// Finds `<folder>/<name>.yaml` (or `.yml`, or `name` itself when it has an extension) in the
/// start folder and each folder above it up to the boundary. `named_at` (the run config's file
/// and line) and `what` ("task", "provider config") name the lookup in errors and `notes`.
pub(super) fn find_upwards(
    start: &Path,
    folder: &str,
    name: &str,
    (named_at, what): (&str, &'static str),
    notes: &mut Vec<Diagnostic>,
) -> Result<PathBuf, ConfigError> {
    let file_names: Vec<String> = if name.ends_with(".yaml") || name.ends_with(".yml") {
        vec![name.to_owned()]
    } else {
        vec![format!("{name}.yaml"), format!("{name}.yml")]
    };
    let mut looked_for = Vec::new();
    for dir in ownership::climb(start) {
        let dir = dir.as_path();
        for file_name in &file_names {
            let candidate = dir.join(folder).join(file_name);
            // Anything by that name but a folder is the one meant; reading it says what is wrong
            // with it (a FIFO, a device, a broken link) rather than looking further up.
            let found = std::fs::symlink_metadata(&candidate).is_ok() && !candidate.is_dir();
            if found {
                let on_the_way = [candidate.as_path(), &dir.join(folder), dir];
                return match ownership::judge_all(on_the_way) {
                    Ok(exposed) => {
                        if let Some(why) = exposed {
                            notes.push(Diagnostic::warning(format!(
                                "{named_at}: {what} `{name}`: {why}"
                            )));
                        }
                        Ok(candidate)
                    }
                    Err(why) => Err(ConfigError::Untrusted {
                        origin: named_at.to_owned(),
                        what,
                        name: name.to_owned(),
                        why,
                    }),
                };
            }
            looked_for.push(candidate);
        }
    }
    Err(ConfigError::NotFound {
        origin: named_at.to_owned(),
        what,
        name: name.to_owned(),
        looked_for,
    })
}
