//! What each task's answers said, from the audits of the jobs that ran it: a job's generation
//! answers belong to the task of it that generated text (a process holds one such task where
//! the evaluator said which tasks generate; tasks that had to share one share their counts, and
//! say so). At the end of a run, a line per task: how many answers were cut at the token
//! budget, and where that budget came from, so the user knows what to change.

use std::collections::BTreeMap;

use benchy_core::backend::{Collected, Sampling};
use benchy_core::{Diagnostic, Key, RunView};

use crate::proof::audit::Answers;
use crate::proof::wire_audit::JobAudit;
use crate::store::completion::Completion;
use crate::store::repeats::Repeated;
use crate::store::run_record::TaskAnswers;
use crate::store::summary::CUT_FLAG;

/// Each generating task's answers, by task name.
pub(super) fn per_task(
    jobs: &[JobAudit],
    collected: &Collected,
    view: &RunView,
) -> BTreeMap<String, TaskAnswers> {
    let generates = |task: &String| {
        collected
            .results
            .iter()
            .any(|r| &r.task == task && r.sampling == Sampling::Generate)
    };
    let mut out = BTreeMap::new();
    for job in jobs {
        let generating: Vec<&String> = job.tasks.iter().filter(|t| generates(t)).collect();
        for task in &generating {
            let others = generating
                .iter()
                .filter(|t| *t != task)
                .map(|t| (*t).clone());
            out.insert(
                (*task).clone(),
                TaskAnswers {
                    counts: job.report.answers.clone(),
                    budget_source: budget_source(view, task),
                    shared_with: others.collect(),
                    from_cache: job.cache.as_ref().map_or(0, |c| c.hits),
                    cached_from: job
                        .cache
                        .as_ref()
                        .map(|c| c.from_runs.iter().cloned().collect())
                        .unwrap_or_default(),
                },
            );
        }
    }
    out
}

/// A repeated task's answers: its repeats' combined (those run before, in `done`, included),
/// beside each repeat's own.
pub(super) fn with_repeats(
    answers: &mut BTreeMap<String, TaskAnswers>,
    repeated: &[Repeated],
    done: &[Completion],
) {
    for task in repeated {
        let each: Vec<TaskAnswers> = task
            .repeats
            .iter()
            .filter_map(|name| {
                answers.get(name).cloned().or_else(|| {
                    let done = done.iter().find(|c| &c.task == name)?;
                    done.answers.clone()
                })
            })
            .collect();
        let Some(first) = each.first() else {
            continue;
        };
        let mut cached_from: Vec<String> =
            each.iter().flat_map(|a| a.cached_from.clone()).collect();
        cached_from.sort();
        cached_from.dedup();
        let combined = TaskAnswers {
            counts: Answers::combined(each.iter().map(|a| &a.counts)),
            budget_source: first.budget_source.clone(),
            shared_with: Vec::new(),
            from_cache: each.iter().map(|a| a.from_cache).sum(),
            cached_from,
        };
        answers.insert(task.task.clone(), combined);
    }
}

/// Where a task's token budget came from: the resolved key's source, or the evaluator's own.
fn budget_source(view: &RunView, task: &str) -> String {
    view.tasks
        .iter()
        .find(|t| t.name == task)
        .and_then(|t| t.resolved.params.get(&Key::MaxNewTokens))
        .map_or_else(|| "the task's own".to_owned(), |p| p.source.to_string())
}

/// `capitals: 37 of 40 answers cut at max_tokens 256 (task:capitals)`, a warning over
/// [`CUT_FLAG`]; one line for a repeated task, not one per repeat.
pub(super) fn lines(
    answers: &BTreeMap<String, TaskAnswers>,
    repeated: &[Repeated],
) -> Vec<Diagnostic> {
    let is_repeat = |name: &str| repeated.iter().any(|r| r.repeats.iter().any(|n| n == name));
    answers
        .iter()
        .filter(|(name, a)| a.counts.answers > 0 && !is_repeat(name))
        .map(|(task, a)| {
            let counts: &Answers = &a.counts;
            let budget = counts.budget.map_or_else(
                || "the token budget".to_owned(),
                |b| format!("max_tokens {b}"),
            );
            let mut line = format!(
                "{task}: {} of {} answers cut at {budget} ({})",
                counts.cut, counts.answers, a.budget_source
            );
            if !a.shared_with.is_empty() {
                line += &format!(", counted with {}", a.shared_with.join(", "));
            }
            if a.from_cache > 0 {
                line += &format!(
                    "; {} answered from the cache (first asked in run {})",
                    a.from_cache,
                    a.cached_from.join(", ")
                );
            }
            if counts.cut_share() > CUT_FLAG {
                line += &format!(
                    "; {:.0} % are cut and score as wrong: raise max_new_tokens",
                    counts.cut_share() * 100.0
                );
                Diagnostic::warning(line)
            } else {
                Diagnostic::info(line)
            }
        })
        .collect()
}
