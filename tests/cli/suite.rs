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
pub(crate) fn suite_env(extra_provider_flags: &[&str]) -> TestEnv {
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

/// `benchy eval` of `config` (a run config or a list) under the run id `run_id`.
fn eval_under<'a>(config: &'a str, run_id: &'a str) -> Vec<&'a str> {
    let mut args = eval_args_of(config, &[]);
    let at = args.iter().position(|a| *a == "--run-id").unwrap() + 1;
    args[at] = run_id;
    args
}

/// `benchy eval` of the suite's folder, as [`eval_args_of`] gives it.
pub(crate) fn suite_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
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

    // lm-eval asked once per include path about the whole suite's tasks, before anything
    // started; every model's record keeps the question.
    let record = read_json(&model_dir(&env, "gamma").join("run.json"));
    let questions = record["questions"].as_array().unwrap();
    assert_eq!(
        questions.len(),
        2,
        "the demo's include path and beta's: {record}"
    );
    assert_eq!(
        run.stderr.matches("lm-eval task types").count(),
        2,
        "{}",
        run.stderr
    );
    let demo = questions
        .iter()
        .find(|q| q["name"].as_str().unwrap().contains("benchy_demo_gen"))
        .unwrap_or_else(|| panic!("{record}"));
    let covered = demo["tasks"].to_string();
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
            .contains("answered before with the same program"),
        "lm-eval's answer about the tasks is remembered: {}",
        second.stderr
    );
    // The killed attempt's outputs were moved aside, and the record keeps it.
    let beta = model_dir(&env, "beta");
    assert!(beta.join(".attempts/1/run.json").is_file());
    let record = read_json(&beta.join("run.json"));
    // the killed attempt said it ran; resumed on its folder, it is recorded as interrupted
    assert_eq!(record["attempts"][0]["status"], "interrupted", "{record}");
    assert_eq!(record["attempts"][0]["outputs"], ".attempts/1", "{record}");
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
    assert_eq!(
        run.stderr.matches("lm-eval task types").count(),
        1,
        "{}",
        run.stderr
    );
    says(&run.stderr, ": asking ");
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
    // the tasks the interrupt cut short are interrupted, not failed, in every record
    let alpha_tasks = &record["models"][0]["tasks"];
    assert!(
        alpha_tasks
            .as_object()
            .unwrap()
            .values()
            .all(|s| s == "interrupted"),
        "{record}"
    );
    let alpha = read_json(&model_dir(&env, "alpha").join("run.json"));
    assert_eq!(alpha["failed_tasks"], json!([]), "{alpha}");
    let summary = std::fs::read_to_string(env.path().join("out/r/summary.md")).unwrap();
    assert!(!summary.contains("failed"), "{summary}");
    let results = env.run(&["results", "out", "--format", "json"]);
    results.expect_code(0);
    assert!(
        !results.stdout.contains("\"failed\"") && results.stdout.contains("interrupted"),
        "{}",
        results.stdout
    );
    let served: Vec<String> = generations(&requests(&env))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert!(served.iter().all(|m| m == "alpha"), "{served:?}");
    assert!(!model_dir(&env, "beta").join("run.json").exists());
}

/// A run of one task of a model, `--rerun` or changed, takes nothing of the others out of the
/// run: their folders stay, and the results, the effective config, `status` and `results` keep
/// them; the next full run computes nothing again.
#[test]
fn a_run_of_some_tasks_keeps_what_the_others_finished() {
    let env = suite_env(&[]);
    env.run(&eval_args_of("models/alpha.yaml", &[]))
        .expect_code(0);
    let alpha = model_dir(&env, "alpha");
    let before = requests(&env).len();
    for extra in [&["--rerun"][..], &["--set", "top_p=0.5"]] {
        let args: Vec<&str> = ["--task", "gen"].iter().chain(extra).copied().collect();
        env.run(&eval_args_of("models/alpha.yaml", &args))
            .expect_code(0);
        assert!(completion(&alpha, "gen-override").is_some(), "{extra:?}");
        let results = read_json(&alpha.join("results.json"));
        assert!(
            results.get("gen").is_some() && results.get("gen-override").is_some(),
            "{extra:?}: {results}"
        );
        let config = std::fs::read_to_string(alpha.join("run_config.yaml")).unwrap();
        assert!(config.contains("name: gen-override"), "{config}");
        let status = env.run(&["status", "out/r", "--missing"]);
        status.expect_code(0);
    }
    let attempts: Vec<String> = std::fs::read_dir(alpha.join(".attempts"))
        .unwrap()
        .flatten()
        .flat_map(|a| std::fs::read_dir(a.path()).unwrap().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !attempts.contains(&"gen-override".to_owned()),
        "{attempts:?}"
    );
    let gen_only = generations(&requests(&env)[before..]);
    assert!(
        gen_only.iter().all(|(_, top_k)| *top_k == json!(20)),
        "{gen_only:?}"
    );
    // the whole run again: gen ran last with top_p 0.5, so it runs again; gen-override not
    let before = requests(&env).len();
    let full = env.run(&eval_args_of("models/alpha.yaml", &[]));
    full.expect_code(0);
    says(&full.stderr, "gen-override: done, skipped");
    let again = generations(&requests(&env)[before..]);
    assert!(
        again.iter().all(|(_, top_k)| *top_k == json!(20)),
        "{again:?}"
    );
    // a completion record cut short runs its task again, and eval says why
    let record = alpha.join("gen/completion.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, &text[..text.len() / 2]).unwrap();
    let rerun = env.run(&eval_args_of("models/alpha.yaml", &[]));
    rerun.expect_code(0);
    says(
        &rerun.stderr,
        "gen: its completion record is unusable, running again: ",
    );
    says(
        &rerun.stderr,
        "gen/completion.json: not readable as its record",
    );
}

/// A second suite under the same run id adds its models to the record, and two at once lose
/// nothing: every model any of them asked for is in `suite.json` and `status`.
#[test]
fn suites_under_one_run_id_merge_their_record() {
    let env = suite_env(&["--delay-ms", "100"]);
    env.write("delta/generation_config.json", r#"{"temperature": 0.3}"#);
    env.write("delta/config.json", "{}");
    env.write("models/delta.yaml", &run_config("delta", "gen-override"));
    env.write("pair.txt", "models/alpha.yaml\nmodels/beta.yaml\n");
    env.write("other.txt", "models/gamma.yaml\nmodels/delta.yaml\n");
    let first = env.spawn(&eval_under("pair.txt", "s"));
    let second = env.spawn(&eval_under("other.txt", "s"));
    first.wait(RUN * 2).expect_code(0);
    second.wait(RUN * 2).expect_code(0);
    let suite = read_json(&env.path().join("out/s/suite.json"));
    let mut names: Vec<&str> = suite["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["folder"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alpha", "beta", "delta", "gamma"], "{suite}");
    // a later suite of some of them changes their entries and keeps the others
    env.write("again.txt", "models/beta.yaml\nmodels/gamma.yaml\n");
    env.run(&eval_under("again.txt", "s")).expect_code(0);
    let suite = read_json(&env.path().join("out/s/suite.json"));
    assert_eq!(suite["models"].as_array().unwrap().len(), 4, "{suite}");
    let status = env.run(&["status", "out/s", "--missing"]);
    status.expect_code(0);
    says(&status.stdout, "every task of 4 models is done");
}

/// A run folder moved to an archive, or copied, reads exactly as it did in place.
#[test]
fn a_moved_or_copied_run_reads_as_it_did() {
    let env = suite_env(&[]);
    env.write("pair.txt", "models/alpha.yaml\nmodels/beta.yaml\n");
    env.run(&eval_under("pair.txt", "s1")).expect_code(0);
    let read = |path: &str| {
        let status = env.run(&["status", path]);
        status.expect_code(0);
        let results = env.run(&["results", path, "--format", "json"]);
        results.expect_code(0);
        let mut rows: Json = results.json();
        // where each row's runs are is the one thing that moved
        for row in rows.as_array_mut().unwrap() {
            row.as_object_mut().unwrap().remove("folders");
        }
        (
            status.stdout.lines().skip(1).collect::<Vec<_>>().join("\n"),
            rows,
        )
    };
    let in_place = read("out/s1");
    std::fs::create_dir_all(env.path().join("archive")).unwrap();
    std::fs::rename(env.path().join("out/s1"), env.path().join("archive/s1")).unwrap();
    assert_eq!(read("archive/s1"), in_place);
    env.run(&["status", "archive/s1", "--missing"])
        .expect_code(0);
    let copied = std::process::Command::new("cp")
        .args(["-r", "archive/s1", "copy"])
        .current_dir(env.path())
        .status()
        .unwrap();
    assert!(copied.success());
    // the copy's own values: change one in the copy, and only the copy shows it
    let results = env.path().join("copy/alpha/results.json");
    let text = std::fs::read_to_string(&results).unwrap();
    let changed = text.replacen("\"value\": ", "\"value\": 0.123456, \"was\": ", 1);
    std::fs::write(&results, changed).unwrap();
    let copy = env.run(&["results", "copy", "--format", "json"]);
    assert!(copy.stdout.contains("0.123456"), "{}", copy.stdout);
    let archive = env.run(&["results", "archive/s1", "--format", "json"]);
    assert!(!archive.stdout.contains("0.123456"), "{}", archive.stdout);
}
