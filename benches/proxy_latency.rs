//! Latency the proxy adds, on loopback. A hyper upstream answers every completions POST with a
//! fixed JSON body; a keep-alive hyper client sends ~1 KB generation requests, sequentially
//! (median and p99, straight to the upstream and through the proxy) and then from 8 concurrent
//! tasks (requests per second both ways). The proxy runs the real `Audit` inspector.
//!
//! Each of the three parts has its own thread and current-thread runtime, as in production
//! (benchy's runtime holds the proxy; the client and vLLM are other processes).
//! Run with `cargo bench --bench proxy_latency` (release). `LATENCY_N` overrides N (default 5000);
//! `LATENCY_LAYOUT=one` puts all three on one thread instead, which takes thread wake-ups out of
//! the figures: on a machine with few cores the scheduler's wake-up latency can outweigh the
//! proxy's own cost.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use benchy::proof::audit::Audit;
use benchy::proxy::Proxy;
use benchy_core::{Expectation, Expected};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const CONCURRENCY: usize = 8;
const PER_TASK: usize = 1000;
/// The sequential runs alternate in blocks of this many requests, so that a slow spell on this
/// shared machine hits both sides alike instead of skewing one.
const BLOCK: usize = 250;
const WARM_UP: usize = 500;

const ANSWER: &str = r#"{"id":"cmpl-bench","object":"text_completion","created":1700000000,"model":"m","choices":[{"index":0,"text":" 4","logprobs":null,"finish_reason":"stop","stop_reason":"\n"}],"usage":{"prompt_tokens":200,"total_tokens":202,"completion_tokens":2}}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Serves the fixed answer on `listener` until `stop` fires.
async fn serve_upstream(listener: TcpListener, mut stop: oneshot::Receiver<()>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Ok((stream, _)) = listener.accept() => {
                stream.set_nodelay(true).unwrap();
                conns.spawn(async move {
                    let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(ANSWER.as_bytes())))
                                .unwrap(),
                        )
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
    conns.shutdown().await;
}

/// Starts the upstream on its own thread; returns its URL and a stopper.
fn start_upstream_thread() -> (String, oneshot::Sender<()>, std::thread::JoinHandle<()>) {
    let (url_tx, url_rx) = std_mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            url_tx
                .send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            serve_upstream(listener, stop_rx).await;
        })
    });
    (url_rx.recv().unwrap(), stop_tx, thread)
}

fn audit() -> Arc<Audit> {
    let expected =
        json!({"temperature": 0.7, "top_p": 0.6, "top_k": 20, "max_tokens": 32, "stop": ["\n"]});
    let mut expects = Expectation::exactly(expected.as_object().unwrap());
    expects
        .added
        .insert("seed".into(), Expected::Exactly(json!(1234)));
    Arc::new(Audit::new(Some(expects)))
}

/// Starts the proxy (with an `Audit`) on its own thread; returns its URL, the audit and a
/// stopper that shuts it down.
fn start_proxy_thread(
    upstream: String,
) -> (
    String,
    Arc<Audit>,
    oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let audit = audit();
    let inspector = audit.clone();
    let (url_tx, url_rx) = std_mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime().block_on(async move {
            let proxy = Proxy::start(&upstream, inspector).await.unwrap();
            url_tx.send(proxy.url()).unwrap();
            let _ = stop_rx.await;
            proxy.shutdown().await;
        })
    });
    (url_rx.recv().unwrap(), audit, stop_tx, thread)
}

/// A generation request of about 1 KB, as lm-evaluation-harness sends them.
fn request_body() -> Bytes {
    let prompt = "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?\nAnswer: ".repeat(5);
    let body = json!({"model": "m", "prompt": prompt, "temperature": 0.7, "top_p": 0.6, "top_k": 20,
                      "max_tokens": 32, "stop": ["\n"], "seed": 1234});
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

type BenchClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> BenchClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn one(client: &BenchClient, url: &str, body: &Bytes) -> Duration {
    let req = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json")
        .header("authorization", "Bearer EMPTY")
        .body(Full::new(body.clone()))
        .unwrap();
    let started = Instant::now();
    let response = client.request(req).await.unwrap();
    assert!(response.status().is_success());
    let got = response.into_body().collect().await.unwrap().to_bytes();
    let took = started.elapsed();
    assert_eq!(got.len(), ANSWER.len());
    took
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn throughput(url: &str, body: &Bytes) -> f64 {
    let client = client();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        tasks.spawn(async move {
            for _ in 0..PER_TASK {
                one(&client, &url, &body).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (CONCURRENCY * PER_TASK) as f64 / started.elapsed().as_secs_f64()
}

/// The sequential latencies and the concurrent throughput, both ways.
async fn measure(n: usize, upstream: &str, proxy: &str) {
    let direct_url = format!("{upstream}/v1/completions");
    let proxied_url = format!("{proxy}/v1/completions");
    let body = request_body();
    println!(
        "body {} bytes, N = {n} sequential requests each way, keep-alive",
        body.len()
    );
    let client = client();
    for _ in 0..WARM_UP {
        one(&client, &direct_url, &body).await;
        one(&client, &proxied_url, &body).await;
    }
    let (mut direct, mut proxied) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while direct.len() < n {
        let block = BLOCK.min(n - direct.len());
        for _ in 0..block {
            direct.push(one(&client, &direct_url, &body).await);
        }
        for _ in 0..block {
            proxied.push(one(&client, &proxied_url, &body).await);
        }
    }
    direct.sort();
    proxied.sort();
    let (dm, d99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    let (pm, p99) = (percentile(&proxied, 0.5), percentile(&proxied, 0.99));
    println!("direct:  median {:7.1} us  p99 {:7.1} us", us(dm), us(d99));
    println!("proxied: median {:7.1} us  p99 {:7.1} us", us(pm), us(p99));
    println!(
        "added:   median {:7.1} us  p99 {:7.1} us",
        us(pm) - us(dm),
        us(p99) - us(d99)
    );

    let direct_rps = throughput(&direct_url, &body).await;
    let proxied_rps = throughput(&proxied_url, &body).await;
    println!(
        "{CONCURRENCY} concurrent clients x {PER_TASK} requests: direct {direct_rps:.0} req/s, proxied {proxied_rps:.0} req/s"
    );
}

fn main() {
    let n: usize = std::env::var("LATENCY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let layout = std::env::var("LATENCY_LAYOUT").unwrap_or_else(|_| "threads".to_owned());
    println!("layout: {layout}");
    let audit = match layout.as_str() {
        // Production-like: three threads, each with its own current-thread runtime.
        "threads" => {
            let (upstream, stop_upstream, upstream_thread) = start_upstream_thread();
            let (proxy, audit, stop_proxy, proxy_thread) = start_proxy_thread(upstream.clone());
            runtime().block_on(measure(n, &upstream, &proxy));
            let _ = stop_proxy.send(());
            proxy_thread.join().unwrap();
            let _ = stop_upstream.send(());
            upstream_thread.join().unwrap();
            audit
        }
        // Everything on one thread and runtime: no thread wake-ups at all, so what the proxy
        // adds is its own CPU time plus the extra loopback round trip's syscalls.
        "one" => runtime().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let upstream = format!("http://{}", listener.local_addr().unwrap());
            let (stop_upstream, stop) = oneshot::channel();
            let upstream_task = tokio::spawn(serve_upstream(listener, stop));
            let audit = audit();
            let proxy = Proxy::start(&upstream, audit.clone()).await.unwrap();
            measure(n, &upstream, &proxy.url()).await;
            proxy.shutdown().await;
            let _ = stop_upstream.send(());
            upstream_task.await.unwrap();
            audit
        }),
        other => panic!("LATENCY_LAYOUT={other}: use threads or one"),
    };

    let report = audit.report();
    let expected_requests = (WARM_UP + n + CONCURRENCY * PER_TASK) as u64;
    assert_eq!(
        report.generation.matched, expected_requests,
        "every proxied request audited and matched"
    );
    println!(
        "audit: {} generation requests, {} matched",
        report.generation.requests, report.generation.matched
    );
}
