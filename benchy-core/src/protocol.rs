//! The JSON protocol spoken over the ABI's `call` function (version
//! [`crate::abi::PROTOCOL_VERSION`]): the method names, the request envelope, and the reply
//! shapes that are not the traits' own types.
//!
//! | method            | request `request` field | reply on `STATUS_OK` | on `STATUS_ERROR` |
//! |-------------------|-------------------------|----------------------|-------------------|
//! | `plugin.describe` | (none)                  | [`Description`]      | -                 |
//! | `source.resolve`  | `SourceRequest`         | `SourceReply`        | `SourceError`     |
//! | `backend.plan`    | `PlanRequest`           | `Plan`               | `BackendError`    |
//! | `backend.collect` | `CollectRequest`        | `Collected`          | `BackendError`    |
//!
//! Every request is a [`Call`]: the name of the source scheme or backend it is for, and the
//! trait's request. `STATUS_FAULT` always carries a [`Fault`].

use serde::{Deserialize, Serialize};

pub const DESCRIBE: &str = "plugin.describe";
pub const RESOLVE: &str = "source.resolve";
pub const PLAN: &str = "backend.plan";
pub const COLLECT: &str = "backend.collect";

/// A request: which of the plugin's sources or backends, and what to ask it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call<T> {
    pub name: String,
    pub request: T,
}

/// Why a plugin could not run a method at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub message: String,
}

/// What a plugin serves, as its code sees it (the manifest says the same without running it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    pub sources: Vec<String>,
    /// Backends that run tasks against a server (`--backend`).
    pub task_backends: Vec<String>,
    /// Backends that plan the server a run launches (a provider config's `backend`).
    pub server_backends: Vec<String>,
}
