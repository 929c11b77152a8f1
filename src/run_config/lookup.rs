//! Finding the provider and task files a run config names, the way the Python tool's layout
//! nests them: `providers/` and `tasks/` folders beside the model file or in a folder above.

use std::path::{Path, PathBuf};

/// Finds `<folder>/<name>.yaml` (or `.yml`, or `name` itself when it has an extension) in the
/// start folder and each of its ancestors, the way the Python tool's layout nests them.
pub(super) fn find_upwards(
    start: &Path,
    folder: &str,
    name: &str,
) -> Result<PathBuf, Vec<PathBuf>> {
    let file_names: Vec<String> = if name.ends_with(".yaml") || name.ends_with(".yml") {
        vec![name.to_owned()]
    } else {
        vec![format!("{name}.yaml"), format!("{name}.yml")]
    };
    let mut looked = Vec::new();
    // Canonicalize so `..` walks the real tree; fall back to the path as given.
    let start = start.canonicalize().unwrap_or_else(|_| start.to_owned());
    for dir in start.ancestors() {
        for file_name in &file_names {
            let candidate = dir.join(folder).join(file_name);
            if candidate.is_file() {
                return Ok(candidate);
            }
            looked.push(candidate);
        }
    }
    Err(looked)
}
