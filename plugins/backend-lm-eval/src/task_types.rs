//! What lm-eval's task files say of each task: whether it generates text or only scores
//! log-likelihoods, and its own stop strings and token budget. A task in a mode needs to know:
//! generating tasks go over chat completions, log-likelihood ones stay on completions (lm-eval's
//! chat model cannot score them), and a thinking mode moves the task's stop strings out of the
//! requests. The backend asks lm-eval itself ([`question`], the script `task_types.py` run by
//! lm-eval's own Python) before it plans, and reads the answers the host hands back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchy_core::BackendError;
use benchy_core::process::{ProcessSpec, Role};
use benchy_core::python::{entry_script_python, installed_version};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::executable::LmEval;

/// The question's script: lm-eval's task index read without loading any dataset.
const SCRIPT: &str = include_str!("task_types.py");

/// The start of every question's name.
const QUESTION: &str = "lm-eval task types";

/// One task lm-eval runs for a task name (a group runs several).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Leaf {
    pub task: String,
    /// `generate_until`, `multiple_choice`, `loglikelihood`, `loglikelihood_rolling`, or
    /// `unknown` for a task written in Python.
    pub output_type: String,
    /// Its own stop strings (its `until`, else its few-shot delimiter), for generating tasks.
    #[serde(default)]
    pub until: Option<Vec<String>>,
    /// Its own token budget, when its file sets one.
    #[serde(default)]
    pub max_gen_toks: Option<u64>,
}

impl Leaf {
    pub fn generates(&self) -> bool {
        !self.output_type.starts_with("loglikelihood") && self.output_type != "multiple_choice"
    }
}

/// What lm-eval said of task names: each name's tasks, `None` for a name it does not know.
type ByName = BTreeMap<String, Option<Vec<Leaf>>>;

/// An answer as the script prints it.
#[derive(Debug, Deserialize)]
struct Answer {
    program: PathBuf,
    #[serde(default)]
    include: String,
    tasks: ByName,
}

/// Every answer so far, by lm-eval and include path.
#[derive(Debug, Default)]
pub struct TaskTypes {
    known: BTreeMap<(PathBuf, String), ByName>,
}

impl TaskTypes {
    /// The answers among `answers` that are this backend's.
    pub fn read(answers: &BTreeMap<String, Json>) -> TaskTypes {
        let mut types = TaskTypes::default();
        for (_, answer) in answers
            .iter()
            .filter(|(name, _)| name.starts_with(QUESTION))
        {
            if let Ok(answer) = serde_json::from_value::<Answer>(answer.clone()) {
                types
                    .known
                    .entry((answer.program, answer.include))
                    .or_default()
                    .extend(answer.tasks);
            }
        }
        types
    }

    /// What lm-eval said of `name`: `None` when it was not asked, `Some(None)` when lm-eval
    /// does not know the task.
    pub fn of(
        &self,
        lm_eval: &LmEval,
        include: Option<&PathBuf>,
        name: &str,
    ) -> Option<Option<&[Leaf]>> {
        self.known
            .get(&(lm_eval.program.clone(), include_text(include)))?
            .get(name)
            .map(Option::as_deref)
    }
}

fn include_text(include: Option<&PathBuf>) -> String {
    include.map(|p| p.display().to_string()).unwrap_or_default()
}

/// The question about `names` for one lm-eval and include path, run by the Python lm-eval's own
/// entry script names. Its version is an argument, so an upgrade asks again.
pub fn question(
    lm_eval: &LmEval,
    include: Option<&PathBuf>,
    names: &[&str],
    run_tasks: Vec<String>,
) -> Result<ProcessSpec, BackendError> {
    let python = interpreter(&lm_eval.program)?;
    let version = installed_version(&lm_eval.program, "lm_eval").unwrap_or_default();
    let args = vec![
        "-c".to_owned(),
        SCRIPT.to_owned(),
        names.join(","),
        include_text(include),
        lm_eval.program.display().to_string(),
        version,
    ];
    let mut label = format!("{QUESTION} [{}]", names.join(","));
    if let Some(include) = include {
        label += &format!(" with {}", include.display());
    }
    Ok(ProcessSpec {
        cwd: lm_eval.cwd.clone(),
        timeout_secs: Some(300.0),
        depends_on: include.into_iter().cloned().collect(),
        tasks: run_tasks,
        ..ProcessSpec::new(label, Role::Check, python, args, "question-lm-eval.log")
    })
}

/// Whether lm-eval can be asked: its program is a Python entry script (a stand-in script is not).
pub fn askable(lm_eval: &LmEval) -> bool {
    interpreter(&lm_eval.program).is_ok()
}

/// The Python that runs lm-eval: its entry script's.
fn interpreter(program: &Path) -> Result<String, BackendError> {
    entry_script_python(program).ok_or_else(|| {
        BackendError::input(format!(
            "{} is not lm-eval's Python entry script, so benchy cannot ask lm-eval which tasks \
             generate text (a run in a mode, with use_chat_completions or with repeats needs \
             to know): point BENCHY_LM_EVAL at the `lm_eval` of a Python environment",
            program.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_found_by_lm_eval_include_path_and_name() {
        let lm_eval = LmEval {
            program: "/venv/bin/lm_eval".into(),
            origin: "test".into(),
            cwd: None,
        };
        let answers = BTreeMap::from([(
            format!("{QUESTION} [gsm8k,nope]"),
            json!({"program": "/venv/bin/lm_eval", "include": "", "tasks": {
                "gsm8k": [{"task": "gsm8k", "output_type": "generate_until",
                           "until": ["Question:"], "max_gen_toks": null}],
                "nope": null}}),
        )]);
        let types = TaskTypes::read(&answers);
        let gsm8k = types.of(&lm_eval, None, "gsm8k").unwrap().unwrap();
        assert!(gsm8k[0].generates());
        assert_eq!(
            gsm8k[0].until.as_deref(),
            Some(&["Question:".to_owned()][..])
        );
        assert_eq!(types.of(&lm_eval, None, "nope"), Some(None));
        assert_eq!(types.of(&lm_eval, None, "hellaswag"), None);
        assert_eq!(types.of(&lm_eval, Some(&"/t".into()), "gsm8k"), None);
    }

    #[test]
    fn a_program_that_is_no_python_entry_script_cannot_be_asked() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("lm_eval");
        std::fs::write(&program, "#!/bin/sh\nexit 1\n").unwrap();
        let err = interpreter(&program).unwrap_err().to_string();
        assert!(err.contains("not lm-eval's Python entry script"), "{err}");
    }

    #[test]
    fn scoring_only_tasks_do_not_generate() {
        let leaf = |t: &str| Leaf {
            task: "x".into(),
            output_type: t.into(),
            until: None,
            max_gen_toks: None,
        };
        assert!(leaf("generate_until").generates());
        assert!(!leaf("multiple_choice").generates());
        assert!(!leaf("loglikelihood_rolling").generates());
    }
}
