//! The promise under attack: what the server does is what the record says. Against the
//! recording server with the real lm-eval: a budget that leaves the prompt no room exits 2
//! before any request; an answer a server cut below its budget, a prompt that arrived empty and
//! every extra generation field are named deviations; the server's defaults hold only what
//! every task agrees on. And the smaller ways the record and the wire could part.

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::{Value as Json, json};

use crate::eval::{eval_args, eval_env, fake_provider, read_json, run_dir};
use crate::harness::{TestEnv, repo_root, says};

fn server(options: OpenAiOptions) -> RecordingOpenAi {
    RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        ..options
    })
}

/// `eval` of the demo run (`gen`, `gen-override`, `mc`) against `server`.
fn eval(env: &TestEnv, server: &RecordingOpenAi, extra: &[&str]) -> crate::harness::Run {
    let url = server.base_url();
    let mut args = vec!["--server-url", url.as_str()];
    args.extend_from_slice(extra);
    env.run(&eval_args(&args))
}

#[test]
fn a_budget_that_leaves_the_prompt_no_room_exits_2_before_any_request() {
    let env = eval_env(&fake_provider(&[]));
    // an attached server's context comes from its /v1/models: checked once it is ready
    let attached = server(OpenAiOptions {
        max_model_len: 4096,
        ..OpenAiOptions::default()
    });
    let run = eval(&env, &attached, &["--set", "max_new_tokens=4094"]);
    run.expect_code(2);
    says(
        &run.stderr,
        "task `gen`: max_new_tokens 4094 (from cli) leaves its prompt 2 of the \
                       server's 4096 tokens of context (as the server reports it)",
    );
    says(&run.stderr, "the budget is at most 3584");
    assert!(
        attached.generation_bodies().is_empty(),
        "no request was sent"
    );
    // a launched server's context comes from its provider: checked before anything starts
    let run = env.run(&eval_args(&["--set", "max_new_tokens=500", "--dry-run"]));
    run.expect_code(2);
    says(&run.stderr, "(the provider's max_model_len)");
    let within = eval(
        &env,
        &attached,
        &["--set", "max_new_tokens=3584", "--task", "gen"],
    );
    within.expect_code(0);
}

/// A server that caps every answer at 3 tokens, whatever the request's budget of 12: the
/// requests carried the resolved set, the answers did not honour it.
#[test]
fn an_answer_the_server_cut_below_its_budget_fails_its_task() {
    let env = eval_env(&fake_provider(&[]));
    let capped = server(OpenAiOptions {
        completion: " the answer is surely five".into(),
        cap_tokens: Some(3),
        ..OpenAiOptions::default()
    });
    let run = eval(
        &env,
        &capped,
        &["--set", "max_new_tokens=12", "--task", "gen"],
    );
    run.expect_code(1);
    says(
        &run.stderr,
        "the answer was cut at 3 tokens (finish_reason length) while the request's budget was 12: \
         the server capped it",
    );
    let audit = read_json(&run_dir(&env).join("wire_audit.json"));
    let job = &audit["jobs"][0]["report"];
    assert_eq!(job["capped_answers"], 2, "{job:#}");
    assert_eq!(job["answers"]["cut"], 2, "{job:#}");
    let record = read_json(&run_dir(&env).join("run.json"));
    assert_eq!(record["failed_tasks"], json!(["gen"]));
    // --audit warn reports it and fails nothing
    let warned = eval(
        &env,
        &capped,
        &[
            "--set",
            "max_new_tokens=12",
            "--task",
            "gen",
            "--audit",
            "warn",
            "--rerun",
        ],
    );
    warned.expect_code(0);
    says(&warned.stderr, "warning: ");
    says(&warned.stderr, "the server capped it");
    // a budget the server honours passes
    let honoured = eval(
        &env,
        &capped,
        &["--set", "max_new_tokens=3", "--task", "gen", "--rerun"],
    );
    honoured.expect_code(0);
}

/// A task whose lm-eval YAML adds generation fields of its own: each is a deviation named by
/// its key, though the resolved set itself was carried exactly.
#[test]
fn every_extra_generation_field_is_a_named_deviation() {
    let env = eval_env(&fake_provider(&[]));
    let demo = std::fs::read_to_string(
        repo_root().join("configs/tasks/lm-eval/benchy_demo_gen.yaml"),
    )
    .unwrap()
    .replace("task: benchy_demo_gen", "task: benchy_extra_fields")
    .replace(
        "  max_gen_toks: 32\n",
        "  max_gen_toks: 32\n  max_completion_tokens: 3\n  min_tokens: 2\n  ignore_eos: true\n  \
             stop_token_ids: [2]\n  logit_bias: {\"50\": -100}\n  bad_words: [\"x\"]\n  \
             use_beam_search: false\n  top_n_sigma: 1.0\n",
    );
    let dir = env.write("extra/benchy_extra_fields.yaml", &demo);
    std::fs::copy(
        repo_root().join("configs/tasks/lm-eval/benchy_demo_gen.jsonl"),
        dir.parent().unwrap().join("benchy_demo_gen.jsonl"),
    )
    .unwrap();
    env.write(
        "tasks/extra.yaml",
        &format!(
            "name: extra\ntask_name: benchy_extra_fields\ninclude_path: {}\n",
            dir.parent().unwrap().display()
        ),
    );
    env.write(
        "extra.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: fake\ntasks:\n  - extra\n",
    );
    let recording = server(OpenAiOptions::default());
    let url = recording.base_url();
    let mut args = crate::eval::eval_args_of("extra.yaml", &["--server-url", &url]);
    args.extend(["--audit", "warn"]);
    env.run(&args).expect_code(0);
    let audit = read_json(&env.path().join("out/r/model/wire_audit.json"));
    let report = &audit["jobs"][0]["report"];
    let named: Vec<(&str, &str)> = report["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["seq"] == report["deviations"][0]["seq"])
        .map(|d| (d["key"].as_str().unwrap(), d["problem"].as_str().unwrap()))
        .collect();
    for key in [
        "bad_words",
        "ignore_eos",
        "logit_bias",
        "min_tokens",
        "stop_token_ids",
        "top_n_sigma",
        "use_beam_search",
    ] {
        assert!(named.contains(&(key, "unexpected")), "{key}: {named:?}");
    }
    // the budget vLLM takes first on the chat route meets the budget's rule
    assert!(
        named.contains(&("max_completion_tokens", "different")),
        "{named:?}"
    );
}

/// What `--set` types is read as YAML 1.2, an empty stop string is refused, integers past 64
/// bits are out of range, a task's temperature a run-wide `do_sample: false` replaces is said,
/// and the chat route refuses more stop strings than lm-eval sends.
#[test]
fn the_smaller_ways_the_record_and_the_wire_could_part_are_each_named() {
    let env = eval_env(&fake_provider(&[]));
    let explain = |extra: &[&str]| {
        let mut args = vec!["config", "explain", "-c", "run.yaml", "--format", "json"];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    let typed = explain(&["--set", "stop=[y]", "--set", "foo=yes"]);
    typed.expect_code(0);
    assert_eq!(typed.json()["resolved"]["stop"]["value"], json!(["y"]));
    assert_eq!(typed.json()["resolved"]["foo"]["value"], json!("yes"));
    for (set, said) in [
        ("stop=''", "holds an empty string, which vLLM refuses"),
        ("stop=[a, '']", "holds an empty string, which vLLM refuses"),
        (
            "seed=18446744073709551616",
            "is out of range: the largest integer is 9223372036854775807",
        ),
        (
            "max_new_tokens=-9300000000000000000",
            "is out of range: the smallest integer",
        ),
    ] {
        let run = explain(&["--set", set]);
        run.expect_code(2);
        says(&run.stderr, said);
    }
    env.write(
        "greedy.yaml",
        "model:\n  name: ./model\ngeneration:\n  do_sample: false\ntasks:\n  - name: warm\n    \
         task_name: benchy_demo_gen\n    generation:\n      temperature: 0.8\n",
    );
    let greedy = env.run(&["config", "explain", "-c", "greedy.yaml"]);
    greedy.expect_code(0);
    says(
        &greedy.stderr,
        "task warm: temperature 0.8 from task:warm replaced by 0",
    );
    says(&greedy.stdout, "Task warm:");
    let five = "stop: [a, b, c, d, e]\n";
    env.write(
        "chat.yaml",
        &format!(
            "model:\n  name: ./model\nvllm:\n  provider_config: fake\nuse_chat_completions: true\n\
             generation:\n  {five}tasks:\n  - gen\n"
        ),
    );
    let recording = server(OpenAiOptions::default());
    let url = recording.base_url();
    let run = env.run(&crate::eval::eval_args_of(
        "chat.yaml",
        &["--server-url", &url],
    ));
    run.expect_code(2);
    says(&run.stderr, "5 stop strings");
    says(&run.stderr, "stop[:4]");
    assert!(recording.generation_bodies().is_empty());
}

/// transformers' own `stop_strings` is the stop strings, and a NaN drops its key only.
#[test]
fn a_model_files_stop_strings_and_python_numbers_are_read_as_python_reads_them() {
    let env = TestEnv::new();
    env.write(
        "models/m/generation_config.json",
        r#"{"do_sample": true, "temperature": NaN, "top_p": 0.9, "stop_strings": ["</s>"]}"#,
    );
    env.write("models/run.yaml", "model:\n  name: ./m\n");
    let run = env.explain_json(&[]);
    run.expect_code(0);
    let resolved: Json = run.json()["resolved"].clone();
    assert_eq!(resolved["stop"]["value"], json!(["</s>"]));
    assert_eq!(resolved["top_p"]["value"], json!(0.9));
    says(&run.stderr, "dropped `temperature` = \"NaN\"");
    env.write("site.yaml", "temperature: 0.5\ngeneration:\n  top_p: 0.8\n");
    let mixed = env.explain_json(&["--source", "yaml:site.yaml"]);
    mixed.expect_code(2);
    says(
        &mixed.stderr,
        "`temperature` sits beside the file's `generation:` block",
    );
}
