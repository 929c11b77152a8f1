//! The table of built-in plugins, linked statically so `benchy` works with no plugin files, and
//! the defaults that name them. The only place in the host that names a built-in source or
//! backend: everything else asks the registry or uses these constants.

use std::sync::Arc;

use super::manifest::Kind;
use super::registry::Registry;

/// The source used when no `--source` is given: the model's own `generation_config.json`.
pub const DEFAULT_SOURCE: &str = "hf";
/// The task backend used when no `--backend` is given.
pub const DEFAULT_TASK_BACKEND: &str = "lm-eval";
/// The server backend used when a provider config names no `backend`.
pub const DEFAULT_SERVER_BACKEND: &str = "vllm";

/// A registry holding every built-in source and backend.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.add_source(
        DEFAULT_SOURCE,
        Arc::new(benchy_source_hf::HfSource::default()),
    );
    registry.add_source("file", Arc::new(benchy_source_file::FileSource));
    registry.add_source("yaml", Arc::new(benchy_source_yaml::YamlSource));
    registry.add_backend(
        Kind::TaskBackend,
        DEFAULT_TASK_BACKEND,
        Arc::new(benchy_backend_lm_eval::LmEvalBackend),
    );
    registry.add_backend(
        Kind::TaskBackend,
        "inspect",
        Arc::new(benchy_backend_inspect::InspectBackend),
    );
    registry.add_backend(
        Kind::ServerBackend,
        DEFAULT_SERVER_BACKEND,
        Arc::new(benchy_backend_vllm::VllmBackend),
    );
    registry
}
