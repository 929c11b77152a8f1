//! The recording OpenAI-compatible server as a process that benchy can launch in vLLM's place
//! (a provider `command`), so tests drive benchy's real runner: it takes vLLM's `--port`,
//! `--served-model-name` and `--max-model-len` and ignores vLLM's other flags. Its own options
//! come first on the command line: `--record FILE` (every request as a JSON line),
//! `--die-after N` (exit with code 3 after N completion requests), `--delay-ms N` (per
//! completion), `--completion TEXT`. Like vLLM, it answers `/v1/...` only with the bearer
//! token in `VLLM_API_KEY` when that is set in its environment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, serve_process};

fn main() -> ExitCode {
    let mut options = OpenAiOptions {
        api_key: std::env::var("VLLM_API_KEY").ok().filter(|k| !k.is_empty()),
        ..OpenAiOptions::default()
    };
    let mut port = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--port" => port = value().parse().unwrap_or(0),
            "--served-model-name" => options.model = value(),
            "--max-model-len" => options.max_model_len = value().parse().unwrap_or(512),
            "--record" => options.record_file = Some(PathBuf::from(value())),
            "--die-after" => options.die_after = value().parse().ok(),
            "--delay-ms" => options.delay = Duration::from_millis(value().parse().unwrap_or(0)),
            "--completion" => options.completion = value(),
            _ => {}
        }
    }
    eprintln!(
        "benchy-fake-vllm: serving {} on 127.0.0.1:{port}",
        options.model
    );
    match serve_process(port, options) {
        Ok(code) => {
            eprintln!("benchy-fake-vllm: dying as asked");
            ExitCode::from(code as u8)
        }
        Err(e) => {
            eprintln!("benchy-fake-vllm: cannot listen on port {port}: {e}");
            ExitCode::from(1)
        }
    }
}
