//! Run folders written by hand, in the layout `benchy eval` writes (`run.json`, `results.json`,
//! `resolved_generation.json`, `run_config.yaml`), for tests and benchmarks of the commands that
//! read runs back without running an evaluation first.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json, json};

/// One task's outcome: its primary value and standard error, or none (it failed or never ran).
#[derive(Clone, Debug)]
pub struct TaskOutcome {
    pub name: String,
    pub value: Option<f64>,
    pub stderr: Option<f64>,
}

impl TaskOutcome {
    pub fn new(name: &str, value: Option<f64>, stderr: Option<f64>) -> TaskOutcome {
        TaskOutcome {
            name: name.to_owned(),
            value,
            stderr,
        }
    }
}

/// A model's run, as [`write_run`] lays it out.
#[derive(Clone, Debug)]
pub struct SyntheticRun {
    pub run_id: String,
    /// `org/name`: the folder is `name`.
    pub model: String,
    /// `ok`, `failed`, `interrupted` or `running`.
    pub status: String,
    pub started_at: String,
    pub temperature: f64,
    /// The task's metric is `acc,none`, evaluated under the run task's own name.
    pub tasks: Vec<TaskOutcome>,
    pub failed_tasks: Vec<String>,
}

/// Writes `run` under `output_dir/<run id>/<model short name>/`; returns the folder.
pub fn write_run(output_dir: &Path, run: &SyntheticRun) -> PathBuf {
    let short = run.model.rsplit('/').next().unwrap_or(&run.model);
    let dir = output_dir.join(&run.run_id).join(short);
    std::fs::create_dir_all(&dir).expect("run folder");
    let params = json!({
        "temperature": {"value": run.temperature, "source": format!("hf:{}@0123abcd", run.model)},
        "top_p": {"value": 0.9, "source": format!("hf:{}@0123abcd", run.model)},
    });
    let mut results = Map::new();
    let mut resolved_tasks = Map::new();
    let mut verification = Vec::new();
    for task in run.tasks.iter().filter(|t| t.value.is_some()) {
        results.insert(
            task.name.clone(),
            json!({task.name.clone(): {"acc,none": {"value": task.value, "stderr": task.stderr}}}),
        );
    }
    for task in &run.tasks {
        resolved_tasks.insert(task.name.clone(), params.clone());
        verification.push(json!({"task": task.name, "name": task.name,
            "status": "no sampling parameters", "sent": null, "recorded": null, "differences": []}));
    }
    let record = json!({
        "benchy_version": "0.1.0", "run_id": run.run_id, "model": run.model,
        "config": "run.yaml", "backend": "lm-eval",
        "options": {"run_dir": dir, "limit": null, "log_samples": false, "home": "/tmp"},
        "status": run.status, "started_at": run.started_at, "finished_at": run.started_at,
        "failures": run.failed_tasks.iter().map(|t| format!("{t}: failed")).collect::<Vec<_>>(),
        "failed_tasks": run.failed_tasks, "sources": [], "server": null, "checks": [],
        "processes": [], "versions": {"lm_eval": "0.4.13"}, "backends": {},
        "verification": verification,
        "audit": {"mode": "on", "verdict": "0 of 0 generation requests carried exactly the resolved set", "jobs": []},
        "notes": [],
    });
    write(&dir.join("run.json"), &record);
    write(&dir.join("results.json"), &Json::Object(results));
    write(
        &dir.join("resolved_generation.json"),
        &json!({"resolved": params, "tasks": resolved_tasks, "layers": [], "notes": []}),
    );
    let tasks: String = run
        .tasks
        .iter()
        .map(|t| {
            format!(
                "- name: {0}\n  task_name: {0}\n  defaults: {{}}\n  output:\n    subdirectory: {0}\n    primary_metric: null\n",
                t.name
            )
        })
        .collect();
    let config = format!(
        "# written by benchy-testkit\nmodel:\n  name: {}\n  revision: null\nuse_chat_completions: false\ntasks:\n{tasks}",
        run.model
    );
    std::fs::write(dir.join("run_config.yaml"), config).expect("run_config.yaml");
    dir
}

fn write(path: &Path, value: &Json) {
    let text = serde_json::to_string_pretty(value).expect("JSON");
    std::fs::write(path, text + "\n").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// `models` models by `tasks` tasks by `runs` runs (one run-id folder each), all finished, with
/// values that differ by model: the benchmark's and the tests' many-runs layout.
pub fn write_grid(output_dir: &Path, models: usize, tasks: usize, runs: usize) {
    for run in 0..runs {
        for model in 0..models {
            let outcomes = (0..tasks)
                .map(|t| {
                    let value = ((model * 7 + t * 3 + run) % 20) as f64 / 20.0;
                    TaskOutcome::new(
                        &format!("task{t}"),
                        Some(value),
                        Some(0.01 + t as f64 / 100.0),
                    )
                })
                .collect();
            write_run(
                output_dir,
                &SyntheticRun {
                    run_id: format!("2025010{run}_120000"),
                    model: format!("org/model-{model:02}"),
                    status: "ok".into(),
                    started_at: format!("2025-01-0{}T12:00:00Z", run + 1),
                    temperature: 0.7,
                    tasks: outcomes,
                    failed_tasks: Vec::new(),
                },
            );
        }
    }
}
