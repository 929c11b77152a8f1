//! A command line that never panics or misleads: closed pipes change no exit code, aliases that
//! lead to aliases and `--` before a built-in are named as such, a `--plugin` file that is not
//! usable is refused by every command, completions and `--list` show only what a user can run
//! (each word as it is passed), a script's missing interpreter is named, a plugin's panic is said
//! once, and `help` knows aliases and external commands.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsFd;
use std::process::Stdio;

use crate::harness::{TestEnv, says};
use crate::workspace_builds::library;

/// `benchy args` with stdout and/or stderr going into a pipe whose reader is already gone; its
/// exit code, and stderr when it was kept.
fn with_closed_pipe(env: &TestEnv, args: &[&str], stdout: bool, stderr: bool) -> (i32, String) {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let pipe = || Stdio::from(writer.as_fd().try_clone_to_owned().unwrap());
    let mut command = env.command(args);
    command.stdout(if stdout { pipe() } else { Stdio::null() });
    command.stderr(if stderr { pipe() } else { Stdio::piped() });
    let output = command.output().unwrap();
    let kept = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), kept)
}

#[test]
fn a_closed_pipe_changes_no_exit_code_and_panics_nothing() {
    let env = TestEnv::new();
    assert_eq!(with_closed_pipe(&env, &["nosuch"], true, true).0, 2);
    assert_eq!(with_closed_pipe(&env, &["--list"], true, false).0, 0);
    // a doctor that found a problem still says so by its exit code
    env.write("plugins/libbroken.so", "not a library");
    let mut env = env;
    let dir = env.path().join("plugins");
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let (code, stderr) = with_closed_pipe(&env, &["plugins", "doctor"], true, false);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_alias_that_leads_to_an_alias_is_named_with_its_file_and_line() {
    let env = TestEnv::new();
    let file = env.write(
        "benchy.toml",
        "[alias]\nloop1 = \"loop1 -x\"\nloop2 = \"loop3\"\nloop3 = [\"loop2\"]\n",
    );
    let run = env.run(&["loop1"]);
    run.expect_code(2);
    says(
        &run.stderr,
        &format!("{}:2: alias `loop1` expands to itself", file.display()),
    );
    let run = env.run(&["loop2"]);
    run.expect_code(2);
    says(
        &run.stderr,
        &format!(
            "{}:3: alias `loop2` expands to the alias `loop3`",
            file.display()
        ),
    );
    let dashed = env.run(&["--", "eval"]);
    dashed.expect_code(2);
    says(
        &dashed.stderr,
        "`eval` is a built-in command: write `benchy eval ...`",
    );
    assert!(!dashed.stderr.contains("did you mean"), "{}", dashed.stderr);
}

#[test]
fn every_command_refuses_a_plugin_file_that_is_not_one() {
    let env = TestEnv::new();
    for command in [
        &["config", "show"][..],
        &["completions", "bash"],
        &["results"],
        &["status"],
        &["compare", "a", "b"],
        &["report"],
        &["--list"],
    ] {
        let args: Vec<&str> = ["--plugin", "missing.so"]
            .iter()
            .chain(command)
            .copied()
            .collect();
        let run = env.run(&args);
        run.expect_code(2);
        says(&run.stderr, "--plugin ");
        says(&run.stderr, "missing.so");
    }
}

#[test]
fn completions_and_the_list_show_only_what_a_user_can_run() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish"] {
        let run = env.run(&["completions", shell]);
        run.expect_code(0);
        assert!(!run.stdout.contains("__keep"), "{shell} offers __keep");
        says(&run.stdout, "eval");
    }
    let file = env.write(
        "benchy.toml",
        "[alias]\n__keep = \"eval\"\nshow = [\"config\", \"show\", \"a b\"]\n\
         quoted = 'eval --task \"a b\"'\n",
    );
    let run = env.run(&["--list"]);
    run.expect_code(0);
    says(
        &run.stderr,
        &format!("{}:2: alias `__keep` is ignored", file.display()),
    );
    assert!(!run.stdout.contains("__keep"), "{}", run.stdout);
    says(&run.stdout, "`benchy config show 'a b'`");
    says(&run.stdout, "`benchy eval --task '\"a' 'b\"'`");
}

/// Only names `benchy NAME` can run are listed, each printed so a terminal cannot act on it.
#[test]
fn external_commands_are_listed_only_when_they_can_run_and_printed_safely() {
    let mut env = TestEnv::new();
    let bin = env.path().join("bin");
    env.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    for name in [
        "benchy-",
        "benchy--x",
        "benchy---list",
        "benchy-red\x1b[31m",
        "benchy-two\nlines",
    ] {
        let path = env.write(&format!("bin/{name}"), "#!/bin/sh\necho ran\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = env.run(&["--list"]);
    run.expect_code(0);
    let external: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" external "))
        .collect();
    assert_eq!(external.len(), 2, "{}", run.stdout);
    assert!(!run.stdout.contains('\x1b'), "{:?}", run.stdout);
    says(&run.stdout, "red\\u{1b}[31m");
    says(&run.stdout, "two\\nlines");
    assert_eq!(env.run(&["two\nlines"]).expect_code(0).stdout, "ran\n");
}

#[test]
fn a_scripts_missing_interpreter_is_named_as_bad_input() {
    let mut env = TestEnv::new();
    let bin = env.path().join("bin");
    env.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    let path = env.write("bin/benchy-orphan", "#!/nonexistent/interp -x\necho ran\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = env.run(&["orphan"]);
    run.expect_code(2);
    says(
        &run.stderr,
        "its interpreter /nonexistent/interp (its #! line) does not exist",
    );
}

/// A plugin's panic is said once, in benchy's words: no panic message or backtrace of Rust's.
#[test]
fn a_plugin_panic_is_said_once() {
    let mut env = TestEnv::new();
    env.write("models/m/config.json", "{}");
    env.write("models/run.yaml", "model:\n  name: ./m\n");
    env.env("RUST_BACKTRACE", "1");
    let faulty = library("benchy_fixture_faulty");
    let run = env.explain_json(&["--plugin", faulty.to_str().unwrap(), "--source", "panic:x"]);
    run.expect_code(2);
    says(&run.stderr, "panicked: the fixture panics on purpose");
    for raw in ["panicked at", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!run.stderr.contains(raw), "{raw}:\n{}", run.stderr);
    }
}

#[test]
fn help_knows_aliases_and_external_commands() {
    let mut env = TestEnv::new();
    let bin = env.path().join("bin");
    env.env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    let path = env.write(
        "bin/benchy-nightly",
        "#!/bin/sh\n[ \"$1\" = --help ] && echo 'nightly: the lab run' && exit 0\nexit 3\n",
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = env.write("benchy.toml", "[alias]\nq = \"eval --limit 10\"\n");
    let alias = env.run(&["help", "q"]);
    alias.expect_code(0);
    says(
        &alias.stdout,
        &format!(
            "`benchy q` is an alias ({}:2): it runs `benchy eval --limit 10`",
            file.display()
        ),
    );
    says(&alias.stdout, "--server-url");
    let external = env.run(&["help", "nightly"]);
    external.expect_code(0);
    assert_eq!(external.stdout, "nightly: the lab run\n");
    env.run(&["help", "nosuch"]).expect_code(2);
}
