//! The inspect backend's planning and log reading, checked on data alone: no Python, no inspect
//! (the CLI tests run the real one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchy_core::backend::{
    Capacity, ModelView, PlanRequest, RunOptions, RunView, ServerInfo, TaskView,
};
use benchy_core::{Backend, BackendError, Expected, Key, Layer, ParamValue, Resolved, SourceRef};
use benchy_core::{merge, normalize};
use serde_json::{Value as Json, json};

use super::InspectBackend;
use crate::results;

/// The resolved set the tests plan with: inspect sends two of its keys itself.
pub(crate) fn resolved() -> Resolved {
    let mut layer = Layer::new(SourceRef::new("test", "x"));
    layer
        .set(Key::Temperature, ParamValue::Float(0.7))
        .set(Key::TopK, ParamValue::Int(20))
        .set(Key::MinP, ParamValue::Float(0.05))
        .set(Key::RepetitionPenalty, ParamValue::Float(1.05))
        .set(Key::MaxNewTokens, ParamValue::Int(16))
        .set(Key::Stop, ParamValue::Strings(vec!["\n\n".into()]))
        .set(Key::Seed, ParamValue::Int(7));
    normalize(merge([&layer]))
}

fn task(spec: Option<&str>) -> TaskView {
    TaskView {
        name: "demo".into(),
        task_name: "demo".into(),
        lm_eval_path: None,
        include_path: None,
        tokenizer_backend: None,
        inspect_task: spec.map(str::to_owned),
        task_args: json!({"samples": 2}).as_object().cloned().unwrap(),
        defaults: Default::default(),
        output_folder: "demo".into(),
        resolved: resolved(),
        mode: None,
    }
}

/// A benchy home whose setup environment holds an `inspect` entry script.
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("venvs/inspect/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("inspect"), "#!/venv/bin/python3\n").unwrap();
    home
}

fn request(home: &Path, task: TaskView, answers: BTreeMap<String, Json>) -> PlanRequest {
    PlanRequest {
        run: RunView {
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
            tasks: vec![task],
        },
        server: Some(ServerInfo {
            base_url: "http://127.0.0.1:8000/v1".into(),
            model: "Model".into(),
            max_model_len: Some(512),
            capacity: Some(Capacity {
                requests: 8,
                source: "the provider's max_num_seqs".into(),
            }),
        }),
        options: RunOptions {
            run_dir: PathBuf::from("/out/r/Model"),
            limit: None,
            log_samples: false,
            home: home.to_owned(),
            max_concurrent: None,
        },
        answers,
    }
}

fn answer(home: &Path, spec: &str, known: bool) -> BTreeMap<String, Json> {
    let program = home.join("venvs/inspect/bin/inspect");
    BTreeMap::from([(
        format!("inspect tasks [{spec}]"),
        json!({"program": program, "tasks": {spec: {"known": known, "listed": ["demo", "other"]}}}),
    )])
}

/// The plan for `task` with inspect's answer about its inspect task: it knows it
/// (`Some(true)`), does not (`Some(false)`), or was not asked yet (`None`).
fn plan(task: TaskView, known: Option<bool>) -> Result<benchy_core::Plan, BackendError> {
    let home = home();
    let spec = task.inspect_task.clone().unwrap_or_default();
    let answers = known.map_or_else(BTreeMap::new, |k| answer(home.path(), &spec, k));
    InspectBackend.plan(&request(home.path(), task, answers))
}

/// The file a job's spec has benchy write into the task's folder, read as JSON.
fn written(job: &benchy_core::ProcessSpec, name: &str) -> Json {
    let path = PathBuf::from("/out/r/Model/demo").join(name);
    serde_json::from_str(&job.files[&path]).unwrap()
}

#[test]
fn inspect_is_asked_about_its_tasks_before_a_plan() {
    let plan = plan(task(Some("/t/demo.py@demo")), None).unwrap();
    assert!(plan.processes.is_empty());
    let question = &plan.questions[0];
    assert_eq!(question.program, "/venv/bin/python3");
    assert_eq!(question.args.last().unwrap(), "/t/demo.py@demo");
    assert_eq!(question.depends_on, vec![PathBuf::from("/t/demo.py")]);
}

#[test]
fn every_resolved_key_reaches_the_generate_config_and_the_audit() {
    let spec = "/t/demo.py@demo";
    let plan = plan(task(Some(spec)), Some(true)).unwrap();
    let job = &plan.processes[0];
    assert_eq!(
        written(job, "inspect-generate-config.json"),
        json!({"temperature": 0.7, "top_k": 20, "max_tokens": 16, "seed": 7,
               "stop_seqs": ["\n\n"], "max_connections": 8,
               "extra_body": {"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05}})
    );
    assert_eq!(
        written(job, "inspect-task-args.json"),
        json!({"samples": 2})
    );
    let args = &job.args;
    for flag in ["--log-model-api", "--generate-config", "--task-config"] {
        assert!(args.contains(&flag.to_owned()), "{flag} in {args:?}");
    }
    assert_eq!(
        args[..4],
        ["eval", spec, "--model", "openai-api/benchy/Model"]
    );
    let expects = job.expects.as_ref().unwrap();
    assert_eq!(expects.generation["min_p"], Expected::Exactly(json!(0.05)));
    assert_eq!(expects.generation["top_k"], Expected::Exactly(json!(20)));
    assert!(expects.added.is_empty());
    assert_eq!(plan.task_kinds.len(), 1);
}

#[test]
fn a_task_inspect_does_not_list_is_bad_input_naming_it() {
    let spec = "/t/demo.py@nope";
    let err = plan(task(Some(spec)), Some(false)).unwrap_err();
    assert!(matches!(err, BackendError::Input(_)));
    let text = err.to_string();
    assert!(
        text.contains("task `demo`") && text.contains(spec),
        "{text}"
    );
    assert!(
        text.contains("lists only demo, other in /t/demo.py"),
        "{text}"
    );
}

#[test]
fn a_task_without_an_inspect_task_is_bad_input() {
    let err = plan(task(None), None).unwrap_err();
    assert!(
        err.to_string().contains("inspect_task: FILE.py@NAME"),
        "{err}"
    );
}

/// A log as inspect writes it, with one raw request per sample carrying `requests[i]`'s fields.
fn log(status: &str, requests: &[Json]) -> Json {
    let samples: Vec<Json> = requests
        .iter()
        .enumerate()
        .map(|(i, extra)| {
            let mut request = json!({"model": "Model", "max_tokens": 16, "temperature": 0.7,
                "seed": 7, "stop": ["\n\n"],
                "tools": null, "extra_headers": {"x-irid": "1"},
                "extra_body": {"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05}});
            for (k, v) in extra.as_object().unwrap() {
                request[k] = v.clone();
            }
            json!({"id": format!("q{i}"), "epoch": 1,
                   "scores": {"includes": {"value": if i == 0 { "C" } else { "I" }}},
                   "events": [{"event": "model", "call": {"request": request}}]})
        })
        .collect();
    json!({
        "status": status,
        "error": {"message": "connection refused"},
        "eval": {"task": "demo", "packages": {"inspect_ai": "0.3.285"},
                 "dataset": {"name": "demo", "location": "demo.jsonl"},
                 "model_generate_config": {"temperature": 0.7, "top_k": 20, "max_tokens": 16,
                     "seed": 7, "stop_seqs": ["\n\n"], "max_connections": 8,
                     "extra_body": {"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05}}},
        "results": {"completed_samples": requests.len(), "scores": [{"name": "includes",
            "metrics": {"accuracy": {"name": "accuracy", "value": 0.5},
                        "stderr": {"name": "stderr", "value": 0.5}}}]},
        "samples": samples,
    })
}

fn read(doc: &Json) -> (Option<benchy_core::backend::TaskResult>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-12-08T00-00-00-00-00_demo_x.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    assert_eq!(results::newest_log(dir.path()).unwrap(), file);
    let mut notes = Vec::new();
    let result = results::read(&task(Some("/t/demo.py@demo")), &file, &mut notes).unwrap();
    (result, notes.iter().map(|d| d.message.clone()).collect())
}

#[test]
fn a_log_gives_each_scorers_metrics_with_stderr_samples_and_what_was_used() {
    let (result, _) = read(&log("success", &[json!({}), json!({})]));
    let result = result.unwrap();
    assert_eq!(result.samples, Some(2));
    let accuracy = &result.metrics[0];
    assert_eq!(
        (accuracy.name.as_str(), accuracy.filter.as_deref()),
        ("accuracy", Some("includes"))
    );
    assert_eq!(
        (accuracy.value.clone(), accuracy.stderr),
        (json!(0.5), Some(0.5))
    );
    assert_eq!(accuracy.samples, vec![1.0, 0.0]);
    assert_eq!(result.metrics.len(), 1, "stderr is no metric of its own");
    assert_eq!(result.sent_generation, result.recorded_generation);
    assert_eq!(result.dataset.unwrap().path, "demo.jsonl");
}

#[test]
fn a_logged_request_that_carried_another_value_is_named() {
    let (result, notes) = read(&log(
        "success",
        &[json!({}), json!({"extra_body": {"top_k": 40}})],
    ));
    let recorded = result.unwrap().recorded_generation.unwrap();
    assert_eq!(recorded["top_k"], json!(40));
    assert_eq!(
        recorded["min_p"],
        Json::Null,
        "the request carried no min_p"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("sample \"q1\"") && n.contains("top_k = 40")),
        "{notes:?}"
    );
}

#[test]
fn a_field_a_logged_request_carried_that_benchy_did_not_send_is_named() {
    let (result, notes) = read(&log(
        "success",
        &[json!({"logprobs": true, "max_completion_tokens": 16, "max_tokens": null})],
    ));
    let recorded = result.unwrap().recorded_generation.unwrap();
    assert_eq!(recorded["logprobs"], json!(true));
    assert_eq!(
        recorded["max_tokens"],
        json!(16),
        "the renamed budget is the budget sent"
    );
    assert!(
        notes.iter().any(|n| n.contains("logprobs = true")),
        "{notes:?}"
    );
}

#[test]
fn an_eval_that_ended_in_error_has_no_results_and_says_why() {
    let (result, notes) = read(&log("error", &[]));
    assert!(result.is_none());
    assert!(
        notes[0].contains("ended `error`: connection refused"),
        "{notes:?}"
    );
}

fn in_mode(system_prompt: Option<&str>) -> TaskView {
    TaskView {
        mode: Some(benchy_core::ModeView {
            name: "think".into(),
            defined_in: "run.yaml:3".into(),
            chosen_by: "--mode".into(),
            by_task: false,
            system_prompt: system_prompt.map(str::to_owned),
            thinks: true,
            think_end: "</think>".into(),
        }),
        ..task(Some("/t/demo.py@demo"))
    }
}

#[test]
fn a_thinking_mode_sends_no_stop_and_cuts_answers_after_the_reasoning() {
    let plan = plan(in_mode(None), Some(true)).unwrap();
    let job = &plan.processes[0];
    let config = written(job, "inspect-generate-config.json");
    assert_eq!(config.get("stop_seqs"), None, "{config}");
    let expects = job.expects.as_ref().unwrap();
    assert!(!expects.generation.contains_key("stop"));
    let stops = expects.answer_stops.as_ref().unwrap();
    assert_eq!(
        (stops.stops.clone(), stops.think_end.as_str()),
        (vec!["\n\n".to_owned()], "</think>")
    );
}

#[test]
fn a_mode_switched_by_a_system_prompt_is_refused() {
    let err = plan(in_mode(Some("/think")), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("switches the model by a system prompt"),
        "{err}"
    );
}
