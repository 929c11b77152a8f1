//! The lm-eval backend's planning and results reading, checked on data alone: no Python, no
//! lm-eval (the CLI tests run the real one).

mod modes;
mod plan;
mod results;

use std::path::PathBuf;

use benchy_core::backend::{ModelView, RunOptions, RunView, ServerInfo, TaskView};
use benchy_core::{Key, Layer, ParamValue, Resolved, SourceRef, merge, normalize};
use serde_json::Value as Json;

/// Resolved parameters from `(key, value)` pairs, normalized as the host hands them over.
fn resolved(items: &[(Key, ParamValue)]) -> Resolved {
    let mut layer = Layer::new(SourceRef::new("test", "x"));
    for (key, value) in items {
        layer.set(key.clone(), value.clone());
    }
    normalize(merge([&layer]))
}

/// A task with `defaults`, resolved to `resolved`.
fn task(name: &str, task_name: &str, defaults: Json, resolved: Resolved) -> TaskView {
    TaskView {
        name: name.into(),
        task_name: task_name.into(),
        lm_eval_path: None,
        include_path: Some(PathBuf::from("/tasks")),
        tokenizer_backend: None,
        inspect_task: None,
        task_args: Default::default(),
        defaults: defaults.as_object().cloned().unwrap_or_default(),
        output_folder: name.into(),
        resolved,
        mode: None,
    }
}

fn run(tasks: Vec<TaskView>) -> RunView {
    RunView {
        config_path: PathBuf::from("/c/run.yaml"),
        model: ModelView {
            name: "org/Model".into(),
            revision: None,
            local_dir: None,
            short_name: "Model".into(),
        },
        provider: None,
        use_chat_completions: false,
        resolved: Resolved::default(),
        tasks,
    }
}

fn options() -> RunOptions {
    RunOptions {
        run_dir: PathBuf::from("/out/r/Model"),
        limit: None,
        log_samples: false,
        home: PathBuf::from("/nonexistent-home"),
        max_concurrent: None,
    }
}

fn server() -> ServerInfo {
    ServerInfo {
        base_url: "http://127.0.0.1:8000/v1".into(),
        model: "Model".into(),
        max_model_len: Some(512),
        capacity: None,
    }
}

/// The sampling parameters the demo's model file gives.
fn sampling() -> Resolved {
    resolved(&[
        (Key::DoSample, ParamValue::Bool(true)),
        (Key::Temperature, ParamValue::Float(0.7)),
        (Key::TopK, ParamValue::Int(20)),
    ])
}

/// The value after `flag` in `args`.
fn arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

fn json_arg(args: &[String], flag: &str) -> Json {
    serde_json::from_str(arg(args, flag).unwrap_or_else(|| panic!("no {flag} in {args:?}")))
        .unwrap()
}
