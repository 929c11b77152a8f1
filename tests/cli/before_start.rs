//! What can be checked before a run starts is checked before it starts: exit 2 naming the value,
//! nothing created and nothing run (the lm-eval here is a stand-in that leaves a mark when it is
//! run, and the provider's server would fail at once). And one run per run folder: a second run
//! on it is refused at once naming the holder's PID, and a killed run's lock dies with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{Background, TestEnv, eventually};

/// Bounds a hang; not a timing.
const BOUND: Duration = Duration::from_secs(60);

/// An lm-eval stand-in: notes that it ran, holds its check until `release` exists beside it,
/// then fails it.
const STAND_IN: &str = "#!/bin/sh\n\
    here=$(dirname \"$0\")\n\
    echo \"$@\" >> \"$here/lm-eval-ran\"\n\
    while [ ! -e \"$here/release\" ]; do sleep 0.05; done\n\
    exit 1\n";

fn setup() -> TestEnv {
    use std::os::unix::fs::PermissionsExt;
    let mut env = TestEnv::new();
    env.write("model/config.json", "{}");
    env.write("providers/p.yaml", "command: [/bin/false]\n");
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: p\ntasks:\n  - name: t\n    task_name: hellaswag\n",
    );
    let script = env.write("lm-eval-stand-in.sh", STAND_IN);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.env("BENCHY_LM_EVAL", script.to_str().unwrap());
    env
}

/// `benchy eval` of the test's run into `out/r/`, unless `extra` says where.
fn eval<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["eval", "-c", "run.yaml", "--source", "hf"];
    for (flag, default) in [("--output-dir", "out"), ("--run-id", "r")] {
        if !extra.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend_from_slice(extra);
    args
}

/// What the test folder holds, so a refused run can be shown to have created nothing.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = walkdir(dir);
    all.sort();
    all
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        found.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walkdir(&path));
        }
    }
    found
}

/// `benchy eval` with `extra` exits 2 saying `said`, and leaves the folder as it was.
#[track_caller]
fn refused_before_start(env: &TestEnv, extra: &[&str], said: &str) {
    let before = listing(env.path());
    for dry_run in [false, true] {
        let mut args = eval(extra);
        if dry_run {
            args.push("--dry-run");
        }
        let run = env.spawn(&args).wait(BOUND);
        assert!(
            run.code == 2 && run.stderr.contains(said),
            "{extra:?} (dry run: {dry_run}): exit {}, wanted 2 saying `{said}`:\n{}",
            run.code,
            run.stderr
        );
        assert_eq!(
            listing(env.path()),
            before,
            "{extra:?}: something was created"
        );
    }
}

#[test]
fn an_output_folder_that_cannot_be_made() {
    let env = setup();
    env.write("file.txt", "in the way");
    std::os::unix::fs::symlink("gone", env.path().join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", env.path().join("loop")).unwrap();
    for (dir, said) in [
        ("file.txt", "file.txt is a regular file, not a folder"),
        ("file.txt/sub", "file.txt is a regular file, not a folder"),
        (
            "dangling",
            "dangling is a link to gone, which does not exist",
        ),
        ("loop", "loop is a link to loop, which cannot be followed"),
        ("/proc/x", "nothing can be created in /proc"),
    ] {
        refused_before_start(&env, &["--output-dir", dir], said);
    }
}

#[test]
fn run_ids_that_are_not_one_folder_name() {
    let env = setup();
    let long = "r".repeat(300);
    for (id, said) in [
        (long.as_str(), "longer than 255 bytes"),
        ("a\nb", "control character"),
        ("a/b", "path separator"),
        ("..", "`.` or `..`"),
    ] {
        refused_before_start(&env, &["--run-id", id], said);
    }
}

#[test]
fn task_names_and_subdirectories_that_are_not_one_folder_name() {
    let env = setup();
    for (task, said) in [
        ("name: \"a/b\"", "path separator"),
        ("name: \"../../../x\"", "path separator"),
        ("name: \"\"", "is empty"),
        (
            "name: t\n    output:\n      subdirectory: \"/abs\"",
            "output.subdirectory",
        ),
        (
            "name: t\n    output:\n      subdirectory: \"..\"",
            "`.` or `..`",
        ),
    ] {
        env.write(
            "run.yaml",
            &format!("model:\n  name: ./model\nvllm:\n  provider_config: p\ntasks:\n  - {task}\n    task_name: hellaswag\n"),
        );
        refused_before_start(&env, &[], said);
    }
}

#[test]
fn served_model_names_that_are_empty_or_a_dot() {
    let env = setup();
    for (name, said) in [("/", "is empty"), ("./model/.", "is `.` or `..`")] {
        env.write(
            "run.yaml",
            &format!("model:\n  name: \"{name}\"\nvllm:\n  provider_config: p\ntasks:\n  - name: t\n    task_name: hellaswag\n"),
        );
        refused_before_start(
            &env,
            &[],
            &format!("names the served model and the results folder, and {said}"),
        );
    }
}

#[test]
fn flags_with_values_that_cannot_work() {
    let env = setup();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--server-url", "notaurl"],
            "--server-url notaurl: not a URL",
        ),
        (
            &["--server-url", "ftp://127.0.0.1/v1"],
            "a ftp: URL; only http is supported",
        ),
        (
            &["--server-url", "https://127.0.0.1/v1"],
            "a https: URL; only http is supported",
        ),
        (&["--backend", "vllm"], "`vllm` is a server backend"),
        (
            &["--limit", "1.5"],
            "--limit 1.5: a fraction must be below 1",
        ),
        (&["--limit", "0"], "--limit 0"),
        (
            &["--limit", "99999999999999999999"],
            "larger than any count",
        ),
        (
            &["--set", "temperature=~"],
            "to remove the key write temperature=null",
        ),
        (
            &["--set", "max_gen_toks=5", "--set", "max_new_tokens=10"],
            "two names of `max_new_tokens`",
        ),
        (
            &["--set", "until=[a]", "--set", "stop=[b]"],
            "two names of `stop`",
        ),
    ];
    for (extra, said) in cases {
        refused_before_start(&env, extra, said);
    }
    // the limits that can work pass the check (and the stand-in's check then fails the run)
    for limit in ["0.5", "1", "2"] {
        let run = env.run(&eval(&["--limit", limit, "--dry-run"]));
        run.expect_code(0);
    }
}

/// A run that has taken `out/r/model` and holds it in its check; the folder and the run.
fn a_run_holding_its_folder(env: &TestEnv) -> (PathBuf, Background) {
    let dir = env.path().join("out/r/model");
    let run = env.spawn(&eval(&["--server-url", "http://127.0.0.1:9/v1"]));
    assert!(
        eventually(BOUND, || benchy::store::run_lock::RunLock::holder(&dir)
            == Some(run.pid() as u32)),
        "the first run never took its folder\n{}",
        run.stderr()
    );
    (dir, run)
}

#[test]
fn a_second_run_on_a_taken_folder_is_refused_at_once_naming_the_holder() {
    let env = setup();
    let (dir, first) = a_run_holding_its_folder(&env);
    // the first run is held in its check: the second cannot be waiting for it
    let second = env
        .spawn(&eval(&["--server-url", "http://127.0.0.1:9/v1"]))
        .wait(BOUND);
    second.expect_code(2);
    assert!(
        second.stderr.contains(&format!(
            "{} is in use by another benchy run (PID {})",
            dir.display(),
            first.pid()
        )),
        "{}",
        second.stderr
    );
    std::fs::write(env.path().join("release"), "").unwrap();
    let first = first.wait(BOUND);
    first.expect_code(2);
    assert!(
        first.stderr.contains("lm-eval validate failed"),
        "{}",
        first.stderr
    );
    assert!(
        !env.path().join("out").exists(),
        "a run that did not start leaves nothing, its lock included"
    );
}

#[test]
fn a_killed_runs_lock_dies_with_it() {
    let env = setup();
    let (dir, first) = a_run_holding_its_folder(&env);
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.wait(BOUND);
    std::fs::write(env.path().join("release"), "").unwrap();
    // the lock file is still there, naming the dead run, but nobody holds it
    assert!(dir.join(".lock").exists());
    let second = env
        .spawn(&eval(&["--server-url", "http://127.0.0.1:9/v1"]))
        .wait(BOUND);
    second.expect_code(2);
    assert!(
        second.stderr.contains("lm-eval validate failed"),
        "{}",
        second.stderr
    );
    assert!(!dir.join(".lock").exists(), "the second run released it");
}
