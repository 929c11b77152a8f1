//! Faults on either side change nothing that passes and never stop the proxy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benchy::proof::audit::{Audit, Kind};
use benchy::proxy::{Inspect, Outcome, Proxy, ProxyConfig, Seen};
use benchy_core::Expectation;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Channel};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::common::*;

fn audit() -> Arc<Audit> {
    let expected = json!({"temperature": 0.7, "max_tokens": 32});
    Arc::new(Audit::new(Some(Expectation::exactly(
        expected.as_object().unwrap(),
    ))))
}

/// First connection: a Content-Length response cut short. Second: a chunked response cut off
/// in the middle of a chunk. Then a healthy answer (with `Connection: close`).
#[tokio::test(flavor = "current_thread")]
async fn upstream_closing_mid_response_truncates_that_response_only() {
    let up = raw_upstream(|mut stream, index| async move {
        let Some(_head) = read_head(&mut stream).await else {
            return;
        };
        let answer: &[u8] = match index {
            0 => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
            1 => {
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n20\r\npartial"
            }
            _ => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
        };
        let _ = stream.write_all(answer).await;
        // Dropping the stream closes the connection.
    })
    .await;
    let proxy = Proxy::start(&up.url(), audit()).await.unwrap();
    let client = client();
    for path in ["/v1/models", "/v1/models"] {
        let response = client
            .request(request(Method::GET, &proxy.url(), path, empty()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
            .await
            .unwrap();
        assert!(body.is_err(), "a truncated body must not look complete");
    }
    let (parts, body) = send(
        &client,
        request(Method::GET, &proxy.url(), "/v1/models", empty()),
    )
    .await;
    assert_eq!((parts.status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(proxy.stats().requests, 3);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn upstream_500_is_forwarded_with_its_body() {
    let up = upstream(|_req| async {
        Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header("content-type", "application/json")
            .body(full(r#"{"error":{"message":"boom"}}"#))
            .unwrap()
    })
    .await;
    let audit = audit();
    let proxy = Proxy::start(&up.url(), audit.clone()).await.unwrap();
    let req = request(
        Method::POST,
        &proxy.url(),
        "/v1/completions",
        full(r#"{"prompt":"x"}"#),
    );
    let (parts, body) = send(&client(), req).await;
    assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(parts.headers["content-type"], "application/json");
    assert_eq!(body, r#"{"error":{"message":"boom"}}"#);
    assert_eq!(audit.report().responses["500"], 1);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn unreachable_upstream_gives_502_with_a_short_reason() {
    // A port that was free a moment ago and has nothing listening now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let audit = audit();
    let proxy = Proxy::start(&format!("http://{addr}"), audit.clone())
        .await
        .unwrap();
    let client = client();
    for (method, path, body) in [
        (Method::GET, "/v1/models", empty()),
        (
            Method::POST,
            "/v1/completions",
            full(r#"{"prompt":"x","temperature":0.7,"max_tokens":32}"#),
        ),
    ] {
        let (parts, body) = send(&client, request(method, &proxy.url(), path, body)).await;
        assert_eq!(parts.status, StatusCode::BAD_GATEWAY);
        assert_eq!(parts.headers["content-type"], "text/plain; charset=utf-8");
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.starts_with("upstream unreachable: "), "{text}");
        assert!(text.contains("refused"), "{text}");
        assert!(text.len() < 200, "{text}");
    }
    assert_eq!(proxy.stats().no_answer, 2);
    let report = audit.report();
    assert_eq!(report.responses["no answer"], 2);
    // The request was still seen (and checked) before the attempt.
    assert_eq!(report.generation.matched, 1);
    proxy.shutdown().await;
}

/// Streams an endless SSE response, and reports (with the time) when its writes start failing.
async fn endless_stream_upstream() -> (Upstream, mpsc::UnboundedReceiver<Instant>) {
    let (released_tx, released) = mpsc::unbounded_channel();
    let up = upstream(move |req| {
        let released_tx = released_tx.clone();
        async move {
            let path = req.uri().path().to_owned();
            let _ = body_of(req).await;
            if path == "/health" {
                return Response::new(full("ok"));
            }
            let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(1);
            tokio::spawn(async move {
                for i in 0..500 {
                    let event = format!("data: {{\"text\":\"tok{i}\"}}\n\n");
                    if tx.send_data(Bytes::from(event)).await.is_err() {
                        let _ = released_tx.send(Instant::now());
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(body.boxed())
                .unwrap()
        }
    })
    .await;
    (up, released)
}

async fn raw_post(proxy: &Proxy, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let head = format!(
        "POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    stream
}

#[tokio::test(flavor = "current_thread")]
async fn client_disconnecting_mid_stream_releases_the_upstream_connection() {
    let (up, mut released) = endless_stream_upstream().await;
    let proxy = Proxy::start(&up.url(), audit()).await.unwrap();

    let mut stream = raw_post(&proxy, r#"{"prompt":"x","stream":true}"#).await;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while seen.windows(6).filter(|w| w == b"data: ").count() < 3 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    let dropped = Instant::now();
    drop(stream);

    let at = tokio::time::timeout(Duration::from_secs(5), released.recv())
        .await
        .expect("the upstream stream was released")
        .unwrap();
    println!(
        "upstream released {:?} after the client left",
        at.duration_since(dropped)
    );

    // And the proxy goes on serving.
    let (parts, body) = send(
        &client(),
        request(Method::GET, &proxy.url(), "/health", empty()),
    )
    .await;
    assert_eq!((parts.status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    proxy.shutdown().await;
}

/// A client that gives up while the upstream is still working on the answer (no bytes flowing
/// yet): the proxy drops the upstream request too, which is how vLLM learns to abort it.
#[tokio::test(flavor = "current_thread")]
async fn client_disconnecting_before_the_answer_cancels_the_upstream_request() {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    let up = upstream(move |req| {
        let guard = Flag(flag.clone());
        async move {
            let _guard = guard;
            let _ = body_of(req).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            Response::new(empty())
        }
    })
    .await;
    let proxy = Proxy::start(&up.url(), audit()).await.unwrap();
    let stream = raw_post(&proxy, r#"{"prompt":"x"}"#).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cancelled.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the upstream request was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn ten_megabyte_bodies_are_forwarded_intact() {
    let prompt = filler(10 << 20);
    let body = Bytes::from(format!(
        r#"{{"prompt":"{prompt}","temperature":0.7,"max_tokens":32}}"#
    ));
    let up = comparing_upstream(body.clone()).await;
    let audit = audit();
    let proxy = Proxy::start(&up.url(), audit.clone()).await.unwrap();
    let client = client();

    let req = request(
        Method::POST,
        &proxy.url(),
        "/v1/completions",
        full(body.clone()),
    );
    let (_, answer) = send(&client, req).await;
    assert_eq!(answer, format!("identical {}", body.len()));

    // Chunked, in 64 KiB pieces.
    let (upload, feeder) = chunked(&body, 64 << 10);
    let req = request(Method::POST, &proxy.url(), "/v1/completions", upload);
    let (_, answer) = send(&client, req).await;
    feeder.await.unwrap();
    assert_eq!(answer, format!("identical {}", body.len()));

    let report = audit.report();
    assert_eq!(report.generation.matched, 2);
    assert_eq!(proxy.stats().inspected, 2);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn bodies_over_the_cap_stream_through_uninspected() {
    let body = Bytes::from(format!(r#"{{"prompt":"{}"}}"#, filler(3 << 20)));
    let up = comparing_upstream(body.clone()).await;
    let audit = audit();
    let config = ProxyConfig {
        max_inspect_bytes: 1 << 20,
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start_with(&up.url(), audit.clone(), config)
        .await
        .unwrap();
    let client = client();
    // With a Content-Length (known too large before reading) and chunked (found out mid-way).
    let (_, answer) = send(
        &client,
        request(
            Method::POST,
            &proxy.url(),
            "/v1/completions",
            full(body.clone()),
        ),
    )
    .await;
    assert_eq!(answer, format!("identical {}", body.len()));
    let (upload, feeder) = chunked(&body, 100_000);
    let (_, answer) = send(
        &client,
        request(Method::POST, &proxy.url(), "/v1/completions", upload),
    )
    .await;
    feeder.await.unwrap();
    assert_eq!(answer, format!("identical {}", body.len()));

    assert_eq!(audit.report().by_kind[&Kind::TooLarge], 2);
    assert_eq!((proxy.stats().too_large, proxy.stats().inspected), (2, 0));
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn malformed_json_is_counted_and_forwarded_as_sent() {
    let up = upstream(|req| async move { Response::new(full(body_of(req).await.1)) }).await;
    let audit = audit();
    let proxy = Proxy::start(&up.url(), audit.clone()).await.unwrap();
    let client = client();
    for bad in [
        &b"{\"prompt\": \"x\", temperature: }"[..],
        b"[1, 2]",
        b"\xff\xfe not utf-8",
        b"",
    ] {
        let req = request(
            Method::POST,
            &proxy.url(),
            "/v1/completions",
            full(Bytes::from_static(bad)),
        );
        let (parts, echoed) = send(&client, req).await;
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(&echoed[..], bad);
    }
    let report = audit.report();
    assert_eq!(report.by_kind[&Kind::Malformed], 4);
    assert_eq!(report.generation.requests, 0);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_inspector_changes_nothing_that_passes() {
    #[derive(Debug)]
    struct Panics;
    impl Inspect for Panics {
        fn request(&self, _seen: &Seen<'_>) {
            panic!("inspector bug");
        }
        fn response(&self, _seq: u64, _outcome: Outcome) {
            panic!("inspector bug");
        }
    }
    let up = upstream(|req| async move { Response::new(full(body_of(req).await.1)) }).await;
    let proxy = Proxy::start(&up.url(), Arc::new(Panics)).await.unwrap();
    let (parts, body) = send(
        &client(),
        request(Method::POST, &proxy.url(), "/v1/completions", full("{}")),
    )
    .await;
    assert_eq!((parts.status, &body[..]), (StatusCode::OK, &b"{}"[..]));
    assert_eq!(proxy.stats().inspector_panics, 2);
    proxy.shutdown().await;
}
