//! Atomic file writes: a temporary file in the same folder, flushed, then renamed, so a reader
//! or a crash never sees half a file. Every file benchy writes goes through here, and so every
//! registered secret is masked on the way ([`crate::util::secrets`]). The state files written so are
//! read back through here too, bounded.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use benchy_core::source::{read_existing_file, read_text_file};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::util::secrets;

/// Writes `text` to `path` atomically, secrets masked.
pub fn write_atomic(path: &Path, text: &[u8]) -> Result<()> {
    let masked = secrets::mask(&String::from_utf8_lossy(text));
    write_bytes(path, masked.as_bytes())
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `value` as pretty JSON (with a final newline) to `path` atomically, every string in
/// it with secrets masked (before escaping, so a secret is found however JSON writes it).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let value = secrets::mask_json(&serde_json::to_value(value)?);
    let mut text = serde_json::to_vec_pretty(&value)?;
    text.push(b'\n');
    write_bytes(path, &text)
}

/// The most a state file benchy wrote (a run record, a completion record, an environment's
/// marker) may hold when read back: far above any it writes, far below what would hurt.
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// A JSON state file benchy wrote, when it is there, a regular file, and reads as a `T`.
pub fn read_state<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let text = read_text_file(path, MAX_STATE_BYTES).ok()?;
    serde_json::from_str(&text).ok()
}

/// A JSON state file benchy wrote: `None` when it is not there, and why when it is there but
/// cannot be used (not a regular file, cut short, not of its shape).
pub fn read_state_checked<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    let Some(bytes) = read_existing_file(path, MAX_STATE_BYTES)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("not readable as its record ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/run.json");
        write_json(&path, &serde_json::json!({"status": "running"})).unwrap();
        write_json(&path, &serde_json::json!({"status": "ok"})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\n  \"status\": \"ok\"\n}\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "only run.json remains");
    }
}
