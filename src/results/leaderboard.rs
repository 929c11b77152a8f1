//! The leaderboard: one row per model and setup, one column per task, each cell the task's
//! primary metric with its standard error, and an overall score per row (see [`Scoring`]).
//!
//! Runs of one model whose setups agree ([`Setup::agrees`]; a suite's model not started yet
//! agrees with any) share a row: each task's cell comes from
//! the newest of them that finished the task, else the newest that has it, so a failed,
//! interrupted or pending task shows as such instead of disappearing. Runs whose setups differ
//! are rows of their own, labelled with what differs (`temperature=0.6`).

use std::collections::BTreeSet;

use super::scoring::Scoring;
use super::setup::{Key, Setup};
use crate::store::read::{MetricValue, Metrics, ModelStatus, StoredRun, StoredTask, TaskState};

/// The table, and the runs it was built from.
#[derive(Debug)]
pub struct Leaderboard<'a> {
    pub runs: &'a [StoredRun],
    pub scoring: Scoring,
    /// The run tasks, in the order runs first list them.
    pub columns: Vec<String>,
    /// Best overall score first.
    pub rows: Vec<Row>,
    /// A primary metric a task file names but its results lack, one line each.
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct Row {
    /// The model as its run config names it.
    pub model: String,
    pub short_name: String,
    /// What tells this row from the model's other rows: `(key, value)`.
    pub differs: Vec<(String, String)>,
    /// Indexes into [`Leaderboard::runs`], newest first.
    pub runs: Vec<usize>,
    /// By column; `None` where no run of the row has the task.
    pub cells: Vec<Option<Cell>>,
    pub overall: Option<Overall>,
}

/// One task's outcome in a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The run (an index into [`Leaderboard::runs`]) the cell comes from.
    pub run: usize,
    /// `metric,filter` as the results name it.
    pub metric: Option<String>,
    /// Divided by 100 when the task is on a 0-100 scale.
    pub value: MetricValue,
    pub scaled: bool,
    pub state: TaskState,
    /// The share of its answers cut at the token budget, when the wire audit counted them.
    pub cut_share: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Overall {
    pub value: f64,
    /// The counted tasks that had a value, and those that had none.
    pub counted: Vec<String>,
    pub missing: Vec<String>,
}

impl Row {
    /// The model's short name, with what tells the row apart: `m (temperature=0.6)`.
    pub fn label(&self) -> String {
        if self.differs.is_empty() {
            return self.short_name.clone();
        }
        let what: Vec<String> = self
            .differs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} ({})", self.short_name, what.join(", "))
    }

    /// The newest run's status.
    pub fn status(&self, runs: &[StoredRun]) -> ModelStatus {
        runs[self.runs[0]].status
    }
}

/// Runs of one model that share a setup, while the table is built.
struct Group {
    model: String,
    setup: Setup,
    runs: Vec<usize>,
}

impl<'a> Leaderboard<'a> {
    /// The table of `runs` (oldest first, as [`super::read::Found`] orders them).
    pub fn build(runs: &'a [StoredRun], scoring: Scoring) -> Leaderboard<'a> {
        let groups = group(runs);
        let mut columns: Vec<String> = Vec::new();
        for task in runs.iter().flat_map(|r| &r.tasks) {
            if !columns.contains(&task.name) {
                columns.push(task.name.clone());
            }
        }
        let mut board = Leaderboard {
            runs,
            scoring,
            columns,
            rows: Vec::new(),
            warnings: Vec::new(),
        };
        let labels = labels(&groups, runs);
        let mut warnings = Vec::new();
        for (group, differs) in groups.iter().zip(labels) {
            let row = board.row(group, differs, &mut warnings);
            board.rows.push(row);
        }
        board.warnings = warnings;
        // Complete scores first, best first; a score over fewer tasks than it counts (a task
        // missing) ranks after every complete one.
        board.rows.sort_by(|a, b| {
            let partial = |r: &Row| r.overall.as_ref().is_none_or(|o| !o.missing.is_empty());
            let score = |r: &Row| r.overall.as_ref().map(|o| o.value);
            partial(a)
                .cmp(&partial(b))
                .then_with(|| {
                    score(b)
                        .partial_cmp(&score(a))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .then_with(|| a.label().cmp(&b.label()))
        });
        board
    }

    /// The group's row; a primary metric not found is added to `warnings`.
    fn row(
        &self,
        group: &Group,
        differs: Vec<(String, String)>,
        warnings: &mut Vec<String>,
    ) -> Row {
        let cells: Vec<Option<Cell>> = self
            .columns
            .iter()
            .map(|task| self.cell(&group.runs, task, warnings))
            .collect();
        let first = &self.runs[group.runs[0]];
        let mut row = Row {
            model: group.model.clone(),
            short_name: first.short_name.clone(),
            differs,
            runs: group.runs.clone(),
            cells,
            overall: None,
        };
        row.overall = self.overall(&row);
        row
    }

    /// `task`'s cell from the newest run that finished it, else the newest that has it.
    fn cell(&self, runs: &[usize], task: &str, warnings: &mut Vec<String>) -> Option<Cell> {
        let having: Vec<(usize, &StoredTask)> = runs
            .iter()
            .filter_map(|&i| self.runs[i].task(task).map(|t| (i, t)))
            .collect();
        let (run, stored) = having
            .iter()
            .find(|(_, t)| t.state == TaskState::Done)
            .or_else(|| having.iter().find(|(_, t)| !t.results.is_empty()))
            .or_else(|| having.first())
            .copied()?;
        let scaled = self.task_scaled(stored);
        let found = stored.standing().and_then(|(evaluated, metrics)| {
            self.primary(run, stored, evaluated, metrics, warnings)
        });
        let (metric, value) = match found {
            Some((name, value)) => (Some(name.clone()), scale(*value, scaled)),
            None => (None, MetricValue::default()),
        };
        Some(Cell {
            run,
            metric,
            value,
            scaled,
            state: stored.state,
            cut_share: stored
                .answers
                .as_ref()
                .filter(|a| a.counts.answers > 0)
                .map(|a| a.counts.cut_share()),
        })
    }

    /// The primary metric among an evaluated task's `metrics` (see [`primary_metric`]); one
    /// the task file names but the results lack is added to `warnings`.
    fn primary<'m>(
        &self,
        run: usize,
        task: &StoredTask,
        evaluated: &str,
        metrics: &'m Metrics,
        warnings: &mut Vec<String>,
    ) -> Option<&'m (String, MetricValue)> {
        let found = primary_metric(metrics, task.primary_metric.as_deref());
        if found.is_none()
            && let Some(wanted) = &task.primary_metric
        {
            let names: Vec<&str> = metrics.iter().map(|(k, _)| k.as_str()).collect();
            warnings.push(format!(
                "{}: task {}: the primary metric `{wanted}` is not among {evaluated}'s results ({})",
                self.runs[run].dir.display(),
                task.name,
                names.join(", ")
            ));
        }
        found
    }

    fn task_scaled(&self, task: &StoredTask) -> bool {
        self.scoring.scaled(&task.name)
            || task
                .standing()
                .is_some_and(|(evaluated, _)| self.scoring.scaled(evaluated))
    }

    /// The mean of the counted tasks' values: each counted name is a column (a run task), the
    /// evaluated task standing for one, or an evaluated task (a subtask) inside one. Without
    /// `--overall-task` every column counts, so a row without a value for one is partial.
    fn overall(&self, row: &Row) -> Option<Overall> {
        let counted: Vec<String> = if self.scoring.tasks.is_empty() {
            self.columns.clone()
        } else {
            self.scoring.tasks.clone()
        };
        let mut values = Vec::new();
        let mut overall = Overall {
            value: 0.0,
            counted: Vec::new(),
            missing: Vec::new(),
        };
        for name in counted {
            match self.category(row, &name) {
                Some(value) => {
                    values.push(value);
                    overall.counted.push(name);
                }
                None => overall.missing.push(name),
            }
        }
        if values.is_empty() {
            return None;
        }
        overall.value = values.iter().sum::<f64>() / values.len() as f64;
        Some(overall)
    }

    /// The value `name` stands for in `row`.
    fn category(&self, row: &Row, name: &str) -> Option<f64> {
        let cells = || {
            self.columns
                .iter()
                .zip(&row.cells)
                .filter_map(|(c, cell)| Some((c, cell.as_ref()?)))
        };
        let task_of = |cell: &Cell, column: &str| self.runs[cell.run].task(column);
        let standing = cells().find(|(column, cell)| {
            *column == name
                || task_of(cell, column)
                    .and_then(StoredTask::standing)
                    .is_some_and(|(evaluated, _)| evaluated == name)
        });
        if let Some((_, cell)) = standing {
            return cell.value.value;
        }
        cells().find_map(|(column, cell)| {
            let task = task_of(cell, column)?;
            let (_, metrics) = task.results.iter().find(|(n, _)| n == name)?;
            let (_, value) = primary_metric(metrics, task.primary_metric.as_deref())?;
            scale(*value, cell.scaled || self.scoring.scaled(name)).value
        })
    }
}

/// The primary metric among `metrics`: the one `wanted` (a task file's
/// `output.primary_metric`) names exactly, else by its name with any filter, else the first
/// that is a number. The suite's summary uses it too, so it and the leaderboard agree.
pub fn primary_metric<'m>(
    metrics: &'m Metrics,
    wanted: Option<&str>,
) -> Option<&'m (String, MetricValue)> {
    match wanted {
        Some(wanted) => metrics
            .iter()
            .find(|(k, _)| k == wanted)
            .or_else(|| metrics.iter().find(|(k, _)| names(k, wanted))),
        None => metrics.iter().find(|(_, m)| m.value.is_some()),
    }
}

/// Whether `wanted` (`metric,filter`, or a metric name meaning any filter) names the results'
/// key `key`.
pub fn names(key: &str, wanted: &str) -> bool {
    key == wanted || key.split(',').next() == Some(wanted)
}

fn scale(value: MetricValue, scaled: bool) -> MetricValue {
    if !scaled {
        return value;
    }
    MetricValue {
        value: value.value.map(|v| v / 100.0),
        stderr: value.stderr.map(|s| s / 100.0),
        ..value
    }
}

/// Runs of one model with agreeing setups together, newest run first in each group.
fn group(runs: &[StoredRun]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, run) in runs.iter().enumerate().rev() {
        let setup = Setup::of(run);
        let agreeing = groups
            .iter_mut()
            .find(|g| g.model == run.model && g.setup.agrees(&setup));
        match agreeing {
            Some(group) => {
                group.setup.absorb(&setup);
                group.runs.push(index);
            }
            None => groups.push(Group {
                model: run.model.clone(),
                setup,
                runs: vec![index],
            }),
        }
    }
    groups
}

/// For each group, what tells it from the other groups of its model: every key on which two
/// of them disagree, with this group's value (keys of tasks the group lacks left out).
fn labels(groups: &[Group], runs: &[StoredRun]) -> Vec<Vec<(String, String)>> {
    groups
        .iter()
        .map(|group| {
            let others = groups.iter().filter(|g| g.model == group.model);
            let keys: BTreeSet<Key> = others
                .clone()
                .flat_map(|a| others.clone().flat_map(|b| a.setup.differences(&b.setup)))
                .collect();
            let mut differs: Vec<(String, String)> = keys
                .iter()
                .filter_map(|k| Some((k.label(), group.setup.get(k)?.value.clone())))
                .collect();
            if differs.is_empty() && others.count() > 1 {
                differs.push(("run".into(), runs[group.runs[0]].run_id.clone()));
            }
            differs
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::store::read::Param;

    fn metric(value: f64, stderr: f64) -> MetricValue {
        MetricValue {
            value: Some(value),
            stderr: Some(stderr),
            repeats: None,
        }
    }

    fn task(
        name: &str,
        state: TaskState,
        results: Vec<(&str, Vec<(&str, MetricValue)>)>,
    ) -> StoredTask {
        StoredTask {
            name: name.into(),
            task_name: None,
            primary_metric: None,
            num_fewshot: None,
            mode: None,
            answers: None,
            datasets: Default::default(),
            hub_dataset: None,
            finished_at: None,
            state,
            results: results
                .into_iter()
                .map(|(e, m)| {
                    (
                        e.into(),
                        m.into_iter().map(|(k, v)| (k.into(), v)).collect(),
                    )
                })
                .collect(),
        }
    }

    fn run(id: &str, model: &str, temperature: f64, tasks: Vec<StoredTask>) -> StoredRun {
        StoredRun {
            dir: PathBuf::from(format!("/runs/{id}/{model}")),
            run_id: id.into(),
            model: format!("org/{model}"),
            short_name: model.into(),
            recorded: true,
            status: ModelStatus::Ok,
            started_at: Some(id.into()),
            failures: Vec::new(),
            backend: None,
            limit: None,
            chat: None,
            versions: BTreeMap::new(),
            max_model_len: None,
            startup: None,
            devices: Vec::new(),
            params: BTreeMap::from([(
                "temperature".to_owned(),
                Param {
                    value: json!(temperature),
                    source: "hf".into(),
                },
            )]),
            task_params: BTreeMap::new(),
            tasks,
            verification: Vec::new(),
            audit: None,
        }
    }

    fn done(name: &str, value: f64) -> StoredTask {
        task(
            name,
            TaskState::Done,
            vec![(name, vec![("acc,none", metric(value, 0.01))])],
        )
    }

    #[test]
    fn the_overall_score_averages_the_counted_tasks_after_scaling() {
        let runs = vec![run(
            "r1",
            "m",
            0.7,
            vec![
                done("spanish", 0.5),
                task(
                    "translation",
                    TaskState::Done,
                    vec![("translation", vec![("chrf,none", metric(40.0, 2.0))])],
                ),
                done("other", 0.9),
            ],
        )];
        let scoring = Scoring {
            tasks: vec!["spanish".into(), "translation".into(), "latam_pr".into()],
            scale_100: vec!["translation".into()],
        };
        let board = Leaderboard::build(&runs, scoring);
        let row = &board.rows[0];
        let overall = row.overall.as_ref().unwrap();
        assert!((overall.value - 0.45).abs() < 1e-12, "{overall:?}");
        assert_eq!(overall.missing, ["latam_pr"]);
        let translation = row.cells[1].as_ref().unwrap();
        assert_eq!(translation.value, metric(0.4, 0.02));
        assert!(translation.scaled);
    }

    #[test]
    fn a_category_may_be_an_evaluated_subtask() {
        let runs = vec![run(
            "r1",
            "m",
            0.7,
            vec![task(
                "spanish",
                TaskState::Done,
                vec![
                    ("latam_es", vec![("acc,none", metric(0.6, 0.1))]),
                    ("xnli_es", vec![("acc,none", metric(0.2, 0.1))]),
                ],
            )],
        )];
        let scoring = Scoring {
            tasks: vec!["latam_es".into(), "xnli_es".into()],
            scale_100: Vec::new(),
        };
        let board = Leaderboard::build(&runs, scoring);
        let overall = board.rows[0].overall.as_ref().unwrap();
        assert!((overall.value - 0.4).abs() < 1e-12, "{overall:?}");
    }

    #[test]
    fn runs_with_one_setup_share_a_row_and_the_newest_finished_task_wins() {
        let runs = vec![
            run("r1", "m", 0.7, vec![done("a", 0.1), done("b", 0.2)]),
            run(
                "r2",
                "m",
                0.7,
                vec![done("a", 0.3), task("b", TaskState::Failed, Vec::new())],
            ),
        ];
        let board = Leaderboard::build(&runs, Scoring::default());
        assert_eq!(board.rows.len(), 1);
        let row = &board.rows[0];
        assert_eq!(row.runs, [1, 0], "newest first");
        assert_eq!(row.cells[0].as_ref().unwrap().value.value, Some(0.3));
        let b = row.cells[1].as_ref().unwrap();
        assert_eq!((b.run, b.value.value), (0, Some(0.2)), "the finished one");
        assert_eq!(row.label(), "m");
    }

    #[test]
    fn a_task_without_a_finished_run_shows_its_state() {
        let mut failed = run(
            "r1",
            "m",
            0.7,
            vec![task("a", TaskState::Interrupted, Vec::new())],
        );
        failed.status = ModelStatus::Interrupted;
        let runs = vec![failed];
        let board = Leaderboard::build(&runs, Scoring::default());
        let row = &board.rows[0];
        assert_eq!(row.cells[0].as_ref().unwrap().state, TaskState::Interrupted);
        assert_eq!(row.overall, None);
        assert_eq!(row.status(&runs), ModelStatus::Interrupted);
    }

    #[test]
    fn differing_setups_are_rows_told_apart_by_what_differs() {
        let runs = vec![
            run("r1", "m", 0.7, vec![done("a", 0.1)]),
            run("r2", "m", 0.6, vec![done("a", 0.5)]),
            run("r3", "n", 0.6, vec![done("a", 0.2)]),
        ];
        let board = Leaderboard::build(&runs, Scoring::default());
        let labels: Vec<String> = board.rows.iter().map(Row::label).collect();
        assert_eq!(labels, ["m (temperature=0.6)", "n", "m (temperature=0.7)"]);
    }

    #[test]
    fn a_named_primary_metric_wins_and_a_missing_one_is_warned_about() {
        let mut a = task(
            "a",
            TaskState::Done,
            vec![(
                "a",
                vec![
                    ("exact_match,strict-match", metric(0.1, 0.0)),
                    ("exact_match,flexible-extract", metric(0.4, 0.0)),
                ],
            )],
        );
        a.primary_metric = Some("exact_match,flexible-extract".into());
        let mut b = done("b", 0.3);
        b.primary_metric = Some("f1".into());
        let runs = vec![run("r1", "m", 0.7, vec![a, b])];
        let board = Leaderboard::build(&runs, Scoring::default());
        let cell = board.rows[0].cells[0].as_ref().unwrap();
        assert_eq!(cell.metric.as_deref(), Some("exact_match,flexible-extract"));
        assert_eq!(board.warnings.len(), 1, "{:?}", board.warnings);
        assert!(board.warnings[0].contains("`f1`"), "{:?}", board.warnings);
    }

    /// A model missing a task of the leaderboard shows its overall as partial and ranks after
    /// every model that ran them all, whatever its mean.
    #[test]
    fn a_model_missing_a_task_is_partial_and_ranks_after_the_complete_ones() {
        let runs = vec![
            run(
                "r1",
                "full",
                0.7,
                vec![done("a", 0.1), done("b", 0.1), done("c", 0.05)],
            ),
            run("r1", "part", 0.7, vec![done("a", 0.3), done("b", 0.03)]),
        ];
        let board = Leaderboard::build(&runs, Scoring::default());
        let names: Vec<&str> = board.rows.iter().map(|r| r.short_name.as_str()).collect();
        assert_eq!(names, ["full", "part"]);
        let part = board.rows[1].overall.as_ref().unwrap();
        assert_eq!(
            (part.counted.len(), part.missing.clone()),
            (2, vec!["c".to_owned()])
        );
        assert_eq!(
            crate::results::render::overall_text(&board.rows[1]),
            "0.1650 (2 of 3)"
        );
    }
}
