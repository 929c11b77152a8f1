//! Requests and responses pass unchanged (but for hop-by-hop headers and Host), connections are
//! kept alive and pooled, and only completions bodies are buffered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use benchy::proxy::{Outcome, Proxy};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Channel};

use crate::common::*;

#[tokio::test(flavor = "current_thread")]
async fn request_and_response_pass_unchanged_but_for_hop_by_hop_headers() {
    type Seen = (Method, String, HeaderMap, Bytes);
    let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
    let record = seen.clone();
    let up = upstream(move |req| {
        let record = record.clone();
        async move {
            let (parts, body) = body_of(req).await;
            let pq = parts.uri.path_and_query().unwrap().to_string();
            *record.lock().unwrap() = Some((parts.method, pq, parts.headers, body));
            Response::builder()
                .status(StatusCode::CREATED)
                .header("content-type", "application/json")
                .header("x-up", "1")
                .header("x-up", "2")
                .header("connection", "x-hop")
                .header("x-hop", "gone")
                .header("keep-alive", "timeout=5")
                .body(full(r#"{"id":"cmpl-1"}"#))
                .unwrap()
        }
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let proxy = Proxy::start(&up.url(), recorder.clone()).await.unwrap();
    assert!(proxy.url().starts_with("http://127.0.0.1:"));

    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.7}"#;
    let req = http::Request::builder()
        .method(Method::POST)
        .uri(format!("{}/v1/chat/completions?x=1&y=%20", proxy.url()))
        .header("authorization", "Bearer sk-secret")
        .header("content-type", "application/json")
        .header("x-custom", "a")
        .header("x-custom", "b")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "1")
        .header("proxy-authorization", "Basic Zm9v")
        .header("te", "trailers")
        .header("keep-alive", "timeout=1")
        .header("host", "example.invalid")
        .body(full(body))
        .unwrap();
    let (parts, got) = send(&client(), req).await;

    let (method, pq, headers, upstream_body) = seen.lock().unwrap().take().unwrap();
    assert_eq!(method, Method::POST);
    assert_eq!(pq, "/v1/chat/completions?x=1&y=%20");
    assert_eq!(headers["authorization"], "Bearer sk-secret");
    assert_eq!(
        headers.get_all("x-custom").iter().collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    assert_eq!(headers["host"], up.addr.to_string().as_str());
    for hop in [
        "x-drop-me",
        "proxy-authorization",
        "te",
        "keep-alive",
        "transfer-encoding",
    ] {
        assert!(!headers.contains_key(hop), "{hop} was forwarded");
    }
    assert_eq!(upstream_body, body);

    assert_eq!(parts.status, StatusCode::CREATED);
    assert_eq!(
        parts.headers.get_all("x-up").iter().collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(parts.headers["content-type"], "application/json");
    assert!(!parts.headers.contains_key("x-hop"));
    assert!(!parts.headers.contains_key("keep-alive"));
    assert_eq!(got, r#"{"id":"cmpl-1"}"#);

    let requests = recorder.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, 1);
    assert_eq!(requests[0].2, "/v1/chat/completions");
    assert_eq!(requests[0].3, Got::Body(body.as_bytes().to_vec()));
    assert_eq!(
        *recorder.outcomes.lock().unwrap(),
        [(1, Outcome::Answered(StatusCode::CREATED))]
    );
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn connections_are_kept_alive_and_pooled_and_requests_numbered() {
    let up = upstream(|req| async move {
        let (parts, body) = body_of(req).await;
        Response::new(full(format!("{} {}", parts.uri.path(), body.len())))
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let proxy = Proxy::start(&up.url(), recorder.clone()).await.unwrap();
    let client = client();
    for i in 0..20 {
        let (method, path, body) = match i % 4 {
            0 => (Method::GET, "/v1/models", empty()),
            1 => (Method::POST, "/v1/completions", full(r#"{"prompt":"x"}"#)),
            2 => (Method::POST, "/tokenize", full(r#"{"prompt":"x"}"#)),
            _ => (Method::GET, "/health", empty()),
        };
        let (parts, got) = send(&client, request(method, &proxy.url(), path, body)).await;
        assert_eq!(parts.status, StatusCode::OK);
        assert!(got.starts_with(path.as_bytes()));
    }
    // Sequential requests: one client connection, one upstream connection.
    assert_eq!(up.connections(), 1);
    let requests = recorder.requests();
    assert_eq!(
        requests.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    for (seq, method, path, got) in requests {
        let expected = if method == Method::POST && path == "/v1/completions" {
            Got::Body(br#"{"prompt":"x"}"#.to_vec())
        } else {
            Got::NotRead
        };
        assert_eq!(got, expected, "request {seq} {method} {path}");
    }
    let stats = proxy.stats();
    assert_eq!((stats.requests, stats.inspected), (20, 5));
    proxy.shutdown().await;
}

/// An upload to a non-completions path reaches the upstream while the client is still sending:
/// the upstream answers after the first chunk, and the client gets that answer before it sends
/// the rest. A buffering proxy would deadlock here (and the timeout would fire).
#[tokio::test(flavor = "current_thread")]
async fn other_request_bodies_are_streamed_not_buffered() {
    let up = upstream(|req| async move {
        let mut body = req.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        // Drain the rest in the background so the connection stays usable.
        tokio::spawn(async move { while body.frame().await.is_some() {} });
        Response::new(full(first))
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let proxy = Proxy::start(&up.url(), recorder.clone()).await.unwrap();
    let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(4);
    let req = request(Method::POST, &proxy.url(), "/tokenize", body.boxed());
    tx.send_data(Bytes::from_static(b"first chunk"))
        .await
        .unwrap();
    let client = client();
    let response = tokio::time::timeout(Duration::from_secs(5), client.request(req))
        .await
        .expect("answered before the upload finished")
        .unwrap();
    tx.send_data(Bytes::from_static(b" and the rest"))
        .await
        .unwrap();
    drop(tx);
    let got = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(got, "first chunk");
    assert_eq!(recorder.requests()[0].3, Got::NotRead);
    proxy.shutdown().await;
}

/// A completions body is read whole and inspected before the upstream sees any of it; a chunked
/// upload arrives as the same bytes (re-framed with a Content-Length).
#[tokio::test(flavor = "current_thread")]
async fn completions_bodies_are_inspected_first_then_forwarded_as_the_same_bytes() {
    let recorder = Arc::new(Recorder::default());
    let seen_first = recorder.clone();
    let up = upstream(move |req| {
        let seen_first = seen_first.clone();
        async move {
            // The inspector has already been called when the request reaches the upstream.
            let inspected = seen_first.requests().len();
            let (parts, body) = body_of(req).await;
            let length = parts.headers.get("content-length").cloned();
            let chunked = parts.headers.contains_key("transfer-encoding");
            Response::builder()
                .header("x-inspected", inspected.to_string())
                .header(
                    "x-length",
                    length.unwrap_or(HeaderValue::from_static("none")),
                )
                .header("x-chunked", chunked.to_string())
                .body(full(body))
                .unwrap()
        }
    })
    .await;
    let proxy = Proxy::start(&up.url(), recorder.clone()).await.unwrap();

    let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(8);
    let req = request(Method::POST, &proxy.url(), "/v1/completions", body.boxed());
    let feeder = tokio::spawn(async move {
        for part in [
            &br#"{"prompt": "#[..],
            br#""a b c", "#,
            br#""max_tokens": 5}"#,
        ] {
            tx.send(Frame::data(Bytes::from_static(part)))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let (parts, got) = send(&client(), req).await;
    feeder.await.unwrap();
    let whole = br#"{"prompt": "a b c", "max_tokens": 5}"#;
    assert_eq!(got, &whole[..]);
    assert_eq!(parts.headers["x-inspected"], "1");
    assert_eq!(parts.headers["x-length"], whole.len().to_string().as_str());
    assert_eq!(parts.headers["x-chunked"], "false");
    assert_eq!(recorder.requests()[0].3, Got::Body(whole.to_vec()));
    proxy.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_path_prefix_in_the_upstream_url_is_kept() {
    let up = upstream(|req| async move { Response::new(full(req.uri().to_string())) }).await;
    let proxy = Proxy::start(
        &format!("{}/base/", up.url()),
        Arc::new(Recorder::default()),
    )
    .await
    .unwrap();
    let (_, got) = send(
        &client(),
        request(Method::GET, &proxy.url(), "/v1/models?a=b", empty()),
    )
    .await;
    assert_eq!(got, "/base/v1/models?a=b");
    proxy.shutdown().await;
}

/// An inspected request's answer passes on unchanged while the inspector sees every byte of it,
/// then its end, once: a body of known length, a chunked stream, and one the upstream broke off.
#[tokio::test(flavor = "current_thread")]
async fn the_inspector_sees_each_answer_whole_and_its_end_once() {
    let up = {
        upstream(move |req| async move {
            let (parts, _) = body_of(req).await;
            match parts.uri.path() {
                "/v1/chat/completions" => {
                    let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(4);
                    tokio::spawn(async move {
                        for event in ["data: {\"a\": 1}\n\n", "data: [DONE]\n\n"] {
                            tx.send_data(Bytes::from(event)).await.unwrap();
                        }
                    });
                    Response::new(body.boxed())
                }
                _ => Response::new(full(filler(70_000))),
            }
        })
        .await
    };
    let recorder = Arc::new(Recorder::default());
    let proxy = Proxy::start(&up.url(), recorder.clone()).await.unwrap();
    let client = client();
    let (_, whole) = send(
        &client,
        request(Method::POST, &proxy.url(), "/v1/completions", full("{}")),
    )
    .await;
    let (_, streamed) = send(
        &client,
        request(
            Method::POST,
            &proxy.url(),
            "/v1/chat/completions",
            full("{}"),
        ),
    )
    .await;
    send(
        &client,
        request(Method::GET, &proxy.url(), "/v1/models", empty()),
    )
    .await;
    let answers = recorder.answers.lock().unwrap().clone();
    assert_eq!(
        answers.len(),
        2,
        "only the inspected requests' answers are seen"
    );
    assert_eq!(answers[&1], (whole.to_vec(), vec![true]));
    assert_eq!(answers[&2], (streamed.to_vec(), vec![true]));
    drop(answers);

    // an upstream that promises more than it sends, then closes: the answer ended cut off
    let broken = raw_upstream(|mut stream, _| async move {
        use tokio::io::AsyncWriteExt;
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
            .await;
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let proxy = Proxy::start(&broken.url(), recorder.clone()).await.unwrap();
    let response = client
        .request(request(
            Method::POST,
            &proxy.url(),
            "/v1/completions",
            full("{}"),
        ))
        .await
        .unwrap();
    assert!(
        response.into_body().collect().await.is_err(),
        "the client sees the break"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answers = recorder.answers.lock().unwrap().clone();
    assert_eq!(answers[&1], (b"only part".to_vec(), vec![false]));
}
