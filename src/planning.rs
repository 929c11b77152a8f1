//! Asking backends for plans: the run as backends see it, the server a run launches, and
//! backend errors turned into exit codes (bad input 2, a failure 1).

use anyhow::{Context, Result};
use benchy_core::backend::{RunOptions, ServerInfo};
use benchy_core::{Backend, BackendError, Plan, PlanRequest, ProcessSpec, Registry, Role, RunView};

use crate::failure::bad_input;
use crate::resolution::Resolution;

/// The backend that launches servers.
pub const SERVER_BACKEND: &str = "vllm";

/// The run as backends see it, with the tasks named in `only` (all when empty).
pub fn run_view(resolution: &Resolution, only: &[String]) -> RunView {
    let mut view = RunView::new(&resolution.config, resolution.run.clone(), |task| {
        resolution
            .tasks
            .iter()
            .find(|t| t.name == task.name)
            .map(|t| t.resolved.clone())
            .unwrap_or_default()
    });
    if !only.is_empty() {
        view.tasks.retain(|t| only.contains(&t.name));
    }
    view
}

/// The names an existing server (`--server-url`) may serve the model under: the short name
/// benchy's own launch uses, and `model.name` as written, which is what `vllm serve org/name`
/// serves it as.
pub fn served_names(model: &benchy_core::Model) -> Vec<String> {
    let mut names = vec![model.short_name()];
    if model.name != names[0] {
        names.push(model.name.clone());
    }
    names
}

/// `backend.plan(request)`, its errors as exit codes.
pub fn plan(backend: &dyn Backend, request: &PlanRequest) -> Result<Plan> {
    backend.plan(request).map_err(|e| match e {
        BackendError::Input(message) => bad_input(message),
        BackendError::Failed(message) => anyhow::anyhow!(message),
    })
}

/// The server a run launches: its process, what clients will see, and the whole plan.
#[derive(Debug)]
pub struct ServerPlan {
    pub spec: ProcessSpec,
    pub plan: Plan,
}

impl ServerPlan {
    /// What clients will see (the base URL still holds the port placeholder until it starts).
    pub fn template(&self) -> Option<&ServerInfo> {
        self.plan.server.as_ref()
    }
}

pub fn server_plan(
    registry: &Registry,
    view: &RunView,
    options: &RunOptions,
) -> Result<ServerPlan> {
    let backend = registry
        .backend(SERVER_BACKEND)
        .map_err(|e| bad_input(e.to_string()))?;
    let plan = plan(
        backend.as_ref(),
        &PlanRequest {
            run: view.clone(),
            server: None,
            options: options.clone(),
        },
    )?;
    let spec = plan
        .processes
        .iter()
        .find(|p| p.role == Role::Server)
        .cloned()
        .with_context(|| format!("the {SERVER_BACKEND} backend planned no server"))?;
    Ok(ServerPlan { spec, plan })
}
