//! The `vllm` backend: describes the vLLM OpenAI-compatible server of a run from its provider
//! config. It never starts anything; the host runs the [`ProcessSpec`] it returns.
//!
//! The server's sampling defaults are exactly the resolved parameters: it is launched with
//! `--generation-config vllm` (no defaults from the model's own file) and
//! `--override-generation-config` holding the resolved set in vLLM's names
//! ([`benchy_core::wire::vllm_server_defaults`]).

mod provider;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchy_core::backend::{CollectRequest, Collected, ServerInfo};
use benchy_core::process::PORT_PLACEHOLDER;
use benchy_core::wire::vllm_server_defaults;
use benchy_core::{
    Backend, BackendError, Diagnostic, EnvValue, EnvVars, Listen, Plan, PlanRequest, ProcessSpec,
    Role, RunView,
};
use serde_json::Value as Json;

pub use provider::{DEFAULT_COMMAND, DEFAULT_STARTUP_TIMEOUT_SECS, KNOWN_KEYS, ProviderSettings};

/// The file, inside the run folder, the server's output goes to.
pub const SERVER_LOG: &str = "server.log";

#[derive(Debug, Default)]
pub struct VllmBackend;

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    backends: ["vllm" => VllmBackend],
}

impl Backend for VllmBackend {
    /// Plans the server of the run. Asked with a server already given (`--server-url`), there is
    /// nothing to launch and the plan is empty.
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        if request.server.is_some() {
            return Ok(Plan::default());
        }
        plan_server(&request.run)
    }

    /// A server leaves no results of its own.
    fn collect(&self, _request: &CollectRequest) -> Result<Collected, BackendError> {
        Ok(Collected::default())
    }
}

fn plan_server(run: &RunView) -> Result<Plan, BackendError> {
    let provider = run.provider.as_ref().ok_or_else(|| {
        BackendError::Input(format!(
            "{}: no vLLM provider: add `vllm: {{provider_config: NAME}}` (a file in a \
             `providers/` folder) or `vllm: {{overrides: {{...}}}}`",
            run.config_path.display()
        ))
    })?;
    let settings = ProviderSettings::read(&provider.settings, &provider.path)?;
    let served_name = run.model.short_name.clone();
    let mut plan = Plan::default();

    let (program, command_rest) = settings
        .command
        .split_first()
        .expect("ProviderSettings::read refuses an empty command");
    let mut args: Vec<String> = command_rest.to_vec();
    // `--model PATH` rather than `vllm serve`'s positional model: both entry points build their
    // parser with `make_arg_parser` (vllm/entrypoints/launchers/cli_args.py), which has
    // `--model` from EngineArgs, but only `vllm serve` copies the positional `model_tag` into
    // `args.model` (ServeSubcommand.cmd in vllm/entrypoints/cli/serve.py);
    // `python -m vllm.entrypoints.openai.api_server` ignores a positional model.
    args.extend(["--model".to_owned(), model_argument(run)]);
    if run.model.local_dir.is_none()
        && let Some(revision) = &run.model.revision
    {
        args.extend(["--revision".to_owned(), revision.clone()]);
    }
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            args.extend([name.to_owned(), value]);
        }
    };
    flag("--served-model-name", Some(served_name.clone()));
    flag("--host", Some(settings.host.clone()));
    flag("--port", Some(PORT_PLACEHOLDER.to_owned()));
    flag(
        "--tensor-parallel-size",
        settings.tensor_parallel_size.map(|v| v.to_string()),
    );
    flag(
        "--max-model-len",
        settings.max_model_len.map(|v| v.to_string()),
    );
    flag(
        "--gpu-memory-utilization",
        settings.gpu_memory_utilization.map(|v| v.to_string()),
    );
    // The Python tool's rule: a text-only model (`multimodal: false`) gets no limit flag.
    if settings.multimodal {
        flag(
            "--limit-mm-per-prompt",
            settings.limit_mm_per_prompt.clone(),
        );
    }
    // vLLM's flag is `--kv-cache-memory-bytes` (EngineArgs.add_cli_args in
    // vllm/engine/arg_utils.py); it also takes `8G`-style text (human_readable_int_or_auto).
    flag("--kv-cache-memory-bytes", settings.kv_cache_memory.clone());
    flag(
        "--max-num-seqs",
        settings.max_num_seqs.map(|v| v.to_string()),
    );
    flag(
        "--max-num-batched-tokens",
        settings.max_num_batched_tokens.map(|v| v.to_string()),
    );
    if settings.enforce_eager {
        args.push("--enforce-eager".to_owned());
    }
    if settings.trust_remote_code {
        args.push("--trust-remote-code".to_owned());
    }

    let defaults = vllm_server_defaults(&run.resolved);
    args.extend([
        "--generation-config".to_owned(),
        "vllm".to_owned(),
        "--override-generation-config".to_owned(),
        defaults.to_json_text(),
        // lm-eval reads the server's tokenizer from `/tokenizer_info` instead of downloading it
        // (FrontendArgs.enable_tokenizer_info_endpoint in vllm/entrypoints/launchers/cli_args.py).
        "--enable-tokenizer-info-endpoint".to_owned(),
    ]);
    args.extend(settings.extra_args.iter().cloned());
    if let Some(summary) = defaults.not_sent_summary() {
        plan.diagnostics.push(Diagnostic::info(format!(
            "vLLM server defaults leave out: {summary}"
        )));
    }

    let env = server_env(&settings);
    record_versions(&settings, &provider.path, &mut plan);

    plan.server = Some(ServerInfo {
        base_url: format!("http://127.0.0.1:{PORT_PLACEHOLDER}/v1"),
        model: served_name.clone(),
        max_model_len: settings.max_model_len,
    });
    plan.processes.push(ProcessSpec {
        name: "vllm".to_owned(),
        role: Role::Server,
        program: program.clone(),
        args,
        env,
        cwd: None,
        listen: Some(Listen {
            host: settings.host.clone(),
            preferred_port: settings.port,
            health_path: "/health".to_owned(),
            models_path: "/v1/models".to_owned(),
            model: served_name,
        }),
        timeout_secs: Some(settings.startup_timeout),
        stop_grace_secs: settings.stop_grace,
        log_file: SERVER_LOG.to_owned(),
        tasks: Vec::new(),
        output_dir: None,
    });
    Ok(plan)
}

/// The model as vLLM is given it: a local directory as an absolute path (the server may run in
/// another folder), else the Hub repo id.
fn model_argument(run: &RunView) -> String {
    match &run.model.local_dir {
        Some(dir) => absolute(dir).display().to_string(),
        None => run.model.name.clone(),
    }
}

fn absolute(dir: &Path) -> PathBuf {
    dir.canonicalize().unwrap_or_else(|_| dir.to_owned())
}

/// Devices, caches and the token go to the server's environment, never its command line, so
/// they do not show in `ps` or the log.
fn server_env(settings: &ProviderSettings) -> BTreeMap<String, EnvValue> {
    let mut env: BTreeMap<String, EnvValue> = settings
        .env
        .iter()
        .map(|(k, v)| (k.clone(), EnvValue::plain(v)))
        .collect();
    if let Some(devices) = &settings.cuda_devices {
        env.insert(
            EnvVars::CUDA_VISIBLE_DEVICES.to_owned(),
            EnvValue::plain(devices),
        );
    }
    if let Some(cache) = &settings.hf_cache {
        env.insert(
            EnvVars::HF_HOME.to_owned(),
            EnvValue::plain(cache.display().to_string()),
        );
    }
    if let Some(token) = &settings.hf_token {
        env.insert(EnvVars::HF_TOKEN.to_owned(), EnvValue::secret(token));
    }
    env
}

/// Versions a provider asks for are recorded; until per-version environments exist the
/// installed vLLM serves, and the run says so once.
fn record_versions(settings: &ProviderSettings, provider_path: &Path, plan: &mut Plan) {
    let requested: Vec<(&str, &String)> = [
        ("vllm_version", &settings.vllm_version),
        ("transformers_version", &settings.transformers_version),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
    .collect();
    if requested.is_empty() {
        return;
    }
    for (key, value) in &requested {
        plan.record
            .insert((*key).to_owned(), Json::String((*value).clone()));
    }
    plan.diagnostics.push(Diagnostic::info(format!(
        "{} asks for {}; the installed vLLM is used (per-version environments are not \
         supported yet)",
        provider_path.display(),
        requested
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(" and ")
    )));
}

#[cfg(test)]
mod tests;
