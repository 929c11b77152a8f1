//! The `file:PATH` source: a JSON generation config on disk (transformers' format), read
//! strictly because it is the user's own file.

use benchy_core::source::read_user_file;
use benchy_core::{
    Artifact, ConfigSource, Layer, SourceError, SourceRef, SourceReply, SourceRequest, Strictness,
};

#[derive(Debug, Default)]
pub struct FileSource;

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    sources: ["file" => FileSource],
}

impl ConfigSource for FileSource {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError> {
        let (path, origin) = request.path_argument()?;
        let text = read_user_file(&path, &origin)?;
        let mut layer = Layer::from_generation_config(
            &text,
            &origin,
            SourceRef::new("file", origin.clone()),
            Strictness::Strict,
        )?;
        layer.artifact = Some(Artifact {
            name: "generation_config.json".to_owned(),
            origin,
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
