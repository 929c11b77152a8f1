//! The registry: which source answers each `--source` scheme and which backend each name
//! means. Built-in plugins are registered by the host at start-up and always win: a plugin
//! cannot replace a built-in name. Names the built-ins do not have are looked up in the plugin
//! catalog (manifests only; a plugin's library is opened when its source or backend is first
//! called), the first plugin in precedence order winning.

use std::sync::Arc;

use benchy_core::backend::Backend;
use benchy_core::diagnostic::Diagnostic;
use benchy_core::source::ConfigSource;

use super::adapter::{PluginBackend, PluginSource};
use super::catalog::{Catalog, PluginFile};
use super::manifest::Kind;

#[derive(Default)]
pub struct Registry {
    sources: Vec<(String, Arc<dyn ConfigSource>)>,
    backends: Vec<(String, Arc<dyn Backend>)>,
    plugins: Catalog,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sources", &self.source_schemes())
            .field("backends", &self.backend_names())
            .field("plugins", &self.plugins)
            .finish()
    }
}

/// A name no built-in and no usable plugin answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Unknown {
    pub what: &'static str,
    pub name: String,
    /// Built-in names, then plugin names with the file that provides them.
    pub known: Vec<String>,
    /// Plugin files that declare this name, or whose manifest cannot be read, with the reason.
    pub unusable: Vec<String>,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} `{}`; known: ", self.what, self.name)?;
        if self.known.is_empty() {
            f.write_str("none")?;
        } else {
            f.write_str(&self.known.join(", "))?;
        }
        for problem in &self.unusable {
            write!(f, "; not usable: {problem}")?;
        }
        Ok(())
    }
}

/// A name a plugin declares that an earlier provider (a built-in or a plugin before it) has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shadowed {
    pub kind: Kind,
    pub name: String,
    /// `built-in`, or the label of the plugin that wins.
    pub by: String,
}

impl std::fmt::Display for Shadowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "its {} `{}` is not used: {} provides it",
            self.kind, self.name, self.by
        )
    }
}

impl Registry {
    pub fn add_source(&mut self, scheme: &str, source: Arc<dyn ConfigSource>) {
        self.sources.push((scheme.to_owned(), source));
    }

    pub fn add_backend(&mut self, name: &str, backend: Arc<dyn Backend>) {
        self.backends.push((name.to_owned(), backend));
    }

    /// The plugin files to look names up in after the built-ins.
    pub fn set_plugins(&mut self, plugins: Catalog) {
        self.plugins = plugins;
    }

    pub fn plugins(&self) -> &Catalog {
        &self.plugins
    }

    pub fn source(&self, scheme: &str) -> Result<Arc<dyn ConfigSource>, Unknown> {
        if let Some((_, source)) = self.sources.iter().find(|(s, _)| s == scheme) {
            return Ok(Arc::clone(source));
        }
        match self.plugin_provider(Kind::Source, scheme) {
            Some((file, notes)) => Ok(Arc::new(PluginSource::new(file, scheme, notes))),
            None => Err(self.unknown(Kind::Source, scheme)),
        }
    }

    pub fn backend(&self, name: &str) -> Result<Arc<dyn Backend>, Unknown> {
        if let Some((_, backend)) = self.backends.iter().find(|(n, _)| n == name) {
            return Ok(Arc::clone(backend));
        }
        match self.plugin_provider(Kind::Backend, name) {
            Some((file, notes)) => Ok(Arc::new(PluginBackend::new(file, name, notes))),
            None => Err(self.unknown(Kind::Backend, name)),
        }
    }

    /// The built-in source schemes.
    pub fn source_schemes(&self) -> Vec<String> {
        self.sources.iter().map(|(s, _)| s.clone()).collect()
    }

    /// The built-in backend names.
    pub fn backend_names(&self) -> Vec<String> {
        self.backends.iter().map(|(n, _)| n.clone()).collect()
    }

    fn builtin_names(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Source => self.source_schemes(),
            Kind::Backend => self.backend_names(),
        }
    }

    /// Each plugin file with the names it declares that an earlier provider has, in
    /// precedence order (reads every manifest, loads nothing).
    pub fn shadowing(&self) -> Vec<(Arc<PluginFile>, Vec<Shadowed>)> {
        let mut taken: Vec<(Kind, String, String)> = [Kind::Source, Kind::Backend]
            .into_iter()
            .flat_map(|kind| {
                self.builtin_names(kind)
                    .into_iter()
                    .map(move |n| (kind, n, "the built-in".to_owned()))
            })
            .collect();
        let mut out = Vec::new();
        for file in self.plugins.files() {
            let mut shadowed = Vec::new();
            if let Ok(manifest) = file.usable_manifest() {
                for kind in [Kind::Source, Kind::Backend] {
                    for name in manifest.names(kind) {
                        match taken.iter().find(|(k, n, _)| *k == kind && n == name) {
                            Some((_, _, by)) => shadowed.push(Shadowed {
                                kind,
                                name: name.clone(),
                                by: by.clone(),
                            }),
                            None => taken.push((kind, name.clone(), file.label())),
                        }
                    }
                }
            }
            out.push((Arc::clone(file), shadowed));
        }
        out
    }

    /// The first usable plugin declaring `name`, with warnings for its user: the names of this
    /// plugin a built-in or an earlier plugin has, and later plugins declaring `name` too.
    fn plugin_provider(
        &self,
        kind: Kind,
        name: &str,
    ) -> Option<(Arc<PluginFile>, Vec<Diagnostic>)> {
        let providers = self.plugins.providers(kind, name);
        let (first, others) = providers.split_first()?;
        let mut notes: Vec<Diagnostic> = self
            .shadowing()
            .into_iter()
            .filter(|(file, _)| Arc::ptr_eq(file, first))
            .flat_map(|(file, shadowed)| {
                shadowed
                    .into_iter()
                    .map(move |s| Diagnostic::warning(format!("{}: {s}", file.label())))
            })
            .collect();
        notes.extend(
            first
                .exposure()
                .map(|why| Diagnostic::warning(format!("{}: {why}", first.label()))),
        );
        notes.extend(others.iter().map(|other| {
            Diagnostic::warning(format!(
                "{}: its {kind} `{name}` is not used: {} provides it",
                other.label(),
                first.label()
            ))
        }));
        Some((Arc::clone(first), notes))
    }

    fn unknown(&self, kind: Kind, name: &str) -> Unknown {
        let mut names = self.builtin_names(kind);
        let mut known = names.clone();
        let mut unusable = Vec::new();
        for file in self.plugins.files() {
            match file.usable_manifest() {
                Ok(manifest) => {
                    for n in manifest.names(kind) {
                        if !names.contains(n) {
                            names.push(n.clone());
                            known.push(format!("{n} (plugin {})", file.path().display()));
                        }
                    }
                }
                Err(problem) => {
                    let declared = file.manifest().is_ok_and(|m| m.provides(kind, name));
                    unusable.push((declared, format!("{}: {problem}", file.path().display())));
                }
            }
        }
        // A file that is not a plugin at all is worth a word only while nothing better
        // explains the unknown name.
        let any_declared = unusable.iter().any(|(declared, _)| *declared);
        Unknown {
            what: match kind {
                Kind::Source => "source scheme",
                Kind::Backend => "backend",
            },
            name: name.to_owned(),
            known,
            unusable: unusable
                .into_iter()
                .filter(|(declared, _)| *declared || !any_declared)
                .map(|(_, problem)| problem)
                .collect(),
        }
    }
}
