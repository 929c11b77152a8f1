//! The recording OpenAI-compatible server as a process that benchy launches in vLLM's place (a
//! provider `command`), so tests drive benchy's real runner: the repository's one fake server.
//! It takes vLLM's `--port`, `--served-model-name` and `--max-model-len` and ignores vLLM's
//! other flags. Its own options come first on the command line: `--record FILE` (every request
//! as a JSON line), `--die-after N` (exit with code 3 after N completion requests),
//! `--delay-ms N` (per completion), `--completion TEXT`.
//!
//! How it misbehaves is chosen through the environment (a provider's `env:`), for the runner's
//! tests and the readiness benchmark:
//!
//! | variable | effect |
//! |---|---|
//! | `FAKE_ARGV_FILE` | write the command line here, one argument per line |
//! | `FAKE_PID_FILE` | once started, write `<pid> <child pids...>` here |
//! | `FAKE_EXIT` | print a fatal message on stderr and exit with this code at once |
//! | `FAKE_CHILDREN` | start this many children that ignore SIGTERM, in its process group |
//! | `FAKE_IGNORE_TERM` | `1`: say so on SIGTERM and keep running (only SIGKILL ends it) |
//! | `FAKE_DIE_AFTER` | seconds after start, print a message and exit with code 4 |
//! | `FAKE_READY_FILE` | `/health` answers 503 until this file exists |
//! | `FAKE_START_MS` | wait this long before listening, as a server loading a model does |
//! | `FAKE_SPAN_FILE` | append `start <pid> <unix ms> <CUDA_VISIBLE_DEVICES>` when it starts and `stop <pid> <unix ms>` on SIGTERM |
//!
//! Like vLLM, it answers `/v1/...` only with the bearer token in `VLLM_API_KEY` when that is
//! set in its environment.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, serve_process};
use nix::sys::signal::{SigSet, Signal};

fn main() -> ExitCode {
    // Before any thread starts, so every thread inherits the mask and SIGTERM reaches the
    // watcher below alone.
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.thread_block().expect("block SIGTERM");
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(file) = env("FAKE_ARGV_FILE") {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        std::fs::write(file, argv.join("\n") + "\n").expect("write the argv file");
    }
    if let Some(code) = env("FAKE_EXIT") {
        eprintln!("fake server: fatal: cannot load the model (a test failure)");
        return ExitCode::from(code.parse::<u8>().unwrap_or(1));
    }
    let children = start_children(
        env("FAKE_CHILDREN")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    );
    if let Some(file) = env("FAKE_PID_FILE") {
        write_pids(&file, &children);
    }
    let span = env("FAKE_SPAN_FILE");
    if let Some(file) = &span {
        let devices = env("CUDA_VISIBLE_DEVICES").unwrap_or_else(|| "-".to_owned());
        note_span(
            file,
            &format!("start {} {} {devices}", std::process::id(), unix_ms()),
        );
    }
    watch_term(term, env("FAKE_IGNORE_TERM").as_deref() == Some("1"), span);
    if let Some(ms) = env("FAKE_START_MS").and_then(|s| s.parse().ok()) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if let Some(seconds) = env("FAKE_DIE_AFTER").and_then(|s| s.parse::<f64>().ok()) {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(seconds));
            println!("fake server: dying on purpose");
            std::process::exit(4);
        });
    }
    let (port, mut options) = parse_args();
    options.ready_file = env("FAKE_READY_FILE").map(PathBuf::from);
    println!("fake server: serving {} on 127.0.0.1:{port}", options.model);
    match serve_process(port, options) {
        Ok(code) => {
            eprintln!("fake server: dying as asked");
            ExitCode::from(code as u8)
        }
        Err(e) => {
            eprintln!("fake server: cannot listen on port {port}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The port and the server's options from the command line.
fn parse_args() -> (u16, OpenAiOptions) {
    let mut options = OpenAiOptions {
        api_key: std::env::var("VLLM_API_KEY").ok().filter(|k| !k.is_empty()),
        ..OpenAiOptions::default()
    };
    let mut port = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--port" => port = value().parse().unwrap_or(0),
            "--served-model-name" => options.model = value(),
            "--max-model-len" => options.max_model_len = value().parse().unwrap_or(512),
            "--record" => options.record_file = Some(PathBuf::from(value())),
            "--die-after" => options.die_after = value().parse().ok(),
            "--delay-ms" => options.delay = Duration::from_millis(value().parse().unwrap_or(0)),
            "--completion" => options.completion = value(),
            _ => {}
        }
    }
    (port, options)
}

/// Children in this process's group that only the group's SIGKILL ends (`trap '' TERM` is
/// inherited by their `sleep`).
fn start_children(count: usize) -> Vec<Child> {
    (0..count)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "trap '' TERM; sleep 1000 & wait"])
                .spawn()
                .expect("start a child")
        })
        .collect()
}

/// `<pid> <child pids...>`, written whole (a reader never sees half of it).
fn write_pids(file: &str, children: &[Child]) {
    let pids: Vec<String> = std::iter::once(std::process::id())
        .chain(children.iter().map(Child::id))
        .map(|p| p.to_string())
        .collect();
    let temp = format!("{file}.tmp");
    std::fs::write(&temp, pids.join(" ") + "\n").expect("write the pid file");
    std::fs::rename(&temp, file).expect("move the pid file");
}

/// SIGTERM: exit 0 saying so (noting the end of its span), or (ignoring it) say so and go on.
fn watch_term(term: SigSet, ignore: bool, span: Option<String>) {
    std::thread::spawn(move || {
        loop {
            if term.wait().is_err() {
                continue;
            }
            if ignore {
                println!("fake server: ignoring SIGTERM");
            } else {
                if let Some(file) = &span {
                    note_span(file, &format!("stop {} {}", std::process::id(), unix_ms()));
                }
                println!("fake server: SIGTERM, exiting");
                std::process::exit(0);
            }
        }
    });
}

/// One line appended whole: servers side by side share the file.
fn note_span(file: &str, line: &str) {
    use std::io::Write;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open the span file");
    out.write_all(format!("{line}\n").as_bytes())
        .expect("write the span file");
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
