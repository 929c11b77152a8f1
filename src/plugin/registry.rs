//! The registry: which source answers each `--source` scheme and which backend each name
//! means, in its role: a task backend (`--backend`) or a server backend (a provider's
//! `backend`). Built-in plugins are registered by the host at start-up and always win: a plugin
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
    /// Each built-in backend with its role ([`Kind::TaskBackend`] or [`Kind::ServerBackend`]).
    backends: Vec<(Kind, String, Arc<dyn Backend>)>,
    plugins: Catalog,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sources", &self.names(Kind::Source))
            .field("task_backends", &self.names(Kind::TaskBackend))
            .field("server_backends", &self.names(Kind::ServerBackend))
            .field("plugins", &self.plugins)
            .finish()
    }
}

/// A name no built-in and no usable plugin answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Unknown {
    pub what: &'static str,
    pub name: String,
    /// The role the name has, when it is a backend of the other role.
    pub other_role: Option<Kind>,
    /// Built-in names, then plugin names with the file that provides them.
    pub known: Vec<String>,
    /// Plugin files that declare this name, or whose manifest cannot be read, with the reason.
    pub unusable: Vec<String>,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} `{}`", self.what, self.name)?;
        if let Some(role) = self.other_role {
            let what = match role {
                Kind::ServerBackend => "it plans a server: a provider config's `backend`",
                Kind::TaskBackend => "it runs tasks: `benchy eval --backend`",
                Kind::Source => "a `--source` scheme",
            };
            write!(f, " (`{}` is a {role}; {what})", self.name)?;
        }
        f.write_str("; known: ")?;
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

    /// Adds a built-in backend in its role (`kind` is a backend kind).
    pub fn add_backend(&mut self, kind: Kind, name: &str, backend: Arc<dyn Backend>) {
        self.backends.push((kind, name.to_owned(), backend));
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

    /// The backend `name` of the role `kind` (a backend kind): a built-in, else a plugin's.
    pub fn backend(&self, kind: Kind, name: &str) -> Result<Arc<dyn Backend>, Unknown> {
        let builtin = self
            .backends
            .iter()
            .find(|(k, n, _)| *k == kind && n == name);
        if let Some((_, _, backend)) = builtin {
            return Ok(Arc::clone(backend));
        }
        match self.plugin_provider(kind, name) {
            Some((file, notes)) => Ok(Arc::new(PluginBackend::new(file, name, notes))),
            None => Err(self.unknown(kind, name)),
        }
    }

    /// The built-in names of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Source => self.sources.iter().map(|(s, _)| s.clone()).collect(),
            _ => self
                .backends
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, n, _)| n.clone())
                .collect(),
        }
    }

    /// The role `name` has as a backend other than `kind`, built in or a plugin's.
    fn other_role(&self, kind: Kind, name: &str) -> Option<Kind> {
        let other = match kind {
            Kind::Source => return None,
            Kind::TaskBackend => Kind::ServerBackend,
            Kind::ServerBackend => Kind::TaskBackend,
        };
        let declared = self.plugins.files().iter().any(|file| {
            file.usable_manifest()
                .is_ok_and(|m| m.provides(other, name))
        });
        (declared || self.names(other).iter().any(|n| n == name)).then_some(other)
    }

    /// Each plugin file with the names it declares that an earlier provider has, in
    /// precedence order (reads every manifest, loads nothing).
    pub fn shadowing(&self) -> Vec<(Arc<PluginFile>, Vec<Shadowed>)> {
        let mut taken: Vec<(Kind, String, String)> = Kind::ALL
            .into_iter()
            .flat_map(|kind| {
                self.names(kind)
                    .into_iter()
                    .map(move |n| (kind, n, "the built-in".to_owned()))
            })
            .collect();
        let mut out = Vec::new();
        for file in self.plugins.files() {
            let mut shadowed = Vec::new();
            if let Ok(manifest) = file.usable_manifest() {
                for kind in Kind::ALL {
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
        let mut names = self.names(kind);
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
                Kind::TaskBackend => "task backend",
                Kind::ServerBackend => "server backend",
            },
            name: name.to_owned(),
            other_role: self.other_role(kind, name),
            known,
            unusable: unusable
                .into_iter()
                .filter(|(declared, _)| *declared || !any_declared)
                .map(|(_, problem)| problem)
                .collect(),
        }
    }
}
