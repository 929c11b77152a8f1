//! External subcommands as a user installs them: a shell script `benchy-NAME` in a folder on
//! PATH (or in $BENCHY_HOME/bin) becomes `benchy NAME`, with its arguments, stdin, stdout,
//! stderr, exit code and signals passed through and `BENCHY` set; it is listed, suggested on a
//! typo, and cannot replace a built-in.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::harness::{Run, TestEnv};

/// Writes an executable script `relative` under the test directory.
fn script(env: &TestEnv, relative: &str, body: &str) {
    let path = env.write(relative, &format!("#!/bin/sh\n{body}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A test env whose PATH starts with its own `bin` folder.
fn with_bin() -> TestEnv {
    let mut env = TestEnv::new();
    let path = std::env::var("PATH").unwrap_or_default();
    let bin = env.path().join("bin");
    env.env("PATH", &format!("{}:{path}", bin.display()));
    env.env("BENCHY_HOME", env.path().join("home").to_str().unwrap());
    env
}

const ECHO: &str = r#"printf 'argc=%s\n' "$#"
for a in "$@"; do printf 'arg=%s\n' "$a"; done
printf 'pid=%s\n' "$$"
printf 'benchy=%s\n' "$BENCHY"
read line; printf 'stdin=%s\n' "$line"
echo "to stderr" >&2
exit 7
"#;

#[test]
fn an_external_command_gets_arguments_stdio_and_benchy_and_its_exit_code_is_benchys() {
    let env = with_bin();
    script(&env, "bin/benchy-hello", ECHO);
    let mut child = env
        .command(&["hello", "a b", "--flag", "-c", "x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped line\n")
        .unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    run.expect_code(7);
    let benchy = std::fs::canonicalize(env!("CARGO_BIN_EXE_benchy")).unwrap();
    let expected = format!(
        "argc=4\narg=a b\narg=--flag\narg=-c\narg=x\npid={pid}\nbenchy={}\nstdin=piped line\n",
        benchy.display()
    );
    // the same process id: benchy became the command (exec), nothing stands in between
    assert_eq!(run.stdout, expected);
    assert_eq!(run.stderr, "to stderr\n");
}

#[test]
fn a_signal_that_ends_the_command_is_what_the_caller_sees() {
    let env = with_bin();
    script(&env, "bin/benchy-die", "kill -TERM $$\n");
    let status = env.command(&["die"]).status().unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");
}

#[test]
fn path_comes_before_benchy_home_and_both_are_listed() {
    let env = with_bin();
    script(&env, "bin/benchy-both", "echo from-path\n");
    script(&env, "home/bin/benchy-both", "echo from-home\n");
    script(&env, "home/bin/benchy-site-sync", "echo synced \"$1\"\n");
    env.write("bin/benchy-not-executable", "echo never\n");
    let run = env.run(&["both"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "from-path\n");
    let run = env.run(&["site-sync", "now"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "synced now\n");

    let list = env.run(&["--list"]);
    list.expect_code(0);
    let row = |name: &str| {
        list.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{}", list.stdout))
            .to_owned()
    };
    let both = env.path().join("bin/benchy-both");
    assert!(row("both").contains("external") && row("both").contains(&both.display().to_string()));
    assert!(row("site-sync").contains("external"), "{}", list.stdout);
    assert!(row("eval").contains("built-in") && row("eval").contains("Evaluate the model"));
    for builtin in ["config", "serve", "plugins", "completions", "help"] {
        assert!(row(builtin).contains("built-in"), "{}", list.stdout);
    }
    assert!(!list.stdout.contains("not-executable"), "{}", list.stdout);
    assert!(!list.stdout.contains("__keep"), "{}", list.stdout);
}

#[test]
fn a_typo_suggests_the_nearest_command_built_in_or_external() {
    let env = with_bin();
    script(&env, "bin/benchy-hello", "echo hi\n");
    for (typo, nearest) in [("helo", "hello"), ("evaluate", "eval"), ("confg", "config")] {
        let run = env.run(&[typo]);
        run.expect_code(2);
        let expected = format!("no such command: `{typo}`; did you mean `{nearest}`?");
        assert!(run.stderr.contains(&expected), "{expected}\n{}", run.stderr);
    }
    let run = env.run(&["zzzzzz"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no such command: `zzzzzz`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
    // a name is one file name: nothing outside the search folders runs
    script(&env, "bin/benchy-x/y", "echo escaped\n");
    env.run(&["x/y"]).expect_code(2);
}

#[test]
fn a_built_in_cannot_be_replaced() {
    let env = with_bin();
    script(&env, "bin/benchy-eval", "echo replaced\n");
    let run = env.run(&["eval", "--help"]);
    run.expect_code(0);
    assert!(!run.stdout.contains("replaced"), "{}", run.stdout);
    assert!(run.stdout.contains("--server-url"), "{}", run.stdout);
    let list = env.run(&["--list"]);
    assert!(!list.stdout.contains("benchy-eval"), "{}", list.stdout);
}

#[test]
fn an_alias_comes_before_an_external_command_of_its_name() {
    let env = with_bin();
    script(&env, "bin/benchy-q", "echo external\n");
    env.write(
        "benchy.toml",
        "[alias]\nq = \"config show --format json\"\n",
    );
    let run = env.run(&["q"]);
    run.expect_code(0);
    assert!(
        run.json()["settings"]["alias.q"].is_object(),
        "{}",
        run.stdout
    );
}
