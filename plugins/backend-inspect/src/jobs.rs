//! One `inspect eval` process per task: each task has its own generate config (inspect applies
//! one to the whole eval) and its own log folder inside the task's folder.
//!
//! The model is `openai-api/benchy/<served name>`: inspect's OpenAI-compatible provider, which
//! reads `BENCHY_API_KEY` (the service part of the name, upper-cased) and starts nothing (its
//! `vllm/` provider starts a server of its own when it finds no address, and asks `/v1/models`
//! first). Its `--json` is not used: inspect exits 0 even when the eval failed, so the log's
//! `status` is what counts ([`crate::results`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use benchy_core::backend::{PlanRequest, ServerInfo, TaskView};
use benchy_core::process::{EnvValue, ProcessSpec, Role};
use benchy_core::{BackendError, Key};

use crate::executable::Inspect;
use crate::expectation::{for_task, thinking_stops};
use crate::generate;

/// The folder of a task's inspect logs, inside its output folder.
pub const LOG_FOLDER: &str = "inspect-logs";
/// The generate config benchy writes for a task, in its output folder.
pub const GENERATE_CONFIG: &str = "inspect-generate-config.json";
/// The task arguments benchy writes for a task that has some, in its output folder.
const TASK_CONFIG: &str = "inspect-task-args.json";

/// The variable inspect's `openai-api/benchy/...` provider takes its key from.
const API_KEY: &str = "BENCHY_API_KEY";
/// The key of a server that wants one (vLLM's `--api-key`), as lm-eval and benchy's probe
/// read it.
const OPENAI_API_KEY: &str = "OPENAI_API_KEY";

/// The task's generate config: the resolved set in inspect's fields and `extra_body`, without
/// the stop strings of a thinking mode (the host applies them to each answer instead).
pub fn generate_config(task: &TaskView, in_flight: Option<u64>) -> serde_json::Map<String, Json> {
    let mut resolved = task.resolved.clone();
    if thinking_stops(task).is_some() {
        resolved.params.remove(&Key::Stop);
    }
    generate::config(&resolved, in_flight)
}

/// The `inspect eval` process of `task`, with `in_flight` requests at most.
pub fn spec(
    task: &TaskView,
    spec: &str,
    inspect: &Inspect,
    (request, server): (&PlanRequest, &ServerInfo),
    in_flight: Option<u64>,
) -> Result<ProcessSpec, BackendError> {
    let dir = request.options.run_dir.join(&task.output_folder);
    let config_file = dir.join(GENERATE_CONFIG);
    let mut files = BTreeMap::from([(
        config_file.clone(),
        pretty(generate_config(task, in_flight)),
    )]);
    let mut args = arguments(spec, server, &config_file, &dir.join(LOG_FOLDER));
    if !task.task_args.is_empty() {
        let task_file = dir.join(TASK_CONFIG);
        files.insert(task_file.clone(), pretty(task.task_args.clone()));
        args.extend(["--task-config".to_owned(), path(&task_file)]);
    }
    if let Some(limit) = request.options.limit {
        args.extend(["--limit".to_owned(), count(limit, task)?]);
    }
    Ok(ProcessSpec {
        env: environment(request),
        cwd: Some(dir.clone()),
        expects: Some(for_task(task, &server.model)),
        tasks: vec![task.name.clone()],
        output_dir: Some(dir),
        files,
        ..ProcessSpec::new(
            format!("inspect[{}]", task.output_folder),
            Role::Job,
            inspect.program.display().to_string(),
            args,
            format!("inspect-{}.log", task.output_folder),
        )
    })
}

/// `inspect eval` of `spec` against `server`, with its generate config, a JSON log in
/// `log_dir` keeping every raw request and answer (what verification reads back), and no
/// terminal display or control socket.
fn arguments(spec: &str, server: &ServerInfo, config_file: &Path, log_dir: &Path) -> Vec<String> {
    [
        "eval",
        spec,
        "--model",
        &format!("openai-api/benchy/{}", server.model),
        "--model-base-url",
        &server.base_url,
        "--generate-config",
        &path(config_file),
        "--log-dir",
        &path(log_dir),
        "--log-format",
        "json",
        "--log-model-api",
        "--no-log-realtime",
        "--display",
        "plain",
        "--ctl-server",
        "false",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The key and where inspect keeps its own files: its data folder (traces, the last result)
/// under benchy's home rather than the user's.
fn environment(request: &PlanRequest) -> BTreeMap<String, EnvValue> {
    let key = match std::env::var(OPENAI_API_KEY) {
        Ok(key) if !key.is_empty() => EnvValue::secret(key),
        _ => EnvValue::plain("EMPTY"),
    };
    let data = request.options.home.join("inspect-data");
    BTreeMap::from([
        (API_KEY.to_owned(), key),
        ("XDG_DATA_HOME".to_owned(), EnvValue::plain(path(&data))),
    ])
}

/// `--limit` as inspect takes it: a count of samples.
fn count(limit: f64, task: &TaskView) -> Result<String, BackendError> {
    if limit.fract() == 0.0 && limit >= 1.0 {
        Ok(format!("{}", limit as u64))
    } else {
        Err(BackendError::input(format!(
            "task `{}`: --limit {limit}: inspect takes a count of samples, not a fraction",
            task.name
        )))
    }
}

fn pretty(map: serde_json::Map<String, Json>) -> String {
    serde_json::to_string_pretty(&Json::Object(map)).unwrap_or_default() + "\n"
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The folder a finished process wrote its logs to.
pub fn log_dir(output_dir: &Path) -> PathBuf {
    output_dir.join(LOG_FOLDER)
}
