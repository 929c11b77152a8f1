//! The plugin host: which plugin files exist ([`catalog`]), what each provides, read without
//! loading it ([`manifest`], [`library_file`]), opening a library and checking its table
//! ([`loader`]), driving a loaded plugin through benchy-core's traits ([`adapter`]), and the
//! registry that answers each source scheme and backend name, built-ins first ([`registry`],
//! [`builtins`]).

pub mod adapter;
pub mod builtins;
pub mod catalog;
pub mod library_file;
pub mod loader;
pub mod manifest;
pub mod registry;

pub use catalog::{Catalog, PluginFile};
pub use registry::Registry;
