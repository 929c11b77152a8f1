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
    /// The file holding the token (default `$HF_HOME/token`).
    pub const HF_TOKEN_PATH: &'static str = "HF_TOKEN_PATH";
    /// The Hugging Face home (default `~/.cache/huggingface`).
    pub const HF_HOME: &'static str = "HF_HOME";
    /// The Hub cache (default `$HF_HOME/hub`).
    pub const HF_HUB_CACHE: &'static str = "HF_HUB_CACHE";
    /// The Hub's address (default `https://huggingface.co`).
    pub const HF_ENDPOINT: &'static str = "HF_ENDPOINT";
    /// `1` (or `true`, `yes`, `on`): make no Hub requests, use the cache.
    pub const HF_HUB_OFFLINE: &'static str = "HF_HUB_OFFLINE";
    /// `1`: no progress lines or colours even on a terminal.
    pub const NO_COLOR: &'static str = "NO_COLOR";
}

/// A boolean environment variable as huggingface_hub reads them (`1`, `true`, `yes`, `on`).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}
