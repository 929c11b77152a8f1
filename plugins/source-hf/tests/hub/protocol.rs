//! The protocol and the cache: what a cold, warm and pinned resolution sends, and what it
//! leaves on disk.

use std::fs;

use benchy_core::{Entry, Key, ParamValue, SourceRef};
use benchy_testkit::{Origin, git_blob_sha1};

use crate::{Env, GEN, walk};

const CONFIG: &str = "{\n  \"do_sample\": true,\n  \"temperature\": 0.6,\n  \"top_p\": 0.95,\n  \"eos_token_id\": [1, 2]\n}\n";

fn resolve_path(repo: &str, revision: &str) -> String {
    format!("/{repo}/resolve/{revision}/{GEN}")
}

#[test]
fn a_cold_fetch_is_one_head_and_one_get_and_fills_the_cache_as_huggingface_hub_does() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);

    let layer = env.layer("org/model", None);

    assert_eq!(
        layer.entries.get(&Key::Temperature),
        Some(&Entry::Set(ParamValue::Float(0.6)))
    );
    assert_eq!(
        layer.source,
        SourceRef::new("hf", format!("org/model@{commit}"))
    );
    let artifact = layer.artifact.expect("the raw file is kept");
    assert_eq!(artifact.text, CONFIG);
    assert_eq!(artifact.revision.as_deref(), Some(commit.as_str()));
    assert_eq!(
        artifact.origin,
        format!("{}/org/model/resolve/{commit}/{GEN}", env.hub.url())
    );
    assert_eq!(layer.ignored, ["eos_token_id"]);

    let requests = env.hub.requests();
    let sent: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let path = resolve_path("org/model", "main");
    assert_eq!(sent, [("HEAD", path.as_str()), ("GET", path.as_str())]);
    assert_eq!(requests[0].header("accept-encoding"), Some("identity"));
    assert_eq!(
        requests[0].header("authorization"),
        None,
        "no token configured"
    );

    let repo = env.repo_dir("org/model");
    let etag = git_blob_sha1(CONFIG.as_bytes());
    assert_eq!(
        fs::read_to_string(repo.join("blobs").join(&etag)).unwrap(),
        CONFIG
    );
    let snapshot = repo.join("snapshots").join(&commit).join(GEN);
    assert_eq!(
        fs::read_link(&snapshot).unwrap().to_str().unwrap(),
        format!("../../blobs/{etag}")
    );
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), commit);
    assert!(env.cache().join("CACHEDIR.TAG").is_file());
    let leftovers: Vec<_> = walk(&repo)
        .into_iter()
        .filter(|p| p.contains(".tmp") || p.contains(".incomplete"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_warm_branch_costs_one_head_and_no_download() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);
    env.hub.clear_requests();

    let layer = env.layer("org/model", Some("main"));

    assert_eq!(layer.artifact.unwrap().text, CONFIG);
    assert_eq!(env.hub.count("HEAD"), 1);
    assert_eq!(env.hub.total(), 1, "{:?}", env.hub.requests());
}

#[test]
fn a_cached_commit_sha_costs_no_request_at_all() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", Some(&commit));
    assert_eq!(env.hub.total(), 2, "cold: HEAD and GET");
    // huggingface_hub writes no ref for a commit sha
    assert!(!env.repo_dir("org/model").join("refs").exists());
    env.hub.clear_requests();

    let layer = env.layer("org/model", Some(&commit));

    assert_eq!(
        layer.source.detail.as_deref(),
        Some(format!("org/model@{commit}").as_str())
    );
    assert_eq!(env.hub.total(), 0, "{:?}", env.hub.requests());
}

#[test]
fn a_moved_branch_downloads_only_a_blob_it_does_not_have() {
    let env = Env::start();
    let first = env.hub.publish_generation_config("org/model", CONFIG);
    env.layer("org/model", None);

    // main moves to a commit with another file: HEAD + GET, ref updated, old snapshot kept
    let changed = CONFIG.replace("0.6", "0.7");
    let second = env.hub.publish_generation_config("org/model", &changed);
    env.hub.clear_requests();
    let layer = env.layer("org/model", None);
    assert_eq!(layer.artifact.unwrap().text, changed);
    assert_eq!((env.hub.count("HEAD"), env.hub.count("GET")), (1, 1));
    let repo = env.repo_dir("org/model");
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), second);
    assert!(repo.join("snapshots").join(&first).join(GEN).exists());

    // main moves to a new commit whose file is a blob already cached: linked, not downloaded
    let third = env.hub.publish_generation_config("org/model", CONFIG);
    env.hub.clear_requests();
    let layer = env.layer("org/model", None);
    assert_eq!(layer.source.detail, Some(format!("org/model@{third}")));
    assert_eq!((env.hub.count("HEAD"), env.hub.count("GET")), (1, 0));
    assert_eq!(
        fs::read_link(repo.join("snapshots").join(&third).join(GEN)).unwrap(),
        fs::read_link(repo.join("snapshots").join(&first).join(GEN)).unwrap()
    );

    // and back to a commit whose snapshot exists: one HEAD
    env.hub.point("org/model", "main", &first);
    env.hub.clear_requests();
    env.layer("org/model", None);
    assert_eq!(env.hub.total(), 1);
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), first);
}

#[test]
fn a_revision_with_slashes_is_one_encoded_segment_and_a_nested_ref() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    let pr = env
        .hub
        .publish("org/model", "refs/pr/1", &[(GEN, b"{\"top_k\": 20}")]);

    let layer = env.layer("org/model", Some("refs/pr/1"));

    assert_eq!(
        layer.entries.get(&Key::TopK),
        Some(&Entry::Set(ParamValue::Int(20)))
    );
    assert_eq!(
        env.hub
            .count_path("HEAD", &resolve_path("org/model", "refs%2Fpr%2F1")),
        1
    );
    let ref_file = env.repo_dir("org/model").join("refs/refs/pr/1");
    assert_eq!(fs::read_to_string(ref_file).unwrap(), pr);
}

#[test]
fn a_renamed_repo_is_followed_on_the_hub_with_the_token() {
    let env = Env::start().with_token("hf_secret");
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    env.hub.rename("org/old-name", "org/model");

    let layer = env.layer("org/old-name", None);

    assert_eq!(layer.source.detail, Some(format!("org/old-name@{commit}")));
    let requests = env.hub.requests();
    let sent: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        sent,
        [
            format!("HEAD {}", resolve_path("org/old-name", "main")),
            format!("HEAD {}", resolve_path("org/model", "main")),
            format!("GET {}", resolve_path("org/model", "main")),
        ]
    );
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer hf_secret"));
    }
    // cached under the name that was asked for, as huggingface_hub does
    assert!(env.repo_dir("org/old-name").join("refs/main").is_file());
}

#[test]
fn a_redirect_to_another_host_drops_the_token_and_names_the_blob_by_the_linked_etag() {
    let env = Env::start().with_token("hf_secret");
    let commit = env.hub.publish_generation_config("org/lfs", CONFIG);
    env.hub.serve_from_cdn("org/lfs");

    let layer = env.layer("org/lfs", None);

    assert_eq!(layer.artifact.unwrap().text, CONFIG);
    let requests = env.hub.requests();
    let on = |origin| requests.iter().filter(move |r| r.origin == origin);
    let hub: Vec<_> = on(Origin::Hub).collect();
    let cdn: Vec<_> = on(Origin::Cdn).collect();
    assert_eq!(hub.len(), 1, "one HEAD; the GET goes straight to the CDN");
    assert_eq!(hub[0].method, "HEAD");
    assert_eq!(hub[0].header("authorization"), Some("Bearer hf_secret"));
    assert_eq!(cdn.len(), 1);
    assert_eq!(cdn[0].method, "GET");
    assert_eq!(
        cdn[0].header("authorization"),
        None,
        "the token never leaves the Hub"
    );

    let blobs: Vec<String> = fs::read_dir(env.repo_dir("org/lfs").join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(blobs.len(), 1);
    assert_eq!(
        blobs[0].len(),
        64,
        "a sha256, from X-Linked-Etag: {blobs:?}"
    );
    assert!(
        env.repo_dir("org/lfs")
            .join("snapshots")
            .join(commit)
            .join(GEN)
            .is_file()
    );
}
