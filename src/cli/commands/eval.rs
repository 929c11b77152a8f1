//! `benchy eval`: the flags as the eval operation's options (see [`crate::ops::eval`]).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::EvalArgs;
use crate::ops::eval::{self, EvalOptions};
use crate::plugin::Registry;
use crate::settings::Settings;
use crate::slurm::ExecutorOptions;

pub fn run(args: &EvalArgs, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    let options = EvalOptions {
        configs: args.resolve.configs.clone(),
        resolve: args.resolve.options(),
        server_url: args.server.checked_url()?,
        backend: args.backend.clone(),
        tasks: args.tasks.clone(),
        limit: args.limit,
        run_id: args.run_id.clone(),
        output_dir: args.output_dir.clone(),
        log_samples: args.log_samples,
        repeats: args.repeats,
        jobs: args.jobs,
        dry_run: args.dry_run,
        check: args.check,
        rerun: args.rerun,
        audit: args.audit.into(),
        cache: args.cache.map(Into::into),
        gpus: args.gpus.clone(),
        executor: ExecutorOptions {
            kind: args.executor.map(Into::into),
            config: args.executor_config.clone(),
            wait: args.wait,
            requeue: args.requeue,
        },
    };
    eval::run(&options, registry, settings)
}
