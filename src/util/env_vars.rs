//! Every environment variable the host reads, in one place. (Plugins name the variables they
//! read themselves: the `hf` source huggingface_hub's, the lm-eval backend `BENCHY_LM_EVAL`.)

use std::path::{Path, PathBuf};

use super::bad_input::bad_input;

/// Names of environment variables, each with what it does.
#[derive(Debug)]
pub struct EnvVars;

impl EnvVars {
    /// Plugin directories (absolute paths), separated like `PATH`: searched after `--plugin`
    /// flags and before the user's plugin directory.
    pub const BENCHY_PLUGIN_PATH: &'static str = "BENCHY_PLUGIN_PATH";
    /// benchy's home: where `make setup` and `benchy envs` keep Python environments and built
    /// models, and `benchy serve` its logs (default: the user cache directory's `benchy`).
    pub const BENCHY_HOME: &'static str = "BENCHY_HOME";
    /// A settings file read after the project's `benchy.toml` files and the user's own, so
    /// they override it: a site's settings, kept in one file.
    pub const BENCHY_CONFIG: &'static str = "BENCHY_CONFIG";
    /// Set by benchy for an external subcommand (`benchy-NAME`): benchy's own path, so the
    /// subcommand can call back (as cargo sets `CARGO`).
    pub const BENCHY: &'static str = "BENCHY";
    /// The directories searched for external subcommands (`benchy-NAME`), before
    /// `$BENCHY_HOME/bin`; only absolute entries count.
    pub const PATH: &'static str = "PATH";
    /// `1` (or `true`, `yes`, `on`): sources make no network requests (huggingface_hub's
    /// switch; the same as `--offline`).
    pub const HF_HUB_OFFLINE: &'static str = "HF_HUB_OFFLINE";
    /// benchy's own log level on stderr (`error`, `warn`, `info`, `debug`, `trace`; default
    /// off): what the runner does with processes, signals and probes.
    pub const BENCHY_LOG: &'static str = "BENCHY_LOG";
    /// The uv that builds Python environments (default: the one `make setup` installs under
    /// benchy's home, else `uv` on `PATH`).
    pub const BENCHY_UV: &'static str = "BENCHY_UV";
    /// Set: no progress lines or colours even on a terminal.
    pub const NO_COLOR: &'static str = "NO_COLOR";
    /// The bearer token of a server that wants one (vLLM's `--api-key`): benchy's readiness
    /// probe sends it, and lm-eval's API models read it from the same variable. Never put on a
    /// command line, and masked wherever it would show.
    pub const OPENAI_API_KEY: &'static str = "OPENAI_API_KEY";
}

/// Variables the dynamic loader and the C library read to load code into a program (every
/// `LD_*`, and glibc's other code-loading ones from its list of variables it drops for setuid
/// programs, `sysdeps/generic/unsecvars.h`): a settings file's `[env]` may not set them, since
/// they would reach every program benchy starts.
const LOADER_VARIABLES: [&str; 6] = [
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "MALLOC_TRACE",
    "NLSPATH",
];

/// Whether `name` is a variable that loads code into programs (see [`LOADER_VARIABLES`]).
pub fn is_loader_variable(name: &str) -> bool {
    name.starts_with("LD_") || LOADER_VARIABLES.contains(&name)
}

/// A boolean environment variable as huggingface_hub reads them (`1`, `true`, `yes`, `on`).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| benchy_source_hf::env_vars::is_true(&v))
}

/// benchy's home: `$BENCHY_HOME` (an empty one is unset; a relative one is refused before any
/// command runs), else the user cache directory's `benchy` (`~/.cache/benchy`
/// on Linux, which is the Makefile's default too), else a folder in the temporary directory.
pub fn benchy_home() -> PathBuf {
    std::env::var_os(EnvVars::BENCHY_HOME)
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("benchy")))
        .unwrap_or_else(|| std::env::temp_dir().join("benchy"))
}

/// `BENCHY_HOME` as it may be used: unset or empty means the default; a relative one is bad
/// input, as an empty or relative `PATH` entry is skipped (it would mean the current folder,
/// whose `bin/benchy-NAME` would then run as a command).
pub fn check_benchy_home() -> anyhow::Result<()> {
    match std::env::var_os(EnvVars::BENCHY_HOME) {
        Some(home) if !home.is_empty() && !Path::new(&home).is_absolute() => {
            Err(bad_input(format!(
                "{}={}: not an absolute path; benchy's home must be one (unset it for the \
                 default, ~/.cache/benchy)",
                EnvVars::BENCHY_HOME,
                home.to_string_lossy()
            )))
        }
        _ => Ok(()),
    }
}
