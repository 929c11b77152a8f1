//! `--server-url`: a server that is already running, checked before anything starts. It must be
//! a well-formed http URL of the server's root or its `/v1` API root, without a query or a
//! fragment, and without credentials: lm-eval would get them only inside its URL argument,
//! which every user of the machine can read (`ps`) and which lm-eval writes into its results. A
//! server that wants a bearer token (vLLM's `--api-key`) gets it from `OPENAI_API_KEY`, which
//! benchy's probe and lm-eval's requests send as `Authorization: Bearer`, through the
//! environment only.

use reqwest::Url;

use super::port::is_loopback;
use crate::util::bad_input::BadInput;
use crate::util::env_vars::EnvVars;
use crate::util::secrets;

/// A checked `--server-url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// The server's root: no trailing slash, no `/v1`.
    root: String,
    loopback: bool,
}

impl ServerUrl {
    /// Checks `--server-url URL`; the error names the flag and what is wrong (a password in it
    /// is registered as a secret first, so no message shows it).
    pub fn parse(url: &str) -> Result<ServerUrl, BadInput> {
        let shown = secrets::register_url(url);
        let bad = |why: String| BadInput(format!("--server-url {shown}: {why}"));
        let parsed = Url::parse(url).map_err(|e| {
            bad(format!(
                "not a URL ({e}); expected the server's root or its /v1 root, as in \
                 http://127.0.0.1:8000/v1"
            ))
        })?;
        // Neither the readiness probe nor the auditing proxy speaks TLS: refused here, before
        // anything starts, rather than when the first of them tries.
        if parsed.scheme() != "http" {
            return Err(bad(format!(
                "a {}: URL; only http is supported (reach a TLS server through a local tunnel \
                 or port forward, e.g. ssh -L 8000:127.0.0.1:8000 HOST, and give \
                 http://127.0.0.1:8000)",
                parsed.scheme()
            )));
        }
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            return Err(bad("names no host".to_owned()));
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(format!(
                "credentials in the URL are refused: lm-eval would get them on its command line, \
                 which every user of this machine can read, and write them into its results. For \
                 a server that wants a bearer token (vLLM's --api-key), set {}: it reaches \
                 benchy's probe and lm-eval through the environment only",
                EnvVars::OPENAI_API_KEY
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad(
                "has a ?query or #fragment; give the server's root or its /v1 root".to_owned(),
            ));
        }
        let loopback = is_loopback(host.trim_start_matches('[').trim_end_matches(']'));
        let root = root_of(parsed.as_str()).to_owned();
        Ok(ServerUrl { root, loopback })
    }

    /// The server's root, e.g. `http://127.0.0.1:8000`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The OpenAI-style API root clients use: `<root>/v1`.
    pub fn api_base(&self) -> String {
        format!("{}/v1", self.root)
    }

    /// On this machine: the probe goes there directly, never through a proxy.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

/// A server's root from its root or its `/v1` API root, with or without a trailing slash.
pub fn root_of(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    url.strip_suffix("/v1").unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        ServerUrl::parse(url).unwrap_err().0
    }

    #[test]
    fn roots_and_api_roots_give_the_same_server() {
        for url in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/",
            "http://127.0.0.1:8000/v1",
            "http://127.0.0.1:8000/v1/",
        ] {
            let server = ServerUrl::parse(url).unwrap();
            assert_eq!(server.root(), "http://127.0.0.1:8000", "{url}");
            assert_eq!(server.api_base(), "http://127.0.0.1:8000/v1");
            assert!(server.is_loopback());
        }
        let remote = ServerUrl::parse("http://gpu.example.org/prefix/v1").unwrap();
        assert_eq!(remote.root(), "http://gpu.example.org/prefix");
        assert!(!remote.is_loopback());
    }

    #[test]
    fn what_cannot_be_a_server_is_refused_naming_the_flag() {
        assert!(refused("notaurl").starts_with("--server-url notaurl: not a URL"));
        assert!(refused("ftp://127.0.0.1/x").contains("a ftp: URL"));
        let tls = refused("https://gpu.example.org/v1");
        assert!(
            tls.contains("a https: URL; only http is supported"),
            "{tls}"
        );
        assert!(refused("http://127.0.0.1:8000/v1?x=1").contains("?query"));
        let why = refused("http://user:pa55-url-canary@127.0.0.1:8000/v1");
        assert!(why.contains("credentials in the URL are refused"), "{why}");
        assert!(!why.contains("pa55-url-canary"), "{why}");
        assert!(
            why.starts_with("--server-url http://127.0.0.1:8000/v1:"),
            "{why}"
        );
    }
}
