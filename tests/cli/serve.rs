//! `benchy serve` with small real servers (the repository's fake server, benchy-fake-vllm,
//! started through the provider's `command` exactly as vLLM would be): readiness, the one stdout line, signals and
//! exit codes, failures with the log's tail, timeouts, grace then SIGKILL, ports, and that no
//! process of the server's group is left.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{TestEnv, alive, eventually, http, live_group_members};
use crate::workspace_builds::binary;

/// The repository's fake vLLM server.
fn fake_server() -> std::path::PathBuf {
    binary("benchy-fake-vllm")
}

/// Generous limits so a loaded machine does not fail a test; they bound a hang, they are not
/// timings.
const START: Duration = Duration::from_secs(60);
const EXIT: Duration = Duration::from_secs(60);

/// A run whose provider launches the fake server; `provider` lines are added to the provider
/// file and `env` entries to its `env:` mapping.
fn fake_run(provider: &str, env: &[(&str, &str)]) -> TestEnv {
    let t = TestEnv::new();
    t.write(
        "model/generation_config.json",
        r#"{"do_sample": true, "temperature": 0.7, "top_k": 20, "seed": 5}"#,
    );
    let mut text = format!(
        "command: [{}]\n{provider}\nenv:\n  \
         FAKE_PID_FILE: server.pid\n  FAKE_ARGV_FILE: argv.txt\n",
        fake_server().display()
    );
    for (k, v) in env {
        text += &format!("  {k}: \"{v}\"\n");
    }
    t.write("providers/fake.yaml", &text);
    t.write(
        "run.yaml",
        "model:\n  name: \"./model\"\nvllm:\n  provider_config: fake\n",
    );
    t
}

const SERVE: &[&str] = &[
    "serve",
    "-c",
    "run.yaml",
    "--source",
    "file:model/generation_config.json",
];

/// The pids the fake server wrote: itself first, then its children.
fn server_pids(t: &TestEnv) -> Vec<i32> {
    let path = t.path().join("server.pid");
    assert!(
        eventually(START, || path.exists()),
        "the fake server never started"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn port_of(line: &str) -> u16 {
    let rest = line.rsplit(':').next().unwrap();
    rest.trim_end_matches("/v1").parse().unwrap()
}

#[test]
fn serve_prints_one_line_and_ctrl_c_stops_the_group_with_130() {
    let t = fake_run("port: null", &[]);
    let benchy = t.spawn(SERVE);
    let line = benchy.next_line(START);
    assert!(
        line.starts_with("Serving model at http://127.0.0.1:") && line.ends_with("/v1"),
        "{line}"
    );
    let port = port_of(&line);
    let models = http(port, "GET", "/v1/models", None);
    assert!(models.contains(r#""id":"model""#), "{models}");
    let pid = server_pids(&t)[0];
    // the server leads its own process group
    assert_eq!(live_group_members(pid), [pid]);
    let stderr = benchy.stderr();
    assert!(
        stderr.contains("no port in the provider config; using port"),
        "{stderr}"
    );
    let log_line = stderr
        .lines()
        .find(|l| l.starts_with("vllm: starting; log: "))
        .unwrap_or_else(|| panic!("no log path in\n{stderr}"));
    let log = std::path::PathBuf::from(log_line.trim_start_matches("vllm: starting; log: "));

    benchy.signal(Signal::SIGINT);
    let run = benchy.wait(EXIT);
    run.expect_code(130);
    assert_eq!(run.stdout.lines().count(), 1, "exactly one stdout line");
    assert!(
        run.stderr.contains("interrupted by SIGINT"),
        "{}",
        run.stderr
    );
    assert!(live_group_members(pid).is_empty());
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.starts_with("# benchy started: "), "{log}");
    assert!(log.contains("fake server: SIGTERM, exiting"), "{log}");
}

#[test]
fn sigterm_to_benchy_stops_the_group_with_143() {
    let mut t = fake_run("", &[]);
    let home = t.path().join("benchy-home");
    t.env("BENCHY_HOME", home.to_str().unwrap());
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let pid = server_pids(&t)[0];
    benchy.signal(Signal::SIGTERM);
    let run = benchy.wait(EXIT);
    run.expect_code(143);
    assert!(
        run.stderr.contains("interrupted by SIGTERM"),
        "{}",
        run.stderr
    );
    assert!(live_group_members(pid).is_empty());
    // the log is kept under BENCHY_HOME
    let logged = format!("vllm: starting; log: {}/serve/model-", home.display());
    assert!(run.stderr.contains(&logged), "{}", run.stderr);
}

#[test]
fn the_server_gets_the_resolved_parameters_and_the_port() {
    let t = fake_run("port: null", &[]);
    let benchy = t.spawn(SERVE);
    let port = port_of(&benchy.next_line(START));
    let argv = std::fs::read_to_string(t.path().join("argv.txt")).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    let at = |flag: &str| argv[argv.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(at("--port"), port.to_string());
    assert_eq!(at("--served-model-name"), "model");
    assert_eq!(at("--generation-config"), "vllm");
    assert_eq!(
        at("--override-generation-config"),
        r#"{"temperature":0.7,"top_k":20}"#
    );
    assert!(argv.contains(&"--enable-tokenizer-info-endpoint"));
    let stderr = benchy.stderr();
    assert!(
        stderr
            .contains("vLLM server defaults leave out: do_sample (sent as the temperature), seed"),
        "{stderr}"
    );
    benchy.signal(Signal::SIGINT);
    benchy.wait(EXIT).expect_code(130);
}

#[test]
fn a_server_that_exits_at_once_fails_fast_with_its_log_tail() {
    let t = fake_run("startup_timeout: 600", &[("FAKE_EXIT", "3")]);
    let run = t.spawn(SERVE).wait(EXIT);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("vllm exited during start-up (exit code 3)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("last 2 lines of"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("| fake server: fatal: cannot load the model"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_server_that_dies_after_ready_fails_the_command_with_its_log_tail() {
    let t = fake_run("", &[("FAKE_DIE_AFTER", "1.5")]);
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let run = benchy.wait(EXIT);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("vllm exited unexpectedly (exit code 4)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("| fake server: dying on purpose"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_never_ready_is_stopped_at_the_startup_timeout() {
    // /health answers 503 for ever: the ready file is never created
    let t = fake_run("startup_timeout: 1", &[("FAKE_READY_FILE", "never")]);
    let run = t.spawn(SERVE).wait(EXIT);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("vllm was not ready after 1 s (`startup_timeout`)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("/health: 503"), "{}", run.stderr);
    let pid = server_pids(&t)[0];
    assert!(live_group_members(pid).is_empty());
}

#[test]
fn a_server_ignoring_sigterm_is_killed_after_the_grace_with_its_children() {
    let t = fake_run(
        "stop_grace: 1",
        &[("FAKE_IGNORE_TERM", "1"), ("FAKE_CHILDREN", "2")],
    );
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let pids = server_pids(&t);
    assert_eq!(pids.len(), 3);
    let group = live_group_members(pids[0]);
    for pid in &pids {
        assert!(group.contains(pid), "{pid} not in the group {group:?}");
    }
    benchy.signal(Signal::SIGINT);
    let run = benchy.wait(EXIT);
    run.expect_code(130);
    assert!(
        run.stderr
            .contains("vllm: stopping (SIGTERM, then SIGKILL after 1 s"),
        "{}",
        run.stderr
    );
    assert!(live_group_members(pids[0]).is_empty());
    for pid in pids {
        assert!(!alive(pid), "{pid} survived");
    }
    let log = std::fs::read_dir(t.path().join(".cache/benchy/serve"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("server.log");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("fake server: ignoring SIGTERM"), "{log}");
}

#[test]
fn children_left_by_a_server_that_exits_on_sigterm_are_killed_too() {
    // the leader exits at SIGTERM, its children ignore it: the group is not empty until SIGKILL
    let t = fake_run("stop_grace: 1", &[("FAKE_CHILDREN", "2")]);
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let pids = server_pids(&t);
    benchy.signal(Signal::SIGINT);
    benchy.wait(EXIT).expect_code(130);
    assert!(live_group_members(pids[0]).is_empty());
    assert!(pids.iter().all(|p| !alive(*p)));
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let t = fake_run("stop_grace: 600", &[("FAKE_IGNORE_TERM", "1")]);
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let pid = server_pids(&t)[0];
    benchy.signal(Signal::SIGINT);
    benchy.wait_stderr("press Ctrl-C again to kill now", EXIT);
    assert!(alive(pid), "still in its grace");
    benchy.signal(Signal::SIGINT);
    // the grace is 600 s: an exit within the test's limit means the second Ctrl-C killed
    let run = benchy.wait(EXIT);
    run.expect_code(130);
    assert!(live_group_members(pid).is_empty());
}

#[test]
fn a_sigkilled_benchy_leaves_no_server() {
    let t = fake_run("", &[]);
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let pid = server_pids(&t)[0];
    benchy.signal(Signal::SIGKILL);
    benchy.wait(EXIT);
    // the parent-death signal (SIGTERM) reaches the server, which exits
    assert!(
        eventually(Duration::from_secs(30), || live_group_members(pid)
            .is_empty()),
        "the server outlived benchy"
    );
}

#[test]
fn a_sigkilled_benchy_leaves_no_server_even_one_that_ignores_sigterm() {
    // The server swallows SIGTERM (as vLLM's API server does while it waits for its engine):
    // the keeper benchy started beside it stops the group after the grace with SIGKILL.
    let mut t = fake_run(
        "stop_grace: 1",
        &[("FAKE_IGNORE_TERM", "1"), ("FAKE_CHILDREN", "2")],
    );
    t.env("BENCHY_LOG", "debug");
    let benchy = t.spawn(SERVE);
    benchy.next_line(START);
    let pids = server_pids(&t);
    let stderr = benchy.stderr();
    let keeper: i32 = stderr
        .lines()
        .find(|l| l.contains("keeper started"))
        .and_then(|l| l.split("pid=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no keeper in\n{stderr}"));
    assert!(alive(keeper));
    benchy.signal(Signal::SIGKILL);
    benchy.wait(EXIT);
    assert!(
        eventually(Duration::from_secs(30), || pids.iter().all(|p| !alive(*p))),
        "the server or its children outlived benchy"
    );
    // the keeper's SIGKILL reaches the whole group at once, but its members (grandchildren
    // included) finish dying on their own time: nobody waits for them here but this test
    assert!(
        eventually(Duration::from_secs(10), || live_group_members(pids[0])
            .is_empty()),
        "members of the server's group outlived benchy: {:?}",
        live_group_members(pids[0])
    );
    assert!(
        eventually(Duration::from_secs(10), || !alive(keeper)),
        "the keeper outlived its work"
    );
}

#[test]
fn a_busy_port_is_replaced_and_said_in_one_line() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    let t = fake_run(&format!("port: {busy}"), &[]);
    let benchy = t.spawn(SERVE);
    let port = port_of(&benchy.next_line(START));
    assert_ne!(port, busy);
    let stderr = benchy.stderr();
    assert!(
        stderr.contains(&format!("vllm: port {busy} is busy; using port {port}\n")),
        "{stderr}"
    );
    benchy.signal(Signal::SIGINT);
    benchy.wait(EXIT).expect_code(130);
}

/// A server outside the launched server's process group answering on its port (another run took
/// the port between benchy's check and the bind) is not taken for the launched one.
#[test]
fn a_server_of_another_process_group_on_the_port_is_not_taken_for_ready() {
    let t = TestEnv::new();
    t.write("model/generation_config.json", r#"{"temperature": 0.7}"#);
    // The launched "server" starts the real one in a session (and group) of its own, and sleeps.
    let squat = format!(
        "setsid {} \"$@\" & echo $! > squatter.pid; exec sleep 1000",
        fake_server().display()
    );
    t.write(
        "providers/fake.yaml",
        &format!(
            "command: [sh, -c, {}, sh]\nstartup_timeout: 5\nstop_grace: 1\n",
            serde_json::to_string(&squat).unwrap()
        ),
    );
    t.write(
        "run.yaml",
        "model:\n  name: \"./model\"\nvllm:\n  provider_config: fake\n",
    );
    /// Kills the squatter however the test ends: it lives outside every group benchy stops.
    struct Squatter(std::path::PathBuf);
    impl Drop for Squatter {
        fn drop(&mut self) {
            if let Some(pid) = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let _squatter = Squatter(t.path().join("squatter.pid"));
    let run = t.spawn(SERVE).wait(START);
    run.expect_code(1);
    assert!(
        run.stdout.is_empty(),
        "never said it was serving: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("outside vllm's group"),
        "{}",
        run.stderr
    );
}

#[test]
fn binding_all_interfaces_is_warned_and_clients_use_loopback() {
    let t = fake_run("host: \"0.0.0.0\"", &[]);
    let benchy = t.spawn(SERVE);
    let line = benchy.next_line(START);
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    let stderr = benchy.stderr();
    assert!(
        stderr.contains("warning: vllm binds 0.0.0.0: it is reachable from other machines"),
        "{stderr}"
    );
    benchy.signal(Signal::SIGINT);
    benchy.wait(EXIT).expect_code(130);
}

#[test]
fn an_existing_server_is_only_probed_and_left_running() {
    let t = fake_run("", &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(fake_server())
        .args(["--port", &port.to_string(), "--served-model-name", "model"])
        .current_dir(t.path())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v1");
    let run = t
        .spawn(&[SERVE, &["--server-url", &url]].concat())
        .wait(EXIT);
    let still_running = server.try_wait().unwrap().is_none();
    let _ = server.kill();
    let _ = server.wait();
    run.expect_code(0);
    assert_eq!(run.stdout, format!("Serving model at {url}\n"));
    assert!(still_running, "benchy stopped a server it did not start");
    assert!(!t.path().join("argv.txt").exists(), "nothing was launched");
}

#[test]
fn bad_provider_input_exits_2_before_anything_starts() {
    let t = fake_run("gpu_util: 0.9", &[]);
    let run = t.run(SERVE);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown provider key `gpu_util`"),
        "{}",
        run.stderr
    );
    assert!(!t.path().join("server.pid").exists());

    let t = TestEnv::new();
    t.write("model/generation_config.json", "{}");
    t.write("providers/p.yaml", "command: [no-such-program-benchy]\n");
    t.write(
        "run.yaml",
        "model:\n  name: \"./model\"\nvllm:\n  provider_config: p\n",
    );
    let run = t.run(SERVE);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("cannot start vllm `no-such-program-benchy`"),
        "{}",
        run.stderr
    );
}

/// `benchy serve --audit` makes benchy a conformance checker for any client: the `Serving` line
/// names the proxy, and a client that sends `temperature: 0` (the Python tool's failure) is
/// reported on Ctrl-C, request and key, and in wire_audit.json.
#[test]
fn serve_audit_reports_a_client_that_overrides_the_resolved_set() {
    let server =
        benchy_testkit::openai::RecordingOpenAi::start(benchy_testkit::openai::OpenAiOptions {
            model: "model".into(),
            ..Default::default()
        });
    let t = fake_run("", &[]);
    let url = server.base_url();
    let benchy = t.spawn(&[SERVE, &["--server-url", &url, "--audit"]].concat());
    let line = benchy.next_line(START);
    let port = port_of(&line);
    assert_ne!(
        port,
        server.port(),
        "clients are pointed at the proxy: {line}"
    );
    let good = r#"{"model": "model", "prompt": "2+2=", "temperature": 0.7, "top_k": 20, "seed": 5, "max_tokens": 4}"#;
    let greedy =
        r#"{"model": "model", "prompt": "2+2=", "temperature": 0, "top_k": 20, "seed": 5}"#;
    for body in [good, greedy] {
        let answer = http(port, "POST", "/v1/completions", Some(body));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert_eq!(server.generation_bodies().len(), 2, "forwarded unchanged");
    benchy.signal(Signal::SIGINT);
    let run = benchy.wait(EXIT);
    run.expect_code(130);
    assert!(
        run.stderr
            .contains("wire audit: 1 of 2 generation requests carried exactly the resolved set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "request 2 /v1/completions: `temperature` is different, expected {\"exactly\":0.7}, got 0"
        ),
        "{}",
        run.stderr
    );
    let file = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("the audit is in "))
        .expect("the audit's file is named");
    let audit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(
        audit["jobs"][0]["report"]["deviations"][0]["key"],
        "temperature"
    );
    let text = audit.to_string();
    assert!(!text.contains("2+2="), "no prompt is kept: {text}");
}
