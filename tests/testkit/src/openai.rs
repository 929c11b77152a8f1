//! A recording OpenAI-compatible server on 127.0.0.1, answering what lm-eval's
//! `local-completions` and `local-chat-completions` models ask of vLLM: `/health`,
//! `/v1/models`, `/tokenizer_info`, `/tokenize` (of a prompt, or of chat messages rendered by a
//! template of its own that reads `enable_thinking`), `/detokenize`, `/v1/completions`
//! (generation, and `echo` + `logprobs` scoring) and `/v1/chat/completions`. It records every
//! request body, so a test can assert the exact parameters each request carried.
//!
//! The shapes follow vLLM's OpenAI server and what lm-eval reads from it
//! (lm_eval/models/openai_completions.py `parse_logprobs`: `len(prompt) + 1` token log-probs
//! with echo, a `{token: logprob}` dict per position; lm_eval/models/utils.py `RemoteTokenizer`:
//! `/tokenize` answers `{"tokens": [...]}`, `/detokenize` `{"prompt": "..."}`, and
//! `/tokenizer_info` must carry `eos_token`). Its tokenizer maps each character to its code
//! point, so token ids in a test are readable.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::http::{Reply, Request, Server, Stopper};

/// The end-of-sequence token the server's tokenizer reports (one character, one token).
pub const EOS: &str = "\u{3}";

/// What the server is and how it misbehaves.
#[derive(Clone, Debug)]
pub struct OpenAiOptions {
    /// The served model name (`/v1/models` lists it).
    pub model: String,
    /// More served names, listed after it: one server for a suite of models.
    pub also_serves: Vec<String>,
    pub max_model_len: u64,
    /// The text every generation returns (one token per character), cut at the request's
    /// `max_tokens` as vLLM cuts it: `finish_reason: "length"` then, `"stop"` otherwise, with
    /// the tokens in `usage`.
    pub completion: String,
    /// A cap of the server's own on every answer, whatever the request's budget (what vLLM's
    /// `--override-generation-config '{"max_new_tokens": N}'` does).
    pub cap_tokens: Option<u64>,
    /// Each completion request waits this long first (a busy server).
    pub delay: Duration,
    /// After this many completion requests the server answers nothing more and the process
    /// using [`serve_process`] exits with code 3 (a server dying mid-run).
    pub die_after: Option<usize>,
    /// Also append every request, one JSON line each, to this file.
    pub record_file: Option<PathBuf>,
    /// `/health` answers 503 until this file exists (a server still loading).
    pub ready_file: Option<PathBuf>,
    /// Answer `/v1/...` only with `Authorization: Bearer <key>`, as vLLM started with
    /// `--api-key` does (vllm/entrypoints/serve/middleware/authenticate.py guards `/v1`);
    /// anything else gets its 401.
    pub api_key: Option<String>,
    /// What `GET /version` answers, as vLLM does (`{"version": ...}`); none: a 404.
    pub version: Option<String>,
}

impl Default for OpenAiOptions {
    fn default() -> Self {
        OpenAiOptions {
            model: "tiny".into(),
            also_serves: Vec::new(),
            max_model_len: 512,
            completion: " 5".into(),
            cap_tokens: None,
            delay: Duration::ZERO,
            die_after: None,
            record_file: None,
            ready_file: None,
            api_key: None,
            version: None,
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub body: Json,
}

impl RecordedRequest {
    fn to_json(&self) -> Json {
        json!({"method": self.method, "path": self.path, "body": self.body})
    }
}

struct State {
    options: OpenAiOptions,
    requests: Mutex<Vec<RecordedRequest>>,
    completions: AtomicUsize,
    stopper: Arc<Stopper>,
}

/// A running recording server; stopped on drop.
pub struct RecordingOpenAi {
    state: Arc<State>,
    server: Server,
}

impl std::fmt::Debug for RecordingOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingOpenAi")
            .field("addr", &self.server.addr())
            .finish()
    }
}

impl RecordingOpenAi {
    /// Starts on a free port.
    pub fn start(options: OpenAiOptions) -> RecordingOpenAi {
        RecordingOpenAi::start_on(0, options).expect("bind 127.0.0.1")
    }

    /// Starts on `port` (0 for a free one).
    pub fn start_on(port: u16, options: OpenAiOptions) -> std::io::Result<RecordingOpenAi> {
        let stopper = Arc::new(Stopper::default());
        let state = Arc::new(State {
            options,
            requests: Mutex::default(),
            completions: AtomicUsize::new(0),
            stopper: Arc::clone(&stopper),
        });
        let handler = {
            let state = Arc::clone(&state);
            Arc::new(move |request: &Request| handle(&state, request))
        };
        let server = Server::start_on(port, stopper, handler)?;
        Ok(RecordingOpenAi { state, server })
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// The API root, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port())
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The bodies of the completion and chat requests so far.
    pub fn generation_bodies(&self) -> Vec<Json> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/completions"))
            .map(|r| r.body)
            .collect()
    }

    /// True once `die_after` completions were answered.
    pub fn has_died(&self) -> bool {
        self.state.stopper.is_stopped()
    }
}

/// Runs the server in this process until it dies (`die_after`) or the process is signalled;
/// for a binary that benchy starts as if it were vLLM. Returns the exit code to use.
pub fn serve_process(port: u16, options: OpenAiOptions) -> std::io::Result<i32> {
    let server = RecordingOpenAi::start_on(port, options)?;
    while !server.has_died() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(3)
}

fn handle(state: &State, request: &Request) -> Reply {
    if state.stopper.is_stopped() {
        return Reply::Drop;
    }
    let path = request.target.split('?').next().unwrap_or("").to_owned();
    let body: Json = serde_json::from_slice(&request.body).unwrap_or(Json::Null);
    let recorded = RecordedRequest {
        method: request.method.clone(),
        path: path.clone(),
        body: body.clone(),
    };
    if let Some(file) = &state.options.record_file {
        use std::io::Write;
        let line = recorded.to_json().to_string() + "\n";
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
    state.requests.lock().unwrap().push(recorded);
    let options = &state.options;
    if let Some(key) = &options.api_key
        && path.starts_with("/v1")
        && request.header("authorization") != Some(format!("Bearer {key}").as_str())
    {
        return json_reply(401, json!({"error": "Unauthorized"}));
    }
    match (request.method.as_str(), path.as_str()) {
        // vLLM answers /health with an empty 200 once it is up
        ("GET", "/health") => Reply::Full {
            status: match &options.ready_file {
                Some(file) if !file.exists() => 503,
                _ => 200,
            },
            headers: Vec::new(),
            body: Vec::new(),
        },
        ("GET", "/v1/models") => {
            let data: Vec<Json> = std::iter::once(&options.model)
                .chain(&options.also_serves)
                .map(|name| {
                    json!({"id": name, "object": "model", "owned_by": "benchy-testkit",
                           "root": name, "max_model_len": options.max_model_len})
                })
                .collect();
            json_reply(200, json!({"object": "list", "data": data}))
        }
        ("GET", "/version") if options.version.is_some() => {
            json_reply(200, json!({"version": options.version}))
        }
        ("GET", "/tokenizer_info") => json_reply(
            200,
            json!({"eos_token": EOS, "bos_token": null, "pad_token": null,
                   "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}),
        ),
        ("POST", "/tokenize") => {
            let tokens = match body.get("messages") {
                Some(_) => encode(&rendered(&body)),
                None => encode(body["prompt"].as_str().unwrap_or("")),
            };
            json_reply(
                200,
                json!({"count": tokens.len(), "max_model_len": options.max_model_len, "tokens": tokens}),
            )
        }
        ("POST", "/detokenize") => {
            let ids: Vec<u64> = body["tokens"]
                .as_array()
                .map(|a| a.iter().filter_map(Json::as_u64).collect())
                .unwrap_or_default();
            json_reply(200, json!({"prompt": decode(&ids)}))
        }
        ("POST", "/v1/completions") => {
            let reply = completion(options, &body);
            finish_completion(state);
            reply
        }
        ("POST", "/v1/chat/completions") => {
            let budget = body["max_completion_tokens"]
                .as_u64()
                .or(body["max_tokens"].as_u64());
            let (text, finish, tokens) = answer(options, options.completion.trim(), budget);
            let usage = chat_usage(&body, tokens);
            let reply = if body["stream"] == json!(true) {
                streamed(&text, finish, usage)
            } else {
                json_reply(
                    200,
                    json!({"id": "chatcmpl-testkit", "object": "chat.completion", "model": options.model,
                           "created": 0,
                           "choices": [{"index": 0, "finish_reason": finish,
                                        "message": {"role": "assistant", "content": text}}],
                           "usage": usage}),
                )
            };
            finish_completion(state);
            reply
        }
        _ => json_reply(
            404,
            json!({"error": {"message": format!("no route {path}")}}),
        ),
    }
}

/// A chat request rendered by the server's template: each message as `<|role|>content`, then the
/// assistant's turn, closed at once (`<think>\n\n</think>`) when `enable_thinking` is false, as
/// Qwen3's template does.
fn rendered(body: &Json) -> String {
    let mut text = String::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or_default();
        let content = message["content"].as_str().unwrap_or_default();
        text += &format!("<|{role}|>{content}\n");
    }
    text += "<|assistant|>";
    if body["chat_template_kwargs"]["enable_thinking"] == json!(false) {
        text += "<think>\n\n</think>\n\n";
    }
    text
}

/// Counts a completion and, with `die_after`, dies once enough were answered.
fn finish_completion(state: &State) {
    std::thread::sleep(state.options.delay);
    let answered = state.completions.fetch_add(1, Ordering::SeqCst) + 1;
    if state.options.die_after.is_some_and(|n| answered >= n) {
        state.stopper.stop();
    }
}

fn completion(options: &OpenAiOptions, body: &Json) -> Reply {
    let prompts: Vec<Vec<u64>> = match &body["prompt"] {
        Json::String(text) => vec![encode(text)],
        Json::Array(items) if items.iter().all(Json::is_u64) => {
            vec![items.iter().filter_map(Json::as_u64).collect()]
        }
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(text) => encode(text),
                other => other
                    .as_array()
                    .map(|ids| ids.iter().filter_map(Json::as_u64).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let echo = body["echo"].as_bool().unwrap_or(false);
    let (text, finish, tokens) = answer(options, &options.completion, body["max_tokens"].as_u64());
    let choices: Vec<Json> = prompts
        .iter()
        .enumerate()
        .map(|(index, ids)| {
            if echo {
                scored(index, ids)
            } else {
                json!({"index": index, "text": text, "logprobs": null, "finish_reason": finish})
            }
        })
        .collect();
    let generated = if echo {
        1
    } else {
        tokens * prompts.len() as u64
    };
    let prompt_tokens: usize = prompts.iter().map(Vec::len).sum();
    json_reply(
        200,
        json!({"id": "cmpl-testkit", "object": "text_completion", "model": options.model,
               "choices": choices,
               "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": generated}}),
    )
}

/// The answer to a request with `budget` tokens: the completion cut at the budget (and at the
/// server's own cap), its finish reason and its length in tokens.
fn answer(
    options: &OpenAiOptions,
    completion: &str,
    budget: Option<u64>,
) -> (String, &'static str, u64) {
    let tokens = encode(completion);
    let limit = [budget, options.cap_tokens]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u64::MAX);
    let produced = (tokens.len() as u64).min(limit);
    let finish = if (tokens.len() as u64) > limit {
        "length"
    } else {
        "stop"
    };
    let kept = usize::try_from(produced).unwrap_or(usize::MAX);
    (decode(&tokens[..kept]), finish, produced)
}

/// An echoed prompt with one generated token: a log-prob per position, the first `null`, as
/// vLLM answers `echo: true, logprobs: 1, max_tokens: 1`. Each token's log-prob depends on the
/// token only, so scores are deterministic.
fn scored(index: usize, ids: &[u64]) -> Json {
    let mut all = ids.to_vec();
    all.push(u64::from('.'));
    let tokens: Vec<String> = all.iter().map(|&id| decode(&[id])).collect();
    let logprob = |id: u64| -((id % 7) as f64 + 1.0) / 10.0;
    let token_logprobs: Vec<Json> = all
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            if i == 0 {
                Json::Null
            } else {
                json!(logprob(id))
            }
        })
        .collect();
    let top_logprobs: Vec<Json> = all
        .iter()
        .zip(&tokens)
        .enumerate()
        .map(|(i, (&id, token))| {
            if i == 0 {
                Json::Null
            } else {
                json!({ token.clone(): logprob(id) })
            }
        })
        .collect();
    json!({
        "index": index,
        "text": decode(&all),
        "logprobs": {"tokens": tokens, "token_logprobs": token_logprobs,
                     "top_logprobs": top_logprobs, "text_offset": (0..all.len()).collect::<Vec<_>>()},
        "finish_reason": "length",
    })
}

fn encode(text: &str) -> Vec<u64> {
    text.chars().map(u64::from).collect()
}

fn decode(ids: &[u64]) -> String {
    ids.iter()
        .filter_map(|&id| u32::try_from(id).ok().and_then(char::from_u32))
        .collect()
}

/// A chat answer's usage as vLLM reports it, every field there (clients such as inspect add
/// them up): one token per character of the messages' text.
fn chat_usage(body: &Json, completion: u64) -> Json {
    let prompt: u64 = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .map(|c| c.chars().count() as u64)
        .sum();
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion})
}

/// A chat answer as vLLM streams it: server-sent events, the role, the text a character at a
/// time, the finish reason, the usage, then `[DONE]`.
fn streamed(text: &str, finish: &str, usage: Json) -> Reply {
    let chunk = |delta: Json, finish: Json| {
        json!({"id": "chatcmpl-testkit", "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(json!({"role": "assistant"}), Json::Null)];
    events.extend(
        text.chars()
            .map(|c| chunk(json!({"content": c.to_string()}), Json::Null)),
    );
    events.push(chunk(json!({}), json!(finish)));
    events.push(json!({"id": "chatcmpl-testkit", "choices": [], "usage": usage}));
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body += "data: [DONE]\n\n";
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "text/event-stream".into())],
        body: body.into_bytes(),
    }
}

fn json_reply(status: u16, body: Json) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}
