//! The `hf` source through the binary: `benchy config explain` with HF_ENDPOINT pointing at the
//! stand-in Hub, the default cache under the test's HOME, and the flags and variables a user
//! sets.

use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use benchy_testkit::{FaultKind, StandInHub};
use serde_json::json;

use crate::harness::{EXPLAIN_JSON, Run, TestEnv, repo_root};

const CONFIG: &str =
    "{\"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.95, \"eos_token_id\": 2}";
const GEN: &str = "generation_config.json";

/// A run config for `model`, with extra top-level YAML appended.
fn run_config(env: &TestEnv, model: &str, extra: &str) {
    env.write("providers/p.yaml", "port: 8000\nmax_model_len: 2048\n");
    env.write(
        "models/run.yaml",
        &format!(
            "model:\n  name: {model}\nvllm:\n  provider_config: p\ntasks:\n  - name: t\n    task_name: arc_easy\n{extra}"
        ),
    );
}

fn online(hub: &StandInHub) -> TestEnv {
    let mut env = TestEnv::new();
    env.hub(&hub.url());
    env
}

/// The default cache: $HOME/.cache/huggingface/hub, HOME being the test folder.
fn default_cache(env: &TestEnv) -> PathBuf {
    env.path().join(".cache/huggingface/hub")
}

#[test]
fn explain_takes_the_hub_file_by_default_and_names_the_commit() {
    let hub = StandInHub::start();
    let commit = hub.publish_generation_config("org/model", CONFIG);
    let env = online(&hub);
    run_config(&env, "org/model", "");

    let run = env.explain_json(&[]);

    run.expect_code(0);
    let source = format!("hf:org/model@{commit}");
    assert_eq!(
        run.json()["resolved"],
        json!({
            "temperature": {"value": 0.6, "source": source},
            "top_p": {"value": 0.95, "source": source},
            "do_sample": {"value": true, "source": source},
        })
    );
    let repo = default_cache(&env).join("models--org--model");
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), commit);
    // and a HEAD for each file a chat template may be in (none here), remembered as missing
    assert_eq!((hub.count("HEAD"), hub.count("GET")), (4, 1));

    // warm: one HEAD; offline by flag or by variable: nothing
    hub.clear_requests();
    env.explain_json(&[]).expect_code(0);
    assert_eq!(hub.total(), 1);
    hub.clear_requests();
    let offline = env.explain_json(&["--offline"]);
    offline.expect_code(0);
    assert_eq!(offline.json()["resolved"]["top_p"]["source"], source);
    let mut by_variable = online(&hub);
    by_variable.env("HF_HUB_OFFLINE", "1");
    by_variable.env("HF_HUB_CACHE", default_cache(&env).to_str().unwrap());
    run_config(&by_variable, "org/model", "");
    by_variable.explain_json(&[]).expect_code(0);
    assert_eq!(hub.total(), 0, "{:?}", hub.requests());
}

#[test]
fn a_pinned_commit_once_cached_costs_no_request() {
    let hub = StandInHub::start();
    let commit = hub.publish_generation_config("org/model", CONFIG);
    hub.publish_generation_config("org/model", "{\"top_k\": 1}");
    let env = online(&hub);
    run_config(&env, "org/model", "");
    env.write(
        "models/run.yaml",
        &fs::read_to_string(env.path().join("models/run.yaml"))
            .unwrap()
            .replace(
                "name: org/model",
                &format!("name: org/model\n  revision: {commit}"),
            ),
    );

    let cold = env.explain_json(&[]);
    cold.expect_code(0);
    assert_eq!(
        cold.json()["resolved"]["temperature"]["value"],
        0.6,
        "the pinned file, not main's"
    );
    hub.clear_requests();
    env.explain_json(&[]).expect_code(0);
    assert_eq!(hub.total(), 0);
}

#[test]
fn a_repo_without_the_file_is_an_info_line_and_the_run_goes_on() {
    let hub = StandInHub::start();
    hub.publish("org/bare", "main", &[("config.json", b"{}")]);
    let env = online(&hub);
    run_config(&env, "org/bare", "generation:\n  temperature: 0.3\n");

    let run = env.explain_json(&[]);

    run.expect_code(0);
    assert!(
        run.stderr
            .contains("info: hf: org/bare has no generation_config.json at main"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.json()["resolved"]["temperature"]["source"],
        "config:models/run.yaml"
    );
}

#[test]
fn a_gated_repo_without_a_token_warns_and_require_source_makes_it_fatal() {
    let hub = StandInHub::start();
    hub.publish_generation_config("org/gated", CONFIG);
    hub.gate("org/gated", "hf_granted_token");
    let env = online(&hub);
    run_config(&env, "org/gated", "");

    let run = env.explain_json(&[]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("warning: --source hf: org/gated is a gated repo")
            && run.stderr.contains("HF_TOKEN")
            && run.stderr.contains("continuing without this layer"),
        "{}",
        run.stderr
    );

    let required = env.explain_json(&["--require-source", "hf"]);
    required.expect_code(1);
    assert!(
        required.stderr.contains("org/gated is a gated repo")
            && required.stderr.contains("required by --require-source hf"),
        "{}",
        required.stderr
    );

    run_config(&env, "org/gated", "require_sources: [hf]\n");
    let by_config = env.explain_json(&[]);
    by_config.expect_code(1);
    assert!(
        by_config.stderr.contains("require_sources"),
        "{}",
        by_config.stderr
    );
}

#[test]
fn the_token_is_read_from_the_variable_or_the_token_file_and_never_shown() {
    const TOKEN: &str = "hf_granted_token";
    let hub = StandInHub::start();
    let commit = hub.publish_generation_config("org/gated", CONFIG);
    hub.gate("org/gated", TOKEN);

    let mut by_variable = online(&hub);
    by_variable.env("HF_TOKEN", TOKEN);
    // the default token file, $HF_HOME/token with HF_HOME defaulting to ~/.cache/huggingface
    let by_file = online(&hub);
    by_file.write(".cache/huggingface/token", &format!("{TOKEN}\n"));
    let mut by_path = online(&hub);
    let elsewhere = by_path.write("secrets/hf", TOKEN);
    by_path.env("HF_TOKEN_PATH", elsewhere.to_str().unwrap());

    for env in [&by_variable, &by_file, &by_path] {
        run_config(env, "org/gated", "");
        for format in ["json", "table"] {
            let run = env.run(&[
                "config",
                "explain",
                "-c",
                "models/run.yaml",
                "--format",
                format,
            ]);
            run.expect_code(0);
            assert!(
                run.stdout.contains(&format!("hf:org/gated@{commit}")),
                "{}",
                run.stdout
            );
            assert!(
                !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
                "the token was printed:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
    let sent: Vec<_> = hub
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert!(
        sent.iter()
            .all(|h| h.as_deref() == Some("Bearer hf_granted_token")),
        "{sent:?}"
    );
}

#[test]
fn invalid_json_from_the_hub_warns_while_the_same_file_given_by_the_user_is_exit_2() {
    let malformed = repo_root()
        .join("tests/corpus/reference/generation-configs/qwen1.5-moe-8x0.5b-chat.malformed.json");
    let text = fs::read_to_string(&malformed).unwrap();
    let hub = StandInHub::start();
    hub.publish_generation_config("org/broken", &text);
    let env = online(&hub);
    run_config(&env, "org/broken", "");
    env.write("mine.json", &text);

    let from_hub = env.explain_json(&[]);
    from_hub.expect_code(0);
    assert!(
        from_hub.stderr.contains("warning: hf:org/broken@")
            && from_hub.stderr.contains("not valid JSON"),
        "{}",
        from_hub.stderr
    );

    let from_user = env.explain_json(&["--source", "file:mine.json"]);
    from_user.expect_code(2);
    assert!(
        from_user.stderr.contains("mine.json:12:3"),
        "{}",
        from_user.stderr
    );
}

#[test]
fn offline_without_a_cached_copy_warns_or_fails_when_required() {
    let hub = StandInHub::start();
    hub.publish_generation_config("org/model", CONFIG);
    let env = online(&hub);
    run_config(&env, "org/model", "generation:\n  top_k: 3\n");

    let run = env.explain_json(&["--offline"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("offline") && run.stderr.contains("org/model@main"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["resolved"]["top_k"]["value"], 3);
    let required = env.explain_json(&["--offline", "--require-source", "hf"]);
    required.expect_code(1);
    assert_eq!(hub.total(), 0);
}

#[test]
fn an_unreachable_hub_falls_back_to_the_cached_copy_with_a_warning() {
    let hub = StandInHub::start();
    let commit = hub.publish_generation_config("org/model", CONFIG);
    let mut env = online(&hub);
    run_config(&env, "org/model", "");
    env.explain_json(&[]).expect_code(0);

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    env.hub(&format!("http://{closed}"));
    let run = env.explain_json(&[]);

    run.expect_code(0);
    assert!(
        run.stderr
            .contains(&format!("using the cached copy at commit {commit}")),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.json()["resolved"]["temperature"]["source"],
        format!("hf:org/model@{commit}")
    );
}

#[test]
fn hf_hub_cache_is_honoured() {
    let hub = StandInHub::start();
    hub.publish_generation_config("org/model", CONFIG);
    let mut env = online(&hub);
    let cache = env.path().join("elsewhere");
    env.env("HF_HUB_CACHE", cache.to_str().unwrap());
    run_config(&env, "org/model", "");

    env.explain_json(&[]).expect_code(0);

    assert!(cache.join("models--org--model/refs/main").is_file());
    assert!(!default_cache(&env).exists());
}

#[test]
fn concurrent_benchy_processes_share_one_cold_cache_safely() {
    let hub = StandInHub::start();
    let commit = hub.publish_generation_config("org/model", CONFIG);
    hub.set_latency(Duration::from_millis(50));
    hub.fail(Some("GET"), 1, FaultKind::Truncate);
    let env = online(&hub);
    run_config(&env, "org/model", "");

    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command(EXPLAIN_JSON)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let run = Run::from(child.wait_with_output().unwrap());
        run.expect_code(0);
        assert_eq!(
            run.json()["resolved"]["temperature"]["source"],
            format!("hf:org/model@{commit}")
        );
    }
    let repo = default_cache(&env).join("models--org--model");
    let blobs: Vec<_> = fs::read_dir(repo.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        blobs.len(),
        1,
        "one whole blob, no temporary files: {blobs:?}"
    );
    assert_eq!(
        fs::read_to_string(repo.join("snapshots").join(&commit).join(GEN)).unwrap(),
        CONFIG
    );
}
