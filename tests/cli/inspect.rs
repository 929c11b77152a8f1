//! The inspect backend end to end with the real inspect_ai from `make setup`, against the
//! recording OpenAI-compatible server: every request carries the resolved set, `top_k`, `min_p`
//! and `repetition_penalty` included (which inspect sends only through `extra_body`), and the
//! wire audit and the verification say so; results land beside lm-eval's, `compare` names a
//! changed parameter, a task inspect does not know (or the backend cannot run) exits 2 before
//! anything starts, and a suite of both backends resumes. inspect is named by a settings file.

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::{Value as Json, json};

use crate::eval::{eval_config_into, eval_env, fake_provider, read_json};
use crate::harness::{TestEnv, repo_root, says};

/// The inspect `make setup` installs; a test fails (never skips) when it is missing.
use benchy_testkit::python::inspect;

/// The lm-eval demo environment (`run.yaml`: gen, gen-override, mc; the run's block adds
/// `min_p`) with `inspect.yaml` beside it: the same model, `backend: inspect`, and the shipped
/// inspect demo task copied under `tasks/inspect/`, named relative to the run config, with
/// `task` as its `@` part. The inspect `make setup` installed is named by a settings file, as a
/// user names another one.
fn inspect_env(task: &str) -> TestEnv {
    let env = eval_env(&fake_provider(&[]));
    env.write(
        "benchy.toml",
        &format!(
            "[env]\nBENCHY_INSPECT = {:?}\n",
            inspect().display().to_string()
        ),
    );
    let shipped = repo_root().join("configs/tasks/inspect");
    for file in ["benchy_demo.py", "benchy_demo.jsonl"] {
        let text = std::fs::read_to_string(shipped.join(file)).unwrap();
        env.write(&format!("tasks/inspect/{file}"), &text);
    }
    let spec = format!("tasks/inspect/benchy_demo.py@{task}");
    env.write("inspect.yaml", &inspect_config("./model", &spec));
    env
}

/// A run config of `model` with the inspect task `spec` (relative to the run config).
fn inspect_config(model: &str, spec: &str) -> String {
    format!(
        "model:\n  name: {model}\nvllm:\n  provider_config: fake\nbackend: inspect\n\
         generation:\n  min_p: 0.05\ntasks:\n  - name: arith\n    inspect_task: {spec}\n    \
         task_args:\n      samples: 3\n    generation:\n      max_new_tokens: 8\n"
    )
}

fn server() -> RecordingOpenAi {
    RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        also_serves: vec!["model2".into()],
        ..OpenAiOptions::default()
    })
}

#[test]
fn every_inspect_request_carries_the_resolved_set_and_results_sit_beside_lm_evals() {
    let env = inspect_env("benchy_demo");
    let recording = server();
    let run = eval_config_into(&env, &recording, ("inspect.yaml", "r"), &[]);
    run.expect_code(0);
    says(&run.stderr, "inspect[arith]: ");
    let bodies = recording.generation_bodies();
    assert_eq!(bodies.len(), 2, "--limit 2: {bodies:#?}");
    for body in &bodies {
        let sampling: serde_json::Map<String, Json> = body
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !["model", "messages"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            Json::Object(sampling),
            json!({"temperature": 0.7, "top_p": 0.6, "top_k": 20, "min_p": 0.05,
                   "repetition_penalty": 1.05, "max_tokens": 8}),
            "the request carries the resolved set and nothing else"
        );
    }
    let dir = env.path().join("out/r/model");
    let audit = read_json(&dir.join("wire_audit.json"));
    assert_eq!(
        audit["verdict"], "2 of 2 generation requests carried exactly the resolved set",
        "{audit:#}"
    );
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["backend"], "inspect");
    assert_eq!(
        record["verification"][0]["status"], "verified",
        "{record:#}"
    );
    assert_eq!(record["versions"]["inspect_ai"], "0.3.285", "{record:#}");
    assert_eq!(record["samples"]["arith"]["benchy_demo"], 2, "{record:#}");
    let config = read_json(&dir.join("arith/inspect-generate-config.json"));
    assert_eq!(config["extra_body"]["min_p"], json!(0.05));
    let log = std::fs::read_dir(dir.join("arith/inspect-logs"))
        .unwrap()
        .count();
    assert_eq!(log, 1, "inspect's log is kept in the task's folder");

    // lm-eval's tasks of the same model, in another run: one leaderboard row per setup
    eval_config_into(&env, &recording, ("run.yaml", "r2"), &["--task", "gen"]).expect_code(0);
    let table = env.run(&["results", "out"]);
    table.expect_code(0);
    says(&table.stdout, "arith (accuracy,match)");
    says(&table.stdout, "gen (exact_match");
    let json = env.run(&["results", "out", "--format", "json"]).json();
    let text = json.to_string();
    assert!(
        text.contains("inspect_ai") && text.contains("lm_eval"),
        "{json:#}"
    );

    // a changed parameter is named
    let changed = ["--set", "temperature=0.3"];
    eval_config_into(&env, &recording, ("inspect.yaml", "r3"), &changed).expect_code(0);
    let compared = env.run(&["compare", "out/r/model", "out/r3/model"]);
    compared.expect_code(0);
    says(&compared.stdout, "temperature");
    assert!(
        recording
            .generation_bodies()
            .iter()
            .any(|b| b["temperature"] == json!(0.3)),
        "the new temperature reached the wire"
    );
}

#[test]
fn a_task_inspect_does_not_know_exits_2_before_anything_starts() {
    let env = inspect_env("no_such_task");
    let recording = server();
    let run = eval_config_into(&env, &recording, ("inspect.yaml", "r"), &[]);
    run.expect_code(2);
    says(&run.stderr, "task `arith`: inspect_task `");
    says(
        &run.stderr,
        "benchy_demo.py@no_such_task`: inspect lists only benchy_demo in",
    );
    assert!(recording.requests().is_empty(), "nothing was sent");
    assert!(!env.path().join("out/r/model").exists(), "nothing started");
}

#[test]
fn a_suite_of_both_backends_runs_and_resumes_only_what_is_missing() {
    let env = inspect_env("benchy_demo");
    env.write("model2/generation_config.json", r#"{"temperature": 0.5}"#);
    env.write("model2/config.json", "{}");
    let spec = "../tasks/inspect/benchy_demo.py@benchy_demo";
    env.write("suite/inspect.yaml", &inspect_config("../model2", spec));
    let lm_eval = std::fs::read_to_string(env.path().join("run.yaml")).unwrap();
    let lm_eval = lm_eval
        .replace("./model", "../model")
        .replace("  - gen-override\n  - mc\n", "");
    env.write("suite/lm-eval.yaml", &lm_eval);
    let recording = server();
    let first = eval_config_into(&env, &recording, ("suite", "r"), &[]);
    first.expect_code(0);
    let sent = recording.generation_bodies().len();
    assert_eq!(sent, 4, "two inspect samples and two lm-eval questions");
    let suite = read_json(&env.path().join("out/r/suite.json"));
    assert!(suite.to_string().contains("model2"), "{suite:#}");
    let again = eval_config_into(&env, &recording, ("suite", "r"), &[]);
    again.expect_code(0);
    assert_eq!(
        recording.generation_bodies().len(),
        sent,
        "nothing ran again"
    );
    let status = env.run(&["status", "out/r"]);
    status.expect_code(0);
    says(&status.stdout, "arith");
}

/// A run config's `backend:` that names no task backend, a task the inspect backend cannot run
/// and a fractional limit each exit 2 before anything starts, naming where.
#[test]
fn what_the_inspect_backend_cannot_run_exits_2_naming_it() {
    let env = inspect_env("benchy_demo");
    let recording = server();
    let config = std::fs::read_to_string(env.path().join("inspect.yaml")).unwrap();
    env.write(
        "typo.yaml",
        &config.replace("backend: inspect", "backend: inspekt"),
    );
    let run = eval_config_into(&env, &recording, ("typo.yaml", "r"), &[]);
    run.expect_code(2);
    says(&run.stderr, "typo.yaml:5: backend: ");
    says(&run.stderr, "inspekt");
    let run = eval_config_into(
        &env,
        &recording,
        ("run.yaml", "r"),
        &["--backend", "inspect"],
    );
    run.expect_code(2);
    says(
        &run.stderr,
        "task `gen`: the inspect backend runs inspect tasks",
    );
    let url = recording.base_url();
    let args = [
        "eval",
        "-c",
        "inspect.yaml",
        "--server-url",
        &url,
        "--limit",
        "0.5",
    ];
    let run = env.run(&args);
    run.expect_code(2);
    says(&run.stderr, "--limit 0.5: inspect takes a count of samples");
    assert!(recording.requests().is_empty(), "nothing was sent");
}

/// A server that wants a key (vLLM's `--api-key`) gets `OPENAI_API_KEY` from inspect's requests,
/// which inspect reads from its environment alone: the key is in no file of the run (inspect's
/// log and generate config included) and in nothing benchy prints.
#[test]
fn the_servers_key_reaches_inspect_through_its_environment_only() {
    const KEY: &str = "canary-inspect-key-3f9a1";
    let mut env = inspect_env("benchy_demo");
    env.env("OPENAI_API_KEY", KEY);
    let recording = RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        api_key: Some(KEY.into()),
        ..OpenAiOptions::default()
    });
    let run = eval_config_into(&env, &recording, ("inspect.yaml", "r"), &[]);
    run.expect_code(0);
    assert_eq!(
        recording.generation_bodies().len(),
        2,
        "the key was accepted"
    );
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(KEY), "printed: {text}");
    }
    let files = crate::eval::walk(&env.path().join("out"));
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("inspect-logs"))
    );
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains(KEY), "{} holds the key", file.display());
    }
}
