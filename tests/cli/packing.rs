//! A node's devices shared out to a suite's models, end to end with the real lm-eval: the
//! stand-in server (in vLLM's place, taking a while to start as a GPU server does) notes each
//! start's `CUDA_VISIBLE_DEVICES` and its time span, which prove that models run side by side
//! and that no device is ever held by two servers at once; Ctrl-C leaves nothing running; a
//! resume runs only what is missing; bad device lists and needs are refused before anything
//! starts.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::eval::{RUN, fake_provider, read_json};
use crate::harness::{TestEnv, descendants, eventually, says};
use crate::suite::{suite_args, suite_env};

/// One server's life as the stand-in noted it.
#[derive(Debug)]
struct Span {
    devices: String,
    start: u128,
    stop: Option<u128>,
}

/// The three-model suite of [`suite_env`], each server starting in `start_ms` and noting its
/// span in `spans.txt`.
fn packed_env(start_ms: u64) -> TestEnv {
    let env = suite_env(&[]);
    let spans = env.path().join("spans.txt");
    let record = env.path().join("requests.jsonl");
    let provider = fake_provider(&["--record", record.to_str().unwrap()])
        + &format!(
            "env:\n  FAKE_SPAN_FILE: {}\n  FAKE_START_MS: \"{start_ms}\"\n",
            spans.display()
        );
    env.write("providers/fake.yaml", &provider);
    env
}

fn spans(env: &TestEnv) -> Vec<Span> {
    let text = std::fs::read_to_string(env.path().join("spans.txt")).unwrap_or_default();
    let mut by_pid: BTreeMap<String, Span> = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let at: u128 = words[2].parse().unwrap();
        match words[0] {
            "start" => {
                let span = Span {
                    devices: words[3].to_owned(),
                    start: at,
                    stop: None,
                };
                by_pid.insert(words[1].to_owned(), span);
            }
            _ => by_pid.get_mut(words[1]).expect("a started server").stop = Some(at),
        }
    }
    by_pid.into_values().collect()
}

fn overlap(a: &Span, b: &Span) -> bool {
    let end = |s: &Span| s.stop.expect("every server stopped");
    a.start < end(b) && b.start < end(a)
}

#[test]
fn models_run_side_by_side_on_disjoint_devices_and_a_resume_runs_only_what_is_missing() {
    let env = packed_env(1500);
    let run = env.run(&suite_args(&["--gpus", "0,1"]));
    run.expect_code(0);
    says(
        &run.stderr,
        "alpha: starting on devices 0 of the node's 2 (--gpus)",
    );
    says(
        &run.stderr,
        "beta: starting on devices 1 of the node's 2 (--gpus)",
    );
    says(&run.stderr, "alpha: ok; devices 0 free");
    let lives = spans(&env);
    assert_eq!(lives.len(), 3, "{lives:?}");
    for span in &lives {
        assert!(["0", "1"].contains(&span.devices.as_str()), "{lives:?}");
    }
    for (i, a) in lives.iter().enumerate() {
        for b in &lives[i + 1..] {
            assert!(
                a.devices != b.devices || !overlap(a, b),
                "two servers on one device at once: {a:?} {b:?}"
            );
        }
    }
    assert!(
        lives
            .iter()
            .enumerate()
            .any(|(i, a)| lives[i + 1..].iter().any(|b| overlap(a, b))),
        "two models side by side: {lives:?}"
    );
    let suite = read_json(&env.path().join("out/r/suite.json"));
    let held: Vec<&serde_json::Value> = suite["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["devices"])
        .collect();
    assert!(
        held.iter()
            .all(|d| d.as_array().is_some_and(|d| d.len() == 1)),
        "{suite:#}"
    );
    let status = env.run(&["status", "r", "--output-dir", "out"]);
    says(&status.stdout, "devices");

    // a resume runs only what is missing: beta's `gen`, on a device of its own
    std::fs::remove_file(env.path().join("out/r/beta/gen/completion.json")).unwrap();
    let again = env.run(&suite_args(&["--gpus", "0,1"]));
    again.expect_code(0);
    says(
        &again.stderr,
        "alpha: every task is done; no server started",
    );
    says(
        &again.stderr,
        "gamma: every task is done; no server started",
    );
    let after = spans(&env);
    assert_eq!(
        after.len(),
        4,
        "beta's server alone started again: {after:?}"
    );
}

#[test]
fn ctrl_c_during_a_packed_suite_stops_every_server_and_starts_no_other() {
    let env = packed_env(60_000);
    let spawned = env.spawn(&suite_args(&["--gpus", "0,1"]));
    let benchy = spawned.pid();
    assert!(
        eventually(Duration::from_secs(60), || spans(&env).len() == 2),
        "two servers starting side by side"
    );
    spawned.signal(Signal::SIGINT);
    let run = spawned.wait(RUN);
    run.expect_code(130);
    assert!(descendants(benchy).is_empty(), "nothing left running");
    assert_eq!(spans(&env).len(), 2, "no third model started");
    let suite = read_json(&env.path().join("out/r/suite.json"));
    assert_eq!(suite["status"], json!("interrupted"), "{suite:#}");
    assert_eq!(suite["models"][2]["status"], json!("not run"), "{suite:#}");
}

#[test]
fn bad_device_lists_and_needs_beyond_the_node_exit_2_before_anything_starts() {
    let env = packed_env(0);
    let twice = env.run(&suite_args(&["--gpus", "0,1,0"]));
    twice.expect_code(2);
    says(&twice.stderr, "--gpus: `0,1,0` names device 0 twice");
    env.write("benchy.toml", "gpus = \"0,x\"\n");
    let word = env.run(&suite_args(&[]));
    word.expect_code(2);
    says(&word.stderr, "the gpus setting (");
    says(
        &word.stderr,
        "benchy.toml:1): `0,x` is not a list of device numbers",
    );
    std::fs::remove_file(env.path().join("benchy.toml")).unwrap();
    let provider = std::fs::read_to_string(env.path().join("providers/fake.yaml")).unwrap();
    env.write(
        "providers/fake.yaml",
        &(provider + "tensor_parallel_size: 2\n"),
    );
    let big = env.run(&suite_args(&["--gpus", "0"]));
    big.expect_code(2);
    says(
        &big.stderr,
        "alpha: its server needs 2 devices (tensor × pipeline × data parallel size), and the \
         node has 1 (--gpus: 0)",
    );
    assert!(spans(&env).is_empty(), "nothing started");
}
