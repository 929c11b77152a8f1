//! Every environment variable benchy or its built-in plugins read, in one place.

/// Names of environment variables, each with what it does.
#[derive(Debug)]
pub struct EnvVars;

impl EnvVars {
    /// Plugin directories (absolute paths), separated like `PATH`: searched after `--plugin`
    /// flags and before the user's plugin directory.
    pub const BENCHY_PLUGIN_PATH: &'static str = "BENCHY_PLUGIN_PATH";
    /// The lm-eval executable to use, before any task's `lm_eval_path` or the setup environment.
    pub const BENCHY_LM_EVAL: &'static str = "BENCHY_LM_EVAL";
    /// Where `make setup` keeps its Python environments and built models (default: the user
    /// cache directory's `benchy`).
    pub const BENCHY_HOME: &'static str = "BENCHY_HOME";
    /// A Hugging Face access token; passed to children only through their environment.
    pub const HF_TOKEN: &'static str = "HF_TOKEN";
    /// The older name of `HF_TOKEN`, still read by huggingface_hub (and so by benchy) after it.
    pub const HUGGING_FACE_HUB_TOKEN: &'static str = "HUGGING_FACE_HUB_TOKEN";
    /// `1`: send no token even when `HF_TOKEN` or the token file has one (as huggingface_hub).
    pub const HF_HUB_DISABLE_IMPLICIT_TOKEN: &'static str = "HF_HUB_DISABLE_IMPLICIT_TOKEN";
    /// The file holding the token (default `$HF_HOME/token`).
    pub const HF_TOKEN_PATH: &'static str = "HF_TOKEN_PATH";
    /// The Hugging Face home (default `~/.cache/huggingface`).
    pub const HF_HOME: &'static str = "HF_HOME";
    /// The Hub cache (default `$HF_HOME/hub`).
    pub const HF_HUB_CACHE: &'static str = "HF_HUB_CACHE";
    /// The older name of `HF_HUB_CACHE`, read when it is unset.
    pub const HUGGINGFACE_HUB_CACHE: &'static str = "HUGGINGFACE_HUB_CACHE";
    /// With `HF_HOME` unset, the Hugging Face home is `$XDG_CACHE_HOME/huggingface`.
    pub const XDG_CACHE_HOME: &'static str = "XDG_CACHE_HOME";
    /// Seconds to wait for the Hub's answer to a metadata (HEAD) request (default 10).
    pub const HF_HUB_ETAG_TIMEOUT: &'static str = "HF_HUB_ETAG_TIMEOUT";
    /// Seconds to wait for each read of a download (default 10).
    pub const HF_HUB_DOWNLOAD_TIMEOUT: &'static str = "HF_HUB_DOWNLOAD_TIMEOUT";
    /// The Hub's address (default `https://huggingface.co`).
    pub const HF_ENDPOINT: &'static str = "HF_ENDPOINT";
    /// `1` (or `true`, `yes`, `on`): make no Hub requests, use the cache.
    pub const HF_HUB_OFFLINE: &'static str = "HF_HUB_OFFLINE";
    /// The GPUs a vLLM server may use; set for the server from the provider's `cuda_devices`.
    pub const CUDA_VISIBLE_DEVICES: &'static str = "CUDA_VISIBLE_DEVICES";
    /// benchy's own log level on stderr (`error`, `warn`, `info`, `debug`, `trace`; default
    /// off): what the runner does with processes, signals and probes.
    pub const BENCHY_LOG: &'static str = "BENCHY_LOG";
    /// `1`: no progress lines or colours even on a terminal.
    pub const NO_COLOR: &'static str = "NO_COLOR";
}

/// A boolean environment variable as huggingface_hub reads them (`1`, `true`, `yes`, `on`).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| is_true(&v))
}

/// huggingface_hub's `constants.py::_is_true`: `1`, `true`, `yes` or `on`, in any case.
pub fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Where `make setup` keeps its Python environments and models, and `benchy serve` its logs:
/// `$BENCHY_HOME`, else the user cache directory's `benchy` (`~/.cache/benchy` on Linux, which
/// is the Makefile's default too).
pub fn benchy_home() -> Option<std::path::PathBuf> {
    std::env::var_os(EnvVars::BENCHY_HOME)
        .map(std::path::PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("benchy")))
}
