//! The per-request hook: what the proxy tells an inspector about each request and its response.

use std::sync::Arc;

use http::{Method, StatusCode};

/// What the proxy knows about one request when it hands it to the inspector, just before
/// forwarding it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The listener's request number, from 1, in order of arrival (over all connections).
    pub seq: u64,
    /// The request's method.
    pub method: &'a Method,
    /// The path, without the query string.
    pub path: &'a str,
    /// The body, when the proxy read it.
    pub payload: Payload<'a>,
}

impl<'a> Seen<'a> {
    pub fn new(seq: u64, method: &'a Method, path: &'a str, payload: Payload<'a>) -> Seen<'a> {
        Seen {
            seq,
            method,
            path,
            payload,
        }
    }
}

/// How much of the body the inspector gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The whole body, exactly the bytes that will be forwarded (a POST to `.../completions`).
    Body(&'a [u8]),
    /// Not a request the proxy inspects: its body (if any) is streamed through unread.
    NotRead,
    /// A request the proxy would inspect, but its body is over
    /// [`ProxyConfig::max_inspect_bytes`](super::ProxyConfig::max_inspect_bytes): it is forwarded
    /// uninspected.
    TooLarge,
}

/// How a forwarded request ended, as far as the proxy can tell when the response starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered with this status; its body is being streamed to the client (which
    /// may still fail later: that is not reported).
    Answered(StatusCode),
    /// The upstream could not be reached or failed before answering: the proxy answered 502.
    NoAnswer,
}

/// The inspection hook. Calls come from the proxy's tasks, possibly several at a time (one per
/// client connection), so implementations must be thread-safe; they should also be quick, since
/// the request waits for [`Inspect::request`] before it is forwarded (bodies over 1 MiB are
/// inspected on tokio's blocking pool so that a large parse does not stall other connections).
///
/// A panic in an inspector is caught: the request is forwarded all the same and
/// [`ProxyStats::inspector_panics`](super::ProxyStats::inspector_panics) counts it.
pub trait Inspect: Send + Sync + 'static {
    /// Called once per request, before it is forwarded.
    fn request(&self, seen: &Seen<'_>);

    /// Called once per request that was forwarded (or tried), when the response head is known.
    fn response(&self, _seq: u64, _outcome: Outcome) {}

    /// Called with each piece of the response body of an inspected request (a completions POST
    /// the upstream answered), as it passes on to the client: the body is neither held back nor
    /// changed.
    fn response_data(&self, _seq: u64, _data: &[u8]) {}

    /// Called once when that body has ended: whole, or cut off (the upstream broke off, or the
    /// client went away).
    fn response_end(&self, _seq: u64, _whole: bool) {}

    /// Whether the answer to request `seq` is to be reshaped before the client sees it. The
    /// proxy then reads the whole response (a JSON one, up to the inspection cap), hands it to
    /// [`Inspect::response_data`] and [`Inspect::response_end`] as it came, and sends what
    /// [`Inspect::reshape`] makes of it instead. A streamed response is never reshaped.
    fn reshapes(&self, _seq: u64) -> bool {
        false
    }

    /// The response body to send instead of `body`; `None` sends it as it came.
    fn reshape(&self, _seq: u64, _body: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// An answer to give request `seq` (already seen by [`Inspect::request`]) instead of
    /// forwarding it: the response hooks are then called with it as with an upstream's.
    fn answer(&self, _seq: u64) -> Option<Answer> {
        None
    }
}

/// An answer an inspector gives in the upstream's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Several inspectors as one: each sees every request and response, in order; the first that
/// answers a request answers it, and reshapes apply one after the other.
pub struct Chain(pub Vec<Arc<dyn Inspect>>);

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chain({} inspectors)", self.0.len())
    }
}

impl Inspect for Chain {
    fn request(&self, seen: &Seen<'_>) {
        self.0.iter().for_each(|i| i.request(seen));
    }

    fn response(&self, seq: u64, outcome: Outcome) {
        self.0.iter().for_each(|i| i.response(seq, outcome));
    }

    fn response_data(&self, seq: u64, data: &[u8]) {
        self.0.iter().for_each(|i| i.response_data(seq, data));
    }

    fn response_end(&self, seq: u64, whole: bool) {
        self.0.iter().for_each(|i| i.response_end(seq, whole));
    }

    fn reshapes(&self, seq: u64) -> bool {
        self.0.iter().any(|i| i.reshapes(seq))
    }

    fn reshape(&self, seq: u64, body: &[u8]) -> Option<Vec<u8>> {
        let mut current: Option<Vec<u8>> = None;
        for inspector in &self.0 {
            let input = current.as_deref().unwrap_or(body);
            if let Some(next) = inspector.reshape(seq, input) {
                current = Some(next);
            }
        }
        current
    }

    fn answer(&self, seq: u64) -> Option<Answer> {
        self.0.iter().find_map(|i| i.answer(seq))
    }
}
