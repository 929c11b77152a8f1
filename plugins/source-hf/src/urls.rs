//! The few URL operations the Hub protocol needs: the `resolve` URL of a file, a URL's origin,
//! and the target of a redirect. Hand-written because they are this small and a URL crate would
//! bring an IDNA stack for host names the Hub never uses.

/// `{endpoint}/{repo_id}/resolve/{revision}/{filename}` with the revision encoded as one path
/// segment (`refs/pr/1` -> `refs%2Fpr%2F1`), as `file_download.py::hf_hub_url` builds it with
/// `quote(revision, safe="")`.
pub fn resolve_url(endpoint: &str, repo_id: &str, revision: &str, filename: &str) -> String {
    format!(
        "{endpoint}/{repo_id}/resolve/{}/{}",
        quote(revision, b""),
        quote(filename, b"/")
    )
}

/// Python's `urllib.parse.quote`: letters, digits, `_.-~` and the `safe` bytes are kept, every
/// other byte is `%XX`.
fn quote(text: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~".contains(&byte) || safe.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A URL's origin: scheme, lower-cased host and port (the scheme's default when not written),
/// which is what `utils/_http.py::_url_origin` compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    pub fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = match host_port.rsplit_once(':') {
            // `[::1]` has colons of its own: a port follows the closing bracket.
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
            _ => (host_port, default_port(&scheme)?),
        };
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Whether a request to `target` may carry the token: it stays on `from`'s origin or goes to a
/// known Hub origin (`utils/_http.py::_is_same_or_hub_host`; huggingface.co and hf.co, besides the
/// configured endpoint, which is `from`'s origin on the first hop).
pub fn keeps_token(from: &str, target: &str, endpoint: &str) -> bool {
    let Some(target) = Origin::of(target) else {
        return false;
    };
    [from, endpoint, "https://huggingface.co", "https://hf.co"]
        .iter()
        .filter_map(|url| Origin::of(url))
        .any(|origin| origin == target)
}

/// The absolute URL a `Location` header points to, relative to the request's `base` URL
/// (`urllib.parse.urljoin` for the forms servers send: absolute, `//host/...`, `/path`).
pub fn join(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return location.to_owned();
    };
    if let Some(network_path) = location.strip_prefix("//") {
        return format!("{scheme}://{network_path}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    // A relative path replaces the last segment of the base path.
    let path = rest[authority_end..]
        .split(['?', '#'])
        .next()
        .unwrap_or("/");
    let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let folder = if folder.is_empty() { "/" } else { folder };
    format!("{scheme}://{authority}{folder}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_urls_encode_the_revision_as_one_segment() {
        assert_eq!(
            resolve_url(
                "https://huggingface.co",
                "org/m",
                "main",
                "generation_config.json"
            ),
            "https://huggingface.co/org/m/resolve/main/generation_config.json"
        );
        assert_eq!(
            resolve_url("http://h", "m", "refs/pr/1", "generation_config.json"),
            "http://h/m/resolve/refs%2Fpr%2F1/generation_config.json"
        );
        assert_eq!(
            resolve_url("http://h", "m", "v 1.0+x", "a b/c.json"),
            "http://h/m/resolve/v%201.0%2Bx/a%20b/c.json"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            Origin::of("https://HF.co/x"),
            Origin::of("https://hf.co:443/y")
        );
        assert_ne!(
            Origin::of("http://127.0.0.1:1/a"),
            Origin::of("http://127.0.0.1:2/a")
        );
        assert_ne!(Origin::of("http://h/a"), Origin::of("https://h/a"));
        assert_eq!(
            Origin::of("http://[::1]:8080/p"),
            Some(Origin {
                scheme: "http".into(),
                host: "[::1]".into(),
                port: 8080
            })
        );
        assert_eq!(Origin::of("not a url"), None);
    }

    #[test]
    fn the_token_stays_on_the_hub() {
        let endpoint = "http://127.0.0.1:5000";
        let from = "http://127.0.0.1:5000/org/m/resolve/main/f";
        assert!(keeps_token(
            from,
            "http://127.0.0.1:5000/org/n/resolve/main/f",
            endpoint
        ));
        assert!(keeps_token(from, "https://huggingface.co/x", endpoint));
        assert!(!keeps_token(
            from,
            "http://127.0.0.1:5001/cdn/abc",
            endpoint
        ));
        assert!(!keeps_token(from, "https://cdn-lfs.hf.co/x", endpoint));
    }

    #[test]
    fn redirect_targets_are_joined_like_urljoin() {
        let base = "http://h:1/org/old/resolve/main/f.json?x=1";
        assert_eq!(join(base, "https://cdn/x"), "https://cdn/x");
        assert_eq!(join(base, "//cdn:2/x"), "http://cdn:2/x");
        assert_eq!(
            join(base, "/org/new/resolve/main/f.json"),
            "http://h:1/org/new/resolve/main/f.json"
        );
        assert_eq!(
            join(base, "g.json"),
            "http://h:1/org/old/resolve/main/g.json"
        );
    }
}
