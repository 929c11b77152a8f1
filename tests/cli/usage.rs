//! The command line itself: version, help that teaches, and usage errors as exit code 2.

use crate::harness::TestEnv;

#[test]
fn version_and_help() {
    let env = TestEnv::new();
    let version = env.run(&["--version"]);
    version.expect_code(0);
    assert_eq!(
        version.stdout.trim(),
        format!("benchy {}", env!("CARGO_PKG_VERSION"))
    );
    let help = env.run(&["help"]);
    help.expect_code(0);
    for command in ["config", "eval", "serve", "plugins"] {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "`benchy help` lists {command}:\n{}",
            help.stdout
        );
    }
    assert!(help.stdout.contains("Exit codes"), "{}", help.stdout);
    let eval_help = env.run(&["help", "eval"]);
    eval_help.expect_code(0);
    for needle in [
        "--server-url",
        "--dry-run",
        "--jobs",
        "run.json",
        "BENCHY_LM_EVAL",
    ] {
        assert!(
            eval_help.stdout.contains(needle),
            "{needle}:\n{}",
            eval_help.stdout
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    env.run(&[]).expect_code(2);
    env.run(&["evaluate"]).expect_code(2);
    let run = env.run(&["eval", "-c", "x.yaml", "--jobs", "0"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--jobs"), "{}", run.stderr);
}
