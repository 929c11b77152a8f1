//! Reading lm-eval's results file (its 0.4.13 shape) and placing its files per run task.

use std::path::Path;

use benchy_core::BackendError;
use benchy_core::backend::{ProcessOutcome, Sampling, TaskResult};
use serde_json::json;

use super::*;
use crate::results::{find_results_file, place_files, read};

/// A results file as lm-eval 0.4.13 writes it for a generate task, a multiple-choice task and a
/// group of one subtask.
fn results_doc() -> Json {
    json!({
        "results": {
            "benchy_demo_gen": {
                "alias": "benchy_demo_gen",
                "exact_match,none": 0.25, "exact_match_stderr,none": 0.16366341767699427
            },
            "benchy_demo_mc": {
                "alias": "benchy_demo_mc",
                "acc,none": 0.5, "acc_stderr,none": "N/A",
                "acc_norm,none": 0.375, "acc_norm_stderr,none": 0.18298
            },
            "group_x": {" ": " ", "alias": "group_x", "acc,none": 0.5, "acc_stderr,none": 0.1},
            "member_x": {"alias": " - member_x", "acc,none": 0.5, "acc_stderr,none": 0.1}
        },
        "group_subtasks": {"group_x": ["member_x"], "benchy_demo_gen": [], "benchy_demo_mc": []},
        "configs": {
            "benchy_demo_gen": {
                "task": "benchy_demo_gen", "output_type": "generate_until",
                "generation_kwargs": {"until": ["\n"], "do_sample": true, "temperature": 0.7,
                                      "top_k": 20, "max_gen_toks": 32}
            },
            "benchy_demo_mc": {"task": "benchy_demo_mc", "output_type": "multiple_choice"},
            "member_x": {"task": "member_x", "output_type": "loglikelihood"}
        }
    })
}

fn outcome(dir: &Path, tasks: &[&str]) -> ProcessOutcome {
    ProcessOutcome {
        name: "lm-eval[x]".into(),
        tasks: tasks.iter().map(|t| (*t).to_owned()).collect(),
        command: "lm_eval run".into(),
        cwd: None,
        exit_code: Some(0),
        status: "exit code 0".into(),
        started_at: None,
        finished_at: None,
        log_file: dir.join("x.log"),
        output_dir: Some(dir.join(tasks[0])),
    }
}

fn write_results(dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, results_doc().to_string()).unwrap();
    file
}

#[test]
fn metrics_sampling_and_what_lm_eval_recorded_are_read_per_run_task() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_results(dir.path(), "gen/Model/results_2026-01-01T00-00-00.json");
    let view = run(vec![
        task("gen", "benchy_demo_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({}), sampling()),
        task("grp", "group_x", json!({}), sampling()),
    ]);
    let mut diagnostics = Vec::new();
    let results = read(
        &view,
        &outcome(dir.path(), &["gen", "mc", "grp"]),
        &file,
        &mut diagnostics,
    )
    .unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let by_name = |name: &str| results.iter().find(|r| r.name == name).unwrap();

    let gen_result = by_name("benchy_demo_gen");
    assert_eq!(
        (gen_result.task.as_str(), gen_result.sampling),
        ("gen", Sampling::Generate)
    );
    assert_eq!(gen_result.metrics[0].name, "exact_match");
    assert_eq!(gen_result.metrics[0].filter.as_deref(), Some("none"));
    assert_eq!(gen_result.metrics[0].value, json!(0.25));
    assert_eq!(gen_result.metrics[0].stderr, Some(0.16366341767699427));
    // what was sent, in lm-eval's names, beside what lm-eval recorded
    assert_eq!(
        json!(gen_result.sent_generation),
        json!({"temperature": 0.7, "top_k": 20, "do_sample": true})
    );
    assert_eq!(
        gen_result.recorded_generation.as_ref().unwrap()["max_gen_toks"],
        json!(32)
    );

    let mc = by_name("benchy_demo_mc");
    assert_eq!(mc.sampling, Sampling::LoglikelihoodOnly);
    assert_eq!(
        mc.sent_generation, None,
        "scoring requests carry no sampling parameters"
    );
    let acc = mc.metrics.iter().find(|m| m.name == "acc").unwrap();
    assert_eq!(acc.stderr, None, "\"N/A\" is no stderr");
    assert_eq!(mc.metrics.len(), 2);

    // a group and its member both belong to the run task that named the group
    assert_eq!(by_name("group_x").sampling, Sampling::Aggregate);
    assert_eq!(by_name("group_x").task, "grp");
    assert_eq!(by_name("member_x").task, "grp");
}

#[test]
fn results_for_no_task_of_the_process_are_a_warning_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_results(dir.path(), "results_x.json");
    let view = run(vec![
        task("gen", "benchy_demo_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({}), sampling()),
    ]);
    let mut diagnostics = Vec::new();
    let results = read(
        &view,
        &outcome(dir.path(), &["gen", "mc"]),
        &file,
        &mut diagnostics,
    )
    .unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    assert!(
        diagnostics[0]
            .message
            .contains("match none of the tasks gen, mc")
    );
}

/// `file` read as the results of one generate task's process whose folder is under `dir`.
fn read_for_one_task(dir: &Path, file: &Path) -> Result<Vec<TaskResult>, BackendError> {
    let view = run(vec![task("gen", "g", json!({}), sampling())]);
    read(&view, &outcome(dir, &["gen"]), file, &mut Vec::new())
}

#[test]
fn a_broken_results_file_is_a_failure_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results_x.json");
    std::fs::write(&file, "{\"results\": ").unwrap();
    let err = read_for_one_task(dir.path(), &file).unwrap_err();
    assert!(
        err.to_string()
            .contains("results_x.json: not lm-eval results JSON"),
        "{err}"
    );
}

#[test]
fn a_results_file_past_the_limit_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results_x.json");
    // sparse: no disk used, and reading it whole would take gigabytes of memory
    std::fs::File::create(&file)
        .unwrap()
        .set_len(5 << 30)
        .unwrap();
    let err = read_for_one_task(dir.path(), &file).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn a_link_loop_under_the_output_folder_does_not_trap_the_search() {
    let dir = tempfile::tempdir().unwrap();
    let newest = write_results(dir.path(), "Model/results_2026-01-02T00-00-00.json");
    std::os::unix::fs::symlink(dir.path(), dir.path().join("Model/loop")).unwrap();
    assert_eq!(find_results_file(dir.path()), Some(newest));
}

#[test]
fn the_newest_results_file_is_found_in_nested_folders() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(find_results_file(dir.path()), None);
    write_results(dir.path(), "Model/results_2026-01-01T00-00-00.json");
    let newer = write_results(dir.path(), "Model/results_2026-01-02T00-00-00.json");
    std::fs::write(dir.path().join("Model/samples_x_2026.jsonl"), "").unwrap();
    assert_eq!(find_results_file(dir.path()), Some(newer));
}

#[test]
fn a_shared_process_gives_every_task_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_results(dir.path(), "gen/Model/results_2026.json");
    std::fs::write(
        dir.path()
            .join("gen/Model/samples_benchy_demo_mc_2026.jsonl"),
        "{}",
    )
    .unwrap();
    std::fs::write(
        dir.path()
            .join("gen/Model/samples_benchy_demo_gen_2026.jsonl"),
        "{}",
    )
    .unwrap();
    let view = run(vec![
        task("gen", "benchy_demo_gen", json!({}), sampling()),
        task("mc", "benchy_demo_mc", json!({}), sampling()),
    ]);
    let process = outcome(dir.path(), &["gen", "mc"]);
    let results = read(&view, &process, &file, &mut Vec::new()).unwrap();
    place_files(&view, &process, &file, &results).unwrap();
    // the results file is copied, each task's samples move to its own folder
    assert!(dir.path().join("mc/Model/results_2026.json").is_file());
    assert!(
        dir.path()
            .join("mc/Model/samples_benchy_demo_mc_2026.jsonl")
            .is_file()
    );
    assert!(
        !dir.path()
            .join("gen/Model/samples_benchy_demo_mc_2026.jsonl")
            .exists()
    );
    assert!(
        dir.path()
            .join("gen/Model/samples_benchy_demo_gen_2026.jsonl")
            .is_file()
    );
}
