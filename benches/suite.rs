//! Suites, measured with the real lm-eval (`make setup`) against the recording OpenAI server of
//! benchy-testkit on loopback:
//!
//! 1. benchy's way against the Python tool's way on a three-task suite with two parameter sets
//!    (`gen` and `mc` share one, `gen-override` has its own): the Python tool ran one lm-eval
//!    process per task, one after another, against the same server; benchy runs with its
//!    defaults (and, for comparison, `--jobs 1`). Target: at most 0.6x the Python way.
//! 2. The pre-flight (`benchy eval --check`) of the Python tool's 20 model files
//!    (tests/corpus/reference/benchy-py-configs/single_card, their providers as they are, their
//!    three tasks mapped onto benchy's demo tasks) with the Hub offline and a warm cache: how
//!    long, and how many lm-eval processes it started, with the check's answer new and
//!    remembered.
//! 3. Deciding that the finished 20-model by 3-task suite has nothing left to do: no server, no
//!    lm-eval. Target: under one second.
//!
//! Run with `cargo bench --bench suite` (the README reports the figures). Part 3 first runs the
//! whole suite once (`--limit 1`), a few minutes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use benchy_testkit::hub::StandInHub;
use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use benchy_testkit::python::{lm_eval, uv};

const ROUNDS: usize = 3;
const LIMIT: &str = "4";

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lm_eval = lm_eval();
    let work = tempfile::tempdir().expect("a temp dir");
    python_way_against_benchy(repo, work.path(), &lm_eval);
    let suite = reference_suite(repo, work.path(), &lm_eval);
    preflight(&suite, &lm_eval);
    nothing_left_to_do(&suite, &lm_eval);
}

/// `benchy ARGS` in `dir`, with its own home (so no check is remembered from elsewhere).
fn benchy(dir: &Path, lm_eval: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_benchy"));
    command
        .args(args)
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("BENCHY_LM_EVAL", lm_eval)
        .env("BENCHY_UV", uv())
        .env_remove("BENCHY_HOME")
        .env("HF_HUB_OFFLINE", "1");
    command
}

fn timed(mut command: Command) -> (f64, Output) {
    let start = Instant::now();
    let output = command.output().expect("the command runs");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (seconds, output)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The demo tasks under the names `names` gives them: the first generates with the model's
/// parameters, the second with its own `top_k`, the third is multiple choice.
fn write_tasks(dir: &Path, repo: &Path, names: [&str; 3]) {
    let include = repo.join("configs/tasks/lm-eval").display().to_string();
    let tasks = [
        ("benchy_demo_gen", ""),
        ("benchy_demo_gen", "generation:\n  top_k: 5\n"),
        ("benchy_demo_mc", ""),
    ];
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    for (name, (task_name, generation)) in names.iter().zip(tasks) {
        let text =
            format!("name: {name}\ntask_name: {task_name}\ninclude_path: {include}\n{generation}");
        std::fs::write(dir.join(format!("tasks/{name}.yaml")), text).unwrap();
    }
}

fn python_way_against_benchy(repo: &Path, work: &Path, lm_eval: &Path) {
    let dir = work.join("one");
    std::fs::create_dir_all(dir.join("model")).unwrap();
    std::fs::write(
        dir.join("model/generation_config.json"),
        r#"{"do_sample": true, "temperature": 0.7, "top_k": 20}"#,
    )
    .unwrap();
    std::fs::write(dir.join("model/config.json"), "{}").unwrap();
    write_tasks(&dir, repo, ["gen", "gen-override", "mc"]);
    std::fs::write(
        dir.join("run.yaml"),
        "model:\n  name: ./model\ntasks: [gen, gen-override, mc]\n",
    )
    .unwrap();
    let server = RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        ..OpenAiOptions::default()
    });
    let python: Vec<f64> = (0..ROUNDS)
        .map(|round| python_way(&dir, repo, lm_eval, &server, round))
        .collect();
    let run = |round: usize, extra: &[&str]| {
        let run_id = format!("b{round}{}", extra.len());
        let url = server.base_url();
        let mut args = vec!["eval", "-c", "run.yaml", "--server-url", &url];
        args.extend(["--run-id", &run_id, "--output-dir", "out", "--limit", LIMIT]);
        args.extend_from_slice(extra);
        timed(benchy(&dir, lm_eval, &args)).0
    };
    let first = run(0, &[]);
    let defaults: Vec<f64> = (1..=ROUNDS).map(|r| run(r, &[])).collect();
    let one_at_a_time: Vec<f64> = (1..=ROUNDS).map(|r| run(r, &["--jobs", "1"])).collect();
    let python = median(python);
    println!("three tasks, two parameter sets, --limit {LIMIT}, median of {ROUNDS}:");
    println!("  the Python way (one lm-eval per task, one after another): {python:.2} s");
    for (what, seconds) in [
        ("benchy, defaults, first run (the check runs)", first),
        ("benchy, defaults (the check remembered)", median(defaults)),
        (
            "benchy, --jobs 1 (the check remembered)",
            median(one_at_a_time),
        ),
    ] {
        println!("  {what}: {seconds:.2} s = {:.2}x", seconds / python);
    }
}

/// One round of the Python tool's way: an lm-eval process per task, one after another.
fn python_way(
    dir: &Path,
    repo: &Path,
    lm_eval: &Path,
    server: &RecordingOpenAi,
    round: usize,
) -> f64 {
    let model_args = format!(
        r#"{{"model":"model","base_url":"{}/completions","num_concurrent":1,"max_retries":3,"tokenizer_backend":"remote","tokenized_requests":true,"max_length":512}}"#,
        server.base_url()
    );
    let include = repo.join("configs/tasks/lm-eval");
    let tasks = [
        (
            "benchy_demo_gen",
            r#"{"temperature":0.7,"top_k":20,"do_sample":true}"#,
        ),
        (
            "benchy_demo_gen",
            r#"{"temperature":0.7,"top_k":5,"do_sample":true}"#,
        ),
        (
            "benchy_demo_mc",
            r#"{"temperature":0.7,"top_k":20,"do_sample":true}"#,
        ),
    ];
    let start = Instant::now();
    for (i, (task, gen_kwargs)) in tasks.iter().enumerate() {
        let out = dir.join(format!("python/{round}/{i}"));
        let mut command = Command::new(lm_eval);
        command
            .args([
                "run",
                "--model",
                "local-completions",
                "--model_args",
                &model_args,
            ])
            .args([
                "--tasks",
                task,
                "--gen_kwargs",
                gen_kwargs,
                "--batch_size",
                "1",
            ])
            .args(["--limit", LIMIT, "--include_path"])
            .arg(&include)
            .arg("--output_path")
            .arg(&out)
            .current_dir(&include);
        timed(command);
    }
    start.elapsed().as_secs_f64()
}

/// The Python tool's model files with their providers, their tasks mapped onto the demo tasks,
/// and the Hub's answers for every model in a warm cache.
fn reference_suite(repo: &Path, work: &Path, lm_eval: &Path) -> PathBuf {
    let source = repo.join("tests/corpus/reference/benchy-py-configs");
    let dir = work.join("reference");
    for folder in ["single_card", "providers"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        for entry in std::fs::read_dir(source.join(folder)).unwrap().flatten() {
            std::fs::copy(entry.path(), dir.join(folder).join(entry.file_name())).unwrap();
        }
    }
    write_tasks(&dir, repo, ["spanish", "portuguese", "translation"]);
    let hub = StandInHub::start();
    for (config, name) in model_names(&dir.join("single_card")) {
        hub.publish_generation_config(&name, r#"{"temperature": 0.6, "top_p": 0.9}"#);
        let mut warm = benchy(&dir, lm_eval, &["config", "explain", "-c"]);
        warm.arg(config)
            .env_remove("HF_HUB_OFFLINE")
            .env("HF_ENDPOINT", hub.url());
        timed(warm);
    }
    dir
}

/// Each run config in `dir` with its `model.name`.
fn model_names(dir: &Path) -> Vec<(PathBuf, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let name = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("name:"))
                .map(|n| n.trim().trim_matches('"').to_owned())
                .expect("a model name");
            (entry.path(), name)
        })
        .collect()
}

fn preflight(suite: &Path, lm_eval: &Path) {
    let mut runs = Vec::new();
    for _ in 0..ROUNDS {
        let _ = std::fs::remove_dir_all(suite.join("home/.cache/benchy/cache/checks"));
        runs.push(check(suite, lm_eval));
        runs.push(check(suite, lm_eval));
    }
    let (new, remembered): (Vec<_>, Vec<_>) = runs.chunks(2).map(|p| (p[0], p[1])).unzip();
    println!("pre-flight of 20 model files by 3 tasks (--check), hub offline, warm cache:");
    for (what, results) in [("the check new", new), ("the check remembered", remembered)] {
        let seconds = median(results.iter().map(|r| r.0).collect());
        println!(
            "  {what}: {seconds:.2} s, {} lm-eval process(es) started",
            results[0].1
        );
    }
}

/// One `--check` of the reference suite: its wall time and the lm-eval processes it started.
fn check(suite: &Path, lm_eval: &Path) -> (f64, usize) {
    let command = benchy(suite, lm_eval, &["eval", "-c", "single_card", "--check"]);
    let (seconds, output) = timed(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    (seconds, stderr.matches("lm-eval validate: started").count())
}

fn nothing_left_to_do(suite: &Path, lm_eval: &Path) {
    let names: Vec<String> = model_names(&suite.join("single_card"))
        .into_iter()
        .map(|(_, name)| name.rsplit('/').next().unwrap_or(&name).to_owned())
        .collect();
    let server = RecordingOpenAi::start(OpenAiOptions {
        model: names[0].clone(),
        also_serves: names[1..].to_vec(),
        ..OpenAiOptions::default()
    });
    let url = server.base_url();
    let args = [
        "eval",
        "-c",
        "single_card",
        "--server-url",
        &url,
        "--run-id",
        "done",
        "--output-dir",
        "out",
        "--limit",
        "1",
    ];
    eprintln!("running the whole suite once (a few minutes)...");
    let (whole, _) = timed(benchy(suite, lm_eval, &args));
    let mut times = Vec::new();
    for _ in 0..5 {
        let (seconds, output) = timed(benchy(suite, lm_eval, &args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr
                .matches("every task is done; no server started")
                .count(),
            names.len()
        );
        assert!(!stderr.contains("lm-eval validate: started") && !stderr.contains("lm-eval["));
        times.push(seconds);
    }
    println!(
        "a finished suite of {} models by 3 tasks (its first run took {whole:.0} s):",
        names.len()
    );
    println!(
        "  deciding there is nothing left to do: {:.3} s median of 5, no server, no lm-eval",
        median(times)
    );
}
