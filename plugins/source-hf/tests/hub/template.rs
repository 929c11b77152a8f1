//! The chat template read beside the generation config: where it is looked for, what that
//! costs on the wire, and that a pinned commit answers from the cache with no request.

use crate::{Env, GEN};

const CONFIG: &[u8] = b"{\"temperature\": 0.6}";
const TEMPLATE: &str = "{% for m in messages %}{{ m.content }}{% endfor %}";

/// The requests the Hub saw, as `METHOD file` with the commit or branch left out.
fn sent(env: &Env) -> Vec<String> {
    env.hub
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.rsplit('/').next().unwrap()))
        .collect()
}

#[test]
fn a_template_in_tokenizer_config_is_found_after_one_missing_jinja_and_then_costs_nothing() {
    let env = Env::start();
    env.hub.watch_all();
    let tokenizer = serde_json::json!({"chat_template": TEMPLATE, "eos_token": "</s>"});
    let commit = env.hub.publish(
        "org/model",
        "main",
        &[
            (GEN, CONFIG),
            ("tokenizer_config.json", tokenizer.to_string().as_bytes()),
        ],
    );

    let reply = env.resolve("org/model", None).unwrap();

    let template = reply.chat_template.expect("the template is found");
    assert_eq!(template.text, TEMPLATE);
    assert_eq!(template.name, "chat_template.jinja");
    assert_eq!(template.revision.as_deref(), Some(commit.as_str()));
    assert_eq!(
        template.origin,
        format!(
            "{}/org/model/resolve/{commit}/tokenizer_config.json",
            env.hub.url()
        )
    );
    assert_eq!(
        sent(&env),
        [
            format!("HEAD {GEN}"),
            format!("GET {GEN}"),
            "HEAD chat_template.jinja".to_owned(),
            "HEAD tokenizer_config.json".to_owned(),
            "GET tokenizer_config.json".to_owned(),
        ]
    );
    let no_exist = env.repo_dir("org/model").join(".no_exist").join(&commit);
    assert!(no_exist.join("chat_template.jinja").is_file());

    // pinned to the commit, the config and the template both come from the cache
    env.hub.clear_requests();
    let again = env.resolve("org/model", Some(&commit)).unwrap();
    assert_eq!(again.chat_template.unwrap().text, TEMPLATE);
    assert_eq!(sent(&env), Vec::<String>::new());
}

#[test]
fn a_jinja_file_wins_and_the_json_files_are_not_asked_for() {
    let env = Env::start();
    env.hub.watch_all();
    env.hub.publish(
        "org/model",
        "main",
        &[
            (GEN, CONFIG),
            ("chat_template.jinja", TEMPLATE.as_bytes()),
            ("tokenizer_config.json", b"{\"chat_template\": \"other\"}"),
        ],
    );

    let reply = env.resolve("org/model", None).unwrap();

    assert_eq!(reply.chat_template.unwrap().text, TEMPLATE);
    assert!(
        !sent(&env)
            .iter()
            .any(|r| r.ends_with(".json") && !r.ends_with(GEN)),
        "{:?}",
        sent(&env)
    );
}

#[test]
fn a_repo_without_a_template_is_looked_up_once_and_then_remembered() {
    let env = Env::start();
    env.hub.watch_all();
    env.hub.publish("org/model", "main", &[(GEN, CONFIG)]);

    let reply = env.resolve("org/model", None).unwrap();

    assert!(reply.chat_template.is_none());
    assert!(reply.diagnostics.is_empty(), "{:?}", reply.diagnostics);
    assert_eq!(env.hub.count("HEAD"), 4, "{:?}", sent(&env));
    assert_eq!(env.hub.count("GET"), 1);

    // the branch is asked about again; the three missing files are not
    env.hub.clear_requests();
    env.resolve("org/model", None).unwrap();
    assert_eq!(sent(&env), [format!("HEAD {GEN}")]);
}

#[test]
fn a_named_template_list_gives_the_default_one() {
    let env = Env::start();
    let tokenizer = serde_json::json!({"chat_template": [
        {"name": "tool_use", "template": "tools"},
        {"name": "default", "template": TEMPLATE},
    ]});
    env.hub.publish(
        "org/model",
        "main",
        &[
            (GEN, CONFIG),
            ("tokenizer_config.json", tokenizer.to_string().as_bytes()),
        ],
    );

    let reply = env.resolve("org/model", None).unwrap();

    assert_eq!(reply.chat_template.unwrap().text, TEMPLATE);
}
