//! The leaderboard as text: a table for the terminal, Markdown, CSV and JSON. JSON and CSV are
//! the records of `leaderboard_table.json` and `.csv`, one per row in the Python tool's shape
//! (`model_name`, `publisher`, `full_model_name`, the overall score, `<task>_score`...) with
//! what benchy adds: each task's standard error, metric and state, the row's setup, status and
//! runs.

use serde_json::{Map, Value as Json, json};

use super::leaderboard::{Cell, Leaderboard, Row};
use crate::store::read::{MetricValue, TaskState};
use crate::store::summary::CUT_FLAG;
use crate::util::table;

/// `0.5123 ± 0.0200`, `0.5123`, or what became of the task; `(3 repeats)` over repeats, and
/// `cut 23%` when more than [`CUT_FLAG`] of its answers were cut at the token budget.
pub fn cell_text(cell: Option<&Cell>) -> String {
    let Some(cell) = cell else {
        return "-".to_owned();
    };
    let Some(value) = cell.value.value else {
        return match cell.state {
            TaskState::Done => "no value".to_owned(),
            state => state.to_string(),
        };
    };
    let mut text = table::value(value, cell.value.stderr);
    if let Some(repeats) = cell.value.repeats {
        text += &format!(" ({repeats} repeats)");
    }
    if let Some(cut) = cell.cut_share.filter(|c| *c > CUT_FLAG) {
        text += &format!(" cut {:.0}%", cut * 100.0);
    }
    if cell.state == TaskState::Failed {
        text += " (failed)";
    }
    text
}

/// `0.6123`, or `0.6123 (2 of 3)` when counted tasks had no value.
pub fn overall_text(row: &Row) -> String {
    match &row.overall {
        None => "-".to_owned(),
        Some(o) if o.missing.is_empty() => table::number(o.value),
        Some(o) => format!(
            "{} ({} of {})",
            table::number(o.value),
            o.counted.len(),
            o.counted.len() + o.missing.len()
        ),
    }
}

/// A column's heading: the task, with its metric when every row uses one, and `/100` when it
/// is scaled.
pub fn column_heading(board: &Leaderboard, column: usize) -> String {
    let cells: Vec<&Cell> = board
        .rows
        .iter()
        .filter_map(|r| r.cells[column].as_ref())
        .collect();
    let mut metrics: Vec<&str> = cells.iter().filter_map(|c| c.metric.as_deref()).collect();
    metrics.sort_unstable();
    metrics.dedup();
    let task = &board.columns[column];
    let scaled = if cells.iter().any(|c| c.scaled) {
        " /100"
    } else {
        ""
    };
    match metrics.as_slice() {
        [metric] => format!("{task} ({metric}{scaled})"),
        _ => format!("{task}{scaled}"),
    }
}

/// The row's runs: `r2 (failed), r1`.
fn runs_text(board: &Leaderboard, row: &Row) -> String {
    let runs: Vec<String> = row
        .runs
        .iter()
        .map(|&i| {
            let run = &board.runs[i];
            match run.status {
                crate::store::read::ModelStatus::Ok => run.run_id.clone(),
                status => format!("{} ({status})", run.run_id),
            }
        })
        .collect();
    runs.join(", ")
}

fn header(board: &Leaderboard) -> Vec<String> {
    let mut header = vec!["model".to_owned(), "overall".to_owned()];
    header.extend((0..board.columns.len()).map(|c| column_heading(board, c)));
    header.extend(["status".to_owned(), "runs".to_owned()]);
    header
}

fn text_rows(board: &Leaderboard) -> Vec<Vec<String>> {
    board
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![row.label(), overall_text(row)];
            cells.extend(row.cells.iter().map(|c| cell_text(c.as_ref())));
            cells.push(row.status(board.runs).to_string());
            cells.push(runs_text(board, row));
            cells
        })
        .collect()
}

/// The table for the terminal, with how the overall score was made under it.
pub fn table(board: &Leaderboard) -> String {
    let header = header(board);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    format!(
        "{}\n{}.\n",
        table::render(&header, &text_rows(board)),
        board.scoring.describe()
    )
}

pub fn markdown(board: &Leaderboard) -> String {
    let header = header(board);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    format!(
        "{}\n{}.\n",
        table::markdown(&header, &text_rows(board)),
        board.scoring.describe()
    )
}

/// One record per row (see the module's documentation).
fn records(board: &Leaderboard) -> Vec<Map<String, Json>> {
    board.rows.iter().map(|row| record(board, row)).collect()
}

fn record(board: &Leaderboard, row: &Row) -> Map<String, Json> {
    let (publisher, name) = match row.model.split_once('/') {
        Some((org, name))
            if !org.is_empty() && !org.starts_with(['.', '~']) && !name.contains('/') =>
        {
            (json!(org), name.to_owned())
        }
        _ => (Json::Null, row.short_name.clone()),
    };
    let setup: Map<String, Json> = row
        .differs
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut out = Map::new();
    out.insert("model_name".into(), json!(name));
    out.insert("publisher".into(), publisher);
    out.insert("full_model_name".into(), json!(row.model));
    out.insert("setup".into(), Json::Object(setup));
    out.insert(
        "overall_score".into(),
        json!(row.overall.as_ref().map(|o| o.value)),
    );
    out.insert(
        "overall_tasks".into(),
        json!(row.overall.as_ref().map(|o| &o.counted)),
    );
    out.insert(
        "overall_missing".into(),
        json!(row.overall.as_ref().map(|o| &o.missing)),
    );
    for (task, cell) in board.columns.iter().zip(&row.cells) {
        let value = cell.as_ref().map_or_else(MetricValue::default, |c| c.value);
        out.insert(format!("{task}_score"), json!(value.value));
        out.insert(format!("{task}_stderr"), json!(value.stderr));
        out.insert(format!("{task}_repeats"), json!(value.repeats));
        out.insert(
            format!("{task}_cut_share"),
            json!(cell.as_ref().and_then(|c| c.cut_share)),
        );
        out.insert(
            format!("{task}_metric"),
            json!(cell.as_ref().and_then(|c| c.metric.as_ref())),
        );
        out.insert(
            format!("{task}_state"),
            json!(cell.as_ref().map(|c| c.state)),
        );
    }
    out.insert("status".into(), json!(row.status(board.runs)));
    let runs: Vec<&str> = row
        .runs
        .iter()
        .map(|&i| board.runs[i].run_id.as_str())
        .collect();
    let folders: Vec<String> = row
        .runs
        .iter()
        .map(|&i| board.runs[i].dir.display().to_string())
        .collect();
    out.insert("runs".into(), json!(runs));
    out.insert("folders".into(), json!(folders));
    out
}

pub fn json(board: &Leaderboard) -> String {
    let records: Vec<Json> = records(board).into_iter().map(Json::Object).collect();
    serde_json::to_string_pretty(&records).unwrap_or_default() + "\n"
}

/// RFC 4180: every field quoted where it must be; lists joined with `; `, a setup as
/// `key=value; ...`, nothing as an empty field.
pub fn csv(board: &Leaderboard) -> String {
    let records = records(board);
    let mut columns: Vec<String> = Vec::new();
    for record in &records {
        for key in record.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut out = csv_line(columns.iter().map(String::as_str));
    for record in &records {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| field_text(record.get(c).unwrap_or(&Json::Null)))
            .collect();
        out += &csv_line(fields.iter().map(String::as_str));
    }
    out
}

fn field_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(field_text).collect::<Vec<_>>().join("; "),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", field_text(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn csv_line<'a>(fields: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = fields
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_owned()
            }
        })
        .collect();
    quoted.join(",") + "\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            csv_line(["a", "b,c", "say \"hi\""].into_iter()),
            "a,\"b,c\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(field_text(&json!(["r1", "r2"])), "r1; r2");
        assert_eq!(
            field_text(&json!({"temperature": "0.6"})),
            "temperature=0.6"
        );
        assert_eq!(field_text(&Json::Null), "");
    }

    #[test]
    fn values_and_states_read_as_people_expect() {
        let cell = |value: Option<f64>, state| Cell {
            run: 0,
            metric: None,
            value: MetricValue {
                value,
                stderr: Some(0.01),
                repeats: None,
            },
            scaled: false,
            state,
            cut_share: None,
        };
        assert_eq!(cell_text(None), "-");
        assert_eq!(
            cell_text(Some(&cell(Some(0.5), TaskState::Done))),
            "0.5000 ± 0.0100"
        );
        assert_eq!(
            cell_text(Some(&cell(Some(0.5), TaskState::Failed))),
            "0.5000 ± 0.0100 (failed)"
        );
        let repeated = Cell {
            value: MetricValue {
                repeats: Some(3),
                ..cell(Some(0.5), TaskState::Done).value
            },
            cut_share: Some(0.23),
            ..cell(Some(0.5), TaskState::Done)
        };
        assert_eq!(
            cell_text(Some(&repeated)),
            "0.5000 ± 0.0100 (3 repeats) cut 23%"
        );
        let barely = Cell {
            cut_share: Some(0.04),
            ..cell(Some(0.5), TaskState::Done)
        };
        assert_eq!(cell_text(Some(&barely)), "0.5000 ± 0.0100");
        assert_eq!(
            cell_text(Some(&cell(None, TaskState::Interrupted))),
            "interrupted"
        );
    }
}
