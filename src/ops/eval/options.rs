//! What the user asked of `benchy eval`, as plain options (the command line's flags, parsed and
//! checked), and the same options written back as the command line each Slurm array task runs.

use std::path::PathBuf;

use crate::cache::Mode as CacheMode;
use crate::proof::wire_audit::AuditMode;
use crate::resolution::ResolveOptions;
use crate::runner::server_url::ServerUrl;
use crate::settings::Jobs;
use crate::slurm::{Arg, ExecutorOptions};

/// `benchy eval`'s options.
#[derive(Debug)]
pub struct EvalOptions {
    /// Run configs, folders of them or `.txt` lists, as given.
    pub configs: Vec<PathBuf>,
    pub resolve: ResolveOptions,
    /// A server already running, instead of one benchy launches per model.
    pub server_url: Option<ServerUrl>,
    /// The task backend for every model (`--backend`); each run config's `backend:`, else the
    /// default, when absent.
    pub backend: Option<String>,
    /// Only these tasks (the run config's names); all when empty.
    pub tasks: Vec<String>,
    /// Examples per task: a count, or a fraction below 1.
    pub limit: Option<f64>,
    pub run_id: Option<String>,
    pub output_dir: Option<PathBuf>,
    pub log_samples: bool,
    /// `--repeats`: how many times each generating task runs, over the run configs'.
    pub repeats: Option<u32>,
    /// How many of a model's jobs run at once; the `jobs` setting when `None`.
    pub jobs: Option<Jobs>,
    /// Show what would run; start nothing.
    pub dry_run: bool,
    /// Run the checks and stop.
    pub check: bool,
    /// Run every task again.
    pub rerun: bool,
    pub audit: AuditMode,
    /// `--cache`: the response cache's mode, over the `cache` setting.
    pub cache: Option<CacheMode>,
    /// `--gpus`: the node's devices the suite's servers share; the `gpus` setting when `None`.
    pub gpus: Option<String>,
    pub executor: ExecutorOptions,
}

impl EvalOptions {
    /// What every Slurm array task runs: `benchy` (this one), `eval` of its model's run config
    /// ([`Arg::Config`]) with the run id, output folder, plugin files and options given here,
    /// on the local executor (the array task *is* the model's run; a settings file saying
    /// `kind = "slurm"` must not make it submit again).
    pub fn array_command(
        &self,
        benchy: String,
        plugins: Vec<String>,
        run_id: &str,
        output_dir: String,
    ) -> Vec<Arg> {
        // Every field named: an option added to `eval` does not compile until it is passed on
        // here (or said not to be).
        let EvalOptions {
            configs: _,
            resolve:
                ResolveOptions {
                    sources,
                    sets,
                    offline,
                    require_sources,
                    mode,
                },
            server_url,
            backend,
            tasks,
            limit,
            run_id: _,
            output_dir: _,
            log_samples,
            repeats,
            jobs,
            dry_run: _,
            check: _,
            rerun,
            audit,
            cache,
            // An array task is one model on the devices Slurm gave it: nothing to share out.
            gpus: _,
            executor: _,
        } = self;
        let mut words = vec![
            Arg::Text(benchy),
            Arg::Text("eval".to_owned()),
            Arg::Text("-c".to_owned()),
            Arg::Config,
        ];
        let valued: [(&str, Vec<String>); 16] = [
            ("--run-id", vec![run_id.to_owned()]),
            ("--output-dir", vec![output_dir]),
            ("--executor", vec!["local".to_owned()]),
            ("--plugin", plugins),
            ("--source", sources.clone()),
            ("--set", sets.clone()),
            ("--require-source", require_sources.clone()),
            ("--mode", mode.iter().cloned().collect()),
            (
                "--server-url",
                server_url.iter().map(|u| u.root().to_owned()).collect(),
            ),
            ("--backend", backend.iter().cloned().collect()),
            ("--task", tasks.clone()),
            ("--limit", limit.iter().map(ToString::to_string).collect()),
            (
                "--repeats",
                repeats.iter().map(ToString::to_string).collect(),
            ),
            ("--jobs", jobs.iter().map(ToString::to_string).collect()),
            ("--audit", vec![audit.as_str().to_owned()]),
            (
                "--cache",
                cache.iter().map(|m| m.as_str().to_owned()).collect(),
            ),
        ];
        for (flag, values) in valued {
            for value in values {
                words.extend([Arg::Text(flag.to_owned()), Arg::Text(value)]);
            }
        }
        let flags = [
            ("--offline", *offline),
            ("--log-samples", *log_samples),
            ("--rerun", *rerun),
        ];
        for (flag, given) in flags {
            if given {
                words.push(Arg::Text(flag.to_owned()));
            }
        }
        words
    }
}
