//! The modes an attempt's tasks run in, as the record keeps them: each with its switch, and the
//! prompt the ready server renders for a sample request in it (proof that the switch reaches
//! the template the server uses). A switch whose flip changes nothing is said loudly.

use benchy_core::backend::ServerInfo;
use benchy_core::{Diagnostic, Key, RunView};

use crate::proof::rendered::render;
use crate::store::run_record::{ModeRecord, RunRecord};

/// One record per mode of `view`'s tasks, in the order the tasks name them.
pub(super) async fn modes(view: &RunView, server: &ServerInfo) -> Vec<ModeRecord> {
    let mut records: Vec<ModeRecord> = Vec::new();
    for task in &view.tasks {
        let Some(mode) = &task.mode else { continue };
        if let Some(record) = records.iter_mut().find(|r| r.name == mode.name) {
            record.tasks.push(task.name.clone());
            continue;
        }
        let kwargs = task
            .resolved
            .get(&Key::ChatTemplateKwargs)
            .map(|v| v.to_json());
        let system = mode.system_prompt.as_deref();
        let rendered = render(&server.base_url, &server.model, system, kwargs.as_ref()).await;
        let (rendered, not_rendered) = match rendered {
            Ok(rendered) => (Some(rendered), None),
            Err(why) => (None, Some(why)),
        };
        records.push(ModeRecord {
            name: mode.name.clone(),
            defined_in: mode.defined_in.clone(),
            chosen_by: mode.chosen_by.clone(),
            tasks: vec![task.name.clone()],
            chat_template_kwargs: kwargs,
            system_prompt: mode.system_prompt.clone(),
            thinks: mode.thinks,
            rendered,
            not_rendered,
        });
    }
    records
}

/// A switch the server's template ignores, or a server that could not render, in the record's
/// notes and on stderr.
pub(super) fn say_ignored(record: &mut RunRecord) {
    let mut notes = Vec::new();
    for mode in &record.modes {
        let note = match (&mode.rendered, &mode.not_rendered) {
            (Some(rendered), _) if !rendered.ignored().is_empty() => Diagnostic::warning(format!(
                "mode `{}`: the server renders the same prompt whatever {} says: its chat \
                 template ignores the switch",
                mode.name,
                rendered.ignored().join(", ")
            )),
            (None, Some(why)) => Diagnostic::info(format!(
                "mode `{}`: the server could not show the prompt it renders ({why}); the switch \
                 is still in every request",
                mode.name
            )),
            _ => continue,
        };
        notes.push(note);
    }
    crate::util::notes::print(&notes);
    record.notes.extend(notes);
}
