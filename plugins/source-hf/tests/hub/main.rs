//! The `hf` source against the stand-in Hub: the real protocol on loopback, a fresh cache per
//! test, request counts checked. One test binary; each module is one concern.

mod cache;
mod corpus;
mod errors;
mod faults;
mod interop;
mod protocol;
mod template;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use benchy_core::{
    ConfigSource, Diagnostic, Layer, Level, ModelRef, SourceError, SourceReply, SourceRequest,
};
use benchy_source_hf::HfSource;
use benchy_source_hf::settings::{HubSettings, RetryPolicy, Token, TokenSource};
use benchy_testkit::StandInHub;
use tempfile::TempDir;

pub const GEN: &str = "generation_config.json";

/// Quick retries so fault tests take milliseconds; the counts are what is checked.
pub const FAST_RETRIES: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_wait: Duration::from_millis(10),
    max_wait: Duration::from_millis(40),
};

/// A stand-in Hub, an empty cache, and the source's settings pointing at both.
#[derive(Debug)]
pub struct Env {
    pub hub: StandInHub,
    pub dir: TempDir,
    pub settings: HubSettings,
}

impl Env {
    pub fn start() -> Env {
        let hub = StandInHub::start();
        // These tests are about the generation config's protocol; the chat-template lookups
        // that follow it have theirs in `template`.
        hub.watch(GEN);
        let dir = tempfile::tempdir().unwrap();
        let settings = HubSettings {
            endpoint: hub.url(),
            cache_dir: dir.path().join("hub"),
            token: TokenSource::None,
            metadata_timeout: Duration::from_secs(2),
            download_timeout: Duration::from_secs(2),
            retry: FAST_RETRIES,
        };
        Env { hub, dir, settings }
    }

    pub fn cache(&self) -> &Path {
        &self.settings.cache_dir
    }

    pub fn with_token(mut self, token: &str) -> Env {
        self.settings.token = TokenSource::Env {
            name: "HF_TOKEN",
            token: Token::clean(token).unwrap(),
        };
        self
    }

    pub fn resolve(&self, repo: &str, revision: Option<&str>) -> Result<SourceReply, SourceError> {
        self.resolve_with(repo, revision, false)
    }

    pub fn resolve_offline(
        &self,
        repo: &str,
        revision: Option<&str>,
    ) -> Result<SourceReply, SourceError> {
        self.resolve_with(repo, revision, true)
    }

    fn resolve_with(
        &self,
        repo: &str,
        revision: Option<&str>,
        offline: bool,
    ) -> Result<SourceReply, SourceError> {
        HfSource::with_settings(self.settings.clone()).resolve(&request(repo, revision, offline))
    }

    /// The layer of a resolution that must succeed with one.
    #[track_caller]
    pub fn layer(&self, repo: &str, revision: Option<&str>) -> Layer {
        let reply = self.resolve(repo, revision).expect("resolves");
        reply
            .layer
            .unwrap_or_else(|| panic!("no layer: {:?}", reply.diagnostics))
    }

    /// The repo's folder in the cache.
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.cache()
            .join(format!("models--{}", repo.replace('/', "--")))
    }
}

pub fn request(repo: &str, revision: Option<&str>, offline: bool) -> SourceRequest {
    SourceRequest {
        spec: "hf".into(),
        scheme: "hf".into(),
        argument: None,
        model: ModelRef {
            name: repo.into(),
            revision: revision.map(str::to_owned),
            local_dir: None,
        },
        base_dir: PathBuf::from("/"),
        offline,
    }
}

/// The messages of `level` among `diagnostics`.
pub fn messages(diagnostics: &[Diagnostic], level: Level) -> Vec<String> {
    diagnostics
        .iter()
        .filter(|d| d.level == level)
        .map(|d| d.message.clone())
        .collect()
}

/// The `Unavailable` message of a resolution that must fail that way.
#[track_caller]
pub fn unavailable(result: Result<SourceReply, SourceError>) -> String {
    match result {
        Err(SourceError::Unavailable(problem)) => problem.to_string(),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// Every path under `dir`, relative, as text.
pub fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            }
        }
    }
    out
}
