//! The real huggingface_hub (the version `make setup` pins) and benchy sharing one cache
//! against the same stand-in Hub, both ways. Fails with "run `make setup`" when the Python
//! environment is missing.

use benchy_core::Level;
use serde_json::Value as Json;

use crate::{Env, GEN, messages};

const CONFIG: &str = "{\n  \"do_sample\": true,\n  \"temperature\": 0.7,\n  \"top_p\": 0.8\n}\n";

/// Runs `hub_client.py ARGS` against `env`'s Hub and cache; `offline` sets HF_HUB_OFFLINE=1.
fn python(env: &Env, offline: bool, args: &[&str]) -> Json {
    let mut command = benchy_testkit::python::command("hub_client.py");
    command
        .args(args)
        .env("HF_ENDPOINT", env.hub.url())
        .env("HF_HUB_CACHE", env.cache())
        .env("HF_HOME", env.dir.path().join("hf-home"));
    if offline {
        command.env("HF_HUB_OFFLINE", "1");
    }
    let output = command.output().expect("python runs");
    assert!(
        output.status.success(),
        "hub_client.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// The requests for `resolve` URLs (huggingface_hub also asks the Hub's `/api/` for other
/// things, which the stand-in answers 404).
fn resolve_requests(env: &Env) -> Vec<String> {
    env.hub
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/resolve/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn benchy_reads_offline_what_huggingface_hub_downloaded() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    let bare = env
        .hub
        .publish("org/bare", "main", &[("config.json", b"{}")]);

    let downloaded = python(&env, false, &["download", "org/model", "main"]);
    assert_eq!(downloaded["version"], "2.4.0");
    assert_eq!(downloaded["text"], CONFIG);
    let missing = python(&env, false, &["download", "org/bare", "main"]);
    assert_eq!(missing["error"], "RemoteEntryNotFoundError");
    env.hub.clear_requests();

    let layer = env
        .resolve_offline("org/model", None)
        .unwrap()
        .layer
        .expect("the Python download is found");
    assert_eq!(layer.source.detail, Some(format!("org/model@{commit}")));
    assert_eq!(layer.artifact.unwrap().text, CONFIG);
    let pinned = env.resolve_offline("org/model", Some(&commit)).unwrap();
    assert!(pinned.layer.is_some());
    // huggingface_hub's .no_exist marker: the repo has no generation_config.json
    let reply = env.resolve_offline("org/bare", None).unwrap();
    assert!(reply.layer.is_none());
    assert!(messages(&reply.diagnostics, Level::Info)[0].contains(&bare));
    assert_eq!(env.hub.total(), 0);

    // online, benchy revalidates Python's copy with one HEAD and downloads nothing
    env.layer("org/model", None);
    assert_eq!(
        resolve_requests(&env),
        [format!("HEAD /org/model/resolve/main/{GEN}")]
    );
}

#[test]
fn huggingface_hub_finds_what_benchy_downloaded() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config("org/model", CONFIG);
    let pr = env
        .hub
        .publish("org/model", "refs/pr/1", &[(GEN, b"{\"top_k\": 20}")]);
    env.hub
        .publish("org/bare", "main", &[("config.json", b"{}")]);
    env.layer("org/model", None);
    env.layer("org/model", Some("refs/pr/1"));
    assert!(env.resolve("org/bare", None).unwrap().layer.is_none());
    env.hub.clear_requests();

    let snapshot = |commit: &str| {
        let path = env
            .repo_dir("org/model")
            .join("snapshots")
            .join(commit)
            .join(GEN);
        Json::from(path.to_str().unwrap())
    };
    let found = python(&env, true, &["cached", "org/model", "main"]);
    assert_eq!(found["try_to_load_from_cache"], snapshot(&commit));
    assert_eq!(found["local_files_only"], snapshot(&commit));
    assert_eq!(found["text"], CONFIG);
    let by_commit = python(&env, true, &["cached", "org/model", &commit]);
    assert_eq!(by_commit["local_files_only"], snapshot(&commit));
    let by_pr = python(&env, true, &["cached", "org/model", "refs/pr/1"]);
    assert_eq!(by_pr["try_to_load_from_cache"], snapshot(&pr));
    assert_eq!(by_pr["text"], "{\"top_k\": 20}");
    let bare = python(&env, true, &["cached", "org/bare", "main"]);
    assert_eq!(bare["try_to_load_from_cache"], "_CACHED_NO_EXIST");
    assert!(
        resolve_requests(&env).is_empty(),
        "offline Python made requests"
    );

    // online, huggingface_hub revalidates benchy's copy with one HEAD and downloads nothing
    let warm = python(&env, false, &["download", "org/model", "main"]);
    assert_eq!(warm["text"], CONFIG);
    assert_eq!(
        resolve_requests(&env),
        [format!("HEAD /org/model/resolve/main/{GEN}")]
    );
}
