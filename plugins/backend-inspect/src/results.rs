//! Reading what inspect wrote: the task's newest JSON log (`--log-format json`, chosen over
//! `.eval` because it is one JSON document, read with serde alone). Shapes relied on (inspect
//! 0.3.285, inspect_ai/log/_log.py): `status` (`success`, `error` with `error.message`),
//! `eval.model_generate_config` (the generate config it used), `eval.packages`,
//! `eval.dataset`, `results.scores[]` (each scorer's `metrics`, a `stderr` metric among them
//! when the scorer reports one), `results.completed_samples`, and each sample's `events` of
//! type `model`, whose `call.request` is the raw request (`--log-model-api`) with `extra_body`
//! as the client was given it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use benchy_core::backend::{DatasetRef, Metric, Sampling, TaskResult, TaskView};
use benchy_core::json::json_eq;
use benchy_core::source::read_text_file;
use benchy_core::{BackendError, Diagnostic};

use crate::generate::{logged_fields, request_fields, sent_fields};

/// The most of a log that is read: with every raw call of a few thousand samples, logs reach
/// hundreds of megabytes.
const MAX_LOG_BYTES: u64 = 1024 * 1024 * 1024;

/// The newest JSON log under `dir` (inspect names them by an ISO timestamp first).
pub fn newest_log(dir: &Path) -> Option<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    logs.sort();
    logs.pop()
}

/// The results of `task` from its log; `None` when the eval did not succeed (said in
/// `diagnostics`).
pub fn read(
    task: &TaskView,
    log: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<TaskResult>, BackendError> {
    let text = read_text_file(log, MAX_LOG_BYTES)
        .map_err(|e| BackendError::failed(format!("{}: {e}", log.display())))?;
    let doc: Json = serde_json::from_str(&text).map_err(|e| {
        BackendError::failed(format!("{}: not an inspect JSON log: {e}", log.display()))
    })?;
    let status = doc.get("status").and_then(Json::as_str).unwrap_or("");
    if status != "success" {
        let why = doc
            .pointer("/error/message")
            .and_then(Json::as_str)
            .unwrap_or("no error message");
        diagnostics.push(Diagnostic::warning(format!(
            "task `{}`: inspect's eval ended `{status}`: {why} ({})",
            task.name,
            log.display()
        )));
        return Ok(None);
    }
    let sent = sent_fields(task);
    let samples = doc
        .pointer("/results/completed_samples")
        .and_then(Json::as_u64);
    let requests = logged_requests(&doc);
    let recorded = recorded(&doc, &requests, &sent, task, diagnostics);
    diagnostics.push(Diagnostic::info(format!(
        "task `{}`: inspect logged {} raw requests ({} samples), each checked against what was \
         sent",
        task.name,
        requests.len(),
        samples.map_or("?".to_owned(), |n| n.to_string())
    )));
    Ok(Some(TaskResult {
        task: task.name.clone(),
        name: text_at(&doc, "/eval/task").unwrap_or_else(|| task.name.clone()),
        sampling: Sampling::Generate,
        metrics: metrics(&doc),
        sent_generation: Some(sent),
        recorded_generation: Some(recorded),
        dataset: text_at(&doc, "/eval/dataset/location").map(|path| DatasetRef {
            path,
            ..DatasetRef::default()
        }),
        samples,
    }))
}

fn text_at(doc: &Json, pointer: &str) -> Option<String> {
    doc.pointer(pointer)
        .and_then(Json::as_str)
        .map(str::to_owned)
}

/// What inspect recorded as used, in the request's names: its generate config, with any field
/// one of its logged `requests` carried otherwise than benchy sent put in as the request carried
/// it (so verification names it), said in `diagnostics`.
fn recorded(
    doc: &Json,
    requests: &[(String, Map<String, Json>)],
    sent: &Map<String, Json>,
    task: &TaskView,
    diagnostics: &mut Vec<Diagnostic>,
) -> Map<String, Json> {
    let config = doc
        .pointer("/eval/model_generate_config")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    let mut recorded = request_fields(&config);
    for (sample, request) in requests {
        let fields = logged_fields(request);
        let keys: BTreeSet<&String> = fields.keys().chain(sent.keys()).collect();
        for key in keys {
            let carried = fields.get(key).cloned().unwrap_or(Json::Null);
            let sent_value = sent.get(key).cloned().unwrap_or(Json::Null);
            if json_eq(&sent_value, &carried) || recorded.get(key) == Some(&carried) {
                continue;
            }
            diagnostics.push(Diagnostic::warning(format!(
                "task `{}`: sample {sample}: inspect's logged request carried {key} = {carried} \
                 (benchy sent {sent_value})",
                task.name
            )));
            recorded.insert(key.clone(), carried);
        }
    }
    recorded
}

/// Every raw request inspect logged, with its sample's id.
fn logged_requests(doc: &Json) -> Vec<(String, Map<String, Json>)> {
    let samples = doc.get("samples").and_then(Json::as_array);
    let mut requests = Vec::new();
    for sample in samples.into_iter().flatten() {
        let id = sample
            .get("id")
            .map(ToString::to_string)
            .unwrap_or_default();
        let events = sample.get("events").and_then(Json::as_array);
        for event in events.into_iter().flatten() {
            if event.get("event").and_then(Json::as_str) != Some("model") {
                continue;
            }
            if let Some(request) = event.pointer("/call/request").and_then(Json::as_object) {
                requests.push((id.clone(), request.clone()));
            }
        }
    }
    requests
}

/// Each scorer's metrics, its `stderr` metric as their standard error, and each metric's
/// per-sample scores (what pass@k over repeats needs).
fn metrics(doc: &Json) -> Vec<Metric> {
    let scores = doc.pointer("/results/scores").and_then(Json::as_array);
    let mut out = Vec::new();
    for score in scores.into_iter().flatten() {
        let scorer = score.get("name").and_then(Json::as_str).unwrap_or("score");
        let Some(metrics) = score.get("metrics").and_then(Json::as_object) else {
            continue;
        };
        let stderr = metrics
            .get("stderr")
            .and_then(|m| m.get("value"))
            .and_then(Json::as_f64);
        let samples = sample_scores(doc, scorer);
        for (name, metric) in metrics.iter().filter(|(n, _)| *n != "stderr") {
            out.push(Metric {
                name: name.clone(),
                filter: Some(scorer.to_owned()),
                value: metric.get("value").cloned().unwrap_or(Json::Null),
                stderr,
                samples: if name == "accuracy" {
                    samples.clone()
                } else {
                    Vec::new()
                },
            });
        }
    }
    out
}

/// Each sample's score by `scorer` as a number, in the order of sample id and epoch; empty when
/// one is not a number inspect's `value_to_float` would give (C 1, I 0, P 0.5, N 0).
fn sample_scores(doc: &Json, scorer: &str) -> Vec<f64> {
    let mut scored: Vec<(String, u64, Option<f64>)> = doc
        .get("samples")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let id = s.get("id").map(ToString::to_string).unwrap_or_default();
            let epoch = s.get("epoch").and_then(Json::as_u64).unwrap_or(1);
            let value = s.pointer(&format!("/scores/{scorer}/value"));
            (id, epoch, value.and_then(as_number))
        })
        .collect();
    scored.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    scored
        .into_iter()
        .map(|(_, _, v)| v)
        .collect::<Option<Vec<f64>>>()
        .unwrap_or_default()
}

fn as_number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        Json::String(s) => match s.as_str() {
            "C" => Some(1.0),
            "I" | "N" => Some(0.0),
            "P" => Some(0.5),
            _ => None,
        },
        _ => None,
    }
}
