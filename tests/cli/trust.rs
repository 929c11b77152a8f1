//! Settings files trusted only as far as their owner: another user's `benchy.toml` above the
//! working folder is refused (as root, with the file given to uid 65534, as the provider tests
//! do), a file of yours others can write is used with a warning, `[env]` never sets the
//! loader's variables, `BENCHY_HOME` is absolute or unset, a settings link that leads nowhere is
//! refused, and no setting's secret is shown anywhere.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{TestEnv, says};

/// Gives `path` to uid 65534 (nobody); needs root.
fn give_away(path: &Path) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test gives files to uid 65534 (another user), which needs root: run the tests as \
         root"
    );
    std::os::unix::fs::lchown(path, Some(65534), Some(65534)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The probe: a shared folder anyone can write (`x`, mode 1777, another user's) holds
/// another user's `benchy.toml` naming their own lm-eval; `eval --check` in `x/proj` must refuse
/// the file (naming it, its owner and its mode) and run nothing of theirs.
#[test]
fn another_users_settings_file_above_is_refused_and_runs_nothing() {
    let env = TestEnv::new();
    let fake = env.write(
        "x/fake_lm_eval",
        "#!/bin/sh\ntouch \"$(dirname \"$0\")/pwned\"\n",
    );
    chmod(&fake, 0o755);
    let settings = env.write(
        "x/benchy.toml",
        &format!("[env]\nBENCHY_LM_EVAL = \"{}\"\n", fake.display()),
    );
    env.write("x/proj/model/config.json", "{}");
    env.write(
        "x/proj/run.yaml",
        "model:\n  name: ./model\ntasks:\n  - name: t\n    task_name: t\n",
    );
    for mode in [0o644, 0o666] {
        chmod(&settings, mode);
        give_away(&settings);
        give_away(&env.path().join("x"));
        chmod(&env.path().join("x"), 0o1777);
        let run = env.run_in("x/proj", &["eval", "-c", "run.yaml", "--check"]);
        run.expect_code(2);
        says(
            &run.stderr,
            &format!("settings file {}: refused", settings.display()),
        );
        says(
            &run.stderr,
            &format!("owned by uid 65534 (nobody) (mode {mode:04o})"),
        );
        assert!(!env.path().join("x/pwned").exists(), "their program ran");
        let shown = env.run_in("x/proj", &["config", "show"]);
        shown.expect_code(2);
        says(&shown.stderr, "refused");
    }
    // the same file, yours (and its folder), is read
    std::os::unix::fs::lchown(&settings, Some(0), Some(0)).unwrap();
    std::os::unix::fs::lchown(env.path().join("x"), Some(0), Some(0)).unwrap();
    chmod(&settings, 0o644);
    let shown = env.run_in("x/proj", &["config", "show", "--format", "json"]);
    shown.expect_code(0);
    assert_eq!(
        shown.json()["settings"]["env.BENCHY_LM_EVAL"]["value"],
        fake.to_str().unwrap()
    );
}

#[test]
fn a_settings_file_of_yours_others_can_write_is_used_with_a_warning() {
    let env = TestEnv::new();
    let file = env.write("benchy.toml", "jobs = 3\n");
    chmod(&file, 0o666);
    let run = env.run(&["config", "show", "--format", "json"]);
    run.expect_code(0);
    says(
        &run.stderr,
        &format!(
            "warning: settings file {0}: {0} is yours but writable by everyone",
            file.display()
        ),
    );
    says(&run.stderr, &format!("chmod o-w {}", file.display()));
    assert_eq!(run.json()["settings"]["jobs"]["value"], 3);
}

/// The upward search stops where provider lookup stops: a repository's root, a folder holding
/// `configs/`, or home.
#[test]
fn the_search_for_benchy_toml_stops_at_a_repositorys_root() {
    let env = TestEnv::new();
    env.write("outer/benchy.toml", "jobs = 7\n");
    env.write("outer/repo/.git/HEAD", "ref: refs/heads/main\n");
    std::fs::create_dir_all(env.path().join("outer/repo/sub")).unwrap();
    let run = env.run_in("outer/repo/sub", &["config", "show", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["settings"]["jobs"]["source"], "default");
    let above = env.run_in("outer", &["config", "show", "--format", "json"]);
    assert_eq!(above.json()["settings"]["jobs"]["value"], 7);
}

#[test]
fn env_never_sets_the_loaders_variables_or_a_nameless_one() {
    let env = TestEnv::new();
    for (text, line, key) in [
        (
            "jobs = 2\n[env]\nLD_PRELOAD = \"/tmp/evil.so\"\n",
            3,
            "env.LD_PRELOAD",
        ),
        (
            "[env]\nOK = \"1\"\nLD_LIBRARY_PATH = \"/tmp\"\n",
            3,
            "env.LD_LIBRARY_PATH",
        ),
        ("[env]\nLD_AUDIT = \"/tmp/a.so\"\n", 2, "env.LD_AUDIT"),
        ("[env]\nGCONV_PATH = \"/tmp\"\n", 2, "env.GCONV_PATH"),
        ("[env]\n\"\" = \"x\"\n", 2, "env."),
    ] {
        let file = env.write("benchy.toml", text);
        let run = env.run(&["--list"]);
        run.expect_code(2);
        says(
            &run.stderr,
            &format!("{}:{line}: setting `{key}`", file.display()),
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

/// An empty `BENCHY_HOME` is unset; a relative one would make `./bin/benchy-NAME` a command.
#[test]
fn benchy_home_is_absolute_or_unset() {
    let mut env = TestEnv::new();
    let script = env.write("bin/benchy-here", "#!/bin/sh\necho ran\n");
    chmod(&script, 0o755);
    env.env("BENCHY_HOME", "");
    let run = env.run(&["--list"]);
    run.expect_code(0);
    assert!(
        !run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("here ")),
        "{}",
        run.stdout
    );
    env.run(&["here"]).expect_code(2);
    for relative in [".", "home"] {
        let mut env = TestEnv::new();
        env.env("BENCHY_HOME", relative);
        let run = env.run(&["--list"]);
        run.expect_code(2);
        says(
            &run.stderr,
            &format!("BENCHY_HOME={relative}: not an absolute path"),
        );
    }
}

#[test]
fn a_settings_link_that_leads_nowhere_is_refused_as_a_folder_is() {
    let env = TestEnv::new();
    std::os::unix::fs::symlink(
        env.path().join("missing.toml"),
        env.path().join("benchy.toml"),
    )
    .unwrap();
    let run = env.run(&["config", "show"]);
    run.expect_code(2);
    says(&run.stderr, "benchy.toml");
    std::fs::remove_file(env.path().join("benchy.toml")).unwrap();
    std::os::unix::fs::symlink("benchy.toml", env.path().join("benchy.toml")).unwrap();
    let looping = env.run(&["config", "show"]);
    looping.expect_code(2);
    says(&looping.stderr, "benchy.toml");
}

/// Canaries in every kind of setting that can hold one: none is shown by `--list`, `config
/// show` (table and JSON), `help ALIAS`, an alias's run, or an error about the file.
#[test]
fn no_setting_shows_its_secret_anywhere() {
    const CANARIES: [&str; 4] = [
        "alias-pw-canary",
        "env-token-canary",
        "sources-pw-canary",
        "set-key-canary",
    ];
    let env = TestEnv::new();
    env.write(
        "benchy.toml",
        "sources = [\"yaml:https://u:sources-pw-canary@example.org/g.yaml\"]\n\n[alias]\n\
         up = \"eval --server-url http://user:alias-pw-canary@127.0.0.1:9/v1 -c run.yaml\"\n\
         key = [\"config\", \"explain\", \"--set\", \"api_key=set-key-canary\"]\n\n\
         [env]\nMY_TOKEN = \"env-token-canary\"\n",
    );
    let check = |args: &[&str]| {
        let run = env.run(args);
        for canary in CANARIES {
            assert!(
                !run.stdout.contains(canary) && !run.stderr.contains(canary),
                "{args:?} shows {canary}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        run
    };
    says(&check(&["--list"]).stdout, "http://user:***@127.0.0.1:9/v1");
    says(&check(&["config", "show"]).stdout, "***");
    check(&["config", "show", "--format", "json"]).expect_code(0);
    says(&check(&["help", "up"]).stdout, "`benchy up` is an alias");
    check(&["up"]).expect_code(2);
    // a setting refused for its secret does not repeat it
    for (text, canary) in [
        (
            "[executor]\nsetup = [\"export OPENAI_API_KEY=sk-setup-canary\"]\n",
            "sk-setup-canary",
        ),
        (
            "[executor]\nsbatch = [\"--comment=https://u:sbatch-pw-canary@x\"]\n",
            "sbatch-pw-canary",
        ),
        (
            "[executor]\nsetup = [\"export HF_ENDPOINT=https://u:setup-pw-canary@x\"]\n",
            "setup-pw-canary",
        ),
    ] {
        env.write("benchy.toml", text);
        let run = env.run(&["config", "show"]);
        run.expect_code(2);
        assert!(!run.stderr.contains(canary), "{}", run.stderr);
        says(&run.stderr, "benchy.toml:2: setting `executor.");
    }
}
