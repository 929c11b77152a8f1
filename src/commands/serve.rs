//! `benchy serve`: resolve the generation parameters, start the model's server with them as its
//! defaults (planned by the provider's server backend), print one line once it serves the
//! model, and keep it up until Ctrl-C. With `--audit` it serves through an auditing proxy that
//! checks every client request against the resolved set.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use benchy_core::Resolved;
use benchy_core::backend::RunOptions;

use crate::cli::ServeArgs;
use crate::env_vars::benchy_home;
use crate::envs::EnvStore;
use crate::notes;
use crate::planning::{ServerPlan, run_view, served_names};
use crate::plugin::Registry;
use crate::resolution::resolve;
use crate::runner::server::RunningServer;
use crate::runner::{self, Runner};
use crate::settings::Settings;
use crate::wire_audit::{AuditMode, JobAudits, any_client};

pub fn run(args: &ServeArgs, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    // Sources may block on the network: resolve before the runtime starts.
    let server_url = args.server.checked_url()?;
    let resolution = resolve(
        args.resolve.single_config("serve")?,
        &args.resolve,
        registry,
        settings,
    )?;
    notes::print(&resolution.diagnostics);
    let view = run_view(&resolution, &[]);
    let log_dir = serve_dir(&view.model.short_name);
    let launch = match &server_url {
        Some(_) => None,
        None => {
            let options = RunOptions {
                run_dir: log_dir.clone(),
                limit: None,
                log_samples: false,
                home: benchy_home(),
            };
            let plan = ServerPlan::new(registry, &view, &options)?;
            notes::print(&plan.plan.diagnostics);
            Some(plan)
        }
    };
    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        let server = match (&launch, &server_url) {
            (Some(plan), _) => {
                let (spec, _) = plan
                    .prepare(&EnvStore::new(&benchy_home()), &runner)
                    .await?;
                runner
                    .start_server(&spec, plan.template(), &log_dir)
                    .await?
            }
            (None, Some(url)) => {
                let names = served_names(&resolution.config.model);
                runner.attach_server(url, &names).await?
            }
            (None, None) => unreachable!("a server is planned or given"),
        };
        if args.audit {
            return serve_audited(server, &resolution.run, &log_dir).await;
        }
        println!("Serving {} at {}", server.info.model, server.info.base_url);
        if launch.is_none() {
            eprintln!("benchy did not start this server and leaves it running");
            return Ok(ExitCode::SUCCESS);
        }
        server.serve_until_interrupted().await?;
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
    let mut audits = JobAudits::new();
    let proxy = audits
        .add(
            "clients",
            &[],
            Some(any_client(resolved)),
            &server.info.base_url,
        )
        .await?;
    println!("Serving {} at {proxy}/v1", server.info.model);
    eprintln!("every request through {proxy} is audited against the resolved parameters");
    let served = server.serve_until_interrupted().await;
    let audit = audits.finish(AuditMode::On).await;
    let file = log_dir.join("wire_audit.json");
    crate::atomic::write_json(&file, &audit)?;
    eprintln!("wire audit: {}", audit.verdict);
    for deviation in audit.jobs.iter().flat_map(|j| &j.report.deviations) {
        eprintln!("  {}", deviation.describe());
    }
    eprintln!("the audit is in {}", file.display());
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
