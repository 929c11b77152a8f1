//! benchy's own overhead on an evaluation: the wall time of `benchy eval` minus the time its
//! children worked (the lm-eval checks, the lm-eval jobs, and with a launched server its
//! start-up and shutdown), read from the times `run.json` records. Target: under 200 ms and
//! under 1% of the run.
//!
//! By default the run is the shipped demo tasks on the real lm-eval (`make setup`) against the
//! recording OpenAI server of benchy-testkit on loopback, five times. With `BENCH_VLLM=1` it is
//! `configs/examples/tiny-cpu.yaml` on the real vLLM (CPU), once: the run `make demo` does.
//! `BENCH_AUDIT=off` runs without the wire audit's proxies (`--audit off`), to compare.
//! Run with `cargo bench --bench eval_overhead` (the README reports the figures).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::Value as Json;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vllm = std::env::var_os("BENCH_VLLM").is_some_and(|v| v == "1");
    let rounds = if vllm { 1 } else { 5 };
    let server = (!vllm).then(|| {
        RecordingOpenAi::start(OpenAiOptions {
            model: "tiny-llama".into(),
            ..OpenAiOptions::default()
        })
    });
    let mut overheads = Vec::new();
    let mut totals = Vec::new();
    for round in 0..rounds {
        let out = tempfile::tempdir().expect("temp dir");
        let mut args = vec![
            "eval".to_owned(),
            "-c".into(),
            "configs/examples/tiny-cpu.yaml".into(),
            "--output-dir".into(),
            out.path().display().to_string(),
            "--run-id".into(),
            format!("bench{round}"),
            "--limit".into(),
            "4".into(),
        ];
        if let Some(server) = &server {
            args.extend(["--server-url".into(), server.base_url()]);
        }
        if let Ok(audit) = std::env::var("BENCH_AUDIT") {
            args.extend(["--audit".into(), audit]);
        }
        let start = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_benchy"))
            .args(&args)
            .current_dir(repo)
            .output()
            .expect("benchy runs");
        let total = start.elapsed().as_secs_f64();
        assert!(
            output.status.success(),
            "benchy eval failed (run `make setup` first):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let record = read_record(&out.path().join(format!("bench{round}/tiny-llama/run.json")));
        let children = child_seconds(&record);
        overheads.push(total - children);
        totals.push(total);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let worst = overheads.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "benchy eval on {} ({} run{}): run {:.2} s mean; benchy's own overhead {:.0} ms mean, \
         {:.0} ms worst, {:.2}% of the run",
        if vllm {
            "the real vLLM"
        } else {
            "the recording server"
        },
        rounds,
        if rounds == 1 { "" } else { "s" },
        mean(&totals),
        mean(&overheads) * 1000.0,
        worst * 1000.0,
        100.0 * mean(&overheads) / mean(&totals)
    );
}

fn read_record(path: &PathBuf) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).expect("run.json")).expect("JSON")
}

/// The seconds covered by the children's work, as the union of their intervals (jobs may run
/// side by side).
fn child_seconds(record: &Json) -> f64 {
    let time = |v: &Json| -> Option<f64> {
        let stamp: jiff::Timestamp = v.as_str()?.parse().ok()?;
        Some(stamp.as_millisecond() as f64 / 1000.0)
    };
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for process in record["checks"]
        .as_array()
        .into_iter()
        .chain(record["processes"].as_array())
        .flatten()
    {
        if let (Some(a), Some(b)) = (time(&process["started_at"]), time(&process["finished_at"])) {
            spans.push((a, b));
        }
    }
    let server = &record["server"];
    if server["launched"] == true {
        if let (Some(a), Some(b)) = (time(&server["started_at"]), time(&server["ready_at"])) {
            spans.push((a, b));
        }
        let last_job = spans.iter().map(|s| s.1).fold(f64::MIN, f64::max);
        if let Some(stopped) = time(&server["stopped_at"]) {
            spans.push((last_job, stopped));
        }
    }
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut covered = 0.0;
    let mut end = f64::MIN;
    for (a, b) in spans {
        let a = a.max(end);
        if b > a {
            covered += b - a;
            end = b;
        }
    }
    covered
}
