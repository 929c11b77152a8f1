//! The auditing proxy: a reverse proxy on 127.0.0.1 between one client (a job) and the server.
//! It forwards every HTTP/1.1 request to the upstream unchanged, streams responses back as they
//! are produced, and hands each completions request body to an [`Inspect`] hook before
//! forwarding it, so benchy proves which generation parameters actually reached the server
//! ([`crate::proof::audit`]). An answer the inspector asks to reshape (a thinking mode's stop
//! strings, applied after the reasoning) is read whole and sent as reshaped, and a request the
//! inspector answers itself (from a cache) is not forwarded at all. Nothing here logs or stores
//! an `Authorization` header or a body.
//!
//! This module is the listener: it binds loopback, accepts connections, serves each with
//! hyper's HTTP/1.1 server, and shuts down gracefully within a bound.

mod body;
mod forward;
mod headers;
mod inspect;

pub use inspect::{Answer, Chain, Inspect, Outcome, Payload, Seen};

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use forward::{Counters, Shared, Upstream, handle};

/// Tunables; [`ProxyConfig::default`] is what [`Proxy::start`] uses.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Completions bodies up to this size are read and inspected; larger ones are streamed
    /// through uninspected (and reported as [`Payload::TooLarge`]).
    /// Default 64 MiB: far above any evaluation prompt, low enough that a handful of
    /// concurrent requests cannot exhaust memory.
    pub max_inspect_bytes: usize,
    /// How long [`Proxy::shutdown`] waits for requests in flight before cutting them off.
    pub shutdown_grace: Duration,
    /// How long an idle upstream connection is kept for reuse. Must stay below the upstream's
    /// own keep-alive timeout (uvicorn's, hence vLLM's, is 5 s): otherwise the upstream may close
    /// a connection just as the proxy reuses it, and that request fails with a 502.
    pub upstream_idle_timeout: Duration,
    /// Bound on establishing an upstream connection.
    pub connect_timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            max_inspect_bytes: 64 << 20,
            shutdown_grace: Duration::from_secs(5),
            upstream_idle_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The proxy's own counters (the inspector keeps its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Requests received.
    pub requests: u64,
    /// Completions requests whose body was read and handed to the inspector.
    pub inspected: u64,
    /// Completions requests forwarded uninspected because their body was over the cap.
    pub too_large: u64,
    /// Requests the proxy answered with 502 (upstream unreachable or failed before answering).
    pub no_answer: u64,
    /// Inspector calls that panicked (their requests were forwarded all the same).
    pub inspector_panics: u64,
    /// Requests the inspector answered itself, not forwarded.
    pub answered: u64,
}

/// What [`Proxy::shutdown`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// Client connections still open when shutdown began.
    pub open_connections: usize,
    /// Of those, the ones cut off at the end of the grace period.
    pub aborted_connections: usize,
}

/// A running proxy: one loopback listener forwarding to one upstream.
///
/// Its tasks run on the tokio runtime that [`Proxy::start`] was called in, and only while that
/// runtime runs: on a current-thread runtime, keep the thread inside `block_on` (await the
/// client process with `tokio::process`, never `std::process::Child::wait`).
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Dropping it (with the `Proxy`) also stops the listener.
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ShutdownReport>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`, optionally with a path prefix) on
    /// `127.0.0.1` and a free port, with the default [`ProxyConfig`]. Must be called inside a
    /// tokio runtime with I/O and time enabled (`enable_all`).
    pub async fn start(upstream: &str, inspector: Arc<dyn Inspect>) -> io::Result<Proxy> {
        Self::start_with(upstream, inspector, ProxyConfig::default()).await
    }

    /// [`Proxy::start`] with explicit tunables.
    pub async fn start_with(
        upstream: &str,
        inspector: Arc<dyn Inspect>,
        config: ProxyConfig,
    ) -> io::Result<Proxy> {
        let upstream = Upstream::parse(upstream)?;
        // Loopback only: the proxy is for a client on this machine and must not be reachable
        // from elsewhere (it forwards whatever it gets, Authorization included).
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;

        let mut connector = HttpConnector::new();
        // Without TCP_NODELAY, Nagle's algorithm holds back small writes (a request body sent
        // after its head, an SSE event) until the peer's delayed ACK: up to 40 ms each.
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.upstream_idle_timeout)
            // The timer only reaps idle connections in the background; expiry is also checked
            // when a connection is taken from the pool.
            .pool_timer(TokioTimer::new())
            .build(connector);

        let shared = Arc::new(Shared {
            upstream,
            client,
            inspector,
            max_inspect_bytes: config.max_inspect_bytes,
            counters: Counters::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            stopped,
            config.shutdown_grace,
        ));
        tracing::debug!(%addr, "proxy listening");
        Ok(Proxy {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address clients should use, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's own counters so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        ProxyStats {
            requests: c.requests.load(Relaxed),
            inspected: c.inspected.load(Relaxed),
            too_large: c.too_large.load(Relaxed),
            no_answer: c.no_answer.load(Relaxed),
            inspector_panics: c.inspector_panics.load(Relaxed),
            answered: c.answered.load(Relaxed),
        }
    }

    /// Stops accepting connections, lets requests in flight finish (closing idle keep-alive
    /// connections at once and busy ones after their current response), and cuts off whatever
    /// is still running after [`ProxyConfig::shutdown_grace`]. Returns once every connection
    /// task has ended.
    pub async fn shutdown(mut self) -> ShutdownReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self
            .task
            .take()
            .expect("the accept task is only taken here");
        task.await.unwrap_or(ShutdownReport {
            open_connections: 0,
            aborted_connections: 0,
        })
    }
}

/// Accepts until told to stop, then drains. Connection tasks live in a `JoinSet` so that they
/// can be counted, awaited and, past the grace period, aborted.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    grace: Duration,
) -> ShutdownReport {
    let mut server = http1::Builder::new();
    server
        .timer(TokioTimer::new())
        // hyper's default 30 s header timeout also runs while a keep-alive connection waits for
        // its next request, so it would close the client's idle connections on its own schedule:
        // a race with a client that reuses one. A loopback listener for one client needs no
        // slowloris protection, and shutdown bounds everything anyway.
        .header_read_timeout(None)
        .keep_alive(true);
    // Sent (true) when shutdown starts; each connection then finishes its current exchange.
    let (drain, draining) = watch::channel(false);
    let mut connections = JoinSet::new();

    loop {
        tokio::select! {
            biased;
            // A send or the sender's drop (the `Proxy` was dropped): stop either way.
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, shared.clone(), server.clone(), draining.clone()));
                }
                Err(e) => {
                    // Such as EMFILE: the listener itself is fine, so wait a little and go on
                    // rather than spin or give up.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connection tasks so the set does not grow with every connection.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    drop(listener);
    let open_connections = connections.len();
    let _ = drain.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let aborted_connections = if drained.is_ok() {
        0
    } else {
        connections.len()
    };
    // Aborts what is left and waits for the aborts to land, so nothing outlives `shutdown`.
    connections.shutdown().await;
    tracing::debug!(open_connections, aborted_connections, "proxy stopped");
    ShutdownReport {
        open_connections,
        aborted_connections,
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    server: http1::Builder,
    mut draining: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| handle(shared.clone(), req));
    let connection = server.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        // `wait_for` also returns (with an error) if the sender is gone: shut down then too.
        // (Its `Ref` guard is dropped inside the block: holding it across the await below
        // would make the task non-`Send`.)
        () = async { let _ = draining.wait_for(|d| *d).await; } => {
            // Closes the connection now if idle, else after the response in progress.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        // Client went away mid-response, upstream body broke off, malformed request...: all
        // end this one connection only.
        tracing::debug!(error = %e, "client connection ended with an error");
    }
}
