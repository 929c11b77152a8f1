//! A run's modes in its resolution: which mode the run and each task run in, where the mode's
//! layer goes (above the model's own `generation_config.json`, below every other layer), and
//! the checks against the model's chat template that stop a switch the template would ignore.

use anyhow::Result;
use benchy_core::{Diagnostic, Layer, ModeView};

use super::Resolution;
use super::template::ChatTemplate;
use crate::plugin::builtins::DEFAULT_SOURCE;
use crate::run_config::RunConfig;
use crate::run_config::modes::{ChosenMode, Mode};
use crate::util::bad_input::bad_input;

/// A mode chosen for the run or a task.
#[derive(Clone, Debug)]
pub struct ResolvedMode {
    pub mode: Mode,
    /// `--mode`, or the file and line that chose it.
    pub chosen_by: String,
    /// Chosen by the task's own `mode:`.
    pub by_task: bool,
}

impl ResolvedMode {
    /// The mode as a backend sees it.
    pub fn view(&self) -> ModeView {
        ModeView {
            name: self.mode.name.clone(),
            defined_in: self.mode.defined_in.clone(),
            chosen_by: self.chosen_by.clone(),
            by_task: self.by_task,
            system_prompt: self.mode.system_prompt.clone(),
            thinks: self.mode.thinks,
            think_end: self.mode.think_end.clone(),
        }
    }
}

/// The mode `choice` names in `config`, when there is a choice.
pub(super) fn resolve_choice(
    config: &RunConfig,
    choice: Option<&ChosenMode>,
    by_task: bool,
) -> Result<Option<ResolvedMode>> {
    let Some(choice) = choice else {
        return Ok(None);
    };
    let mode = config.mode(choice)?;
    Ok(Some(ResolvedMode {
        mode,
        chosen_by: choice.chosen_by.clone(),
        by_task,
    }))
}

/// The source layers with the mode's layer placed above the highest layer that is the model's
/// own generation config (the card's preset for a mode beats the file's single one) and below
/// every other source (a site's values).
pub(super) fn with_mode<'a>(
    sources: &'a [Layer],
    mode: Option<&'a ResolvedMode>,
) -> Vec<&'a Layer> {
    let Some(mode) = mode else {
        return sources.iter().collect();
    };
    let above = sources
        .iter()
        .rposition(|l| l.artifact.as_ref().is_some_and(|a| a.model_file))
        .map_or(0, |i| i + 1);
    let mut layers: Vec<&Layer> = sources.iter().collect();
    layers.insert(above, &mode.mode.layer);
    layers
}

/// Every mode the resolution uses, checked against the model's chat template: a mode needs a
/// template, and every variable it sets must be one the template reads.
pub(super) fn check_against_template(resolution: &Resolution) -> Result<()> {
    let used = resolution
        .tasks
        .iter()
        .filter_map(|t| t.mode.as_ref())
        .chain(resolution.mode.as_ref());
    let template = resolution.chat_template.as_ref().map(ChatTemplate::read);
    for chosen in used {
        let mode = &chosen.mode;
        let Some(template) = &template else {
            return Err(bad_input(format!(
                "{}: mode `{}` (defined in {}) needs the chat template of {}, and no source read \
                 one: {}",
                chosen.chosen_by,
                mode.name,
                mode.defined_in,
                resolution.config.model.name,
                no_template_why(resolution)
            )));
        };
        let mut set = mode.template_kwargs();
        if mode
            .layer
            .entries
            .contains_key(&benchy_core::Key::Extra("reasoning_effort".into()))
        {
            set.push("reasoning_effort".into());
        }
        if let Some(ignored) = set.iter().find(|name| !template.reads(name)) {
            let reads = template.variables().map_or_else(
                || "its variables could not be listed".to_owned(),
                |v| format!("it reads: {}", v.join(", ")),
            );
            return Err(bad_input(format!(
                "{}: mode `{}`: `chat_template_kwargs.{ignored}` is not read by the model's \
                 chat template ({}), so it would change nothing; {reads}",
                mode.defined_in, mode.name, template.origin
            )));
        }
    }
    Ok(())
}

/// Why no template was read: the model has none where the default source looks, or that source
/// was not asked.
fn no_template_why(resolution: &Resolution) -> String {
    let asked = resolution
        .source_layers
        .iter()
        .any(|l| l.source.kind == DEFAULT_SOURCE);
    if asked {
        "the model has none (no chat_template.jinja, no `chat_template` in tokenizer_config.json \
         or chat_template.json); a mode switches a chat template, so this model cannot run in one"
            .to_owned()
    } else {
        format!(
            "the `{DEFAULT_SOURCE}` source reads it with the model's generation config; add \
             `--source {DEFAULT_SOURCE}`"
        )
    }
}

/// A template with a switch, run over chat requests with no mode: one line saying which default
/// the template applies and how to choose.
pub(super) fn switch_note(resolution: &Resolution) -> Option<Diagnostic> {
    let config = &resolution.config;
    let chat_without_mode =
        config.use_chat_completions && resolution.tasks.iter().any(|t| t.mode.is_none());
    if !chat_without_mode {
        return None;
    }
    let template = ChatTemplate::read(resolution.chat_template.as_ref()?);
    let switch = *template.switches().first()?;
    let default = match template.default_of(switch) {
        Some(value) => format!("renders as with {switch}={value}, its default"),
        None => "renders its own default".to_owned(),
    };
    let modes: Vec<String> = config.modes().into_iter().map(|m| m.name).collect();
    let choose = if modes.is_empty() {
        "define modes under `modes:` and choose one with `mode:` or --mode".to_owned()
    } else {
        format!("choose with --mode or `mode:` ({})", modes.join(", "))
    };
    Some(Diagnostic::info(format!(
        "the chat template ({}) reads `{switch}`; with no mode it {default}: {choose}",
        template.origin
    )))
}
