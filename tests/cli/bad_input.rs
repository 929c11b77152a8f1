//! The bad-input corpus (tests/corpus/bad-input): every file must stop `benchy config explain`
//! with exit code 2 and a message naming the file (and the key or line where there is one),
//! never a panic.

use std::path::{Path, PathBuf};

use crate::harness::{Run, TestEnv, repo_root};

/// What each corpus file's message must say besides its own name.
const EXPECTED: &[(&str, &[&str])] = &[
    ("not-json.json", &["not valid JSON"]),
    ("empty.json", &["empty"]),
    ("array.json", &["found an array"]),
    ("string.json", &["found a string"]),
    (
        "nan.json",
        &["`temperature` = \"NaN\": must be a number", ":1:"],
    ),
    (
        "infinity.json",
        &["`top_p` = \"Infinity\": must be a number"],
    ),
    (
        "temperature-negative.json",
        &[":3:", "`temperature`", ">= 0"],
    ),
    ("top-p-zero.json", &["`top_p`", "> 0"]),
    ("top-p-above-one.json", &["`top_p`", "<= 1"]),
    ("top-k-float.json", &["`top_k`", "integer"]),
    ("temperature-string.json", &["`temperature`", "number"]),
    ("do-sample-number.json", &["`do_sample`", "true or false"]),
    ("nested-object.json", &["`temperature`", "number"]),
    ("max-new-tokens-zero.json", &["`max_new_tokens`", ">= 1"]),
    ("min-p-above-one.json", &["`min_p`"]),
    (
        "repetition-penalty-zero.json",
        &["`repetition_penalty`", "> 0"],
    ),
    ("stop-numbers.json", &["`stop`", "strings"]),
    ("seed-string.json", &["`seed`", "integer"]),
    ("missing-comma.json", &["not valid JSON", ":4:"]),
    ("not-utf8.json", &["not UTF-8"]),
    ("yaml-syntax.yaml", &[":1:"]),
    ("empty-run.yaml", &["empty"]),
    ("run-config-list.yaml", &[":1:"]),
    ("traversal-repo-id.yaml", &["model.name", "`..`"]),
    ("missing-model-dir.yaml", &["model.name", "not a directory"]),
    ("three-part-name.yaml", &["model.name", "not a Hub repo id"]),
    ("model-name-missing.yaml", &["name"]),
    ("unknown-top-level-key.yaml", &["modle", ":1:"]),
    (
        "unknown-provider.yaml",
        &["no_such_provider", "providers/no_such_provider.yaml"],
    ),
    (
        "unknown-task.yaml",
        &["no_such_task", "tasks/no_such_task.yaml", ":5"],
    ),
    ("task-number.yaml", &[":4:", "task"]),
    ("inline-task-unknown-key.yaml", &["tsk_name", ":5:"]),
    (
        "task-file-unknown-key.yaml",
        &["bad_key.yaml", "lm_eval_pth"],
    ),
    ("provider-yaml-error.yaml", &["broken.yaml", ":1:"]),
    ("generation-out-of-range.yaml", &[":5:", "`top_p`", "<= 1"]),
    ("generation-nan.yaml", &[":4:", "non-finite"]),
    (
        "generation-nested.yaml",
        &["`typical_p`", "nested object", ":4"],
    ),
    ("generation-list.yaml", &["generation", ":3:"]),
    ("task-listed-twice.yaml", &["listed twice", ":5"]),
    (
        "duplicate-key.yaml",
        &[":5:", "`top_p` is given twice in one mapping"],
    ),
    (
        "two-names-of-one-key.yaml",
        &[":5", "`max_gen_toks` and `max_new_tokens` are two names"],
    ),
    (
        "source-wrong-type.gen.yaml",
        &["`temperature`", ":2", "number"],
    ),
    ("source-syntax.gen.yaml", &[":1:"]),
];

fn corpus_dir() -> PathBuf {
    repo_root().join("tests/corpus/bad-input")
}

/// The corpus files at the top of the folder (providers/ and tasks/ hold their helpers).
fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs the file the way its kind is used: a JSON generation config with `--source file:`, a
/// `.gen.yaml` with `--source yaml:`, any other YAML as the run config.
fn run_file(env: &TestEnv, file: &Path) -> Run {
    let good_run = env.write("run.yaml", "model:\n  name: org/model\n");
    let file = file.to_str().unwrap();
    let name = Path::new(file).file_name().unwrap().to_str().unwrap();
    let good_run = good_run.to_str().unwrap();
    if name.ends_with(".json") {
        env.run(&[
            "config",
            "explain",
            "-c",
            good_run,
            "--source",
            &format!("file:{file}"),
        ])
    } else if name.ends_with(".gen.yaml") {
        env.run(&[
            "config",
            "explain",
            "-c",
            good_run,
            "--source",
            &format!("yaml:{file}"),
        ])
    } else {
        env.run(&[
            "config",
            "explain",
            "-c",
            file,
            "--source",
            "file:/dev/null",
        ])
    }
}

#[test]
fn corpus_is_large_and_fully_described() {
    let names: Vec<String> = corpus_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.len() >= 20,
        "the corpus has only {} files",
        names.len()
    );
    for name in &names {
        assert!(
            EXPECTED.iter().any(|(n, _)| n == name),
            "{name} has no expectation in EXPECTED"
        );
    }
    for (name, _) in EXPECTED {
        assert!(
            names.iter().any(|n| n == name),
            "{name} is not in the corpus"
        );
    }
}

#[test]
fn every_bad_file_exits_2_naming_the_file_and_the_problem() {
    let mut failures = Vec::new();
    for file in corpus_files() {
        let env = TestEnv::new();
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let run = run_file(&env, &file);
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[][..], |e| e.1);
        let mut problems = Vec::new();
        if run.code != 2 {
            problems.push(format!("exit code {} (expected 2)", run.code));
        }
        if run.stderr.contains("panicked") {
            problems.push("panicked".to_owned());
        }
        // The file that is wrong is named: the corpus file, or the helper file it points to.
        let named = run.stderr.contains(&name)
            || expected
                .iter()
                .any(|e| e.ends_with(".yaml") && run.stderr.contains(e));
        if !named {
            problems.push("file not named".to_owned());
        }
        for fragment in expected {
            if !run.stderr.contains(fragment) {
                problems.push(format!("missing `{fragment}`"));
            }
        }
        if !run.stdout.is_empty() {
            problems.push("printed a result".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: {}\n    stderr: {}",
                problems.join(", "),
                run.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "bad inputs not handled:\n{}",
        failures.join("\n")
    );
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let env = TestEnv::new();
    env.write("run.yaml", "model:\n  name: org/model\n");
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "temperature"], "--set temperature"),
        (&["--set", "top_p=2"], "`top_p`"),
        (&["--set", "=1"], "--set =1"),
        (&["--set", "stop=[a"], "--set stop=[a"),
        (&["--source", "nope:x"], "known: hf, file, yaml"),
        (&["--source", "file:"], "needs a path"),
        (
            &["--source", "file:missing.json"],
            "missing.json: cannot read",
        ),
        (&["--format", "xml"], "xml"),
    ];
    for (flags, fragment) in cases {
        let mut args = vec!["config", "explain", "-c", "run.yaml"];
        args.extend_from_slice(flags);
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{flags:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(fragment),
            "{flags:?}: wanted `{fragment}` in {}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_run_config_exits_2_naming_it() {
    let env = TestEnv::new();
    let run = env.run(&["config", "explain", "-c", "nowhere.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("nowhere.yaml: cannot read"),
        "{}",
        run.stderr
    );
}
