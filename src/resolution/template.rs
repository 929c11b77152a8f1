//! The model's chat template read as Jinja: which variables it reads, so a mode's switch is
//! checked against it (a switch the template never reads changes nothing, silently), and what it
//! renders when no switch is given, so a run without a mode can say which default applies.

use std::collections::{BTreeMap, BTreeSet};

use benchy_core::Artifact;
use minijinja::{Environment, Value, context};

/// Template variables that switch a model's reasoning, as families name them (see
/// docs/thinking-models.md).
pub const SWITCHES: [&str; 6] = [
    "enable_thinking",
    "thinking",
    "thinking_mode",
    "reasoning_effort",
    "preserve_thinking",
    "clear_thinking",
];

/// A model's chat template, read.
#[derive(Debug)]
pub struct ChatTemplate {
    /// Where it was read (a URL at a commit, or a file).
    pub origin: String,
    text: String,
    /// The variables it reads from its context; `None` when benchy's Jinja reader cannot parse
    /// it (a transformers-only tag), in which case a name counts as read when the template
    /// mentions it as a word.
    variables: Option<BTreeSet<String>>,
}

impl ChatTemplate {
    pub fn read(artifact: &Artifact) -> ChatTemplate {
        let env = environment();
        let variables = env
            .template_from_str(&artifact.text)
            .ok()
            .map(|t| t.undeclared_variables(false).into_iter().collect());
        ChatTemplate {
            origin: artifact.origin.clone(),
            text: artifact.text.clone(),
            variables,
        }
    }

    /// Whether the template reads the variable `name`.
    pub fn reads(&self, name: &str) -> bool {
        match &self.variables {
            Some(variables) => variables.contains(name),
            None => mentions(&self.text, name),
        }
    }

    /// The variables it reads that switch reasoning, in [`SWITCHES`] order.
    pub fn switches(&self) -> Vec<&'static str> {
        SWITCHES.into_iter().filter(|s| self.reads(s)).collect()
    }

    /// The variables it reads, for messages (`None` when it could not be parsed).
    pub fn variables(&self) -> Option<Vec<&str>> {
        self.variables
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect())
    }

    /// The value of the boolean `switch` whose rendering the template's own default matches,
    /// or `None` when neither does or the template does not render here.
    pub fn default_of(&self, switch: &str) -> Option<bool> {
        let render = |value: Option<bool>| render_sample(&self.text, switch, value);
        let default = render(None)?;
        [true, false]
            .into_iter()
            .find(|v| render(Some(*v)).as_ref() == Some(&default))
    }
}

/// The renderer Hugging Face templates expect: Python's string methods, loop controls, and the
/// helpers transformers gives them.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |message: String| -> Result<Value, _> {
        Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            message,
        ))
    });
    // A fixed date: what is compared is the switch's effect, not the day.
    env.add_function("strftime_now", |_format: String| "2026-01-01".to_owned());
    env
}

/// One user message rendered for a reply, with `switch` set to `value` (or not set).
fn render_sample(text: &str, switch: &str, value: Option<bool>) -> Option<String> {
    let env = environment();
    let template = env.template_from_str(text).ok()?;
    let mut ctx: BTreeMap<&str, Value> = BTreeMap::from([
        (
            "messages",
            Value::from(vec![
                context! { role => "user", content => "What is 2 + 2?" },
            ]),
        ),
        ("add_generation_prompt", Value::from(true)),
        ("bos_token", Value::from("")),
        ("eos_token", Value::from("")),
    ]);
    if let Some(v) = value {
        ctx.insert(switch, Value::from(v));
    }
    template.render(ctx).ok()
}

/// Whether `name` appears in `text` as a whole word: the fallback for a template that does not
/// parse here.
fn mentions(text: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of Qwen3's template that switches thinking (its `chat_template.jinja`).
    pub const QWEN3_LIKE: &str = "{%- for message in messages %}{{- '<|im_start|>' + \
        message.role + '\\n' + message.content | trim + '<|im_end|>\\n' }}{%- endfor %}\
        {%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}\
        {%- if enable_thinking is defined and enable_thinking is false %}\
        {{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}";

    fn template(text: &str) -> ChatTemplate {
        ChatTemplate::read(&Artifact {
            name: "chat_template.jinja".into(),
            origin: "t.jinja".into(),
            revision: None,
            text: text.into(),
            model_file: false,
        })
    }

    #[test]
    fn the_switch_a_template_reads_and_its_default() {
        let t = template(QWEN3_LIKE);
        assert!(t.reads("enable_thinking"));
        assert!(!t.reads("thinking"));
        assert!(!t.reads("message"), "a loop variable is the template's own");
        assert_eq!(t.switches(), ["enable_thinking"]);
        assert_eq!(t.default_of("enable_thinking"), Some(true));
        let off_by_default = QWEN3_LIKE.replace(
            "enable_thinking is defined and enable_thinking is false",
            "not enable_thinking",
        );
        assert_eq!(
            template(&off_by_default).default_of("enable_thinking"),
            Some(false)
        );
    }

    #[test]
    fn a_template_without_a_switch_has_none_and_one_that_does_not_parse_is_read_by_words() {
        let plain = template("{% for m in messages %}{{ m.content }}{% endfor %}");
        assert!(plain.switches().is_empty());
        let custom = template("{% generation %}{{ enable_thinking }}{% endgeneration %}");
        assert_eq!(custom.variables(), None);
        assert!(custom.reads("enable_thinking"));
        assert!(!custom.reads("thinking"));
    }

    #[test]
    fn python_string_methods_and_transformers_helpers_render() {
        let t = template(
            "{{ messages[0].content.strip() }}{% if not add_generation_prompt %}\
             {{ raise_exception('no') }}{% endif %}{{ strftime_now('%d') }}",
        );
        assert_eq!(
            render_sample(&t.text, "x", None).as_deref(),
            Some("What is 2 + 2?2026-01-01")
        );
    }
}
