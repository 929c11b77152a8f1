//! `--backend smoke`: a task backend that sends one completion request per task, with the
//! resolved parameters in the API's names, and scores whether the server answered. It checks
//! that a server and its parameters work before a long run; it is also the example of a task
//! backend. The backend only describes the jobs (a shell running curl); benchy runs them.

use std::collections::BTreeMap;
use std::path::Path;

use benchy_core::backend::{
    Backend, CollectRequest, Collected, Metric, Plan, PlanRequest, ProcessOutcome, Sampling,
    ServerInfo, TaskResult, TaskView,
};
use benchy_core::process::{EnvValue, ProcessSpec, Role};
use benchy_core::source::{MAX_TEXT_FILE_BYTES, read_text_file};
use benchy_core::{BackendError, Expectation, Problem};
use serde_json::{Map, Value as Json, json};

#[derive(Debug, Default)]
pub struct Smoke;

benchy_core::export_plugin! {
    task_backends: ["smoke" => Smoke],
}

/// The job: keep the request body it was given, post it, keep the answer. curl's exit code is
/// the job's, so a server error fails the task.
const SCRIPT: &str = r#"mkdir -p "$SMOKE_DIR" && cd "$SMOKE_DIR" &&
printf '%s' "$SMOKE_BODY" > request.json &&
curl --silent --show-error --fail --max-time 600 -H 'Content-Type: application/json' \
  --data-binary @request.json -o response.json "$SMOKE_URL""#;

impl Backend for Smoke {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        let server = request.server.as_ref().ok_or_else(|| {
            BackendError::input("smoke is a task backend: it cannot launch a server")
        })?;
        let processes = request
            .run
            .tasks
            .iter()
            .map(|task| job(task, server, &request.options.run_dir))
            .collect();
        Ok(Plan {
            processes,
            ..Plan::default()
        })
    }

    fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError> {
        let mut collected = Collected::default();
        for outcome in request.outcomes.iter().filter(|o| o.succeeded()) {
            for task in request
                .run
                .tasks
                .iter()
                .filter(|t| outcome.tasks.contains(&t.name))
            {
                collected.results.push(result(task, outcome)?);
            }
        }
        Ok(collected)
    }
}

/// One task's job: its request body is the resolved set in the API's names, plus the model and
/// a prompt naming the task.
fn job(task: &TaskView, server: &ServerInfo, run_dir: &Path) -> ProcessSpec {
    let dir = run_dir.join(&task.output_folder);
    let mut body = task.resolved.openai_params();
    body.insert("model".into(), json!(server.model));
    body.insert("prompt".into(), json!(format!("{}:", task.task_name)));
    let env = BTreeMap::from([
        (
            "SMOKE_BODY".to_owned(),
            EnvValue::plain(Json::Object(body).to_string()),
        ),
        (
            "SMOKE_DIR".to_owned(),
            EnvValue::plain(dir.display().to_string()),
        ),
        (
            "SMOKE_URL".to_owned(),
            EnvValue::plain(format!("{}/completions", server.base_url)),
        ),
    ]);
    ProcessSpec {
        env,
        // the body above is all its request carries
        expects: Some(Expectation::exactly(&task.resolved.openai_params())),
        tasks: vec![task.name.clone()],
        output_dir: Some(dir),
        timeout_secs: Some(660.0),
        ..ProcessSpec::new(
            format!("smoke[{}]", task.name),
            Role::Job,
            "sh",
            vec!["-c".to_owned(), SCRIPT.to_owned()],
            format!("smoke-{}.log", task.output_folder),
        )
    }
}

/// What the job kept: the request as it went out (its sampling fields are what the tool
/// recorded) and the server's answer (`answered` is 1 when it holds generated text).
fn result(task: &TaskView, outcome: &ProcessOutcome) -> Result<TaskResult, BackendError> {
    let dir = outcome.output_dir.as_deref().unwrap_or(Path::new("."));
    let mut sent = read_json(&dir.join("request.json"))?;
    sent.remove("model");
    sent.remove("prompt");
    let answer = read_json(&dir.join("response.json"))?;
    let text = answer["choices"][0]["text"].as_str().unwrap_or_default();
    Ok(TaskResult {
        task: task.name.clone(),
        name: task.name.clone(),
        sampling: Sampling::Generate,
        metrics: vec![Metric {
            name: "answered".into(),
            filter: None,
            value: json!(if text.is_empty() { 0 } else { 1 }),
            stderr: None,
            samples: Vec::new(),
        }],
        sent_generation: Some(task.resolved.openai_params()),
        recorded_generation: Some(sent),
        samples: Some(1),
        dataset: None,
    })
}

fn read_json(path: &Path) -> Result<Map<String, Json>, BackendError> {
    let failed = |why: String| {
        BackendError::Failed(Box::new(
            Problem::new(why).in_file(path.display().to_string()),
        ))
    };
    let text = read_text_file(path, MAX_TEXT_FILE_BYTES).map_err(failed)?;
    serde_json::from_str(&text).map_err(|e| failed(format!("not a JSON object: {e}")))
}
