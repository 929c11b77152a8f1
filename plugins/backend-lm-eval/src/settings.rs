//! A task's `defaults` (with the run's `task_defaults` over them), checked: the keys the Python
//! tool's task files use, plus a few more lm-eval options. Unknown keys are errors, because
//! lm-eval itself swallows unknown model arguments without a word.

use serde_json::{Map, Value as Json};

use benchy_core::BackendError;
use benchy_core::backend::TaskView;

/// How lm-eval runs one task.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskSettings {
    /// `--batch_size`: prompts per request (lm-eval packs them into one completions call).
    pub batch_size: String,
    /// `num_concurrent` model argument: requests in flight, when the task sets it (else the
    /// server's capacity, see `Job::concurrency`).
    pub num_concurrent: Option<u64>,
    /// `max_retries` model argument: attempts per request (lm-eval counts the first one).
    pub max_retries: u64,
    pub trust_remote_code: bool,
    pub log_samples: bool,
    pub cache_requests: bool,
    pub num_fewshot: Option<u64>,
    /// `CUDA_VISIBLE_DEVICES` for lm-eval (the Python tool's `task_defaults.cuda_devices`).
    pub cuda_devices: Option<String>,
    /// A `max_length` the task asked for; the server's own maximum is what is used.
    pub max_length: Option<u64>,
    /// Seconds lm-eval waits for one request.
    pub timeout: Option<u64>,
}

pub const KNOWN_KEYS: &[&str] = &[
    "batch_size",
    "num_concurrent",
    "max_retries",
    "trust_remote_code",
    "log_samples",
    "cache_requests",
    "num_fewshot",
    "cuda_devices",
    "max_length",
    "timeout",
];

impl TaskSettings {
    pub fn from_task(task: &TaskView) -> Result<TaskSettings, BackendError> {
        let defaults = &task.defaults;
        if let Some(unknown) = defaults.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(BackendError::input(format!(
                "task `{}`: unknown key `{unknown}` in `defaults` (or the run's `task_defaults`); \
                 known: {}",
                task.name,
                KNOWN_KEYS.join(", ")
            )));
        }
        let field = Field { task, defaults };
        Ok(TaskSettings {
            batch_size: field.text("batch_size")?.unwrap_or_else(|| "1".to_owned()),
            num_concurrent: field.positive("num_concurrent")?,
            max_retries: field.count("max_retries")?.unwrap_or(3),
            trust_remote_code: field.flag("trust_remote_code")?.unwrap_or(false),
            log_samples: field.flag("log_samples")?.unwrap_or(false),
            cache_requests: field.flag("cache_requests")?.unwrap_or(false),
            num_fewshot: field.count("num_fewshot")?,
            cuda_devices: field.text("cuda_devices")?,
            max_length: field.count("max_length")?,
            timeout: field.count("timeout")?,
        })
    }
}

struct Field<'a> {
    task: &'a TaskView,
    defaults: &'a Map<String, Json>,
}

impl Field<'_> {
    fn invalid(&self, key: &str, expected: &str) -> BackendError {
        BackendError::input(format!(
            "task `{}`: `defaults.{key}` must be {expected}, found {}",
            self.task.name, self.defaults[key]
        ))
    }

    /// A string, or a number written without quotes (the Python tool's files quote batch sizes).
    fn text(&self, key: &str) -> Result<Option<String>, BackendError> {
        match self.defaults.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(Json::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.invalid(key, "a string or a number")),
        }
    }

    fn count(&self, key: &str) -> Result<Option<u64>, BackendError> {
        match self.defaults.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| self.invalid(key, "a whole number")),
        }
    }

    /// A whole number of at least 1.
    fn positive(&self, key: &str) -> Result<Option<u64>, BackendError> {
        match self.count(key)? {
            Some(0) => Err(self.invalid(key, "at least 1 (requests in flight)")),
            n => Ok(n),
        }
    }

    fn flag(&self, key: &str) -> Result<Option<bool>, BackendError> {
        match self.defaults.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(defaults: Json) -> TaskView {
        TaskView {
            name: "spanish".into(),
            task_name: "latam_es".into(),
            lm_eval_path: None,
            include_path: None,
            tokenizer_backend: None,
            inspect_task: None,
            task_args: Default::default(),
            defaults: defaults.as_object().unwrap().clone(),
            output_folder: "spanish".into(),
            resolved: Default::default(),
            mode: None,
        }
    }

    #[test]
    fn reads_the_python_tools_defaults() {
        let settings = TaskSettings::from_task(&task(json!({
            "batch_size": "10", "log_samples": false, "cache_requests": true,
            "trust_remote_code": true, "num_concurrent": 20, "max_length": 2048,
            "cuda_devices": "2"
        })))
        .unwrap();
        assert_eq!(settings.batch_size, "10");
        assert_eq!(settings.num_concurrent, Some(20));
        assert!(settings.cache_requests && settings.trust_remote_code);
        assert_eq!(settings.cuda_devices.as_deref(), Some("2"));
    }

    #[test]
    fn unknown_and_mistyped_keys_are_errors() {
        let err = TaskSettings::from_task(&task(json!({"num_concurent": 2}))).unwrap_err();
        assert!(err.to_string().contains("`num_concurent`"));
        let err = TaskSettings::from_task(&task(json!({"log_samples": "yes"}))).unwrap_err();
        assert!(err.to_string().contains("defaults.log_samples"));
    }
}
