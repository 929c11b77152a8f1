//! `model.name`: a local model directory or a Hub repository id.

use std::path::Path;

use benchy_core::paths;
use benchy_source_hf::check_repo_id;

use super::raw::RawModel;
use super::{ConfigError, Model, ModelLocation, unsafe_path_part};

/// `model.name`: a model directory when written as a path (`/`, `./`, `../`, `~/`), else a Hub
/// repository id checked like huggingface_hub's `validate_repo_id`.
pub(super) fn check_model(raw: &RawModel, dir: &Path, origin: &str) -> Result<Model, ConfigError> {
    let name = raw.name.value.trim().to_owned();
    let invalid = |problem: String| ConfigError::Invalid {
        origin: origin.to_owned(),
        line: Some(raw.name.referenced.line()),
        key: "model.name".into(),
        problem,
    };
    let location = if looks_like_path(&name) {
        let path = paths::expand(&name, dir);
        if !path.is_dir() {
            return Err(invalid(format!(
                "`{name}` is written as a path but {} is not a directory",
                path.display()
            )));
        }
        // The real folder, so every consumer and record names the same path.
        ModelLocation::Local {
            dir: path.canonicalize().unwrap_or(path),
        }
    } else {
        check_repo_id(&name).map_err(invalid)?;
        ModelLocation::Hub {
            repo_id: name.clone(),
        }
    };
    let model = Model {
        name,
        revision: raw.revision.clone(),
        location,
    };
    // The last part names the served model and the run's folder.
    if let Some(why) = unsafe_path_part(&model.short_name()) {
        return Err(invalid(format!(
            "its last part `{}` names the served model and the results folder, and {why}",
            model.short_name()
        )));
    }
    Ok(model)
}

fn looks_like_path(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with("./")
        || name.starts_with("../")
        || name.starts_with("~/")
}
