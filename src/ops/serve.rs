//! Serve: resolve the generation parameters, start the model's server with them as its defaults
//! (planned by the provider's server backend), print one line once it serves the model, and keep
//! it up until Ctrl-C. With the audit it serves through an auditing proxy that checks every
//! client request against the resolved set.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use benchy_core::Resolved;
use benchy_core::backend::RunOptions;

use super::planning::{run_view, served_names};
use super::server::Server;
use crate::envs::EnvStore;
use crate::plugin::Registry;
use crate::proof::wire_audit::{AuditMode, JobAudits, any_client};
use crate::resolution::{ResolveOptions, resolve};
use crate::runner::server::RunningServer;
use crate::runner::server_url::ServerUrl;
use crate::runner::{self, Runner};
use crate::settings::Settings;
use crate::store::layout::WIRE_AUDIT;
use crate::util::atomic::write_json;
use crate::util::env_vars::benchy_home;
use crate::util::notes;
use crate::util::stdio::{errln, outln};

/// What the user asked of `benchy serve`.
#[derive(Debug)]
pub struct ServeOptions {
    pub config: PathBuf,
    pub resolve: ResolveOptions,
    /// A server already running: benchy only waits until it lists the model.
    pub server_url: Option<ServerUrl>,
    /// Serve through an auditing proxy.
    pub audit: bool,
}

pub fn run(options: &ServeOptions, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    // Sources may block on the network: resolve before the runtime starts.
    let resolution = resolve(&options.config, &options.resolve, registry, settings)?;
    notes::print(&resolution.diagnostics);
    let view = run_view(&resolution, &[]);
    let log_dir = serve_dir(&view.model.short_name);
    let run_options = RunOptions {
        run_dir: log_dir.clone(),
        limit: None,
        log_samples: false,
        home: benchy_home(),
        max_concurrent: None,
    };
    let server = Server::plan(registry, &view, &run_options, options.server_url.as_ref())?;
    if let Some(plan) = server.launched() {
        notes::print(&plan.plan.diagnostics);
    }
    let names = served_names(&resolution.config.model);
    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        let envs = EnvStore::new(&benchy_home());
        let running = server
            .start(&envs, &runner, &log_dir, &names, None, |_| Ok(()))
            .await?;
        if options.audit {
            return serve_audited(running, &resolution.run, &log_dir).await;
        }
        outln!(
            "Serving {} at {}",
            running.info.model,
            running.info.base_url
        );
        if server.launched().is_none() {
            errln!("benchy did not start this server and leaves it running");
            return Ok(ExitCode::SUCCESS);
        }
        running.serve_until_interrupted().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Serves through an auditing proxy until Ctrl-C, then prints the audit and writes it to
/// `wire_audit.json` in `log_dir`. A server benchy attached to is left running.
async fn serve_audited(
    server: RunningServer,
    resolved: &Resolved,
    log_dir: &Path,
) -> Result<ExitCode> {
    let mut audits = JobAudits::default();
    let proxy = audits
        .add(
            "clients",
            &[],
            Some(any_client(resolved)),
            &server.info.base_url,
        )
        .await?;
    outln!("Serving {} at {proxy}/v1", server.info.model);
    errln!("every request through {proxy} is audited against the resolved parameters");
    let served = server.serve_until_interrupted().await;
    let audit = audits.finish(AuditMode::On).await;
    let file = log_dir.join(WIRE_AUDIT);
    write_json(&file, &audit)?;
    errln!("wire audit: {}", audit.verdict);
    for deviation in audit.jobs.iter().flat_map(|j| &j.report.deviations) {
        errln!("  {}", deviation.describe());
    }
    errln!("the audit is in {}", file.display());
    served.map(|()| ExitCode::SUCCESS)
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
