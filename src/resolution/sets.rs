//! `--set KEY=VALUE`: the command line's own layer, on top of every other.

use anyhow::Result;
use benchy_core::{Layer, SourceRef};
use serde_json::Value as Json;

use crate::util::bad_input::bad_input;

/// The `--set KEY=VALUE` flags as one layer; each value is read as a YAML 1.2 scalar or flow
/// sequence, so `0.7` is a number, `true` a boolean, `[a, b]` a list, `null` a removal, and
/// `yes` or `y` a string (not YAML 1.1's boolean).
pub fn parse_sets(sets: &[String]) -> Result<Option<Layer>> {
    if sets.is_empty() {
        return Ok(None);
    }
    let mut items = Vec::new();
    for set in sets {
        let Some((key, raw)) = set.split_once('=') else {
            return Err(bad_input(format!(
                "--set {set}: expected KEY=VALUE, as in --set temperature=0.2"
            )));
        };
        let key = key.trim();
        if key.is_empty() || raw.trim().is_empty() {
            return Err(bad_input(format!(
                "--set {set}: expected KEY=VALUE with both parts (use KEY=null to remove a key)"
            )));
        }
        let value: Json = benchy_source_yaml::yaml::value_from_str(raw, &format!("--set {set}"))
            .map_err(|e| bad_input(e.to_string()))?;
        // YAML reads `~` and `Null` as null too; on a command line they are more likely a
        // slip (an unexpanded home folder) than a removal, which is spelled out.
        if value.is_null() && raw.trim() != "null" {
            return Err(bad_input(format!(
                "--set {set}: `{}` is read as null; to remove the key write {key}=null",
                raw.trim()
            )));
        }
        items.push((key.to_owned(), value, None));
    }
    Ok(Some(Layer::from_mapping(
        SourceRef::bare("cli"),
        "--set",
        items,
    )?))
}
