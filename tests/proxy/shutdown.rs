//! Shutdown: stops accepting, lets requests in flight finish, and is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use benchy::proxy::{Proxy, ProxyConfig, ShutdownReport};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;

use crate::common::*;

async fn slow_upstream(delay: Duration) -> Upstream {
    upstream(move |req| async move {
        let _ = body_of(req).await;
        tokio::time::sleep(delay).await;
        Response::new(full("done"))
    })
    .await
}

async fn refused(addr: std::net::SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_err()
}

#[tokio::test(flavor = "current_thread")]
async fn requests_in_flight_finish_and_new_connections_are_refused() {
    let up = slow_upstream(Duration::from_millis(300)).await;
    let proxy = Proxy::start(&up.url(), Arc::new(Recorder::default()))
        .await
        .unwrap();
    let addr = proxy.addr();
    let client = client();
    let in_flight = client.request(request(Method::GET, &proxy.url(), "/v1/models", empty()));
    let stop = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.shutdown().await
    };
    let (response, report) = tokio::join!(in_flight, stop);
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "done"
    );
    assert_eq!(
        report,
        ShutdownReport {
            open_connections: 1,
            aborted_connections: 0
        }
    );
    assert!(refused(addr).await);
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_gives_up_on_requests_after_the_grace_period() {
    let up = slow_upstream(Duration::from_secs(60)).await;
    let config = ProxyConfig {
        shutdown_grace: Duration::from_millis(200),
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start_with(&up.url(), Arc::new(Recorder::default()), config)
        .await
        .unwrap();
    let client = client();
    let stuck = client.request(request(Method::GET, &proxy.url(), "/v1/models", empty()));
    let started = Instant::now();
    let stop = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.shutdown().await
    };
    let (response, report) = tokio::join!(stuck, stop);
    assert!(response.is_err(), "the client sees its request cut off");
    assert_eq!(
        report,
        ShutdownReport {
            open_connections: 1,
            aborted_connections: 1
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn idle_keep_alive_connections_do_not_delay_shutdown() {
    let up = slow_upstream(Duration::ZERO).await;
    let proxy = Proxy::start(&up.url(), Arc::new(Recorder::default()))
        .await
        .unwrap();
    let client = client();
    for _ in 0..3 {
        send(
            &client,
            request(Method::GET, &proxy.url(), "/v1/models", empty()),
        )
        .await;
    }
    // The client keeps its connection open in its pool.
    let started = Instant::now();
    let report = proxy.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        report,
        ShutdownReport {
            open_connections: 1,
            aborted_connections: 0
        }
    );
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_proxy_stops_the_listener() {
    let up = slow_upstream(Duration::ZERO).await;
    let proxy = Proxy::start(&up.url(), Arc::new(Recorder::default()))
        .await
        .unwrap();
    let addr = proxy.addr();
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(refused(addr).await);
}

/// After shutdown the proxy holds nothing open: its pooled upstream connection is closed too.
#[tokio::test(flavor = "current_thread")]
async fn shutdown_closes_pooled_upstream_connections() {
    use tokio::io::AsyncWriteExt;
    let (closed_tx, mut closed) = tokio::sync::mpsc::unbounded_channel();
    // A keep-alive upstream that reports when its peer closes the connection.
    let up = raw_upstream(move |mut stream, _| {
        let closed_tx = closed_tx.clone();
        async move {
            while read_head(&mut stream).await.is_some() {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            }
            let _ = closed_tx.send(());
        }
    })
    .await;
    let proxy = Proxy::start(&up.url(), Arc::new(Recorder::default()))
        .await
        .unwrap();
    let (parts, body) = send(
        &client(),
        request(Method::GET, &proxy.url(), "/v1/models", empty()),
    )
    .await;
    assert_eq!((parts.status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    assert!(
        closed.try_recv().is_err(),
        "the upstream connection is pooled while the proxy runs"
    );
    proxy.shutdown().await;
    tokio::time::timeout(Duration::from_secs(2), closed.recv())
        .await
        .expect("the pooled upstream connection was closed")
        .unwrap();
    assert_eq!(up.connections(), 1);
}
