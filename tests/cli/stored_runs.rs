//! `benchy results`, `compare` and `report` on run folders written by hand (benchy-testkit's
//! `runs`): runs that failed, were interrupted or never started show as such; a half-written
//! file is named and the rest shown; a suite's `suite.json` adds its pending models; the overall
//! score follows the Python tool's `leaderboard:` block, the settings and the flags; bad input
//! exits 2 naming what is wrong.

use benchy_testkit::runs::{SyntheticRun, TaskOutcome, write_grid, write_run};
use serde_json::{Value as Json, json};

use crate::harness::{TestEnv, repo_root};

fn run(run_id: &str, model: &str, status: &str, tasks: &[(&str, Option<f64>)]) -> SyntheticRun {
    SyntheticRun {
        run_id: run_id.into(),
        model: format!("org/{model}"),
        status: status.into(),
        started_at: format!("2025-01-01T00:00:0{}Z", &run_id[1..]),
        temperature: 0.7,
        tasks: tasks
            .iter()
            .map(|(name, value)| TaskOutcome::new(name, *value, value.map(|_| 0.05)))
            .collect(),
        failed_tasks: Vec::new(),
    }
}

/// `suite.json` as benchy writes it, started when [`run`]'s runs of `run_id` did.
fn suite_json(run_id: &str, models: &[Json]) -> Json {
    let started_at = format!("2025-01-01T00:00:0{}Z", &run_id[1..]);
    json!({"run_id": run_id, "status": "running", "started_at": started_at,
           "finished_at": null, "models": models})
}

/// One model of `suite.json` as benchy writes it: the full model name, the absolute folder.
fn suite_model(model: &str, folder: &std::path::Path, status: &str, tasks: Json) -> Json {
    json!({"model": model, "config": "models/m.yaml", "folder": folder, "status": status,
           "started_at": null, "finished_at": null, "failures": [], "tasks": tasks})
}

/// The JSON record of the row whose model is `name`.
fn record<'a>(records: &'a Json, name: &str) -> &'a Json {
    records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model_name"] == name)
        .unwrap_or_else(|| panic!("no row {name}: {records:#}"))
}

#[test]
fn failed_interrupted_and_pending_runs_show_as_such_and_a_broken_file_is_named() {
    let env = TestEnv::new();
    let out = env.path().join("out");
    write_run(
        &out,
        &run(
            "r1",
            "alpha",
            "ok",
            &[("gen", Some(0.5)), ("mc", Some(0.6))],
        ),
    );
    let mut beta = run("r2", "beta", "failed", &[("gen", Some(0.3)), ("mc", None)]);
    beta.failed_tasks = vec!["mc".into()];
    write_run(&out, &beta);
    write_run(
        &out,
        &run("r3", "gamma", "interrupted", &[("gen", None), ("mc", None)]),
    );
    let delta = write_run(&out, &run("r4", "delta", "ok", &[("gen", Some(0.9))]));
    // a crash mid-write of a file benchy writes atomically, or a hand edit
    let results = delta.join("results.json");
    let text = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, &text[..text.len() / 2]).unwrap();
    // a suite of two models: one ran, one is still waiting
    let eps = write_run(&out, &run("r5", "eps", "ok", &[("gen", Some(0.1))]));
    let suite = suite_json(
        "r5",
        &[
            suite_model("org/eps", &eps, "ok", json!({"gen": "done"})),
            suite_model(
                "org/zeta",
                &out.join("r5/zeta"),
                "pending",
                json!({"gen": "not run", "mc": "not run"}),
            ),
        ],
    );
    std::fs::write(out.join("r5/suite.json"), suite.to_string()).unwrap();
    // interrupted before results.json was written: a finished task's completion record stands
    let eta = write_run(
        &out,
        &run("r6", "eta", "interrupted", &[("gen", None), ("mc", None)]),
    );
    std::fs::remove_file(eta.join("results.json")).unwrap();
    let completion = json!({"task": "gen", "status": "ok", "fingerprint": "f",
        "results": {"gen": {"acc,none": {"value": 0.42, "stderr": 0.01}}}});
    std::fs::create_dir_all(eta.join("gen")).unwrap();
    std::fs::write(eta.join("gen/completion.json"), completion.to_string()).unwrap();

    let table = env.run(&["results", "out"]);
    table.expect_code(0);
    assert!(
        table
            .stderr
            .contains("warning: out/r4/delta/results.json: not readable as JSON"),
        "{}",
        table.stderr
    );
    let row = |model: &str| -> String {
        table
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(model))
            .unwrap_or_else(|| panic!("no row {model}:\n{}", table.stdout))
            .to_owned()
    };
    assert!(row("beta").contains("0.3000 ± 0.0500") && row("beta").contains("r2 (failed)"));
    assert!(
        row("gamma").matches("interrupted").count() >= 3,
        "{}",
        row("gamma")
    );
    assert!(row("delta").contains("no results"), "{}", row("delta"));
    assert!(
        row("zeta").contains("not run") && row("zeta").contains("pending"),
        "{}",
        row("zeta")
    );

    let records = env.run(&["results", "out", "--format", "json"]).json();
    assert_eq!(record(&records, "beta")["mc_state"], "failed");
    assert_eq!(record(&records, "beta")["gen_score"], json!(0.3));
    assert_eq!(record(&records, "gamma")["gen_state"], "interrupted");
    assert_eq!(record(&records, "zeta")["status"], "pending");
    assert_eq!(record(&records, "alpha")["overall_score"], json!(0.55));
    assert_eq!(record(&records, "eta")["gen_score"], json!(0.42));
    assert_eq!(record(&records, "eta")["gen_state"], "done");
    assert_eq!(record(&records, "eta")["mc_state"], "interrupted");
    assert_eq!(records.as_array().unwrap().len(), 7, "no run dropped");
}

#[test]
fn a_pending_model_of_a_suite_shares_the_row_of_its_earlier_run() {
    let env = TestEnv::new();
    let out = env.path().join("out");
    write_run(&out, &run("r1", "zeta", "ok", &[("gen", Some(0.5))]));
    let eps = write_run(&out, &run("r2", "eps", "ok", &[("gen", Some(0.1))]));
    let suite = suite_json(
        "r2",
        &[
            suite_model("org/eps", &eps, "ok", json!({"gen": "done"})),
            suite_model(
                "org/zeta",
                &out.join("r2/zeta"),
                "pending",
                json!({"gen": "pending"}),
            ),
        ],
    );
    std::fs::write(out.join("r2/suite.json"), suite.to_string()).unwrap();

    let records = env.run(&["results", "out", "--format", "json"]).json();
    let zeta: Vec<&Json> = records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["model_name"] == "zeta")
        .collect();
    assert_eq!(zeta.len(), 1, "one row for zeta: {records:#}");
    assert_eq!(zeta[0]["full_model_name"], "org/zeta");
    assert_eq!(zeta[0]["runs"], json!(["r2", "r1"]), "newest first");
    assert_eq!(zeta[0]["status"], "pending");
    assert_eq!(zeta[0]["gen_score"], json!(0.5), "the finished run's value");
}

#[test]
fn runs_with_one_setup_share_a_row_and_the_report_charts_every_task() {
    let env = TestEnv::new();
    write_grid(&env.path().join("out"), 3, 2, 2);
    let records = env.run(&["results", "out", "--format", "json"]).json();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(
        records[0]["runs"],
        json!(["20250101_120000", "20250100_120000"]),
        "newest first"
    );
    let markdown = env.run(&["results", "out", "--format", "markdown"]);
    assert!(
        markdown
            .stdout
            .starts_with("| model | overall | task0 (acc,none) |"),
        "{}",
        markdown.stdout
    );

    env.run(&["report", "out"]).expect_code(0);
    let html = std::fs::read_to_string(env.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 2, "a chart per task");
    assert!(html.contains("model-00"), "{html}");
}

#[test]
fn the_overall_score_follows_the_python_config_the_settings_and_the_flags() {
    let env = TestEnv::new();
    write_run(
        &env.path().join("out"),
        &run(
            "r1",
            "alpha",
            "ok",
            &[
                ("latam_es", Some(0.6)),
                ("translation", Some(40.0)),
                ("other", Some(0.1)),
            ],
        ),
    );
    let python = repo_root().join("tests/corpus/reference/benchy-py-configs/config.yaml");
    let python = python.to_str().unwrap();
    let overall = |extra: &[&str]| -> Json {
        let mut args = vec!["results", "out", "--format", "json"];
        args.extend_from_slice(extra);
        let run = env.run(&args);
        run.expect_code(0);
        run.json()[0].clone()
    };
    // latam_es and translation (40 chrF = 0.4) count; latam_pr has no run
    let from_file = overall(&["--leaderboard", python]);
    assert_eq!(from_file["overall_score"], json!(0.5));
    assert_eq!(from_file["overall_missing"], json!(["latam_pr"]));
    assert_eq!(from_file["translation_score"], json!(0.4));
    assert_eq!(
        overall(&[])["overall_score"],
        json!((0.6 + 40.0 + 0.1) / 3.0),
        "every task, unscaled"
    );

    env.write(
        "benchy.toml",
        "[leaderboard]\ntasks = [\"other\", \"latam_es\"]\nscale_100 = [\"translation\"]\n",
    );
    assert_eq!(overall(&[])["overall_score"], json!(0.35));
    // the file's block wins over the settings, a flag over both
    assert_eq!(
        overall(&["--leaderboard", python])["overall_score"],
        json!(0.5)
    );
    assert_eq!(
        overall(&["--leaderboard", python, "--overall-task", "other"])["overall_score"],
        json!(0.1)
    );
    let shown = env.run(&["config", "show", "--format", "json"]).json();
    assert_eq!(
        shown["settings"]["leaderboard.tasks"]["value"],
        json!(["other", "latam_es"])
    );

    let table = env.run(&["results", "out"]);
    assert!(
        table
            .stdout
            .contains("overall: the mean of other, latam_es (translation divided by 100)"),
        "{}",
        table.stdout
    );
}

#[test]
fn bad_input_exits_2_naming_the_file_line_or_flag() {
    let env = TestEnv::new();
    write_run(
        &env.path().join("out"),
        &run("r1", "alpha", "ok", &[("gen", Some(0.5))]),
    );
    write_run(
        &env.path().join("out"),
        &run("r1", "beta", "ok", &[("gen", Some(0.4))]),
    );
    let cases: &[(&[&str], &str)] = &[
        (&["results", "nowhere"], "nowhere: no such folder"),
        (&["results", "--leaderboard", "py.yaml", "out"], "py.yaml:3"),
        (
            &["results", "--leaderboard", "none.yaml", "out"],
            "none.yaml",
        ),
        (
            &["compare", "r1", "r1", "--output-dir", "out"],
            "choose one with --model",
        ),
        (
            &["compare", "r1", "r1", "--output-dir", "out", "--model", "x"],
            "no model `x`",
        ),
        (
            &["compare", "r9", "r1", "--output-dir", "out"],
            "r9: neither a run folder nor a run id",
        ),
        (
            &[
                "compare",
                "out/r1/alpha",
                "out/r1/beta",
                "--fail-on-regression",
                "acc",
            ],
            "METRIC=DELTA",
        ),
        (&["results", "--format", "yaml"], "--format"),
    ];
    env.write(
        "py.yaml",
        "leaderboard:\n  overall_score_categories: [gen]\n  normalise_scores: [gen]\n",
    );
    for (args, expected) in cases {
        let run = env.run(args);
        run.expect_code(2);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    // two models of one run id compared by folder are fine
    env.run(&["compare", "out/r1/alpha", "out/r1/beta"])
        .expect_code(0);
    env.write("benchy.toml", "[leaderboard]\ntasks = \"gen\"\n");
    let run = env.run(&["results", "out"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("benchy.toml:2: setting `leaderboard.tasks`"),
        "{}",
        run.stderr
    );
}

/// A record that says it runs while nothing holds its folder was killed: it reads as
/// interrupted, and as running only while a run holds the folder.
#[test]
fn a_run_that_says_it_runs_while_nothing_holds_its_folder_reads_as_interrupted() {
    let env = TestEnv::new();
    let out = env.path().join("out");
    let dir = write_run(
        &out,
        &run("r1", "m", "running", &[("a", Some(0.5)), ("b", None)]),
    );
    let results = env.run(&["results", "out", "--format", "json"]);
    results.expect_code(0);
    let row = &results.json()[0];
    assert_eq!(row["status"], "interrupted", "{row:#}");
    assert_eq!(row["b_state"], "interrupted", "{row:#}");
    let status = env.run(&["status", "r1", "--output-dir", "out"]);
    status.expect_code(0);
    assert!(!status.stdout.contains("running"), "{}", status.stdout);
    // a run holding the folder is running
    let held = benchy::store::run_lock::RunLock::acquire(&dir).unwrap();
    let results = env.run(&["results", "out", "--format", "json"]);
    assert_eq!(results.json()[0]["status"], "running");
    drop(held);
}

/// `status` without a run id takes the newest folder that holds a run, naming each newer one
/// it skipped (a folder a run killed during its checks left with only its lock).
#[test]
fn status_takes_the_newest_folder_that_holds_a_run() {
    let env = TestEnv::new();
    let out = env.path().join("out");
    write_run(&out, &run("r1", "m", "ok", &[("a", Some(0.5))]));
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.write("out/r2/m/.lock", "12345\n");
    let status = env.run(&["status", "--output-dir", "out"]);
    status.expect_code(0);
    assert!(
        status.stderr.contains("out/r2 holds no run; skipped"),
        "{}",
        status.stderr
    );
    assert!(status.stdout.contains("/out/r1"), "{}", status.stdout);
}

/// A metric A has and B lacks (B's task failed) is a regression for the gate, with a line of
/// its own, unless `--allow-missing`; a run A never made of a model is no run to compare.
#[test]
fn the_gate_counts_a_missing_metric_and_compare_needs_a_run_on_both_sides() {
    let env = TestEnv::new();
    let out = env.path().join("out");
    write_run(
        &out,
        &run("r1", "m", "ok", &[("a", Some(0.5)), ("b", Some(0.3333))]),
    );
    let mut failed = run("r2", "m", "failed", &[("a", Some(0.5)), ("b", None)]);
    failed.failed_tasks = vec!["b".into()];
    write_run(&out, &failed);
    let gate = [
        "compare",
        "out/r1/m",
        "out/r2/m",
        "--fail-on-regression",
        "acc=0.01",
    ];
    let run_gate = env.run(&gate);
    run_gate.expect_code(1);
    assert!(
        run_gate
            .stderr
            .contains("regression: b b acc,none: A has 0.3333, B has none"),
        "{}",
        run_gate.stderr
    );
    let allowed: Vec<&str> = gate.iter().copied().chain(["--allow-missing"]).collect();
    env.run(&allowed).expect_code(0);

    // r3's suite lists beta, which never ran there
    let alpha = write_run(&out, &run("r3", "alpha", "ok", &[("a", Some(0.5))]));
    let beta_dir = alpha.parent().unwrap().join("beta");
    std::fs::write(
        out.join("r3/suite.json"),
        suite_json(
            "r3",
            &[
                suite_model("org/alpha", &alpha, "ok", json!({"a": "done"})),
                suite_model("org/beta", &beta_dir, "not run", json!({"a": "not run"})),
            ],
        )
        .to_string(),
    )
    .unwrap();
    write_run(&out, &run("r4", "beta", "ok", &[("a", Some(0.4))]));
    let compared = env.run(&[
        "compare",
        "r3",
        "r4",
        "--model",
        "beta",
        "--output-dir",
        "out",
    ]);
    compared.expect_code(2);
    assert!(
        compared.stderr.contains("holds no run of `beta`"),
        "{}",
        compared.stderr
    );
}
