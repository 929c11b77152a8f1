//! benchy-testkit: what benchy's tests and benchmarks share. [`StandInHub`] is a Hugging Face
//! Hub on 127.0.0.1 speaking the real `resolve` protocol (headers, status codes, redirects,
//! gating, faults, latency) and counting every request; [`python`] finds the project's Python
//! environment to run the real huggingface_hub against the same stand-in; [`runs`] writes run
//! folders by hand for the commands that read runs back; [`slurm`] starts a private one-node
//! Slurm for the Slurm executor's tests.
//!
//! ```no_run
//! let hub = benchy_testkit::StandInHub::start();
//! let commit = hub.publish_generation_config("org/model", r#"{"temperature": 0.6}"#);
//! // point HF_ENDPOINT at hub.url(), resolve, then:
//! assert_eq!(hub.count("HEAD"), 1);
//! # let _ = commit;
//! ```

mod http;
pub mod hub;
pub mod openai;
pub mod python;
pub mod runs;
pub mod slurm;

pub use hub::{FaultKind, Origin, Recorded, StandInHub, git_blob_sha1};

use std::path::PathBuf;

/// `name` on `PATH`, or in the system folders where Debian puts daemons (`PATH` may lack
/// `/usr/sbin`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The real-world reference inputs kept in the repository under `tests/corpus/reference/<name>`
/// (the Python tool's run configs, real `generation_config.json` files, copied unchanged).
pub fn reference_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus/reference")
        .join(name);
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("the reference folder {} is unreadable: {e}", dir.display()))
}
