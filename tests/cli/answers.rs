//! What the answers say: cut-off answers counted per task and flagged wherever a score is shown,
//! repeats that send distinct seeds and combine into a mean and a spread (resumed repeat by
//! repeat), and results exported as the Hub's evaluation results. With the real lm-eval against
//! the recording server.

use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use nix::sys::signal::Signal;
use serde_json::{Value as Json, json};

use crate::eval::{eval_env, eval_into as eval, fake_provider, read_json, run_dir};
use crate::harness::{http, says};

fn server(completion: &str) -> RecordingOpenAi {
    RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        completion: completion.into(),
        ..OpenAiOptions::default()
    })
}

#[test]
fn answers_cut_at_the_budget_are_counted_named_and_flagged_wherever_the_score_shows() {
    let env = eval_env(&fake_provider(&[]));
    let long = server(" the answer is surely five");
    let cut = eval(
        &env,
        &long,
        "r",
        &["--task", "gen", "--set", "max_new_tokens=3"],
    );
    cut.expect_code(0);
    says(
        &cut.stderr,
        "gen: 2 of 2 answers cut at max_tokens 3 (cli); 100 % are cut and score as wrong",
    );
    let record = read_json(&run_dir(&env).join("run.json"));
    let answers = &record["answers"]["gen"];
    assert_eq!(
        (
            &answers["answers"],
            &answers["cut"],
            &answers["stopped"],
            &answers["budget"]
        ),
        (&json!(2), &json!(2), &json!(0), &json!(3)),
        "{answers:#}"
    );
    assert_eq!(answers["budget_source"], "cli");
    assert_eq!(answers["completion_tokens"], json!(6));
    assert_eq!(answers["completion_tokens_p90"], json!(3));
    assert!(
        answers["prompt_tokens"].as_u64().unwrap() > 0,
        "{answers:#}"
    );
    let done = read_json(&run_dir(&env).join("gen/completion.json"));
    assert_eq!(done["answers"]["cut"], json!(2));
    let summary = std::fs::read_to_string(run_dir(&env).join("summary.md")).unwrap();
    says(&summary, "gen: 2 of 2 answers cut at max_tokens 3 (cli)");
    says(&summary, "flagged");

    // the same task with room to answer: nothing cut
    let short = server(" 5");
    eval(
        &env,
        &short,
        "r2",
        &["--task", "gen", "--set", "max_new_tokens=8"],
    )
    .expect_code(0);
    let table = env.run(&["results", "out"]);
    table.expect_code(0);
    says(&table.stdout, "cut 100%");
    let json = env.run(&["results", "out", "--format", "json"]);
    let shares: Vec<Json> = json
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["gen_cut_share"].clone())
        .collect();
    assert!(
        shares.contains(&json!(1.0)) && shares.contains(&json!(0.0)),
        "{shares:?}"
    );
    let compared = env.run(&["compare", "out/r/model", "out/r2/model"]);
    compared.expect_code(0);
    says(&compared.stdout, "100% -> 0%");
    let report = env.run(&["report", "out", "-o", "report.html"]);
    report.expect_code(0);
    let html = std::fs::read_to_string(env.path().join("report.html")).unwrap();
    says(&html, "cut 100%");
}

/// A client that streams its chat answer through `benchy serve --audit`: the answer is counted
/// from its events as it passes.
#[test]
fn a_streamed_chat_answer_is_counted() {
    let env = eval_env(&fake_provider(&[]));
    let upstream = server(" five");
    let url = upstream.base_url();
    let serving = env.spawn(&["serve", "-c", "run.yaml", "--server-url", &url, "--audit"]);
    let line = serving.next_line(Duration::from_secs(60));
    let port: u16 = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches("/v1").parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let body = r#"{"model": "model", "stream": true, "max_tokens": 3, "temperature": 0.7,
                   "top_p": 0.6, "top_k": 20, "repetition_penalty": 1.05, "min_p": 0.05,
                   "messages": [{"role": "user", "content": "2+3?"}]}"#;
    let answer = http(port, "POST", "/v1/chat/completions", Some(body));
    assert!(answer.contains("data: [DONE]"), "{answer}");
    serving.signal(Signal::SIGINT);
    let run = serving.wait(Duration::from_secs(60));
    let file = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("the audit is in "))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let audit = read_json(std::path::Path::new(file));
    let answers = &audit["jobs"][0]["report"]["answers"];
    assert_eq!(
        (
            &answers["answers"],
            &answers["cut"],
            &answers["completion_tokens"]
        ),
        (&json!(1), &json!(1), &json!(3)),
        "{answers:#}"
    );
}

/// The seeds the server saw in the generation requests, by prompt.
fn seeds_by_prompt(server: &RecordingOpenAi) -> std::collections::BTreeMap<String, Vec<i64>> {
    let mut seen: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for body in server.generation_bodies() {
        if body["echo"] == json!(true) {
            continue;
        }
        let prompt = body["prompt"].to_string();
        seen.entry(prompt)
            .or_default()
            .push(body["seed"].as_i64().unwrap());
    }
    seen
}

#[test]
fn three_repeats_send_three_seeds_per_prompt_and_a_killed_run_redoes_only_the_missing_one() {
    let env = eval_env(&fake_provider(&[]));
    let recording = server(" 8");
    let run = eval(
        &env,
        &recording,
        "r",
        &[
            "--task",
            "gen",
            "--task",
            "mc",
            "--repeats",
            "3",
            "--log-samples",
        ],
    );
    run.expect_code(0);
    says(
        &run.stderr,
        "task mc: 3 repeats asked, but it only scores log-likelihoods",
    );
    let seeds = seeds_by_prompt(&recording);
    assert_eq!(seeds.len(), 2, "two questions: {seeds:?}");
    for (prompt, mut each) in seeds {
        each.sort_unstable();
        assert_eq!(each, [1234, 1235, 1236], "{prompt}");
    }
    let dir = run_dir(&env);
    for i in 1..=3 {
        assert!(
            dir.join(format!("gen.repeat-{i}/completion.json"))
                .is_file()
        );
    }
    let results = read_json(&dir.join("results.json"));
    let exact = &results["gen"]["benchy_demo_gen"]["exact_match,none"];
    assert_eq!(exact["repeats"].as_array().unwrap().len(), 3, "{results:#}");
    assert!(
        results.get("gen.repeat-1").is_none(),
        "repeats are folded into their task"
    );
    // " 8" is right for the second question only, in every repeat
    let per_sample = &results["gen"]["benchy_demo_gen"];
    assert_eq!(
        per_sample["exact_match,none pass@3"]["value"],
        json!(0.5),
        "{per_sample:#}"
    );
    assert_eq!(per_sample["exact_match,none avg@3"]["value"], json!(0.5));
    let record = read_json(&dir.join("run.json"));
    assert_eq!(record["repeats"][0]["seeds"], json!([1234, 1235, 1236]));
    let table = env.run(&["results", "out"]);
    says(&table.stdout, "(3 repeats)");

    // a repeat whose record is gone runs again, alone: answered from the response cache
    // (its questions were asked with their seeds), and with `--cache write` from the server
    let rerun_repeat_2 = |extra: &[&str]| {
        std::fs::remove_file(dir.join("gen.repeat-2/completion.json")).unwrap();
        let before = recording.generation_bodies().len();
        let mut args = vec!["--task", "gen", "--task", "mc", "--repeats", "3"];
        args.extend_from_slice(extra);
        let again = eval(&env, &recording, "r", &args);
        again.expect_code(0);
        says(&again.stderr, "gen.repeat-1: done, skipped");
        says(&again.stderr, "gen.repeat-3: done, skipped");
        recording.generation_bodies()[before..]
            .iter()
            .filter(|b| b["echo"] != json!(true))
            .map(|b| b["seed"].as_i64().unwrap())
            .collect::<Vec<i64>>()
    };
    let cached = rerun_repeat_2(&[]);
    assert_eq!(
        cached, [0i64; 0],
        "repeat 2 came from the cache: {cached:?}"
    );
    let resent = rerun_repeat_2(&["--cache", "write"]);
    assert_eq!(
        resent,
        [1235, 1235],
        "only repeat 2's two questions: {resent:?}"
    );
    let results = read_json(&dir.join("results.json"));
    assert_eq!(
        results["gen"]["benchy_demo_gen"]["exact_match,none"]["repeats"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // repeats asked of scoring tasks alone, and out of range
    let scoring = eval(&env, &recording, "r3", &["--task", "mc", "--repeats", "2"]);
    scoring.expect_code(2);
    says(
        &scoring.stderr,
        "every task of the run only scores log-likelihoods",
    );
    let zero = eval(&env, &recording, "r3", &["--repeats", "0"]);
    zero.expect_code(2);
    env.write(
        "run.yaml",
        &std::fs::read_to_string(env.path().join("run.yaml"))
            .unwrap()
            .replace("tasks:", "repeats: 1000\ntasks:"),
    );
    let many = eval(&env, &recording, "r3", &[]);
    many.expect_code(2);
    says(
        &many.stderr,
        "`repeats`: 1000 is not a number of repeats: give a whole number from 1 to 64",
    );
}

#[test]
fn the_hubs_evaluation_results_files_carry_the_value_and_what_made_it() {
    let env = eval_env(&fake_provider(&[]));
    let task = std::fs::read_to_string(env.path().join("tasks/gen.yaml")).unwrap();
    env.write(
        "tasks/gen.yaml",
        &format!("{task}hub_dataset: benchy/demo-arithmetic\nhub_dataset_revision: abc123\n"),
    );
    let recording = server(" 8");
    eval(&env, &recording, "r", &["--task", "gen", "--task", "mc"]).expect_code(0);
    let export = env.run(&["export", "hf-eval-results", "out/r", "-o", "hub"]);
    export.expect_code(0);
    // mc's dataset is a local file with no `hub_dataset`: named, left out
    says(
        &export.stderr,
        "left out model mc: its dataset `json` is no Hub dataset id",
    );
    let file = env.path().join("hub/model/.eval_results/gen.yaml");
    says(&export.stdout, "hub/model/.eval_results/gen.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let results: Json = serde_saphyr::from_str(&text).unwrap();
    let result = &results[0];
    assert_eq!(result["dataset"]["id"], "benchy/demo-arithmetic", "{text}");
    assert_eq!(result["dataset"]["task_id"], "benchy_demo_gen");
    assert_eq!(result["dataset"]["revision"], "abc123");
    let exact = read_json(&run_dir(&env).join("results.json"))["gen"]["benchy_demo_gen"]["exact_match,none"]["value"].clone();
    assert_eq!(result["value"], exact);
    assert_eq!(result["date"].as_str().unwrap().len(), 10, "{text}");
    let notes = result["notes"].as_str().unwrap();
    for part in [
        "run r",
        "metric exact_match,none",
        "temperature=0.7 (hf:",
        "min_p=0.05 (config:",
    ] {
        assert!(notes.contains(part), "{part} in {notes}");
    }
    assert!(!env.path().join("hub/model/.eval_results/mc.yaml").exists());
    let none = env.run(&["export", "hf-eval-results", "out/nothing", "-o", "hub2"]);
    none.expect_code(2);
}
