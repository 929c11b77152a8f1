//! Keeping the machine busy, measured side by side in one run:
//!
//! 1. Packing, with the stand-in server (benchy-fake-vllm in vLLM's place, taking
//!    `START_MS` to start and `ANSWER_MS` per answer, as a GPU server would): a suite of four
//!    models by two tasks on a node with two device slots (`--gpus 0,1`) against the same suite
//!    with one (`--gpus 0`). Target: at most 0.55x the wall time.
//! 2. On the real vLLM CPU build with the tiny model (`make setup`; `BENCH_VLLM=0` skips these,
//!    they take about fifteen minutes):
//!    - concurrency: a generated task of `QUESTIONS` questions, benchy's default (the provider's
//!      `max_num_seqs`, 8) against `num_concurrent` 1 and the Python tool's 4: requests per
//!      second and the evaluation phase's wall time (lm-eval's process, from `run.json`).
//!      Target: at least 2x the requests per second of `num_concurrent` 1;
//!    - packing: two tiny models side by side on a core each against one after another;
//!    - start-up: the ledger's phases of a first start and of the next one.
//!
//! Run with `cargo bench --bench throughput`; the README quotes the tables.

#[path = "../tests/support/bench_filter.rs"]
mod bench_filter;

#[path = "../tests/support/workspace_builds.rs"]
mod workspace_builds;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use benchy::util::time::seconds_between;
use benchy_testkit::python::lm_eval;
use serde_json::{Value as Json, json};

const START_MS: u64 = 8000;
const ANSWER_MS: u64 = 300;
const MODELS: usize = 4;
const QUESTIONS: usize = 96;

fn main() {
    if bench_filter::asked_for_another("throughput") {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    packing_with_the_stand_in(repo);
    if std::env::var("BENCH_VLLM").map_or(true, |v| v != "0") {
        let work = tempfile::tempdir().expect("a temp dir");
        write_tiny(work.path(), repo);
        concurrency(work.path(), repo);
        packing_on_vllm(work.path(), repo);
    }
}

/// `benchy eval -c CONFIG ARGS` in `dir`; the wall time in seconds.
fn eval(dir: &Path, home: &Path, config: &str, args: &[&str]) -> f64 {
    let start = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_benchy"))
        .args([
            "eval",
            "-c",
            config,
            "--output-dir",
            "out",
            "--cache",
            "off",
        ])
        .args(args)
        .current_dir(dir)
        .env("BENCHY_HOME", home)
        .env("BENCHY_LM_EVAL", lm_eval())
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .expect("benchy runs");
    assert!(
        output.status.success(),
        "benchy eval {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    start.elapsed().as_secs_f64()
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The demo tasks, their lm-eval files where the repository keeps them.
fn write_tasks(dir: &Path, repo: &Path) {
    let include = repo.join("configs/tasks/lm-eval");
    for task in ["gen", "mc"] {
        write(
            dir,
            &format!("tasks/{task}.yaml"),
            &format!(
                "name: {task}\ntask_name: benchy_demo_{task}\ninclude_path: {}\n",
                include.display()
            ),
        );
    }
}

fn packing_with_the_stand_in(repo: &Path) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let dir = dir.path();
    let server = workspace_builds::binary("benchy-fake-vllm");
    write(
        dir,
        "providers/fake.yaml",
        &format!(
            "command: [\"{}\", \"--delay-ms\", \"{ANSWER_MS}\"]\nmax_model_len: 512\n\
             startup_timeout: 120\nstop_grace: 5\nenv:\n  FAKE_START_MS: \"{START_MS}\"\n",
            server.display()
        ),
    );
    write_tasks(dir, repo);
    for i in 0..MODELS {
        write(dir, &format!("m{i}/config.json"), "{}");
        write(
            dir,
            &format!("m{i}/generation_config.json"),
            r#"{"do_sample": true, "temperature": 0.7}"#,
        );
        write(
            dir,
            &format!("suite/m{i}.yaml"),
            &format!(
                "model:\n  name: ../m{i}\nvllm:\n  provider_config: fake\ntasks:\n  - gen\n  - mc\n"
            ),
        );
    }
    let home = dir.join("home");
    let args = |run: &'static str, gpus: &'static str| {
        [
            "--run-id", run, "--limit", "8", "--source", "hf", "--gpus", gpus,
        ]
    };
    let one = eval(dir, &home, "suite/", &args("one", "0"));
    let two = eval(dir, &home, "suite/", &args("two", "0,1"));
    println!(
        "| {MODELS} models x 2 tasks, stand-in server ({START_MS} ms start, {ANSWER_MS} ms an \
         answer) | wall time |"
    );
    println!("|---|---|");
    println!("| one device slot (`--gpus 0`) | {one:.1} s |");
    println!(
        "| two device slots (`--gpus 0,1`) | {two:.1} s ({:.2}x) |",
        two / one
    );
    println!();
}

/// The tiny model's provider and a generated task of [`QUESTIONS`] questions, in `dir`.
fn write_tiny(dir: &Path, repo: &Path) {
    let model = repo.join(".benchy/models/tiny-llama");
    assert!(
        model.join("config.json").is_file(),
        "{} is missing: run `make setup`",
        model.display()
    );
    let provider = std::fs::read_to_string(repo.join("configs/providers/tiny_cpu.yaml")).unwrap();
    let provider: String = provider
        .lines()
        .filter(|l| !l.starts_with("port:"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(dir, "providers/tiny_cpu.yaml", &provider);
    let task = std::fs::read_to_string(repo.join("configs/tasks/lm-eval/benchy_demo_gen.yaml"))
        .unwrap()
        .replace("benchy_demo_gen", "bench_count");
    write(dir, "lm-eval/bench_count.yaml", &task);
    let questions: String = (1..=QUESTIONS)
        .map(|i| {
            format!(
                "{}\n",
                json!({"question": format!("What is {i}+1?"), "answer": (i + 1).to_string()})
            )
        })
        .collect();
    write(dir, "lm-eval/bench_count.jsonl", &questions);
    for name in ["tiny-a", "tiny-b"] {
        let link = dir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(&model, link).unwrap();
        }
    }
}

/// A run config of `model` with the counting task, its lm-eval `defaults` as given.
fn counting_config(dir: &Path, name: &str, model: &str, defaults: &str) {
    write(
        dir,
        name,
        &format!(
            "model:\n  name: {model}\nvllm:\n  provider_config: tiny_cpu\ntasks:\n  - name: count\n    \
             task_name: bench_count\n    include_path: {}\n{defaults}",
            dir.join("lm-eval").display()
        ),
    );
}

fn home(repo: &Path) -> PathBuf {
    repo.join(".benchy")
}

fn record(dir: &Path, run: &str, model: &str) -> Json {
    let path = dir.join(format!("out/{run}/{model}/run.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The evaluation phase: lm-eval's process, start to end.
fn evaluation_seconds(record: &Json) -> f64 {
    let job = &record["processes"][0];
    let (start, end) = (job["started_at"].as_str(), job["finished_at"].as_str());
    seconds_between(start.unwrap(), end.unwrap()).expect("stamps")
}

fn concurrency(dir: &Path, repo: &Path) {
    let settings = [
        ("benchy's default (max_num_seqs)", String::new()),
        (
            "num_concurrent 1",
            "    defaults: {num_concurrent: 1}\n".to_owned(),
        ),
        (
            "num_concurrent 4 (the Python tool's)",
            "    defaults: {num_concurrent: 4}\n".to_owned(),
        ),
    ];
    println!(
        "| {QUESTIONS} generated questions, tiny model on vLLM (CPU) | in flight | evaluation phase | requests/s |"
    );
    println!("|---|---|---|---|");
    let mut rates = Vec::new();
    for (i, (name, defaults)) in settings.iter().enumerate() {
        let config = format!("c{i}.yaml");
        counting_config(dir, &config, "./tiny-a", defaults);
        let run = format!("c{i}");
        eval(dir, &home(repo), &config, &["--run-id", &run]);
        let record = record(dir, &run, "tiny-a");
        let seconds = evaluation_seconds(&record);
        let in_flight = &record["backends"]["lm-eval"]["num_concurrent"]["count"]["requests"];
        let rate = QUESTIONS as f64 / seconds;
        rates.push(rate);
        println!(
            "| {name} | {in_flight} | {seconds:.1} s | {rate:.2} ({:.2}x) |",
            rate / rates[0]
        );
    }
    println!();
}

fn packing_on_vllm(dir: &Path, repo: &Path) {
    for name in ["tiny-a", "tiny-b"] {
        counting_config(dir, &format!("pair/{name}.yaml"), &format!("../{name}"), "");
    }
    let home = home(repo);
    let apart = eval(
        dir,
        &home,
        "pair/",
        &["--run-id", "apart", "--limit", "16", "--gpus", "0"],
    );
    let together = eval(
        dir,
        &home,
        "pair/",
        &["--run-id", "together", "--limit", "16", "--gpus", "0,1"],
    );
    println!("| two tiny models, 16 questions each, vLLM (CPU) | wall time |");
    println!("|---|---|");
    println!("| one after another (`--gpus 0`: one core) | {apart:.1} s |");
    println!(
        "| side by side (`--gpus 0,1`: a core each) | {together:.1} s ({:.2}x) |",
        together / apart
    );
    println!();
    println!("| start-up of the tiny model (vLLM 0.32, CPU, eager) | seconds | phases |");
    println!("|---|---|---|");
    for (which, run, model) in [
        ("a start", "apart", "tiny-a"),
        ("the next start", "apart", "tiny-b"),
    ] {
        let ledger = &record(dir, run, model)["server"]["startup"];
        let phases: Vec<String> = ledger["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {:.1}",
                    p["phase"].as_str().unwrap(),
                    p["seconds"].as_f64().unwrap()
                )
            })
            .collect();
        println!(
            "| {which} | {:.1} | {} |",
            ledger["seconds"].as_f64().unwrap(),
            phases.join(", ")
        );
    }
}
