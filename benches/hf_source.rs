//! The `hf` source against huggingface_hub's `hf_hub_download`, doing the same work against the
//! stand-in Hub on loopback: a cold fetch (empty cache), a warm revalidation (cached branch)
//! and an offline resolution. Measured two ways: whole processes (`benchy config explain` and
//! `python hub_client.py download`, interpreter start-up included, as a user runs them) and
//! single calls inside a running process (`HfSource::resolve` and `hf_hub_download`).
//!
//! `cargo bench --bench hf_source` (or `make bench`) prints a Markdown table; the README's
//! Performance section quotes it. Needs the Python environment of `make setup`.

#[path = "../tests/support/bench_filter.rs"]
mod bench_filter;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benchy_core::{ConfigSource, ModelRef, SourceRequest};
use benchy_source_hf::HfSource;
use benchy_source_hf::settings::{HubSettings, RetryPolicy, TokenSource};
use benchy_testkit::StandInHub;

const REPO: &str = "org/model";
const CONFIG: &str = "{\n  \"do_sample\": true,\n  \"temperature\": 0.6,\n  \"top_p\": 0.95,\n  \"top_k\": 20,\n  \"eos_token_id\": [151645, 151643]\n}\n";

/// Runs of each benchy measurement, and of each Python process (which take ~1 s each).
const RUNS: usize = 60;
const PYTHON_PROCESS_RUNS: usize = 7;

fn main() {
    if bench_filter::asked_for_another("hf_source") {
        return;
    }
    let hub = StandInHub::start();
    hub.publish_generation_config(REPO, CONFIG);
    let work = tempfile::tempdir().expect("a temp dir");
    write_run_config(work.path());

    let mut rows = Vec::new();
    let mut offline_p90 = Duration::ZERO;
    for (name, online, cold) in [
        ("cold fetch (empty cache)", true, true),
        ("warm revalidation (cached `main`)", true, false),
        ("offline (`--offline` / HF_HUB_OFFLINE=1)", false, false),
    ] {
        let cache = work.path().join(format!("cache-{}", rows.len()));
        if !cold {
            // Warm and offline runs start from a cache an online run filled.
            HfSource::with_settings(settings(&hub, &cache))
                .resolve(&request(false))
                .expect("fills the cache");
        }
        let benchy_process = measure(RUNS, cold, &cache, |cache| {
            run(benchy_command(work.path(), &hub, cache, online))
        });
        let benchy_call = measure(RUNS, cold, &cache, |cache| {
            let start = Instant::now();
            let reply = HfSource::with_settings(settings(&hub, cache))
                .resolve(&request(!online))
                .expect("resolves");
            assert!(reply.layer.is_some());
            start.elapsed()
        });
        let python_process = measure(PYTHON_PROCESS_RUNS, cold, &cache, |cache| {
            run(python_command(
                &hub,
                cache,
                online,
                &["download", REPO, "main"],
            ))
        });
        let python_call = python_calls(&hub, &cache, online, cold);
        if !online {
            offline_p90 = benchy_process.quantile(0.9);
        }
        rows.push((
            name,
            benchy_process.median(),
            python_process.median(),
            benchy_call.median(),
            python_call,
        ));
    }

    println!("\nhf source vs huggingface_hub 2.4.0, stand-in Hub on 127.0.0.1, median of runs");
    println!(
        "({RUNS} benchy runs, {PYTHON_PROCESS_RUNS} Python processes, {RUNS} Python calls each)\n"
    );
    println!(
        "| operation | `benchy config explain` process | Python process (`hf_hub_download`) | ratio | `HfSource::resolve` call | `hf_hub_download` call | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, bp, pp, bc, pc) in rows {
        println!(
            "| {name} | {} | {} | {:.0}x | {} | {} | {:.0}x |",
            ms(bp),
            ms(pp),
            pp.as_secs_f64() / bp.as_secs_f64(),
            ms(bc),
            ms(pc),
            pc.as_secs_f64() / bc.as_secs_f64(),
        );
    }
    println!(
        "\noffline `benchy config explain`, 90th percentile of {RUNS} runs: {} (target: under 10 ms)",
        ms(offline_p90)
    );
}

/// `runs` timings of `once`, sorted, each given the cache to use: a fresh one per run when
/// `cold`, else `cache` (after one unmeasured run, which warms the disk and the code).
fn measure(
    runs: usize,
    cold: bool,
    cache: &Path,
    mut once: impl FnMut(&Path) -> Duration,
) -> Timings {
    if !cold {
        once(cache);
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            if cold {
                once(&cache.join(format!("cold-{i}-{}", unique())))
            } else {
                once(cache)
            }
        })
        .collect();
    times.sort();
    Timings(times)
}

/// Sorted timings.
struct Timings(Vec<Duration>);

impl Timings {
    fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    fn quantile(&self, q: f64) -> Duration {
        let last = self.0.len() - 1;
        self.0[((last as f64) * q).round() as usize]
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Wall time of a whole process, which must succeed.
fn run(mut command: Command) -> Duration {
    let start = Instant::now();
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the command starts");
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn benchy_command(work: &Path, hub: &StandInHub, cache: &Path, online: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_benchy"));
    command
        .args([
            "config",
            "explain",
            "-c",
            "models/run.yaml",
            "--format",
            "json",
        ])
        .current_dir(work)
        .env("HOME", work)
        .env("HF_ENDPOINT", hub.url())
        .env("HF_HUB_CACHE", cache)
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE");
    if !online {
        command.arg("--offline");
    }
    command
}

fn python_command(hub: &StandInHub, cache: &Path, online: bool, args: &[&str]) -> Command {
    let mut command = benchy_testkit::python::command("hub_client.py");
    command
        .args(args)
        .env("HF_ENDPOINT", hub.url())
        .env("HF_HUB_CACHE", cache)
        .env("HF_HOME", cache.join("hf-home"));
    if !online {
        command.env("HF_HUB_OFFLINE", "1");
    }
    command
}

/// The median in-process time of `hf_hub_download` (interpreter and import excluded).
fn python_calls(hub: &StandInHub, cache: &Path, online: bool, cold: bool) -> Duration {
    let count = RUNS.to_string();
    let mut args = vec!["time", REPO, "main", count.as_str()];
    if cold {
        args.push("cold");
    }
    std::fs::create_dir_all(cache).expect("a cache folder");
    let output = python_command(hub, cache, online, &args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let mut seconds: Vec<f64> = report["seconds"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s.as_f64())
        .collect();
    seconds.sort_by(f64::total_cmp);
    Duration::from_secs_f64(seconds[seconds.len() / 2])
}

fn settings(hub: &StandInHub, cache: &Path) -> HubSettings {
    HubSettings {
        endpoint: hub.url(),
        cache_dir: cache.to_owned(),
        token: TokenSource::None,
        metadata_timeout: Duration::from_secs(10),
        download_timeout: Duration::from_secs(10),
        retry: RetryPolicy::default(),
    }
}

fn request(offline: bool) -> SourceRequest {
    SourceRequest {
        spec: "hf".into(),
        scheme: "hf".into(),
        argument: None,
        model: ModelRef {
            name: REPO.into(),
            revision: None,
            local_dir: None,
        },
        base_dir: PathBuf::from("/"),
        offline,
    }
}

/// A run config like the shipped ones: a model file, its provider and two tasks.
fn write_run_config(work: &Path) {
    let write = |relative: &str, text: &str| {
        let path = work.join(relative);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("providers/p.yaml", "port: 8000\nmax_model_len: 4096\n");
    write(
        "tasks/gsm8k.yaml",
        "name: gsm8k\ntask_name: gsm8k\ngeneration:\n  max_new_tokens: 512\n",
    );
    write(
        "models/run.yaml",
        &format!(
            "model:\n  name: {REPO}\nvllm:\n  provider_config: p\ntasks:\n  - gsm8k\n  - name: arc\n    task_name: arc_easy\ngeneration:\n  temperature: 0.7\n"
        ),
    );
}

fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}
