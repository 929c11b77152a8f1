//! Server-sent events reach the client as the upstream sends them, not when the response ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use benchy::proxy::Proxy;
use bytes::Bytes;
use http::{Method, Response};
use http_body_util::{BodyExt, Channel};

use crate::common::*;

const EVENTS: usize = 6;
const GAP: Duration = Duration::from_millis(120);

#[tokio::test(flavor = "current_thread")]
async fn sse_events_arrive_as_the_upstream_sends_them() {
    let sent: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = sent.clone();
    let up = upstream(move |req| {
        let log = log.clone();
        async move {
            let _ = body_of(req).await;
            let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(1);
            tokio::spawn(async move {
                for i in 0..EVENTS {
                    tokio::time::sleep(GAP).await;
                    let event = if i + 1 == EVENTS {
                        "data: [DONE]\n\n".to_owned()
                    } else {
                        format!("data: {{\"choices\":[{{\"text\":\"tok{i}\"}}]}}\n\n")
                    };
                    log.lock().unwrap().push(Instant::now());
                    if tx.send_data(Bytes::from(event)).await.is_err() {
                        return;
                    }
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(body.boxed())
                .unwrap()
        }
    })
    .await;
    let proxy = Proxy::start(&up.url(), Arc::new(Recorder::default()))
        .await
        .unwrap();
    let req = request(
        Method::POST,
        &proxy.url(),
        "/v1/completions",
        full(r#"{"prompt":"x","stream":true,"max_tokens":5}"#),
    );
    let response = client().request(req).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut arrivals = Vec::new();
    let mut text = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            arrivals.push(Instant::now());
            text.extend_from_slice(&data);
        }
    }
    let sent = sent.lock().unwrap().clone();
    let text = String::from_utf8(text).unwrap();
    assert_eq!(text.matches("data: ").count(), EVENTS);
    assert!(text.ends_with("data: [DONE]\n\n"));
    // One frame per event, each arriving right after it was sent: far less than the gap
    // between events, which is what buffering would add (the first event would wait ~600 ms).
    assert_eq!(arrivals.len(), EVENTS, "events were merged: {text:?}");
    let lags: Vec<Duration> = sent
        .iter()
        .zip(&arrivals)
        .map(|(s, a)| a.duration_since(*s))
        .collect();
    println!("per-event lag through the proxy: {lags:?}");
    for lag in &lags {
        assert!(
            *lag < Duration::from_millis(40),
            "an event arrived late: {lags:?}"
        );
    }
    proxy.shutdown().await;
}
