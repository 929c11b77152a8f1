//! benchy-core: the contract between benchy and its plugins, and nothing else. Generation
//! parameters and their checks ([`params`]), layers and the merge with provenance ([`layer`],
//! [`merge`], [`normalize`]), the same parameters in the OpenAI-compatible API's names
//! ([`openai`]), the traits sources and backends implement with the data they exchange
//! ([`source`], [`backend`], [`process`]), the JSON protocol ([`protocol`]), the C ABI table
//! ([`abi`]) and the SDK macro a plugin author writes ([`export_plugin!`], [`sdk`]).
//!
//! It depends on serde, serde_json and thiserror only: a plugin crate compiles this and its own
//! code. Loading plugins, run configs and everything that runs processes belong to the host.
//! `unsafe` code is allowed only in `abi` and `sdk`.

pub mod abi;
pub mod backend;
pub mod diagnostic;
pub mod environment;
pub mod json;
pub mod layer;
pub mod merge;
pub mod normalize;
pub mod openai;
pub mod params;
pub mod paths;
pub mod problem;
pub mod process;
pub mod protocol;
pub mod python;
pub mod sdk;
pub mod source;

pub use backend::{Backend, BackendError, ModeView, Plan, PlanRequest, RunView};
pub use diagnostic::{Diagnostic, Level};
pub use environment::PythonEnv;
pub use layer::{Artifact, Entry, Layer, LayerError, SourceRef, Strictness};
pub use merge::{Resolved, ResolvedParam, merge};
pub use normalize::normalize;
pub use params::{InvalidParam, Key, ParamValue};
pub use problem::Problem;
pub use process::{AnswerStops, EnvValue, Expectation, Expected, Listen, ProcessSpec, Role};
pub use source::{ConfigSource, ModelRef, SourceError, SourceReply, SourceRequest};
