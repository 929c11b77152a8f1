//! What the Hub refuses and what its files get wrong, each turned into a message a user can act
//! on: an info line, a warning naming what to fix, or a dropped key.

use std::fs;

use benchy_core::{ConfigSource, Entry, Key, Level, ModelRef, SourceError, SourceRequest};
use benchy_source_hf::HfSource;

use crate::{Env, GEN, messages, request, unavailable};

#[test]
fn a_repo_without_the_file_gives_an_info_line_and_remembers_it_like_huggingface_hub() {
    let env = Env::start();
    let commit = env
        .hub
        .publish("org/bare", "main", &[("config.json", b"{}")]);

    let reply = env.resolve("org/bare", None).expect("not a failure");

    assert!(reply.layer.is_none());
    let info = messages(&reply.diagnostics, Level::Info);
    assert_eq!(info.len(), 1, "{:?}", reply.diagnostics);
    assert!(
        info[0].contains("org/bare has no generation_config.json at main")
            && info[0].contains(&commit)
            && info[0].contains("continuing"),
        "{info:?}"
    );
    let repo = env.repo_dir("org/bare");
    assert!(repo.join(".no_exist").join(&commit).join(GEN).is_file());
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), commit);
    assert_eq!(env.hub.total(), 1, "one HEAD, no GET");

    // offline, the cached answer stands, with zero requests
    env.hub.clear_requests();
    let reply = env.resolve_offline("org/bare", None).unwrap();
    assert!(reply.layer.is_none());
    assert_eq!(messages(&reply.diagnostics, Level::Info).len(), 1);
    assert_eq!(env.hub.total(), 0);
}

#[test]
fn an_unknown_revision_is_a_warning_naming_it() {
    let env = Env::start();
    env.hub.publish_generation_config("org/model", "{}");

    let message = unavailable(env.resolve("org/model", Some("v9.9")));

    assert!(
        message.contains("org/model")
            && message.contains("`v9.9`")
            && message.contains("model.revision"),
        "{message}"
    );
    assert!(!env.repo_dir("org/model").exists(), "nothing cached");
}

#[test]
fn an_unknown_repo_is_a_warning_naming_it() {
    let env = Env::start();
    let message = unavailable(env.resolve("org/no-such-model", None));
    assert!(
        message.contains("org/no-such-model was not found") && message.contains("model.name"),
        "{message}"
    );
    assert_eq!(env.hub.requests()[0].method, "HEAD");

    // with a token the Hub says 404 instead of 401; the message says a token was sent
    let env = Env::start().with_token("hf_secret");
    let message = unavailable(env.resolve("org/no-such-model", None));
    assert!(
        message.contains("a token from HF_TOKEN was sent"),
        "{message}"
    );
    assert!(!message.contains("hf_secret"));
}

#[test]
fn a_gated_repo_without_a_token_names_hf_token() {
    let env = Env::start();
    env.hub
        .publish_generation_config("org/gated", "{\"top_p\": 0.9}");
    env.hub.gate("org/gated", "hf_granted");

    let message = unavailable(env.resolve("org/gated", None));

    assert!(
        message.contains("org/gated is a gated repo")
            && message.contains("no token")
            && message.contains("HF_TOKEN")
            && message.contains(&format!("{}/org/gated", env.hub.url())),
        "{message}"
    );
}

#[test]
fn a_gated_repo_with_a_token_without_access_says_so_and_one_with_access_reads() {
    let env = Env::start().with_token("hf_someone_else");
    env.hub
        .publish_generation_config("org/gated", "{\"top_p\": 0.9}");
    env.hub.gate("org/gated", "hf_granted");
    let message = unavailable(env.resolve("org/gated", None));
    assert!(
        message.contains("the token from HF_TOKEN has no access")
            && !message.contains("hf_someone_else"),
        "{message}"
    );
    assert_eq!(
        env.hub.requests()[0].header("authorization"),
        Some("Bearer hf_someone_else")
    );

    let env = Env::start().with_token("hf_granted");
    env.hub
        .publish_generation_config("org/gated", "{\"top_p\": 0.9}");
    env.hub.gate("org/gated", "hf_granted");
    let layer = env.layer("org/gated", None);
    assert!(layer.entries.contains_key(&Key::TopP));
}

#[test]
fn an_invalid_value_drops_that_key_with_a_warning_and_keeps_the_others() {
    let env = Env::start();
    let commit = env.hub.publish_generation_config(
        "org/odd",
        "{\"do_sample\": true, \"top_p\": 1.5, \"temperature\": 0.7}",
    );

    let reply = env.resolve("org/odd", None).unwrap();

    let layer = reply.layer.expect("a layer with the valid keys");
    assert!(layer.entries.contains_key(&Key::Temperature));
    assert!(layer.entries.contains_key(&Key::DoSample));
    assert!(!layer.entries.contains_key(&Key::TopP));
    let warnings = messages(&layer.diagnostics, Level::Warning);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("top_p")
            && warnings[0].contains("1.5")
            && warnings[0].contains(&format!("hf:org/odd@{commit}/{GEN}")),
        "{warnings:?}"
    );
}

#[test]
fn invalid_json_from_the_hub_is_a_warning_and_no_layer() {
    let env = Env::start();
    env.hub
        .publish_generation_config("org/broken", "{\"temperature\": 0.7,}");

    let reply = env.resolve("org/broken", None).expect("never a failed run");

    assert!(reply.layer.is_none());
    let warnings = messages(&reply.diagnostics, Level::Warning);
    assert!(
        warnings.len() == 1
            && warnings[0].contains("not valid JSON")
            && warnings[0].contains("org/broken"),
        "{warnings:?}"
    );
}

#[test]
fn a_local_model_directory_is_read_as_leniently_as_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let local = |text: Option<&str>| {
        if let Some(text) = text {
            fs::write(dir.path().join(GEN), text).unwrap();
        }
        let request = SourceRequest {
            model: ModelRef {
                name: "./model".into(),
                revision: None,
                local_dir: Some(dir.path().to_owned()),
            },
            ..request("unused", None, false)
        };
        HfSource::default().resolve(&request)
    };

    let reply = local(None).unwrap();
    assert!(reply.layer.is_none());
    assert!(messages(&reply.diagnostics, Level::Info)[0].contains("has no generation_config.json"));

    let reply = local(Some("{\"temperature\": -1, \"top_k\": 40}")).unwrap();
    let layer = reply.layer.unwrap();
    assert_eq!(layer.source.kind, "hf");
    assert_eq!(layer.source.detail.as_deref(), dir.path().to_str());
    assert!(layer.entries.contains_key(&Key::TopK));
    assert!(messages(&layer.diagnostics, Level::Warning)[0].contains("temperature"));
    let artifact = layer.artifact.unwrap();
    assert_eq!(artifact.revision, None);
    assert!(artifact.origin.ends_with(GEN));

    let reply = local(Some("[1]")).unwrap();
    assert!(reply.layer.is_none());
    assert!(messages(&reply.diagnostics, Level::Warning)[0].contains("found an array"));
}

#[test]
fn hub_null_means_not_set_never_remove() {
    let env = Env::start();
    env.hub.publish_generation_config(
        "org/v5",
        "{\"temperature\": null, \"top_p\": 0.8, \"do_sample\": null}",
    );
    let layer = env.layer("org/v5", None);
    assert_eq!(layer.entries.len(), 1);
    assert!(!layer.entries.values().any(|e| *e == Entry::Remove));
}

#[test]
fn bad_requests_are_input_errors() {
    let env = Env::start();
    let source = HfSource::with_settings(env.settings.clone());
    let with_argument = SourceRequest {
        argument: Some("org/other".into()),
        spec: "hf:org/other".into(),
        ..request("org/model", None, false)
    };
    assert!(matches!(
        source.resolve(&with_argument),
        Err(SourceError::Input(m)) if m.message.contains("takes no argument")
    ));
    assert!(matches!(
        env.resolve("org/model", Some("../../etc")),
        Err(SourceError::Input(m)) if m.message.contains("model.revision")
    ));
    assert!(matches!(
        env.resolve("org--model", None),
        Err(SourceError::Input(m)) if m.message.contains("model.name")
    ));
    assert_eq!(env.hub.total(), 0, "bad input costs no request");
}
