//! The `yaml:PATH` source: a YAML file whose `generation:` mapping (or the whole file) is a
//! layer, read with the user-mapping rules (`null` removes, extras pass through). Its [`yaml`]
//! module is benchy's YAML reader, which the host also uses for run configs.

pub mod yaml;

use benchy_core::source::read_user_file;
use benchy_core::{ConfigSource, SourceError, SourceReply, SourceRequest};

#[derive(Debug, Default)]
pub struct YamlSource;

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    sources: ["yaml" => YamlSource],
}

impl ConfigSource for YamlSource {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError> {
        let (path, origin) = request.path_argument()?;
        let text = read_user_file(&path, &origin)?;
        let layer = yaml::yaml_file_layer(&text, std::path::Path::new(&origin))?;
        Ok(SourceReply {
            layer: Some(layer),
            ..SourceReply::default()
        })
    }
}
