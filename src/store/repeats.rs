//! A repeated task's results: each repeat runs as a task of its own (`<task>.repeat-<i>`, its own
//! folder, seed and completion record), and the task's entry of `results.json` combines them.
//! Each metric becomes the mean over the repeats ± their standard deviation, with every repeat's
//! own value and standard error kept beside it; where every repeat kept its per-sample scores
//! (`--log-samples`), `pass@K` (a sample solved in any of the K repeats) and `avg@K` (its mean
//! over them) are added for each metric whose scores are all 0 or 1.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

/// A task that runs as repeats: the repeats' task names in order, and each one's seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Repeated {
    pub task: String,
    pub repeats: Vec<String>,
    pub seeds: Vec<i64>,
}

/// `results` (`results.json`'s object, by task) with each repeated task's repeats combined into
/// the task's own entry, and the repeats' entries taken out.
pub fn combine(mut results: Map<String, Json>, repeated: &[Repeated]) -> Map<String, Json> {
    for task in repeated {
        let entries: Vec<Json> = task
            .repeats
            .iter()
            .filter_map(|name| results.remove(name))
            .collect();
        if !entries.is_empty() {
            results.insert(task.task.clone(), combined(&entries));
        }
    }
    results
}

/// The repeats' entries (evaluated task -> metric -> value) as one.
fn combined(entries: &[Json]) -> Json {
    let mut out = Map::new();
    for (evaluated, metrics) in object(&entries[0]) {
        let mut combined = Map::new();
        for key in object(metrics).map(|(k, _)| k) {
            let each: Vec<&Json> = entries
                .iter()
                .filter_map(|e| e.get(evaluated)?.get(key))
                .collect();
            combined.insert(key.clone(), metric(&each));
            combined.extend(over_samples(key, &each));
        }
        out.insert(evaluated.clone(), Json::Object(combined));
    }
    Json::Object(out)
}

/// One metric over its repeats: the mean ± the standard deviation, each repeat kept.
fn metric(each: &[&Json]) -> Json {
    let values: Vec<f64> = each.iter().filter_map(|m| m["value"].as_f64()).collect();
    let kept: Vec<Json> = each
        .iter()
        .map(|m| json!({"value": m["value"], "stderr": m["stderr"]}))
        .collect();
    if values.len() < each.len() {
        return json!({"value": null, "stderr": null, "repeats": kept});
    }
    let (mean, spread) = mean_and_deviation(&values);
    json!({"value": mean, "stderr": spread, "spread": "repeats", "repeats": kept})
}

/// The mean, and the sample standard deviation (0 for a single value).
fn mean_and_deviation(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    (mean, (squares / (n - 1.0)).sqrt())
}

/// `pass@K` and `avg@K` of a metric whose every repeat kept its per-sample scores, all 0 or 1,
/// for the same samples.
fn over_samples(key: &str, each: &[&Json]) -> Vec<(String, Json)> {
    let scores: Option<Vec<Vec<f64>>> = each
        .iter()
        .map(|m| {
            m.get("samples")?
                .as_array()?
                .iter()
                .map(Json::as_f64)
                .collect()
        })
        .collect();
    let Some(scores) = scores else {
        return Vec::new();
    };
    let docs = scores[0].len();
    let binary = scores.iter().flatten().all(|s| *s == 0.0 || *s == 1.0);
    if docs == 0 || !binary || scores.iter().any(|s| s.len() != docs) {
        return Vec::new();
    }
    let k = scores.len();
    let solved = (0..docs)
        .filter(|&d| scores.iter().any(|s| s[d] == 1.0))
        .count();
    let total: f64 = scores.iter().flatten().sum();
    vec![
        (
            format!("{key} pass@{k}"),
            json!({"value": solved as f64 / docs as f64, "stderr": null}),
        ),
        (
            format!("{key} avg@{k}"),
            json!({"value": total / (docs * k) as f64, "stderr": null}),
        ),
    ]
}

fn object(value: &Json) -> impl Iterator<Item = (&String, &Json)> {
    value.as_object().into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::repeat_name;

    #[test]
    fn repeats_become_their_task_with_mean_and_spread() {
        let entry = |v: f64, samples: Json| json!({"t": {"acc,none": {"value": v, "stderr": 0.1, "samples": samples}}});
        let results: Map<String, Json> = [
            ("g.repeat-1".to_owned(), entry(0.5, json!([1.0, 0.0]))),
            ("g.repeat-2".to_owned(), entry(1.0, json!([1.0, 1.0]))),
            ("g.repeat-3".to_owned(), entry(0.0, json!([0.0, 0.0]))),
            ("mc".to_owned(), json!({"mc": {}})),
        ]
        .into_iter()
        .collect();
        let repeated = Repeated {
            task: "g".into(),
            repeats: (1..=3).map(|i| repeat_name("g", i)).collect(),
            seeds: vec![7, 8, 9],
        };
        let out = combine(results, &[repeated]);
        assert_eq!(out.keys().collect::<Vec<_>>(), ["mc", "g"]);
        let acc = &out["g"]["t"]["acc,none"];
        assert_eq!(acc["value"], json!(0.5));
        assert_eq!(acc["stderr"], json!(0.5));
        assert_eq!(acc["repeats"].as_array().unwrap().len(), 3);
        assert_eq!(out["g"]["t"]["acc,none pass@3"]["value"], json!(1.0));
        assert_eq!(out["g"]["t"]["acc,none avg@3"]["value"], json!(0.5));
    }

    #[test]
    fn a_repeat_without_a_number_leaves_the_mean_unknown() {
        let results: Map<String, Json> = [
            ("g.repeat-1".to_owned(), json!({"t": {"m": {"value": 1.0}}})),
            (
                "g.repeat-2".to_owned(),
                json!({"t": {"m": {"value": "n/a"}}}),
            ),
        ]
        .into_iter()
        .collect();
        let repeated = Repeated {
            task: "g".into(),
            repeats: vec!["g.repeat-1".into(), "g.repeat-2".into()],
            seeds: vec![1, 2],
        };
        let out = combine(results, &[repeated]);
        assert_eq!(out["g"]["t"]["m"]["value"], Json::Null);
    }
}
