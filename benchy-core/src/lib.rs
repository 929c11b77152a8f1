//! benchy-core: the contract between benchy's host and its plugins. Generation parameters and
//! their validation, layers and the merge with provenance, normalization, the run-config
//! schema, and the traits sources and backends implement. No async runtime and no network.
//!
//! The plugin boundary lives here too: the C ABI ([`abi`]) and its JSON protocol
//! ([`protocol`]), the SDK a plugin author uses ([`export_plugin!`], [`sdk`]), the manifest
//! read without loading a library ([`manifest`]), discovery ([`catalog`]), the loader
//! ([`loader`]) and the adapters that drive a loaded plugin through the traits ([`adapter`]).
//! `unsafe` code is allowed only in `abi`, `sdk` and `loader`.

pub mod abi;
pub mod adapter;
pub mod backend;
pub mod catalog;
pub mod diagnostic;
pub mod env_vars;
pub mod layer;
pub mod loader;
pub mod manifest;
pub mod merge;
pub mod normalize;
pub mod params;
pub mod process;
pub mod protocol;
pub mod registry;
pub mod run_config;
pub mod sdk;
pub mod source;
pub mod verify;
pub mod wire;
pub mod yaml;

pub use backend::{Backend, BackendError, Plan, PlanRequest, RunView};
pub use catalog::{Catalog, PluginFile};
pub use diagnostic::{Diagnostic, Level};
pub use env_vars::EnvVars;
pub use layer::{Artifact, Entry, Layer, LayerError, SourceRef, Strictness};
pub use manifest::Manifest;
pub use merge::{Resolved, ResolvedParam, merge};
pub use normalize::normalize;
pub use params::{InvalidParam, Key, ParamValue};
pub use process::{EnvValue, Listen, ProcessSpec, Role};
pub use registry::Registry;
pub use run_config::{ConfigError, Model, ModelLocation, Provider, RunConfig, Task};
pub use source::{ConfigSource, ModelRef, SourceError, SourceReply, SourceRequest};
pub use wire::Wire;
