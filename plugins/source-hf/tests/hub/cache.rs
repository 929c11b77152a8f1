//! The cache under concurrency and in unusual states: many resolutions at once, a cache that
//! cannot be written, a cache written by huggingface_hub without symlinks.

use std::fs;
use std::time::Duration;

use benchy_core::Level;
use benchy_testkit::git_blob_sha1;

use crate::{Env, GEN, messages, walk};

const CONFIG: &str = "{\"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.9}";

#[test]
fn concurrent_cold_resolutions_each_succeed_and_leave_one_whole_blob() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    // slow answers so the resolutions overlap
    env.hub.set_latency(Duration::from_millis(30));

    let texts: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| env.layer("org/model", None).artifact.unwrap().text))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });

    assert!(texts.iter().all(|t| t == CONFIG));
    let repo = env.repo_dir("org/model");
    let mut files = walk(&repo);
    files.sort();
    let etag = git_blob_sha1(CONFIG.as_bytes());
    assert_eq!(
        files,
        [
            // the chat template is looked for in three files the repo does not have
            ".no_exist".to_owned(),
            format!(".no_exist/{commit}"),
            format!(".no_exist/{commit}/chat_template.jinja"),
            format!(".no_exist/{commit}/chat_template.json"),
            format!(".no_exist/{commit}/tokenizer_config.json"),
            "blobs".to_owned(),
            format!("blobs/{etag}"),
            "refs".to_owned(),
            "refs/main".to_owned(),
            "snapshots".to_owned(),
            format!("snapshots/{commit}"),
            format!("snapshots/{commit}/{GEN}"),
        ]
    );
    assert_eq!(
        fs::read_to_string(repo.join("blobs").join(etag)).unwrap(),
        CONFIG
    );
}

#[test]
fn a_cache_that_cannot_be_written_still_gives_the_layer_with_a_warning() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", CONFIG);
    // `blobs` is a file, so no blob can be stored (permissions do not stop root)
    let repo = env.repo_dir("org/model");
    fs::create_dir_all(&repo).unwrap();
    fs::write(repo.join("blobs"), "").unwrap();

    let reply = env.resolve("org/model", None).unwrap();

    assert_eq!(reply.layer.unwrap().artifact.unwrap().text, CONFIG);
    let warnings = messages(&reply.diagnostics, Level::Warning);
    assert!(warnings[0].contains("could not write"), "{warnings:?}");
}

#[test]
fn a_cache_written_without_symlinks_is_read() {
    // huggingface_hub with HF_HUB_DISABLE_SYMLINKS=1 keeps the file itself in snapshots/
    let env = Env::start();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo = env.repo_dir("org/copy");
    fs::create_dir_all(repo.join("snapshots").join(commit)).unwrap();
    fs::create_dir_all(repo.join("refs")).unwrap();
    fs::write(repo.join("snapshots").join(commit).join(GEN), CONFIG).unwrap();
    fs::write(repo.join("refs/main"), commit).unwrap();

    let reply = env.resolve_offline("org/copy", None).unwrap();

    assert_eq!(
        reply.layer.unwrap().source.detail,
        Some(format!("org/copy@{commit}"))
    );
}
