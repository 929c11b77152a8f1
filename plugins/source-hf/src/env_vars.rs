//! The environment variables the `hf` source reads, as huggingface_hub 2.4.0 names them.

/// Names of environment variables, each with what it does.
#[derive(Debug)]
pub struct EnvVars;

impl EnvVars {
    /// A Hugging Face access token.
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
}

/// huggingface_hub's `constants.py::_is_true`: `1`, `true`, `yes` or `on`, in any case.
pub fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}
