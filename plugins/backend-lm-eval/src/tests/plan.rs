//! Planning: which tasks share a process, and each process's exact command line.

use std::collections::BTreeMap;

use benchy_core::backend::PlanRequest;
use benchy_core::process::Role;
use benchy_core::{BackendError, Key, ParamValue};
use serde_json::json;

use super::*;
use crate::executable::LmEval;
use crate::jobs::group;
use crate::task_types::TaskTypes;

/// What the task-types question answers for lm-eval `/venv/bin/lm_eval` and the tasks' include
/// path `/tasks`: each task name with its output type.
pub(super) fn answered(tasks: &[(&str, &str)]) -> BTreeMap<String, Json> {
    let tasks: serde_json::Map<String, Json> = tasks
        .iter()
        .map(|(name, output_type)| {
            let leaf = json!({"task": name, "output_type": output_type,
                              "until": ["Question:", "\n\n"], "max_gen_toks": 256});
            ((*name).to_owned(), json!([leaf]))
        })
        .collect();
    BTreeMap::from([(
        "lm-eval task types [test]".to_owned(),
        json!({"program": "/venv/bin/lm_eval", "include": "/tasks", "tasks": tasks}),
    )])
}

pub(super) fn lm_eval() -> LmEval {
    LmEval {
        program: PathBuf::from("/venv/bin/lm_eval"),
        origin: "test".into(),
        cwd: None,
    }
}

fn plan(view: RunView) -> Vec<benchy_core::ProcessSpec> {
    let request = PlanRequest {
        run: view,
        server: Some(server()),
        options: options(),
        answers: Default::default(),
    };
    let jobs = group(&request.run, |_| Ok(lm_eval()), &Default::default()).unwrap();
    let mut diagnostics = Vec::new();
    jobs.iter()
        .map(|job| job.spec(&request, &server(), &mut diagnostics))
        .collect()
}

#[test]
fn tasks_with_the_same_parameters_and_settings_share_one_process() {
    let greedy = resolved(&[(Key::DoSample, ParamValue::Bool(false))]);
    let view = run(vec![
        task("gen", "benchy_demo_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({}), sampling()),
        task("greedy", "benchy_demo_gen", json!({}), greedy),
        task(
            "wide",
            "benchy_demo_gen",
            json!({"batch_size": 4}),
            sampling(),
        ),
    ]);
    let specs = plan(view);
    let covered: Vec<&Vec<String>> = specs.iter().map(|s| &s.tasks).collect();
    assert_eq!(
        covered,
        [
            &vec!["gen".to_owned(), "mc".to_owned()],
            &vec!["greedy".to_owned()],
            &vec!["wide".to_owned()]
        ]
    );
    assert_eq!(specs[0].name, "lm-eval[gen+mc]");
    assert_eq!(specs[0].log_file, "lm-eval-gen+mc.log");
    assert_eq!(
        arg(&specs[0].args, "--tasks"),
        Some("benchy_demo_gen,benchy_demo_mc")
    );
    assert!(specs.iter().all(|s| s.role == Role::Job));
}

#[test]
fn every_sampling_key_goes_in_gen_kwargs_and_none_in_model_args() {
    let specs = plan(run(vec![task(
        "gen",
        "benchy_demo_gen",
        json!({"num_concurrent": 4, "max_retries": 2, "timeout": 60}),
        sampling(),
    )]));
    let args = &specs[0].args;
    assert_eq!(args[..3], ["run", "--model", "local-completions"]);
    assert_eq!(
        json_arg(args, "--gen_kwargs"),
        json!({"temperature": 0.7, "top_k": 20, "do_sample": true})
    );
    assert_eq!(
        json_arg(args, "--model_args"),
        json!({"model": "Model", "base_url": "http://127.0.0.1:8000/v1/completions",
               "num_concurrent": 4, "max_retries": 2, "tokenizer_backend": "remote",
               "tokenized_requests": true, "max_length": 512, "timeout": 60})
    );
    assert_eq!(arg(args, "--output_path"), Some("/out/r/Model/gen"));
    assert_eq!(arg(args, "--include_path"), Some("/tasks"));
    assert_eq!(arg(args, "--batch_size"), Some("1"));
    assert_eq!(
        specs[0].cwd.as_deref(),
        Some(std::path::Path::new("/tasks"))
    );
    assert_eq!(specs[0].output_dir, Some(PathBuf::from("/out/r/Model/gen")));
}

#[test]
fn a_resolved_seed_replaces_lm_evals_default_and_max_new_tokens_is_max_gen_toks() {
    let params = resolved(&[
        (Key::Temperature, ParamValue::Float(0.7)),
        (Key::Seed, ParamValue::Int(7)),
        (Key::MaxNewTokens, ParamValue::Int(64)),
        (Key::Stop, ParamValue::Strings(vec!["###".into()])),
    ]);
    let specs = plan(run(vec![task("gen", "g", json!({}), params)]));
    let args = &specs[0].args;
    assert_eq!(json_arg(args, "--model_args")["seed"], json!(7));
    let gen_kwargs = json_arg(args, "--gen_kwargs");
    assert_eq!(gen_kwargs["max_gen_toks"], json!(64));
    assert_eq!(gen_kwargs["until"], json!(["###"]));
    assert_eq!(gen_kwargs["seed"], json!(7));
}

#[test]
fn options_and_settings_become_flags() {
    let mut view = run(vec![task(
        "gen",
        "g",
        json!({"num_fewshot": 5, "cache_requests": true, "trust_remote_code": true,
               "log_samples": true, "cuda_devices": "1"}),
        sampling(),
    )]);
    view.use_chat_completions = true;
    let request = PlanRequest {
        run: view,
        server: Some(server()),
        options: RunOptions {
            limit: Some(0.5),
            ..options()
        },
        answers: answered(&[("g", "generate_until")]),
    };
    let types = TaskTypes::read(&request.answers);
    let jobs = group(&request.run, |_| Ok(lm_eval()), &types).unwrap();
    let spec = jobs[0].spec(&request, &server(), &mut Vec::new());
    let args = &spec.args;
    assert_eq!(arg(args, "--model"), Some("local-chat-completions"));
    assert_eq!(arg(args, "--limit"), Some("0.5"));
    assert_eq!(arg(args, "--num_fewshot"), Some("5"));
    assert_eq!(arg(args, "--cache_requests"), Some("true"));
    for flag in [
        "--log_samples",
        "--trust_remote_code",
        "--apply_chat_template",
    ] {
        assert!(args.iter().any(|a| a == flag), "{flag} in {args:?}");
    }
    let model_args = json_arg(args, "--model_args");
    assert_eq!(
        model_args["base_url"],
        json!("http://127.0.0.1:8000/v1/chat/completions")
    );
    // chat requests are text: no tokenizer settings at all
    assert!(
        model_args.get("tokenizer_backend").is_none(),
        "{model_args}"
    );
    assert_eq!(spec.env["CUDA_VISIBLE_DEVICES"].value, "1");
}

#[test]
fn a_whole_limit_is_an_integer_and_the_tokenizer_can_be_the_models() {
    let mut t = task("gen", "g", json!({"max_length": 2048}), sampling());
    t.tokenizer_backend = Some("huggingface".into());
    let request = PlanRequest {
        run: run(vec![t]),
        server: Some(server()),
        options: RunOptions {
            limit: Some(10.0),
            ..options()
        },
        answers: Default::default(),
    };
    let jobs = group(&request.run, |_| Ok(lm_eval()), &Default::default()).unwrap();
    let mut diagnostics = Vec::new();
    let spec = jobs[0].spec(&request, &server(), &mut diagnostics);
    assert_eq!(arg(&spec.args, "--limit"), Some("10"));
    let model_args = json_arg(&spec.args, "--model_args");
    assert_eq!(model_args["tokenizer_backend"], json!("huggingface"));
    assert_eq!(model_args["tokenizer"], json!("org/Model"));
    // the server's own maximum wins over the task's, and the run says so
    assert_eq!(model_args["max_length"], json!(512));
    assert!(
        diagnostics[0].message.contains("max_length 2048"),
        "{diagnostics:?}"
    );
}

#[test]
fn the_backend_plans_checks_and_refuses_to_be_a_server() {
    let backend = crate::LmEvalBackend;
    let view = run(vec![
        task("gen", "benchy_demo_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({}), sampling()),
    ]);
    let as_server = benchy_core::Backend::plan(
        &backend,
        &PlanRequest {
            run: view,
            server: None,
            options: options(),
            answers: Default::default(),
        },
    );
    assert!(
        matches!(&as_server, Err(BackendError::Input(p)) if p.message.contains("task backend")),
        "{as_server:?}"
    );
}

/// The error grouping a task `gen` with these `defaults` gives.
fn defaults_error(defaults: Json) -> String {
    let view = run(vec![task("gen", "g", defaults, sampling())]);
    let err = group(&view, |_| Ok(lm_eval()), &Default::default()).unwrap_err();
    err.to_string()
}

#[test]
fn unknown_defaults_are_bad_input_naming_the_task() {
    let err = defaults_error(json!({"num_concurent": 2}));
    assert!(
        err.contains("task `gen`: unknown key `num_concurent`"),
        "{err}"
    );
}

#[test]
fn one_validation_check_per_lm_eval_and_include_path() {
    let mut other = task("other", "o", json!({}), sampling());
    other.include_path = Some(PathBuf::from("/elsewhere"));
    let view = run(vec![
        task("gen", "benchy_demo_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({"batch_size": 2}), sampling()),
        other,
    ]);
    let jobs = group(&view, |_| Ok(lm_eval()), &Default::default()).unwrap();
    let checks = crate::validation_checks(&jobs);
    assert_eq!(checks.len(), 2);
    assert_eq!(
        checks[0].args,
        [
            "validate",
            "--tasks",
            "benchy_demo_gen,benchy_demo_mc",
            "--include_path",
            "/tasks"
        ]
    );
    assert_eq!(checks[0].tasks, ["gen", "mc"]);
    assert_eq!(checks[1].tasks, ["other"]);
    assert!(checks.iter().all(|c| c.role == Role::Check));
}

/// lm-eval's chat requests carry at most four stop strings: a fifth would be cut silently, so
/// planning refuses it, naming the task, the source and lm-eval's code.
#[test]
fn more_stop_strings_than_chat_requests_carry_are_refused() {
    let stops = |n: usize| {
        let strings = (0..n).map(|i| format!("s{i}")).collect();
        resolved(&[(Key::Stop, ParamValue::Strings(strings))])
    };
    let types = TaskTypes::read(&answered(&[("benchy_demo_gen", "generate_until")]));
    let fits = |n: usize| {
        let mut view = run(vec![task("gen", "benchy_demo_gen", json!({}), stops(n))]);
        view.use_chat_completions = true;
        let jobs = group(&view, |_| Ok(lm_eval()), &types).unwrap();
        crate::chat_stops_fit(&jobs)
    };
    let refused = fits(5);
    assert!(
        matches!(&refused, Err(BackendError::Input(p))
            if p.message.starts_with("task `gen`: 5 stop strings (from test:x)")
                && p.message.contains("stop[:4]")),
        "{refused:?}"
    );
    assert_eq!(fits(4), Ok(()));
}

/// Where lm-eval said which tasks generate, a process holds at most one that does: its answers
/// (counted by the auditing proxy per process) are then that task's own.
#[test]
fn generating_tasks_never_share_a_process_but_a_scoring_task_joins_one() {
    let view = run(vec![
        task("one", "benchy_demo_gen", json!({}), sampling()),
        task("two", "other_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({}), sampling()),
    ]);
    let types = TaskTypes::read(&answered(&[
        ("benchy_demo_gen", "generate_until"),
        ("other_gen", "generate_until"),
        ("benchy_demo_mc", "multiple_choice"),
    ]));
    let jobs = group(&view, |_| Ok(lm_eval()), &types).unwrap();
    let slugs: Vec<String> = jobs.iter().map(|j| j.slug()).collect();
    assert_eq!(slugs, ["one+mc", "two"]);
    assert!(
        crate::validation_checks(&jobs).is_empty(),
        "lm-eval was asked about every task already"
    );
}

#[test]
fn requests_in_flight_are_the_tasks_else_the_servers_capacity_under_the_cap() {
    use benchy_core::backend::Capacity;
    let capacity = |requests, source: &str| Capacity {
        requests,
        source: source.into(),
    };
    let in_flight = |defaults: Json, server_capacity: Option<Capacity>, cap: Option<Capacity>| {
        let server = ServerInfo {
            capacity: server_capacity,
            ..server()
        };
        let request = PlanRequest {
            run: run(vec![task("gen", "g", defaults, sampling())]),
            server: Some(server.clone()),
            options: RunOptions {
                max_concurrent: cap,
                ..options()
            },
            answers: Default::default(),
        };
        let jobs = group(&request.run, |_| Ok(lm_eval()), &Default::default()).unwrap();
        let spec = jobs[0].spec(&request, &server, &mut Vec::new());
        let sent = json_arg(&spec.args, "--model_args")["num_concurrent"].clone();
        let said = jobs[0].concurrency(&request, &server);
        assert_eq!(sent, json!(said.requests), "what is sent is what is said");
        (said.requests, said.source)
    };
    let provider = || Some(capacity(8, "the provider's max_num_seqs (p.yaml)"));
    let cap = |n| Some(capacity(n, "the max_concurrent setting (default)"));
    let (n, source) = in_flight(json!({}), provider(), cap(256));
    assert_eq!(
        (n, source.as_str()),
        (8, "the provider's max_num_seqs (p.yaml)")
    );
    let (n, source) = in_flight(json!({}), provider(), cap(4));
    assert_eq!(n, 4);
    assert!(source.contains("below the server's capacity 8"), "{source}");
    let (n, source) = in_flight(json!({}), None, cap(256));
    assert_eq!(n, 256);
    assert!(
        source.ends_with("the server's capacity is not known"),
        "{source}"
    );
    let (n, source) = in_flight(json!({"num_concurrent": 20}), provider(), cap(4));
    assert_eq!(
        (n, source.as_str()),
        (20, "task `gen`: defaults.num_concurrent")
    );
    assert_eq!(
        in_flight(json!({}), None, None).0,
        1,
        "lm-eval's own default"
    );
}

#[test]
fn no_requests_in_flight_is_bad_input_naming_the_task() {
    let err = defaults_error(json!({"num_concurrent": 0}));
    assert!(
        err.contains("task `gen`: `defaults.num_concurrent` must be at least 1"),
        "{err}"
    );
}
