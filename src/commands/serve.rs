//! `benchy serve`: resolve the generation parameters, start the model's server with them as its
//! defaults, print one line once it serves the model, and keep it up until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use benchy_core::backend::RunOptions;
use benchy_core::{BackendError, EnvVars, PlanRequest, Registry, Role, RunView};

use crate::cli::ServeArgs;
use crate::failure::bad_input;
use crate::resolution::resolve;
use crate::runner::{self, Runner};

/// The backend that launches servers.
const SERVER_BACKEND: &str = "vllm";

pub fn run(args: &ServeArgs, registry: &Registry) -> Result<ExitCode> {
    // Sources may block on the network: resolve before the runtime starts.
    let resolution = resolve(&args.resolve, registry)?;
    for diagnostic in &resolution.diagnostics {
        eprintln!("{diagnostic}");
    }
    if let Some(url) = &args.server.server_url {
        return attach(url, &resolution.config.model.short_name());
    }
    let view = RunView::new(&resolution.config, resolution.run.clone(), |task| {
        resolution
            .tasks
            .iter()
            .find(|t| t.name == task.name)
            .map(|t| t.resolved.clone())
            .unwrap_or_default()
    });
    let log_dir = serve_dir(&view.model.short_name);
    let backend = registry
        .backend(SERVER_BACKEND)
        .map_err(|e| bad_input(e.to_string()))?;
    let plan = backend
        .plan(&PlanRequest {
            run: view,
            server: None,
            options: RunOptions {
                run_dir: log_dir.clone(),
                limit: None,
                log_samples: false,
            },
        })
        .map_err(|e| match e {
            BackendError::Input(message) => bad_input(message),
            BackendError::Failed(message) => anyhow::anyhow!(message),
        })?;
    for diagnostic in &plan.diagnostics {
        eprintln!("{diagnostic}");
    }
    let spec = plan
        .processes
        .iter()
        .find(|p| p.role == Role::Server)
        .context("the vllm backend planned no server")?;

    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        let server = runner
            .start_server(spec, plan.server.as_ref(), &log_dir)
            .await?;
        println!("Serving {} at {}", server.info.model, server.info.base_url);
        server.serve_until_interrupted().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// How long an existing server may take to list the model: the start-up time a launched server
/// gets by default, since it may still be loading.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(900);

/// `--server-url`: wait until that server serves the model, say so, and leave it running.
fn attach(url: &str, model: &str) -> Result<ExitCode> {
    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        let server = runner.attach_server(url, model, ATTACH_TIMEOUT).await?;
        println!("Serving {} at {}", server.info.model, server.info.base_url);
        eprintln!("benchy did not start this server and leaves it running");
        Ok(ExitCode::SUCCESS)
    })
}

/// Where a `serve` keeps its log: `$BENCHY_HOME/serve/<model>-<unix time>-<pid>/`, with
/// BENCHY_HOME defaulting to the user cache directory's `benchy`.
fn serve_dir(model: &str) -> PathBuf {
    let home = std::env::var_os(EnvVars::BENCHY_HOME)
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("benchy")))
        .unwrap_or_else(|| std::env::temp_dir().join("benchy"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    home.join("serve")
        .join(format!("{model}-{now}-{}", std::process::id()))
}
