//! The Python tool's run configs (tests/corpus/reference/benchy-py-configs, copied unchanged)
//! load as they are: every model file, with its provider and tasks.

use crate::harness::{TestEnv, repo_root};

#[test]
fn every_reference_run_config_loads() {
    let root = repo_root().join("tests/corpus/reference/benchy-py-configs");
    let mut files: Vec<_> = ["single_card", "templates"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 21,
        "expected the 20 model files and the template"
    );
    let env = TestEnv::new();
    env.write("gen.json", r#"{"temperature": 0.7}"#);
    for file in files {
        let run = env.run(&[
            "config",
            "explain",
            "-c",
            file.to_str().unwrap(),
            "--source",
            "file:gen.json",
            "--format",
            "json",
        ]);
        run.expect_code(0);
        assert_eq!(
            run.json()["resolved"]["temperature"]["value"],
            serde_json::json!(0.7),
            "{}",
            file.display()
        );
    }
}
