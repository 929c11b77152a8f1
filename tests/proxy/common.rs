//! Test fixtures: hyper upstreams, raw-TCP upstreams that misbehave, a pooled test client and a
//! recording inspector.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use benchy::proxy::{Inspect, Outcome, Payload, Seen};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Channel, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub type TestBody = BoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into()).boxed()
}

pub fn empty() -> TestBody {
    full(Bytes::new())
}

/// A test server; stops (its accept loop is aborted) when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A hyper HTTP/1.1 upstream calling `handler` for each request.
pub async fn upstream<F, Fut>(handler: F) -> Upstream
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    raw_upstream(move |stream, _| {
        let handler = handler.clone();
        async move {
            stream.set_nodelay(true).unwrap();
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await
}

/// A raw TCP upstream: `handler` gets each accepted stream and its index (from 0).
pub async fn raw_upstream<F, Fut>(handler: F) -> Upstream
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let index = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handler(stream, index));
        }
    });
    Upstream {
        addr,
        connections,
        task,
    }
}

/// Reads one request head (up to the blank line) from a raw stream; `None` at EOF.
pub async fn read_head(stream: &mut TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8(head).unwrap())
}

pub fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A request to `url` + `path`.
pub fn request(method: Method, url: &str, path: &str, body: TestBody) -> Request<TestBody> {
    Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .body(body)
        .unwrap()
}

/// Sends and reads the whole response.
pub async fn send(
    client: &Client<HttpConnector, TestBody>,
    req: Request<TestBody>,
) -> (http::response::Parts, Bytes) {
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("response in time")
        .expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("whole body").to_bytes();
    (parts, body)
}

/// What an inspector was told, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Body(Vec<u8>),
    NotRead,
    TooLarge,
}

/// Records every call.
#[derive(Debug, Default)]
pub struct Recorder {
    pub requests: Mutex<Vec<(u64, Method, String, Got)>>,
    pub outcomes: Mutex<Vec<(u64, Outcome)>>,
    /// Each inspected response's body as the inspector saw it, and each end it was told of
    /// (whole or not), by request number.
    pub answers: Mutex<std::collections::BTreeMap<u64, Answer>>,
}

/// An answer as an inspector saw it: its bytes, and each end it was told of.
pub type Answer = (Vec<u8>, Vec<bool>);

impl Inspect for Recorder {
    fn request(&self, seen: &Seen<'_>) {
        let got = match seen.payload {
            Payload::Body(b) => Got::Body(b.to_vec()),
            Payload::NotRead => Got::NotRead,
            Payload::TooLarge => Got::TooLarge,
        };
        self.requests.lock().unwrap().push((
            seen.seq,
            seen.method.clone(),
            seen.path.to_owned(),
            got,
        ));
    }
    fn response(&self, seq: u64, outcome: Outcome) {
        self.outcomes.lock().unwrap().push((seq, outcome));
    }
    fn response_data(&self, seq: u64, data: &[u8]) {
        let mut answers = self.answers.lock().unwrap();
        answers.entry(seq).or_default().0.extend_from_slice(data);
    }
    fn response_end(&self, seq: u64, whole: bool) {
        let mut answers = self.answers.lock().unwrap();
        answers.entry(seq).or_default().1.push(whole);
    }
}

impl Recorder {
    pub fn requests(&self) -> Vec<(u64, Method, String, Got)> {
        self.requests.lock().unwrap().clone()
    }
}

/// Deterministic filler text of `len` bytes (printable, JSON-safe).
pub fn filler(len: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (b'a' + (state % 26) as u8) as char
        })
        .collect()
}

/// Reads a whole request body in an upstream handler.
pub async fn body_of(req: Request<Incoming>) -> (http::request::Parts, Bytes) {
    let (parts, body) = req.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

/// An upstream that answers `identical N` when the body it got is `expected` (`different N`
/// otherwise), N being the length it got: proof that a body passed through unchanged.
pub async fn comparing_upstream(expected: Bytes) -> Upstream {
    upstream(move |req| {
        let expected = expected.clone();
        async move {
            let (_, got) = body_of(req).await;
            let verdict = if got == expected {
                "identical"
            } else {
                "different"
            };
            Response::new(full(format!("{verdict} {}", got.len())))
        }
    })
    .await
}

/// `body` as a chunked upload in pieces of `piece` bytes, and the task feeding it (await it
/// after the request, so a send that failed shows).
pub fn chunked(body: &Bytes, piece: usize) -> (TestBody, JoinHandle<()>) {
    let (mut tx, chunked) = Channel::<Bytes, Infallible>::new(4);
    let pieces = body.clone();
    let feeder = tokio::spawn(async move {
        for part in pieces.chunks(piece) {
            tx.send_data(pieces.slice_ref(part)).await.unwrap();
        }
    });
    (chunked.boxed(), feeder)
}
