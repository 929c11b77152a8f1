//! Repeats: a task that generates text, run K times. Each repeat is a task of its own for the
//! rest of the run (`<task>.repeat-<i>`, its own folder, job, audit and completion record), so a
//! killed run redoes only the repeats that did not finish; repeat i sends seed s+i-1 in every
//! request (s the resolved seed, else [`DEFAULT_SEED`]), a resolved value with a source of its
//! own, so the wire audit proves each repeat's seed. A task that only scores log-likelihoods
//! does not sample and runs once.

use std::collections::BTreeMap;

use anyhow::Result;
use benchy_core::backend::{Sampling, TaskView};
use benchy_core::merge::ResolvedParam;
use benchy_core::{Diagnostic, Key, ParamValue, SourceRef};

use crate::store::layout::repeat_name;
use crate::store::repeats::Repeated;
use crate::store::schema::TaskState;
use crate::util::bad_input::bad_input;

/// The seed of repeat 1 when no seed is resolved: lm-eval's own default, so a first repeat sends
/// what a run without repeats sends.
pub const DEFAULT_SEED: i64 = 1234;

/// `tasks` with each task `count` repeats that generates text (as `kinds` says) turned into its
/// repeats; the repeated tasks; a note for each task asked to repeat that only scores.
pub(super) fn expand(
    tasks: Vec<TaskView>,
    count: impl Fn(&str) -> u32,
    kinds: &BTreeMap<String, Sampling>,
) -> Result<(Vec<TaskView>, Vec<Repeated>, Vec<Diagnostic>)> {
    let (mut out, mut repeated, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for task in tasks {
        let k = count(&task.name);
        if k < 2 {
            out.push(task);
            continue;
        }
        match kinds.get(&task.name) {
            Some(Sampling::Generate) => {
                let (repeats, of) = repeats_of(&task, k);
                out.extend(repeats);
                repeated.push(of);
            }
            Some(_) => {
                notes.push(Diagnostic::info(format!(
                    "task {}: {k} repeats asked, but it only scores log-likelihoods, which do not \
                     sample: it runs once",
                    task.name
                )));
                out.push(task);
            }
            None => {
                return Err(bad_input(format!(
                    "task {}: `repeats` {k}, but the task backend cannot say whether it generates \
                     text (lm-eval could not be asked about its tasks), and a task that only \
                     scores must not repeat",
                    task.name
                )));
            }
        }
    }
    Ok((out, repeated, notes))
}

/// The `k` repeats of `task`, each with its seed.
fn repeats_of(task: &TaskView, k: u32) -> (Vec<TaskView>, Repeated) {
    let base = match task.resolved.get(&Key::Seed) {
        Some(ParamValue::Int(seed)) => *seed,
        _ => DEFAULT_SEED,
    };
    let mut of = Repeated {
        task: task.name.clone(),
        ..Repeated::default()
    };
    let repeats = (1..=k)
        .map(|i| {
            let seed = base.wrapping_add(i64::from(i) - 1);
            let mut repeat = task.clone();
            repeat.name = repeat_name(&task.name, i);
            repeat.output_folder = repeat_name(&task.output_folder, i);
            repeat.resolved.params.insert(
                Key::Seed,
                ResolvedParam {
                    value: ParamValue::Int(seed),
                    source: SourceRef::new("repeat", format!("{i} of {k}, seed {base}+{}", i - 1)),
                },
            );
            of.repeats.push(repeat.name.clone());
            of.seeds.push(seed);
            repeat
        })
        .collect();
    (repeats, of)
}

/// Repeats asked of a list of tasks none of which generates text: nothing would repeat.
pub(super) fn check_any_repeats(repeated: &[Repeated], asked: bool) -> Result<()> {
    if asked && repeated.is_empty() {
        return Err(bad_input(
            "`repeats`: every task of the run only scores log-likelihoods, which do not sample; \
             there is nothing to repeat",
        ));
    }
    Ok(())
}

/// Each task's state, its repeats' folded into it: failed when one failed, interrupted or not
/// run when one was, done when all are.
pub(super) fn fold_states(
    states: Vec<(String, TaskState)>,
    repeated: &[Repeated],
) -> Vec<(String, TaskState)> {
    let owner = |name: &str| {
        repeated
            .iter()
            .find(|r| r.repeats.iter().any(|n| n == name))
            .map(|r| r.task.clone())
    };
    let rank = |s: &TaskState| match s {
        TaskState::Done => 0,
        TaskState::NotRun => 1,
        TaskState::Interrupted => 2,
        _ => 3,
    };
    let mut out: Vec<(String, TaskState)> = Vec::new();
    for (name, state) in states {
        let name = owner(&name).unwrap_or(name);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, kept)) if rank(&state) > rank(kept) => *kept = state,
            Some(_) => {}
            None => out.push((name, state)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchy_core::Resolved;

    fn task(name: &str) -> TaskView {
        TaskView {
            name: name.into(),
            task_name: name.into(),
            lm_eval_path: None,
            include_path: None,
            tokenizer_backend: None,
            inspect_task: None,
            task_args: Default::default(),
            defaults: Default::default(),
            output_folder: name.into(),
            resolved: Resolved::default(),
            mode: None,
        }
    }

    #[test]
    fn a_generating_task_becomes_its_repeats_each_with_its_seed() {
        let kinds = BTreeMap::from([
            ("gen".to_owned(), Sampling::Generate),
            ("mc".to_owned(), Sampling::LoglikelihoodOnly),
        ]);
        let (tasks, repeated, notes) =
            expand(vec![task("gen"), task("mc")], |_| 3, &kinds).unwrap();
        let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["gen.repeat-1", "gen.repeat-2", "gen.repeat-3", "mc"]
        );
        assert_eq!(repeated[0].seeds, [1234, 1235, 1236]);
        let seed = &tasks[1].resolved.params[&Key::Seed];
        assert_eq!(seed.value, ParamValue::Int(1235));
        assert_eq!(seed.source.to_string(), "repeat:2 of 3, seed 1234+1");
        assert_eq!(tasks[2].output_folder, "gen.repeat-3");
        assert!(
            notes[0]
                .message
                .contains("mc: 3 repeats asked, but it only scores")
        );
        let err = expand(vec![task("x")], |_| 2, &BTreeMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("cannot say whether it generates"),
            "{err}"
        );
    }

    #[test]
    fn repeats_states_fold_into_their_task() {
        let repeated = [Repeated {
            task: "gen".into(),
            repeats: vec!["gen.repeat-1".into(), "gen.repeat-2".into()],
            seeds: vec![1, 2],
        }];
        let folded = fold_states(
            vec![
                ("gen.repeat-1".into(), TaskState::Done),
                ("gen.repeat-2".into(), TaskState::Interrupted),
                ("mc".into(), TaskState::Done),
            ],
            &repeated,
        );
        assert_eq!(
            folded,
            [
                ("gen".to_owned(), TaskState::Interrupted),
                ("mc".to_owned(), TaskState::Done)
            ]
        );
    }
}
