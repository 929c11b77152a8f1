//! `benchy completions SHELL`: each script loaded by its real shell (`make setup` installs zsh,
//! fish and elvish), which must accept it and, where the shell can be driven without a
//! terminal, complete benchy's commands and flags. PowerShell is not packaged for Debian: its
//! script is checked for its registration only.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Run, TestEnv};

/// The script for `shell`, written to the test directory.
fn script(env: &TestEnv, shell: &str) -> PathBuf {
    let run = env.run(&["completions", shell]);
    run.expect_code(0);
    assert!(!run.stdout.is_empty(), "{shell}: empty script");
    env.write(&format!("completions/{shell}"), &run.stdout)
}

/// `shell args...`, failing (never skipping) with what to run when the shell is missing.
fn shell(program: &str, args: &[&str], cwd: &Path) -> Run {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("HOME", cwd)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}; run `make setup`, which installs it"));
    Run::from(output)
}

#[test]
fn bash_registers_the_completion_and_completes_commands_and_flags() {
    let env = TestEnv::new();
    let file = script(&env, "bash");
    let probe = format!(
        "source {}\ncomplete -p benchy\n\
         COMP_WORDS=(benchy co); COMP_CWORD=1; _benchy benchy co benchy\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         COMP_WORDS=(benchy eval --out); COMP_CWORD=2; _benchy benchy --out eval\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file.display()
    );
    let run = shell("bash", &["-c", &probe], env.path());
    assert!(run.stdout.contains("-F _benchy benchy"), "{}", run.stdout);
    assert_candidates(&run);
}

/// Fails unless the shell printed, one a line (a description may follow a tab), the candidates
/// for `benchy co` (`config`, `completions`) and for `benchy eval --out` (`--output-dir`).
fn assert_candidates(run: &Run) {
    run.expect_code(0);
    let candidates: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    for expected in ["config", "completions", "--output-dir"] {
        assert!(candidates.contains(&expected), "{expected}\n{}", run.stdout);
    }
}

#[test]
fn zsh_accepts_the_script_and_compinit_registers_it() {
    let env = TestEnv::new();
    let file = script(&env, "zsh");
    let dir = env.path().join("zfunc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&file, dir.join("_benchy")).unwrap();
    shell("zsh", &["-n", file.to_str().unwrap()], env.path()).expect_code(0);
    let probe = format!(
        "fpath=({} $fpath); autoload -U compinit; compinit -u -D; print -r -- $_comps[benchy]",
        dir.display()
    );
    let run = shell("zsh", &["-f", "-c", &probe], env.path());
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), "_benchy", "{}", run.stderr);
}

#[test]
fn fish_completes_commands_and_flags() {
    let env = TestEnv::new();
    let file = script(&env, "fish");
    let probe = format!(
        "source {}; complete -C 'benchy co'; complete -C 'benchy eval --out'",
        file.display()
    );
    assert_candidates(&shell("fish", &["--no-config", "-c", &probe], env.path()));
}

/// Elvish's `edit:` module exists only in an interactive shell, so the script runs with the
/// two editor hooks it uses stood in for: its completer is stored in a map and called.
#[test]
fn elvish_runs_the_completer_and_powershell_registers_one() {
    let env = TestEnv::new();
    let file = script(&env, "elvish");
    let text = std::fs::read_to_string(&file).unwrap();
    let hooked = text
        .replace(
            "set edit:completion:arg-completer[benchy]",
            "set completers[benchy]",
        )
        .replace("edit:complex-candidate", "complex-candidate");
    assert_ne!(hooked, text, "the script registers an arg-completer");
    let probe = env.write(
        "completions/probe.elv",
        &format!(
            "var completers = [&]\nfn complex-candidate {{|text &display=''| echo $text }}\n\
             {hooked}\n$completers[benchy] benchy co\n$completers[benchy] benchy eval --out\n"
        ),
    );
    assert_candidates(&shell(
        "elvish",
        &["-norc", probe.to_str().unwrap()],
        env.path(),
    ));
    let powershell = std::fs::read_to_string(script(&env, "powershell")).unwrap();
    assert!(
        powershell.contains("Register-ArgumentCompleter -Native -CommandName 'benchy'"),
        "{powershell}"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let env = TestEnv::new();
    let run = env.run(&["completions", "tcsh"]);
    run.expect_code(2);
    assert!(run.stderr.contains("bash"), "{}", run.stderr);
}
