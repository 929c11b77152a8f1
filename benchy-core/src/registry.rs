//! The registry: which source answers each `--source` scheme and which backend each name
//! means. Built-in plugins are registered by the host at start-up; their names are taken
//! first, so a plugin cannot silently replace one.

use std::sync::Arc;

use crate::backend::Backend;
use crate::source::ConfigSource;

#[derive(Default)]
pub struct Registry {
    sources: Vec<(String, Arc<dyn ConfigSource>)>,
    backends: Vec<(String, Arc<dyn Backend>)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sources", &self.source_schemes())
            .field("backends", &self.backend_names())
            .finish()
    }
}

/// A name no registered source or backend answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`; known: {}", known.join(", "))]
pub struct Unknown {
    pub what: &'static str,
    pub name: String,
    pub known: Vec<String>,
}

impl Registry {
    pub fn add_source(&mut self, scheme: &str, source: Arc<dyn ConfigSource>) {
        self.sources.push((scheme.to_owned(), source));
    }

    pub fn add_backend(&mut self, name: &str, backend: Arc<dyn Backend>) {
        self.backends.push((name.to_owned(), backend));
    }

    pub fn source(&self, scheme: &str) -> Result<Arc<dyn ConfigSource>, Unknown> {
        self.sources
            .iter()
            .find(|(s, _)| s == scheme)
            .map(|(_, source)| Arc::clone(source))
            .ok_or_else(|| Unknown {
                what: "source scheme",
                name: scheme.to_owned(),
                known: self.source_schemes(),
            })
    }

    pub fn backend(&self, name: &str) -> Result<Arc<dyn Backend>, Unknown> {
        self.backends
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, backend)| Arc::clone(backend))
            .ok_or_else(|| Unknown {
                what: "backend",
                name: name.to_owned(),
                known: self.backend_names(),
            })
    }

    pub fn source_schemes(&self) -> Vec<String> {
        self.sources.iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn backend_names(&self) -> Vec<String> {
        self.backends.iter().map(|(n, _)| n.clone()).collect()
    }
}
