//! `benchy eval` end to end with the real lm-eval from `make setup`, against the recording
//! OpenAI-compatible server of benchy-testkit (attached with `--server-url`, or launched in
//! vLLM's place through the provider's `command`): the exact parameters of every request, the
//! outputs on disk, and the failures (unknown task, a server dying mid-run, one lm-eval process
//! failing, Ctrl-C) with nothing left running.

use std::path::{Path, PathBuf};
use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::{Value as Json, json};

use crate::harness::{Run, TestEnv, alive, descendants, eventually, repo_root, says};
use crate::workspace_builds::binary;

/// Bounds a hang; not a timing. lm-eval spends ~7 s indexing its tasks on every start.
pub(crate) const RUN: Duration = Duration::from_secs(300);

/// The lm-eval `make setup` installs; a test fails (never skips) when it is missing.
pub use benchy_testkit::python::lm_eval;

/// The model's own file: sampling, as a chat model's generation_config.json says.
const MODEL_GENERATION: &str = r#"{"do_sample": true, "temperature": 0.7, "top_p": 0.6,
  "top_k": 20, "repetition_penalty": 1.05, "bos_token_id": 1, "eos_token_id": 2}"#;

/// A run with the shipped demo tasks: `gen` (the task's YAML is greedy with
/// `max_gen_toks: 32`), `gen-override` (the same lm-eval task with its own `generation:` block)
/// and `mc` (multiple choice). The run's own block adds `min_p`.
pub(crate) fn eval_env(provider: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.env("BENCHY_LM_EVAL", lm_eval().to_str().unwrap());
    env.write("model/generation_config.json", MODEL_GENERATION);
    env.write("model/config.json", "{}");
    write_demo_tasks(&env, "  top_k: 5\n  max_new_tokens: 8\n");
    env.write("providers/fake.yaml", provider);
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: fake\n\
         generation:\n  min_p: 0.05\ntasks:\n  - gen\n  - gen-override\n  - mc\n",
    );
    env
}

/// `tasks/gen.yaml`, `tasks/mc.yaml` (the shipped demo tasks) and `tasks/gen-override.yaml`, the
/// generation task with `override_block` as its own `generation:` block.
pub(crate) fn write_demo_tasks(env: &TestEnv, override_block: &str) {
    let include = repo_root().join("configs/tasks/lm-eval");
    let include = include.display();
    for (name, task) in [("gen", "gen"), ("gen-override", "gen"), ("mc", "mc")] {
        let block = if name == "gen-override" {
            format!("generation:\n{override_block}")
        } else {
            String::new()
        };
        env.write(
            &format!("tasks/{name}.yaml"),
            &format!(
                "name: {name}\ntask_name: benchy_demo_{task}\ninclude_path: {include}\n{block}"
            ),
        );
    }
}

/// A provider that launches the recording server binary in vLLM's place; `flags` are its own.
pub(crate) fn fake_provider(flags: &[&str]) -> String {
    let mut command = vec![binary("benchy-fake-vllm").display().to_string()];
    command.extend(flags.iter().map(|f| (*f).to_owned()));
    format!(
        "command: {}\nhost: 127.0.0.1\nmax_model_len: 512\nstartup_timeout: 60\nstop_grace: 5\n",
        serde_json::to_string(&command).unwrap()
    )
}

pub(crate) fn eval_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    eval_args_of("run.yaml", extra)
}

/// [`eval_args`] of another run config (or folder, or list of them).
pub(crate) fn eval_args_of<'a>(config: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "eval",
        "-c",
        config,
        "--source",
        "hf",
        "--run-id",
        "r",
        "--output-dir",
        "out",
        "--limit",
        "2",
    ];
    args.extend_from_slice(extra);
    args
}

pub(crate) fn run_dir(env: &TestEnv) -> PathBuf {
    env.path().join("out/r/model")
}

pub(crate) fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `eval` of the test's run config against the already running `server`, two examples a task,
/// into `out/<run_id>`.
pub(crate) fn eval_into(
    env: &TestEnv,
    server: &RecordingOpenAi,
    run_id: &str,
    extra: &[&str],
) -> Run {
    eval_config_into(env, server, ("run.yaml", run_id), extra)
}

/// [`eval_into`] of another run config (or folder of them).
pub(crate) fn eval_config_into(
    env: &TestEnv,
    server: &RecordingOpenAi,
    (config, run_id): (&str, &str),
    extra: &[&str],
) -> Run {
    let url = server.base_url();
    let mut args = vec!["eval", "-c", config, "--source", "hf", "--limit", "2"];
    args.extend([
        "--run-id",
        run_id,
        "--output-dir",
        "out",
        "--server-url",
        &url,
    ]);
    args.extend_from_slice(extra);
    env.run(&args)
}

/// The recording server, serving the test's model under its short name.
pub(crate) fn recording_server() -> RecordingOpenAi {
    RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        ..OpenAiOptions::default()
    })
}

/// The task `broken` (`tasks/broken.yaml`): lm-eval's `validate` finds it, its `run` then
/// fails on an unknown key in its YAML.
pub(crate) fn write_broken_task(env: &TestEnv) {
    let broken = env.write(
        "broken/benchy_broken.yaml",
        &format!(
            "include: {}\ntask: benchy_broken\nnot_a_task_key: 1\n",
            repo_root()
                .join("configs/tasks/lm-eval/benchy_demo_gen.yaml")
                .display()
        ),
    );
    env.write(
        "tasks/broken.yaml",
        &format!(
            "name: broken\ntask_name: benchy_broken\ninclude_path: {}\n",
            broken.parent().unwrap().display()
        ),
    );
}

/// `benchy eval` of `env`'s run (see [`eval_args`]) against `server`, with `extra` flags.
fn eval_against(env: &TestEnv, server: &RecordingOpenAi, extra: &[&str]) -> Run {
    let url = server.base_url();
    let mut args = vec!["--server-url", url.as_str()];
    args.extend_from_slice(extra);
    env.run(&eval_args(&args))
}

/// The generation requests' sampling fields (the prompt left out).
fn sampling(body: &Json) -> Json {
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove("prompt");
    body
}

#[test]
fn every_request_carries_the_resolved_parameters_and_the_record_proves_it() {
    let server = recording_server();
    let env = eval_env(&fake_provider(&[]));
    // two parameter sets, two lm-eval processes side by side against the one server
    let run = eval_against(&env, &server, &["--log-samples", "--jobs", "2"]);
    run.expect_code(0);

    let bodies = server.generation_bodies();
    let generate: Vec<Json> = bodies
        .iter()
        .filter(|b| b.get("echo").is_none())
        .map(sampling)
        .collect();
    let scored: Vec<&Json> = bodies.iter().filter(|b| b.get("echo").is_some()).collect();
    // --limit 2 per task: two generate tasks, and two questions of three choices each
    assert_eq!(generate.len(), 4, "{generate:#?}");
    assert_eq!(scored.len(), 6, "{scored:#?}");

    // The model's sampling values beat the task YAML's own greedy defaults (do_sample: false,
    // temperature: 0.0, max_gen_toks: 32 stays: nothing resolved sets a length for `gen`);
    // the run's min_p reaches every request; lm-eval adds its default seed. It adds the
    // server's end-of-sequence token to the task's stop strings only when it sends one request
    // at a time (api_models.py: `model_call` passes `eos`, `amodel_call` does not): here the
    // requests go out side by side, up to the `max_concurrent` setting, since the capacity of a
    // server given by URL is not known.
    let from_model = json!({
        "model": "model", "max_tokens": 32, "temperature": 0.7, "stop": ["\n"], "seed": 1234,
        "top_p": 0.6, "top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05,
    });
    // The task's own block beats the model's and the run's values.
    let overridden = json!({
        "model": "model", "max_tokens": 8, "temperature": 0.7, "stop": ["\n"], "seed": 1234,
        "top_p": 0.6, "top_k": 5, "min_p": 0.05, "repetition_penalty": 1.05,
    });
    assert_eq!(
        generate.iter().filter(|b| **b == from_model).count(),
        2,
        "{generate:#?}"
    );
    assert_eq!(
        generate.iter().filter(|b| **b == overridden).count(),
        2,
        "{generate:#?}"
    );

    // Multiple choice: token-id prompts scored by log-likelihood, no sampling parameter.
    for body in &scored {
        let prompt = body["prompt"].as_array().expect("a list of prompts");
        assert!(
            prompt
                .iter()
                .all(|p| p.as_array().is_some_and(|ids| ids.iter().all(Json::is_u64))),
            "prompts must be token ids: {body}"
        );
        assert_eq!(
            sampling(body),
            json!({"model": "model", "temperature": 0, "max_tokens": 1, "logprobs": 1,
                   "seed": 1234, "echo": true}),
        );
    }

    // The record: what ran, verified against lm-eval's own record of it.
    let dir = run_dir(&env);
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["status"], "ok");
    assert_eq!(
        record["versions"]["lm_eval"], "0.4.13",
        "{}",
        record["versions"]
    );
    let verification = record["verification"].as_array().unwrap();
    let status_of = |name: &str| -> Vec<&str> {
        verification
            .iter()
            .filter(|v| v["task"] == name)
            .map(|v| v["status"].as_str().unwrap())
            .collect()
    };
    assert_eq!(status_of("gen"), ["verified"]);
    assert_eq!(status_of("gen-override"), ["verified"]);
    assert_eq!(status_of("mc"), ["no sampling parameters"]);
    let commands: Vec<&str> = record["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["command"].as_str().unwrap())
        .collect();
    // `gen` and `mc` resolve to the same set and share one lm-eval process; `gen-override`
    // needs its own, because --gen_kwargs applies to every task of a process
    let covered: Vec<&Json> = record["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["tasks"])
        .collect();
    assert_eq!(covered, [&json!(["gen", "mc"]), &json!(["gen-override"])]);
    for command in &commands {
        let model_args = command.split("--model_args ").nth(1).unwrap();
        for key in [
            "temperature",
            "top_p",
            "top_k",
            "do_sample",
            "repetition_penalty",
        ] {
            assert!(
                !model_args.split(" --").next().unwrap().contains(key),
                "sampling key {key} in model_args: {command}"
            );
        }
    }
    let resolved = read_json(&dir.join("resolved_generation.json"));
    assert_eq!(
        resolved["tasks"]["gen-override"]["top_k"],
        json!({"value": 5, "source": "task:gen-override"})
    );
    assert_eq!(
        resolved["resolved"]["min_p"]["source"],
        json!("config:run.yaml")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("generation_config.json")).unwrap(),
        MODEL_GENERATION,
        "the model's file is kept byte for byte"
    );
    let results = read_json(&dir.join("results.json"));
    assert!(
        results["mc"]["benchy_demo_mc"]["acc,none"]["value"].is_number(),
        "{results}"
    );
    assert!(
        results["gen"]["benchy_demo_gen"]["exact_match,none"]["value"].is_number(),
        "{results}"
    );
    for task in ["gen", "gen-override", "mc"] {
        let folder = dir.join(task);
        let files: Vec<String> = walk(&folder)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            files.iter().any(|f| f.starts_with("results_")),
            "{task}: lm-eval's results file in its folder: {files:?}"
        );
        assert!(
            files.iter().any(|f| f.starts_with("samples_")),
            "{task}: --log-samples keeps lm-eval's samples: {files:?}"
        );
    }
    // The wire audit saw exactly the completions the server saw, and every one carried the set.
    let audit = read_json(&dir.join("wire_audit.json"));
    let jobs = audit["jobs"].as_array().unwrap();
    let count = |kind: &str| -> u64 {
        jobs.iter()
            .map(|j| j["report"]["by_kind"][kind].as_u64().unwrap_or(0))
            .sum()
    };
    let served = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/completions"))
        .count() as u64;
    assert_eq!(count("generation") + count("scoring"), served, "{audit:#}");
    assert_eq!(
        audit["verdict"], "4 of 4 generation requests carried exactly the resolved set",
        "{audit:#}"
    );
    let scored: u64 = jobs
        .iter()
        .map(|j| j["report"]["scoring"]["matched"].as_u64().unwrap())
        .sum();
    assert_eq!(
        scored, 6,
        "every scoring request carried only lm-eval's fixed keys"
    );
    assert_eq!(record["audit"]["verdict"], audit["verdict"]);
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("Wire audit: 4 of 4 generation requests"),
        "{summary}"
    );
    assert!(dir.join("run_config.yaml").is_file());
    // the results table on stdout
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("benchy_demo_mc") && l.contains("acc,none")),
        "{}",
        run.stdout
    );
}

pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `use_chat_completions: true` (the Python tool's key): chat requests, with the same parameters.
#[test]
fn chat_requests_carry_the_resolved_parameters_too() {
    let server = recording_server();
    let env = eval_env(&fake_provider(&[]));
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: fake\nuse_chat_completions: true\n\
         tasks:\n  - gen-override\n",
    );
    eval_against(&env, &server, &[]).expect_code(0);
    let chats: Vec<Json> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .map(|r| r.body)
        .collect();
    assert_eq!(chats.len(), 2, "{chats:#?}");
    for body in &chats {
        assert!(body["messages"].is_array(), "{body}");
        let mut fields = body.clone();
        fields.as_object_mut().unwrap().remove("messages");
        assert_eq!(
            fields,
            json!({"model": "model", "max_tokens": 8, "temperature": 0.7, "stop": ["\n"],
                   "seed": 1234, "top_p": 0.6, "top_k": 5, "repetition_penalty": 1.05})
        );
    }
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path != "/v1/completions"),
        "no completion request in chat mode"
    );
}

#[test]
fn an_unknown_task_stops_before_any_request() {
    let server = RecordingOpenAi::start(OpenAiOptions::default());
    let env = eval_env(&fake_provider(&[]));
    env.write(
        "tasks/gen.yaml",
        "name: gen\ntask_name: no_such_lm_eval_task\n",
    );
    let run = eval_against(&env, &server, &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no_such_lm_eval_task"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(
        !env.path().join("out").exists(),
        "nothing written for a run that did not start"
    );
}

#[test]
fn dry_run_prints_the_commands_and_starts_nothing() {
    let env = eval_env(&fake_provider(&[]));
    let run = env.run(&eval_args(&["--dry-run"]));
    run.expect_code(0);
    assert!(run.stdout.contains("--gen_kwargs"), "{}", run.stdout);
    assert!(
        run.stdout.contains("--override-generation-config"),
        "the server command: {}",
        run.stdout
    );
    assert!(run.stdout.contains("task:gen-override"), "{}", run.stdout);
    assert!(!env.path().join("out").exists());
}

/// A server that answers two completions and dies: the run fails, keeps what it has, and
/// leaves nothing running.
#[test]
fn a_server_dying_mid_run_fails_the_run_and_keeps_the_record() {
    let env = eval_env(&fake_provider(&["--die-after", "2", "--delay-ms", "200"]));
    let spawned = env.spawn(&eval_args(&["--task", "gen", "--task", "mc"]));
    let benchy = spawned.pid();
    let run = spawned.wait(RUN);
    run.expect_code(1);
    assert!(run.stderr.contains("exited"), "{}", run.stderr);
    let record = read_json(&run_dir(&env).join("run.json"));
    assert_eq!(record["status"], "failed");
    assert!(
        record["failures"].to_string().contains("server exited"),
        "{}",
        record["failures"]
    );
    assert!(descendants(benchy).is_empty(), "nothing left running");
}

#[test]
fn one_failing_lm_eval_process_keeps_the_others_results() {
    let server = recording_server();
    let env = eval_env(&fake_provider(&[]));
    write_broken_task(&env);
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: fake\ntasks:\n  - broken\n  - mc\n",
    );
    let run = eval_against(&env, &server, &[]);
    run.expect_code(1);
    let dir = run_dir(&env);
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["status"], "failed");
    assert_eq!(record["failed_tasks"], json!(["broken"]));
    let results = read_json(&dir.join("results.json"));
    assert!(
        results["mc"]["benchy_demo_mc"]["acc,none"]["value"].is_number(),
        "{results}"
    );
    assert!(run.stderr.contains("lm-eval[broken]"), "{}", run.stderr);
}

/// Ctrl-C while lm-eval talks to a slow server: exit 130, every process stopped, and the record
/// and inputs kept.
#[test]
fn ctrl_c_during_tasks_stops_everything_and_keeps_the_record() {
    let env = eval_env(&fake_provider(&["--delay-ms", "3000"]));
    let spawned = env.spawn(&eval_args(&["--task", "gen"]));
    spawned.wait_stderr("lm-eval[gen]: started", RUN);
    let benchy = spawned.pid();
    // lm-eval is past its start-up once the server has seen a completion request
    let log = run_dir(&env).join("server.log");
    assert!(
        eventually(RUN, || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("benchy-fake-vllm"))),
        "the server never started"
    );
    let before = descendants(benchy);
    assert!(!before.is_empty());
    std::thread::sleep(Duration::from_secs(8));
    spawned.signal(nix::sys::signal::Signal::SIGINT);
    let run = spawned.wait(RUN);
    run.expect_code(130);
    for pid in before {
        assert!(!alive(pid), "process {pid} outlived benchy");
    }
    let dir = run_dir(&env);
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["status"], "interrupted");
    assert!(dir.join("resolved_generation.json").is_file());
}

/// Another consumer's name for a key is that key: `--set max_gen_toks=5` and `--set until=[...]`
/// (lm-eval's names) go out once, as lm-eval's max_tokens and stop, and the record and the
/// verification name what went out. (Two names of one key are refused: tests/cli/before_start.rs.)
#[test]
fn another_consumers_name_for_a_key_goes_out_once_as_that_key() {
    let server = recording_server();
    let env = eval_env(&fake_provider(&[]));
    let run = eval_against(
        &env,
        &server,
        &[
            "--task",
            "gen",
            "--set",
            "max_gen_toks=5",
            "--set",
            "until=[QQ]",
        ],
    );
    run.expect_code(0);
    let generate: Vec<Json> = server
        .generation_bodies()
        .iter()
        .filter(|b| b.get("echo").is_none())
        .cloned()
        .collect();
    assert_eq!(generate.len(), 2, "{generate:#?}");
    for body in &generate {
        assert_eq!(body["max_tokens"], 5, "{body}");
        // requests side by side: lm-eval adds no end-of-sequence stop (see above)
        assert_eq!(body["stop"], json!(["QQ"]), "{body}");
        assert!(
            body.get("max_gen_toks").is_none() && body.get("until").is_none(),
            "{body}"
        );
    }
    let dir = run_dir(&env);
    let resolved = read_json(&dir.join("resolved_generation.json"));
    assert_eq!(
        resolved["resolved"]["max_new_tokens"],
        json!({"value": 5, "source": "cli"})
    );
    assert_eq!(
        resolved["resolved"]["stop"],
        json!({"value": ["QQ"], "source": "cli"})
    );
    let record = read_json(&dir.join("run.json"));
    let verification = &record["verification"][0];
    assert_eq!(verification["status"], "verified", "{verification:#}");
    assert_eq!(verification["sent"]["max_gen_toks"], 5, "{verification:#}");
    assert_eq!(
        verification["recorded"]["max_gen_toks"], 5,
        "{verification:#}"
    );
}

/// A task whose own lm-eval YAML sets a sampling key the resolved set does not have: lm-eval
/// sends it on every request and records it as the task's own, so the record looks fine; the
/// wire audit catches it. `--audit on` fails the run, `warn` reports it, `off` removes the proxy.
#[test]
fn the_wire_audit_catches_a_parameter_the_task_file_sneaks_in() {
    let server = RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        ..OpenAiOptions::default()
    });
    let env = eval_env(&fake_provider(&[]));
    let shipped = repo_root().join("configs/tasks/lm-eval");
    let task = std::fs::read_to_string(shipped.join("benchy_demo_gen.yaml"))
        .unwrap()
        .replace("task: benchy_demo_gen", "task: sneaky_gen")
        .replace(
            "test: benchy_demo_gen.jsonl",
            &format!("test: {}", shipped.join("benchy_demo_gen.jsonl").display()),
        )
        .replace(
            "  max_gen_toks: 32",
            "  max_gen_toks: 32\n  presence_penalty: 0.5",
        );
    env.write("sneaky/sneaky_gen.yaml", &task);
    let include = env.path().join("sneaky");
    env.write(
        "tasks/sneaky.yaml",
        &format!(
            "name: sneaky\ntask_name: sneaky_gen\ninclude_path: {}\n",
            include.display()
        ),
    );
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: fake\ntasks:\n  - sneaky\n",
    );
    let url = server.base_url();
    let run = |mode: &str| {
        env.run(&[
            "eval",
            "-c",
            "run.yaml",
            "--source",
            "hf",
            "--run-id",
            mode,
            "--output-dir",
            "out",
            "--limit",
            "1",
            "--server-url",
            &url,
            "--audit",
            mode,
        ])
    };

    let on = run("on");
    on.expect_code(1);
    assert!(
        on.stderr
            .contains("the wire audit found requests that did not carry the resolved set")
            && on
                .stderr
                .contains("`presence_penalty` is not in the resolved set, got 0.5"),
        "{}",
        on.stderr
    );
    let record = read_json(&env.path().join("out/on/model/run.json"));
    assert_eq!(record["failed_tasks"], json!(["sneaky"]));
    // what lm-eval recorded matches what benchy sent: only the wire shows the difference
    assert_eq!(record["verification"][0]["status"], "verified");

    let warn = run("warn");
    warn.expect_code(0);
    assert!(
        warn.stderr
            .contains("warning: lm-eval[sneaky]: the wire audit"),
        "{}",
        warn.stderr
    );

    run("off").expect_code(0);
    let off = env.path().join("out/off/model");
    assert!(off.join("run.json").is_file());
    assert!(!off.join("wire_audit.json").exists(), "no proxy, no audit");
}

/// Requests in flight: the server's capacity (the provider's `max_num_seqs`), under the
/// `max_concurrent` setting, shown with where the number comes from and kept in the record.
#[test]
fn requests_in_flight_are_the_servers_capacity_under_the_setting_and_recorded() {
    let provider = fake_provider(&[]) + "max_num_seqs: 8\n";
    let env = eval_env(&provider);
    let args = eval_args(&["--task", "gen", "--dry-run"]);
    let planned = env.run(&args);
    planned.expect_code(0);
    says(
        &planned.stderr,
        "lm-eval[gen]: 8 requests in flight (num_concurrent): the provider's max_num_seqs (",
    );
    says(&planned.stdout, r#""num_concurrent":8"#);

    env.write("benchy.toml", "max_concurrent = 3\n");
    let capped = env.run(&args);
    capped.expect_code(0);
    says(
        &capped.stderr,
        "3 requests in flight (num_concurrent): the max_concurrent setting (",
    );
    says(
        &capped.stderr,
        "benchy.toml:1), below the server's capacity 8",
    );

    let ran = env.run(&eval_args(&["--task", "gen"]));
    ran.expect_code(0);
    let record = read_json(&run_dir(&env).join("run.json"));
    assert_eq!(
        record["backends"]["lm-eval"]["num_concurrent"]["gen"]["requests"],
        json!(3),
        "{:#}",
        record["backends"]
    );
    assert_eq!(record["options"]["max_concurrent"]["requests"], json!(3));

    env.write("benchy.toml", "max_concurrent = 0\n");
    let refused = env.run(&args);
    refused.expect_code(2);
    says(&refused.stderr, "benchy.toml");
    says(&refused.stderr, "max_concurrent");
}
