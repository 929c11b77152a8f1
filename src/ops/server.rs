//! A model's server, as eval and serve both have it: one benchy launches (planned by the
//! provider's server backend) or one already running (`--server-url`), and getting it ready.

use std::path::Path;

use anyhow::{Context, Result};
use benchy_core::backend::{RunOptions, ServerInfo};
use benchy_core::{EnvValue, ProcessSpec, RunView};
use serde_json::{Value as Json, json};

use super::planning::ServerPlan;
use crate::envs::{EnvInfo, EnvStore};
use crate::plugin::Registry;
use crate::runner::Runner;
use crate::runner::server::RunningServer;
use crate::runner::server_url::ServerUrl;
use crate::util::secrets;

/// The server a model's jobs talk to.
#[derive(Debug)]
pub enum Server {
    /// One benchy launches for the model.
    Launched(Box<ServerPlan>),
    /// `--server-url`: one that is already running.
    Given(ServerUrl),
}

/// What is about to be made ready, for a record written before the wait.
#[derive(Debug)]
pub enum Starting<'a> {
    /// A launched server: its backend, its process (environments filled in) and what each of
    /// its environments holds.
    Launch {
        backend: &'a str,
        spec: &'a ProcessSpec,
        envs: &'a [EnvInfo],
    },
    /// A server already running there.
    Attach(&'a ServerUrl),
}

impl Server {
    /// The given server, else the one the provider's server backend plans for `view`.
    pub fn plan(
        registry: &Registry,
        view: &RunView,
        options: &RunOptions,
        given: Option<&ServerUrl>,
    ) -> Result<Server> {
        Ok(match given {
            Some(url) => Server::Given(url.clone()),
            None => Server::Launched(Box::new(ServerPlan::new(registry, view, options)?)),
        })
    }

    /// The server benchy launches, if it launches one.
    pub fn launched(&self) -> Option<&ServerPlan> {
        match self {
            Server::Launched(plan) => Some(plan),
            Server::Given(_) => None,
        }
    }

    /// The server as the jobs will see it: the launched server's template (its port still a
    /// placeholder), or the given one.
    pub fn template(&self, view: &RunView) -> Result<ServerInfo> {
        match self {
            Server::Launched(plan) => plan.template().cloned().with_context(|| {
                format!("the server backend `{}` planned no address", plan.backend)
            }),
            Server::Given(url) => Ok(ServerInfo {
                base_url: url.api_base(),
                model: view.model.short_name.clone(),
                max_model_len: None,
                capacity: None,
            }),
        }
    }

    /// The server's command as planned (environments still placeholders, secrets masked), or
    /// the URL of the server given: what decides a task's numbers of the server.
    pub fn identity(&self) -> Json {
        match self {
            Server::Launched(plan) => json!({
                "backend": plan.backend,
                "command": secrets::shown_command(&plan.spec),
            }),
            Server::Given(url) => json!({"url": secrets::mask(url.root())}),
        }
    }

    /// How many of a node's devices a launched server needs: `Some(None)` for the whole node (a
    /// server that does not say, or pins its own); `None` for a server benchy does not launch.
    pub fn device_need(&self) -> Option<Option<usize>> {
        self.launched()
            .map(|plan| plan.spec.devices.as_ref().map(|need| need.count))
    }

    /// Gets the server ready for the model served as one of `names`: a launched one's
    /// environments are built when missing and it is started on `devices` (when the node's
    /// devices are shared out) with its log in `log_dir`; a given one is waited for. `starting`
    /// hears what is about to be made ready first.
    pub async fn start(
        &self,
        envs: &EnvStore,
        runner: &Runner,
        log_dir: &Path,
        names: &[String],
        devices: Option<&[String]>,
        starting: impl FnOnce(Starting<'_>) -> Result<()>,
    ) -> Result<RunningServer> {
        match self {
            Server::Launched(plan) => {
                let (mut spec, built) = plan.prepare(envs, runner).await?;
                if let (Some(need), Some(devices)) = (&spec.devices, devices) {
                    let ids = devices.join(&need.separator);
                    spec.env.insert(need.variable.clone(), EnvValue::plain(ids));
                }
                starting(Starting::Launch {
                    backend: &plan.backend,
                    spec: &spec,
                    envs: &built,
                })?;
                runner.start_server(&spec, plan.template(), log_dir).await
            }
            Server::Given(url) => {
                starting(Starting::Attach(url))?;
                runner.attach_server(url, names).await
            }
        }
    }
}
