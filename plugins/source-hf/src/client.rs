//! HTTP to the Hub, as huggingface_hub 2.4.0 speaks it: a `HEAD` on the `resolve` URL for the
//! file's metadata (`file_download.py::get_hf_file_metadata`), following redirects that stay on
//! the Hub and stopping at one that leaves it (`utils/_http.py::
//! _httpx2_follow_hub_redirects_with_backoff`), then a `GET` of the file without the token when
//! it lives on another host. Error answers are read by `X-Error-Code` as
//! `utils/_http.py::hf_raise_for_status` reads them; server errors and network failures are
//! retried with backoff (`_http_backoff_base`) when the caller asks for it.

use std::fmt;
use std::time::Duration;

use benchy_core::source::MAX_TEXT_FILE_BYTES;
use ureq::http::{HeaderValue, Response, header};

use crate::settings::{HubSettings, RetryPolicy, Token};
use crate::urls::{join, keeps_token};

/// `utils/_http.py::_MAX_REDIRECTS`.
const MAX_REDIRECTS: usize = 20;

/// `_DEFAULT_RETRY_ON_STATUS_CODES`.
const RETRY_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// What a `HEAD` on the `resolve` URL says about a file (`HfFileMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMetadata {
    /// `X-Repo-Commit`: the commit the revision resolved to.
    pub commit: String,
    /// `X-Linked-Etag`, else `ETag`, normalized: the blob's name in the cache.
    pub etag: String,
    /// Where to download from: the `resolve` URL, or the other host a redirect pointed to.
    pub location: String,
    /// `X-Linked-Size`, else `Content-Length` of a non-redirect answer.
    pub size: Option<u64>,
}

/// Why a request failed, in the Hub's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubError {
    /// `EntryNotFound`: the repo has no such file at `commit`.
    EntryNotFound { commit: Option<String> },
    /// `RevisionNotFound`.
    RevisionNotFound,
    /// `RepoNotFound` (also what the Hub says of a private repo to a request without access).
    RepoNotFound,
    /// `GatedRepo`: the repo needs a token whose account accepted its terms.
    Gated { status: u16 },
    /// Another refusal (401, 403, 404... without a known error code).
    Refused {
        status: u16,
        message: Option<String>,
    },
    /// A server error or rate limit (5xx, 408, 429).
    Server {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused, DNS failure, timeout, a connection closed mid-answer.
    Network(String),
    /// An answer that is not the Hub's (no `X-Repo-Commit` or no `ETag`, a body of the wrong
    /// size or far too large).
    NotAHub(String),
}

impl HubError {
    fn is_retryable(&self) -> bool {
        match self {
            HubError::Server { status, .. } => RETRY_STATUSES.contains(status),
            HubError::Network(_) => true,
            _ => false,
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::EntryNotFound { .. } => f.write_str("file not found (EntryNotFound)"),
            HubError::RevisionNotFound => f.write_str("revision not found (RevisionNotFound)"),
            HubError::RepoNotFound => f.write_str("repository not found (RepoNotFound)"),
            HubError::Gated { status } => write!(f, "gated repository ({status} GatedRepo)"),
            HubError::Refused {
                status,
                message: Some(message),
            } => write!(f, "HTTP {status}: {message}"),
            HubError::Refused {
                status,
                message: None,
            } => write!(f, "HTTP {status}"),
            HubError::Server { status, .. } => write!(f, "server error HTTP {status}"),
            HubError::Network(message) | HubError::NotAHub(message) => f.write_str(message),
        }
    }
}

/// A client for one resolution. Building it costs a TLS configuration, so it is created only
/// when a request is actually needed.
pub struct HubClient<'a> {
    agent: ureq::Agent,
    settings: &'a HubSettings,
    token: Option<Token>,
}

impl fmt::Debug for HubClient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubClient")
            .field("endpoint", &self.settings.endpoint)
            .field("token", &self.token)
            .finish()
    }
}

impl<'a> HubClient<'a> {
    pub fn new(settings: &'a HubSettings) -> HubClient<'a> {
        let config = ureq::Agent::config_builder()
            // Redirects are followed by hand: which ones carry the token is the Hub's rule.
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("benchy/", env!("CARGO_PKG_VERSION")))
            .build();
        HubClient {
            agent: config.into(),
            settings,
            token: settings.token.load(),
        }
    }

    /// Whether requests carry a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The file's metadata from a `HEAD` on `url`. With `retry`, server errors and network
    /// failures are retried with backoff (huggingface_hub retries only when no cached copy can be
    /// used instead). Unlike huggingface_hub, whose retries wait up to 60 s each
    /// (`_ETAG_RETRY_TIMEOUT`), every attempt keeps the metadata timeout, so an unreachable Hub
    /// costs a bounded, short time.
    pub fn metadata(&self, url: &str, retry: bool) -> Result<FileMetadata, HubError> {
        let retries = if retry {
            self.settings.retry.max_retries
        } else {
            0
        };
        let timeout = self.settings.metadata_timeout;
        self.with_retries(retries, || self.head_once(url, timeout))
    }

    /// The file's bytes, checked against the size the metadata announced; retried with backoff.
    pub fn download(&self, url: &str, metadata: &FileMetadata) -> Result<Vec<u8>, HubError> {
        self.with_retries(self.settings.retry.max_retries, || {
            self.get_once(url, metadata)
        })
    }

    fn with_retries<T>(
        &self,
        retries: u32,
        mut attempt: impl FnMut() -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let policy: RetryPolicy = self.settings.retry;
        let mut done = 0;
        loop {
            match attempt() {
                Err(error) if error.is_retryable() && done < retries => {
                    done += 1;
                    let wait = match &error {
                        HubError::Server {
                            retry_after: Some(after),
                            ..
                        } => (*after).min(policy.max_wait),
                        _ => policy.wait(done),
                    };
                    std::thread::sleep(wait);
                }
                result => return result,
            }
        }
    }

    fn head_once(&self, url: &str, timeout: Duration) -> Result<FileMetadata, HubError> {
        let mut current = url.to_owned();
        for _ in 0..MAX_REDIRECTS {
            let response = self.send("HEAD", &current, true, timeout)?;
            check_status(&response)?;
            let redirect = response
                .status()
                .is_redirection()
                .then(|| header_str(&response, "location"))
                .flatten();
            match redirect {
                Some(location) => {
                    let target = join(&current, location);
                    if keeps_token(&current, &target, &self.settings.endpoint) {
                        current = target;
                        continue;
                    }
                    // Off the Hub (a CDN): the metadata is on this answer and the token must
                    // not follow.
                    return metadata_of(&response, &current, target);
                }
                None => return metadata_of(&response, &current, current.clone()),
            }
        }
        Err(HubError::NotAHub(format!(
            "more than {MAX_REDIRECTS} redirects from {url}"
        )))
    }

    fn get_once(&self, url: &str, metadata: &FileMetadata) -> Result<Vec<u8>, HubError> {
        let mut current = metadata.location.clone();
        let mut with_token = keeps_token(url, &current, &self.settings.endpoint);
        for _ in 0..MAX_REDIRECTS {
            let mut response =
                self.send("GET", &current, with_token, self.settings.download_timeout)?;
            if response.status().is_redirection()
                && let Some(location) = header_str(&response, "location")
            {
                let target = join(&current, location);
                with_token = with_token && keeps_token(&current, &target, &self.settings.endpoint);
                current = target;
                continue;
            }
            check_status(&response)?;
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_TEXT_FILE_BYTES)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => HubError::NotAHub(format!(
                        "{current} sent more than {MAX_TEXT_FILE_BYTES} bytes, more than a config file holds"
                    )),
                    other => network(&current, &other),
                })?;
            if let Some(size) = metadata.size
                && size != bytes.len() as u64
            {
                return Err(HubError::Network(format!(
                    "{current}: received {} bytes of {size}",
                    bytes.len()
                )));
            }
            return Ok(bytes);
        }
        Err(HubError::NotAHub(format!(
            "more than {MAX_REDIRECTS} redirects from {url}"
        )))
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        with_token: bool,
        timeout: Duration,
    ) -> Result<Response<ureq::Body>, HubError> {
        let mut request = match method {
            "HEAD" => self
                .agent
                .head(url)
                // As get_hf_file_metadata: the real size, not a compressed one.
                .header(header::ACCEPT_ENCODING, "identity"),
            _ => self.agent.get(url),
        };
        if with_token && let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(&token.bearer())
                .map_err(|_| HubError::Network("the token is not a valid header value".into()))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        request
            .config()
            .timeout_resolve(Some(timeout))
            .timeout_connect(Some(timeout))
            .timeout_per_read(Some(timeout))
            .build()
            .call()
            .map_err(|e| network(url, &e))
    }
}

fn network(url: &str, error: &ureq::Error) -> HubError {
    HubError::Network(format!("{url}: {error}"))
}

fn header_str<'r>(response: &'r Response<ureq::Body>, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `hf_raise_for_status`: 2xx and 3xx pass; an error answer is named by its `X-Error-Code`.
fn check_status(response: &Response<ureq::Body>) -> Result<(), HubError> {
    let status = response.status().as_u16();
    if status < 400 {
        return Ok(());
    }
    let message = header_str(response, "x-error-message").map(str::to_owned);
    Err(match header_str(response, "x-error-code") {
        Some("RevisionNotFound") => HubError::RevisionNotFound,
        Some("EntryNotFound") => HubError::EntryNotFound {
            commit: header_str(response, "x-repo-commit").map(str::to_owned),
        },
        Some("GatedRepo") => HubError::Gated { status },
        Some("RepoNotFound") => HubError::RepoNotFound,
        _ if status >= 500 || status == 408 || status == 429 => HubError::Server {
            status,
            retry_after: header_str(response, "retry-after")
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs),
        },
        _ => HubError::Refused { status, message },
    })
}

/// `get_hf_file_metadata` plus the checks of `_get_metadata_or_catch_error`: an answer without
/// `X-Repo-Commit` or `ETag` does not come from a Hub.
fn metadata_of(
    response: &Response<ureq::Body>,
    url: &str,
    location: String,
) -> Result<FileMetadata, HubError> {
    let commit = header_str(response, "x-repo-commit").ok_or_else(|| {
        HubError::NotAHub(format!(
            "the answer from {url} has no X-Repo-Commit header, so it does not seem to come from \
             a Hugging Face Hub: check HF_ENDPOINT and any proxy"
        ))
    })?;
    let etag = header_str(response, "x-linked-etag")
        .or_else(|| header_str(response, "etag"))
        .map(normalize_etag)
        .filter(|etag| is_file_name(etag))
        .ok_or_else(|| {
            HubError::NotAHub(format!("the answer from {url} has no usable ETag header"))
        })?;
    let size = header_str(response, "x-linked-size")
        .or_else(|| {
            (!response.status().is_redirection())
                .then(|| header_str(response, "content-length"))
                .flatten()
        })
        .and_then(|v| v.trim().parse().ok());
    Ok(FileMetadata {
        commit: commit.trim().to_owned(),
        etag,
        location,
        size,
    })
}

/// `_normalize_etag`: `etag.lstrip("W/").strip('"')`.
fn normalize_etag(etag: &str) -> String {
    etag.trim_start_matches(['W', '/'])
        .trim_matches('"')
        .to_owned()
}

/// The ETag names a file in `blobs/`: it must not name a folder or climb out of one.
fn is_file_name(etag: &str) -> bool {
    !etag.is_empty() && etag != "." && etag != ".." && !etag.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_normalized_like_huggingface_hub() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("abc"), "abc");
        assert!(!is_file_name("../x"));
        assert!(!is_file_name(""));
        assert!(is_file_name("8547da629ebe61ccd03e0edbef509cd0bba89005"));
    }

    #[test]
    fn only_server_errors_and_network_failures_are_retried() {
        let server = |status| HubError::Server {
            status,
            retry_after: None,
        };
        assert!(server(500).is_retryable());
        assert!(server(429).is_retryable());
        assert!(!server(501).is_retryable());
        assert!(HubError::Network("reset".into()).is_retryable());
        assert!(!HubError::RepoNotFound.is_retryable());
        assert!(!HubError::Gated { status: 401 }.is_retryable());
    }
}
