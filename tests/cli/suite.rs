//! Suites and resume, end to end with the real lm-eval: several run configs in one `benchy eval`
//! (each model served by its own recording server, launched in vLLM's place and recording every
//! request to one file), the suite's record and table, a failing model that does not stop the
//! next, a suite killed with SIGKILL and resumed, and a changed parameter that runs again
//! exactly the task it touches. The recorded requests prove what ran.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde_json::{Value as Json, json};

use crate::eval::{
    RUN, eval_args_of, fake_provider, lm_eval, read_json, write_broken_task, write_demo_tasks,
};
use crate::harness::{Run, TestEnv, eventually, says};

const MODELS: [&str; 3] = ["alpha", "beta", "gamma"];

/// Three models (`models/<name>.yaml`, each its own model folder) with the demo tasks `gen` and
/// `gen-override` (two parameter sets, so two lm-eval processes each), served by recording
/// servers that append every request to `requests.jsonl`.
fn suite_env(extra_provider_flags: &[&str]) -> TestEnv {
    let mut env = TestEnv::new();
    env.env("BENCHY_LM_EVAL", lm_eval().to_str().unwrap());
    let record = env.path().join("requests.jsonl").display().to_string();
    let mut flags = vec!["--record", record.as_str()];
    flags.extend_from_slice(extra_provider_flags);
    env.write("providers/fake.yaml", &fake_provider(&flags));
    write_demo_tasks(&env, "  top_k: 5\n");
    for (i, name) in MODELS.iter().enumerate() {
        env.write(
            &format!("{name}/generation_config.json"),
            &format!(
                r#"{{"do_sample": true, "temperature": 0.{}, "top_k": 20}}"#,
                i + 5
            ),
        );
        env.write(&format!("{name}/config.json"), "{}");
        env.write(
            &format!("models/{name}.yaml"),
            &run_config(name, "gen-override"),
        );
    }
    env
}

fn run_config(model: &str, second_task: &str) -> String {
    format!(
        "model:\n  name: ../{model}\nvllm:\n  provider_config: fake\n\
         tasks:\n  - gen\n  - {second_task}\n"
    )
}

/// `benchy eval` of the suite's folder, as [`eval_args_of`] gives it.
fn suite_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    eval_args_of("models/", extra)
}

/// Every request the recording servers saw, in order.
fn requests(env: &TestEnv) -> Vec<Json> {
    let path = env.path().join("requests.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The generation requests (completions with `max_tokens` above 1), as (model, top_k).
fn generations(requests: &[Json]) -> Vec<(String, Json)> {
    requests
        .iter()
        .filter(|r| r["path"] == "/v1/completions")
        .map(|r| &r["body"])
        .filter(|b| b["max_tokens"].as_u64().is_some_and(|n| n > 1))
        .map(|b| {
            (
                b["model"].as_str().unwrap_or("").to_owned(),
                b["top_k"].clone(),
            )
        })
        .collect()
}

/// Each model's status in `suite.json`.
fn statuses(suite: &Json) -> Vec<&str> {
    suite["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap_or_default())
        .collect()
}

fn model_dir(env: &TestEnv, model: &str) -> PathBuf {
    env.path().join("out/r").join(model)
}

fn completion(dir: &Path, task: &str) -> Option<Json> {
    let path = dir.join(task).join("completion.json");
    path.is_file().then(|| read_json(&path))
}

#[test]
fn a_suite_runs_every_model_keeps_its_record_and_a_failing_model_does_not_stop_the_next() {
    let env = suite_env(&[]);
    // beta's second task is one lm-eval finds but cannot run
    write_broken_task(&env);
    env.write("models/beta.yaml", &run_config("beta", "broken"));
    let run = env.spawn(&suite_args(&[])).wait(RUN * 2);
    run.expect_code(1);

    let suite = read_json(&env.path().join("out/r/suite.json"));
    assert_eq!(statuses(&suite), ["ok", "failed", "ok"], "{suite}");
    assert_eq!(suite["status"], "failed");
    assert_eq!(
        suite["models"][1]["tasks"],
        json!({"gen": "done", "broken": "failed"})
    );
    assert_eq!(
        suite["models"][2]["tasks"],
        json!({"gen": "done", "gen-override": "done"})
    );
    assert!(
        suite["models"][0]["values"]["gen"]["value"].is_number(),
        "{suite}"
    );
    for model in MODELS {
        let record = read_json(&model_dir(&env, model).join("run.json"));
        let want = if model == "beta" { "failed" } else { "ok" };
        assert_eq!(record["status"], want, "{model}: {record}");
    }
    assert!(completion(&model_dir(&env, "beta"), "gen").is_some());
    assert!(completion(&model_dir(&env, "beta"), "broken").is_none());

    // Every model was served under its own name, one after another.
    let served: Vec<String> = generations(&requests(&env))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let mut order = served.clone();
    order.dedup();
    assert_eq!(order, MODELS, "models one after another: {served:?}");

    // One lm-eval check per include path for the whole suite, before anything started.
    let record = read_json(&model_dir(&env, "gamma").join("run.json"));
    let checks = record["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{record}");
    let covered = checks[0]["tasks"].to_string();
    for model in MODELS {
        assert!(
            covered.contains(&format!("models/{model}.yaml")),
            "{covered}"
        );
    }
    let summary = std::fs::read_to_string(env.path().join("out/r/summary.md")).unwrap();
    assert!(summary.contains("| beta | failed |"), "{summary}");
    for table in [&run.stdout, &summary] {
        assert!(MODELS.iter().all(|m| table.contains(m)), "{table}");
    }
    let header = |l: &str| l.split_whitespace().take(2).eq(["model", "status"]);
    assert!(run.stdout.lines().any(header), "{}", run.stdout);
    says(&run.stderr, "1 of 3 models did not finish: beta");
    says(&run.stderr, "[model 2 of 3 beta: ");
}

#[test]
fn a_killed_suite_resumes_with_only_what_is_missing_and_a_change_reruns_exactly_its_task() {
    // slow answers, so the kill lands while beta's jobs run
    let env = suite_env(&["--delay-ms", "300"]);
    let first = env.spawn(&suite_args(&[]));
    let beta_started = || {
        first
            .stderr()
            .lines()
            .any(|l| l.contains("[model 2 of 3 beta: ") && l.contains("started (pid"))
    };
    assert!(eventually(RUN, beta_started), "{}", first.stderr());
    first.signal(Signal::SIGKILL);
    let killed = first.wait(RUN);
    assert_eq!(killed.code, 128 + 9, "killed: {}", killed.stderr);
    let alpha = model_dir(&env, "alpha");
    assert!(completion(&alpha, "gen").is_some() && completion(&alpha, "gen-override").is_some());
    assert!(completion(&model_dir(&env, "beta"), "gen").is_none());
    let before = requests(&env).len();

    let second = env.spawn(&suite_args(&[])).wait(RUN * 2);
    second.expect_code(0);
    let again = generations(&requests(&env)[before..]);
    assert!(!again.is_empty());
    assert!(
        again.iter().all(|(m, _)| m != "alpha"),
        "a finished model sent nothing again: {again:?}"
    );
    says(&second.stderr, "gen: done, skipped");
    assert!(
        second
            .stderr
            .contains("alpha: every task is done; no server started"),
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("passed before with the same program"),
        "the check is remembered: {}",
        second.stderr
    );
    // The killed attempt's outputs were moved aside, and the record keeps it.
    let beta = model_dir(&env, "beta");
    assert!(beta.join(".attempts/1/run.json").is_file());
    let record = read_json(&beta.join("run.json"));
    assert_eq!(record["attempts"][0]["status"], "running", "{record}");
    let suite = read_json(&env.path().join("out/r/suite.json"));
    assert_eq!(suite["status"], "ok", "{suite}");

    // Change one task's parameter: exactly that task runs again, for every model.
    let task = env.path().join("tasks/gen-override.yaml");
    let text = std::fs::read_to_string(&task)
        .unwrap()
        .replace("top_k: 5", "top_k: 6");
    std::fs::write(&task, text).unwrap();
    let before = requests(&env).len();
    let third = env.spawn(&suite_args(&[])).wait(RUN * 2);
    third.expect_code(0);
    let again = generations(&requests(&env)[before..]);
    assert!(!again.is_empty());
    assert!(
        again.iter().all(|(_, top_k)| *top_k == json!(6)),
        "only gen-override ran again: {again:?}"
    );
    let mut models: Vec<&str> = again.iter().map(|(m, _)| m.as_str()).collect();
    models.dedup();
    assert_eq!(models, MODELS);
    assert!(
        third
            .stderr
            .contains("gen-override: changed since it ran, running again: top_k 5 -> 6"),
        "{}",
        third.stderr
    );
    let done = completion(&alpha, "gen-override").unwrap();
    assert_eq!(done["inputs"]["values"]["generation"]["top_k"], 6);
}

#[test]
fn bad_input_in_any_model_stops_the_suite_before_anything_starts() {
    let env = suite_env(&[]);
    env.write(
        "models/gamma.yaml",
        "model:\n  name: ../gamma\ntasks: [gen]\nvllm: 3\n",
    );
    let run: Run = env.run(&suite_args(&[]));
    run.expect_code(2);
    says(&run.stderr, "gamma.yaml");
    assert!(requests(&env).is_empty());
    assert!(
        !env.path().join("out").exists(),
        "nothing started, nothing written"
    );

    // an unknown --task names every task of the suite once
    let env = suite_env(&[]);
    let run = env.run(&suite_args(&["--task", "nope"]));
    run.expect_code(2);
    says(&run.stderr, "; its tasks: gen, gen-override\n");

    // two run configs of one model would share its folder
    let env = suite_env(&[]);
    env.write("models/zeta.yaml", &run_config("alpha", "gen-override"));
    let run = env.run(&suite_args(&[]));
    run.expect_code(2);
    assert!(
        run.stderr.contains("alpha.yaml and")
            && run.stderr.contains("zeta.yaml are both runs of alpha"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_runs_the_suites_checks_once_and_starts_nothing() {
    let env = suite_env(&[]);
    // a model whose file sets nothing: the note that says so names its run config
    env.write("beta/generation_config.json", "{}");
    let run = env.run(&suite_args(&["--check"]));
    run.expect_code(0);
    says(&run.stderr, "info: models/beta.yaml: temperature set to 0");
    says(&run.stdout, "checked 3 models and 6 tasks: 1 check ran");
    assert_eq!(run.stderr.matches("lm-eval validate: started").count(), 1);
    assert!(requests(&env).is_empty());
    assert!(!env.path().join("out").exists(), "nothing written");
    let again = env.run(&suite_args(&["--check"]));
    again.expect_code(0);
    assert!(
        again.stdout.contains("0 checks ran, 1 passed before"),
        "remembered: {}",
        again.stdout
    );
}

#[test]
fn ctrl_c_stops_the_current_model_and_starts_no_other() {
    let env = suite_env(&["--delay-ms", "300"]);
    let suite = env.spawn(&suite_args(&[]));
    suite.wait_stderr("lm-eval[gen]: started (pid", RUN);
    suite.signal(Signal::SIGINT);
    let run = suite.wait(RUN);
    run.expect_code(130);
    let record = read_json(&env.path().join("out/r/suite.json"));
    assert_eq!(
        statuses(&record),
        ["interrupted", "not run", "not run"],
        "{record}"
    );
    assert_eq!(record["status"], "interrupted");
    let served: Vec<String> = generations(&requests(&env))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert!(served.iter().all(|m| m == "alpha"), "{served:?}");
    assert!(!model_dir(&env, "beta").join("run.json").exists());
}
