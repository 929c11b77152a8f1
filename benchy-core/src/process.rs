//! Process specs: what a backend asks the host to run. Backends describe; only the host spawns,
//! signals and reaps, so process groups, Ctrl-C, timeouts and "nothing left running" are
//! written once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Written in a server's `args` or `env` values where its port goes; the host replaces it with
/// the port it chose (the preferred one when free, else a free one).
pub const PORT_PLACEHOLDER: &str = "{port}";

/// The stop grace when a spec gives none: vLLM needs time to free GPU memory.
pub const DEFAULT_STOP_GRACE_SECS: f64 = 30.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// A short name for progress lines and the run record (`server`, `lm-eval[spanish]`).
    pub name: String,
    pub role: Role,
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Variables set for the child on top of benchy's own environment.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// The working directory; the host's when absent.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// For servers: where it listens and how to tell it is ready.
    #[serde(default)]
    pub listen: Option<Listen>,
    /// Seconds from spawn to ready (servers) or to exit (jobs) before the host gives up.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Seconds between SIGTERM and SIGKILL when stopping the process group.
    #[serde(default = "default_stop_grace")]
    pub stop_grace_secs: f64,
    /// The file, inside the run folder, its stdout and stderr go to.
    pub log_file: String,
    /// For jobs: the run's tasks this process covers (their results are collected from it).
    #[serde(default)]
    pub tasks: Vec<String>,
    /// For jobs: the folder the process writes its outputs to.
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    /// For checks: the files and folders whose contents decide the check's answer besides its
    /// program and arguments (the task definitions it looks up). benchy remembers a passing
    /// check and does not run it again until its program, arguments or one of these change.
    #[serde(default)]
    pub depends_on: Vec<PathBuf>,
    /// For jobs that talk to the server: what every request they send must carry. benchy routes
    /// such a job through an auditing proxy of its own (it replaces the server's address where
    /// it appears in the job's arguments and environment) that checks every request against
    /// this; a job without one is only counted.
    #[serde(default)]
    pub expects: Option<Expectation>,
    /// For a server: the devices it needs of the node, when the host shares a node's devices
    /// out to servers side by side (see [`DeviceNeed`]); `None` runs it alone.
    #[serde(default)]
    pub devices: Option<DeviceNeed>,
    /// Files the host writes before it starts the process, by absolute path: a configuration
    /// the tool reads from a file only (inspect's `--generate-config`). Each is also a record
    /// of what the process was given.
    #[serde(default)]
    pub files: BTreeMap<PathBuf, String>,
}

/// How many of the node's devices a server needs, and how it is told which ones it got: the
/// host sets `variable` to the granted ids joined by `separator` (`CUDA_VISIBLE_DEVICES=2,3`;
/// on vLLM's CPU build the ids are CPU cores, one per rank: `VLLM_CPU_OMP_THREADS_BIND=0|1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNeed {
    pub count: usize,
    pub variable: String,
    pub separator: String,
}

/// The fields of a completions or chat completions request that do not change what is
/// generated, each with why. Every other field changes it (or may: `max_completion_tokens`,
/// `ignore_eos`, `logit_bias`, `response_format`...), so a request may carry one only where its
/// [`Expectation`] has a rule for it: the wire audit is an allow-list.
pub const NEUTRAL_KEYS: &[(&str, &str)] = &[
    (
        "model",
        "names the served model; a server serves one, which benchy checks when it starts",
    ),
    (
        "prompt",
        "the input, counted (an empty or near-empty prompt is a deviation)",
    ),
    ("messages", "the input, counted as the prompt is"),
    (
        "echo",
        "returns the prompt with the answer; the tokens sampled do not change",
    ),
    (
        "logprobs",
        "reports each token's log-probability; the tokens sampled do not change",
    ),
    (
        "top_logprobs",
        "reports the likeliest alternatives; the tokens sampled do not change",
    ),
    ("stream", "how the answer is delivered"),
    (
        "stream_options",
        "what a stream reports besides the answer (usage)",
    ),
    ("user", "an identifier of the client"),
    ("request_id", "an identifier of the request"),
    (
        "priority",
        "the order in which the server schedules requests",
    ),
];

/// Whether a request field is one of the [`NEUTRAL_KEYS`].
pub fn is_neutral(key: &str) -> bool {
    NEUTRAL_KEYS.iter().any(|(name, _)| *name == key)
}

/// What the requests of a job must carry, in the OpenAI-compatible API's names. Requests are of
/// two kinds: *scoring* requests (`echo: true` with `logprobs`, at most one new token: a
/// log-likelihood) and *generation* requests (every other completions or chat completions
/// request). Every field but the [`NEUTRAL_KEYS`] must have a rule here; `max_completion_tokens`
/// is the budget `max_tokens` is, and meets the same rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Keys every generation request must carry, each with its rule: the resolved set.
    #[serde(default)]
    pub generation: BTreeMap<String, Expected>,
    /// Keys the job's tool adds to generation requests on its own (lm-eval's default `seed`, a
    /// task's own `max_tokens`), each with its rule. Any other field is a deviation.
    #[serde(default)]
    pub added: BTreeMap<String, Expected>,
    /// The fields scoring requests may carry (lm-eval sends `temperature: 0` and its seed),
    /// each with its rule. Any other field is a deviation.
    #[serde(default)]
    pub scoring: BTreeMap<String, Expected>,
    /// The system message every chat generation request must start with (a mode's system
    /// prompt); `None`: no rule on the messages.
    #[serde(default)]
    pub system: Option<String>,
    /// Stop strings the host applies to each answer after its reasoning, because the requests
    /// of a thinking mode carry none (a stop string would end generation inside the reasoning,
    /// and servers match them against the whole output).
    #[serde(default)]
    pub answer_stops: Option<AnswerStops>,
}

/// Where an answer is cut: at the first of `stops` after the reasoning, which ends at the last
/// `think_end` in the answer (or is not in it at all, when the server split it off).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerStops {
    pub stops: Vec<String>,
    pub think_end: String,
}

/// A rule for one key's value in a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// Exactly this value (numbers compare by value: `0` is `0.0`).
    Exactly(serde_json::Value),
    /// A list that starts with these items (stop strings to which a tool appends its own
    /// end-of-sequence string).
    StartsWith(Vec<serde_json::Value>),
    /// Any value.
    Any,
}

impl Expectation {
    /// Every key of `params` (a request body's sampling fields, as
    /// [`crate::Resolved::openai_params`] gives them) exactly, on every generation request.
    pub fn exactly(params: &serde_json::Map<String, serde_json::Value>) -> Expectation {
        Expectation {
            generation: params
                .iter()
                .map(|(k, v)| (k.clone(), Expected::Exactly(v.clone())))
                .collect(),
            ..Expectation::default()
        }
    }
}

fn default_stop_grace() -> f64 {
    DEFAULT_STOP_GRACE_SECS
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs until the host stops it; ready when its readiness probe passes.
    Server,
    /// Runs to completion; its exit code decides success.
    Job,
    /// Runs before anything starts; a failure is bad input (exit code 2) and its output is shown.
    Check,
}

/// An environment value; secret values (tokens) reach the child only through its environment
/// and are written as `***` wherever the host records or prints the spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvValue {
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

impl EnvValue {
    pub fn plain(value: impl Into<String>) -> Self {
        EnvValue {
            value: value.into(),
            secret: false,
        }
    }

    pub fn secret(value: impl Into<String>) -> Self {
        EnvValue {
            value: value.into(),
            secret: true,
        }
    }

    /// The value as it may be shown: `***` for secrets.
    pub fn shown(&self) -> &str {
        if self.secret { "***" } else { &self.value }
    }
}

/// Where a server listens and what proves it ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listen {
    /// The address it binds (`127.0.0.1`, or `0.0.0.0` when a config asks; clients always use
    /// loopback).
    pub host: String,
    /// The port the config asks for; the host picks a free one when it is busy or absent.
    pub preferred_port: Option<u16>,
    /// `GET` this path until it answers 200 (`/health`).
    pub health_path: String,
    /// Then `GET` this path until its `data[].id` lists `model` (`/v1/models`): vLLM binds the
    /// port and answers `/health` before the model is served.
    pub models_path: String,
    /// The served model name `models_path` must list.
    pub model: String,
    /// Once ready, `GET` this path for the server's version (`{"version": "0.32.0"}`), which the
    /// run record keeps under the process's name; `None` when the server has no such endpoint.
    #[serde(default)]
    pub version_path: Option<String>,
    /// The start-up's phases as the server's log shows them, in the order they happen: the host
    /// notes when each marker first appears and keeps the phases' times in the run record.
    #[serde(default)]
    pub startup_phases: Vec<StartupPhase>,
}

/// A phase of a server's start-up, ended by the first log line that contains `marker`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupPhase {
    /// What the time up to the marker was spent on: `weights loaded`, `compilation`.
    pub name: String,
    pub marker: String,
}

impl ProcessSpec {
    /// A spec with no environment, working directory, listener or timeout of its own, and the
    /// default stop grace; set the rest with struct update syntax.
    pub fn new(
        name: impl Into<String>,
        role: Role,
        program: impl Into<String>,
        args: Vec<String>,
        log_file: impl Into<String>,
    ) -> ProcessSpec {
        ProcessSpec {
            name: name.into(),
            role,
            program: program.into(),
            args,
            env: BTreeMap::new(),
            cwd: None,
            listen: None,
            timeout_secs: None,
            stop_grace_secs: DEFAULT_STOP_GRACE_SECS,
            log_file: log_file.into(),
            tasks: Vec::new(),
            output_dir: None,
            depends_on: Vec::new(),
            expects: None,
            devices: None,
            files: BTreeMap::new(),
        }
    }

    /// The command line as it may be shown or recorded: program, arguments, and the
    /// environment the spec sets with secrets as `***`.
    pub fn display_command(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v.shown())));
        let words = std::iter::once(shell_quote(&self.program))
            .chain(self.args.iter().map(|a| shell_quote(a)));
        env.chain(words).collect::<Vec<_>>().join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it, so a shown command can be pasted.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_redacts_secrets_and_quotes() {
        let mut spec = ProcessSpec::new(
            "server",
            Role::Server,
            "python",
            vec!["-m".into(), "x".into(), r#"{"a": 1}"#.into()],
            "server.log",
        );
        spec.env
            .insert("HF_TOKEN".into(), EnvValue::secret("hf_abc"));
        spec.env.insert("A".into(), EnvValue::plain("b"));
        let shown = spec.display_command();
        assert_eq!(shown, r#"A=b HF_TOKEN='***' python -m x '{"a": 1}'"#);
        assert!(!shown.contains("hf_abc"));
    }
}
