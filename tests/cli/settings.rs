//! Settings files as a user keeps them: a project's `benchy.toml` and its parent's, the user's
//! `~/.config/benchy/config.toml` and a site's file in `BENCHY_CONFIG`; which value wins, what
//! `config show` names, how the values reach the commands, and bad files.

use std::path::Path;

use serde_json::{Value as Json, json};

use crate::harness::{Run, TestEnv, repo_root, says};

/// `config show --format json` run in `dir`: the `settings` object.
fn show(env: &TestEnv, dir: &str) -> (Json, Json) {
    let run = env.run_in(dir, &["config", "show", "--format", "json"]);
    run.expect_code(0);
    let json = run.json();
    (json["files"].clone(), json["settings"].clone())
}

/// Four files, strongest first: the project's, its parent's, the user's, the site's.
fn nested(env: &mut TestEnv) {
    env.write("root/project/benchy.toml", "# the project\njobs = 4\n");
    env.write(
        "root/benchy.toml",
        "jobs = 2\nsources = [\"file:gen.json\"]\n\n[alias]\nq = \"config explain\"\n",
    );
    env.write(
        ".config/benchy/config.toml",
        "jobs = 3\noutput_dir = \"runs\"\n[alias]\nq = \"eval --limit 10\"\nls = [\"plugins\", \"list\"]\n",
    );
    let site = env.write(
        "site/site.toml",
        "jobs = 9\nrequire_sources = [\"hf\"]\nplugin_path = [\"plugins\"]\n\
         cache = \"read\"\ncache_dir = \"answers\"\ncache_size = \"20G\"\n\
         max_concurrent = 64\ngpus = [0, 1]\n",
    );
    env.env("BENCHY_CONFIG", site.to_str().unwrap());
}

#[test]
fn nearer_files_win_key_by_key_and_show_names_each_file_and_line() {
    let mut env = TestEnv::new();
    nested(&mut env);
    let root = env.path().canonicalize().unwrap();
    let at = |file: &str, line: usize| format!("{}:{line}", root.join(file).display());
    let (files, settings) = show(&env, "root/project");
    assert_eq!(
        files,
        json!([
            root.join("root/project/benchy.toml"),
            root.join("root/benchy.toml"),
            root.join(".config/benchy/config.toml"),
            root.join("site/site.toml"),
        ])
    );
    let expected = json!({
        "jobs": {"value": 4, "source": at("root/project/benchy.toml", 2)},
        "sources": {"value": ["file:gen.json"], "source": at("root/benchy.toml", 2)},
        "output_dir": {"value": root.join(".config/benchy/runs"), "source": at(".config/benchy/config.toml", 2)},
        "require_sources": {"value": ["hf"], "source": at("site/site.toml", 2)},
        "plugin_path": {"value": [root.join("site/plugins")], "source": at("site/site.toml", 3)},
        "cache": {"value": "read", "source": at("site/site.toml", 4)},
        "cache_dir": {"value": root.join("site/answers"), "source": at("site/site.toml", 5)},
        "cache_size": {"value": 20u64 << 30, "source": at("site/site.toml", 6)},
        "max_concurrent": {"value": 64, "source": at("site/site.toml", 7)},
        "gpus": {"value": "0,1", "source": at("site/site.toml", 8)},
        "executor.kind": {"value": "local", "source": "default"},
        "leaderboard.tasks": {"value": [], "source": "default"},
        "leaderboard.scale_100": {"value": [], "source": "default"},
        "alias.q": {"value": ["config", "explain"], "source": at("root/benchy.toml", 5)},
        "alias.ls": {"value": ["plugins", "list"], "source": at(".config/benchy/config.toml", 5)},
    });
    assert_eq!(settings, expected);

    // One folder up, the project's file no longer applies; the table names every file.
    let (_, settings) = show(&env, "root");
    assert_eq!(
        settings["jobs"],
        json!({"value": 2, "source": at("root/benchy.toml", 1)})
    );
    let table = env.run_in("root", &["config", "show"]);
    table.expect_code(0);
    for file in [
        "root/benchy.toml",
        ".config/benchy/config.toml",
        "site/site.toml",
    ] {
        let file = root.join(file).display().to_string();
        assert!(table.stdout.contains(&file), "{file}:\n{}", table.stdout);
    }
    assert!(!table.stdout.contains("project"), "{}", table.stdout);
    let output_dir = table
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("output_dir"));
    assert!(
        output_dir.is_some_and(|l| l.ends_with(&at(".config/benchy/config.toml", 2))),
        "{}",
        table.stdout
    );
}

#[test]
fn a_secret_in_env_is_shown_masked_in_columns_that_still_line_up() {
    // longer than any other value, so that its width would set the column's
    let token = "hf_settingscanary0123456789abcdefghijklmnopqrstuvwxyz";
    let (_env, run) = show_with(&format!("[env]\nHF_TOKEN = \"{token}\"\n"));
    run.expect_code(0);
    assert!(!run.stdout.contains(token), "{}", run.stdout);
    let header = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("setting"));
    let row = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("env.HF_TOKEN"));
    let (header, row) = (header.unwrap(), row.unwrap());
    assert!(row.contains(" \"***\" "), "{row}");
    // the source (the file's absolute path) starts under its header, as on every other row
    assert_eq!(row.find('/'), header.find("source"), "\n{}", run.stdout);
}

#[test]
fn without_files_show_prints_the_defaults() {
    let env = TestEnv::new();
    let (files, settings) = show(&env, ".");
    assert_eq!(files, json!([]));
    assert_eq!(
        settings["jobs"],
        json!({"value": "auto", "source": "default"})
    );
    assert_eq!(
        settings["sources"],
        json!({"value": ["hf"], "source": "default"})
    );
    assert_eq!(
        settings["output_dir"],
        json!({"value": "outputs/benchmark_outputs", "source": "default"})
    );
}

#[test]
fn a_settings_path_may_start_at_the_home_folder() {
    let env = TestEnv::new();
    env.write(
        ".config/benchy/config.toml",
        "output_dir = \"~/runs\"\nplugin_path = [\"~/plugins\"]\n",
    );
    let (_, settings) = show(&env, ".");
    let home = env.path();
    assert_eq!(settings["output_dir"]["value"], json!(home.join("runs")));
    assert_eq!(
        settings["plugin_path"]["value"],
        json!([home.join("plugins")])
    );
}

/// A run config `eval --dry-run` can plan against a server given by URL (nothing is started or
/// contacted), with a generation file for the `sources` setting.
fn dry_run_project(env: &TestEnv, settings: &str) {
    let include = repo_root().join("configs/tasks/lm-eval");
    env.write("project/benchy.toml", settings);
    env.write("project/tools/lm_eval", "#!/bin/sh\nexit 0\n");
    env.write("project/gen.json", r#"{"temperature": 0.3}"#);
    env.write("project/model/config.json", "{}");
    env.write(
        "project/run.yaml",
        &format!(
            "model:\n  name: ./model\ntasks:\n  - name: gen\n    task_name: benchy_demo_gen\n    \
             include_path: {}\n",
            include.display()
        ),
    );
    std::fs::create_dir_all(env.path().join("project/work")).unwrap();
}

const DRY_RUN: &[&str] = &[
    "eval",
    "-c",
    "../run.yaml",
    "--server-url",
    "http://127.0.0.1:9",
    "--run-id",
    "r",
    "--dry-run",
];

/// Fails unless the dry run says it would run `jobs` at once and keep the model's outputs in
/// `outputs`.
fn assert_plan(run: &Run, jobs: u16, outputs: &Path) {
    let lines = [
        format!("Jobs of a model at once: {jobs};"),
        format!("outputs: {}\n", outputs.display()),
    ];
    for line in lines {
        assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
    }
}

#[test]
fn settings_reach_the_commands_relative_to_their_file_and_flags_win() {
    let env = TestEnv::new();
    dry_run_project(
        &env,
        "output_dir = \"runs\"\njobs = 3\nsources = [\"file:gen.json\"]\n\n[env]\n\
         BENCHY_LM_EVAL = { value = \"tools/lm_eval\", relative = true }\n",
    );
    let project = env.path().canonicalize().unwrap().join("project");
    let run = env.run_in("project/work", DRY_RUN);
    run.expect_code(0);
    // `sources`: gen.json beside the settings file, not in the working directory
    assert!(run.stdout.contains("file:gen.json"), "{}", run.stdout);
    assert!(run.stdout.contains("0.3"), "{}", run.stdout);
    // `[env] BENCHY_LM_EVAL`: the lm-eval backend runs the settings' executable
    let lm_eval = project.join("tools/lm_eval");
    assert!(
        run.stdout.contains(&lm_eval.display().to_string()),
        "{}",
        run.stdout
    );
    assert_plan(&run, 3, &project.join("runs/r/model"));

    // Flags win over every setting.
    let mut args = DRY_RUN.to_vec();
    args.extend([
        "--jobs",
        "2",
        "--output-dir",
        "flagged",
        "--source",
        "file:../gen.json",
    ]);
    let run = env.run_in("project/work", &args);
    run.expect_code(0);
    assert_plan(&run, 2, &project.join("work/flagged/r/model"));
    assert!(run.stdout.contains("file:../gen.json"), "{}", run.stdout);

    // The environment wins over `[env]`, and `config show` says so.
    let mut env = env;
    env.env("BENCHY_LM_EVAL", "/nowhere/lm_eval");
    let run = env.run_in("project/work", DRY_RUN);
    run.expect_code(2);
    assert!(run.stderr.contains("/nowhere/lm_eval"), "{}", run.stderr);
    let (_, settings) = show(&env, "project/work");
    assert_eq!(
        settings["env.BENCHY_LM_EVAL"],
        json!({"value": "/nowhere/lm_eval", "source": "environment"})
    );
}

#[test]
fn required_sources_setting_stops_a_run_naming_where_it_was_set() {
    let env = TestEnv::new();
    env.write("benchy.toml", "\nrequire_sources = [\"hf\"]\n");
    env.write("models/run.yaml", "model:\n  name: org/model\n");
    // offline (the harness's default) with nothing cached: the hf source cannot answer
    let run = env.run(&["config", "explain", "-c", "models/run.yaml"]);
    run.expect_code(1);
    let place = root_file(&env, 2);
    says(
        &run.stderr,
        &format!("the `require_sources` setting, {place}"),
    );
}

#[test]
fn plugin_path_comes_after_the_environment_and_before_the_user_dir() {
    let mut env = TestEnv::new();
    env.write(
        "benchy.toml",
        "plugin_path = [\"plugins\", \"/abs/plugins\"]\n",
    );
    let from_env = env.path().join("env-plugins");
    env.env("BENCHY_PLUGIN_PATH", from_env.to_str().unwrap());
    let run = env.run(&["plugins", "list", "--format", "json"]);
    run.expect_code(0);
    let places: Vec<(String, String)> = run.json()["search_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["origin"].as_str().unwrap().to_owned(),
                d["dir"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let root = env.path().canonicalize().unwrap();
    let origins: Vec<&str> = places.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(
        origins,
        [
            "BENCHY_PLUGIN_PATH",
            "plugin_path setting",
            "plugin_path setting",
            "user plugin dir"
        ],
        "{places:?}"
    );
    assert_eq!(places[1].1, root.join("plugins").display().to_string());
    assert_eq!(places[2].1, "/abs/plugins");
}

#[test]
fn aliases_expand_and_never_shadow_a_built_in() {
    let env = TestEnv::new();
    env.write(
        "benchy.toml",
        "[alias]\nshow = \"config show --format json\"\neval = \"config show\"\n\
         ls = [\"plugins\", \"list\", \"--format\", \"json\"]\nk = \"__keep 1 2 3\"\n",
    );
    let run = env.run(&["show"]);
    run.expect_code(0);
    assert_eq!(
        run.json()["settings"]["alias.show"]["value"],
        json!(["config", "show", "--format", "json"])
    );
    // words after the alias follow its own
    let run = env.run(&["ls"]);
    run.expect_code(0);
    assert!(run.json()["search_path"].is_array(), "{}", run.stdout);
    // benchy's own hidden helper is no command an alias can reach
    let run = env.run(&["k"]);
    run.expect_code(2);
    says(&run.stderr, "`__keep` is benchy's own helper");

    // `eval` stays the built-in (which wants its run config), with a warning naming the
    // alias's file and line
    let run = env.run(&["eval", "-c", "missing.yaml"]);
    run.expect_code(2);
    assert!(run.stderr.contains("missing.yaml"), "{}", run.stderr);
    assert!(!run.stdout.contains("Settings files"), "{}", run.stdout);
    says(
        &run.stderr,
        &format!("{}: alias `eval` is ignored", root_file(&env, 3)),
    );
    let list = env.run(&["--list"]);
    list.expect_code(0);
    let alias_rows: Vec<&str> = list
        .stdout
        .lines()
        .filter(|l| l.contains(" alias "))
        .collect();
    assert_eq!(alias_rows.len(), 3, "{}", list.stdout);
    assert!(
        alias_rows
            .iter()
            .any(|l| l.trim_start().starts_with("show")),
        "{}",
        list.stdout
    );
    assert!(
        !alias_rows
            .iter()
            .any(|l| l.trim_start().starts_with("eval")),
        "{}",
        list.stdout
    );
}

/// `<test root>/benchy.toml:LINE`, as messages name a line of the test's settings file.
fn root_file(env: &TestEnv, line: usize) -> String {
    let file = env.path().canonicalize().unwrap().join("benchy.toml");
    format!("{}:{line}", file.display())
}

/// The settings file `text` at the test's root, then `config show`.
fn show_with(text: &str) -> (TestEnv, Run) {
    let env = TestEnv::new();
    env.write("benchy.toml", text);
    let run = env.run(&["config", "show"]);
    (env, run)
}

#[test]
fn a_bad_value_exits_2_naming_file_line_and_key() {
    for (text, line, key) in [
        ("# jobs\n\njobs = \"four\"\n", 3, "`jobs`"),
        ("jobs = 0\n", 1, "`jobs`"),
        ("sources = \"hf\"\n", 1, "`sources`"),
        ("output_dir = 5\n", 1, "`output_dir`"),
        ("cache = \"sometimes\"\n", 1, "`cache`"),
        ("cache_size = \"lots\"\n", 1, "`cache_size`"),
        ("cache_dir = []\n", 1, "`cache_dir`"),
        ("\n[alias]\nq = 5\n", 3, "`alias.q`"),
        ("[alias]\nq = \"\"\n", 2, "`alias.q`"),
        ("[executor]\nkind = \"pbs\"\n", 2, "`executor.kind`"),
        (
            "[executor]\nmax_parallel = 0\n",
            2,
            "`executor.max_parallel`",
        ),
        (
            "[executor]\npartition = \"a b\"\n",
            2,
            "`executor.partition`",
        ),
        ("[env]\nX = { relative = true }\n", 2, "`env.X`"),
        ("alias = 3\n", 1, "`alias`"),
    ] {
        let (env, run) = show_with(text);
        run.expect_code(2);
        says(
            &run.stderr,
            &format!("{}: setting {key}", root_file(&env, line)),
        );
    }
}

#[test]
fn invalid_toml_and_a_missing_site_file_exit_2_naming_them() {
    let (env, run) = show_with("jobs = 2\njobs = 3\n");
    run.expect_code(2);
    says(
        &run.stderr,
        &format!("{}: not valid TOML", root_file(&env, 2)),
    );

    let mut env = TestEnv::new();
    env.env("BENCHY_CONFIG", "/nowhere/site.toml");
    let run = env.run(&["config", "show"]);
    run.expect_code(2);
    assert!(run.stderr.contains("/nowhere/site.toml"), "{}", run.stderr);
}

#[test]
fn an_unknown_key_is_a_warning_naming_file_and_line() {
    let (env, run) = show_with("jobs = 2\njob = 4\n");
    run.expect_code(0);
    says(
        &run.stderr,
        &format!(
            "warning: {}: unknown setting `job`, ignored (did you mean `jobs`?)",
            root_file(&env, 2)
        ),
    );
    assert!(run.stdout.contains("jobs"), "{}", run.stdout);
    // In [executor] it is an error: a mistyped `partiton` would send jobs elsewhere.
    let (env, run) = show_with("[executor]\nkynd = \"local\"\n");
    run.expect_code(2);
    says(
        &run.stderr,
        &format!(
            "{}: unknown setting `executor.kynd` (did you mean `executor.kind`?)",
            root_file(&env, 2)
        ),
    );
}
