//! Secrets by value: canaries planted in every place a secret comes from (a provider's `env:` and
//! `hf_token:`, benchy's own environment, a server URL's and `HF_ENDPOINT`'s user-info) appear in
//! no byte benchy writes or prints and on no command line of its children (what `ps` shows),
//! while those that children need still reach them, through their environment only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::eval::{
    RUN, eval_args, eval_env, fake_provider, read_json, recording_server, run_dir, walk,
};
use crate::harness::{Run, TestEnv, descendants, eventually};

/// A provider's `env: {HF_TOKEN: ...}`.
const PROVIDER_ENV_TOKEN: &str = "hf_canary_provider_env_7d1e5";
/// The server's API key: the provider's `env: {VLLM_API_KEY: ...}` (vLLM's own variable) and
/// benchy's `OPENAI_API_KEY`, which benchy's probe and lm-eval send as a bearer token.
const SERVER_KEY: &str = "canary-server-key-51ab0";
/// `HUGGING_FACE_HUB_TOKEN` in benchy's environment.
const HUB_TOKEN: &str = "hf_canary_hub_token_c0de0";
/// A provider's `hf_token:`.
const PROVIDER_TOKEN: &str = "hf_canary_provider_token_f00d";
/// The password in `--server-url http://user:PASSWORD@...`.
const URL_PASSWORD: &str = "canary-url-password-9b2c";
/// The password in `HF_ENDPOINT`.
const ENDPOINT_PASSWORD: &str = "canary-endpoint-pw-4e4f";

const CANARIES: [&str; 6] = [
    PROVIDER_ENV_TOKEN,
    SERVER_KEY,
    HUB_TOKEN,
    PROVIDER_TOKEN,
    URL_PASSWORD,
    ENDPOINT_PASSWORD,
];

/// Fails naming the canary and where it was found.
#[track_caller]
fn assert_no_canary(text: &str, place: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{place} holds the canary {canary}");
    }
}

fn assert_run_shows_none(run: &Run, what: &str) {
    assert_no_canary(&run.stdout, &format!("the stdout of {what}"));
    assert_no_canary(&run.stderr, &format!("the stderr of {what}"));
}

/// Every file under `dir`, read whole: none may hold a canary. Returns how many there were.
fn assert_files_hold_none(dir: &Path) -> usize {
    let files = walk(dir);
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_default();
        assert_no_canary(
            &String::from_utf8_lossy(&bytes),
            &file.display().to_string(),
        );
    }
    files.len()
}

/// What `ps` shows of benchy's children: each live descendant's command line, sampled until
/// benchy exits; and the environment of those whose command line holds `environ_of`.
#[derive(Default)]
struct Seen {
    command_lines: BTreeSet<String>,
    environments: Vec<String>,
}

impl Seen {
    fn sample(&mut self, benchy: i32, environ_of: &str) {
        for pid in descendants(benchy) {
            let read = |what: &str| std::fs::read(format!("/proc/{pid}/{what}")).ok();
            let Some(cmdline) = read("cmdline") else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(environ_of)
                && let Some(environ) = read("environ")
            {
                self.environments
                    .push(String::from_utf8_lossy(&environ).replace('\0', "\n"));
            }
            self.command_lines.insert(cmdline);
        }
    }

    /// Every command line seen is clean, and the process `environ_of` got `variable=value`.
    #[track_caller]
    fn check(&self, expected: &[&str], variable: &str, value: &str) {
        for line in &self.command_lines {
            assert_no_canary(line, &format!("the command line `{line}`"));
        }
        for program in expected {
            assert!(
                self.command_lines.iter().any(|l| l.contains(program)),
                "{program} was never seen running: {:#?}",
                self.command_lines
            );
        }
        let wanted = format!("{variable}={value}");
        assert!(
            self.environments
                .iter()
                .any(|e| e.lines().any(|l| l == wanted)),
            "the server never had {variable} in its environment"
        );
    }
}

/// Runs `benchy args` to the end, sampling its children meanwhile.
fn run_watched(env: &TestEnv, args: &[&str], environ_of: &str) -> (Run, Seen) {
    let mut spawned = env.spawn(args);
    let mut seen = Seen::default();
    let pid = spawned.pid();
    let ended = eventually(RUN, || {
        seen.sample(pid, environ_of);
        spawned.child.try_wait().ok().flatten().is_some()
    });
    assert!(ended, "benchy did not end");
    (spawned.wait(Duration::from_secs(10)), seen)
}

fn benchy_home(env: &TestEnv) -> PathBuf {
    env.path().join("benchy-home")
}

/// The run of tests/cli/eval.rs with a launched server that wants an API key, and every
/// canary of the environment and the provider planted.
fn canary_env() -> TestEnv {
    let provider = fake_provider(&[])
        + &format!(
            "env:\n  HF_TOKEN: \"{PROVIDER_ENV_TOKEN}\"\n  VLLM_API_KEY: \"{SERVER_KEY}\"\n"
        );
    let mut env = eval_env(&provider);
    let home = benchy_home(&env);
    env.env("BENCHY_HOME", home.to_str().unwrap())
        .env("HUGGING_FACE_HUB_TOKEN", HUB_TOKEN)
        .env("OPENAI_API_KEY", SERVER_KEY)
        .env(
            "HF_ENDPOINT",
            &format!("http://user:{ENDPOINT_PASSWORD}@127.0.0.1:9"),
        );
    env
}

#[test]
fn eval_shows_and_writes_no_secret_and_hands_them_over_by_environment_only() {
    let env = canary_env();
    let dry = env.run(&eval_args(&["--task", "gen", "--dry-run"]));
    dry.expect_code(0);
    assert_run_shows_none(&dry, "--dry-run");
    assert!(shows_masked(&dry.stdout, "HF_TOKEN"), "{}", dry.stdout);

    // The server answers /v1 only with the key: the run passes only if benchy's probe and
    // lm-eval's requests carried it, from their environment.
    let (run, seen) = run_watched(
        &env,
        &eval_args(&["--task", "gen", "--log-samples"]),
        "benchy-fake-vllm",
    );
    run.expect_code(0);
    assert_run_shows_none(&run, "benchy eval");
    seen.check(
        &["benchy-fake-vllm", "lm_eval run"],
        "HF_TOKEN",
        PROVIDER_ENV_TOKEN,
    );
    let files = assert_files_hold_none(&env.path().join("out"));
    assert!(files > 5, "the run wrote its files: {files}");
    let record = read_json(&run_dir(&env).join("run.json"));
    let command = record["server"]["command"].as_str().unwrap();
    assert!(shows_masked(command, "VLLM_API_KEY"), "{command}");
}

/// A command line shows the variable, its value masked (quoted or not, as the shell needs).
fn shows_masked(command: &str, variable: &str) -> bool {
    command.contains(&format!("{variable}=***")) || command.contains(&format!("{variable}='***'"))
}

#[test]
fn serve_shows_and_writes_no_secret() {
    let env = canary_env();
    env.write(
        "providers/fake.yaml",
        &(fake_provider(&[]) + &format!("hf_token: \"{PROVIDER_TOKEN}\"\n")),
    );
    let serve = env.spawn(&["serve", "-c", "run.yaml", "--source", "hf"]);
    let line = serve.next_line(RUN);
    assert!(line.starts_with("Serving model at "), "{line}");
    let mut seen = Seen::default();
    seen.sample(serve.pid(), "benchy-fake-vllm");
    seen.check(&["benchy-fake-vllm"], "HF_TOKEN", PROVIDER_TOKEN);
    serve.signal(nix::sys::signal::Signal::SIGINT);
    let run = serve.wait(RUN);
    run.expect_code(130);
    assert_run_shows_none(&run, "benchy serve");
    let files = assert_files_hold_none(&benchy_home(&env).join("serve"));
    assert!(files >= 1, "serve wrote its log");
}

#[test]
fn credentials_in_the_server_url_are_refused_unseen_before_anything_starts() {
    let server = recording_server();
    let env = canary_env();
    let url = format!("http://user:{URL_PASSWORD}@127.0.0.1:{}/v1", server.port());
    let eval = eval_args(&["--server-url", &url]);
    let serve = ["serve", "-c", "run.yaml", "--server-url", &url];
    for (command, args) in [("eval", &eval[..]), ("serve", &serve[..])] {
        let run = env.run(args);
        run.expect_code(2);
        assert_run_shows_none(&run, command);
        assert!(
            run.stderr.contains("credentials in the URL are refused")
                && run.stderr.contains("OPENAI_API_KEY"),
            "{}",
            run.stderr
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(!env.path().join("out").exists());
}

#[test]
fn endpoint_credentials_are_masked_in_the_hubs_warnings() {
    let mut env = TestEnv::new();
    env.write("run.yaml", "model:\n  name: org/model\n");
    // nobody listens on port 9: the warning names the endpoint
    env.hub(&format!("http://user:{ENDPOINT_PASSWORD}@127.0.0.1:9"));
    let run = env.run(&["config", "explain", "-c", "run.yaml"]);
    run.expect_code(0);
    assert_run_shows_none(&run, "config explain");
    assert!(
        run.stderr.contains("http://user:***@127.0.0.1:9"),
        "{}",
        run.stderr
    );
}
