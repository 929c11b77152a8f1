//! The response cache in the proxy: a seeded or greedy request answered before is answered
//! again without reaching the upstream (a streamed answer replayed with the same events), a
//! sampled request without a seed always reaches it, and the audit sees every request either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use benchy::cache::inspect::JobCache;
use benchy::cache::key::Scope;
use benchy::cache::store::Store;
use benchy::cache::{Cache, Mode};
use benchy::proof::audit::Audit;
use benchy::proxy::{Chain, Inspect, Proxy};
use benchy_core::Expectation;
use http::{Method, Response};
use http_body_util::BodyExt;
use serde_json::json;

use crate::common::*;

const STREAM: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"fi\"}}]}\n\n\
    data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ve\"},\"finish_reason\":\"stop\"}]}\n\n\
    data: [DONE]\n\n";

#[tokio::test(flavor = "current_thread")]
async fn answered_requests_are_answered_again_and_unseeded_samples_never() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let up = upstream(move |req| {
        let counter = counter.clone();
        async move {
            let (_, body) = body_of(req).await;
            counter.fetch_add(1, Ordering::SeqCst);
            let streamed = String::from_utf8_lossy(&body).contains("\"stream\":true");
            let (kind, text) = if streamed {
                ("text/event-stream", STREAM.to_owned())
            } else {
                (
                    "application/json",
                    r#"{"choices":[{"index":0,"text":"5","finish_reason":"stop"}]}"#.to_owned(),
                )
            };
            Response::builder()
                .header("content-type", kind)
                .body(full(text))
                .unwrap()
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(&dir.path().join("answers.db")).unwrap();
    let cache = Arc::new(Cache {
        store,
        mode: Mode::On,
        limit: 1 << 30,
    });
    let scope = Scope::new(&json!({"name": "m"}), &json!({"version": "1"}));
    let job_cache = Arc::new(JobCache::new(cache, scope, "m", "r1"));
    // an expectation of nothing: every field deviates, and every answer is read
    let audit = Arc::new(Audit::new(Some(Expectation::default())));
    let chain: Arc<dyn Inspect> = Arc::new(Chain(vec![audit.clone(), job_cache.clone()]));
    let proxy = Proxy::start(&up.url(), chain).await.unwrap();
    let ask = |body: &'static str| {
        let req = request(
            Method::POST,
            &proxy.url(),
            "/v1/chat/completions",
            full(body),
        );
        async move {
            let response = client().request(req).await.unwrap();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (kind, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let seeded = r#"{"messages":[{"role":"user","content":"2+3"}],"temperature":0.7,"seed":1}"#;
    let first = ask(seeded).await;
    let again = ask(seeded).await;
    assert_eq!(first, again);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "the second came from the cache"
    );
    let streamed =
        r#"{"messages":[{"role":"user","content":"2+3"}],"temperature":0,"stream":true}"#;
    let live = ask(streamed).await;
    let replayed = ask(streamed).await;
    assert_eq!(live, replayed, "replayed as the same events");
    assert_eq!(replayed.0, "text/event-stream");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    let sampled = r#"{"messages":[{"role":"user","content":"2+3"}],"temperature":0.7}"#;
    ask(sampled).await;
    ask(sampled).await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        4,
        "no seed: every sample reaches the server"
    );
    let counts = job_cache.counts();
    assert_eq!((counts.hits, counts.filed, counts.uncacheable), (2, 2, 2));
    assert!(counts.from_runs.contains("r1"));
    let report = audit.report();
    assert_eq!(report.requests, 6, "the audit saw every request");
    assert_eq!(report.answers.answers, 6, "and every answer, cached or not");
    assert_eq!(proxy.stats().answered, 2);
}
