//! `benchy results` and `benchy report` over 21 models by 3 tasks by 5 runs (105 run folders
//! written by benchy-testkit in a temporary folder), each timed as a whole process, the way a
//! user runs it. Target: under 100 ms each. Run with `cargo bench --bench results_report` (the
//! README reports the figures).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MODELS: usize = 21;
const TASKS: usize = 3;
const RUNS: usize = 5;
const ROUNDS: usize = 30;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outputs = dir.path().join("outputs");
    benchy_testkit::runs::write_grid(&outputs, MODELS, TASKS, RUNS);
    let report = dir.path().join("report.html");
    let outputs = outputs.display().to_string();
    let report_path = report.display().to_string();
    for (name, args) in [
        ("benchy results", vec!["results", outputs.as_str()]),
        (
            "benchy report",
            vec!["report", outputs.as_str(), "-o", report_path.as_str()],
        ),
    ] {
        let times = time(dir.path(), &args);
        println!(
            "{name} over {MODELS} models x {TASKS} tasks x {RUNS} runs: median {:.1} ms, \
             p90 {:.1} ms, max {:.1} ms ({ROUNDS} runs)",
            ms(times[ROUNDS / 2]),
            ms(times[ROUNDS * 9 / 10]),
            ms(times[ROUNDS - 1])
        );
    }
    let html = std::fs::read_to_string(&report).expect("the report");
    assert_eq!(html.matches("<svg").count(), TASKS, "a chart per task");
}

/// The sorted wall times of `ROUNDS` runs of `benchy args` in `cwd`.
fn time(cwd: &Path, args: &[&str]) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let output = Command::new(env!("CARGO_BIN_EXE_benchy"))
                .args(args)
                .current_dir(cwd)
                .env("HOME", cwd)
                .output()
                .expect("benchy runs");
            let elapsed = start.elapsed();
            assert!(
                output.status.success(),
                "benchy {args:?} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            elapsed
        })
        .collect();
    times.sort();
    times
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
