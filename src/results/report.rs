//! `benchy report`'s page: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched) with the leaderboard table, a bar chart per task with error bars, and per row the
//! resolved parameters with their sources, the verification verdicts, the wire audit, and
//! links to the run folders.

use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

use super::chart::{Bar, bar_chart};
use super::leaderboard::{Leaderboard, Row};
use super::render::{cell_text, column_heading, overall_text};
use super::setup::text;
use crate::store::read::StoredRun;

const STYLE: &str = "
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
a { color: #333; }
.warning { color: #705020; }
figure { margin: 1em 0 2em; }
figcaption { font-size: 0.9em; color: #555; }
";

/// The page. `out` is where it will be written: links to run folders are relative to it.
pub fn html(board: &Leaderboard, warnings: &[String], out: &Path) -> String {
    let mut page = String::new();
    let runs = board.runs.len();
    let models = board.rows.len();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>benchy report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>benchy report</h1>\n<p>{runs} runs in {models} rows, by benchy {}.</p>\n",
        env!("CARGO_PKG_VERSION")
    );
    if !warnings.is_empty() {
        page += "<h2>Warnings</h2>\n<ul>\n";
        for warning in warnings {
            let _ = writeln!(page, "<li class=\"warning\">{}</li>", escape(warning));
        }
        page += "</ul>\n";
    }
    page += &leaderboard_table(board);
    page += &charts(board);
    page += "<h2>Rows</h2>\n";
    for (index, row) in board.rows.iter().enumerate() {
        page += &row_section(board, index, row, out);
    }
    page + "</body>\n</html>\n"
}

fn leaderboard_table(board: &Leaderboard) -> String {
    let mut html = String::from(
        "<h2>Leaderboard</h2>\n<table id=\"leaderboard\">\n<tr><th>model</th><th>overall</th>",
    );
    for column in 0..board.columns.len() {
        let _ = write!(html, "<th>{}</th>", escape(&column_heading(board, column)));
    }
    html += "<th>status</th></tr>\n";
    for (index, row) in board.rows.iter().enumerate() {
        let _ = write!(
            html,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"number\">{}</td>",
            anchor(index, row),
            escape(&row.label()),
            escape(&overall_text(row))
        );
        for cell in &row.cells {
            let _ = write!(
                html,
                "<td class=\"number\">{}</td>",
                escape(&cell_text(cell.as_ref()))
            );
        }
        let _ = writeln!(html, "<td>{}</td></tr>", row.status(board.runs));
    }
    let _ = writeln!(
        html,
        "</table>\n<p>{}.</p>",
        escape(&board.scoring.describe())
    );
    html
}

/// A chart per task, of the rows that have a value for it; the others are named under it.
fn charts(board: &Leaderboard) -> String {
    let mut html = String::from("<h2>Tasks</h2>\n");
    for (column, task) in board.columns.iter().enumerate() {
        let mut bars = Vec::new();
        let mut without = Vec::new();
        for (index, row) in board.rows.iter().enumerate() {
            let Some(cell) = &row.cells[column] else {
                continue;
            };
            match cell.value.value {
                Some(value) => bars.push(Bar {
                    label: row.label(),
                    value,
                    stderr: cell.value.stderr,
                    color: index,
                }),
                None => without.push(format!("{} ({})", row.label(), cell_text(Some(cell)))),
            }
        }
        let heading = column_heading(board, column);
        let _ = writeln!(html, "<figure id=\"task-{}\">", escape(task));
        if bars.is_empty() {
            let _ = writeln!(html, "<p>{}: no values.</p>", escape(&heading));
        } else {
            match bar_chart(
                &heading,
                "value, with one standard error either side",
                &bars,
            ) {
                Ok(svg) => html += &svg,
                Err(e) => {
                    let _ = write!(
                        html,
                        "<p class=\"warning\">{}: no chart: {}</p>",
                        escape(task),
                        escape(&e)
                    );
                }
            }
        }
        let mut caption = format!("{heading}: bars are values, whiskers one standard error.");
        if !without.is_empty() {
            caption += &format!(" Without a value: {}.", without.join(", "));
        }
        let _ = writeln!(
            html,
            "\n<figcaption>{}</figcaption>\n</figure>",
            escape(&caption)
        );
    }
    html
}

/// The id of the `index`th row's section: its label in letters and digits, made unique on the
/// page by its place (`acme/a.b` and `acme/a-b` read alike).
fn anchor(index: usize, row: &Row) -> String {
    let label: String = row
        .label()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("row-{}-{label}", index + 1)
}

/// A row's runs, its newest run's parameters, and each run's verdicts.
fn row_section(board: &Leaderboard, index: usize, row: &Row, out: &Path) -> String {
    let newest = &board.runs[row.runs[0]];
    let mut html = format!(
        "<section id=\"{}\">\n<h3>{}</h3>\n<p>{} &middot; {}</p>\n<ul>\n",
        anchor(index, row),
        escape(&row.label()),
        escape(&row.model),
        escape(&row.status(board.runs).to_string())
    );
    for &index in &row.runs {
        let run = &board.runs[index];
        let startup = run
            .startup
            .as_ref()
            .map_or_else(String::new, |s| format!("; server start-up {s}"));
        let _ = writeln!(
            html,
            "<li>run <a href=\"{}\">{}</a>: {}{}{}</li>",
            escape(&link(&run.dir, out)),
            escape(&run.run_id),
            run.status,
            escape(&failures(run)),
            escape(&startup)
        );
    }
    html += "</ul>\n";
    html += &parameters(newest);
    for &index in &row.runs {
        html += &verdicts(&board.runs[index]);
    }
    html + "</section>\n"
}

fn failures(run: &StoredRun) -> String {
    if run.failures.is_empty() {
        String::new()
    } else {
        format!(" ({})", run.failures.join("; "))
    }
}

/// The run's resolved parameters, then each task's where they differ from the run's. A task's
/// parameter differs when its value or its source does: this table shows provenance, while a
/// leaderboard row (`setup.rs`) tells runs apart by what decides the numbers, the values alone.
fn parameters(run: &StoredRun) -> String {
    let mut rows: Vec<[String; 4]> = run
        .params
        .iter()
        .map(|(k, p)| ["(all)".into(), k.clone(), text(&p.value), p.source.clone()])
        .collect();
    for (task, params) in &run.task_params {
        for (key, param) in params {
            if run.params.get(key) != Some(param) {
                rows.push([
                    task.clone(),
                    key.clone(),
                    text(&param.value),
                    param.source.clone(),
                ]);
            }
        }
    }
    let mut html = format!(
        "<h4>Generation parameters (run {})</h4>\n<table class=\"parameters\">\n\
         <tr><th>task</th><th>parameter</th><th>value</th><th>source</th></tr>\n",
        escape(&run.run_id)
    );
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| format!("<td>{}</td>", escape(c)))
            .collect();
        let _ = writeln!(html, "<tr>{}</tr>", cells.concat());
    }
    html + "</table>\n"
}

fn verdicts(run: &StoredRun) -> String {
    let mut html = format!(
        "<h4>Verification (run {})</h4>\n<table class=\"verification\">\n\
         <tr><th>task</th><th>evaluated</th><th>verdict</th><th>differences</th></tr>\n",
        escape(&run.run_id)
    );
    for v in &run.verification {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.task),
            escape(&v.name),
            escape(&v.status),
            escape(&v.differences.join("; "))
        );
    }
    html += "</table>\n";
    if let Some(audit) = &run.audit {
        let _ = writeln!(html, "<p>Wire audit: {}.</p>", escape(audit));
    }
    html
}

/// `dir` relative to the folder of `out`, as a link (a trailing slash: it is a folder).
fn link(dir: &Path, out: &Path) -> String {
    let base = out.parent().unwrap_or(Path::new(""));
    let relative = relative_path(dir, base).unwrap_or_else(|| dir.to_owned());
    let mut text = relative.to_string_lossy().replace('\\', "/");
    if !text.ends_with('/') {
        text.push('/');
    }
    text.replace('%', "%25")
        .replace('#', "%23")
        .replace('?', "%3F")
        .replace(' ', "%20")
}

/// `path` relative to `base`, both absolute.
fn relative_path(path: &Path, base: &Path) -> Option<PathBuf> {
    let (path, base) = (
        std::path::absolute(path).ok()?,
        std::path::absolute(base).ok()?,
    );
    let (ours, theirs): (Vec<Component>, Vec<Component>) =
        (path.components().collect(), base.components().collect());
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let mut relative: PathBuf = theirs[common..].iter().map(|_| "..").collect();
    relative.extend(&ours[common..]);
    Some(relative)
}

/// Text as HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_report() {
        assert_eq!(
            link(Path::new("/w/out/r1/m"), Path::new("/w/report.html")),
            "out/r1/m/"
        );
        assert_eq!(
            link(Path::new("/w/out/r 1/m"), Path::new("/w/site/report.html")),
            "../out/r%201/m/"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    /// `acme/a.b` and `acme/a-b` read alike in letters and digits: their sections' ids differ.
    #[test]
    fn every_rows_anchor_is_unique_on_the_page() {
        let row = |name: &str| Row {
            model: format!("acme/{name}"),
            short_name: name.to_owned(),
            differs: Vec::new(),
            runs: vec![0],
            cells: Vec::new(),
            overall: None,
        };
        let (dotted, dashed) = (row("a.b"), row("a-b"));
        assert_ne!(anchor(0, &dotted), anchor(1, &dashed));
        assert_eq!(anchor(0, &dotted), "row-1-a-b");
    }
}
