//! The response cache, with the real lm-eval against the recording server and the real SQLite
//! file: a task killed midway resumes sending only what it had not been answered; anything that
//! decides an answer (the temperature, the model's files, the server's version) misses it; two
//! runs writing at once lose nothing; a file that is not a cache is set aside.

use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use nix::sys::signal::Signal;
use serde_json::json;

use crate::eval::{eval_env, fake_provider, read_json, run_dir};
use crate::harness::{eventually, says};

fn server(delay_ms: u64, version: Option<&str>) -> RecordingOpenAi {
    RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        delay: Duration::from_millis(delay_ms),
        version: version.map(str::to_owned),
        ..OpenAiOptions::default()
    })
}

/// `eval` of the generating task, eight questions, into `out/<run_id>`.
fn args<'a>(url: &'a str, run_id: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["eval", "-c", "run.yaml", "--source", "hf", "--task", "gen"];
    args.extend(["--limit", "8", "--run-id", run_id, "--output-dir", "out"]);
    args.extend(["--server-url", url]);
    args.extend_from_slice(extra);
    args
}

/// The generation requests the server saw.
fn generations(server: &RecordingOpenAi) -> usize {
    server
        .generation_bodies()
        .iter()
        .filter(|b| b["echo"] != json!(true))
        .count()
}

#[test]
fn a_task_killed_midway_resumes_sending_only_what_was_not_answered() {
    let env = eval_env(&fake_provider(&[]));
    // one request in flight: the kill finds some questions answered and the others not asked
    env.write("benchy.toml", "max_concurrent = 1\n");
    let slow = server(400, None);
    let url = slow.base_url();
    let running = env.spawn(&args(&url, "r", &[]));
    assert!(eventually(Duration::from_secs(120), || generations(&slow) >= 5));
    running.signal(Signal::SIGKILL);
    let _ = running.wait(Duration::from_secs(30));
    let answered = generations(&slow);
    assert!(answered < 8, "killed before the end: {answered}");
    let before = generations(&slow);
    let resumed = env.run(&args(&url, "r", &[]));
    resumed.expect_code(0);
    let sent = generations(&slow) - before;
    // the answers the killed run had, less those in flight at the kill, come from the cache
    assert!(
        sent <= 8 - (answered - 1),
        "resumed sent {sent}, {answered} were asked before"
    );
    says(
        &resumed.stderr,
        "answered from the cache (first asked in run r)",
    );
    let record = read_json(&run_dir(&env).join("run.json"));
    let counted = &record["answers"]["gen"];
    assert!(
        counted["from_cache"].as_u64().unwrap() >= (answered - 1) as u64,
        "{counted}"
    );
    assert_eq!(
        counted["answers"],
        json!(8),
        "the audit sees every answer: {counted}"
    );
    let audit = read_json(&run_dir(&env).join("wire_audit.json"));
    assert_eq!(
        audit["verdict"], "8 of 8 generation requests carried exactly the resolved set",
        "answered from the cache or not, every request is audited"
    );
    // a rerun wants new answers: it reaches the server for all of them
    let before = generations(&slow);
    env.run(&args(&url, "r", &["--rerun"])).expect_code(0);
    assert_eq!(generations(&slow) - before, 8);
}

#[test]
fn whatever_decides_an_answer_misses_the_cache() {
    let env = eval_env(&fake_provider(&[]));
    let first = server(0, Some("0.31.0"));
    let url = first.base_url();
    env.run(&args(&url, "a", &[])).expect_code(0);
    let warm = generations(&first);
    env.run(&args(&url, "b", &[])).expect_code(0);
    assert_eq!(
        generations(&first),
        warm,
        "the same run again: all from the cache"
    );
    let before = generations(&first);
    env.run(&args(&url, "c", &["--set", "temperature=0.5"]))
        .expect_code(0);
    assert_eq!(generations(&first) - before, 8, "another temperature");
    // the model's files changed
    env.write("model/config.json", "{\"changed\": true}");
    let before = generations(&first);
    env.run(&args(&url, "d", &[])).expect_code(0);
    assert_eq!(generations(&first) - before, 8, "another model revision");
    // another server version
    let upgraded = server(0, Some("0.32.0"));
    let url = upgraded.base_url();
    env.run(&args(&url, "e", &[])).expect_code(0);
    assert_eq!(generations(&upgraded), 8, "another server version");
    // another chat template
    env.write("model/chat_template.jinja", "{{ messages[0].content }}");
    env.run(&args(&url, "f", &[])).expect_code(0);
    assert_eq!(generations(&upgraded), 16, "another chat template");
}

#[test]
fn two_runs_writing_the_cache_at_once_lose_nothing_and_a_broken_file_is_set_aside() {
    let env = eval_env(&fake_provider(&[]));
    let shared = server(50, None);
    let url = shared.base_url();
    let one = env.spawn(&args(&url, "s1", &["--set", "seed=1"]));
    let two = env.spawn(&args(&url, "s2", &["--set", "seed=2"]));
    one.wait(Duration::from_secs(300)).expect_code(0);
    two.wait(Duration::from_secs(300)).expect_code(0);
    let before = generations(&shared);
    env.run(&args(&url, "s3", &["--set", "seed=1"]))
        .expect_code(0);
    env.run(&args(&url, "s4", &["--set", "seed=2"]))
        .expect_code(0);
    assert_eq!(generations(&shared), before, "both runs' answers were kept");
    let stats = env.run(&["cache", "stats"]);
    stats.expect_code(0);
    says(&stats.stdout, "total: 16 answers");

    // a cache file cut short is set aside, named, and the run goes on
    let file = env.path().join(".cache/benchy/cache/answers.db");
    std::fs::write(&file, b"SQLite format 3\0 but cut short here").unwrap();
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", file.display()));
    }
    let run = env.run(&args(&url, "s5", &[]));
    run.expect_code(0);
    says(&run.stderr, "is not a benchy cache");
    says(&run.stderr, "set aside as");
    let aside = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(aside, "the broken file is kept aside");
    let unknown = env.run(&args(&url, "s6", &["--cache", "sometimes"]));
    unknown.expect_code(2);
    env.run(&["cache", "clear"]).expect_code(0);
    let stats = env.run(&["cache", "stats"]);
    says(&stats.stdout, "total: 0 answers");
}

#[test]
fn a_hub_model_no_source_read_at_a_commit_is_never_answered_from_the_cache() {
    let env = eval_env(&fake_provider(&[]));
    env.write("hub.yaml", "model:\n  name: org/model\ntasks:\n  - gen\n");
    env.write("greedy.json", "{\"temperature\": 0}");
    let hub_server = RecordingOpenAi::start(OpenAiOptions {
        model: "org/model".into(),
        ..OpenAiOptions::default()
    });
    let url = hub_server.base_url();
    let run = |run_id: &str| {
        let mut args = vec!["eval", "-c", "hub.yaml", "--source", "file:greedy.json"];
        args.extend(["--limit", "4", "--run-id", run_id, "--output-dir", "out"]);
        args.extend(["--server-url", &url]);
        env.run(&args)
    };
    let first = run("h1");
    first.expect_code(0);
    says(
        &first.stderr,
        "the response cache is not used for org/model: no source read its files at a commit",
    );
    run("h2").expect_code(0);
    assert_eq!(
        generations(&hub_server),
        8,
        "greedy, yet both runs asked the server: the name alone may be other files"
    );
}
