//! The response cache, two ways.
//!
//! 1. What a lookup costs a request: the key of a ~1 KB generation request (canonical JSON,
//!    SHA-256) and its lookup in a real SQLite cache of 20,000 answers, a hit (which also marks
//!    the answer used) and a miss; the median and p99 of each, in microseconds. Target: a lookup
//!    under 0.2 ms at the median, on top of the audit's own 0.11 ms.
//! 2. A killed task resumed (`BENCH_RESUME=0` skips it; it takes minutes): a generated task of
//!    200 questions on the real lm-eval (`make setup`) against the recording server, each answer
//!    taking `BENCH_DELAY_MS` (default 800) so the server's time dominates as on a GPU; the
//!    model samples with a seed, so its answers may be cached. One run
//!    uninterrupted (cache off); one SIGKILLed after 90 % of its requests, then resumed. Target:
//!    the resumed run under 0.2x the uninterrupted one, the server asked at most the 10 % it had
//!    not answered (plus those in flight at the kill).
//!
//! `cargo bench --bench cache` prints both tables; the README's cache section quotes them.

#[path = "../tests/support/bench_filter.rs"]
mod bench_filter;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use benchy::cache::key::Scope;
use benchy::cache::store::{Filed, Store, Stored};
use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::json;

const ENTRIES: usize = 20_000;
const LOOKUPS: usize = 5_000;
const QUESTIONS: usize = 200;

fn main() {
    if bench_filter::asked_for_another("cache") {
        return;
    }
    lookups();
    if std::env::var("BENCH_RESUME").map_or(true, |v| v != "0") {
        resume();
    }
}

/// A generation request as lm-eval sends it, question `i`.
fn request(i: usize) -> Vec<u8> {
    let prompt =
        format!("Question {i}: Natalia sold clips to 48 of her friends in April. ").repeat(12);
    serde_json::to_vec(
        &json!({"model": "m", "prompt": prompt, "temperature": 0.7, "top_p": 0.6,
        "top_k": 20, "max_tokens": 32, "stop": ["\n"], "seed": 1234}),
    )
    .unwrap()
}

fn lookups() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(&dir.path().join("answers.db")).unwrap();
    let scope = Scope::new(
        &json!({"name": "org/m", "read_at": "abc"}),
        &json!({"version": "0.32.0"}),
    );
    let answer = Stored {
        status: 200,
        content_type: Some("application/json".into()),
        body: br#"{"choices":[{"index":0,"text":" 4","finish_reason":"stop"}],"usage":{"completion_tokens":2}}"#.to_vec(),
        run: "r".into(),
    };
    let filed = Filed {
        model: "org/m",
        run: "r",
    };
    let mut put = Vec::new();
    for i in 0..ENTRIES {
        let key = scope.key("/v1/completions", &request(i)).unwrap();
        let start = Instant::now();
        store.put(&key, filed, &answer).unwrap();
        put.push(start.elapsed());
    }
    let mut key_times = Vec::new();
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for i in 0..LOOKUPS {
        let body = request(i * 3 % ENTRIES);
        let start = Instant::now();
        let key = scope.key("/v1/completions", &body).unwrap();
        key_times.push(start.elapsed());
        let start = Instant::now();
        assert!(store.get(&key).unwrap().is_some());
        hits.push(start.elapsed());
        let miss = scope.key("/v1/completions", &request(ENTRIES + i)).unwrap();
        let start = Instant::now();
        assert!(store.get(&miss).unwrap().is_none());
        misses.push(start.elapsed());
    }
    println!("| cache operation ({ENTRIES} answers) | median µs | p99 µs |");
    println!("|---|---|---|");
    for (name, times) in [
        ("key of a 1 KB request", &mut key_times),
        ("lookup, hit (and marked used)", &mut hits),
        ("lookup, miss", &mut misses),
        ("filing an answer", &mut put),
    ] {
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
        println!("| {name} | {:.1} | {:.1} |", at(0.5), at(0.99));
    }
    println!();
}

/// The repository's `make setup` lm-eval.
fn lm_eval(repo: &Path) -> PathBuf {
    let program = repo.join(".benchy/venvs/lm-eval/bin/lm_eval");
    assert!(
        program.is_file(),
        "{} is missing: run `make setup`",
        program.display()
    );
    program
}

/// A run config with one generated task of [`QUESTIONS`] questions, in `dir`.
fn write_run(dir: &Path, repo: &Path) {
    let tasks = dir.join("lm-eval");
    std::fs::create_dir_all(&tasks).unwrap();
    let task = std::fs::read_to_string(repo.join("configs/tasks/lm-eval/benchy_demo_gen.yaml"))
        .unwrap()
        .replace("benchy_demo_gen", "bench_cache_gen");
    std::fs::write(tasks.join("bench_cache_gen.yaml"), task).unwrap();
    let lines: String = (0..QUESTIONS)
        .map(|i| {
            format!(
                "{}\n",
                json!({"question": format!("What is {i}+1?"), "answer": (i + 1).to_string()})
            )
        })
        .collect();
    std::fs::write(tasks.join("bench_cache_gen.jsonl"), lines).unwrap();
    std::fs::create_dir_all(dir.join("model")).unwrap();
    std::fs::write(dir.join("model/config.json"), "{}").unwrap();
    std::fs::write(
        dir.join("model/generation_config.json"),
        r#"{"do_sample": true, "temperature": 0.7, "top_p": 0.6}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("run.yaml"),
        format!(
            "model:\n  name: ./model\ntasks:\n  - name: gen\n    task_name: bench_cache_gen\n    \
             include_path: {}\n",
            tasks.display()
        ),
    )
    .unwrap();
}

fn benchy(dir: &Path, repo: &Path, home: &Path, url: &str, run: &str, cache: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_benchy"))
        .args([
            "eval",
            "-c",
            "run.yaml",
            "--server-url",
            url,
            "--run-id",
            run,
        ])
        .args(["--output-dir", "out", "--cache", cache, "--source", "hf"])
        .args(["--set", "seed=1234"])
        .current_dir(dir)
        .env("BENCHY_HOME", home)
        .env("BENCHY_LM_EVAL", lm_eval(repo))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("benchy starts")
}

fn generations(server: &RecordingOpenAi) -> usize {
    server.generation_bodies().len()
}

fn resume() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let delay: u64 = std::env::var("BENCH_DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(800);
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), repo);
    let home = dir.path().join("home");
    let server = RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        delay: Duration::from_millis(delay),
        ..OpenAiOptions::default()
    });
    let url = server.base_url();
    let start = Instant::now();
    let full = benchy(dir.path(), repo, &home, &url, "full", "off")
        .wait()
        .unwrap();
    assert!(full.success(), "the uninterrupted run failed");
    let uninterrupted = start.elapsed();
    let before = generations(&server);
    let mut killed = benchy(dir.path(), repo, &home, &url, "killed", "on");
    while generations(&server) - before < QUESTIONS * 9 / 10 {
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.kill().unwrap();
    let _ = killed.wait();
    let answered = generations(&server) - before;
    let before = generations(&server);
    let start = Instant::now();
    let resumed = benchy(dir.path(), repo, &home, &url, "killed", "on")
        .wait()
        .unwrap();
    assert!(resumed.success(), "the resumed run failed");
    let resumed_time = start.elapsed();
    let sent = generations(&server) - before;
    println!("| {QUESTIONS} questions, {delay} ms each | seconds | requests to the server |");
    println!("|---|---|---|");
    println!(
        "| uninterrupted (cache off) | {:.1} | {QUESTIONS} |",
        uninterrupted.as_secs_f64()
    );
    println!("| killed after | - | {answered} |");
    println!(
        "| resumed | {:.1} ({:.2}x) | {sent} |",
        resumed_time.as_secs_f64(),
        resumed_time.as_secs_f64() / uninterrupted.as_secs_f64()
    );
}
