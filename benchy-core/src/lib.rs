//! benchy-core: the contract between benchy's host and its plugins. Generation parameters and
//! their validation, layers and the merge with provenance, normalization, the run-config
//! schema, and the traits sources and backends implement. No async runtime and no network.

pub mod backend;
pub mod diagnostic;
pub mod env_vars;
pub mod layer;
pub mod merge;
pub mod normalize;
pub mod params;
pub mod process;
pub mod registry;
pub mod run_config;
pub mod source;
pub mod verify;
pub mod wire;
pub mod yaml;

pub use backend::{Backend, BackendError, Plan, PlanRequest, RunView};
pub use diagnostic::{Diagnostic, Level};
pub use env_vars::EnvVars;
pub use layer::{Artifact, Entry, Layer, LayerError, SourceRef, Strictness};
pub use merge::{Resolved, ResolvedParam, merge};
pub use normalize::normalize;
pub use params::{InvalidParam, Key, ParamValue};
pub use process::{EnvValue, Listen, ProcessSpec, Role};
pub use registry::Registry;
pub use run_config::{ConfigError, Model, ModelLocation, Provider, RunConfig, Task};
pub use source::{ConfigSource, ModelRef, SourceError, SourceReply, SourceRequest};
pub use wire::Wire;
