//! What the server renders for a mode: proof that the mode's switch reaches the chat template of
//! the server as it runs. One sample chat request with the mode's system prompt and template
//! variables goes to the server's `/tokenize` (vLLM renders chat messages there with the same
//! renderer, defaults and template as chat completions, `OpenAIServingTokenization` in
//! vllm/entrypoints/serve/tokenize/serving.py) and back through `/detokenize`; each boolean
//! switch is then flipped and rendered again, and a prompt that does not change says the
//! template ignores it.

use std::time::Duration;

use reqwest::Client;
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::runner::readiness::bearer_header;

/// The sample question rendered.
const SAMPLE: &str = "What is 2 + 2?";

/// How long one render request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The prompt the server rendered for a mode.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rendered {
    /// The sample request's prompt as the server's template rendered it.
    pub prompt: String,
    /// Each boolean switch flipped, with what the server rendered then.
    pub flipped: Vec<Flipped>,
}

/// A boolean switch set the other way, and its rendering.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flipped {
    pub switch: String,
    pub value: bool,
    pub prompt: String,
    /// Whether the prompt differs from the mode's own.
    pub changed: bool,
}

impl Rendered {
    /// The switches whose flip changed nothing: the template ignores them.
    pub fn ignored(&self) -> Vec<&str> {
        self.flipped
            .iter()
            .filter(|f| !f.changed)
            .map(|f| f.switch.as_str())
            .collect()
    }
}

/// The server at `base_url` (its `/v1` root) serving `model`, asked to render the sample with
/// `system` first and `kwargs` as the template's variables; an error says why it could not.
pub async fn render(
    base_url: &str,
    model: &str,
    system: Option<&str>,
    kwargs: Option<&Json>,
) -> Result<Rendered, String> {
    let client = Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .default_headers(bearer_header())
        .build()
        .map_err(|e| e.to_string())?;
    let server = Server {
        client,
        base_url: base_url.trim_end_matches('/'),
        model,
        system,
    };
    let prompt = server.prompt(kwargs).await?;
    let mut flipped = Vec::new();
    for (name, value) in kwargs.and_then(Json::as_object).into_iter().flatten() {
        let Some(on) = value.as_bool() else {
            continue;
        };
        let mut other = kwargs.cloned().unwrap_or_default();
        other[name] = json!(!on);
        let other = server.prompt(Some(&other)).await?;
        flipped.push(Flipped {
            switch: name.clone(),
            value: !on,
            changed: other != prompt,
            prompt: other,
        });
    }
    Ok(Rendered { prompt, flipped })
}

struct Server<'a> {
    client: Client,
    base_url: &'a str,
    model: &'a str,
    system: Option<&'a str>,
}

impl Server<'_> {
    /// The rendered prompt with `kwargs`.
    async fn prompt(&self, kwargs: Option<&Json>) -> Result<String, String> {
        let mut messages = Vec::new();
        if let Some(system) = self.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": SAMPLE}));
        let mut request = json!({"model": self.model, "messages": messages,
                                 "add_generation_prompt": true});
        if let Some(kwargs) = kwargs {
            request["chat_template_kwargs"] = kwargs.clone();
        }
        let root = self.base_url.trim_end_matches("/v1");
        let rendered = self.post(&format!("{root}/tokenize"), &request).await?;
        let tokens = rendered
            .get("tokens")
            .cloned()
            .ok_or("/tokenize answered no tokens")?;
        let text = self
            .post(
                &format!("{root}/detokenize"),
                &json!({"model": self.model, "tokens": tokens}),
            )
            .await?;
        text.get("prompt")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "/detokenize answered no prompt".to_owned())
    }

    async fn post(&self, url: &str, body: &Json) -> Result<Json, String> {
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        response
            .json()
            .await
            .map_err(|e| format!("{url}: {}", e.without_url()))
    }
}
