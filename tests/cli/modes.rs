//! Thinking models: a mode's preset and switch reach every chat request of the tasks that
//! generate, log-likelihood tasks stay on completions, a thinking mode sends no stop string and
//! cuts the answer after the reasoning instead, the server shows what it renders, and every
//! mistake in a mode stops the run before anything starts. With the real lm-eval against the
//! recording server, and the stand-in Hub for templates and the catalog.

use benchy_testkit::StandInHub;
use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::{Value as Json, json};

use crate::eval::{eval_env, eval_into as eval_as, fake_provider, read_json, run_dir};
use crate::harness::{TestEnv, says};

/// The part of Qwen3's chat template that reads the switch: a closed, empty reasoning block
/// when `enable_thinking` is false.
const QWEN3_LIKE: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + \
    '\\n' + message.content + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}\
    {{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is \
    false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}";

/// Modes of the test's model: `instruct` (the run's) and `thinking`.
const MODES: &str = "modes:\n  instruct:\n    chat_template_kwargs: {enable_thinking: false}\n    \
    generation: {temperature: 0.7, top_p: 0.8, presence_penalty: 1.5}\n  thinking:\n    \
    chat_template_kwargs: {enable_thinking: true}\n    \
    generation: {temperature: 1.0, top_p: 0.95, max_new_tokens: 64}\n";

/// What the server answers every chat request: a reasoning that restates the task's stop
/// string (`\n`), then the answer and more lines a stop would have cut.
const THINKING_ANSWER: &str = "<think>2+3\nis five\n</think> 5\nQ: What is 1+1?";

/// The demo run (`gen`, `mc`) in mode `instruct`, its model with a switching template.
fn modes_env() -> TestEnv {
    let env = eval_env(&fake_provider(&[]));
    env.write("model/chat_template.jinja", QWEN3_LIKE);
    env.write(
        "run.yaml",
        &format!(
            "model:\n  name: ./model\nvllm:\n  provider_config: fake\nmode: instruct\n{MODES}\
             tasks:\n  - gen\n  - mc\n"
        ),
    );
    env
}

fn server() -> RecordingOpenAi {
    RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        completion: THINKING_ANSWER.into(),
        ..OpenAiOptions::default()
    })
}

fn eval(env: &TestEnv, server: &RecordingOpenAi, extra: &[&str]) -> crate::harness::Run {
    eval_as(env, server, "r", extra)
}

/// The bodies of the requests sent to `path`.
fn bodies(server: &RecordingOpenAi, path: &str) -> Vec<Json> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.body)
        .collect()
}

#[test]
fn a_mode_reaches_every_chat_request_and_a_thinking_mode_cuts_answers_not_reasoning() {
    let env = modes_env();
    let recording = server();
    let run = eval(&env, &recording, &[]);
    run.expect_code(0);
    let chat = bodies(&recording, "/v1/chat/completions");
    assert_eq!(chat.len(), 2, "the generating task, over chat: {chat:?}");
    for body in &chat {
        assert_eq!(
            body["chat_template_kwargs"],
            json!({"enable_thinking": false})
        );
        assert_eq!(body["temperature"], json!(0.7));
        assert_eq!(body["presence_penalty"], json!(1.5));
        assert_eq!(
            body["stop"],
            json!(["\n"]),
            "a mode that does not think keeps stops"
        );
    }
    let scoring = bodies(&recording, "/v1/completions");
    assert!(
        !scoring.is_empty(),
        "the multiple-choice task stays on completions"
    );
    assert!(
        scoring
            .iter()
            .all(|b| b["echo"] == json!(true) && b.get("chat_template_kwargs").is_none())
    );
    let record = read_json(&run_dir(&env).join("run.json"));
    let mode = &record["modes"][0];
    assert_eq!(mode["name"], "instruct");
    assert_eq!(mode["chosen_by"], "run.yaml:5");
    let rendered = mode["rendered"]["prompt"].as_str().unwrap();
    assert!(
        rendered.ends_with("<|assistant|><think>\n\n</think>\n\n"),
        "{rendered}"
    );
    assert_eq!(mode["rendered"]["flipped"][0]["switch"], "enable_thinking");
    assert_eq!(mode["rendered"]["flipped"][0]["changed"], true);
    let resolved = read_json(&run_dir(&env).join("resolved_generation.json"));
    let source = resolved["tasks"]["gen"]["presence_penalty"]["source"]
        .as_str()
        .unwrap();
    assert!(source.starts_with("mode:instruct ("), "{source}");
    assert!(run_dir(&env).join("chat_template.jinja").is_file());

    // The other mode, by flag: no stop string goes out, the answer is cut after the reasoning
    let thinking = server();
    let run = eval_as(&env, &thinking, "r2", &["--mode", "thinking"]);
    run.expect_code(0);
    says(
        &run.stderr,
        "mode `thinking` thinks, so its requests carry no stop string",
    );
    says(&run.stderr, "max_new_tokens 64 (from mode:thinking (");
    says(
        &run.stderr,
        "replaces the 32 tokens lm-eval's `benchy_demo_gen` gives an answer",
    );
    for body in bodies(&thinking, "/v1/chat/completions") {
        assert_eq!(
            body["chat_template_kwargs"],
            json!({"enable_thinking": true})
        );
        assert_eq!(body["stop"], json!([]));
        assert_eq!(body["max_tokens"], json!(64));
    }
    let second = env.path().join("out/r2/model");
    let audit = read_json(&second.join("wire_audit.json"));
    let cut: u64 = audit["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["report"]["answers"]["cut_at_stop"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(cut, 2, "{audit:#}");
    // the first answer is " 5" once cut and stripped of its reasoning: right for "2+3"
    let results = read_json(&second.join("results.json"));
    assert_eq!(
        results["gen"]["benchy_demo_gen"]["exact_match,none"]["value"],
        json!(0.5),
        "{results:#}"
    );
    // two modes of one model are two rows; compare names the change
    let table = env.run(&["results", "out"]);
    table.expect_code(0);
    assert!(
        table.stdout.contains("mode=instruct") && table.stdout.contains("mode=thinking"),
        "{}",
        table.stdout
    );
    let compared = env.run(&["compare", "out/r/model", "out/r2/model"]);
    compared.expect_code(0);
    says(&compared.stdout, "mode instruct -> thinking");
}

/// Each mistake in a mode exits 2 before anything starts, naming the file, line and key.
#[test]
fn every_mistake_in_a_mode_exits_2_before_any_request() {
    let env = modes_env();
    let recording = server();
    let refused = |run: crate::harness::Run, needles: &[&str]| {
        run.expect_code(2);
        for needle in needles {
            says(&run.stderr, needle);
        }
        assert!(recording.generation_bodies().is_empty(), "{}", run.stderr);
    };
    refused(
        eval(&env, &recording, &["--mode", "fast"]),
        &["--mode: `mode`: unknown mode `fast`; ./model has: instruct, thinking"],
    );
    let with = |modes: &str, tasks: &str| {
        env.write(
            "run.yaml",
            &format!(
                "model:\n  name: ./model\nvllm:\n  provider_config: fake\nmode: instruct\n\
                 {modes}tasks:\n{tasks}"
            ),
        );
    };
    let gen_only = "  - gen\n";
    with("modes:\n  instruct:\n    temprature: 0.7\n", gen_only);
    refused(eval(&env, &recording, &[]), &["run.yaml:8:", "temprature"]);
    with(
        "modes:\n  instruct:\n    chat_template_kwargs: false\n",
        gen_only,
    );
    refused(
        eval(&env, &recording, &[]),
        &[
            "run.yaml:8: `modes.instruct.chat_template_kwargs`: must be a mapping of template variables",
        ],
    );
    with(
        "modes:\n  instruct:\n    chat_template_kwargs: {enable_reasoning: false}\n",
        gen_only,
    );
    let template = env.path().join("model/chat_template.jinja");
    refused(
        eval(&env, &recording, &[]),
        &[
            "run.yaml:8: mode `instruct`: `chat_template_kwargs.enable_reasoning` is not read by the model's chat template",
            &template.display().to_string(),
            "it reads: add_generation_prompt, enable_thinking, messages",
        ],
    );
    // a task that only scores, asked for a mode by itself
    let mc = std::fs::read_to_string(env.path().join("tasks/mc.yaml")).unwrap();
    let in_mode = mc.replace("name: mc", "name: mc-in-mode") + "mode: instruct\n";
    env.write("tasks/mc-in-mode.yaml", &in_mode);
    with(MODES, "  - gen\n  - mc-in-mode\n");
    refused(
        eval(&env, &recording, &[]),
        &[
            "tasks/mc-in-mode.yaml:",
            "`mode`: task `mc-in-mode` asks for mode `instruct`, but lm-eval's `benchy_demo_mc` only scores log-likelihoods",
        ],
    );
    // no chat template to switch
    std::fs::remove_file(&template).unwrap();
    with(MODES, gen_only);
    refused(
        eval(&env, &recording, &[]),
        &[
            "run.yaml:5: mode `instruct` (defined in run.yaml:8) needs the chat template of ./model, and no source read one: the model has none",
        ],
    );
}

/// A Hub model's template read from its `tokenizer_config.json` beside its generation config.
fn publish(hub: &StandInHub, repo: &str, generation: &str, template: Option<&str>) -> String {
    let tokenizer =
        template.map(|t| json!({"eos_token": "<|im_end|>", "chat_template": t}).to_string());
    let mut files: Vec<(&str, &[u8])> = vec![("generation_config.json", generation.as_bytes())];
    if let Some(tokenizer) = &tokenizer {
        files.push(("tokenizer_config.json", tokenizer.as_bytes()));
    }
    hub.publish(repo, "main", &files)
}

fn hub_env(hub: &StandInHub, model: &str, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.hub(&hub.url());
    env.write("providers/p.yaml", "max_model_len: 4096\n");
    env.write(
        "models/run.yaml",
        &format!(
            "model:\n  name: {model}\nvllm:\n  provider_config: p\n{extra}tasks:\n  - name: t\n    task_name: gsm8k\n"
        ),
    );
    env
}

#[test]
fn the_catalog_gives_a_qwen3_5_model_its_modes_over_the_hubs_single_preset() {
    let hub = StandInHub::start();
    let commit = publish(
        &hub,
        "Qwen/Qwen3.5-9B",
        r#"{"temperature": 0.6, "top_p": 0.95, "top_k": 20, "do_sample": true}"#,
        Some(QWEN3_LIKE),
    );
    let env = hub_env(&hub, "Qwen/Qwen3.5-9B", "");
    let listed = env.run(&["config", "modes", "-c", "models/run.yaml"]);
    listed.expect_code(0);
    for line in [
        "catalog family: Qwen3.5 (configs/modes/qwen3.5.yaml)",
        "reads enable_thinking",
        "instruct-reasoning",
        "thinking-coding",
    ] {
        says(&listed.stdout, line);
    }
    let explain = env.explain_json(&["--mode", "instruct"]);
    explain.expect_code(0);
    let resolved = &explain.json()["resolved"];
    let mode_source = resolved["presence_penalty"]["source"].as_str().unwrap();
    assert!(
        mode_source.starts_with("mode:instruct (configs/modes/qwen3.5.yaml:"),
        "{resolved:#}"
    );
    // the card's preset for the mode beats the file's single one; what the mode leaves, the file keeps
    assert_eq!(resolved["temperature"]["value"], json!(0.7));
    assert_eq!(
        resolved["chat_template_kwargs"]["value"],
        json!({"enable_thinking": false})
    );
    assert_eq!(
        resolved["do_sample"]["source"],
        json!(format!("hf:Qwen/Qwen3.5-9B@{commit}"))
    );
    assert_eq!(explain.json()["mode"]["chosen_by"], "--mode");
    // a run's own mode of the same name beats the catalog's
    let env = hub_env(
        &hub,
        "Qwen/Qwen3.5-9B",
        "modes:\n  instruct:\n    chat_template_kwargs: {enable_thinking: false}\n    generation: {temperature: 0.5}\n",
    );
    let explain = env.explain_json(&["--mode", "instruct"]);
    explain.expect_code(0);
    assert_eq!(
        explain.json()["resolved"]["temperature"]["value"],
        json!(0.5)
    );
    assert!(explain.json()["resolved"].get("presence_penalty").is_none());
}

#[test]
fn a_template_with_a_switch_and_no_mode_says_its_default_and_one_without_refuses_a_mode() {
    let hub = StandInHub::start();
    publish(
        &hub,
        "org/switching",
        r#"{"temperature": 0.6, "default_chat_template_kwargs": {"enable_thinking": false}}"#,
        Some(QWEN3_LIKE),
    );
    let env = hub_env(&hub, "org/switching", "use_chat_completions: true\n");
    let explain = env.explain_json(&[]);
    explain.expect_code(0);
    says(
        &explain.stderr,
        "reads `enable_thinking`; with no mode it renders as with enable_thinking=true, its default",
    );
    // the model's own default kwargs are part of its generation config's layer
    let kwargs = &explain.json()["resolved"]["chat_template_kwargs"];
    assert_eq!(kwargs["value"], json!({"enable_thinking": false}));
    assert!(
        kwargs["source"]
            .as_str()
            .unwrap()
            .starts_with("hf:org/switching@")
    );

    publish(&hub, "org/plain", r#"{"temperature": 0.6}"#, None);
    let env = hub_env(
        &hub,
        "org/plain",
        "mode: thinking\nmodes:\n  thinking:\n    thinks: true\n    generation: {temperature: 1.0}\n",
    );
    let refused = env.explain_json(&[]);
    refused.expect_code(2);
    says(
        &refused.stderr,
        "models/run.yaml:5: mode `thinking` (defined in models/run.yaml:8) needs the chat template of org/plain, and no source read one: the model has none",
    );
}
