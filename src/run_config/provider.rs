//! The provider config a run config names (`vllm.provider_config`), with the model file's
//! `vllm.overrides` applied, and the server backend it is for (its `backend` key).

use std::path::{Path, PathBuf};

use benchy_core::Diagnostic;
use benchy_core::sdk::is_valid_name;
use benchy_source_yaml::yaml;
use serde_json::{Map, Value as Json};

use super::lookup::find_upwards;
use super::raw::RawVllm;
use super::{ConfigError, Provider, read};
use crate::plugin::builtins::DEFAULT_SERVER_BACKEND;

pub(super) fn load_provider(
    raw: &RawVllm,
    dir: &Path,
    origin: &str,
    notes: &mut Vec<Diagnostic>,
) -> Result<Option<Provider>, ConfigError> {
    let overrides = raw.overrides.clone().unwrap_or_default();
    let Some(name) = &raw.provider_config else {
        if overrides.is_empty() {
            return Ok(None);
        }
        // Overrides alone are a complete provider written inline.
        return provider("inline".into(), PathBuf::from(origin), overrides).map(Some);
    };
    let named_at = format!("{origin}:{}", name.referenced.line());
    let path = find_upwards(
        dir,
        "providers",
        &name.value,
        (&named_at, "provider config"),
        notes,
    )?;
    let text = read(&path)?;
    let mut settings: Map<String, Json> = if text.trim().is_empty() {
        Map::new()
    } else {
        yaml::from_str(&text, &path.display().to_string())?
    };
    settings.extend(overrides);
    provider(name.value.clone(), path, settings).map(Some)
}

/// The provider with its `backend` key taken out of the settings it hands that backend.
fn provider(
    name: String,
    path: PathBuf,
    mut settings: Map<String, Json>,
) -> Result<Provider, ConfigError> {
    let backend = match settings.remove("backend") {
        None => DEFAULT_SERVER_BACKEND.to_owned(),
        Some(Json::String(backend)) if is_valid_name(&backend) => backend,
        Some(other) => {
            return Err(ConfigError::Invalid {
                origin: path.display().to_string(),
                line: None,
                key: "backend".into(),
                problem: format!(
                    "must name a server backend (lowercase letters, digits, `-`, `_`, `.`), \
                     found {other}"
                ),
            });
        }
    };
    Ok(Provider {
        name,
        path,
        backend,
        settings,
    })
}
