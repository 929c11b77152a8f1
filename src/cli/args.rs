//! The command line: every command, flag and help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::proof::wire_audit::AuditMode;
use crate::resolution::ResolveOptions;
use crate::results::scoring::ScoringOptions;
use crate::runner::server_url::ServerUrl;
use crate::settings::ExecutorKind;
use crate::util::bad_input::{BadInput, bad_input};

const PRECEDENCE_HELP: &str = "\
Generation parameters are merged from these layers, later ones winning key by key:
  1. each --source SPEC, in the order given (default: hf, the model's generation_config.json);
     a mode's preset sits just above the model's own generation_config.json
  2. the run config's `generation:` block
  3. the task's own `generation:` block
  4. --set KEY=VALUE flags
An explicit null in a YAML layer or --set removes a key set by an earlier layer.";

const MODES_HELP: &str = "\
A mode is a thinking model's preset with the chat template switch that chooses it
(`chat_template_kwargs: {enable_thinking: false}`, a `system_prompt`, a `reasoning_effort`).
A run config defines its own under `modes:` and chooses one with `mode:` (a task may choose its
own); --mode chooses over both. Names the run config does not define come from benchy's catalog
of known families (Qwen3, Qwen3.5, Qwen3.6/3.8, DeepSeek-R1, gpt-oss, SmolLM3, Gemma 4,
Magistral), matched by the repository's name. Tasks in a mode that generate text go over chat
completions; see docs/user-guide.md, \"Thinking models\".";

const PLUGINS_HELP: &str = "\
Plugins are found, in this order (the first to provide a name wins):
  1. --plugin PATH flags
  2. the directories in BENCHY_PLUGIN_PATH (absolute paths, separated like PATH)
  3. the directories of the `plugin_path` setting (`benchy config show`)
  4. the user plugin directory (on Linux ~/.local/share/benchy/plugins)
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
        Settings files (benchy.toml here or above, ~/.config/benchy/config.toml, BENCHY_CONFIG) \
        give defaults for flags and aliases: `benchy config show`. `benchy NAME` runs an \
        external command `benchy-NAME` from PATH or $BENCHY_HOME/bin: `benchy --list`.\n\n\
        Exit codes: 0 success, 1 a run failed, 2 bad input or usage, 130 interrupted (143 on SIGTERM).",
    propagate_version = true,
    allow_external_subcommands = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Use this plugin library too (repeatable). Plugins named here come before those in
    /// BENCHY_PLUGIN_PATH and the user plugin directory; outside `benchy plugins`, a file named
    /// here that is not a usable plugin is an error
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    pub plugins: Vec<PathBuf>,

    /// List the commands: built-in, aliases from the settings files, and external `benchy-NAME`
    /// programs found on PATH and in $BENCHY_HOME/bin
    #[arg(long)]
    pub list: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses `args` (the program name first); a usage error, `--help` or `--version` prints
    /// and exits here, as clap does.
    pub fn parse_args(args: &[OsString]) -> Cli {
        if let Some(command) = listed_with(args) {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--list lists every command and takes none; `benchy {} --help` shows \
                         what `{}` does",
                        command.to_string_lossy(),
                        command.to_string_lossy()
                    ),
                )
                .exit();
        }
        let cli = Cli::parse_from(args);
        if cli.command.is_none() && !cli.list {
            Cli::command()
                .error(
                    clap::error::ErrorKind::MissingSubcommand,
                    "a command is required (`benchy --list` lists them)",
                )
                .exit();
        }
        cli
    }
}

/// The command word `--list` came before, if it came before one: the first word after the
/// program's name that is no global option (`--plugin PATH` and `--plugin=PATH` included).
fn listed_with(args: &[OsString]) -> Option<&OsString> {
    let mut listed = false;
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        match word.to_str() {
            Some("--list") => listed = true,
            Some("--plugin") => {
                words.next();
            }
            Some(flag) if flag.starts_with('-') => {}
            _ => return listed.then_some(word),
        }
    }
    None
}

/// The built-in commands a user can type, with their one-line descriptions, `help` included.
pub fn builtin_commands() -> Vec<(String, String)> {
    let mut commands: Vec<(String, String)> = Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| {
            let about = c.get_about().map(ToString::to_string).unwrap_or_default();
            (c.get_name().to_owned(), about)
        })
        .collect();
    commands.push((
        "help".to_owned(),
        "Print help for benchy or a command".to_owned(),
    ));
    commands
}

/// Every name clap reads as a built-in command, the hidden ones and `help` included: what an
/// alias or an external command cannot be.
pub fn command_names() -> Vec<String> {
    let mut names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    names.push("help".to_owned());
    names
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

    /// The leaderboard of finished runs: models by tasks, each cell a task's primary metric ±
    /// its standard error, with an overall score per model
    #[command(after_help = RESULTS_HELP)]
    Results(ResultsArgs),

    /// Two runs side by side: every metric with its difference and whether it exceeds twice the
    /// combined standard error, and every parameter and setting that differs, with its sources
    #[command(after_help = COMPARE_HELP)]
    Compare(CompareArgs),

    /// Write one self-contained HTML page of runs: the leaderboard, a bar chart per task with
    /// error bars, and per model the parameters with their sources and the verdicts
    Report(ReportArgs),

    /// Write runs' results in another tool's format
    #[command(subcommand)]
    Export(ExportCommand),

    /// The response cache (`<benchy home>/cache`, or the `cache_dir` setting): what it holds,
    /// and removing from it
    #[command(subcommand)]
    Cache(CacheCommand),

    /// Where a run stands, model by task: done, failed, running, pending or missing, from the
    /// run records and (for a Slurm array) the scheduler's states
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),

    /// Internal: stops a process group if benchy dies (started by benchy beside each child)
    #[command(name = "__keep", hide = true)]
    Keep {
        pgid: i32,
        grace_ms: u64,
        parent: i32,
    },
    /// The Python environments benchy builds for servers that ask for a vLLM version of their
    /// own (list, build before a long run, remove)
    #[command(subcommand)]
    Envs(EnvsCommand),

    /// List, check and install plugins: shared libraries that add sources and backends
    #[command(subcommand, after_help = PLUGINS_HELP)]
    Plugins(PluginsCommand),

    /// Print a shell completion script for benchy (see the README for where to put it)
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),

    /// `benchy NAME ARGS...`: an alias from the settings files, else the program `benchy-NAME`
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

const COMPLETIONS_HELP: &str = "\
Install, for example:
  bash:  benchy completions bash > ~/.local/share/bash-completion/completions/benchy
  zsh:   benchy completions zsh > ~/.zfunc/_benchy   (with fpath=(~/.zfunc $fpath) before compinit)
  fish:  benchy completions fish > ~/.config/fish/completions/benchy.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: Shell,
}

const RESULTS_HELP: &str = "\
PATHs are model run folders (<output-dir>/<run-id>/<model>), run-id folders or output folders
(default: the `output_dir` setting). Runs of one model whose parameters and settings agree share
a row (each task from the newest run that finished it); runs that differ are rows of their own,
labelled with what differs. Failed, interrupted and pending tasks show as such. A file that
cannot be read is named in a warning and left out.

The overall score is the mean of the counted tasks' values, as the Python tool made it:
--leaderboard FILE reads the `leaderboard:` block of its config.yaml (overall_score_categories,
normalize_scores); the settings' [leaderboard] tasks and scale_100 say the same; --overall-task
and --scale-100 win over both. Without any, every task counts.

Examples:
  benchy results
  benchy results outputs/benchmark_outputs/20250101_120000 --format markdown
  benchy results --leaderboard config.yaml --out publish";

const COMPARE_HELP: &str = "\
A and B are model run folders, run-id folders (with --model when they hold several models), or
run ids under --output-dir (default: the `output_dir` setting).

Examples:
  benchy compare outputs/benchmark_outputs/run1/Qwen3-4B outputs/benchmark_outputs/run2/Qwen3-4B
  benchy compare run1 run2 --model Qwen3-4B --fail-on-regression acc=0.02";

const STATUS_HELP: &str = "\
A task is done when its run finished it (its completion record, or its results in a run that did
not fail it). While Slurm holds a model's array task, what is not done is pending or running;
once it does not, what is not done failed (the run recorded a failure) or is missing (nothing
will do it: cancelled, timed out, never run). `--missing` is the check before publishing.

Exit codes: 0 shown (with --missing: everything is done), 1 with --missing when something is
not done, 2 for a RUN that does not exist.

Examples:
  benchy status
  benchy status outputs/benchmark_outputs/20250101_120000
  benchy status 20250101_120000 --missing";

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
-c takes a run config, a folder (every *.yaml in it, by name) or a .txt list (a run config a
line, # comments, paths relative to the list), and may be repeated: the models form a suite
under one run id, and every other flag applies to each of them.

Before anything starts, every model's config and parameters are resolved (a few Hub lookups at
once) and checked, and the task backend's checks run once for the whole suite (the default
backend asks its lm-eval whether it knows every task; a check that passed before with nothing
changed is not run again); a problem exits 2 with nothing started. Then each model in turn: its
server starts (unless --server-url; from its own vLLM environment when its provider asks for a
version, built first when missing), the task backend's jobs run against it (tasks with the same
parameters and settings share one process; --jobs at once, by default all of them up to 4), the
server is stopped, and what the backend's tool recorded as used is compared with what was sent
(a difference fails the task). A model that fails does not stop the next; the exit code is 1
when any failed, 130 on Ctrl-C (the current model stops, no other starts).

Resume: every task that finishes writes completion.json in its folder with a fingerprint of
everything that decides its numbers (the model and the commit its files were read at, the
parameters, the task's settings, the limit, chat or completions, the tools' versions, the
server's command). Running again with the same --run-id skips every task whose fingerprint is
unchanged, runs again (saying what changed) those whose fingerprint changed, and runs those that
failed or never finished; earlier outputs are moved to .attempts/<n>/ in the model's folder,
never deleted. --rerun runs everything again.

The default backend runs the lm-eval that BENCHY_LM_EVAL names (in the environment, or as
`[env] BENCHY_LM_EVAL` in a settings file: `benchy config show`), else the task's
`lm_eval_path`, the `make setup` environment, or `lm_eval` on PATH.

The task backend is --backend, else the run config's `backend:`, else lm-eval; a suite may mix
them. `inspect` runs each task's inspect_ai task (`inspect_task: FILE.py@NAME` in the task,
relative to its file, or a registered task's name; `task_args:` its arguments) with the
resolved set in inspect's generate config (`extra_body` for what inspect does not send: top_k,
min_p, repetition_penalty), from the inspect BENCHY_INSPECT names, else the `make setup`
environment, or `inspect` on PATH.

Outputs, in <output-dir>/<run-id>/<model>/: run_config.yaml, generation_config.json (the model's
own file, when a source read it), resolved_generation.json, run.json (status, times, commands,
exit codes, versions, earlier attempts), server.log, each task's folder of the tool's files and
its completion.json, results.json, summary.md. A suite of several models also keeps
<output-dir>/<run-id>/suite.json and summary.md (models by tasks) and prints that table.

With --executor slurm (or `[executor] kind = \"slurm\"`), every model is checked here as above,
then the suite is submitted as one Slurm job array, an array task per model, each running
`benchy eval` of its model with the same run id, output folder and flags on its node. The job id
is printed; the job script, the array tasks' logs and submission.json are kept in
<output-dir>/<run-id>/slurm/. `benchy status` shows where the models stand.

Examples:
  benchy eval -c configs/single_card/Qwen3-4B.yaml
  benchy eval -c configs/single_card/ --run-id weekly --limit 100
  benchy eval -c models.txt --run-id weekly          # again: only what is missing runs
  benchy eval -c configs/single_card/ --executor slurm --run-id weekly
  benchy eval -c configs/examples/tiny-cpu-inspect.yaml     # an inspect_ai task";

#[derive(Clone, Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub resolve: ResolveArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    /// The task backend that runs the tasks: a built-in (`lm-eval`, `inspect`; `benchy plugins
    /// list`) or a plugin's [default: the run config's `backend:`, else lm-eval]
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,

    /// Run only this task of the run config (repeatable; the name the run config uses)
    #[arg(long = "task", value_name = "NAME")]
    pub tasks: Vec<String>,

    /// Examples per task: a count, or a fraction below 1
    #[arg(long, value_name = "N")]
    pub limit: Option<f64>,

    /// The run's folder name under --output-dir (default: the local time, YYYYMMDD_HHMMSS)
    #[arg(long = "run-id", value_name = "ID")]
    pub run_id: Option<String>,

    /// Where runs are kept (default: the `output_dir` setting; `benchy config show` prints it)
    #[arg(long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Keep every request and answer (the evaluator's samples files)
    #[arg(long = "log-samples")]
    pub log_samples: bool,

    /// Run each task that generates text K times, repeat i sending seed s+i-1 (s the resolved
    /// seed, else 1234) in every request; a cell is the mean over the repeats ± their standard
    /// deviation. Over the run config's `repeats:`. Tasks that only score log-likelihoods run
    /// once
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::run_config::MAX_REPEATS)))]
    pub repeats: Option<u32>,

    /// How many of a model's jobs (groups of tasks with different parameters) run at once: a
    /// count, or auto (all side by side, up to 4). Default: the `jobs` setting, else auto
    #[arg(long, value_name = "N|auto")]
    pub jobs: Option<crate::settings::Jobs>,

    /// Print the resolved parameters with their sources and the exact commands; start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Check everything as a run would before it starts (configs, parameters, environments,
    /// the task backend's checks) and stop there: nothing is started or written
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,

    /// Run every task again, even those an earlier run with this --run-id finished with the
    /// same inputs (their outputs are moved aside, not deleted)
    #[arg(long)]
    pub rerun: bool,

    /// The wire audit: every job talks to the server through a proxy of benchy's that checks
    /// each request carries the resolved set. `on` fails the run on a deviation, `warn` only
    /// reports, `off` removes the proxy
    #[arg(long, value_enum, value_name = "MODE", default_value_t = AuditArg::On)]
    pub audit: AuditArg,

    /// The response cache (`<benchy home>/cache`, or the `cache_dir` setting): `on` answers a
    /// request asked before from it and
    /// keeps every new answer, `read` only answers, `write` only keeps, `off` neither. Default:
    /// the `cache` setting, else on; with --rerun, write (a rerun wants new answers). Greedy and
    /// seeded requests only; the audit checks every request either way
    #[arg(long, value_enum, value_name = "MODE")]
    pub cache: Option<CacheArg>,

    /// The node's devices a suite's servers share, e.g. `0,1,2,3`: models run side by side on
    /// disjoint sets (each server's tensor × pipeline × data parallel size; its own
    /// CUDA_VISIBLE_DEVICES, or on vLLM's CPU build its own CPU cores). Default: the `gpus`
    /// setting, else CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`; with none, one model at a time
    #[arg(long, value_name = "IDS")]
    pub gpus: Option<String>,

    /// Where the models run: `local` (here, one after another, or side by side with --gpus) or
    /// `slurm` (one job array, an array task per model). Default: the `[executor] kind`
    /// setting, else local
    #[arg(long, value_enum, value_name = "KIND")]
    pub executor: Option<ExecutorArg>,

    /// A TOML file of Slurm executor settings (the keys of `[executor]`: partition, account,
    /// qos, time, gpus, gres, cpus_per_task, memory, constraint, max_parallel, requeue, sbatch,
    /// setup), over those of the settings files
    #[arg(long = "executor-config", value_name = "FILE")]
    pub executor_config: Option<PathBuf>,

    /// Slurm: follow the array until every model ended, a line per change; exit 1 when a model
    /// did not finish every task. Ctrl-C cancels the array
    #[arg(long)]
    pub wait: bool,

    /// Slurm: let Slurm requeue an array task (preemption, a failed node); the rerun does only
    /// what is missing
    #[arg(long)]
    pub requeue: bool,
}

/// `--audit`: what a run does with the wire audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditArg {
    /// Audit every request; a deviation fails the run.
    On,
    /// Audit every request and report deviations, without failing the run.
    Warn,
    /// No proxy: jobs talk to the server directly.
    Off,
}

/// `--cache`: how the response cache is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CacheArg {
    On,
    Read,
    Write,
    Off,
}

impl From<CacheArg> for crate::cache::Mode {
    fn from(arg: CacheArg) -> crate::cache::Mode {
        match arg {
            CacheArg::On => crate::cache::Mode::On,
            CacheArg::Read => crate::cache::Mode::Read,
            CacheArg::Write => crate::cache::Mode::Write,
            CacheArg::Off => crate::cache::Mode::Off,
        }
    }
}

impl From<AuditArg> for AuditMode {
    fn from(arg: AuditArg) -> AuditMode {
        match arg {
            AuditArg::On => AuditMode::On,
            AuditArg::Warn => AuditMode::Warn,
            AuditArg::Off => AuditMode::Off,
        }
    }
}

/// `--executor`: where the models run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArg {
    /// Processes on this machine, started and supervised by benchy's runner.
    Local,
    /// One Slurm job array for the suite, an array task per model.
    Slurm,
}

impl From<ExecutorArg> for ExecutorKind {
    fn from(arg: ExecutorArg) -> ExecutorKind {
        match arg {
            ExecutorArg::Local => ExecutorKind::Local,
            ExecutorArg::Slurm => ExecutorKind::Slurm,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A run-id folder (<output-dir>/<run-id>), or a run id under --output-dir (default: the
    /// newest run there)
    #[arg(value_name = "RUN")]
    pub run: Option<String>,

    /// Where run ids are looked up (default: the `output_dir` setting)
    #[arg(long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// List only the tasks that are not done, and exit 1 when there are any
    #[arg(long)]
    pub missing: bool,
}

/// How the overall score is made (see `benchy results --help`).
#[derive(Debug, Args)]
pub struct ScoringArgs {
    /// The Python tool's config.yaml (or any YAML file) whose `leaderboard:` block says which
    /// tasks the overall score counts and which are on a 0-100 scale
    #[arg(long, value_name = "FILE")]
    pub leaderboard: Option<PathBuf>,

    /// Count this task in the overall score (repeatable; a run task or an evaluated task name)
    #[arg(long = "overall-task", value_name = "NAME")]
    pub overall_tasks: Vec<String>,

    /// This task's metric is on a 0-100 scale (chrF): divide it by 100 (repeatable)
    #[arg(long = "scale-100", value_name = "NAME")]
    pub scale_100: Vec<String>,
}

impl ScoringArgs {
    /// What the overall score is made by.
    pub fn options(&self) -> ScoringOptions {
        ScoringOptions {
            leaderboard: self.leaderboard.clone(),
            overall_tasks: self.overall_tasks.clone(),
            scale_100: self.scale_100.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, size and hits, by model
    Stats,
    /// Remove the answers not used for a while, or those of one model
    Prune {
        /// Remove the answers not used for this long: 30d, 12h, 90m
        #[arg(long = "older-than", value_name = "AGE")]
        older_than: Option<String>,
        /// Remove only the answers of this model (`org/name` or a path, as run configs name it)
        #[arg(long, value_name = "NAME")]
        model: Option<String>,
    },
    /// Remove every answer
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The Hugging Face Hub's model evaluation results: per model,
    /// DIR/<model>/.eval_results/<task>.yaml, one per finished task whose dataset is a Hub
    /// dataset (the task's own, or its run config's `hub_dataset: org/name`), its notes carrying
    /// the resolved parameters with their sources, the mode and the repeats. Copy the folder
    /// into the model's repository in a pull request (https://huggingface.co/docs/hub/eval-results)
    HfEvalResults(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run folders, run-id folders or output folders (default: the `output_dir` setting); a
    /// later run of a model replaces an earlier one's files
    #[arg(value_name = "RUN")]
    pub paths: Vec<PathBuf>,

    /// The folder to write into
    #[arg(short = 'o', long = "out", value_name = "DIR", required = true)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// Run folders, run-id folders or output folders (default: the `output_dir` setting)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub scoring: ScoringArgs,

    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,

    /// Also write leaderboard_table.json and leaderboard_table.csv into DIR
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Markdown,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first run: a model run folder, a run-id folder or a run id
    #[arg(value_name = "A")]
    pub a: String,

    /// The second run, compared with the first (differences are B - A)
    #[arg(value_name = "B")]
    pub b: String,

    /// The model to compare when A or B holds several (its folder name or `model.name`)
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// Where run ids are looked up (default: the `output_dir` setting)
    #[arg(long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Exit 1 when METRIC (`metric,filter`, or a metric name with any filter) is lower in B
    /// than in A by more than DELTA (repeatable)
    #[arg(long = "fail-on-regression", value_name = "METRIC=DELTA")]
    pub fail_on_regression: Vec<crate::results::compare::Regression>,

    /// With --fail-on-regression: a metric A has and B lacks (B's task failed or never ran) is
    /// no regression
    #[arg(long = "allow-missing", requires = "fail_on_regression")]
    pub allow_missing: bool,

    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run folders, run-id folders or output folders (default: the `output_dir` setting)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The HTML file to write
    #[arg(
        short = 'o',
        long = "out",
        value_name = "FILE",
        default_value = "report.html"
    )]
    pub out: PathBuf,

    #[command(flatten)]
    pub scoring: ScoringArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved generation parameters with the source of every value
    #[command(after_help = PRECEDENCE_HELP)]
    Explain(ExplainArgs),

    /// List the modes a model has (the run config's and the catalog's), where each comes from,
    /// its switch and preset, and what the model's chat template reads
    #[command(after_help = MODES_HELP)]
    Modes(ExplainArgs),

    /// Print every effective setting from the settings files, with the file and line it came
    /// from (or `default`)
    #[command(after_help = SETTINGS_HELP)]
    Show(ShowArgs),
}

pub(crate) const SETTINGS_HELP: &str = "\
Settings files, strongest first (each key from the strongest file that sets it):
  1. benchy.toml in the current folder, then in each parent folder
  2. the user's file (on Linux ~/.config/benchy/config.toml)
  3. the file BENCHY_CONFIG names (a site's settings)
Flags win over every file. Keys: sources, output_dir, jobs, cache (on, read, write, off),
cache_dir, cache_size (\"10G\"), max_concurrent (requests in flight per job at most, default
256), gpus (the node's devices a suite's servers share, \"0,1,2,3\"), plugin_path,
require_sources, [executor] kind and the Slurm executor's keys (partition, account, qos, time,
gpus, gres, cpus_per_task, memory, constraint, max_parallel, requeue, sbatch, setup),
[leaderboard] tasks and scale_100, [alias] NAME = \"COMMAND LINE\", [env] NAME = \"VALUE\" (the
lm-eval executable is [env] BENCHY_LM_EVAL, inspect's [env] BENCHY_INSPECT). Relative paths are
relative to the file.";

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// The flags every command that resolves generation parameters takes.
#[derive(Clone, Debug, Args)]
pub struct ResolveArgs {
    /// The run config (a model file such as configs/single_card/AFM-4.5B.yaml). `eval` takes
    /// several: -c repeated, a folder (every *.yaml in it) or a .txt list (a run config a line)
    #[arg(short = 'c', long = "config", value_name = "RUN.yaml", required = true)]
    pub configs: Vec<PathBuf>,

    /// A parameter source, repeatable, applied in order: hf, file:PATH (a JSON generation
    /// config), yaml:PATH (a YAML file's `generation:` mapping or the whole file), or a
    /// plugin's scheme. Default: the `sources` setting, else hf
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
    /// repeatable, added to the run config's and the settings' `require_sources`
    #[arg(long = "require-source", value_name = "SCHEME")]
    pub require_sources: Vec<String>,

    /// Run every task in this mode of the model (a thinking model's preset with its chat
    /// template switch), over the run config's `mode:`; its requests go over chat completions.
    /// `benchy config modes -c RUN.yaml` lists the modes a model has
    #[arg(long, value_name = "NAME")]
    pub mode: Option<String>,
}

impl ResolveArgs {
    /// What resolution takes of these flags.
    pub fn options(&self) -> ResolveOptions {
        ResolveOptions {
            sources: self.sources.clone(),
            sets: self.sets.clone(),
            offline: self.offline,
            require_sources: self.require_sources.clone(),
            mode: self.mode.clone(),
        }
    }

    /// The one run config of a command that takes one (`explain`, `serve`).
    pub fn single_config(&self, command: &str) -> anyhow::Result<&std::path::Path> {
        match self.configs.as_slice() {
            [config] => Ok(config),
            _ => Err(bad_input(format!(
                "benchy {command} takes one run config (-c FILE); `benchy eval --dry-run` shows \
                 a suite of them"
            ))),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub resolve: ResolveArgs,

    #[command(flatten)]
    pub server: ServerArgs,

    /// Serve through an auditing proxy: the `Serving` line names the proxy, any client pointed
    /// at it has every request checked against the resolved set, and on Ctrl-C the audit is
    /// printed and written to wire_audit.json beside the server's log
    #[arg(long)]
    pub audit: bool,
}

/// Where the server is: launched by benchy, or one already running.
#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// Use the server already running at URL (its root or its /v1 API root) instead of
    /// launching one: benchy only waits until it lists the model, and never stops it
    #[arg(long = "server-url", value_name = "URL")]
    pub server_url: Option<String>,
}

impl ServerArgs {
    /// `--server-url`, checked, when it is given.
    pub fn checked_url(&self) -> Result<Option<ServerUrl>, BadInput> {
        self.server_url.as_deref().map(ServerUrl::parse).transpose()
    }
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
pub enum EnvsCommand {
    /// Every environment built under benchy's home: name, version that imports, size on disk,
    /// when a run last used it, and which of the given run configs want it
    List(EnvsArgs),
    /// Build what the given run configs' servers need (before a long run, or on a login node)
    Build(EnvsArgs),
    /// Remove environments by name
    Remove {
        #[arg(value_name = "NAME", required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct EnvsArgs {
    /// A run config whose server's environment to consider: repeatable, a folder (every *.yaml
    /// in it) or a .txt list (a run config a line)
    #[arg(short = 'c', long = "config", value_name = "RUN.yaml")]
    pub configs: Vec<PathBuf>,

    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::*;
    use crate::settings::slurm_keys;
    use crate::settings::{LEADERBOARD_KEYS, TOP_KEYS};

    /// The words of a help text, so that a key is found whole (`time`, not `runtime`).
    fn words(text: &str) -> BTreeSet<&str> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect()
    }

    /// The help texts list the keys by hand, in prose: each key a file may hold must be there.
    #[test]
    fn the_help_names_every_key_a_settings_file_may_hold() {
        let keys: Vec<&str> = slurm_keys::KEYS.iter().map(|k| k.name).collect();
        let settings_help = words(SETTINGS_HELP);
        let every = TOP_KEYS.iter().chain(LEADERBOARD_KEYS).chain(&keys);
        for key in every.chain(&["kind"]) {
            assert!(
                settings_help.contains(key),
                "`{key}` is not in SETTINGS_HELP"
            );
        }
        let eval = Cli::command().find_subcommand("eval").unwrap().clone();
        let flag = eval
            .get_arguments()
            .find(|a| a.get_id() == "executor_config");
        let help = flag.unwrap().get_help().unwrap().to_string();
        for key in &keys {
            assert!(
                words(&help).contains(key),
                "`{key}` is not in --executor-config's help"
            );
        }
    }
}
