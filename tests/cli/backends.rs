//! Backends as plugins, loaded from their shared libraries as a third party's would be: the
//! example task backend `smoke` (plugins/smoke) runs the tasks, the example server backend
//! `openai-server` (plugins/openai-server) serves the model for `benchy serve` and
//! `benchy eval`, with results, verification and `run.json` as for the built-ins.

use std::path::PathBuf;
use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use nix::sys::signal::Signal;
use serde_json::{Value as Json, json};

use crate::harness::{TestEnv, live_group_members};
use crate::workspace_builds::{binary, library};

const RUN: Duration = Duration::from_secs(120);

/// The model's own file: sampling values that must reach every request.
const MODEL_GENERATION: &str = r#"{"do_sample": true, "temperature": 0.7, "top_k": 20}"#;

/// A run with two tasks, `first` with its own `max_new_tokens`, and the provider given.
fn env(provider: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write("model/generation_config.json", MODEL_GENERATION);
    env.write("providers/server.yaml", provider);
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: server\ntasks:\n  \
         - name: first\n    task_name: arith\n    generation:\n      max_new_tokens: 8\n  \
         - name: second\n    task_name: words\n",
    );
    env
}

/// A provider for the `openai-server` plugin launching the repository's fake server, which
/// records every request in `requests.jsonl`.
fn openai_server_provider() -> String {
    format!(
        "backend: openai-server\ncommand: [{}, --record, requests.jsonl, --port, \"{{port}}\", \
         --served-model-name, \"{{served_model_name}}\"]\nstartup_timeout: 60\nstop_grace: 5\n\
         env:\n  FAKE_PID_FILE: server.pid\n",
        binary("benchy-fake-vllm").display()
    )
}

fn plugin(name: &str) -> String {
    library(name).display().to_string()
}

fn read_json(path: PathBuf) -> Json {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The sampling fields a completion body carried (model and prompt left out).
fn sampling(body: &Json) -> Json {
    let mut body = body.clone();
    let fields = body.as_object_mut().unwrap();
    fields.remove("model");
    fields.remove("prompt");
    body
}

#[test]
fn a_task_backend_plugin_runs_the_tasks_with_the_resolved_parameters() {
    let server = RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        ..OpenAiOptions::default()
    });
    let env = env("command: [unused]\n");
    let smoke = plugin("benchy_smoke");
    let url = server.base_url();
    let run = env.run(&[
        "eval",
        "-c",
        "run.yaml",
        "--source",
        "hf",
        "--plugin",
        &smoke,
        "--backend",
        "smoke",
        "--server-url",
        &url,
        "--run-id",
        "r",
        "--output-dir",
        "out",
    ]);
    run.expect_code(0);

    let bodies = server.generation_bodies();
    let mut prompts: Vec<&str> = bodies
        .iter()
        .map(|b| b["prompt"].as_str().unwrap())
        .collect();
    prompts.sort_unstable();
    assert_eq!(prompts, ["arith:", "words:"]);
    for body in &bodies {
        let expected = if body["prompt"] == "arith:" {
            json!({"temperature": 0.7, "top_k": 20, "max_tokens": 8})
        } else {
            json!({"temperature": 0.7, "top_k": 20})
        };
        assert_eq!(sampling(body), expected, "{body}");
        assert_eq!(body["model"], "model");
    }

    let dir = env.path().join("out/r/model");
    let record = read_json(dir.join("run.json"));
    assert_eq!(record["status"], "ok");
    assert_eq!(record["backend"], "smoke");
    let statuses: Vec<&Json> = record["verification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["status"])
        .collect();
    assert_eq!(statuses, [&json!("verified"), &json!("verified")]);
    assert_eq!(
        read_json(dir.join("results.json"))["first"]["first"]["answered"]["value"],
        json!(1)
    );
    assert!(
        run.stderr
            .contains("first: smoke recorded exactly the parameters sent"),
        "{}",
        run.stderr
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("verified against smoke's record"),
        "{summary}"
    );
}

#[test]
fn a_server_backend_plugin_serves_the_model_until_ctrl_c() {
    let env = env(&openai_server_provider());
    let server_plugin = plugin("benchy_openai_server");
    let benchy = env.spawn(&[
        "serve",
        "-c",
        "run.yaml",
        "--source",
        "hf",
        "--plugin",
        &server_plugin,
    ]);
    let line = benchy.next_line(RUN);
    assert!(
        line.starts_with("Serving model at http://127.0.0.1:") && line.ends_with("/v1"),
        "{line}"
    );
    let requests = std::fs::read_to_string(env.path().join("requests.jsonl")).unwrap();
    assert!(
        requests.contains("/v1/models"),
        "probed through its own protocol: {requests}"
    );
    benchy.signal(Signal::SIGINT);
    let run = benchy.wait(RUN);
    run.expect_code(130);
    assert!(
        run.stderr
            .contains("openai-server cannot give the server benchy's parameters"),
        "the plugin's plan says what it cannot do: {}",
        run.stderr
    );
}

#[test]
fn server_and_task_backends_from_plugins_run_an_eval_end_to_end() {
    let env = env(&openai_server_provider());
    let (server_plugin, smoke) = (plugin("benchy_openai_server"), plugin("benchy_smoke"));
    let run = env.run(&[
        "eval",
        "-c",
        "run.yaml",
        "--source",
        "hf",
        "--plugin",
        &server_plugin,
        "--plugin",
        &smoke,
        "--backend",
        "smoke",
        "--run-id",
        "r",
        "--output-dir",
        "out",
    ]);
    run.expect_code(0);
    let dir = env.path().join("out/r/model");
    let record = read_json(dir.join("run.json"));
    assert_eq!(record["status"], "ok", "{record:#}");
    assert_eq!(record["server"]["backend"], "openai-server");
    assert_eq!(record["server"]["launched"], true);
    assert_eq!(record["server"]["ended"], "stopped by benchy");
    let completions = std::fs::read_to_string(env.path().join("requests.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"/v1/completions\""))
        .count();
    assert_eq!(completions, 2, "one request per task");
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.starts_with("# benchy started: "), "{log}");
    assert!(log.contains("fake server: serving model"), "{log}");
    let pid: i32 = std::fs::read_to_string(env.path().join("server.pid"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        live_group_members(pid).is_empty(),
        "the server's group is gone"
    );
}

/// `plugins list` says which role each backend plays, and a backend asked for the role it does
/// not play is refused before anything starts, naming the role it has.
#[test]
fn each_backend_plays_one_role_and_is_refused_in_the_other() {
    let env = env(&openai_server_provider());
    let (server_plugin, smoke) = (plugin("benchy_openai_server"), plugin("benchy_smoke"));
    let plugins = ["--plugin", &server_plugin, "--plugin", &smoke];
    let list = env.run(&[&plugins[..], &["plugins", "list", "--format", "json"]].concat());
    list.expect_code(0);
    let list = list.json();
    assert_eq!(
        list["builtin"]["task_backends"],
        json!(["lm-eval", "inspect"])
    );
    assert_eq!(list["builtin"]["server_backends"], json!(["vllm"]));
    let row = |name: &str| {
        list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("benchy-smoke")["kind"], "task backend");
    assert_eq!(row("benchy-smoke")["task_backends"], json!(["smoke"]));
    assert_eq!(row("benchy-openai-server")["kind"], "server backend");
    assert_eq!(
        row("benchy-openai-server")["server_backends"],
        json!(["openai-server"])
    );
    let table = env.run(&[&plugins[..], &["plugins", "list"]].concat());
    assert!(
        table
            .stdout
            .contains("task backends lm-eval, inspect; server backends vllm")
            && table.stdout.lines().any(|l| {
                l.split_whitespace().take(5).eq([
                    "benchy-openai-server",
                    "0.1.0",
                    "server",
                    "backend",
                    "openai-server",
                ])
            }),
        "{}",
        table.stdout
    );
    for (backend, role) in [
        ("openai-server", "server backend"),
        ("vllm", "server backend"),
    ] {
        let run = env.run(
            &[
                &plugins[..],
                &[
                    "eval",
                    "-c",
                    "run.yaml",
                    "--backend",
                    backend,
                    "--output-dir",
                    "out",
                ],
            ]
            .concat(),
        );
        run.expect_code(2);
        assert!(
            run.stderr.contains(&format!(
                "unknown task backend `{backend}` (`{backend}` is a {role}"
            )),
            "{}",
            run.stderr
        );
        assert!(!env.path().join("out").exists(), "nothing was started");
    }
}
