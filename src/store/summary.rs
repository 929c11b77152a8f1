//! What came out of a run, rendered: `results.json` (run task -> evaluated task -> metric ->
//! value and stderr), the results table printed at the end, and `summary.md` (the table and
//! what was verified).

use benchy_core::backend::{Metric, TaskResult};
use serde_json::{Map, Value as Json, json};

use super::run_record::RunRecord;
use crate::proof::verification::Check;
use crate::util::table;

const HEADER: [&str; 4] = ["task", "metric", "value", "± stderr"];

/// `metric,filter`, lm-eval's own key form, or the metric alone.
fn metric_key(metric: &Metric) -> String {
    match &metric.filter {
        Some(filter) => format!("{},{filter}", metric.name),
        None => metric.name.clone(),
    }
}

/// `{run task: {evaluated task: {metric: {"value": V, "stderr": S}}}}`: each run task with what
/// its backend evaluated for it (an lm-eval group and its subtasks, say).
pub fn results_json(results: &[TaskResult]) -> Json {
    let mut out: Map<String, Json> = Map::new();
    for result in results {
        let metrics: Map<String, Json> = result
            .metrics
            .iter()
            .map(|m| {
                let mut entry = json!({"value": m.value, "stderr": m.stderr});
                if !m.samples.is_empty() {
                    entry["samples"] = json!(m.samples);
                }
                (metric_key(m), entry)
            })
            .collect();
        let task = out
            .entry(result.task.clone())
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(evaluated) = task {
            evaluated.insert(result.name.clone(), Json::Object(metrics));
        }
    }
    Json::Object(out)
}

/// One row per evaluated task and metric of a `results.json` value.
fn rows(results: &Json) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for evaluated in entries(results).map(|(_, e)| e) {
        for (name, metrics) in entries(evaluated) {
            for (key, metric) in entries(metrics) {
                rows.push(vec![
                    name.clone(),
                    key.clone(),
                    value_cell(metric),
                    stderr_cell(metric),
                ]);
            }
        }
    }
    rows
}

/// An object's entries; nothing when it is not one.
fn entries(value: &Json) -> impl Iterator<Item = (&String, &Json)> {
    value.as_object().into_iter().flatten()
}

fn value_cell(metric: &Json) -> String {
    match metric.get("value") {
        Some(v) => v.as_f64().map_or_else(|| v.to_string(), table::number),
        None => "-".to_owned(),
    }
}

fn stderr_cell(metric: &Json) -> String {
    let stderr = metric.get("stderr").and_then(Json::as_f64);
    stderr.map_or_else(|| "-".to_owned(), table::number)
}

/// The results table for the terminal, from a `results.json` value.
pub fn results_table(results: &Json) -> String {
    table::render(&HEADER, &rows(results))
}

/// `summary.md`: the model, run, status, the results table and what was verified.
pub fn summary_markdown(model: &str, record: &RunRecord, results: &Json) -> String {
    let table = table::markdown(&HEADER, &rows(results));
    format!(
        "# {model} — run {}\n\nStatus: {}\n\n{table}\n{}{}{}",
        record.run_id,
        record.status.as_str(),
        sampling_note(record),
        answers_note(record),
        startup_note(record)
    )
}

/// The launched server's start-up, phase by phase, with its share of the model's wall time.
fn startup_note(record: &RunRecord) -> String {
    let Some(ledger) = record.server.as_ref().and_then(|s| s.startup.as_ref()) else {
        return String::new();
    };
    let (started, finished) = (
        Some(record.started_at.as_str()),
        record.finished_at.as_deref(),
    );
    format!(
        "\nServer start-up: {}.\n",
        ledger.describe(started, finished)
    )
}

/// The share of cut answers above which a task is flagged.
pub const CUT_FLAG: f64 = 0.05;

/// What the answers said, a line per task (not per repeat), a task over [`CUT_FLAG`] flagged;
/// and each repeated task's repeats and seeds.
fn answers_note(record: &RunRecord) -> String {
    let is_repeat = |name: &str| {
        record
            .repeats
            .iter()
            .any(|r| r.repeats.iter().any(|n| n == name))
    };
    let mut out = String::new();
    for (task, answers) in record.answers.iter().filter(|(t, _)| !is_repeat(t)) {
        let counts = &answers.counts;
        let flag = if counts.cut_share() > CUT_FLAG {
            " **flagged: over 5 % of its answers were cut and score as wrong**"
        } else {
            ""
        };
        out += &format!(
            "\n- {task}: {} of {} answers cut at max_tokens {} ({}), {} empty; completion \
             tokens p50 {} p90 {} max {}{flag}",
            counts.cut,
            counts.answers,
            counts
                .budget
                .map_or_else(|| "-".to_owned(), |b| b.to_string()),
            answers.budget_source,
            counts.empty,
            counts.completion_tokens_p50,
            counts.completion_tokens_p90,
            counts.completion_tokens_max
        );
    }
    if !out.is_empty() {
        out = format!("\nAnswers:\n{out}\n");
    }
    for repeated in &record.repeats {
        let seeds: Vec<String> = repeated.seeds.iter().map(ToString::to_string).collect();
        out += &format!(
            "\n{}: the mean of {} repeats ± their standard deviation (seeds {}).\n",
            repeated.task,
            repeated.repeats.len(),
            seeds.join(", ")
        );
    }
    out
}

/// One line per kind of task: generating tasks carried the resolved parameters (verified),
/// log-likelihood tasks carried none.
fn sampling_note(record: &RunRecord) -> String {
    let named = |status: Check| -> Vec<&str> {
        record
            .verification
            .iter()
            .filter(|v| v.status == status)
            .map(|v| v.name.as_str())
            .collect()
    };
    let mut out = String::new();
    let verified = named(Check::Verified);
    if !verified.is_empty() {
        out += &format!(
            "\nGeneration parameters verified against {}'s record: {}.\n",
            record.backend,
            verified.join(", ")
        );
    }
    if let Some(audit) = &record.audit {
        out += &format!("\nWire audit: {}.\n", audit.verdict);
    }
    let loglikelihood = named(Check::NoSamplingParameters);
    if !loglikelihood.is_empty() {
        out += &format!(
            "\nScored by log-likelihood, so no sampling parameters were sent: {}.\n",
            loglikelihood.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_evaluated_task_and_metric_is_a_row() {
        let results = json!({"gen": {"gen": {"acc,none": {"value": 0.5, "stderr": 0.01}},
                                     "gen_sub": {"f1,none": {"value": "N/A"}}}});
        assert_eq!(
            rows(&results),
            [
                ["gen", "acc,none", "0.5000", "0.0100"],
                ["gen_sub", "f1,none", "\"N/A\"", "-"],
            ]
        );
    }
}
