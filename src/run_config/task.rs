//! One task of a run config: a task file found by name, or a task written inline.

use std::path::Path;

use benchy_core::Diagnostic;
use benchy_core::layer::SourceRef;
use benchy_core::paths;
use benchy_source_yaml::yaml;
use serde_json::{Map, Value as Json};
use serde_saphyr::Spanned;

use super::lookup::find_upwards;
use super::raw::{RawTask, TaskItem};
use super::{ConfigError, Task, generation_layer, parent_dir, read, unsafe_path_part};

pub(super) fn load_task(
    item: &Spanned<TaskItem>,
    (dir, config_path): (&Path, &Path),
    task_defaults: &Map<String, Json>,
    notes: &mut Vec<Diagnostic>,
) -> Result<Task, ConfigError> {
    let origin = config_path.display().to_string();
    let line = item.referenced.line();
    let (raw, defined_in) = match &item.value {
        TaskItem::Name(name) => {
            check_folder_name(name, "tasks", config_path, Some(line))?;
            let named_at = format!("{origin}:{line}");
            let path = find_upwards(dir, "tasks", name, (&named_at, "task"), notes)?;
            let text = read(&path)?;
            let mut raw: RawTask = yaml::from_str(&text, &path.display().to_string())?;
            raw.name.get_or_insert_with(|| name.clone());
            (raw, path)
        }
        TaskItem::Inline(raw) => {
            if raw.name.is_none() {
                return Err(ConfigError::Invalid {
                    origin,
                    line: Some(line),
                    key: "tasks".into(),
                    problem: "an inline task needs a `name`".into(),
                });
            }
            ((**raw).clone(), config_path.to_owned())
        }
    };
    let name = raw.name.clone().unwrap_or_default();
    // An inline task's keys are on the run config's lines; a task file's are its own.
    let at = matches!(item.value, TaskItem::Inline(_)).then_some(line);
    check_folder_name(&name, "name", &defined_in, at)?;
    if let Some(subdirectory) = raw.output.as_ref().and_then(|o| o.subdirectory.as_deref()) {
        check_folder_name(subdirectory, "output.subdirectory", &defined_in, at)?;
    }
    let generation = generation_layer(
        raw.generation.as_ref(),
        SourceRef::new("task", name.clone()),
        &defined_in.display().to_string(),
    )?;
    let hub_dataset = hub_dataset(&raw, &defined_in)?;
    let task_dir = parent_dir(&defined_in).to_owned();
    let mut defaults = raw.defaults.unwrap_or_default();
    defaults.extend(task_defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Task {
        task_name: raw.task_name.unwrap_or_else(|| name.clone()),
        name,
        lm_eval_path: raw.lm_eval_path.map(|p| paths::expand(&p, &task_dir)),
        include_path: raw.include_path.map(|p| paths::expand(&p, &task_dir)),
        tokenizer_backend: raw.tokenizer_backend,
        inspect_task: raw.inspect_task.map(|t| inspect_task(&t, &task_dir)),
        task_args: raw.task_args.unwrap_or_default(),
        defaults,
        primary_metric: raw.output.as_ref().and_then(|o| o.primary_metric.clone()),
        output_subdirectory: raw.output.and_then(|o| o.subdirectory),
        generation,
        mode: super::modes::chosen(raw.mode.as_ref(), &defined_in.display().to_string()),
        repeats: super::repeats(raw.repeats.as_ref(), &defined_in.display().to_string())?,
        hub_dataset,
    })
}

/// An inspect task with its file relative to the file it is written in (`FILE.py@NAME` or
/// `FILE.py`); a registered task's name (no `.py` file part) as written.
fn inspect_task(task: &str, task_dir: &Path) -> String {
    let (file, name) = match task.split_once('@') {
        Some((file, name)) => (file, Some(name)),
        None => (task, None),
    };
    if !file.ends_with(".py") {
        return task.to_owned();
    }
    // Resolved (`..`, links) when the file is here: inspect names a task by its file relative
    // to the folder it lists. One on another machine is kept as written, absolute.
    let file = paths::expand(file, task_dir);
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    let file = file.display().to_string();
    match name {
        Some(name) => format!("{file}@{name}"),
        None => file,
    }
}

/// `hub_dataset` as `org/name`, with its revision.
fn hub_dataset(
    raw: &RawTask,
    defined_in: &Path,
) -> Result<Option<(String, Option<String>)>, ConfigError> {
    let Some(id) = &raw.hub_dataset else {
        return Ok(None);
    };
    let parts: Vec<&str> = id.value.split('/').collect();
    let fine = parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && unsafe_path_part(p).is_none());
    if !fine {
        return Err(ConfigError::Invalid {
            origin: defined_in.display().to_string(),
            line: Some(id.referenced.line()),
            key: "hub_dataset".into(),
            problem: format!(
                "{:?} is not a Hub dataset id: write it as `org/name`",
                id.value
            ),
        });
    }
    Ok(Some((id.value.clone(), raw.hub_dataset_revision.clone())))
}

/// A task's name and `output.subdirectory` each name one folder inside the run folder.
fn check_folder_name(
    name: &str,
    key: &str,
    defined_in: &Path,
    line: Option<u64>,
) -> Result<(), ConfigError> {
    match unsafe_path_part(name) {
        None => Ok(()),
        Some(why) => Err(ConfigError::Invalid {
            origin: defined_in.display().to_string(),
            line,
            key: key.to_owned(),
            problem: format!(
                "{name:?} names a folder inside the run folder and {why}; use a single folder \
                 name"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inspect_tasks_file_is_resolved_and_a_registered_name_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("suite")).unwrap();
        std::fs::create_dir_all(root.join("tasks")).unwrap();
        std::fs::write(root.join("tasks/x.py"), "").unwrap();
        let suite = root.join("suite");
        assert_eq!(
            inspect_task("../tasks/x.py@t", &suite),
            format!("{}/tasks/x.py@t", root.display())
        );
        assert_eq!(
            inspect_task("../gone.py", &suite),
            format!("{}/../gone.py", suite.display()),
            "a file that is not here is kept as written, absolute"
        );
        assert_eq!(
            inspect_task("inspect_evals/gsm8k", &suite),
            "inspect_evals/gsm8k"
        );
    }
}
