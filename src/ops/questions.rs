//! A backend's questions: short commands whose output it needs before it can plan (which of
//! these tasks generate text?). They run before anything starts, each at most once per suite,
//! and an answer is remembered across runs as a passing check is, until what it depends on
//! changes. The backend is asked again with every answer until it asks nothing new.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use benchy_core::{Plan, ProcessSpec};
use serde_json::Value as Json;

use crate::ops::check_cache::CheckCache;
use crate::runner;
use crate::runner::client::run_spec;
use crate::store::run_record::QuestionRecord;
use crate::util::bad_input::BadInput;
use crate::util::stdio::errln;

/// How long a question may take when its backend does not say.
const QUESTION_LIMIT: Duration = Duration::from_secs(300);

/// How many rounds of questions a plan may take: a backend asks what it needs, then plans.
const ROUNDS: usize = 3;

/// The answers of a suite's questions, by question name.
#[derive(Debug, Default)]
pub struct BackendAnswers {
    pub known: BTreeMap<String, Json>,
    /// Each question as the run records it: asked now, or answered from what was remembered.
    pub records: Vec<QuestionRecord>,
}

impl BackendAnswers {
    /// The plan `ask` makes once every question it asks is answered: its questions run (or are
    /// remembered) between rounds.
    pub fn plan(
        &mut self,
        home: &Path,
        mut ask: impl FnMut(&BTreeMap<String, Json>) -> Result<Plan>,
    ) -> Result<Plan> {
        for _ in 0..ROUNDS {
            let plan = ask(&self.known)?;
            let open: Vec<&ProcessSpec> = plan
                .questions
                .iter()
                .filter(|q| !self.known.contains_key(&q.name))
                .collect();
            if open.is_empty() {
                return Ok(plan);
            }
            for question in open {
                let (answer, remembered) = answer(question, home)?;
                self.records.push(QuestionRecord {
                    name: question.name.clone(),
                    command: shown(question),
                    tasks: question.tasks.clone(),
                    remembered,
                });
                self.known.insert(question.name.clone(), answer);
            }
        }
        anyhow::bail!("the task backend kept asking questions after {ROUNDS} rounds of answers")
    }

    /// How many questions were asked now, and how many answered from what was remembered.
    pub fn counts(&self) -> (usize, usize) {
        let remembered = self.records.iter().filter(|r| r.remembered).count();
        (self.records.len() - remembered, remembered)
    }
}

/// `plan` when every question it asks is answered in `answers`: after preflight, a backend has
/// nothing left to ask, and a plan made on a guess must not run.
pub fn settled(plan: Plan, answers: &BTreeMap<String, Json>) -> Result<Plan> {
    match plan
        .questions
        .iter()
        .find(|q| !answers.contains_key(&q.name))
    {
        None => Ok(plan),
        Some(question) => anyhow::bail!(
            "the task backend asked `{}` after its questions were answered before the start",
            question.name
        ),
    }
}

/// One question's answer, and whether it was remembered rather than asked now (before any
/// runtime exists).
fn answer(question: &ProcessSpec, home: &Path) -> Result<(Json, bool)> {
    let mark = CheckCache::answers(home).mark(question);
    if let Some(answer) = mark.answer() {
        errln!(
            "{}: answered before with the same program, arguments and files; not asked again",
            question.name
        );
        return Ok((answer, true));
    }
    errln!("{}: asking {}", question.name, question.program);
    let limit = question
        .timeout_secs
        .map_or(QUESTION_LIMIT, Duration::from_secs_f64);
    let output = runner::runtime()?.block_on(run_spec(question, limit))?;
    let parsed = serde_json::from_str::<Json>(output.stdout.trim());
    match parsed {
        Ok(answer) if output.success() => {
            mark.remember_answer(&answer);
            Ok((answer, false))
        }
        _ => Err(BadInput(format!(
            "{} failed ({}) for task(s) {}:\n  $ {}\n{}",
            question.name,
            output.exit(),
            question.tasks.join(", "),
            shown(question),
            tail(&output.stderr)
        ))
        .into()),
    }
}

/// The question's command line, a script argument shown as `<script>`.
fn shown(question: &ProcessSpec) -> String {
    let args = question.args.iter().map(|a| {
        if a.contains('\n') {
            "<script>"
        } else {
            a.as_str()
        }
    });
    std::iter::once(question.program.as_str())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last lines of a question's error output, indented.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    lines[start..]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
