//! One request's trip: number it, read and inspect the body if it is a completions POST, rewrite
//! the head for the upstream, send it, and turn the upstream's answer (or failure) into the
//! client's response.

use std::convert::Infallible;
use std::error::Error as _;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::body::{ProxyBody, Read, Tap, read_capped};
use super::headers::strip_hop_by_hop;
use super::inspect::{Inspect, Outcome, Payload, Seen};

/// Bodies larger than this are inspected on tokio's blocking pool: parsing 10 MB of JSON takes
/// tens of milliseconds, which on a current-thread runtime would stall every other connection.
const INLINE_INSPECT_MAX: usize = 1 << 20;

/// Where requests go: `http://host:port`, optionally with a path prefix that is put in front of
/// every request path. Credentials travel in the client's own `Authorization` header, never in
/// the URL.
#[derive(Clone, Debug)]
pub(crate) struct Upstream {
    authority: Authority,
    /// No trailing slash; empty when the upstream URL has no path.
    prefix: String,
}

impl Upstream {
    pub(crate) fn parse(url: &str) -> io::Result<Upstream> {
        let invalid = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("upstream {url:?}: {why}"),
            )
        };
        // Checked first, so the error below cannot show a password.
        if url.contains('@') {
            let why = "upstream URL: credentials in the URL are not supported";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        // Plain HTTP only: the upstream is a local vLLM server and the client side has no TLS.
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(invalid("only http:// upstreams are supported"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?.clone();
        if uri.query().is_some() {
            return Err(invalid("a query string is not allowed"));
        }
        Ok(Upstream {
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    fn uri_for(&self, original: &Uri) -> Result<Uri, http::Error> {
        let pq = original.path_and_query();
        let path_and_query = if self.prefix.is_empty() {
            // The common case: reuse the client's path and query as they are (no copy).
            pq.cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"))
        } else {
            let pq = pq.map_or("/", PathAndQuery::as_str);
            PathAndQuery::try_from(format!("{}{pq}", self.prefix))?
        };
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

/// Counters the proxy keeps itself, whatever the inspector does.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) inspected: AtomicU64,
    pub(crate) too_large: AtomicU64,
    pub(crate) no_answer: AtomicU64,
    pub(crate) inspector_panics: AtomicU64,
    pub(crate) answered: AtomicU64,
}

/// What every request handler of one listener shares.
pub(crate) struct Shared {
    pub(crate) upstream: Upstream,
    pub(crate) client: Client<HttpConnector, ProxyBody>,
    pub(crate) inspector: Arc<dyn Inspect>,
    pub(crate) max_inspect_bytes: usize,
    /// Its `requests` is also the last request number given out.
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("upstream", &self.upstream)
            .field("max_inspect_bytes", &self.max_inspect_bytes)
            .finish_non_exhaustive()
    }
}

/// A request is inspected when it is a POST to a path ending in `/completions`
/// (`/v1/completions`, `/v1/chat/completions`).
fn is_inspected(method: &Method, path: &str) -> bool {
    method == Method::POST && path.ends_with("/completions")
}

/// hyper's service: never fails (a failure becomes a response), so hyper never has to
/// invent one.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let seq = shared.counters.requests.fetch_add(1, Relaxed) + 1;
    let (mut parts, body) = req.into_parts();
    let inspected = is_inspected(&parts.method, parts.uri.path());

    let body = if inspected {
        match read_capped(body, shared.max_inspect_bytes).await {
            Read::Complete(bytes) => {
                shared.counters.inspected.fetch_add(1, Relaxed);
                inspect_body(&shared, seq, &parts.method, parts.uri.path(), &bytes).await;
                if let Some(answer) = call_answer(&shared, seq) {
                    return Ok(answered(&shared, seq, answer));
                }
                ProxyBody::full(bytes)
            }
            Read::TooLarge(body) => {
                shared.counters.too_large.fetch_add(1, Relaxed);
                let seen = Seen::new(seq, &parts.method, parts.uri.path(), Payload::TooLarge);
                call_inspector(&shared, &seen);
                body
            }
            Read::Failed(e) => {
                // The client's upload broke off: nothing is forwarded (the upstream would get a
                // truncated body) and the client, most likely gone, gets a 400.
                tracing::debug!(seq, error = %e, "request body failed while reading it");
                return Ok(plain(
                    StatusCode::BAD_REQUEST,
                    "request body could not be read\n",
                ));
            }
        }
    } else {
        let seen = Seen::new(seq, &parts.method, parts.uri.path(), Payload::NotRead);
        call_inspector(&shared, &seen);
        ProxyBody::Stream(body)
    };

    parts.uri = match shared.upstream.uri_for(&parts.uri) {
        Ok(uri) => uri,
        Err(_) => {
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                "request path could not be forwarded\n",
            ));
        }
    };
    // Always HTTP/1.1 upstream (hyper speaks it to any 1.0 client itself), so the upstream
    // connection can be pooled.
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    // Host: the upstream's, which hyper's client fills in from the URI when there is none.
    parts.headers.remove(header::HOST);
    // Expect: 100-continue was already answered to the client by hyper's server when the body
    // was first read; hyper's client would not wait for a 100 anyway.
    parts.headers.remove(header::EXPECT);

    match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            call_response(&shared, seq, Outcome::Answered(parts.status));
            let body = if inspected && reshaped(&shared, seq, &parts) {
                match reshape(&shared, seq, &mut parts.headers, body).await {
                    Some(body) => body,
                    None => return Ok(plain(StatusCode::BAD_GATEWAY, "upstream body failed\n")),
                }
            } else if inspected {
                ProxyBody::Tapped(body, Tap::new(shared.inspector.clone(), seq))
            } else {
                ProxyBody::Stream(body)
            };
            Ok(Response::from_parts(parts, body))
        }
        Err(e) => {
            shared.counters.no_answer.fetch_add(1, Relaxed);
            call_response(&shared, seq, Outcome::NoAnswer);
            let reason = error_chain(&e);
            tracing::debug!(seq, reason, "upstream gave no answer");
            let what = if e.is_connect() {
                "upstream unreachable"
            } else {
                "upstream failed before answering"
            };
            Ok(plain(
                StatusCode::BAD_GATEWAY,
                format!("{what}: {reason}\n"),
            ))
        }
    }
}

/// Hands a complete body to the inspector; large ones on the blocking pool (see
/// [`INLINE_INSPECT_MAX`]). The request waits either way: forwarding after the inspection is
/// what lets the audit say it saw every request before the server did.
async fn inspect_body(shared: &Arc<Shared>, seq: u64, method: &Method, path: &str, bytes: &Bytes) {
    if bytes.len() <= INLINE_INSPECT_MAX {
        call_inspector(shared, &Seen::new(seq, method, path, Payload::Body(bytes)));
        return;
    }
    let (shared2, method, path, bytes) = (
        shared.clone(),
        method.clone(),
        path.to_owned(),
        bytes.clone(),
    );
    let job = tokio::task::spawn_blocking(move || {
        let seen = Seen::new(seq, &method, &path, Payload::Body(&bytes));
        call_inspector(&shared2, &seen);
    });
    if job.await.is_err() {
        // Only if the runtime is shutting down: the request goes on uninspected.
        tracing::warn!(seq, "inspection on the blocking pool did not run");
    }
}

fn call_inspector(shared: &Shared, seen: &Seen<'_>) {
    // A bug in an inspector must not take the request (or the connection) down with it.
    if catch_unwind(AssertUnwindSafe(|| shared.inspector.request(seen))).is_err() {
        shared.counters.inspector_panics.fetch_add(1, Relaxed);
        tracing::error!(
            seq = seen.seq,
            "inspector panicked; request forwarded all the same"
        );
    }
}

/// Whether this answer is reshaped: a successful JSON answer (not an event stream) the
/// inspector asks for.
fn reshaped(shared: &Shared, seq: u64, parts: &http::response::Parts) -> bool {
    let streamed = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    parts.status.is_success()
        && !streamed
        && catch_unwind(AssertUnwindSafe(|| shared.inspector.reshapes(seq))).unwrap_or(false)
}

/// The answer read whole, shown to the inspector as it came, and sent as the inspector
/// reshaped it (its length set again); `None` when the upstream's body failed.
async fn reshape(
    shared: &Arc<Shared>,
    seq: u64,
    headers: &mut http::HeaderMap,
    body: Incoming,
) -> Option<ProxyBody> {
    let bytes = match read_capped(body, shared.max_inspect_bytes).await {
        Read::Complete(bytes) => bytes,
        Read::TooLarge(body) => return Some(body),
        Read::Failed(e) => {
            tracing::debug!(seq, error = %e, "response body failed while reading it");
            shared.inspector.response_end(seq, false);
            return None;
        }
    };
    Some(ProxyBody::full(deliver(shared, seq, headers, bytes, true)))
}

/// A whole answer shown to the inspector as it came, and the body to send: as the inspector
/// reshaped it (when `reshape`), its length set again.
fn deliver(
    shared: &Shared,
    seq: u64,
    headers: &mut http::HeaderMap,
    bytes: Bytes,
    reshape: bool,
) -> Bytes {
    let inspector = &shared.inspector;
    let reshaped = catch_unwind(AssertUnwindSafe(|| {
        inspector.response_data(seq, &bytes);
        inspector.response_end(seq, true);
        reshape.then(|| inspector.reshape(seq, &bytes)).flatten()
    }));
    let body = match reshaped {
        Ok(Some(new)) => Bytes::from(new),
        Ok(None) => bytes,
        Err(_) => {
            shared.counters.inspector_panics.fetch_add(1, Relaxed);
            bytes
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    body
}

/// The answer the inspector gives request `seq` itself, when it does.
fn call_answer(shared: &Shared, seq: u64) -> Option<super::inspect::Answer> {
    catch_unwind(AssertUnwindSafe(|| shared.inspector.answer(seq))).unwrap_or_else(|_| {
        shared.counters.inspector_panics.fetch_add(1, Relaxed);
        None
    })
}

/// The response to a request the inspector answered: the response hooks see it as an
/// upstream's answer, reshaped where the inspector asks.
fn answered(shared: &Shared, seq: u64, answer: super::inspect::Answer) -> Response<ProxyBody> {
    shared.counters.answered.fetch_add(1, Relaxed);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    call_response(shared, seq, Outcome::Answered(status));
    let mut response = Response::new(ProxyBody::Full(None));
    *response.status_mut() = status;
    let content_type = answer
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
        .unwrap_or(HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    let reshape =
        catch_unwind(AssertUnwindSafe(|| shared.inspector.reshapes(seq))).unwrap_or(false);
    let body = deliver(
        shared,
        seq,
        response.headers_mut(),
        Bytes::from(answer.body),
        reshape,
    );
    *response.body_mut() = ProxyBody::full(body);
    response
}

fn call_response(shared: &Shared, seq: u64, outcome: Outcome) {
    if catch_unwind(AssertUnwindSafe(|| shared.inspector.response(seq, outcome))).is_err() {
        shared.counters.inspector_panics.fetch_add(1, Relaxed);
        tracing::error!(seq, "inspector panicked on a response");
    }
}

/// `client error (Connect): tcp connect error: Connection refused (os error 111)`: hyper-util's
/// own message is only the first part, the cause is in the source chain.
fn error_chain(e: &hyper_util::client::legacy::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// A short plain-text response of the proxy's own.
fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let u = Upstream::parse("http://127.0.0.1:8000").unwrap();
        let uri: Uri = "/v1/completions?x=1".parse().unwrap();
        assert_eq!(
            u.uri_for(&uri).unwrap(),
            "http://127.0.0.1:8000/v1/completions?x=1"
        );
        let u = Upstream::parse("http://localhost:8000/base/").unwrap();
        assert_eq!(
            u.uri_for(&uri).unwrap(),
            "http://localhost:8000/base/v1/completions?x=1"
        );
        assert!(Upstream::parse("https://127.0.0.1:8000").is_err());
        assert!(Upstream::parse("127.0.0.1:8000").is_err());
        assert!(Upstream::parse("http://127.0.0.1:8000/?a=b").is_err());
        let with_user = Upstream::parse("http://user:s3cret@127.0.0.1:8000/v1").unwrap_err();
        assert!(with_user.to_string().contains("credentials"), "{with_user}");
        assert!(!with_user.to_string().contains("s3cret"), "{with_user}");
    }

    #[test]
    fn only_completions_posts_are_inspected() {
        assert!(is_inspected(&Method::POST, "/v1/completions"));
        assert!(is_inspected(&Method::POST, "/v1/chat/completions"));
        assert!(!is_inspected(&Method::GET, "/v1/completions"));
        assert!(!is_inspected(&Method::POST, "/tokenize"));
        assert!(!is_inspected(&Method::GET, "/v1/models"));
    }
}
