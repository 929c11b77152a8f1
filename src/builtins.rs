//! The built-in plugins, linked statically so `benchy` works with no plugin files.

use std::sync::Arc;

use benchy_core::Registry;

/// A registry holding every built-in source and backend.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.add_source("hf", Arc::new(benchy_source_hf::HfSource::default()));
    registry.add_source("file", Arc::new(benchy_source_file::FileSource));
    registry.add_source("yaml", Arc::new(benchy_source_yaml::YamlSource));
    registry.add_backend("lm-eval", Arc::new(benchy_backend_lm_eval::LmEvalBackend));
    registry.add_backend("vllm", Arc::new(benchy_backend_vllm::VllmBackend));
    registry
}
