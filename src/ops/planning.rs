//! Asking backends for plans: the run as backends see it, the server a run launches (planned
//! by the provider's server backend), and the jobs (planned by the task backend).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use benchy_core::backend::{ModelView, ProviderView, RunOptions, ServerInfo, TaskView};
use benchy_core::{Backend, Plan, PlanRequest, ProcessSpec, Resolved, Role, RunView};
use serde_json::Value as Json;

use crate::envs::{EnvInfo, EnvStore, availability_check};
use crate::plugin::Registry;
use crate::plugin::builtins::DEFAULT_SERVER_BACKEND;
use crate::plugin::manifest::Kind;
use crate::resolution::Resolution;
use crate::run_config::{Model, ModelLocation, RunConfig};
use crate::runner::Runner;
use crate::util::secrets;

/// The run as backends see it, with the tasks named in `only` (all when empty).
pub fn run_view(resolution: &Resolution, only: &[String]) -> RunView {
    let mut view = config_view(&resolution.config);
    view.resolved = resolution.run.clone();
    for (task, resolved) in view.tasks.iter_mut().zip(&resolution.tasks) {
        task.resolved = resolved.resolved.clone();
        task.mode = resolved.mode.as_ref().map(|m| m.view());
    }
    view.tasks
        .retain(|t| only.is_empty() || only.contains(&t.name));
    view
}

/// The run config as backends see it, with nothing resolved yet: enough to plan what a run
/// needs before it runs (its server's Python environments, say).
pub fn config_view(config: &RunConfig) -> RunView {
    let tasks = config
        .tasks
        .iter()
        .map(|task| TaskView {
            name: task.name.clone(),
            task_name: task.task_name.clone(),
            lm_eval_path: task.lm_eval_path.clone(),
            include_path: task.include_path.clone(),
            tokenizer_backend: task.tokenizer_backend.clone(),
            inspect_task: task.inspect_task.clone(),
            task_args: task.task_args.clone(),
            defaults: task.defaults.clone(),
            output_folder: task.output_folder().to_owned(),
            resolved: Resolved::default(),
            mode: None,
        })
        .collect();
    RunView {
        config_path: config.path.clone(),
        model: model_view(&config.model),
        provider: config.provider.as_ref().map(|p| ProviderView {
            name: p.name.clone(),
            path: p.path.clone(),
            backend: p.backend.clone(),
            settings: p.settings.clone(),
        }),
        use_chat_completions: config.use_chat_completions,
        resolved: Resolved::default(),
        tasks,
    }
}

fn model_view(model: &Model) -> ModelView {
    ModelView {
        name: model.name.clone(),
        revision: model.revision.clone(),
        local_dir: match &model.location {
            ModelLocation::Local { dir } => Some(dir.clone()),
            ModelLocation::Hub { .. } => None,
        },
        short_name: model.short_name(),
    }
}

/// The names an existing server (`--server-url`) may serve the model under: the short name
/// benchy's own launch uses, and `model.name` as written, which is what `vllm serve org/name`
/// serves it as.
pub fn served_names(model: &Model) -> Vec<String> {
    let mut names = vec![model.short_name()];
    if model.name != names[0] {
        names.push(model.name.clone());
    }
    names
}

/// The server a run launches: the backend that planned it, its process, and the whole plan.
#[derive(Debug)]
pub struct ServerPlan {
    pub backend: String,
    pub spec: ProcessSpec,
    pub plan: Plan,
}

impl ServerPlan {
    /// What clients will see (the base URL still holds the port placeholder until it starts).
    pub fn template(&self) -> Option<&ServerInfo> {
        self.plan.server.as_ref()
    }

    /// Builds the Python environments the server runs from, when they are not ready, and
    /// returns the server's spec pointing at them and what each holds.
    pub async fn prepare(
        &self,
        store: &EnvStore,
        runner: &Runner,
    ) -> Result<(ProcessSpec, Vec<EnvInfo>)> {
        let mut built = Vec::new();
        for env in &self.plan.environments {
            built.push(store.ensure(env, runner).await?);
        }
        Ok((store.fill(&self.spec, &self.plan.environments), built))
    }

    /// Checks, before anything starts, that the package index has what every environment not
    /// yet built asks for; their requirement files go in `dir`.
    pub fn environment_checks(&self, store: &EnvStore, dir: &Path) -> Result<Vec<ProcessSpec>> {
        self.plan
            .environments
            .iter()
            .filter(|env| store.ready(&env.name).is_none())
            .map(|env| availability_check(env, dir))
            .collect()
    }

    /// Asks the provider's server backend (the default one without a provider) to plan the
    /// server of `view`.
    pub fn new(registry: &Registry, view: &RunView, options: &RunOptions) -> Result<ServerPlan> {
        let name = view
            .provider
            .as_ref()
            .map_or(DEFAULT_SERVER_BACKEND, |p| p.backend.as_str());
        let backend = registry.backend(Kind::ServerBackend, name)?;
        let plan = backend.plan(&PlanRequest {
            run: view.clone(),
            server: None,
            options: options.clone(),
            answers: BTreeMap::new(),
        })?;
        register_secrets(&plan);
        let spec = plan
            .processes
            .iter()
            .find(|p| p.role == Role::Server)
            .cloned()
            .with_context(|| format!("the server backend `{name}` planned no server"))?;
        Ok(ServerPlan {
            backend: name.to_owned(),
            spec,
            plan,
        })
    }
}

/// The task backend's plan of the jobs of `view` against `server`, given the answers to its
/// questions so far (the plan may ask more: see [`crate::ops::questions`]).
pub fn plan_jobs(
    backend: &Arc<dyn Backend>,
    view: &RunView,
    server: &ServerInfo,
    options: &RunOptions,
    answers: &BTreeMap<String, Json>,
) -> Result<Plan> {
    let plan = backend.plan(&PlanRequest {
        run: view.clone(),
        server: Some(server.clone()),
        options: options.clone(),
        answers: answers.clone(),
    })?;
    register_secrets(&plan);
    Ok(plan)
}

/// A plan's secrets are masked from the moment it exists, before anything is shown or written.
fn register_secrets(plan: &Plan) {
    plan.checks
        .iter()
        .chain(&plan.processes)
        .for_each(secrets::register_spec);
}
