//! Tables: plain text for the terminal, Markdown for `summary.md` and `--format markdown`, and
//! how a metric's value and a count read in any of them.

/// Renders rows under a header with columns padded to their widest cell. Cells are user text of
/// any length (a 65,534-character `--set` key): padding is counted here, never through a format
/// width, which the standard library caps at 65,535.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(cell.chars().count()),
                None => widths.push(cell.chars().count()),
            }
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::from(" ");
        for (cell, width) in cells.iter().zip(&widths) {
            out.push(' ');
            out.push_str(cell);
            let padding = width.saturating_sub(cell.chars().count()) + 1;
            out.extend(std::iter::repeat_n(' ', padding));
        }
        out.truncate(out.trim_end().len());
        out
    };
    let mut out = vec![line(header)];
    for row in rows {
        out.push(line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.join("\n") + "\n"
}

/// A metric's value as every table shows it: four decimals.
pub fn number(value: f64) -> String {
    format!("{value:.4}")
}

/// `0.5123 ± 0.0200`, or `0.5123` without a standard error.
pub fn value(value: f64, stderr: Option<f64>) -> String {
    match stderr {
        Some(stderr) => format!("{} ± {}", number(value), number(stderr)),
        None => number(value),
    }
}

/// `1 model`, `3 models`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `text` as it may be printed on a terminal: each control character (a line break, an escape
/// sequence) written as Rust escapes it, so a name cannot move the cursor or hide a line.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A Markdown table. A `|` in a cell is escaped and a line break becomes a space, so a cell
/// stays one cell; a column of numbers (`-` where there is none) is right-aligned.
pub fn markdown(header: &[&str], rows: &[Vec<String>]) -> String {
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<String> = cells.map(markdown_cell).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(&mut header.iter().copied());
    out.push('|');
    for column in 0..header.len() {
        out += if numeric(rows, column) {
            "---:|"
        } else {
            "---|"
        };
    }
    out.push('\n');
    for row in rows {
        out += &line(&mut row.iter().map(String::as_str));
    }
    out
}

fn markdown_cell(cell: &str) -> String {
    cell.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// Whether every cell of `column` is a number or `-`, and one at least a number.
fn numeric(rows: &[Vec<String>], column: usize) -> bool {
    let cells = || rows.iter().filter_map(|r| r.get(column));
    cells().all(|c| c == "-" || c.parse::<f64>().is_ok())
        && cells().any(|c| c.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn columns_line_up_under_the_header() {
        let rows = vec![vec!["temperature".to_owned(), "0.7".to_owned()]];
        assert_eq!(
            render(&["parameter", "value"], &rows),
            "  parameter    value\n  temperature  0.7\n"
        );
    }

    #[test]
    fn a_cell_longer_than_any_format_width_is_kept_whole() {
        let key = "k".repeat(70_000);
        let text = render(
            &["parameter", "value"],
            &[vec![key.clone(), "1".to_owned()]],
        );
        assert!(text.contains(&format!("  {key}  1\n")));
    }

    #[test]
    fn markdown_escapes_bars_and_right_aligns_numbers() {
        let rows = vec![
            vec!["a|b".to_owned(), "0.5000".to_owned()],
            vec!["c".to_owned(), "-".to_owned()],
        ];
        assert_eq!(
            markdown(&["task", "value"], &rows),
            "| task | value |\n|---|---:|\n| a\\|b | 0.5000 |\n| c | - |\n"
        );
    }

    proptest! {
        /// Any text in any cell: no panic, one line per row (plus the header) when cells hold
        /// no line break, and every cell's text in the output.
        #[test]
        fn any_cells_render(
            rows in prop::collection::vec(prop::collection::vec(".{0,300}", 0..5), 0..6),
        ) {
            let text = render(&["a", "b", "c"], &rows);
            for cell in rows.iter().flatten() {
                prop_assert!(text.contains(cell.trim_end()));
            }
            if rows.iter().flatten().all(|c| !c.contains(['\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}'])) {
                prop_assert_eq!(text.lines().count(), rows.len() + 1);
            }
        }
    }
}
