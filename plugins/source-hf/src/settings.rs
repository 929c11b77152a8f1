//! Where the Hub is and how to reach it (endpoint, cache folder, token, timeouts, retries), read
//! from the environment in the order huggingface_hub 2.4.0 reads it (`constants.py` for the
//! paths and timeouts, `utils/_auth.py::get_token` for the token).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use benchy_core::source::read_text_file;

use crate::env_vars::{EnvVars, is_true};

/// The Hub address when `HF_ENDPOINT` is unset (`constants.py::_HF_DEFAULT_ENDPOINT`).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// huggingface_hub's `DEFAULT_ETAG_TIMEOUT` and `DEFAULT_DOWNLOAD_TIMEOUT` (seconds).
const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// A token file holds one token; a file larger than this is not one (and is not read).
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Everything the `hf` source needs to know about the Hub and the cache.
#[derive(Clone, Debug)]
pub struct HubSettings {
    /// `HF_ENDPOINT` without a trailing `/`, else [`DEFAULT_ENDPOINT`].
    pub endpoint: String,
    /// The Hub cache: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`.
    pub cache_dir: PathBuf,
    /// Where the token comes from; it is read only when a request is made.
    pub token: TokenSource,
    /// Connect and read timeout of the metadata request (`HF_HUB_ETAG_TIMEOUT`).
    pub metadata_timeout: Duration,
    /// Connect and read timeout of the download (`HF_HUB_DOWNLOAD_TIMEOUT`).
    pub download_timeout: Duration,
    pub retry: RetryPolicy,
}

/// Bounded retries with exponential backoff, as `utils/_http.py::_http_backoff_base` does
/// (waits `base`, `2 base`, ... capped at `max`), with fewer and shorter waits: benchy fetches
/// one small file and the user is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base_wait: Duration,
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_wait: Duration::from_millis(500),
            max_wait: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based).
    pub fn wait(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base_wait.saturating_mul(factor).min(self.max_wait)
    }
}

/// Where a token is taken from (`utils/_auth.py::get_token`: `HF_TOKEN`, then the legacy
/// `HUGGING_FACE_HUB_TOKEN`, then the token file; none at all with
/// `HF_HUB_DISABLE_IMPLICIT_TOKEN`, as `utils/_headers.py::get_token_to_send` decides).
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The token from an environment variable.
    Env { name: &'static str, token: Token },
    /// The token file: `HF_TOKEN_PATH`, else `$HF_HOME/token`.
    File(PathBuf),
    /// No token: `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set, or there is neither a variable nor a
    /// home folder to hold a token file.
    None,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env { name, .. } => write!(f, "Env({name})"),
            TokenSource::File(path) => write!(f, "File({})", path.display()),
            TokenSource::None => f.write_str("None"),
        }
    }
}

impl TokenSource {
    /// The token, if there is one. A missing or unreadable file means no token, as in
    /// `_get_token_from_file`.
    pub fn load(&self) -> Option<Token> {
        match self {
            TokenSource::Env { token, .. } => Some(token.clone()),
            TokenSource::File(path) => read_text_file(path, MAX_TOKEN_FILE_BYTES)
                .ok()
                .and_then(|text| Token::clean(&text)),
            TokenSource::None => None,
        }
    }

    /// Names the source for messages (never the token itself).
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Env { name, .. } => (*name).to_owned(),
            TokenSource::File(path) => format!("the token file {}", path.display()),
            TokenSource::None => "no token".to_owned(),
        }
    }
}

/// An access token. It has no `Display`, and `Debug` prints no part of it, so it cannot reach a
/// message, a log or an output file by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// `_clean_token`: line breaks removed, surrounding blanks trimmed, empty means none.
    pub fn clean(raw: &str) -> Option<Token> {
        let cleaned: String = raw.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        let cleaned = cleaned.trim();
        (!cleaned.is_empty()).then(|| Token(cleaned.to_owned()))
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

/// The environment cannot say where the cache is (no `HF_HUB_CACHE`, `HF_HOME` or `HOME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoCacheDir;

impl fmt::Display for NoCacheDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot locate the Hugging Face cache: set {} or {} (HOME is not set either)",
            EnvVars::HF_HUB_CACHE,
            EnvVars::HF_HOME
        )
    }
}

impl HubSettings {
    /// Reads the settings from the process environment. Cheap: no file is read and nothing is
    /// created.
    pub fn from_env() -> Result<HubSettings, NoCacheDir> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the settings through `var`, which returns a variable's non-empty value.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<HubSettings, NoCacheDir> {
        let home = var("HOME").map(PathBuf::from);
        let expand = |value: String| expand_home(&value, home.as_deref());
        // constants.py: HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
        let hf_home = match var(EnvVars::HF_HOME) {
            Some(value) => Some(expand(value)),
            None => var(EnvVars::XDG_CACHE_HOME)
                .map(expand)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .map(|cache| cache.join("huggingface")),
        };
        let cache_dir = var(EnvVars::HF_HUB_CACHE)
            .or_else(|| var(EnvVars::HUGGINGFACE_HUB_CACHE))
            .map(expand)
            .or_else(|| hf_home.as_ref().map(|h| h.join("hub")))
            .ok_or(NoCacheDir)?;
        let no_token = var(EnvVars::HF_HUB_DISABLE_IMPLICIT_TOKEN).is_some_and(|v| is_true(&v));
        let token = [EnvVars::HF_TOKEN, EnvVars::HUGGING_FACE_HUB_TOKEN]
            .into_iter()
            .find_map(|name| {
                var(name)
                    .and_then(|raw| Token::clean(&raw))
                    .map(|token| TokenSource::Env { name, token })
            })
            .or_else(|| {
                var(EnvVars::HF_TOKEN_PATH)
                    .map(expand)
                    .or_else(|| hf_home.as_ref().map(|h| h.join("token")))
                    .map(TokenSource::File)
            })
            .filter(|_| !no_token)
            .unwrap_or(TokenSource::None);
        let seconds = |name: &str| {
            var(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|s| *s > 0)
                .unwrap_or(DEFAULT_TIMEOUT_SECS)
        };
        Ok(HubSettings {
            endpoint: var(EnvVars::HF_ENDPOINT)
                .map(|e| e.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
            cache_dir,
            token,
            metadata_timeout: Duration::from_secs(seconds(EnvVars::HF_HUB_ETAG_TIMEOUT)),
            download_timeout: Duration::from_secs(seconds(EnvVars::HF_HUB_DOWNLOAD_TIMEOUT)),
            retry: RetryPolicy::default(),
        })
    }
}

/// `os.path.expanduser` for the `~` and `~/...` forms.
fn expand_home(value: &str, home: Option<&Path>) -> PathBuf {
    match home {
        Some(home) if value == "~" => home.to_owned(),
        Some(home) => match value.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => PathBuf::from(value),
        },
        None => PathBuf::from(value),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_token_file_that_is_no_file_is_no_token_and_never_blocks() {
        let dir = std::env::temp_dir().join(format!("benchy-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        let huge = dir.join("huge");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(5 << 30)
            .unwrap();
        for path in [fifo, huge, dir.clone()] {
            assert_eq!(
                TokenSource::File(path.clone()).load(),
                None,
                "{}",
                path.display()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn settings(vars: &[(&str, &str)]) -> HubSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        HubSettings::from_lookup(|name| vars.get(name).cloned()).unwrap()
    }

    #[test]
    fn cache_dir_follows_huggingface_hub_precedence() {
        let base = [("HOME", "/home/u")];
        assert_eq!(
            settings(&base).cache_dir,
            PathBuf::from("/home/u/.cache/huggingface/hub")
        );
        assert_eq!(
            settings(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")]).cache_dir,
            PathBuf::from("/xdg/huggingface/hub")
        );
        assert_eq!(
            settings(&[
                ("HOME", "/home/u"),
                ("XDG_CACHE_HOME", "/xdg"),
                ("HF_HOME", "~/hf")
            ])
            .cache_dir,
            PathBuf::from("/home/u/hf/hub")
        );
        assert_eq!(
            settings(&[("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/legacy")]).cache_dir,
            PathBuf::from("/legacy")
        );
        assert_eq!(
            settings(&[
                ("HF_HOME", "/hf"),
                ("HUGGINGFACE_HUB_CACHE", "/legacy"),
                ("HF_HUB_CACHE", "/c")
            ])
            .cache_dir,
            PathBuf::from("/c")
        );
        assert_eq!(HubSettings::from_lookup(|_| None).unwrap_err(), NoCacheDir);
    }

    #[test]
    fn token_comes_from_the_environment_then_the_token_file() {
        let from_env = settings(&[("HOME", "/h"), ("HF_TOKEN", " hf_abc\n")]);
        assert_eq!(from_env.token.load(), Token::clean("hf_abc"));
        assert_eq!(from_env.token.describe(), "HF_TOKEN");
        let legacy = settings(&[("HOME", "/h"), ("HUGGING_FACE_HUB_TOKEN", "hf_old")]);
        assert_eq!(legacy.token.describe(), "HUGGING_FACE_HUB_TOKEN");
        assert_eq!(
            settings(&[("HF_HOME", "/hf")]).token,
            TokenSource::File(PathBuf::from("/hf/token"))
        );
        assert_eq!(
            settings(&[("HF_HOME", "/hf"), ("HF_TOKEN_PATH", "/secrets/t")]).token,
            TokenSource::File(PathBuf::from("/secrets/t"))
        );
        assert_eq!(
            settings(&[
                ("HOME", "/h"),
                ("HF_TOKEN", "hf_x"),
                ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
            ])
            .token,
            TokenSource::None
        );
        // an empty HF_TOKEN is no token: the file is used
        assert!(matches!(
            settings(&[("HF_HOME", "/hf"), ("HF_TOKEN", "  ")]).token,
            TokenSource::File(_)
        ));
    }

    #[test]
    fn token_file_is_cleaned_and_empty_means_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let source = TokenSource::File(path.clone());
        assert_eq!(source.load(), None);
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(source.load(), None);
        std::fs::write(&path, "hf_secret\r\n").unwrap();
        assert_eq!(source.load().unwrap().bearer(), "Bearer hf_secret");
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let s = settings(&[("HOME", "/h"), ("HF_TOKEN", "hf_very_secret")]);
        let shown = format!("{s:?} {:?}", s.token.load());
        assert!(!shown.contains("hf_very_secret"), "{shown}");
    }

    #[test]
    fn endpoint_and_timeouts() {
        let s = settings(&[
            ("HOME", "/h"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_HUB_ETAG_TIMEOUT", "3"),
            ("HF_HUB_DOWNLOAD_TIMEOUT", "nope"),
        ]);
        assert_eq!(s.endpoint, "http://127.0.0.1:9");
        assert_eq!(s.metadata_timeout, Duration::from_secs(3));
        assert_eq!(s.download_timeout, Duration::from_secs(10));
        assert_eq!(settings(&[("HOME", "/h")]).endpoint, DEFAULT_ENDPOINT);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=5).map(|n| policy.wait(n).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 4000]);
    }
}
