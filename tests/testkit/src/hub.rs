//! The stand-in Hugging Face Hub: the `/{repo_id}/resolve/{revision}/{file}` protocol the real
//! Hub speaks, with its headers and status codes, served on 127.0.0.1 (the real Hub cannot be
//! reached from tests).
//!
//! What it answers, as huggingface.co does (the codes are the ones huggingface_hub 2.4.0 reads in
//! `utils/_http.py::hf_raise_for_status`):
//! - a file: `200` with `ETag: "<git blob sha1>"`, `X-Repo-Commit`, `Content-Length`; a matching
//!   `If-None-Match` gets `304`;
//! - a file stored on the CDN ([`StandInHub::serve_from_cdn`]): `302` to another origin with
//!   `X-Linked-Etag: "<sha256>"` and `X-Linked-Size`, as LFS files are;
//! - a renamed repo ([`StandInHub::rename`]): `307` with a relative `Location`;
//! - a gated repo: `401` (no token) or `403` (a token without access) with
//!   `X-Error-Code: GatedRepo`;
//! - an unknown repo: `401` without a token, `404` with one, `X-Error-Code: RepoNotFound`;
//! - an unknown revision: `404 RevisionNotFound`; a missing file: `404 EntryNotFound` with the
//!   `X-Repo-Commit` it was looked up at.
//!
//! Tests add faults ([`StandInHub::fail`]) and latency, and read every request back with its
//! method, path and `Authorization` header.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest;

use crate::http::{Reply, Request, Server, Stopper, find_header};

/// Which of the two origins a request reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The Hub itself (`HF_ENDPOINT`).
    Hub,
    /// The CDN that LFS-style files redirect to (another port, so another origin).
    Cdn,
}

/// One request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub origin: Origin,
    pub method: String,
    /// The path and query as sent (percent-encoded).
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// What a fault does to the request it catches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status (a bare server error, no `X-Error-Code`).
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Send the headers and half of the body, then close.
    Truncate,
    /// Wait this long, then answer normally.
    Delay(Duration),
}

/// A fault for the next `times` requests with `method` (any method when `None`), on either
/// origin. Faults apply in the order they were added.
#[derive(Clone, Debug)]
struct Fault {
    method: Option<String>,
    kind: FaultKind,
    times: usize,
}

#[derive(Debug, Default)]
struct Repo {
    /// Branch and tag names to commit shas.
    refs: BTreeMap<String, String>,
    /// Commit sha to its files.
    commits: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// The token that may read a gated repo.
    gate: Option<String>,
    /// Files are served by a `302` to the CDN origin.
    cdn: bool,
}

#[derive(Debug, Default)]
struct State {
    repos: BTreeMap<String, Repo>,
    renamed: BTreeMap<String, String>,
    faults: VecDeque<Fault>,
    latency: Duration,
    log: Vec<Recorded>,
    /// Only Hub requests for files of this name are logged (all are answered).
    watched: Option<String>,
    commits_made: u64,
    hub_url: String,
    cdn_url: String,
}

/// A stand-in Hub on 127.0.0.1 (and a CDN origin beside it); stopped on drop.
#[derive(Debug)]
pub struct StandInHub {
    state: Arc<Mutex<State>>,
    stopper: Arc<Stopper>,
    hub: Option<Server>,
    cdn: Option<Server>,
}

impl StandInHub {
    /// Starts the Hub and its CDN on free loopback ports.
    pub fn start() -> StandInHub {
        let state: Arc<Mutex<State>> = Arc::default();
        let stopper: Arc<Stopper> = Arc::default();
        let serve = |origin: Origin| {
            let state = Arc::clone(&state);
            let sleeper = Arc::clone(&stopper);
            Server::start(
                Arc::clone(&stopper),
                Arc::new(move |request: &Request| answer(&state, &sleeper, origin, request)),
            )
            .expect("the stand-in Hub listens on 127.0.0.1")
        };
        let hub = serve(Origin::Hub);
        let cdn = serve(Origin::Cdn);
        {
            let mut s = state.lock().unwrap();
            s.hub_url = format!("http://{}", hub.addr());
            s.cdn_url = format!("http://{}", cdn.addr());
        }
        StandInHub {
            state,
            stopper,
            hub: Some(hub),
            cdn: Some(cdn),
        }
    }

    /// The Hub's address, for `HF_ENDPOINT`: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.state.lock().unwrap().hub_url.clone()
    }

    /// The CDN's address (another origin than [`StandInHub::url`]).
    pub fn cdn_url(&self) -> String {
        self.state.lock().unwrap().cdn_url.clone()
    }

    /// Makes a new commit of `repo_id` holding exactly `files` and points `revision` (a branch
    /// or tag, created if new) at it. Returns the commit sha.
    pub fn publish(&self, repo_id: &str, revision: &str, files: &[(&str, &[u8])]) -> String {
        let mut state = self.state.lock().unwrap();
        state.commits_made += 1;
        let commit = sha1_hex(
            format!(
                "commit {} {repo_id} {revision} {files:?}",
                state.commits_made
            )
            .as_bytes(),
        );
        let repo = state.repos.entry(repo_id.to_owned()).or_default();
        repo.commits.insert(
            commit.clone(),
            files
                .iter()
                .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
                .collect(),
        );
        repo.refs.insert(revision.to_owned(), commit.clone());
        commit
    }

    /// Publishes `text` as the `generation_config.json` of `repo_id` on `main`.
    pub fn publish_generation_config(&self, repo_id: &str, text: &str) -> String {
        self.publish(
            repo_id,
            "main",
            &[("generation_config.json", text.as_bytes())],
        )
    }

    /// Points `revision` of `repo_id` at an existing `commit`.
    pub fn point(&self, repo_id: &str, revision: &str, commit: &str) {
        let mut state = self.state.lock().unwrap();
        let repo = state.repos.get_mut(repo_id).expect("a published repo");
        assert!(repo.commits.contains_key(commit), "unknown commit {commit}");
        repo.refs.insert(revision.to_owned(), commit.to_owned());
    }

    /// Gates `repo_id`: only requests carrying `Authorization: Bearer <token>` may read it.
    pub fn gate(&self, repo_id: &str, token: &str) {
        let mut state = self.state.lock().unwrap();
        state.repos.entry(repo_id.to_owned()).or_default().gate = Some(token.to_owned());
    }

    /// Renames a repo: requests for `old` get a `307` to the same file under `new`.
    pub fn rename(&self, old: &str, new: &str) {
        let mut state = self.state.lock().unwrap();
        state.renamed.insert(old.to_owned(), new.to_owned());
    }

    /// Serves the files of `repo_id` the way LFS files are: a `302` to the CDN origin.
    pub fn serve_from_cdn(&self, repo_id: &str) {
        let mut state = self.state.lock().unwrap();
        state.repos.entry(repo_id.to_owned()).or_default().cdn = true;
    }

    /// Applies `kind` to the next `times` requests with `method` (`None`: any method).
    pub fn fail(&self, method: Option<&str>, times: usize, kind: FaultKind) {
        let mut state = self.state.lock().unwrap();
        state.faults.push_back(Fault {
            method: method.map(str::to_owned),
            kind,
            times,
        });
    }

    /// Delays every answer by `latency` (a slow network).
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Logs only the Hub's requests for files named `file` (and the CDN's) from now on; the
    /// others are answered as before, unseen by [`StandInHub::requests`] and the counts. For tests about one file's
    /// protocol that should not change when the source starts reading another file too.
    pub fn watch(&self, file: &str) {
        self.state.lock().unwrap().watched = Some(format!("/{file}"));
    }

    /// Logs every request again (undoes [`StandInHub::watch`]).
    pub fn watch_all(&self) {
        self.state.lock().unwrap().watched = None;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many requests with `method` reached either origin.
    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }

    /// How many requests reached either origin.
    pub fn total(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }

    /// How many requests with `method` asked for exactly `path`.
    pub fn count_path(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

impl Drop for StandInHub {
    fn drop(&mut self) {
        self.stopper.stop();
        drop(self.hub.take());
        drop(self.cdn.take());
    }
}

/// The git blob sha1 of `bytes`: the `ETag` the Hub sends for a file stored in git.
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut hasher = sha1_smol::Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hasher.digest().to_string()
}

fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records the request, picks the answer under the lock, then waits (fault delay and latency)
/// outside it so slow answers do not serialize the server.
fn answer(state: &Mutex<State>, sleeper: &Stopper, origin: Origin, request: &Request) -> Reply {
    let (reply, wait) = {
        let mut state = state.lock().unwrap();
        let watched = state.watched.as_deref();
        let seen = origin == Origin::Cdn || watched.is_none_or(|f| request.target.ends_with(f));
        if seen {
            state.log.push(Recorded {
                origin,
                method: request.method.clone(),
                path: request.target.clone(),
                headers: request.headers.clone(),
            });
        }
        let mut wait = state.latency;
        let reply = match take_fault(&mut state, &request.method) {
            Some(FaultKind::Status(status)) => Some(error(status, None, "injected fault")),
            Some(FaultKind::Drop) => Some(Reply::Drop),
            Some(FaultKind::Delay(delay)) => {
                wait += delay;
                None
            }
            Some(FaultKind::Truncate) => match route(&state, origin, request) {
                Reply::Full {
                    status,
                    headers,
                    body,
                } => {
                    let sent = body.len() / 2;
                    Some(Reply::Truncated {
                        status,
                        headers,
                        body,
                        sent,
                    })
                }
                other => Some(other),
            },
            None => None,
        };
        (
            reply.unwrap_or_else(|| route(&state, origin, request)),
            wait,
        )
    };
    if !wait.is_zero() {
        sleeper.sleep(wait);
    }
    reply
}

fn take_fault(state: &mut State, method: &str) -> Option<FaultKind> {
    let index = state
        .faults
        .iter()
        .position(|f| f.method.as_deref().is_none_or(|m| m == method))?;
    let fault = &mut state.faults[index];
    let kind = fault.kind.clone();
    fault.times -= 1;
    if fault.times == 0 {
        state.faults.remove(index);
    }
    Some(kind)
}

fn route(state: &State, origin: Origin, request: &Request) -> Reply {
    match origin {
        Origin::Cdn => cdn_file(state, &request.target),
        Origin::Hub => resolve(state, request),
    }
}

/// `/{repo_id}/resolve/{revision}/{file}`, where `repo_id` is `name` or `org/name` and the
/// revision is percent-encoded (`refs%2Fpr%2F1`).
fn resolve(state: &State, request: &Request) -> Reply {
    let path = request.target.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let Some(at) = segments.iter().position(|s| *s == "resolve") else {
        return error(404, None, "Not Found");
    };
    if !(1..=2).contains(&at) || segments.len() < at + 3 {
        return error(404, None, "Not Found");
    }
    let repo_id = segments[..at].join("/");
    let raw_revision = segments[at + 1];
    let revision = percent_decode(raw_revision);
    let file = percent_decode(&segments[at + 2..].join("/"));

    if let Some(new) = state.renamed.get(&repo_id) {
        let location = format!(
            "/{new}/resolve/{raw_revision}/{}",
            segments[at + 2..].join("/")
        );
        return Reply::Full {
            status: 307,
            headers: vec![("Location".into(), location)],
            body: Vec::new(),
        };
    }
    let bearer = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(repo) = state.repos.get(&repo_id) else {
        // The Hub answers 401 to anonymous requests for a repo it will not reveal, 404 to
        // authenticated ones.
        let status = if bearer.is_some() { 404 } else { 401 };
        return error(status, Some("RepoNotFound"), "Repository not found");
    };
    if let Some(token) = &repo.gate {
        match bearer {
            None => {
                return error(
                    401,
                    Some("GatedRepo"),
                    &format!(
                        "Access to model {repo_id} is restricted. You must have access to it and \
                         be authenticated to access it. Please log in."
                    ),
                );
            }
            Some(given) if given != token => {
                return error(
                    403,
                    Some("GatedRepo"),
                    &format!(
                        "Access to model {repo_id} is restricted and you are not in the \
                         authorized list. Visit {}/{repo_id} to ask for access.",
                        state.hub_url
                    ),
                );
            }
            Some(_) => {}
        }
    }
    let commit = match repo.refs.get(&revision) {
        Some(commit) => commit.clone(),
        None if repo.commits.contains_key(&revision) => revision.clone(),
        None => {
            return error(
                404,
                Some("RevisionNotFound"),
                &format!("Invalid rev id: {revision}"),
            );
        }
    };
    let Some(bytes) = repo.commits[&commit].get(&file) else {
        let mut reply = error(404, Some("EntryNotFound"), "Entry not found");
        if let Reply::Full { headers, .. } = &mut reply {
            headers.push(("X-Repo-Commit".into(), commit));
        }
        return reply;
    };

    let git_etag = git_blob_sha1(bytes);
    if repo.cdn {
        let sha256 = sha256_hex(bytes);
        return Reply::Full {
            status: 302,
            headers: vec![
                (
                    "Location".into(),
                    format!("{}/repos/{sha256}?X-Amz-Signature=stand-in", state.cdn_url),
                ),
                ("X-Repo-Commit".into(), commit),
                ("ETag".into(), format!("\"{git_etag}\"")),
                ("X-Linked-Etag".into(), format!("\"{sha256}\"")),
                ("X-Linked-Size".into(), bytes.len().to_string()),
            ],
            body: Vec::new(),
        };
    }
    let etag = format!("\"{git_etag}\"");
    let mut headers = vec![
        ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ("ETag".into(), etag.clone()),
        ("X-Repo-Commit".into(), commit),
        ("Accept-Ranges".into(), "bytes".into()),
        ("X-Request-Id".into(), "stand-in".into()),
    ];
    if request.header("if-none-match") == Some(etag.as_str()) {
        headers.retain(|(k, _)| k != "Content-Type" && k != "Accept-Ranges");
        return Reply::Full {
            status: 304,
            headers,
            body: Vec::new(),
        };
    }
    Reply::Full {
        status: 200,
        headers,
        body: bytes.clone(),
    }
}

/// The CDN serves `/repos/<sha256>` for any file of a CDN-served repo.
fn cdn_file(state: &State, target: &str) -> Reply {
    let path = target.split('?').next().unwrap_or_default();
    let wanted = path.trim_start_matches("/repos/");
    let found = state
        .repos
        .values()
        .filter(|r| r.cdn)
        .flat_map(|r| r.commits.values())
        .flat_map(|files| files.values())
        .find(|bytes| sha256_hex(bytes) == wanted);
    match found {
        Some(bytes) => Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                ("ETag".into(), format!("\"{wanted}\"")),
            ],
            body: bytes.clone(),
        },
        None => error(404, None, "NoSuchKey"),
    }
}

/// An error answer as the Hub sends it: JSON body, `X-Error-Code` and `X-Error-Message`.
fn error(status: u16, code: Option<&str>, message: &str) -> Reply {
    let mut headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Request-Id".into(), "stand-in".into()),
        ("X-Error-Message".into(), message.to_owned()),
    ];
    if let Some(code) = code {
        headers.push(("X-Error-Code".into(), code.to_owned()));
    }
    Reply::Full {
        status,
        headers,
        body: serde_json::json!({ "error": message })
            .to_string()
            .into_bytes(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    //! The stand-in's answers, read off the wire with a raw HTTP/1.1 client, so the codes and
    //! headers the `hf` source's tests rely on are checked independently of it.

    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    /// Sends one request and returns the status and the head of the answer.
    fn send(base: &str, method: &str, path: &str, headers: &[&str]) -> (u16, String) {
        let address = base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\n");
        for header in headers {
            request.push_str(&format!("{header}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        (status, answer)
    }

    #[test]
    fn answers_with_the_hubs_codes_and_headers() {
        let hub = StandInHub::start();
        let body = b"{\"top_k\": 20}";
        let commit = hub.publish("org/m", "main", &[("generation_config.json", body)]);
        let url = hub.url();
        let file = "/org/m/resolve/main/generation_config.json";
        let etag = format!("\"{}\"", git_blob_sha1(body));

        let (status, head) = send(&url, "HEAD", file, &[]);
        assert_eq!(status, 200);
        assert!(head.contains(&format!("ETag: {etag}")) && head.contains(&commit));
        assert!(head.contains("Content-Length: 13") && !head.contains("top_k"));
        let (status, got) = send(&url, "GET", file, &[]);
        assert!(status == 200 && got.ends_with("{\"top_k\": 20}"));
        let (status, _) = send(&url, "GET", file, &[&format!("If-None-Match: {etag}")]);
        assert_eq!(status, 304);

        let (status, missing) = send(&url, "HEAD", "/org/m/resolve/main/x.json", &[]);
        assert!(status == 404 && missing.contains("X-Error-Code: EntryNotFound"));
        assert!(missing.contains(&format!("X-Repo-Commit: {commit}")));
        let (status, rev) = send(&url, "HEAD", "/org/m/resolve/v9/x.json", &[]);
        assert!(status == 404 && rev.contains("X-Error-Code: RevisionNotFound"));
        let (status, repo) = send(&url, "HEAD", "/org/none/resolve/main/x.json", &[]);
        assert!(status == 401 && repo.contains("X-Error-Code: RepoNotFound"));
        let with_token = ["Authorization: Bearer t"];
        let (status, _) = send(&url, "HEAD", "/org/none/resolve/main/x.json", &with_token);
        assert_eq!(status, 404);

        hub.gate("org/m", "good");
        let (status, gated) = send(&url, "HEAD", file, &[]);
        assert!(status == 401 && gated.contains("X-Error-Code: GatedRepo"));
        let (status, _) = send(&url, "HEAD", file, &with_token);
        assert_eq!(status, 403);
        let (status, _) = send(&url, "HEAD", file, &["Authorization: Bearer good"]);
        assert_eq!(status, 200);

        hub.rename("org/old", "org/m");
        let (status, moved) = send(
            &url,
            "HEAD",
            "/org/old/resolve/main/generation_config.json",
            &[],
        );
        assert!(status == 307 && moved.contains(&format!("Location: {file}")));

        hub.fail(Some("GET"), 1, FaultKind::Status(503));
        let (status, _) = send(&url, "GET", file, &["Authorization: Bearer good"]);
        assert_eq!(status, 503);
        assert_eq!(hub.count_path("HEAD", file), 4);
        assert_eq!(
            hub.requests()[0].header("host"),
            Some(url.trim_start_matches("http://"))
        );
    }

    #[test]
    fn cdn_files_redirect_to_another_origin_with_the_linked_etag() {
        let hub = StandInHub::start();
        hub.publish("org/lfs", "main", &[("generation_config.json", b"{}")]);
        hub.serve_from_cdn("org/lfs");
        let (status, head) = send(
            &hub.url(),
            "HEAD",
            "/org/lfs/resolve/main/generation_config.json",
            &[],
        );
        assert_eq!(status, 302);
        let sha = sha256_hex(b"{}");
        assert!(
            head.contains(&format!("X-Linked-Etag: \"{sha}\""))
                && head.contains("X-Linked-Size: 2")
        );
        assert!(head.contains(&format!("Location: {}/repos/{sha}", hub.cdn_url())));
        let (status, body) = send(&hub.cdn_url(), "GET", &format!("/repos/{sha}"), &[]);
        assert!(status == 200 && body.ends_with("{}"));
    }
}
