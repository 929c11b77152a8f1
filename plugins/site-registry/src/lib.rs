//! benchy-site-registry: an example of a third-party benchy plugin, and the proof that the
//! dynamic path works end to end (benchy only ever uses it through its shared library).
//!
//! It provides the source scheme `site`: `--source site:DIR` reads the generation parameters a
//! site keeps for the Hub model `org/name` from `DIR/org/name.json` (a model without an
//! organization, `name`, from `DIR/name.json`). The file is a JSON generation config read
//! exactly as `file:` reads one (transformers' format: `null` means not set, keys that are not
//! sampling parameters are ignored and listed) and strictly, because it is the site's own file:
//! an invalid value is an error naming the file, line and key. A registry without an entry for
//! the model is not an error: the source is unavailable for it, and the run continues without
//! the layer (with a warning), unless the run config lists `site` in `require_sources`. The
//! model's revision does not select anything: a registry keeps one file per model.

use std::path::{Path, PathBuf};

use benchy_core::source::read_user_file;
use benchy_core::{
    Artifact, ConfigSource, Layer, ModelRef, SourceError, SourceRef, SourceReply, SourceRequest,
    Strictness,
};

/// The `site:DIR` source.
#[derive(Debug, Default)]
pub struct SiteRegistry;

benchy_core::export_plugin! {
    sources: ["site" => SiteRegistry],
}

impl ConfigSource for SiteRegistry {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError> {
        let (dir, shown_dir) = request.path_argument()?;
        if !dir.is_dir() {
            return Err(SourceError::input(format!(
                "--source {}: the site registry {shown_dir} is not a directory",
                request.spec
            )));
        }
        let relative = entry_path(&request.model)?;
        let path = dir.join(&relative);
        let shown = Path::new(&shown_dir).join(&relative).display().to_string();
        if !path.exists() {
            return Err(SourceError::unavailable(format!(
                "the site registry {shown_dir} has no entry for {} (no {shown})",
                request.model.name
            )));
        }
        let text = read_user_file(&path, &shown)?;
        let mut layer = Layer::from_generation_config(
            &text,
            &shown,
            SourceRef::new("site", shown.clone()),
            Strictness::Strict,
        )?;
        layer.artifact = Some(Artifact {
            name: relative
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            origin: shown,
            revision: None,
            text,
            model_file: false,
        });
        Ok(SourceReply {
            layer: Some(layer),
            ..SourceReply::default()
        })
    }
}

/// `org/name.json` for the Hub model `org/name`. A registry holds Hub models only, so a local
/// model directory has no entry; a name that would step out of the registry (`..`, an absolute
/// path) is refused.
fn entry_path(model: &ModelRef) -> Result<PathBuf, SourceError> {
    if model.local_dir.is_some() {
        return Err(SourceError::unavailable(format!(
            "a site registry holds Hub models; `{}` is a local directory",
            model.name
        )));
    }
    let plain = model
        .name
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
    if !plain {
        return Err(SourceError::input(format!(
            "model `{}` is not a Hub repo id (`org/name`), so it has no site registry entry",
            model.name
        )));
    }
    let mut path = PathBuf::from(&model.name);
    path.as_mut_os_string().push(".json");
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(name: &str) -> ModelRef {
        ModelRef {
            name: name.to_owned(),
            revision: None,
            local_dir: None,
        }
    }

    #[test]
    fn hub_ids_map_to_json_files_under_the_registry() {
        assert_eq!(
            entry_path(&hub("Qwen/Qwen2.5-7B")).unwrap(),
            Path::new("Qwen/Qwen2.5-7B.json")
        );
        assert_eq!(entry_path(&hub("gpt2")).unwrap(), Path::new("gpt2.json"));
    }

    #[test]
    fn names_that_leave_the_registry_are_refused_and_local_models_have_no_entry() {
        for bad in [
            "../etc/passwd",
            "/abs/model",
            "org/./name",
            "org\\name",
            "org/",
        ] {
            assert!(
                matches!(entry_path(&hub(bad)), Err(SourceError::Input(_))),
                "{bad}"
            );
        }
        let local = ModelRef {
            local_dir: Some(PathBuf::from("/models/x")),
            ..hub("./x")
        };
        assert!(matches!(
            entry_path(&local),
            Err(SourceError::Unavailable(_))
        ));
    }
}
