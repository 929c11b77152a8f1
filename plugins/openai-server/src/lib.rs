//! `backend: openai-server` in a provider config: launches any OpenAI-compatible server (SGLang,
//! TGI, llama.cpp's server...) from the command the provider gives, and tells benchy how to see
//! that it is ready. It is also the example of a server backend: it describes one process with
//! a readiness probe, and benchy starts, watches and stops it.
//!
//! ```yaml
//! # providers/my-server.yaml
//! backend: openai-server
//! command: [python, -m, sglang.launch_server, --model-path, "{model}", --port, "{port}",
//!           --served-model-name, "{served_model_name}", --host, 127.0.0.1]
//! health_path: /health          # default /health
//! startup_timeout: 600          # seconds; default 900
//! ```

use std::collections::BTreeMap;

use benchy_core::backend::{Backend, CollectRequest, Collected, Plan, PlanRequest, ServerInfo};
use benchy_core::process::{EnvValue, Listen, PORT_PLACEHOLDER, ProcessSpec, Role};
use benchy_core::{BackendError, Diagnostic, Problem, RunView};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Default)]
pub struct OpenAiServer;

benchy_core::export_plugin! {
    server_backends: ["openai-server" => OpenAiServer],
}

/// The provider's settings: `{port}`, `{model}` (a local directory or the Hub id) and
/// `{served_model_name}` in `command` and `env` values are filled in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    command: Vec<String>,
    #[serde(default = "defaults::health_path")]
    health_path: String,
    #[serde(default = "defaults::models_path")]
    models_path: String,
    #[serde(default)]
    version_path: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default = "defaults::startup_timeout")]
    startup_timeout: f64,
    #[serde(default = "defaults::stop_grace")]
    stop_grace: f64,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

mod defaults {
    pub fn health_path() -> String {
        "/health".into()
    }
    pub fn models_path() -> String {
        "/v1/models".into()
    }
    pub fn startup_timeout() -> f64 {
        900.0
    }
    pub fn stop_grace() -> f64 {
        benchy_core::process::DEFAULT_STOP_GRACE_SECS
    }
}

impl Backend for OpenAiServer {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        if request.server.is_some() {
            return Err(BackendError::input(
                "openai-server is a server backend: it does not run tasks",
            ));
        }
        let settings = settings(&request.run)?;
        let served = request.run.model.short_name.clone();
        let fill = |word: &String| {
            word.replace("{model}", &model_argument(&request.run))
                .replace("{served_model_name}", &served)
        };
        let mut words = settings.command.iter().map(fill);
        let program = words
            .next()
            .ok_or_else(|| invalid(&request.run, "`command` is empty"))?;
        let env = settings
            .env
            .iter()
            .map(|(k, v)| (k.clone(), EnvValue::plain(fill(v))))
            .collect();
        let server = ProcessSpec {
            env,
            listen: Some(Listen {
                host: "127.0.0.1".into(),
                preferred_port: settings.port,
                health_path: settings.health_path,
                models_path: settings.models_path,
                model: served.clone(),
                version_path: settings.version_path,
                startup_phases: Vec::new(),
            }),
            timeout_secs: Some(settings.startup_timeout),
            stop_grace_secs: settings.stop_grace,
            ..ProcessSpec::new(
                "openai-server",
                Role::Server,
                program,
                words.collect(),
                "server.log",
            )
        };
        Ok(Plan {
            processes: vec![server],
            server: Some(ServerInfo {
                base_url: format!("http://127.0.0.1:{PORT_PLACEHOLDER}/v1"),
                model: served,
                max_model_len: None,
                capacity: None,
            }),
            diagnostics: vec![Diagnostic::info(
                "openai-server cannot give the server benchy's parameters as defaults: \
                 requests carry them, and what a request leaves out is the server's own",
            )],
            ..Plan::default()
        })
    }

    /// A server leaves no results of its own.
    fn collect(&self, _request: &CollectRequest) -> Result<Collected, BackendError> {
        Ok(Collected::default())
    }
}

fn settings(run: &RunView) -> Result<Settings, BackendError> {
    let provider = run.provider.as_ref().ok_or_else(|| {
        invalid(
            run,
            "no provider config: add `vllm: {provider_config: NAME}`",
        )
    })?;
    serde_json::from_value(Json::Object(provider.settings.clone()))
        .map_err(|e| invalid(run, &format!("{e}")))
}

/// A problem with the provider config, naming its file.
fn invalid(run: &RunView, problem: &str) -> BackendError {
    let file = run.provider.as_ref().map_or(&run.config_path, |p| &p.path);
    BackendError::Input(Box::new(
        Problem::new(format!("openai-server: {problem}")).in_file(file.display().to_string()),
    ))
}

/// The model as the server is given it: a local directory, else the Hub repo id.
fn model_argument(run: &RunView) -> String {
    match &run.model.local_dir {
        Some(dir) => dir.display().to_string(),
        None => run.model.name.clone(),
    }
}
