//! `benchy serve`: resolve the generation parameters, start the model's server with them as its
//! defaults (planned by the provider's server backend), print one line once it serves the
//! model, and keep it up until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use benchy_core::backend::RunOptions;

use crate::cli::ServeArgs;
use crate::env_vars::benchy_home;
use crate::notes;
use crate::planning::{ServerPlan, run_view, served_names};
use crate::plugin::Registry;
use crate::resolution::resolve;
use crate::runner::{self, Runner};
use crate::server_url::ServerUrl;

pub fn run(args: &ServeArgs, registry: &Registry) -> Result<ExitCode> {
    // Sources may block on the network: resolve before the runtime starts.
    let server_url = args.server.checked_url()?;
    let resolution = resolve(&args.resolve, registry)?;
    notes::print(&resolution.diagnostics);
    if let Some(url) = &server_url {
        return attach(url, &served_names(&resolution.config.model));
    }
    let view = run_view(&resolution, &[]);
    let log_dir = serve_dir(&view.model.short_name);
    let options = RunOptions {
        run_dir: log_dir.clone(),
        limit: None,
        log_samples: false,
        home: benchy_home(),
    };
    let server = ServerPlan::new(registry, &view, &options)?;
    notes::print(&server.plan.diagnostics);

    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        let server = runner
            .start_server(&server.spec, server.template(), &log_dir)
            .await?;
        println!("Serving {} at {}", server.info.model, server.info.base_url);
        server.serve_until_interrupted().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `--server-url`: wait until that server serves the model, say so, and leave it running.
fn attach(url: &ServerUrl, models: &[String]) -> Result<ExitCode> {
    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        let server = runner.attach_server(url, models).await?;
        println!("Serving {} at {}", server.info.model, server.info.base_url);
        eprintln!("benchy did not start this server and leaves it running");
        Ok(ExitCode::SUCCESS)
    })
}

/// Where a `serve` keeps its log: `<benchy home>/serve/<model>-<unix time>-<pid>/`.
fn serve_dir(model: &str) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    benchy_home()
        .join("serve")
        .join(format!("{model}-{now}-{}", std::process::id()))
}
