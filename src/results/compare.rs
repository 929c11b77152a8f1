//! Two runs side by side: every metric of both with the difference and whether it exceeds
//! twice the combined standard error, then everything that differs in what decides the numbers
//! ([`Setup`]): each generation parameter with both values and both sources, and the settings
//! around them. `--fail-on-regression METRIC=DELTA` turns a drop into a failure, for CI.

use std::str::FromStr;

use serde::Serialize;
use serde_json::json;

use super::leaderboard::names;
use super::setup::{Item, Key, Kind, Setup};
use crate::store::read::{MetricValue, StoredRun};
use crate::util::table;

#[derive(Debug)]
pub struct Comparison<'a> {
    pub a: &'a StoredRun,
    pub b: &'a StoredRun,
    pub metrics: Vec<MetricRow>,
    pub differences: Vec<Difference>,
}

/// One metric of one evaluated task, in either run or both.
#[derive(Clone, Debug, Serialize)]
pub struct MetricRow {
    pub task: String,
    pub evaluated: String,
    pub metric: String,
    pub a: Option<MetricValue>,
    pub b: Option<MetricValue>,
    /// B minus A.
    pub difference: Option<f64>,
    /// `sqrt(se_a² + se_b²)`, when both runs have a standard error.
    pub combined_stderr: Option<f64>,
    /// `|difference| > 2 × combined_stderr`; unknown without standard errors.
    pub significant: Option<bool>,
    /// The share of the task's answers cut at the token budget, in A and in B, when counted.
    pub cut_a: Option<f64>,
    pub cut_b: Option<f64>,
}

impl MetricRow {
    /// The row of metric `key` with the runs' values, weighed.
    fn new(key: &MetricKey, a: Option<MetricValue>, b: Option<MetricValue>) -> MetricRow {
        let (task, evaluated, metric) = *key;
        let mut row = MetricRow {
            task: task.to_owned(),
            evaluated: evaluated.to_owned(),
            metric: metric.to_owned(),
            a,
            b,
            difference: None,
            combined_stderr: None,
            significant: None,
            cut_a: None,
            cut_b: None,
        };
        weigh(&mut row);
        row
    }
}

/// One item of the setup on which the runs disagree.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    #[serde(flatten)]
    pub key: Key,
    pub a: Option<Item>,
    pub b: Option<Item>,
}

impl Difference {
    /// `temperature 0.7 (hf:org/model@3f2a...) -> 0.6 (hf:org/model@9c1b...)`.
    pub fn line(&self) -> String {
        let side = |item: &Option<Item>| {
            item.as_ref()
                .map_or_else(|| "(none)".to_owned(), Item::shown)
        };
        format!(
            "{} {} -> {}",
            self.key.label(),
            side(&self.a),
            side(&self.b)
        )
    }
}

impl<'a> Comparison<'a> {
    pub fn of(a: &'a StoredRun, b: &'a StoredRun) -> Comparison<'a> {
        let (setup_a, setup_b) = (Setup::of(a), Setup::of(b));
        let differences = setup_a
            .differences(&setup_b)
            .into_iter()
            .map(|key| Difference {
                a: setup_a.get(&key).cloned(),
                b: setup_b.get(&key).cloned(),
                key,
            })
            .collect();
        let mut metrics = metric_rows(a, b);
        for row in &mut metrics {
            row.cut_a = cut_share(a, &row.task);
            row.cut_b = cut_share(b, &row.task);
        }
        Comparison {
            a,
            b,
            metrics,
            differences,
        }
    }

    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(move |d| d.key.kind == kind)
    }

    /// The comparison for the terminal.
    pub fn text(&self) -> String {
        let side = |name: &str, run: &StoredRun| {
            format!(
                "{name}: {} (run {}, {})\n",
                run.dir.display(),
                run.run_id,
                run.status
            )
        };
        let mut out = side("A", self.a) + &side("B", self.b) + "\n";
        out += &table::render(
            &[
                "task",
                "evaluated",
                "metric",
                "A",
                "B",
                "B - A",
                "beyond 2 SE",
                "answers cut",
            ],
            &self.metrics.iter().map(metric_cells).collect::<Vec<_>>(),
        );
        for (kind, title) in [
            (Kind::Parameter, "Generation parameters that differ"),
            (Kind::Setting, "Other differences that change numbers"),
        ] {
            let lines: Vec<String> = self.of_kind(kind).map(Difference::line).collect();
            out += &format!("\n{title}:\n");
            if lines.is_empty() {
                out += "  none\n";
            }
            for line in lines {
                out += &format!("  {line}\n");
            }
        }
        out
    }

    pub fn json(&self, regressions: &[String]) -> serde_json::Value {
        let side = |run: &StoredRun| {
            json!({"folder": run.dir, "run_id": run.run_id, "model": run.model,
                   "status": run.status})
        };
        json!({
            "a": side(self.a),
            "b": side(self.b),
            "metrics": self.metrics,
            "parameters": self.of_kind(Kind::Parameter).collect::<Vec<_>>(),
            "settings": self.of_kind(Kind::Setting).collect::<Vec<_>>(),
            "regressions": regressions,
        })
    }

    /// Every drop `check` forbids, one line each; an error when no metric has its name. A
    /// metric A has and B lacks (B's task failed, or never ran) is a regression too, with a line
    /// of its own, unless `allow_missing`.
    pub fn regressions(
        &self,
        check: &Regression,
        allow_missing: bool,
    ) -> Result<Vec<String>, String> {
        let rows: Vec<&MetricRow> = self
            .metrics
            .iter()
            .filter(|r| names(&r.metric, &check.metric))
            .collect();
        if rows.is_empty() {
            return Err(format!(
                "--fail-on-regression {}: neither run has a metric `{}`",
                check.spec, check.metric
            ));
        }
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let valued = |v: Option<MetricValue>| v.and_then(|m| m.value);
                if let (Some(a), None) = (valued(r.a), valued(r.b)) {
                    return (!allow_missing).then(|| {
                        format!(
                            "{} {} {}: A has {}, B has none (its task failed or never ran; \
                             --allow-missing lets this pass) (--fail-on-regression {})",
                            r.task,
                            r.evaluated,
                            r.metric,
                            table::number(a),
                            check.spec
                        )
                    });
                }
                let drop = -r.difference?;
                (drop > check.delta).then(|| {
                    format!(
                        "{} {} {} dropped by {drop:.4}, more than {} (--fail-on-regression {})",
                        r.task, r.evaluated, r.metric, check.delta, check.spec
                    )
                })
            })
            .collect())
    }
}

fn metric_cells(row: &MetricRow) -> Vec<String> {
    let value = |v: &Option<MetricValue>| match v.and_then(|m| m.value.map(|x| (x, m.stderr))) {
        Some((value, stderr)) => table::value(value, stderr),
        None => "-".to_owned(),
    };
    let significant = match row.significant {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    vec![
        row.task.clone(),
        row.evaluated.clone(),
        row.metric.clone(),
        value(&row.a),
        value(&row.b),
        row.difference
            .map_or_else(|| "-".to_owned(), |d| format!("{d:+.4}")),
        significant.to_owned(),
        cut_cell(row.cut_a, row.cut_b),
    ]
}

/// `0% -> 23%`, or nothing when neither run counted the task's answers.
fn cut_cell(a: Option<f64>, b: Option<f64>) -> String {
    if a.is_none() && b.is_none() {
        return String::new();
    }
    let share = |s: Option<f64>| s.map_or_else(|| "-".to_owned(), |s| format!("{:.0}%", s * 100.0));
    format!("{} -> {}", share(a), share(b))
}

/// A metric's place: the run task, the evaluated task, the metric.
type MetricKey<'r> = (&'r str, &'r str, &'r str);

/// Every metric of `run` with its value, in the run's order.
fn metrics_of(run: &StoredRun) -> impl Iterator<Item = (MetricKey<'_>, MetricValue)> {
    run.tasks.iter().flat_map(|task| {
        task.results.iter().flat_map(move |(evaluated, metrics)| {
            metrics.iter().map(move |(metric, value)| {
                (
                    (task.name.as_str(), evaluated.as_str(), metric.as_str()),
                    *value,
                )
            })
        })
    })
}

/// The share of `task`'s answers cut at the token budget in `run`, when they were counted.
fn cut_share(run: &StoredRun, task: &str) -> Option<f64> {
    let answers = run.task(task)?.answers.as_ref()?;
    (answers.counts.answers > 0).then(|| answers.counts.cut_share())
}

/// Every metric of either run, in A's order and then those only B has.
fn metric_rows(a: &StoredRun, b: &StoredRun) -> Vec<MetricRow> {
    merge(
        &metrics_of(a).collect::<Vec<_>>(),
        &metrics_of(b).collect::<Vec<_>>(),
    )
}

/// Rows for the metrics of A and B: A's in order, each with B's value of it, then B's others.
fn merge(of_a: &[(MetricKey, MetricValue)], of_b: &[(MetricKey, MetricValue)]) -> Vec<MetricRow> {
    let value_in = |run: &[(MetricKey, MetricValue)], key: &MetricKey| {
        run.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    };
    let both = of_a
        .iter()
        .map(|(key, a)| (key, Some(*a), value_in(of_b, key)));
    let only_in_b = of_b
        .iter()
        .filter(|(key, _)| value_in(of_a, key).is_none())
        .map(|(key, b)| (key, None, Some(*b)));
    both.chain(only_in_b)
        .map(|(key, a, b)| MetricRow::new(key, a, b))
        .collect()
}

/// The difference, the combined standard error and whether the one exceeds twice the other.
fn weigh(row: &mut MetricRow) {
    let (Some(a), Some(b)) = (row.a, row.b) else {
        return;
    };
    row.difference = a.value.zip(b.value).map(|(a, b)| b - a);
    row.combined_stderr = a.stderr.zip(b.stderr).map(|(x, y)| x.hypot(y));
    row.significant = row
        .difference
        .zip(row.combined_stderr)
        .map(|(d, se)| d.abs() > 2.0 * se);
}

/// `--fail-on-regression METRIC=DELTA`: fail when METRIC (`metric,filter` or a metric name with
/// any filter) is lower in B than in A by more than DELTA.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    pub spec: String,
    pub metric: String,
    pub delta: f64,
}

impl FromStr for Regression {
    type Err = String;

    fn from_str(spec: &str) -> Result<Regression, String> {
        let (metric, delta) = spec
            .split_once('=')
            .ok_or("expected METRIC=DELTA, e.g. acc=0.02")?;
        let delta: f64 = delta
            .trim()
            .parse()
            .ok()
            .filter(|d: &f64| d.is_finite() && *d >= 0.0)
            .ok_or_else(|| format!("DELTA `{delta}` is not a number of 0 or more"))?;
        if metric.trim().is_empty() {
            return Err("METRIC is empty".into());
        }
        Ok(Regression {
            spec: spec.to_owned(),
            metric: metric.trim().to_owned(),
            delta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(value: f64, stderr: Option<f64>) -> Option<MetricValue> {
        Some(MetricValue {
            value: Some(value),
            stderr,
            repeats: None,
        })
    }

    fn row(a: Option<MetricValue>, b: Option<MetricValue>) -> MetricRow {
        MetricRow::new(&("t", "t", "acc,none"), a, b)
    }

    #[test]
    fn rows_follow_a_then_what_only_b_has_each_with_both_values() {
        let key = |metric| ("gen", "gen", metric);
        let of_a = [
            (key("acc"), value(0.5, None).unwrap()),
            (key("f1"), value(0.6, None).unwrap()),
        ];
        let of_b = [
            (key("bleu"), value(9.0, None).unwrap()),
            (key("f1"), value(0.7, None).unwrap()),
        ];
        let rows = merge(&of_a, &of_b);
        let shown: Vec<(&str, bool, bool)> = rows
            .iter()
            .map(|r| (r.metric.as_str(), r.a.is_some(), r.b.is_some()))
            .collect();
        assert_eq!(
            shown,
            [
                ("acc", true, false),
                ("f1", true, true),
                ("bleu", false, true)
            ]
        );
        assert!((rows[1].difference.unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(rows[0].difference, None);
    }

    #[test]
    fn a_difference_counts_beyond_twice_the_combined_standard_error() {
        // se = 5: 2 SE = 10
        let small = row(value(0.50, Some(3.0)), value(0.59, Some(4.0)));
        assert_eq!(small.combined_stderr, Some(5.0));
        assert_eq!(small.significant, Some(false));
        let big = row(value(0.5, Some(0.03)), value(0.65, Some(0.04)));
        assert_eq!(big.significant, Some(true));
        assert_eq!(
            row(value(0.5, None), value(0.6, Some(0.1))).significant,
            None
        );
        assert_eq!(row(value(0.5, None), None).difference, None);
    }

    #[test]
    fn regressions_parse_and_bad_ones_say_why() {
        assert_eq!(
            "acc=0.02".parse::<Regression>().unwrap(),
            Regression {
                spec: "acc=0.02".into(),
                metric: "acc".into(),
                delta: 0.02
            }
        );
        assert!(
            "acc"
                .parse::<Regression>()
                .unwrap_err()
                .contains("METRIC=DELTA")
        );
        assert!("acc=-1".parse::<Regression>().is_err());
        assert!("acc=x".parse::<Regression>().is_err());
        assert!("=1".parse::<Regression>().is_err());
    }
}
