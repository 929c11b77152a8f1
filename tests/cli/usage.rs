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

/// A global option before the command, in every form clap takes, reaches built-in commands and
/// aliases alike; `--list` with a command, and `--plugin` before an external program, are named.
#[test]
fn global_options_before_the_command_take_every_form() {
    let env = TestEnv::new();
    let smoke = crate::workspace_builds::library("benchy_smoke");
    let smoke = smoke.to_str().unwrap();
    let with_equals = format!("--plugin={smoke}");
    for args in [
        vec!["--plugin", smoke, "plugins", "list", "--format", "json"],
        vec![with_equals.as_str(), "plugins", "list", "--format", "json"],
        vec![
            "--plugin",
            smoke,
            &with_equals,
            "plugins",
            "list",
            "--format",
            "json",
        ],
        vec!["--plugin", smoke, "pl", "--format", "json"],
    ] {
        env.write("benchy.toml", "[alias]\npl = \"plugins list\"\n");
        let run = env.run(&args);
        run.expect_code(0);
        let listed = run.json();
        let flagged: Vec<&str> = listed["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["origin"] == "--plugin")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(flagged, ["benchy-smoke"], "{args:?}: {}", run.stdout);
    }
    let listed = env.run(&["--list", "eval"]);
    listed.expect_code(2);
    assert!(
        listed
            .stderr
            .contains("--list lists every command and takes none"),
        "{}",
        listed.stderr
    );
    env.run(&["--plugin", smoke, "--list"]).expect_code(0);
    env.write("bin/benchy-hello", "#!/bin/sh\necho hello\n");
    std::fs::set_permissions(
        env.path().join("bin/benchy-hello"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut env = env;
    let home = env.path().to_str().unwrap().to_owned();
    env.env("BENCHY_HOME", &home);
    let external = env.run(&["--plugin", smoke, "hello"]);
    external.expect_code(2);
    assert!(
        external.stderr.contains("--plugin before `hello`") && external.stdout.is_empty(),
        "{}",
        external.stderr
    );
    assert_eq!(env.run(&["hello"]).expect_code(0).stdout, "hello\n");
}
