//! The audit through the proxy, on traffic shaped like lm-evaluation-harness's.

use std::sync::Arc;

use benchy::proof::audit::{Audit, Kind, Mismatch};
use benchy::proxy::Proxy;
use benchy_core::{Expectation, Expected};
use http::{Method, Response};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "current_thread")]
async fn an_evaluation_run_is_audited() {
    let up = upstream(|req| async move {
        let path = req.uri().path().to_owned();
        let _ = body_of(req).await;
        Response::new(full(if path == "/v1/models" {
            r#"{"data":[{"id":"m"}]}"#
        } else {
            r#"{"choices":[]}"#
        }))
    })
    .await;
    let expected =
        json!({"temperature": 0.7, "top_p": 0.6, "top_k": 20, "max_tokens": 32, "stop": ["\n"]});
    let mut expects = Expectation::exactly(expected.as_object().unwrap());
    expects
        .added
        .insert("seed".into(), Expected::Exactly(json!(1234)));
    expects.scoring.extend([
        ("temperature".into(), Expected::Exactly(json!(0))),
        ("max_tokens".into(), Expected::Exactly(json!(1))),
        ("seed".into(), Expected::Exactly(json!(1234))),
    ]);
    let audit = Arc::new(Audit::new(Some(expects)));
    let proxy = Proxy::start(&up.url(), audit.clone()).await.unwrap();
    let client = client();
    let good = json!({"model": "m", "prompt": "Q: 1+1?\nA:", "temperature": 0.7, "top_p": 0.6, "top_k": 20,
                      "max_tokens": 32, "stop": ["\n"], "seed": 1234});
    let bad = json!({"model": "m", "prompt": "Q", "temperature": 0.0, "top_p": 0.6, "top_k": 20,
                     "max_tokens": 32, "stop": ["\n"], "seed": 1234});
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.7,
                      "top_p": 0.6, "top_k": 20.0, "max_tokens": 32, "stop": ["\n"], "stream": true});
    let scoring = json!({"model": "m", "prompt": [1, 2, 3], "echo": true, "logprobs": 1, "max_tokens": 1,
                         "temperature": 0, "seed": 1234});
    let traffic: Vec<(Method, &str, Option<&Value>)> = vec![
        (Method::GET, "/v1/models", None),
        (Method::POST, "/v1/completions", Some(&good)),
        (Method::POST, "/v1/completions", Some(&scoring)),
        (Method::POST, "/v1/completions", Some(&scoring)),
        (Method::POST, "/v1/completions", Some(&bad)),
        (Method::POST, "/v1/chat/completions", Some(&chat)),
    ];
    for (method, path, body) in traffic {
        let body = body.map_or_else(empty, |b| full(serde_json::to_vec(b).unwrap()));
        send(&client, request(method, &proxy.url(), path, body)).await;
    }
    proxy.shutdown().await;

    let report = audit.report();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.requests, 6);
    assert_eq!(report.by_path["/v1/models"][&Kind::Other], 1);
    assert_eq!(report.by_path["/v1/completions"][&Kind::Scoring], 2);
    assert_eq!(report.by_path["/v1/completions"][&Kind::Generation], 2);
    assert_eq!(report.by_path["/v1/chat/completions"][&Kind::Generation], 1);
    assert_eq!(
        (
            report.generation.requests,
            report.generation.matched,
            report.generation.mismatched
        ),
        (3, 2, 1)
    );
    assert_eq!(report.deviations.len(), 1);
    let d = &report.deviations[0];
    assert_eq!(
        (d.seq, d.key.as_str(), d.problem),
        (5, "temperature", Mismatch::Different)
    );
    assert_eq!(report.scoring_keys["seed"].requests, 2);
    assert_eq!((report.scoring.requests, report.scoring.matched), (2, 2));
    assert_eq!(report.responses["200"], 6);
    // No body or credential ends up in the report: only the sampling keys' values.
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("Q: 1+1") && !text.contains("messages"));
}
