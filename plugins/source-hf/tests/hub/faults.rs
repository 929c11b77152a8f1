//! A Hub that fails: server errors, dropped connections, bodies cut short, answers too slow,
//! nobody listening, and the offline switch. Request counts show what was retried.

use std::fs;
use std::net::TcpListener;
use std::time::Duration;

use benchy_core::Level;
use benchy_testkit::FaultKind;

use crate::{Env, messages, unavailable};

const CONFIG: &str = "{\"do_sample\": true, \"temperature\": 0.6}";

#[test]
fn server_errors_with_nothing_cached_are_retried_a_bounded_number_of_times() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    env.hub.fail(Some("HEAD"), 100, FaultKind::Status(500));

    let message = unavailable(env.resolve("org/model", None));

    // the first attempt and FAST_RETRIES.max_retries retries, then a message, not a hang
    assert_eq!(env.hub.count("HEAD"), 4);
    assert_eq!(env.hub.count("GET"), 0);
    assert!(
        message.contains("server error HTTP 500") && message.contains("has no copy"),
        "{message}"
    );
}

#[test]
fn a_transient_server_error_is_retried_until_it_passes() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    env.hub.fail(Some("HEAD"), 2, FaultKind::Status(503));
    env.hub.fail(Some("GET"), 1, FaultKind::Status(502));

    let layer = env.layer("org/model", None);

    assert_eq!(layer.artifact.unwrap().text, CONFIG);
    assert_eq!((env.hub.count("HEAD"), env.hub.count("GET")), (3, 2));
}

#[test]
fn a_failing_hub_with_a_cached_copy_falls_back_at_once_with_a_warning() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);
    env.hub.clear_requests();
    env.hub.fail(None, 100, FaultKind::Status(500));

    let reply = env.resolve("org/model", None).unwrap();

    assert_eq!(reply.layer.unwrap().artifact.unwrap().text, CONFIG);
    let warnings = messages(&reply.diagnostics, Level::Warning);
    assert!(
        warnings.len() == 1
            && warnings[0].contains("could not check org/model@main")
            && warnings[0].contains(&format!("using the cached copy at commit {commit}")),
        "{warnings:?}"
    );
    assert_eq!(
        env.hub.total(),
        1,
        "no retries when a cached copy can be used"
    );
}

#[test]
fn a_dropped_connection_and_a_truncated_body_are_retried() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    env.hub.fail(Some("HEAD"), 1, FaultKind::Drop);
    env.hub.fail(Some("GET"), 1, FaultKind::Truncate);

    let layer = env.layer("org/model", None);

    assert_eq!(layer.artifact.unwrap().text, CONFIG);
    assert_eq!((env.hub.count("HEAD"), env.hub.count("GET")), (2, 2));
    let blob_dir = env.repo_dir("org/model").join("blobs");
    let blobs: Vec<_> = fs::read_dir(blob_dir).unwrap().collect();
    assert_eq!(blobs.len(), 1, "only the complete blob, no partial file");
}

#[test]
fn a_download_that_keeps_failing_after_the_branch_moved_uses_the_previous_copy() {
    let env = Env::start();
    let old = env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);
    env.hub
        .publish_generation_config("org/model", "{\"top_k\": 5}");
    env.hub.clear_requests();
    env.hub.fail(Some("GET"), 100, FaultKind::Status(500));

    let reply = env.resolve("org/model", None).unwrap();

    assert_eq!(reply.layer.unwrap().artifact.unwrap().text, CONFIG);
    assert!(messages(&reply.diagnostics, Level::Warning)[0].contains(&old));
    assert_eq!((env.hub.count("HEAD"), env.hub.count("GET")), (1, 4));
}

#[test]
fn a_slow_hub_times_out_and_the_cached_copy_is_used() {
    let mut env = Env::start();
    env.settings.metadata_timeout = Duration::from_secs(1);
    env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);
    env.hub
        .fail(Some("HEAD"), 1, FaultKind::Delay(Duration::from_secs(5)));

    let reply = env.resolve("org/model", None).unwrap();

    assert!(reply.layer.is_some());
    let warnings = messages(&reply.diagnostics, Level::Warning);
    assert!(warnings[0].contains("timeout"), "{warnings:?}");
}

#[test]
fn a_slow_download_times_out_and_is_retried() {
    let mut env = Env::start();
    env.settings.download_timeout = Duration::from_secs(1);
    env.hub.publish_generation_config("org/model", CONFIG);
    env.hub
        .fail(Some("GET"), 1, FaultKind::Delay(Duration::from_secs(5)));

    let layer = env.layer("org/model", None);

    assert_eq!(layer.artifact.unwrap().text, CONFIG);
    assert_eq!(env.hub.count("GET"), 2);
}

#[test]
fn an_unreachable_hub_falls_back_to_the_cache_or_says_what_failed() {
    let mut env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);
    // a port nobody listens on
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    env.settings.endpoint = format!("http://{closed}");

    let reply = env.resolve("org/model", None).unwrap();
    assert!(reply.layer.is_some());
    assert!(messages(&reply.diagnostics, Level::Warning)[0].contains(&env.settings.endpoint));

    let message = unavailable(env.resolve("org/never-cached", None));
    assert!(
        message.contains("org/never-cached@main") && message.contains(&env.settings.endpoint),
        "{message}"
    );
}

#[test]
fn offline_makes_no_request_and_uses_the_cache() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);
    env.hub.clear_requests();

    let layer = env
        .resolve_offline("org/model", None)
        .unwrap()
        .layer
        .unwrap();
    assert_eq!(layer.source.detail, Some(format!("org/model@{commit}")));
    let pinned = env.resolve_offline("org/model", Some(&commit)).unwrap();
    assert!(pinned.layer.is_some());

    let message = unavailable(env.resolve_offline("org/model", Some("v2")));
    assert!(
        message.contains("offline")
            && message.contains("org/model@v2")
            && message.contains(&env.repo_dir("org/model").display().to_string()),
        "{message}"
    );
    assert_eq!(env.hub.total(), 0, "{:?}", env.hub.requests());
}

#[test]
fn a_file_larger_than_any_generation_config_is_not_taken() {
    let env = Env::start();
    let huge = format!(
        "{{\"pad\": \"{}\"}}",
        "x".repeat(benchy_core::source::MAX_TEXT_FILE_BYTES as usize)
    );
    env.hub.publish_generation_config("org/model", &huge);

    let message = unavailable(env.resolve("org/model", None));

    assert!(
        message.contains(&format!(
            "sent more than {} bytes",
            benchy_core::source::MAX_TEXT_FILE_BYTES
        )),
        "{message}"
    );
    assert!(
        !env.repo_dir("org/model").join("blobs").exists(),
        "nothing cached"
    );
}
