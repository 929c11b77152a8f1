//! The command line: every command, flag and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plugin::builtins::DEFAULT_TASK_BACKEND;

const PRECEDENCE_HELP: &str = "\
Generation parameters are merged from these layers, later ones winning key by key:
  1. each --source SPEC, in the order given (default: hf, the model's generation_config.json)
  2. the run config's `generation:` block
  3. the task's own `generation:` block
  4. --set KEY=VALUE flags
An explicit null in a YAML layer or --set removes a key set by an earlier layer.";

const PLUGINS_HELP: &str = "\
Plugins are found, in this order (the first to provide a name wins):
  1. --plugin PATH flags
  2. the directories in BENCHY_PLUGIN_PATH (absolute paths, separated like PATH)
  3. the user plugin directory (on Linux ~/.local/share/benchy/plugins)
never in the current directory. A plugin cannot replace a built-in source or backend: the
built-in is used and the plugin's name is reported as not used. A plugin's library is opened
only when a run needs one of its names.";

#[derive(Debug, Parser)]
#[command(
    name = "benchy",
    version,
    about = "Run LLM evaluations with the model's generation parameters resolved, proven and recorded",
    long_about = None,
    after_help = "Examples:\n  \
        benchy config explain -c configs/examples/tiny-cpu.yaml\n  \
        benchy config explain -c configs/single_card/AFM-4.5B.yaml --source hf --set temperature=0.2 --format json\n  \
        benchy eval -c configs/examples/tiny-cpu.yaml\n  \
        benchy eval -c configs/single_card/AFM-4.5B.yaml --source hf --backend lm-eval --limit 10\n  \
        benchy serve -c configs/examples/tiny-cpu.yaml\n\n\
        Exit codes: 0 success, 1 a run failed, 2 bad input or usage, 130 interrupted (143 on SIGTERM).",
    propagate_version = true
)]
pub struct Cli {
    /// Use this plugin library too (repeatable). Plugins named here come before those in
    /// BENCHY_PLUGIN_PATH and the user plugin directory; outside `benchy plugins`, a file named
    /// here that is not a usable plugin is an error
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    pub plugins: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect configuration: which generation parameters a run would use, and why
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Evaluate the model: start its server, run the tasks with every request carrying the
    /// resolved parameters, verify what the evaluator recorded, keep results and a record
    #[command(after_help = EVAL_HELP)]
    Eval(EvalArgs),

    /// Start the model's server with the resolved generation parameters as its defaults, and
    /// keep it up until Ctrl-C
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),

    /// Internal: stops a process group if benchy dies (started by benchy beside each child)
    #[command(name = "__keep", hide = true)]
    Keep {
        pgid: i32,
        grace_ms: u64,
        parent: i32,
    },
    /// List, check and install plugins: shared libraries that add sources and backends
    #[command(subcommand, after_help = PLUGINS_HELP)]
    Plugins(PluginsCommand),
}

const SERVE_HELP: &str = "\
The server is planned by the provider config's server backend (its `backend` key; vLLM by
default, see the README's provider keys) with the resolved parameters as its sampling defaults.
When it answers its health check and lists the model, benchy prints one line on stdout:
  Serving <model> at http://127.0.0.1:<port>/v1
Ctrl-C (or SIGTERM) stops the server's whole process group: SIGTERM, `stop_grace` seconds
(default 30), then SIGKILL; a second Ctrl-C kills at once. Exit code 130 (143 on SIGTERM).
With --server-url, nothing is launched: benchy waits until that server lists the model, prints
the same line and exits 0, leaving the server running.";

const EVAL_HELP: &str = "\
Before anything starts, the run config, every task's parameters and the task backend's own
checks (the default backend asks its lm-eval whether it knows every task) are run; a problem
exits 2 with nothing started. Then: the server starts (unless --server-url), the task backend's
jobs run against it (tasks with the same parameters and settings share one process; up to
--jobs at once), the server is stopped, and what the backend's tool recorded as used is
compared with what was sent (a difference fails the run). The default task backend runs
$BENCHY_LM_EVAL when set, else the task's lm_eval_path, the `make setup` environment, or lm_eval
on PATH.

Outputs, in <output-dir>/<run-id>/<model>/: run_config.yaml, generation_config.json (the model's
own file, when a source read it), resolved_generation.json, run.json (status, times, commands,
exit codes, versions), server.log, each task's folder of the tool's files, results.json,
summary.md.";

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub resolve: ResolveArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    /// The task backend that runs the tasks: a built-in (`benchy plugins list`) or a plugin's
    #[arg(long, value_name = "NAME", default_value = DEFAULT_TASK_BACKEND)]
    pub backend: String,

    /// Run only this task of the run config (repeatable; the name the run config uses)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,

    /// Examples per task: a count, or a fraction below 1
    #[arg(long, value_name = "N")]
    pub limit: Option<f64>,

    /// The run's folder name under --output-dir (default: the local time, YYYYMMDD_HHMMSS)
    #[arg(long = "run-id", value_name = "ID")]
    pub run_id: Option<String>,

    /// Where runs are kept
    #[arg(
        long = "output-dir",
        value_name = "DIR",
        default_value = "outputs/benchmark_outputs"
    )]
    pub output_dir: PathBuf,

    /// Keep every request and answer (the evaluator's samples files)
    #[arg(long = "log-samples")]
    pub log_samples: bool,

    /// How many jobs (groups of tasks with different parameters) run at once
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,

    /// Print the resolved parameters with their sources and the exact commands; start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved generation parameters with the source of every value
    #[command(after_help = PRECEDENCE_HELP)]
    Explain(ExplainArgs),
}

/// The flags every command that resolves generation parameters takes.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The run config (a model file such as configs/single_card/AFM-4.5B.yaml)
    #[arg(short = 'c', long = "config", value_name = "RUN.yaml")]
    pub config: PathBuf,

    /// A parameter source, repeatable, applied in order: hf, file:PATH (a JSON generation
    /// config), yaml:PATH (a YAML file's `generation:` mapping or the whole file), or a
    /// plugin's scheme. Default: hf
    #[arg(long = "source", value_name = "SPEC")]
    pub sources: Vec<String>,

    /// Set a parameter on top of every other layer, e.g. --set temperature=0.2; the value is
    /// read as YAML (numbers, true/false, [lists]); null removes the key
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,

    /// Make no network requests: sources use their caches only (same as HF_HUB_OFFLINE=1)
    #[arg(long)]
    pub offline: bool,

    /// Stop with an error when the source SCHEME cannot deliver (Hub unreachable and nothing
    /// cached, gated repo without a token...) instead of warning and continuing without it;
    /// repeatable, added to the run config's `require_sources`
    #[arg(long = "require-source", value_name = "SCHEME")]
    pub require_sources: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub resolve: ResolveArgs,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// Where the server is: launched by benchy, or one already running.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Use the server already running at URL (its root or its /v1 API root) instead of
    /// launching one: benchy only waits until it lists the model, and never stops it
    #[arg(long = "server-url", value_name = "URL")]
    pub server_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub resolve: ResolveArgs,

    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the built-in sources and backends and every plugin file found, with its name,
    /// version, kind, what it provides and its status. Reads each file's embedded manifest;
    /// loads no library and runs no plugin code
    #[command(after_help = PLUGINS_HELP)]
    List(PluginsListArgs),

    /// Load every plugin found and check it: manifest, ABI and protocol versions, entry symbol,
    /// table, and a round trip through it. Exits 2 if any plugin file has a problem
    #[command(after_help = PLUGINS_HELP)]
    Doctor(PluginsDoctorArgs),

    /// Check a built plugin library (as `doctor` does) and copy it into the user plugin
    /// directory, replacing an older copy of the same file atomically
    #[command(after_help = "Example:\n  \
        cargo build --release -p benchy-site-registry\n  \
        benchy plugins install target/release/libbenchy_site_registry.so")]
    Install(PluginsInstallArgs),
}

#[derive(Debug, Args)]
pub struct PluginsListArgs {
    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PluginsDoctorArgs {
    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PluginsInstallArgs {
    /// The plugin library, e.g. target/release/libbenchy_site_registry.so
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}
