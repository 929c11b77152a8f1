//! Planning: the run's tasks grouped into lm-eval processes, and each process's command line.
//!
//! Tasks share one process when everything that shapes the process is equal: the same lm-eval
//! and folder, include path, settings, route, mode and resolved parameters. lm-eval spends
//! seconds indexing its tasks on every start, so sharing is worth it; different parameter sets
//! must be separate processes because `--gen_kwargs` applies to every task of a process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json, json};

use benchy_core::backend::{Capacity, ModeView, PlanRequest, RunView, ServerInfo, TaskView};
use benchy_core::process::{EnvValue, ProcessSpec, Role};
use benchy_core::{BackendError, Diagnostic, Key, ParamValue};

use crate::executable::LmEval;
use crate::expectation::for_job;
use crate::gen_kwargs::sent;
use crate::routes::{Route, leaves, route};
use crate::settings::TaskSettings;
use crate::task_types::{Leaf, TaskTypes};

/// One lm-eval process and the run tasks it covers.
#[derive(Debug)]
pub struct Job<'a> {
    pub lm_eval: LmEval,
    pub settings: TaskSettings,
    pub include_path: Option<PathBuf>,
    pub tokenizer_backend: Option<String>,
    pub gen_kwargs: Map<String, Json>,
    pub seed: Option<i64>,
    pub route: Route,
    /// Whether a task of the job generates text, when lm-eval said: a job holds at most one
    /// task that does, so each one's answers are its own.
    pub generates: Option<bool>,
    /// Its tasks are known to lm-eval (it was asked): no `validate` check is needed.
    pub asked: bool,
    pub tasks: Vec<&'a TaskView>,
}

/// Groups tasks into jobs, keeping the run config's order; `types` is what lm-eval said of the
/// tasks whose route depends on it.
pub fn group<'a>(
    run: &'a RunView,
    locate: impl Fn(&TaskView) -> Result<LmEval, BackendError>,
    types: &TaskTypes,
) -> Result<Vec<Job<'a>>, BackendError> {
    let mut jobs: Vec<Job<'a>> = Vec::new();
    for task in &run.tasks {
        let lm_eval = locate(task)?;
        let leaves = leaves(task, types, &lm_eval)?;
        let route = route(task, run.use_chat_completions, leaves)?;
        let candidate = Job {
            generates: leaves.map(|l| l.iter().any(Leaf::generates)),
            asked: leaves.is_some(),
            settings: TaskSettings::from_task(task)?,
            include_path: task.include_path.clone(),
            tokenizer_backend: task.tokenizer_backend.clone(),
            gen_kwargs: sent(task, route.is_chat()),
            seed: match task.resolved.get(&Key::Seed) {
                Some(ParamValue::Int(seed)) => Some(*seed),
                _ => None,
            },
            lm_eval,
            route,
            tasks: vec![task],
        };
        match jobs
            .iter_mut()
            .find(|job| job.shares_process_with(&candidate))
        {
            Some(job) => {
                job.tasks.push(task);
                job.generates = job.generates.max(candidate.generates);
                job.asked &= candidate.asked;
            }
            None => jobs.push(candidate),
        }
    }
    Ok(jobs)
}

impl<'a> Job<'a> {
    fn shares_process_with(&self, other: &Job<'_>) -> bool {
        self.lm_eval == other.lm_eval
            && self.settings == other.settings
            && self.include_path == other.include_path
            && self.tokenizer_backend == other.tokenizer_backend
            && self.gen_kwargs == other.gen_kwargs
            && self.route == other.route
            && !(self.generates == Some(true) && other.generates == Some(true))
    }

    /// The mode of a chat job's tasks (they share it: a mode is in their parameters and route).
    fn mode(&self) -> Option<&ModeView> {
        self.route.mode()
    }

    /// `a+b` from the covered tasks' folder names: the job's name in logs and file names.
    pub fn slug(&self) -> String {
        self.tasks
            .iter()
            .map(|t| t.output_folder.as_str())
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The folder lm-eval writes to: the first task's folder (the others get their files from
    /// it when the job ends, see `results::place_files`).
    pub fn output_dir(&self, run_dir: &Path) -> PathBuf {
        run_dir.join(&self.tasks[0].output_folder)
    }

    /// The folder lm-eval runs in: the task's `lm_eval_path` (as the Python tool did), else its
    /// include path, because lm-eval resolves a task's relative `data_files` against the
    /// working directory rather than the task file.
    fn cwd(&self) -> Option<PathBuf> {
        self.lm_eval
            .cwd
            .clone()
            .or_else(|| self.include_path.clone())
    }

    /// Requests in flight, with where the number comes from: the task's `num_concurrent`, else
    /// the server's capacity under the host's cap (one prompt per request, so the server's
    /// batching fills the device), else lm-eval's own default of one.
    pub fn concurrency(&self, request: &PlanRequest, server: &ServerInfo) -> Capacity {
        if let Some(requests) = self.settings.num_concurrent {
            return Capacity {
                requests,
                source: format!("task `{}`: defaults.num_concurrent", self.tasks[0].name),
            };
        }
        request
            .options
            .requests_in_flight(server)
            .unwrap_or_else(|| Capacity {
                requests: 1,
                source: "lm-eval's default; the server's capacity is not known".into(),
            })
    }

    /// The `lm_eval run` process for this job.
    pub fn spec(
        &self,
        request: &PlanRequest,
        server: &ServerInfo,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> ProcessSpec {
        let chat = self.route.is_chat();
        let model_args = self.model_args(request, server, chat, diagnostics);
        let mut args: Vec<String> = vec![
            "run".into(),
            "--model".into(),
            if chat {
                "local-chat-completions"
            } else {
                "local-completions"
            }
            .into(),
            "--model_args".into(),
            Json::Object(model_args).to_string(),
            "--tasks".into(),
            self.tasks
                .iter()
                .map(|t| t.task_name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            // One JSON object: lm-eval parses it as JSON and keeps its types exactly
            // (lm_eval/_cli/utils.py, MergeDictAction / try_parse_json).
            "--gen_kwargs".into(),
            Json::Object(self.gen_kwargs.clone()).to_string(),
            "--output_path".into(),
            self.output_dir(&request.options.run_dir)
                .display()
                .to_string(),
            "--batch_size".into(),
            self.settings.batch_size.clone(),
        ];
        if let Some(include) = &self.include_path {
            args.extend(["--include_path".into(), include.display().to_string()]);
        }
        if request.options.log_samples || self.settings.log_samples {
            args.push("--log_samples".into());
        }
        if let Some(limit) = request.options.limit {
            args.extend(["--limit".into(), format_limit(limit)]);
        }
        if let Some(n) = self.settings.num_fewshot {
            args.extend(["--num_fewshot".into(), n.to_string()]);
        }
        if self.settings.cache_requests {
            args.extend(["--cache_requests".into(), "true".into()]);
        }
        if self.settings.trust_remote_code {
            args.push("--trust_remote_code".into());
        }
        if chat {
            args.push("--apply_chat_template".into());
        }
        if let Some(prompt) = self.mode().and_then(|m| m.system_prompt.as_ref()) {
            args.extend(["--system_instruction".into(), prompt.clone()]);
        }
        let mut env = BTreeMap::new();
        if let Some(devices) = &self.settings.cuda_devices {
            env.insert("CUDA_VISIBLE_DEVICES".to_owned(), EnvValue::plain(devices));
        }
        ProcessSpec {
            env,
            cwd: self.cwd(),
            expects: Some(for_job(self.tasks[0], &self.route)),
            tasks: self.tasks.iter().map(|t| t.name.clone()).collect(),
            output_dir: Some(self.output_dir(&request.options.run_dir)),
            ..ProcessSpec::new(
                format!("lm-eval[{}]", self.slug()),
                Role::Job,
                self.lm_eval.program.display().to_string(),
                args,
                format!("lm-eval-{}.log", self.slug()),
            )
        }
    }

    /// Connection settings only: never a sampling parameter (lm-eval's API models ignore
    /// those in model arguments without a word, lm_eval/models/api_models.py `**kwargs`).
    fn model_args(
        &self,
        request: &PlanRequest,
        server: &ServerInfo,
        chat: bool,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Map<String, Json> {
        let base = server.base_url.trim_end_matches('/');
        let mut args = Map::new();
        args.insert("model".into(), json!(server.model));
        let endpoint = if chat {
            "chat/completions"
        } else {
            "completions"
        };
        args.insert("base_url".into(), json!(format!("{base}/{endpoint}")));
        let in_flight = self.concurrency(request, server).requests;
        args.insert("num_concurrent".into(), json!(in_flight));
        args.insert("max_retries".into(), json!(self.settings.max_retries));
        if !chat {
            // The server's own tokenizer, through /tokenize: the ids sent are the ids vLLM
            // scores, with no BOS added to text prompts and no tokenizer download.
            match self.tokenizer_backend.as_deref().unwrap_or("remote") {
                "huggingface" => {
                    args.insert("tokenizer_backend".into(), json!("huggingface"));
                    let tokenizer = request.run.model.local_dir.as_ref().map_or_else(
                        || request.run.model.name.clone(),
                        |d| d.display().to_string(),
                    );
                    args.insert("tokenizer".into(), json!(tokenizer));
                    args.insert("tokenized_requests".into(), json!(true));
                }
                // No tokenizer: prompts go as text, which only generate tasks can use.
                none @ ("none" | "None") => {
                    args.insert("tokenizer_backend".into(), json!(none));
                    args.insert("tokenized_requests".into(), json!(false));
                }
                other => {
                    args.insert("tokenizer_backend".into(), json!(other));
                    args.insert("tokenized_requests".into(), json!(true));
                }
            }
        }
        let max_length = server.max_model_len.or(self.settings.max_length);
        if let (Some(server_len), Some(task_len)) = (server.max_model_len, self.settings.max_length)
            && server_len != task_len
        {
            diagnostics.push(Diagnostic::info(format!(
                "lm-eval[{}]: max_length {task_len} from the task's defaults is replaced by \
                     the server's maximum model length {server_len}",
                self.slug()
            )));
        }
        if let Some(len) = max_length {
            args.insert("max_length".into(), json!(len));
        }
        if self.settings.trust_remote_code {
            args.insert("trust_remote_code".into(), json!(true));
        }
        if let Some(seed) = self.seed {
            args.insert("seed".into(), json!(seed));
        }
        if let Some(timeout) = self.settings.timeout {
            args.insert("timeout".into(), json!(timeout));
        }
        // lm-eval scores the text after the last `think_end_token` (postprocess_generated_text
        // in lm_eval/models/utils.py): the answer alone, when the server did not split it off.
        if let Some(mode) = self.mode().filter(|m| m.thinks) {
            args.insert("think_end_token".into(), json!(mode.think_end));
        }
        args
    }
}

/// `--limit`: a whole count as an integer, a fraction as written.
fn format_limit(limit: f64) -> String {
    if limit.fract() == 0.0 {
        format!("{}", limit as u64)
    } else {
        limit.to_string()
    }
}
