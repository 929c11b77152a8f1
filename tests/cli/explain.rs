//! `benchy config explain`: tables and JSON over fresh temp dirs.

use serde_json::json;

use crate::harness::TestEnv;

fn run_config(env: &TestEnv) {
    env.write("providers/p.yaml", "port: 8000\nmax_model_len: 2048\n");
    env.write(
        "tasks/t1.yaml",
        "name: t1\ntask_name: hellaswag\ngeneration:\n  top_k: 5\n",
    );
    env.write(
        "models/run.yaml",
        "model:\n  name: org/model\nvllm:\n  provider_config: p\ntasks:\n  - t1\n  - name: t2\n    task_name: arc_easy\ngeneration:\n  temperature: 0.5\n",
    );
    env.write(
        "gen.json",
        r#"{"temperature": 0.7, "top_p": 0.9, "do_sample": true, "eos_token_id": 2}"#,
    );
}

#[test]
fn json_form_names_every_value_with_its_source() {
    let env = TestEnv::new();
    run_config(&env);
    let run = env.explain_json(&["--source", "file:gen.json", "--set", "seed=7"]);
    run.expect_code(0);
    assert_eq!(
        run.json(),
        json!({
            "resolved": {
                "temperature": {"value": 0.5, "source": "config:models/run.yaml"},
                "top_p": {"value": 0.9, "source": "file:gen.json"},
                "do_sample": {"value": true, "source": "file:gen.json"},
                "seed": {"value": 7, "source": "cli"},
            },
            "tasks": {
                "t1": {
                    "temperature": {"value": 0.5, "source": "config:models/run.yaml"},
                    "top_p": {"value": 0.9, "source": "file:gen.json"},
                    "top_k": {"value": 5, "source": "task:t1"},
                    "do_sample": {"value": true, "source": "file:gen.json"},
                    "seed": {"value": 7, "source": "cli"},
                }
            }
        })
    );
}

#[test]
fn table_form_shows_sources_tasks_and_ignored_keys() {
    let env = TestEnv::new();
    run_config(&env);
    let run = env.run(&[
        "config",
        "explain",
        "-c",
        "models/run.yaml",
        "--source",
        "file:gen.json",
    ]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["top_p", "0.9", "file:gen.json"]),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Task t1:"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("Task t2:"),
        "t2 does not differ:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("eos_token_id"), "{}", run.stdout);
}

#[test]
fn later_sources_win_and_null_removes() {
    let env = TestEnv::new();
    run_config(&env);
    env.write("over.yaml", "generation:\n  top_p: null\n  min_p: 0.05\n");
    let run = env.explain_json(&[
        "--source",
        "file:gen.json",
        "--source",
        "yaml:over.yaml",
        "--set",
        "temperature=null",
    ]);
    run.expect_code(0);
    let resolved = &run.json()["resolved"];
    assert!(resolved.get("top_p").is_none(), "{resolved}");
    assert_eq!(
        resolved["min_p"],
        json!({"value": 0.05, "source": "yaml:over.yaml"})
    );
    // removing temperature leaves do_sample=true, which normalizes to transformers' 1.0
    assert_eq!(resolved["temperature"]["value"], json!(1.0));
    assert!(
        resolved["temperature"]["source"]
            .as_str()
            .unwrap()
            .starts_with("normalized:do_sample=true"),
        "{resolved}"
    );
}

#[test]
fn greedy_normalization_is_recorded() {
    let env = TestEnv::new();
    run_config(&env);
    let run = env.explain_json(&["--source", "file:gen.json", "--set", "do_sample=false"]);
    run.expect_code(0);
    assert_eq!(
        run.json()["resolved"]["temperature"],
        json!({"value": 0.0, "source": "normalized:do_sample=false from cli"})
    );
    assert!(run.stderr.contains("replaced by 0"), "{}", run.stderr);
}

/// A key or value longer than any format width (65,535) is printed whole: the table printer
/// panicked on a 65,534-character `--set` key (its value column adds two quotes).
#[test]
fn keys_and_values_of_any_length_print_without_a_panic() {
    let env = TestEnv::new();
    run_config(&env);
    let key = "k".repeat(65_534);
    let value = "v".repeat(65_534);
    for set in [format!("{key}=1"), format!("x={value}")] {
        let run = env.run(&["config", "explain", "-c", "models/run.yaml", "--set", &set]);
        run.expect_code(0);
        let shown = if set.starts_with('k') { &key } else { &value };
        assert!(
            run.stdout.contains(shown.as_str()),
            "the whole text is shown"
        );
    }
}
