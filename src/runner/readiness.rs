//! The readiness probe: `GET /health` until 200, then `GET /v1/models` until it lists the served
//! model. A TCP connect proves nothing (vLLM binds its port before it loads the model, in
//! `setup_server`, vllm/entrypoints/launchers/launcher.py) and `/health` answers before the
//! model name is served by every server, so the model list is the last word.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value as Json;

use crate::util::env_vars::EnvVars;

/// How often the probe asks. The bound is 100 to 250 ms; the lower end keeps the time
/// from "healthy" to "benchy says ready" short (see the README's performance section).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One request's limit: a server that accepts but does not answer is retried, not waited on.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a server answers: its root URL (`http://127.0.0.1:8000`) and the probe's paths.
#[derive(Clone, Debug)]
pub struct Probe {
    client: reqwest::Client,
    root: String,
    health_url: String,
    models_url: String,
    /// The names the server may serve the model under; the first listed one is used.
    models: Vec<String>,
    healthy: bool,
    served: Option<Served>,
}

/// The model as the ready server lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    pub id: String,
    /// vLLM's `/v1/models` gives each model's context length.
    pub max_model_len: Option<u64>,
}

/// What the last probe saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeState {
    Ready,
    NotReady(String),
}

impl Probe {
    /// A probe of `root` (no trailing slash) waiting for any of `models`. `direct` skips proxies
    /// from the environment: a server benchy launched is on loopback, where a proxy can only
    /// get in the way.
    pub fn new(
        root: &str,
        health_path: &str,
        models_path: &str,
        models: Vec<String>,
        direct: bool,
    ) -> Result<Probe> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .default_headers(bearer_header());
        if direct {
            builder = builder.no_proxy();
        }
        Ok(Probe {
            client: builder.build().context("cannot build the HTTP client")?,
            root: root.to_owned(),
            health_url: format!("{root}{health_path}"),
            models_url: format!("{root}{models_path}"),
            models,
            healthy: false,
            served: None,
        })
    }

    /// The model as the server listed it, once the probe passed.
    pub fn served(&self) -> Option<&Served> {
        self.served.as_ref()
    }

    /// The server's version from `GET <path>` (`{"version": "0.32.0"}`, as vLLM's `/version`
    /// answers), for the run record; `None` when it has no such endpoint.
    pub async fn server_version(&self, path: &str) -> Option<String> {
        let response = self
            .client
            .get(format!("{}{path}", self.root))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())?;
        let body: Json = response.json().await.ok()?;
        body.get("version")
            .and_then(Json::as_str)
            .map(str::to_owned)
    }

    /// Asks once: `/health` until it has answered 200, then the model list.
    pub async fn check(&mut self) -> ProbeState {
        if !self.healthy {
            match self.client.get(&self.health_url).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::debug!(url = %self.health_url, "healthy");
                    self.healthy = true;
                }
                Ok(r) => {
                    return ProbeState::NotReady(format!("{}: {}", self.health_url, r.status()));
                }
                Err(e) => {
                    return ProbeState::NotReady(format!("{}: {}", self.health_url, short(&e)));
                }
            }
        }
        match self.models().await {
            Ok(listed) => {
                let found = self
                    .models
                    .iter()
                    .find_map(|want| listed.iter().find(|served| &served.id == want));
                match found {
                    Some(served) => {
                        self.served = Some(served.clone());
                        ProbeState::Ready
                    }
                    None => ProbeState::NotReady(format!(
                        "{} lists {}, not `{}`",
                        self.models_url,
                        if listed.is_empty() {
                            "no model".to_owned()
                        } else {
                            listed
                                .iter()
                                .map(|m| m.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                        self.models.join("` or `")
                    )),
                }
            }
            Err(e) => ProbeState::NotReady(format!("{}: {e:#}", self.models_url)),
        }
    }

    /// The `data[].id` (and `max_model_len`) of an OpenAI-style model list.
    async fn models(&self) -> Result<Vec<Served>> {
        let response = self
            .client
            .get(&self.models_url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(short(&e)))?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("{status}");
        }
        let body: Json = response.json().await.context("not JSON")?;
        let data = body
            .get("data")
            .and_then(Json::as_array)
            .context("no `data` list")?;
        Ok(data
            .iter()
            .filter_map(|m| {
                Some(Served {
                    id: m.get("id").and_then(Json::as_str)?.to_owned(),
                    max_model_len: m.get("max_model_len").and_then(Json::as_u64),
                })
            })
            .collect())
    }
}

/// `Authorization: Bearer $OPENAI_API_KEY` when it is set: a server started with an API key
/// (vLLM's `--api-key`) answers its model list only with it, and lm-eval's requests carry the
/// same header from the same variable.
pub(crate) fn bearer_header() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    let key = std::env::var(EnvVars::OPENAI_API_KEY).unwrap_or_default();
    if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
        && !key.is_empty()
    {
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    headers
}

/// A request error without the URL reqwest repeats: "cannot connect", "no answer within 2 s".
fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within 2 s".to_owned();
    }
    if e.is_connect() {
        return "cannot connect".to_owned();
    }
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
