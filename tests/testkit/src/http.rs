//! A minimal HTTP/1.1 server on 127.0.0.1 for the stand-in Hub: keep-alive connections,
//! `Content-Length` bodies, a thread per connection, and faults a real network has (a connection
//! closed without an answer, a body cut short). Dropping the server closes every connection and
//! joins every thread, so a test leaves nothing running.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request as received: method, raw target (path and query, still percent-encoded), the
/// headers in the order they came, and the body (`Content-Length` bytes).
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The first of `headers` named `name` (case-insensitive).
pub fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the server does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response. `Content-Length` is added; a `HEAD` gets the headers only.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Close the connection without answering (a reset or crashed server).
    Drop,
    /// Announce the whole body's length, send only its first `sent` bytes, then close.
    Truncated {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        sent: usize,
    },
}

/// Wakes sleepers when the server stops, so a slow response never delays a test's teardown.
#[derive(Debug, Default)]
pub struct Stopper {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stopper {
    pub fn stop(&self) {
        *self.stopped.lock().unwrap() = true;
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap()
    }

    /// Sleeps for `duration` or until the server stops.
    pub fn sleep(&self, duration: Duration) {
        let deadline = Instant::now() + duration;
        let mut stopped = self.stopped.lock().unwrap();
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            stopped = self.wake.wait_timeout(stopped, deadline - now).unwrap().0;
        }
    }
}

type HandlerFn = dyn Fn(&Request) -> Reply + Send + Sync;

/// The open connections: a handle to close each one and the thread serving it.
type Connections = Arc<Mutex<Vec<(TcpStream, JoinHandle<()>)>>>;

/// A running server; stopped on drop.
pub struct Server {
    addr: SocketAddr,
    stopper: Arc<Stopper>,
    acceptor: Option<JoinHandle<()>>,
    connections: Connections,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Listens on 127.0.0.1 on a free port and answers every request with `handler`.
    pub fn start(stopper: Arc<Stopper>, handler: Arc<HandlerFn>) -> io::Result<Server> {
        Server::start_on(0, stopper, handler)
    }

    /// Listens on 127.0.0.1:`port` (0 for a free one) and answers every request with `handler`.
    pub fn start_on(
        port: u16,
        stopper: Arc<Stopper>,
        handler: Arc<HandlerFn>,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let connections: Connections = Arc::default();
        let acceptor = {
            let stopper = Arc::clone(&stopper);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name("stand-in-hub-accept".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stopper.is_stopped() {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let Ok(handle) = stream.try_clone() else {
                            continue;
                        };
                        let handler = Arc::clone(&handler);
                        let thread = std::thread::Builder::new()
                            .name("stand-in-hub-conn".into())
                            .spawn(move || serve_connection(stream, &*handler))
                            .expect("spawn a connection thread");
                        let mut connections = connections.lock().unwrap();
                        // Join the finished ones so a long benchmark does not pile up sockets.
                        let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut *connections)
                            .into_iter()
                            .partition(|(_, thread)| thread.is_finished());
                        *connections = open;
                        connections.push((handle, thread));
                        drop(connections);
                        for (_, thread) in done {
                            let _ = thread.join();
                        }
                    }
                })?
        };
        Ok(Server {
            addr,
            stopper,
            acceptor: Some(acceptor),
            connections,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopper.stop();
        // The acceptor blocks in accept(): one connection wakes it to see the stop flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *self.connections.lock().unwrap());
        for (stream, thread) in connections {
            let _ = stream.shutdown(Shutdown::Both);
            let _ = thread.join();
        }
    }
}

fn serve_connection(stream: TcpStream, handler: &HandlerFn) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        let close_requested = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head_only = request.method == "HEAD";
        let keep_going = match handler(&request) {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                write_response(&mut writer, status, &headers, &body, body.len(), head_only).is_ok()
            }
            Reply::Drop => false,
            Reply::Truncated {
                status,
                headers,
                body,
                sent,
            } => {
                let _ = write_response(&mut writer, status, &headers, &body, sent, head_only);
                false
            }
        };
        if !keep_going || close_requested {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Reads one request: its head and its `Content-Length` body. `None` at a clean end of the
/// connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            request
                .headers
                .push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length: u64 = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    reader
        .by_ref()
        .take(length)
        .read_to_end(&mut request.body)?;
    Ok(Some(request))
}

fn write_response(
    writer: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    send: usize,
    head_only: bool,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&body[..send.min(body.len())]);
    }
    writer.write_all(&bytes)?;
    writer.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
