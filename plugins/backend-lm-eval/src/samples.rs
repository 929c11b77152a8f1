//! Each sample's score, from lm-eval's samples file (`samples_<task>_<time>.jsonl`, written with
//! `--log_samples` beside the results file): one line per sample and filter, holding `doc_id`,
//! `filter` and a field per metric (lm_eval/loggers/evaluation_tracker.py, `save_results_samples`).
//! Kept per metric in sample order, so repeats of a task can be compared sample by sample.

use std::path::Path;

use benchy_core::backend::Metric;
use benchy_core::source::read_text_file;
use serde_json::Value as Json;

/// The most of a samples file read: its prompts and answers make it large, and the scores are
/// worth reading only while it stays within reason.
const MAX_SAMPLES_BYTES: u64 = 256 * 1024 * 1024;

/// Fills each of `metrics` with its per-sample scores from the samples file of lm-eval task
/// `task` in `dir`, when there is one and every sample has a number for it.
pub fn scores(dir: &Path, task: &str, metrics: &mut [Metric]) {
    let Some(text) =
        samples_file(dir, task).and_then(|f| read_text_file(&f, MAX_SAMPLES_BYTES).ok())
    else {
        return;
    };
    let lines: Vec<Json> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for metric in metrics {
        let filter = metric.filter.as_deref().unwrap_or("none");
        let mut scored: Vec<(u64, f64)> = Vec::new();
        for line in lines
            .iter()
            .filter(|l| l["filter"].as_str() == Some(filter))
        {
            let (Some(doc), Some(score)) = (line["doc_id"].as_u64(), number(&line[&metric.name]))
            else {
                scored.clear();
                break;
            };
            scored.push((doc, score));
        }
        scored.sort_by_key(|(doc, _)| *doc);
        metric.samples = scored.into_iter().map(|(_, s)| s).collect();
    }
}

/// A score: a number, or a boolean as 0 or 1.
fn number(value: &Json) -> Option<f64> {
    value.as_f64().or_else(|| value.as_bool().map(f64::from))
}

/// The newest `samples_<task>_*.jsonl` under `dir`.
fn samples_file(dir: &Path, task: &str) -> Option<std::path::PathBuf> {
    let prefix = format!("samples_{task}_");
    let mut found: Vec<std::path::PathBuf> = crate::results::walk(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".jsonl"))
        })
        .collect();
    found.sort();
    found.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_samples_order_and_their_filter() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"doc_id": 1, "filter": "none", "exact_match": 0.0}"#,
            r#"{"doc_id": 0, "filter": "none", "exact_match": 1.0}"#,
            r#"{"doc_id": 0, "filter": "strict", "exact_match": false}"#,
        ];
        std::fs::write(dir.path().join("samples_t_2026.jsonl"), lines.join("\n")).unwrap();
        let metric = |filter: &str| Metric {
            name: "exact_match".into(),
            filter: Some(filter.into()),
            value: Json::Null,
            stderr: None,
            samples: Vec::new(),
        };
        let mut metrics = [metric("none"), metric("strict"), metric("other")];
        scores(dir.path(), "t", &mut metrics);
        assert_eq!(metrics[0].samples, [1.0, 0.0]);
        assert_eq!(metrics[1].samples, [0.0]);
        assert!(metrics[2].samples.is_empty());
    }
}
